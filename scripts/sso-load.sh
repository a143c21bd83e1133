#!/usr/bin/env bash
# sso-load.sh: IdP-initiated SSO for a signed-in session, measured with wrk the way BENCHMARKS.md does.
#
#   scripts/sso-load.sh [BINARY]      (default bin/rolegate; build it first: go build -o bin/rolegate ./cmd/rolegate)
#
# Starts `BINARY serve --demo` on a fresh store in a temporary directory (or on ROLEGATE_DATABASE_URL,
# which must name an empty database), signs the demo user in once with curl through POST /login, and
# loads GET /aws/signin?account=111122223333&role=DemoAdmin with that session: a warm-up of 3 s, then RUNS
# runs of DURATION. Prints each run (rate, p50, p99, the server's CPU per request from /proc), their
# medians, the share of the crypto/rsa bound when SIGN_MS (one RSA-2048 signature, from
# scripts/bench.sh) is given, and the server's peak RSS; then stops the server and removes the directory.
# Environment:
#   PLACEMENT  pinned (default: the server on core 0 with GOMAXPROCS=1, wrk on core 1, the bound of one
#              core) or shared (both on every core, the bound of nproc cores)
#   CONNS (8), RUNS (3), DURATION (10s), PORT (18900), SIGN_MS (unset: no ratio)
set -euo pipefail
bin=$(realpath "${1:-bin/rolegate}")
placement=${PLACEMENT:-pinned}
conns=${CONNS:-8}
runs=${RUNS:-3}
dur=${DURATION:-10s}
port=${PORT:-18900}
for tool in wrk curl taskset; do
	command -v "$tool" >/dev/null || { echo "sso-load.sh: $tool is not installed (Debian: apt-get install $tool)" >&2; exit 2; }
done
[ -x "$bin" ] || { echo "sso-load.sh: no binary at $bin: go build -o bin/rolegate ./cmd/rolegate" >&2; exit 2; }
case $placement in
pinned) server=(taskset -c 0 env GOMAXPROCS=1); client=(taskset -c 1); threads=1; cores=1 ;;
shared) server=(); client=(); threads=2; cores=$(nproc) ;;
*) echo "sso-load.sh: PLACEMENT is pinned or shared, not $placement" >&2; exit 2 ;;
esac
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
url=http://localhost:$port
(cd "$dir" && exec "${server[@]}" "$bin" --data-dir "$dir/data" serve --demo --addr "127.0.0.1:$port" --base-url "$url" \
	--rate-burst 100000 --rate-per-second 10000 --log-level warn >"$dir/serve.log" 2>&1) &
pid=$!
for _ in $(seq 150); do grep -q "running at" "$dir/serve.log" 2>/dev/null && break; sleep 0.2; done
grep -q "running at" "$dir/serve.log" || { echo "sso-load.sh: the server did not start:" >&2; cat "$dir/serve.log" >&2; exit 1; }
pid=$(pgrep -f -- "--data-dir $dir/data serve" | head -1)
pwfile=$(sed -n 's/.*the password is in \([^ ]*demo-password\).*/\1/p' "$dir/serve.log")
jar=$dir/jar
csrf=$(curl -s -c "$jar" -b "$jar" "$url/login" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1)
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" --data-urlencode username=demo \
	--data-urlencode "password=$(cat "$pwfile")" --data-urlencode "csrf_token=$csrf" "$url/login")
[ "$code" = 303 ] || { echo "sso-load.sh: signing the demo user in answered HTTP $code" >&2; exit 1; }
cookie=$(awk '!/^#/ || /^#HttpOnly_/ { sub(/^#HttpOnly_/, ""); if (NF >= 7) printf "%s=%s; ", $6, $7 }' "$jar")
target="$url/aws/signin?account=111122223333&role=DemoAdmin"
"${client[@]}" wrk -t"$threads" -c"$conns" -d3s -H "Cookie: $cookie" "$target" >/dev/null
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
for i in $(seq "$runs"); do
	t0=$(ticks)
	"${client[@]}" wrk -t"$threads" -c"$conns" -d"$dur" --latency -H "Cookie: $cookie" "$target" >"$dir/wrk$i"
	t1=$(ticks)
	if grep -q "Non-2xx\|Socket errors" "$dir/wrk$i"; then echo "sso-load.sh: run $i had errors:" >&2; cat "$dir/wrk$i" >&2; exit 1; fi
	awk -v t0="$t0" -v t1="$t1" -v hz="$hz" -v i="$i" '
		/requests in/ { n = $1 } $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 } /Requests\/sec/ { r = $2 }
		END { printf "run %d: %.1f SSO/s  p50 %s  p99 %s  server CPU %.3f ms/SSO\n", i, r, p50, p99, (t1 - t0) * 1000 / hz / n }' "$dir/wrk$i" | tee -a "$dir/runs"
done
m=$(awk '{ print $3 }' "$dir/runs" | sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
awk -v m="$m" -v sign="${SIGN_MS:-}" -v cores="$cores" -v place="$placement" -v conns="$conns" -v n="$runs" 'BEGIN {
	printf "median %.1f SSO/s (%s, %d connections, %d runs)", m, place, conns, n
	if (sign != "") printf "; bound %.0f/s (%d cores / (2 x %s ms)): %.2f of it", cores * 1000 / (2 * sign), cores, sign, m / (cores * 1000 / (2 * sign))
	printf "\n"
}'
echo "server peak RSS $(awk '/VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$pid/status")"
