#!/usr/bin/env bash
# Runs every Go fuzz target in the module for DURATION each (default 60s), one after another.
#
#   scripts/fuzz.sh [DURATION] [REGEXP]
#
# DURATION is a -fuzztime value (60s, 5m, 100000x); REGEXP keeps only the targets whose names
# match it. FUZZ_PARALLEL sets go test -parallel (default: all cores). The fuzzer's own corpus and
# cache go to GOCACHE; only a failing input is written into the tree, under the package's
# testdata/fuzz/FuzzName/, where every later `go test` runs it as a regression case. The script
# prints where each one went and exits 1 when any target failed.
set -uo pipefail

duration=${1:-60s}
match=${2:-.}
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
cd "$(dirname "$0")/.." || exit 2

# go test -list prints a package's matching names, then an "ok <package>" line.
list=$(go test -list '^Fuzz' ./... 2>&1) || { printf '%s\n' "$list" >&2; exit 2; }
targets=()
names=()
while read -r first second _; do
	case $first in
	Fuzz*) names+=("$first") ;;
	ok)
		for n in "${names[@]}"; do targets+=("$second $n"); done
		names=()
		;;
	esac
done <<<"$list"
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz.sh: no fuzz targets found" >&2
	exit 2
fi

parallel=()
[ -n "${FUZZ_PARALLEL:-}" ] && parallel=(-parallel "$FUZZ_PARALLEL")
log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0
summary=()
for t in "${targets[@]}"; do
	pkg=${t% *} name=${t#* }
	[[ $name =~ $match ]] || continue
	echo "== $name ($pkg) for $duration"
	# A short minimisation of new inputs keeps a slow target fuzzing rather than shrinking.
	go test -run '^$' -fuzz="^$name\$" -fuzztime="$duration" -fuzzminimizetime=100x "${parallel[@]}" "$pkg" >"$log" 2>&1
	rc=$?
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	if [ $rc -eq 0 ]; then
		summary+=("$(printf '%-28s %-24s %10s execs  ok' "$name" "${pkg#rolegate/}" "${execs:-?}")")
		continue
	fi
	failed=1
	cat "$log"
	dir=$(go list -f '{{.Dir}}' "$pkg")
	input=$(sed -n 's/.*Failing input written to \(testdata\/fuzz\/[^ ]*\).*/\1/p' "$log" | tail -1)
	if [ -n "$input" ]; then
		where="${dir#"$PWD"/}/$input"
		echo "fuzz.sh: $name failed; the input is in $where"
		echo "fuzz.sh: re-run it with: go test -run '$name/${input##*/}' $pkg"
	else
		where="no input written (a build error or a failing seed: see above)"
	fi
	summary+=("$(printf '%-28s %-24s %10s execs  FAILED: %s' "$name" "${pkg#rolegate/}" "${execs:-?}" "$where")")
done

echo
printf '%s\n' "${summary[@]}"
exit $failed
