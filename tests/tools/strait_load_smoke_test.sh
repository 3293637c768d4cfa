#!/usr/bin/env bash
# Smoke test of the bench harness: starts the target on a free loopback port, runs the load
# generator in `direct` mode for about a second per mode, and checks that its reports are sane
# (tunnels made, no errors, the target counted the same bytes and pings). Then checks that the
# generator reports failures: against a closed port, and against a "proxy" that does not speak
# HTTP CONNECT. Any failed check fails the test.
set -euo pipefail

load="$1"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
target_pid=""
cleanup() {
  if [ -n "$target_pid" ]; then
    kill "$target_pid" 2>/dev/null || true
    wait "$target_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

rm -f "$tmp/port"
"$load" target --listen 127.0.0.1:0 --port-file "$tmp/port" --max-run-s 120 \
  >"$tmp/target.log" 2>&1 &
target_pid=$!
for _ in $(seq 1 100); do
  [ -s "$tmp/port" ] && break
  sleep 0.1
done
port="$(cat "$tmp/port")"
target="127.0.0.1:$port"
echo "target on $target (pid $target_pid)"

run() {  # run NAME ARGS... : one generator run, report in $tmp/NAME.json
  local name="$1"
  shift
  "$load" run --target "$target" --json "$tmp/$name.json" --label "$name" "$@"
}

# check NAME PYTHON-EXPRESSION... : each expression, over the report `r`, must be true.
check() {
  local name="$1"
  shift
  python3 - "$tmp/$name.json" "$@" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
def holds(expression):
    try:
        return bool(eval(expression, {}, {"r": r}))
    except Exception as error:  # a missing key is a failed check, not a crash
        print(f"  {expression}: {error!r}")
        return False
failed = [e for e in sys.argv[2:] if not holds(e)]
for e in failed:
    print(f"FAILED {r['label']}: {e}\n  report: {json.dumps(r)}")
sys.exit(1 if failed else 0)
PY
  echo "ok: $name"
}

run connect --mode connect --proxy direct --duration 1 --workers 8 --source-ips 4
check connect "r['tunnels_ok'] > 100" "r['errors_total'] == 0" "r['tunnels_failed'] == 0" \
  "r['tunnels_per_s'] > 0" "r['target']['reachable']" \
  "r['target']['tunnels'] == r['tunnels_ok']" "r['checks']['pings_match']" \
  "0 < r['handshake_us']['p50'] <= r['handshake_us']['p99'] <= r['handshake_us']['p999']" \
  "r['handshake_us']['p50'] <= r['total_us']['p50']" \
  "r['handshake_us']['count'] == r['tunnels_ok']" \
  "sorted(r['source_ips']) == ['127.0.1.1', '127.0.1.2', '127.0.1.3', '127.0.1.4']" \
  "sum(r['source_ips'].values()) == r['tunnels_ok']" \
  "len(r['cpu_busy_pct']) >= 1"

for direction in up down both; do
  run "throughput_$direction" --mode throughput --proxy direct --duration 0.3 --tunnels 2 \
    --direction "$direction"
  check "throughput_$direction" "r['tunnels_ok'] == 2" "r['errors_total'] == 0" \
    "r['gbit_s'] > 0" "r['window_bytes'] > 0" "r['checks']['bytes_match']" \
    "r['target']['bytes_in'] == r['bytes_sent']" \
    "r['target']['bytes_out'] == r['bytes_received']"
done
check throughput_up "r['bytes_sent'] > 0" "r['bytes_received'] == 0" \
  "r['sunk_reported'] == r['bytes_sent']"
check throughput_down "r['bytes_sent'] == 0" "r['bytes_received'] > 0"
check throughput_both "r['bytes_sent'] > 0" "r['bytes_received'] > 0"

# The target stands in for a proxy here: it holds one descriptor per tunnel, which the /proc
# measurement must see.
run idle --mode idle --proxy direct --idle-tunnels 50 --hold 0.3 --workers 16 \
  --proxy-pid "$target_pid"
check idle "r['idle_held'] == 50" "r['idle_alive_after_hold'] == 50" \
  "r['errors_total'] == 0" "r['proxy']['measured']" \
  "abs(r['proxy']['fds_per_tunnel'] - 1.0) < 0.05" "r['checks']['pings_match']" \
  "r['target']['pings'] == 100"

# Failures must show up as errors, never as tunnels.
closed_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
run refused --mode connect --proxy "http://127.0.0.1:$closed_port" --duration 0.3 --workers 2
check refused "r['tunnels_ok'] == 0" "r['errors'].get('connect_ECONNREFUSED', 0) > 0" \
  "r['tunnels_failed'] == r['errors_total']"

run not_a_proxy --mode connect --proxy "http://$target" --count 5 --workers 1 --retries 1
check not_a_proxy "r['tunnels_ok'] == 0" "r['tunnels_failed'] == 5" "r['retries'] == 5" \
  "r['attempts'] == 10" "r['errors_total'] == 10"

echo "all checks passed"
