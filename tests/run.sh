#!/usr/bin/env bash
# The project's one test command (README, .ci/run): builds the solution, runs every test
# project, and ends with the totals on one line: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

dotnet test FineRewards.sln --nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Each test assembly prints "Passed!  - Failed: F, Passed: P, Skipped: S, Total: T, ..." (or "Failed!").
read -r passed failed skipped < <(awk '
  /(Passed|Failed)! +- +Failed:/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:")  { gsub(",", "", $(i+1)); f += $(i+1) }
      if ($i == "Passed:")  { gsub(",", "", $(i+1)); p += $(i+1) }
      if ($i == "Skipped:") { gsub(",", "", $(i+1)); s += $(i+1) }
    }
  }
  END { printf "%d %d %d\n", p, f, s }' "$log")

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The build or a test host broke before any test could fail: count that as a failure.
  failed=1
  echo "tests/run.sh: dotnet test exited with $status before reporting a failing test (build error or crashed test host)" >&2
fi
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
