#!/usr/bin/env bash
# The whole test suite:
#   1. build (RelWithDebInfo) and run every ctest: unit tests and the real-dump
#      tests (label "real"; without the corpus from cores/make-cores.sh they are
#      reported as Skipped, loudly, never as passed);
#   2. an ASan + UBSan build of the unit tests, run;
#   3. the unit tests cross-built for big-endian s390x, run under qemu-s390x
#      (skip with VMC_SKIP_S390X=1, which is reported).
# Exits non-zero if anything failed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=${JOBS:-2}
status=0
summary=()

run_ctest() {  # dir label-args…
  local dir=$1; shift
  local log; log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local skipped; skipped=$(grep -c '\*\*\*Skipped' "$log" || true)
  local line; line=$(grep -E 'tests passed, ' "$log" | tail -1)
  summary+=("$dir ${*:-all}: ${line:-no tests}; skipped: $skipped")
  if [ "$skipped" -gt 0 ]; then
    echo "=== SKIPPED TESTS in $dir (these did not run and are not passes):"
    grep '\*\*\*Skipped' "$log" | sed 's/^/    /'
    grep -m1 'REAL DUMPS MISSING' "$log" | sed 's/^/    /' || true
  fi
  rm -f "$log"
  [ "$rc" -eq 0 ] || status=1
}

echo "=== build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
ninja -C build -j"$jobs" || exit 1
echo "=== tests (unit + real dumps)"
run_ctest build

echo "=== ASan + UBSan build of the unit tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVMC_SANITIZE=ON -DVMC_BUILD_CLI=OFF >/dev/null || exit 1
if ninja -C build-asan -j"$jobs" vmc_unit_tests; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest build-asan -L unit
else
  status=1; summary+=("build-asan: BUILD FAILED")
fi

if [ "${VMC_SKIP_S390X:-0}" = 1 ]; then
  summary+=("s390x: SKIPPED (VMC_SKIP_S390X=1)")
else
  echo "=== big-endian: unit tests on s390x under qemu-s390x-static"
  log=$(mktemp)
  if scripts/cross-s390x.sh 2>&1 | tee "$log"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    summary+=("s390x unit tests: passed; skipped (not passes): $(grep -oE '\[  SKIPPED \] [0-9]+ test' "$log" | grep -oE '[0-9]+' || echo 0)")
  else
    status=1; summary+=("s390x unit tests: FAILED")
  fi
  rm -f "$log"
fi

echo
echo "=== summary"
printf '  %s\n' "${summary[@]}"
[ "$status" -eq 0 ] && echo "ALL TESTS PASSED" || echo "SOME TESTS FAILED"
exit $status
