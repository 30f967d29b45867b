#!/usr/bin/env bash
# Stop the process whose PID is in PIDFILE, then remove the file.
#
#   scripts/stop-pid.sh PIDFILE [TIMEOUT_SECONDS]
#
# Sends SIGTERM, waits up to TIMEOUT_SECONDS (default 10) for the process to exit, then sends
# SIGKILL. Succeeds when the process is already gone or the file does not exist.
set -euo pipefail

pidfile="${1:-}"
timeout="${2:-10}"
[ -n "$pidfile" ] || { echo "usage: $0 PIDFILE [TIMEOUT_SECONDS]" >&2; exit 2; }
if [ ! -f "$pidfile" ]; then
  echo "stop-pid: no PID file at $pidfile; nothing to stop"
  exit 0
fi

pid="$(tr -d '[:space:]' < "$pidfile")"
case "$pid" in
  ''|*[!0-9]*) echo "stop-pid: $pidfile does not hold a PID" >&2; exit 1 ;;
esac

if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop-pid: PID $pid did not exit within ${timeout}s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  echo "stop-pid: stopped PID $pid"
else
  echo "stop-pid: PID $pid is not running"
fi
rm -f "$pidfile"
