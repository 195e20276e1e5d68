#!/usr/bin/env bash
# Stops the server tests/postgres/pg-start.sh started and deletes its folder:
#   bash tests/postgres/pg-stop.sh "$FINEREWARDS_TEST_PG_DIR"
set -uo pipefail
me="tests/postgres/pg-stop.sh"
dir="${1:-}"
if [ -z "$dir" ] || [ ! -f "$dir/finerewards-test-pg" ]; then
  echo "$me: '$dir' is not a folder pg-start.sh made (no finerewards-test-pg marker); nothing stopped" >&2
  exit 1
fi
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
as=()
[ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
if [ -f "$dir/data/postmaster.pid" ] && [ -n "$bin" ]; then
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
    || "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 \
    || echo "$me: the server in $dir did not stop" >&2
fi
rm -rf "$dir"
