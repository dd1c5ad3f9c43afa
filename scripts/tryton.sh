#!/usr/bin/env bash
# A throwaway Tryton ERP server on 127.0.0.1 with SQLite, for the Tryton connector's tests and
# for trying the connector by hand (docs/TRYTON.md).
#
#   scripts/tryton.sh init DIR    write DIR/trytond.conf, create and initialise DIR/<db>.sqlite
#                                 (modules party company project party_relationship) and keep
#                                 a pristine copy DIR/pristine.sqlite for fast resets
#   scripts/tryton.sh start DIR   start trytond in the background (PID in DIR/trytond.pid, log
#                                 in DIR/trytond.log), wait until it serves the database, print
#                                 the server URL
#   scripts/tryton.sh stop DIR    stop the server started by `start`, by its PID
#
# Environment: TRYTON_PORT (8765), TRYTON_DB (erp), TRYTON_ADMIN_PASSWORD (the admin user's
# password; a test-only default), PYTHON (python3: the venv whose trytond runs; its bin/ goes
# first on PATH so that trytond and trytond-admin come from the same venv).
set -euo pipefail

PORT="${TRYTON_PORT:-8765}"
DB="${TRYTON_DB:-erp}"
ADMIN_PASSWORD="${TRYTON_ADMIN_PASSWORD:-erpdata-test-only}"
PYTHON="${PYTHON:-python3}"
# The venv's bin directory (sys.prefix, not the resolved interpreter path: a venv's python is a
# symlink to the system one, and the venv's scripts sit beside the link).
BIN="$("$PYTHON" -c 'import os, sys; print(os.path.join(sys.prefix, "bin"))')"
export PATH="$BIN:$PATH"

usage() {
    echo "usage: $0 init|start|stop DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
CMD="$1"
DIR="$(mkdir -p "$2" && cd "$2" && pwd)"
CONF="$DIR/trytond.conf"
PIDFILE="$DIR/trytond.pid"
LOG="$DIR/trytond.log"
URL="http://127.0.0.1:$PORT"

# Does the server answer common.db.list with our database in it? (The exact JSON-RPC body:
# id/method/params only, or the answer is not wrapped.)
db_listed() {
    "$PYTHON" - "$URL" "$DB" <<'PY'
import json, sys, urllib.request
url, db = sys.argv[1], sys.argv[2]
body = json.dumps({"id": 1, "method": "common.db.list", "params": []}).encode()
req = urllib.request.Request(url + "/rpc/", body, {"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=2) as r:
        sys.exit(0 if db in json.load(r).get("result", []) else 1)
except Exception:
    sys.exit(1)
PY
}

case "$CMD" in
init)
    # Why raised session limits: the tests try wrong passwords on purpose, and trytond answers
    # 429 after 5 failed logins by default.
    cat > "$CONF" <<CONF
[web]
listen = 127.0.0.1:$PORT

[database]
uri = sqlite://
path = $DIR

[session]
max_attempt = 100000
max_attempt_ip_network = 100000
CONF
    rm -f "$DIR/$DB.sqlite" "$DIR/pristine.sqlite"
    : > "$DIR/$DB.sqlite"  # trytond-admin wants the SQLite file to exist already
    PASSFILE="$DIR/.adminpass"
    (umask 077 && printf '%s\n' "$ADMIN_PASSWORD" > "$PASSFILE")
    # -u before --all (--all adds ir/res to the list; a later -u would replace it);
    # --email and TRYTONPASSFILE and </dev/null keep it from prompting.
    TRYTONPASSFILE="$PASSFILE" trytond-admin -c "$CONF" -d "$DB" \
        -u party company project party_relationship --all --activate-dependencies \
        --email admin@example.com </dev/null >"$DIR/init.log" 2>&1 \
        || { rm -f "$PASSFILE"; cat "$DIR/init.log" >&2; echo "trytond-admin failed" >&2; exit 1; }
    rm -f "$PASSFILE"
    cp "$DIR/$DB.sqlite" "$DIR/pristine.sqlite"
    echo "initialised $DIR/$DB.sqlite"
    ;;
start)
    [ -f "$CONF" ] || { echo "no $CONF: run '$0 init $DIR' first" >&2; exit 1; }
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        echo "already running (PID $(cat "$PIDFILE"))" >&2
        exit 1
    fi
    # -d names the database: trytond 8.2 fails to load one lazily on first login.
    nohup trytond -c "$CONF" -d "$DB" >>"$LOG" 2>&1 </dev/null &
    echo $! > "$PIDFILE"
    for _ in $(seq 1 600); do  # 60 s in steps of 0.1 s
        if db_listed; then
            echo "$URL"
            exit 0
        fi
        if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            tail -n 30 "$LOG" >&2
            echo "trytond exited during start-up (log: $LOG)" >&2
            rm -f "$PIDFILE"
            exit 1
        fi
        sleep 0.1
    done
    tail -n 30 "$LOG" >&2
    echo "trytond did not serve database $DB within 60 s (log: $LOG)" >&2
    kill "$(cat "$PIDFILE")" 2>/dev/null || true
    rm -f "$PIDFILE"
    exit 1
    ;;
stop)
    [ -f "$PIDFILE" ] || { echo "not running (no $PIDFILE)"; exit 0; }
    PID="$(cat "$PIDFILE")"
    if kill "$PID" 2>/dev/null; then
        for _ in $(seq 1 100); do  # up to 10 s, then SIGKILL
            kill -0 "$PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$PID" 2>/dev/null; then
            kill -KILL "$PID" 2>/dev/null || true
        fi
    fi
    rm -f "$PIDFILE"
    echo "stopped"
    ;;
*)
    usage
    ;;
esac
