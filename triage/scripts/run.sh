#!/usr/bin/env bash
# Run the platform on its embedded default: SQLite, Celery filesystem broker, one real
# worker on both queues (with the beat scheduler), the web server on 127.0.0.1:${TRIAGE_PORT:-8000}.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash triage/scripts/bootstrap.sh

# The embedded default ignores any server URLs left in the environment.
unset DATABASE_URL CELERY_BROKER_URL CELERY_RESULT_BACKEND
export TRIAGE_VAR_DIR="${TRIAGE_VAR_DIR:-$PWD/var}"
port="${TRIAGE_PORT:-8000}"
mkdir -p "$TRIAGE_VAR_DIR/log"
py=.venv/bin/python

$py manage.py migrate --noinput -v0
$py manage.py seed_demo

# In its own session, so a Ctrl-C or SIGTERM for this script reaches the worker only through
# stop_worker: signals sent straight to its pool processes can hang Celery's shutdown.
setsid .venv/bin/celery -A triage worker --queues ingest,prepare,gpu,finish --concurrency 2 --beat \
  --schedule "$TRIAGE_VAR_DIR/celerybeat-schedule" --loglevel INFO \
  >"$TRIAGE_VAR_DIR/log/worker.log" 2>&1 &
worker_pid=$!
worker_running() { ps -o stat= -p "$worker_pid" 2>/dev/null | grep -qv Z; }
stop_worker() {
  # Warm shutdown finishes running tasks; after 10 s a cold shutdown, after 20 s a kill. Nothing
  # is lost: unfinished studies stay queued/processing and the beat sweep hands them out again.
  worker_running || return 0
  kill -TERM "$worker_pid" 2>/dev/null
  for signal in QUIT KILL; do
    for _ in $(seq 20); do worker_running || break 2; sleep 0.5; done
    kill -"$signal" -- -"$worker_pid" 2>/dev/null
  done
  wait "$worker_pid" 2>/dev/null || true
}
trap stop_worker EXIT INT TERM
echo "Worker started (pid $worker_pid, log: $TRIAGE_VAR_DIR/log/worker.log)"
$py manage.py seed_demo_studies

echo "CT Triage on http://127.0.0.1:$port/ (Ctrl-C stops the server and the worker)"
$py manage.py runserver "127.0.0.1:$port" --noreload
