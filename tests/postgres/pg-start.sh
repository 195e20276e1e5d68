#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server for the tests (the cluster store, Orleans' ADO.NET clustering):
# Debian's binaries (/usr/lib/postgresql/*/bin), its own data folder under a new temporary folder, its
# own port on 127.0.0.1 (FINEREWARDS_TEST_PG_PORT, else the first free one from 55432), a database
# finerewards_test owned by the superuser finerewards (trust authentication, loopback only: a test
# server, never a real one). The server refuses to run as root, so as root it runs as the `postgres`
# system user (runuser), otherwise as the caller.
#
# Prints shell lines to eval; tests read FINEREWARDS_TEST_PG (an Npgsql connection string):
#   eval "$(bash tests/postgres/pg-start.sh)"   ...   bash tests/postgres/pg-stop.sh "$FINEREWARDS_TEST_PG_DIR"
# The connection string is also written to $FINEREWARDS_TEST_PG_DIR/connection-string.
set -euo pipefail
me="tests/postgres/pg-start.sh"

bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
  echo "$me: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); install Debian's postgresql: bash build/install-deps.sh" >&2
  exit 1
fi

as=()
dir="$(mktemp -d "${TMPDIR:-/tmp}/finerewards-pg.XXXXXX")"
# pg-stop.sh deletes only folders with this marker.
touch "$dir/finerewards-test-pg"
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    echo "$me: running as root needs the postgres system user (Debian's postgresql package creates it)" >&2
    rm -rf "$dir"; exit 1
  fi
  chown postgres: "$dir"
  as=(runuser -u postgres --)
fi

if ! "${as[@]}" "$bin/initdb" -D "$dir/data" -U finerewards --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
  echo "$me: initdb failed:" >&2; cat "$dir/initdb.log" >&2
  rm -rf "$dir"; exit 1
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ports=("${FINEREWARDS_TEST_PG_PORT:-}")
[ -z "${ports[0]}" ] && ports=($(seq 55432 55481))
started=""
for port in "${ports[@]}"; do
  port_free "$port" || continue
  # Another run may take the same port between the check and the start: then try the next one.
  if "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
       -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null 2>&1; then
    started="$port"; break
  fi
done
if [ -z "$started" ]; then
  echo "$me: the server did not start on any of ports ${ports[*]}; its log:" >&2
  cat "$dir/server.log" >&2 2>/dev/null || true
  rm -rf "$dir"; exit 1
fi

if ! "$bin/createdb" -h 127.0.0.1 -p "$started" -U finerewards finerewards_test >"$dir/createdb.log" 2>&1; then
  echo "$me: createdb failed:" >&2; cat "$dir/createdb.log" >&2
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"; exit 1
fi

connection="Host=127.0.0.1;Port=$started;Database=finerewards_test;Username=finerewards"
echo "$connection" >"$dir/connection-string"
echo "$me: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$started, data in $dir" >&2
printf "export FINEREWARDS_TEST_PG='%s'\nexport FINEREWARDS_TEST_PG_DIR='%s'\n" "$connection" "$dir"
