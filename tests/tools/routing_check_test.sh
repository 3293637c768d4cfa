#!/usr/bin/env bash
# routing_check prints canonical forms and error messages, from arguments and from stdin, and
# its exit status says whether every username was valid.
set -euo pipefail
check="$1"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

out=$("$check" alice_C_US_city_New_York_s_ab12_ttl_120m)
[ "$out" = "alice_c_us_city_new_york_s_ab12_ttl_2h" ] || fail "canonical form: $out"

status=0
out=$("$check" alice_c_gb ab_c_gb_cty) || status=$?
expected=$'alice_c_gb\nerror: unknown key \'cty\' at offset 8'
[ "$out" = "$expected" ] || fail "mixed arguments: $out"
[ "$status" -eq 1 ] || fail "status $status after an invalid username"

status=0
out=$(printf 'alice_ttl_2h\r\nbob_s_x_ttl_25h\nc_smartpath\n' | "$check") || status=$?
expected=$'error: ttl without s\nerror: ttl 25h out of range (1m..24h)\nc_smartpath'
[ "$out" = "$expected" ] || fail "stdin: $out"
[ "$status" -eq 1 ] || fail "status $status after invalid stdin lines"

printf 'alice\n' | "$check" >/dev/null || fail "valid stdin line gave a failure status"

status=0
"$check" --help 2>/dev/null || status=$?
[ "$status" -eq 2 ] || fail "--help status $status"
echo PASS
