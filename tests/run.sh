#!/usr/bin/env bash
# Set up and run the whole test suite against real PostgreSQL and Redis started here on
# 127.0.0.1 (free ports, a throw-away data folder), and stop them at the end, even on failure.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test bash triage/scripts/bootstrap.sh postgresql redis-server chromium \
  dcmtk orthanc orthanc-dicomweb dicom3tools  # DICOM peers of the gateway tests

py=.venv/bin/python
free_port() { $py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# A fresh folder per run, so two runs on one machine never share a database.
mkdir -p var
services_dir="$(mktemp -d "$PWD/var/test-services.XXXXXX")"
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$services_dir"
  # PostgreSQL runs as "postgres", which must be able to reach the folder.
  if ! runuser -u postgres -- test -w "$services_dir"; then
    rmdir "$services_dir"
    services_dir="$(mktemp -d /tmp/ct-triage-test.XXXXXX)"
    chown postgres "$services_dir"
  fi
fi
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
pg_data="$services_dir/pg"
pg_port="$(free_port)"
redis_port="$(free_port)"

stop_services() {
  as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  [ -z "${TEST_S3_DIR:-}" ] || $py -m tests.s3server stop "$TEST_S3_DIR" >/dev/null 2>&1 || true
  rm -rf "$services_dir"
}
trap stop_services EXIT

as_postgres "$pg_bin/initdb" -D "$pg_data" -A trust -U postgres -E UTF8 --no-sync >/dev/null
as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w start \
  -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $pg_data -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
# tests/conftest.py restarts Redis with the same arguments (fault tests).
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --dir "$services_dir" --logfile "$services_dir/redis.log" --pidfile "$services_dir/redis.pid"

# SeaweedFS as the S3 store (tests/s3server.py): the storage tests run against it and local disk.
eval "$($py -m tests.s3server start "$services_dir/s3")"
export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/triage"
export CELERY_BROKER_URL="redis://127.0.0.1:$redis_port/0"
export CELERY_RESULT_BACKEND="redis://127.0.0.1:$redis_port/1"
export TEST_REDIS_PORT="$redis_port" TEST_PG_PORT="$pg_port" TEST_PG_DATA="$pg_data" TEST_PG_BIN="$pg_bin"
export TEST_SERVICES_DIR="$services_dir"
export TRIAGE_VAR_DIR="$services_dir/var"
echo "PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port, S3 on $TEST_S3_ENDPOINT"

set +e
$py -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing, an empty run proves nothing." >&2
  exit 1
fi
exit "$status"
