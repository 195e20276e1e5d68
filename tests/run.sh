#!/usr/bin/env bash
# The project's one test command (README, .ci/run): builds the solution, runs every test
# project, and ends with the totals on one line: "N passed, N failed, N skipped" (tests/summarize.sh,
# which also fails the run when a test project of the solution reported nothing).
set -uo pipefail
cd "$(dirname "$0")/.."

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# The PostgreSQL tests (docs/cluster.md) read FINEREWARDS_TEST_PG; unless one is given, a throw-away
# server runs for this run only. Without PostgreSQL installed, install-deps.sh installs it as CI does;
# if the server still cannot start, the run goes on and those tests fail saying so.
if [ -z "${FINEREWARDS_TEST_PG:-}" ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || bash build/install-deps.sh
  if pg_env="$(bash tests/postgres/pg-start.sh)"; then
    eval "$pg_env"
    trap 'rm -f "$log"; bash tests/postgres/pg-stop.sh "$FINEREWARDS_TEST_PG_DIR"' EXIT
  fi
fi

# Which CPU ran the tests: libtorch's CPU kernels differ by instruction set (docs/building.md, known defects).
echo "tests/run.sh: CPU:$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2), $(nproc) cores, AVX-512: $(grep -qm1 avx512f /proc/cpuinfo && echo yes || echo no)"
dotnet test FineRewards.sln --nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
bash tests/summarize.sh "$log" "$status" FineRewards.sln
