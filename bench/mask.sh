#!/usr/bin/env bash
# Masking throughput: the stream masker against cat, on the same text, in the
# same run.
#
#   bench/mask.sh [path/to/bench_mask]
#
# Generates a realistic log-like text stream once (DBR_BENCH_BYTES, default
# 256 MiB) in a temporary directory, checks once that the masker's output
# holds none of the registered secrets, then times in alternating order,
# DBR_BENCH_RUNS times (default 11):
#   file: cat < in > /dev/null          vs  bench_mask < in > /dev/null
#   pipe: cat < in | cat > /dev/null    vs  cat < in | bench_mask > /dev/null
# and prints the medians, GB/s and the ratio masker/cat (throughput, the
# median over back-to-back pairs; 1.0 = as fast as cat). Exits non-zero only when the masker fails (crash, error,
# a secret in its output), never because of a timing.
set -u

here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-${DBR_BENCH_BIN:-}}
if [ -z "$bin" ]; then
	for c in "$here/../build/release/bench/bench_mask" "$here/../build/bench/bench_mask" \
		"$here/../build-mask/bench/bench_mask"; do
		if [ -x "$c" ]; then bin=$c; break; fi
	done
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
	echo "mask.sh: bench_mask not found: build it (cmake --build build/release --target bench_mask) or pass its path" >&2
	exit 2
fi
bytes=${DBR_BENCH_BYTES:-268435456}
runs=${DBR_BENCH_RUNS:-11}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dbr-mask-bench.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
in=$tmp/in.txt

fail() {
	echo "mask.sh: FAIL: $*" >&2
	exit 1
}

# microseconds since the epoch, in $t (no subshell: bash 5 has
# EPOCHREALTIME; older shells pay a fork for date)
if [ -n "${EPOCHREALTIME:-}" ]; then
	stamp() { t=${EPOCHREALTIME//[!0-9]/}; t=$((10#$t)); }
else
	stamp() { t=$(($(date +%s%N) / 1000)); }
fi

"$bin" --generate "$bytes" > "$in" || fail "cannot generate the input"
"$bin" --list-secrets > "$tmp/secrets" || fail "cannot list the secrets"
size=$(wc -c < "$in")

# once, for correctness: no secret in the output
"$bin" --stats < "$in" > "$tmp/out" 2> "$tmp/stats" || { cat "$tmp/stats" >&2; fail "masker failed"; }
if grep -q -F -f "$tmp/secrets" "$tmp/out"; then
	fail "a registered secret is in the masker's output"
fi
leaked_in=$(grep -c -F -f "$tmp/secrets" "$in")
masked=$(sed -n 's/.* \([0-9]*\) masked regions.*/\1/p' "$tmp/stats")
rm -f "$tmp/out"

cat "$in" > /dev/null # page cache

declare -a cf mf cp mp
for ((i = 0; i < runs; i++)); do
	# alternate the order so drift hits both sides alike
	for which in $( ((i % 2)) && echo "m c" || echo "c m"); do
		if [ "$which" = c ]; then
			stamp; t0=$t; cat < "$in" > /dev/null; stamp; cf+=($((t - t0)))
			stamp; t0=$t; cat < "$in" | cat > /dev/null; stamp; cp+=($((t - t0)))
		else
			stamp; t0=$t; "$bin" < "$in" > /dev/null; rc=$?; stamp
			[ "$rc" = 0 ] || fail "masker exited with $rc"
			mf+=($((t - t0)))
			stamp; t0=$t; cat < "$in" | "$bin" > /dev/null; rc=${PIPESTATUS[1]}; stamp
			[ "$rc" = 0 ] || fail "masker exited with $rc (pipe)"
			mp+=($((t - t0)))
		fi
	done
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# median of the ratios of each back-to-back pair: drift on a shared
# machine cancels out
pair_ratio() { # cat[] masker[] as "c1 c2 ... -- m1 m2 ..."
	local -a c=() m=() r=()
	local seen=0 x
	for x in "$@"; do
		if [ "$x" = -- ]; then seen=1; elif [ $seen = 0 ]; then c+=("$x"); else m+=("$x"); fi
	done
	for ((k = 0; k < ${#c[@]}; k++)); do
		r+=("$(awk -v a="${c[k]}" -v b="${m[k]}" 'BEGIN { printf "%.4f", a / b }')")
	done
	median "${r[@]}"
}

report() { # name cat_us masker_us ratio
	awk -v n="$1" -v c="$2" -v m="$3" -v r="$4" -v b="$size" 'BEGIN {
		printf "%-5s %8.1f ms %6.2f GB/s   %8.1f ms %6.2f GB/s   %5.2f\n",
		       n, c / 1000, b / c / 1000, m / 1000, b / m / 1000, r }'
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "masking throughput: $size bytes, 16 registered secrets, $masked masked regions" \
     "($leaked_in lines with a raw secret), median of $runs runs"
echo "machine: $(nproc) cores, ${cpu:-unknown CPU}"
echo "              cat                      masker              masker/cat"
report file "$(median "${cf[@]}")" "$(median "${mf[@]}")" "$(pair_ratio "${cf[@]}" -- "${mf[@]}")"
report pipe "$(median "${cp[@]}")" "$(median "${mp[@]}")" "$(pair_ratio "${cp[@]}" -- "${mp[@]}")"
echo "(times and GB/s: medians; masker/cat: median over the runs of cat time / masker time)"
