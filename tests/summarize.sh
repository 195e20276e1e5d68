#!/usr/bin/env bash
# The totals of a `dotnet test` log of the solution, for tests/run.sh:
#   summarize.sh LOG STATUS SOLUTION
# STATUS is dotnet test's exit status. Prints "N passed, N failed, N skipped" as the last line and
# exits non-zero when the run failed or when a test project of SOLUTION (a project whose file says
# <IsTestProject>true</IsTestProject>) reported no results: a project that was not built or not run
# counts as one failure and is named, so a run can never look complete without it.
set -uo pipefail
log="$1" status="$2" solution="$3"

# Each test assembly prints "Passed!  - Failed: F, Passed: P, Skipped: S, Total: T, ... - NAME.dll (net10.0)"
# (or "Failed!"); under a --filter that matches none of its tests, "No test matches ... NAME.dll".
read -r passed failed skipped < <(awk '
  /(Passed|Failed)! +- +Failed:/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:")  { gsub(",", "", $(i+1)); f += $(i+1) }
      if ($i == "Passed:")  { gsub(",", "", $(i+1)); p += $(i+1) }
      if ($i == "Skipped:") { gsub(",", "", $(i+1)); s += $(i+1) }
    }
  }
  END { printf "%d %d %d\n", p, f, s }' "$log")

missing=0
root="$(dirname "$solution")"
while IFS= read -r project; do
  project="${project//\\//}"
  grep -q "<IsTestProject>true</IsTestProject>" "$root/$project" 2>/dev/null || continue
  name="$(basename "$project" .csproj)"
  if ! grep -Eq "((Passed|Failed)! +- .* - |No test (matches|is available) .*[/ ])${name//./\\.}\.dll" "$log"; then
    echo "tests/run.sh: test project $name reported no results (not built or not run)" >&2
    missing=$((missing + 1))
  fi
done < <(sed -n 's/^Project("[^"]*") = "[^"]*", "\([^"]*\.csproj\)".*/\1/p' "$solution")

failed=$((failed + missing))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The build or a test host broke before any test could fail: count that as a failure.
  failed=1
  echo "tests/run.sh: dotnet test exited with $status before reporting a failing test (build error or crashed test host)" >&2
fi
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$status" -eq 0 ] && [ "$missing" -eq 0 ] && exit 0
[ "$status" -ne 0 ] && exit "$status"
exit 1
