#!/usr/bin/env bash
# The project's one test command (README, .ci/run): builds the solution, runs every test
# project, and ends with the totals on one line: "N passed, N failed, N skipped" (tests/summarize.sh,
# which also fails the run when a test project of the solution reported nothing).
set -uo pipefail
cd "$(dirname "$0")/.."

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

dotnet test FineRewards.sln --nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
bash tests/summarize.sh "$log" "$status" FineRewards.sln
