#!/usr/bin/env bash
# bench.sh: the bounds and, given a running server, the rates, and how near the one comes to the other.
#
#   scripts/bench.sh [URL]
#
# Runs the Bound benchmarks (RSA-2048 PKCS#1 v1.5 SHA-256 sign on one core and on all, argon2id verify
# at the server's parameters, one whole AWS sign-in with its allocations) COUNT times; with URL (a
# server running on the store that ROLEGATE_DATA_DIR or ROLEGATE_DATABASE_URL names, started with high
# --rate-burst and --rate-per-second), runs `rolegate bench` for sso and login RUNS times each. Then
# prints the medians and the ratios:
#   sso/s   / (CORES / (2 x one RSA sign))   the share of the crypto/rsa bound, two signatures a sign-in
#   login/s / (CORES / one argon2id verify)  the share of the password-hashing bound
#   p99/p50                                  how far the tail is from the middle
# Where cgo and OpenSSL's headers are at hand, the same again with -tags openssl: libcrypto's RSA sign
# and the sign-in through it, the bound of a server built with -tags openssl.
# Environment: COUNT (5), BENCHTIME (1s), RUNS (3), CORES (nproc: the server's cores, when it runs
# elsewhere), BENCH_ARGS (extra flags for rolegate bench, e.g. "--concurrency 8 --duration 30s"),
# OUT (a directory to keep the raw outputs in; default a temporary one).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=go1.27.3

url=${1:-}
count=${COUNT:-5}
benchtime=${BENCHTIME:-1s}
runs=${RUNS:-3}
cores=${CORES:-$(nproc)}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"

# median reads numbers, one a line, and prints their median.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "NaN"; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# field NAME UNIT [FILE] prints the median of the column before UNIT in the lines of benchmark NAME
# (in bounds.txt unless FILE is given).
field() {
	awk -v name="$1" -v unit="$2" '$1 ~ "^" name "(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i + 1) == unit) print $i }' "${3:-$out/bounds.txt}" | median
}

# json KEY FILE... prints, one a line, the number after "KEY": in each -o json output.
json() {
	local key=$1
	shift
	for f in "$@"; do sed -n 's/^ *"'"$key"'": \([0-9.eE+-]*\),\{0,1\}$/\1/p' "$f"; done
}

echo "== bounds: go test -bench '^BenchmarkBound' -count $count -benchtime $benchtime (raw: $out/bounds.txt)"
go test -run '^$' -bench '^BenchmarkBound' -benchmem -count "$count" -benchtime "$benchtime" ./assertions/ ./idp/password/ >"$out/bounds.txt"
sign=$(field BenchmarkBoundRSA2048Sign ns/op)
signpar=$(field BenchmarkBoundRSA2048SignParallel ns/op)
argon=$(field BenchmarkBoundArgon2idVerify ns/op)
signin=$(field BenchmarkBoundAWSSignIn/sign=both ns/op)
allocs=$(field BenchmarkBoundAWSSignIn/sign=both allocs/op)
bytes=$(field BenchmarkBoundAWSSignIn/sign=both B/op)
signin1=$(field BenchmarkBoundAWSSignIn/sign=assertion ns/op)
awk -v s="$sign" -v sp="$signpar" -v a="$argon" -v si="$signin" -v si1="$signin1" -v al="$allocs" -v by="$bytes" -v c="$cores" 'BEGIN {
	printf "RSA-2048 sign, one core        %10.3f ms\n", s / 1e6
	printf "RSA-2048 sign, all cores       %10.3f ms a signature (%.0f/s)\n", sp / 1e6, 1e9 / sp
	printf "argon2id verify                %10.3f ms\n", a / 1e6
	printf "AWS sign-in (plan, build, 2 signatures) %.3f ms, %d allocs, %d B\n", si / 1e6, al, by
	printf "AWS sign-in, --sign assertion (1 signature) %.3f ms\n", si1 / 1e6
	printf "bound: sso/s   <= %d cores / (2 x sign)   = %.0f/s (--sign assertion|response: twice that)\n", c, c * 1e9 / (2 * s)
	printf "bound: login/s <= %d cores / verify       = %.1f/s\n", c, c * 1e9 / a
}'

# The -tags openssl build's bound, where it builds: cgo on and OpenSSL's headers installed (libssl-dev).
sign_ossl=
if [ "$(go env CGO_ENABLED)" = 1 ] && printf '#include <openssl/evp.h>\n' | "$(go env CC)" -E -x c - >/dev/null 2>&1; then
	echo "== bounds with -tags openssl (libcrypto; raw: $out/bounds-openssl.txt)"
	go test -tags openssl -run '^$' -bench '^BenchmarkBound(RSA2048SignOpenSSL|RSA2048SignOpenSSLParallel|AWSSignIn)$' -benchmem \
		-count "$count" -benchtime "$benchtime" ./assertions/ >"$out/bounds-openssl.txt"
	sign_ossl=$(field BenchmarkBoundRSA2048SignOpenSSL ns/op "$out/bounds-openssl.txt")
	signpar_ossl=$(field BenchmarkBoundRSA2048SignOpenSSLParallel ns/op "$out/bounds-openssl.txt")
	signin_ossl=$(field BenchmarkBoundAWSSignIn/sign=both ns/op "$out/bounds-openssl.txt")
	awk -v s="$sign_ossl" -v sp="$signpar_ossl" -v si="$signin_ossl" -v g="$sign" -v c="$cores" 'BEGIN {
		printf "RSA-2048 sign, one core        %10.3f ms (%.2fx crypto/rsa)\n", s / 1e6, g / s
		printf "RSA-2048 sign, all cores       %10.3f ms a signature (%.0f/s)\n", sp / 1e6, 1e9 / sp
		printf "AWS sign-in (plan, build, 2 signatures) %.3f ms\n", si / 1e6
		printf "bound: sso/s   <= %d cores / (2 x sign)   = %.0f/s (a server built with -tags openssl)\n", c, c * 1e9 / (2 * s)
	}'
else
	echo "(no cgo or no OpenSSL headers: no -tags openssl bound)"
fi

[ -n "$url" ] || { echo "(no URL: no server rates; give the URL of a server started for a bench to measure them)"; exit 0; }

bindir=$(mktemp -d)
trap 'rm -rf "$bindir"' EXIT # the binary goes even when a build or a run fails
bin=$bindir/rolegate
go build -o "$bin" ./cmd/rolegate
for scenario in sso login; do
	for i in $(seq "$runs"); do
		# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
		"$bin" bench --url "$url" --scenario "$scenario" -o json ${BENCH_ARGS:-} >"$out/$scenario-$i.json"
	done
done

echo "== rolegate bench at $url, $runs runs each, medians (raw: $out/*.json)"
for scenario in sso login; do
	files=("$out/$scenario"-*.json)
	rate=$(json requests_per_second "${files[@]}" | median)
	p50=$(json p50 "${files[@]}" | median)
	p99=$(json p99 "${files[@]}" | median)
	errs=$(json error_count "${files[@]}" | median)
	tail=$(paste <(json p99 "${files[@]}") <(json p50 "${files[@]}") | awk '$2 > 0 { print $1 / $2 }' | median)
	if [ "$scenario" = sso ]; then
		ratio=$(awk -v r="$rate" -v s="$sign" -v c="$cores" 'BEGIN { printf "%.2f", r / (c * 1e9 / (2 * s)) }')
		bound="of the crypto/rsa bound"
		[ -z "$sign_ossl" ] || bound="$bound, $(awk -v r="$rate" -v s="$sign_ossl" -v c="$cores" 'BEGIN { printf "%.2f", r / (c * 1e9 / (2 * s)) }') of the OpenSSL one"
	else
		ratio=$(awk -v r="$rate" -v a="$argon" -v c="$cores" 'BEGIN { printf "%.2f", r / (c * 1e9 / a) }')
		bound="of the argon2id bound"
	fi
	printf "%-6s %8.1f/s  %s %s  p50 %.2fms  p99 %.2fms  p99/p50 %.2f  errors %s\n" "$scenario" "$rate" "$ratio" "$bound" "$p50" "$p99" "$tail" "$errs"
done
