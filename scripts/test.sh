#!/bin/sh
# Set up and run the whole dbroker test suite:
#   1. install missing Debian packages (scripts/bootstrap), check the layering
#      (scripts/check_layers.py)
#   2. build with warnings as errors and run every test with ctest (among
#      them the install into a temporary prefix, tests/integration/test_install.py,
#      and the .deb, test_deb.py)
#   3. build with AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer)
#      and run every test again
#   4. fuzz smoke: each libFuzzer target for 10 s (scripts/fuzz.sh)
#   5. run the unit tests under valgrind memcheck
# Exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

scripts/bootstrap

echo "== layers (core < net < auth < api < serve < cli)"
python3 scripts/check_layers.py

echo "== release build (-Werror)"
cmake -S . -B build/release -DDBR_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j "$jobs"
ctest --test-dir build/release -LE valgrind --output-on-failure -j "$jobs"

echo "== sanitizer build (ASan + UBSan + LSan)"
cmake -S . -B build/asan -DDBR_WERROR=ON -DDBR_SANITIZE=ON -DDBR_BUILD_BENCH=OFF \
	-DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build/asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build/asan --output-on-failure -j "$jobs"

echo "== fuzz smoke (libFuzzer, 10 s per target, fixed seed)"
# a fixed seed keeps the smoke run repeatable; scripts/fuzz.sh alone explores
DBR_FUZZ_ARGS="${DBR_FUZZ_ARGS:--seed=1}" scripts/fuzz.sh 10

echo "== valgrind memcheck (unit tests)"
ctest --test-dir build/release -L valgrind --output-on-failure -j "$jobs"
