#!/usr/bin/env bash
# Makes the user-space process cores of the unwinder's oracle test
# (tests/unit/unwind_oracle_test.cc): oracle_threads.c built in several
# variants, each run under gdb to a known point (a breakpoint, a SIGSEGV,
# an abort, a breakpoint in a signal handler on an alternate stack) and
# dumped with gcore, plus gdb's own backtrace PCs per thread.
#
#   make-cores.sh OUTDIR
#
# OUTDIR/<variant>/prog and OUTDIR/<variant>-<mode>/{core,gdb-pcs.txt},
# variants m64-O2-fp, m64-O2-nofp, m64-O0 and, when gcc -m32 links,
# m32-O2-fp, m32-O2-nofp; modes stop, segv, abort, signal. Idempotent (a stamp
# newer than this script and the sources skips the work) and safe to run
# from parallel tests (flock). Needs gcc and gdb; exits 77 without them.
set -euo pipefail

out=${1:?usage: make-cores.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-gcc}
command -v "$CC" >/dev/null || { echo "make-cores.sh: no $CC" >&2; exit 77; }
command -v gdb >/dev/null || { echo "make-cores.sh: no gdb" >&2; exit 77; }

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
stamp=$out/stamp
if [ -f "$stamp" ] && [ "$stamp" -nt "$0" ] && [ "$stamp" -nt "$here/oracle_threads.c" ] && [ "$stamp" -nt "$here/gdb_pcs.py" ]; then
  exit 0
fi
rm -f "$stamp"

variants=("m64-O2-fp:-m64 -O2 -fno-omit-frame-pointer" "m64-O2-nofp:-m64 -O2 -fomit-frame-pointer" "m64-O0:-m64 -O0")
if echo 'int main(void){return 0;}' | "$CC" -m32 -x c - -o "$out/.m32-check" 2>/dev/null; then
  variants+=("m32-O2-fp:-m32 -O2 -fno-omit-frame-pointer" "m32-O2-nofp:-m32 -O2 -fomit-frame-pointer")
else
  echo "make-cores.sh: $CC -m32 cannot link; no 32-bit cores" >&2
fi
rm -f "$out/.m32-check"

for v in "${variants[@]}"; do
  name=${v%%:*}
  flags=${v#*:}
  mkdir -p "$out/$name"
  # shellcheck disable=SC2086
  "$CC" $flags -g -pthread -o "$out/$name/prog" "$here/oracle_threads.c"
  for mode in stop segv abort signal; do
    d=$out/$name-$mode
    rm -rf "$d"
    mkdir -p "$d"
    # Run to the known point, dump gdb's own backtrace PCs, write the core.
    gdb -nx -batch -q \
      -ex 'set pagination off' -ex 'set confirm off' \
      -ex 'set backtrace past-main on' -ex 'set backtrace past-entry on' \
      -ex "source $here/gdb_pcs.py" \
      -ex 'handle SIGUSR1 nostop noprint pass' \
      -ex 'break vmc_stop_here' \
      -ex "run $mode" \
      -ex "python vmc_dump_pcs('$d/gdb-pcs.txt')" \
      -ex "gcore $d/core" \
      -ex 'kill' \
      --args "$out/$name/prog" "$mode" >"$d/gdb.log" 2>&1 || true
    if [ ! -s "$d/core" ] || [ ! -s "$d/gdb-pcs.txt" ]; then
      echo "make-cores.sh: no core for $name $mode (see $d/gdb.log)" >&2
      exit 1
    fi
  done
done
touch "$stamp"
