#!/bin/sh
# Coverage-guided fuzzing of dbroker's parsers (libFuzzer, clang).
#
#   scripts/fuzz.sh [--merge] [SECONDS] [TARGET...]
#
# Configures build/fuzz with clang (-DDBR_FUZZ=ON), builds the fuzz targets
# and runs each one for SECONDS (default 600) on its checked-in corpus
# tests/fuzz/corpus/<target>. New inputs go to a scratch corpus
# (build/fuzz/corpus/<target>), never into the checked-in one; with
# --merge, the scratch corpus is then minimised into the checked-in one
# (-merge=1). Crashes, leaks, timeouts and property violations are written
# to build/fuzz/findings/<target>/. Prints executions and findings per
# target; exits non-zero if any target found anything.
#
# Environment: DBR_FUZZ_BUILD_DIR (default build/fuzz), DBR_FUZZ_JOBS
# (build parallelism, default nproc), DBR_FUZZ_ARGS (extra libFuzzer
# flags).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

merge=0
if [ "${1:-}" = "--merge" ]; then
	merge=1
	shift
fi
secs=${1:-600}
[ $# -gt 0 ] && shift
targets=${*:-"mask spec api_error config jobs oauth vault agent_proto http_wire"}
build=${DBR_FUZZ_BUILD_DIR:-build/fuzz}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
jobs=${DBR_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}

case "$secs" in
''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a number, got '$secs'" >&2; exit 2 ;;
esac

echo "== fuzz build ($build)"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DDBR_FUZZ=ON \
	-DDBR_BUILD_TESTS=OFF -DDBR_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz -j "$jobs"

status=0
summary=""
for t in $targets; do
	bin="$build/fuzz/fuzz_$t"
	seeds="$root/tests/fuzz/corpus/$t"
	scratch="$build/corpus/$t"
	findings="$build/findings/$t"
	log="$build/logs/fuzz_$t.log"
	if [ ! -x "$bin" ]; then
		echo "fuzz.sh: no target '$t' ($bin)" >&2
		exit 2
	fi
	mkdir -p "$scratch" "$findings" "$(dirname "$log")"
	echo "== fuzz_$t: ${secs}s"
	rc=0
	# the first directory receives new inputs; the seeds are only read
	# shellcheck disable=SC2086
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$findings/" ${DBR_FUZZ_ARGS:-} "$scratch" "$seeds" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	crashes=$(grep 'Test unit written to' "$log" | sed 's/.*written to //' || true)
	if [ "$rc" -ne 0 ] || [ -n "$crashes" ]; then
		status=1
		echo "fuzz_$t: FAILED (exit $rc); log: $log"
		grep -E '==FUZZ PROPERTY VIOLATION==|^==[0-9]+==ERROR|^SUMMARY: |^ *#[0-9]+ 0x' "$log" | head -n 25 || true
		[ -n "$crashes" ] && echo "reproducer: $crashes"
		summary="$summary
fuzz_$t: ${execs:-?} executions, cov ${cov:-?}, FINDING (exit $rc) ${crashes:-}"
	else
		summary="$summary
fuzz_$t: ${execs:-?} executions, cov ${cov:-?}, scratch corpus $(find "$scratch" -type f | wc -l) files, no findings"
	fi
	if [ "$merge" -eq 1 ]; then
		echo "== fuzz_$t: merging $scratch into $seeds"
		"$bin" -merge=1 "$seeds" "$scratch" >>"$log" 2>&1
	fi
done

echo "== fuzz summary ($secs s per target)$summary"
exit $status
