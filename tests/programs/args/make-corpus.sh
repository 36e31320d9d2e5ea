#!/usr/bin/env bash
# Makes the user-space argument corpus: the programs here (chains.c,
# aggregates.c), each built with gcc in many settings, each run under gdb to
# its crash (or to a breakpoint) in every mode and dumped with gcore, with the
# ground truth the program logged and gdb's own view of every frame's
# arguments on the same core.
#
#   make-corpus.sh OUTDIR
#
# OUTDIR/<setting>/<program>                   the binary (-g)
# OUTDIR/<setting>/libchain.so                 aggregates' shared library (-g -fPIC)
# OUTDIR/<setting>/<program>-<mode>/core       written by gdb's gcore
#                                  truth.log   what the program logged (truthlog.h)
#                                  truth.json  the frames left on each thread's stack (truth.py)
#                                  gdb.json    gdb's arguments, read from the core (gdb_args.py)
#                                  gdb-bt.txt  gdb's `thread apply all bt full` on the core
#                                  gdb.log     the gdb session
# OUTDIR/settings.txt                          one line per setting: name, then its flags
#
# Settings: -m64 and (when gcc -m32 links) -m32, each at -O0, -O0
# -fomit-frame-pointer, -O1, -O2, -O2 -fno-omit-frame-pointer, -O2
# -gdwarf-4, -O2 -fno-pie -no-pie, -O3, -Os (DWARF 5 unless said). Modes: chains segv|leaf|abort|stop, aggregates segv|call|fpe.
#
# Idempotent (a stamp newer than every file here skips the work), safe
# from parallel tests (flock), bounded (every gdb run under `timeout`,
# every program under alarm(60)); $VMC_CORPUS_JOBS settings are made at a
# time (default: the number of CPUs). The kernel's core_pattern is not
# touched: gdb writes the cores. Needs gcc, gdb and python3; exits 77
# without them.
set -euo pipefail

out=${1:?usage: make-corpus.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-gcc}
PYTHON=${PYTHON:-python3}
for tool in "$CC" gdb "$PYTHON" timeout flock; do
  command -v "$tool" >/dev/null || { echo "make-corpus.sh: no $tool" >&2; exit 77; }
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
exec 9>"$out/.lock"
flock -w 1200 9 || { echo "make-corpus.sh: $out/.lock is held for more than 20 minutes" >&2; exit 1; }
stamp=$out/stamp
fresh=1
if [ -f "$stamp" ]; then
  for f in "$here"/*; do
    [ "$stamp" -nt "$f" ] || fresh=0
  done
else
  fresh=0
fi
[ "$fresh" = 1 ] && exit 0
rm -f "$stamp"
start=$(date +%s)

base_settings=(
  "O0:-O0"
  "O0-nofp:-O0 -fomit-frame-pointer"
  "O1:-O1"
  "O2:-O2"
  "O2-fp:-O2 -fno-omit-frame-pointer"
  "O2-dwarf4:-O2 -gdwarf-4"
  "O2-nopie:-O2 -fno-pie -no-pie"
  "O3:-O3"
  "Os:-Os"
)
archs=(m64)
if echo 'int main(void){return 0;}' | "$CC" -m32 -x c - -o "$out/.m32-check" 2>/dev/null; then
  archs+=(m32)
else
  echo "make-corpus.sh: $CC -m32 cannot link (libc6-dev-i386, lib32gcc-12-dev); no 32-bit cores" >&2
fi
rm -f "$out/.m32-check"

# program:modes:shared library it links with (built from <lib>.c, -fPIC)
programs=("chains:segv leaf abort stop:" "aggregates:segv call fpe:libchain")

settings=()
for a in "${archs[@]}"; do
  for s in "${base_settings[@]}"; do
    settings+=("$a-${s%%:*}:-$a ${s#*:}")
  done
done
: >"$out/settings.txt.tmp"
for s in "${settings[@]}"; do
  echo "${s%%:*} ${s#*:}" >>"$out/settings.txt.tmp"
done
mv "$out/settings.txt.tmp" "$out/settings.txt"
# Settings an older version of this script made and this one does not.
for d in "$out"/*/; do
  d=${d%/}
  [ -e "$d/.ok" ] || [ -e "$d/chains.build.log" ] || continue
  grep -q "^${d##*/} " "$out/settings.txt" || rm -rf "$d"
done

# One setting: build both programs, then run every mode under gdb.
make_setting() {
  local name=$1 flags=$2 arch=x86_64
  case $flags in *-m32*) arch=i386 ;; esac
  local sd=$out/$name
  rm -rf "$sd"
  mkdir -p "$sd"
  local p prog modes mode d lib link
  for p in "${programs[@]}"; do
    IFS=: read -r prog modes lib <<<"$p"
    link=()
    if [ -n "$lib" ]; then
      # shellcheck disable=SC2086
      if ! "$CC" $flags -g -fPIC -shared -o "$sd/$lib.so" "$here/$lib.c" >"$sd/$lib.build.log" 2>&1; then
        echo "make-corpus.sh: $name: building $lib.so failed:" >&2
        cat "$sd/$lib.build.log" >&2
        return 1
      fi
      link=(-L"$sd" -l"${lib#lib}" -Wl,-rpath,'$ORIGIN')
    fi
    # shellcheck disable=SC2086
    if ! "$CC" $flags -g -pthread -o "$sd/$prog" "$here/$prog.c" "${link[@]}" >"$sd/$prog.build.log" 2>&1; then
      echo "make-corpus.sh: $name: building $prog failed:" >&2
      cat "$sd/$prog.build.log" >&2
      return 1
    fi
    for mode in $modes; do
      d=$sd/$prog-$mode
      mkdir -p "$d"
      local brk=()
      [ "$mode" = stop ] && brk=(-ex 'break args_stop_here')
      # Run to the crash (or the breakpoint), write the core, then read
      # every frame's arguments back from the core as gdb sees them.
      timeout -k 5 120 gdb -nx -batch -q -iex 'set debuginfod enabled off' \
        -ex 'set pagination off' -ex 'set confirm off' -ex 'set width 0' \
        -ex "source $here/gdb_args.py" \
        -ex 'handle SIGUSR2 nostop noprint pass' \
        "${brk[@]}" \
        -ex 'run' \
        -ex "gcore $d/core" \
        -ex 'kill' \
        -ex "core-file $d/core" \
        -ex "python vmc_args_dump('$d/gdb.json', '$d/gdb-bt.txt')" \
        --args "$sd/$prog" "$mode" "$d/truth.log" >"$d/gdb.log" 2>&1 || true
      if [ ! -s "$d/core" ] || [ ! -s "$d/gdb.json" ] || [ ! -s "$d/truth.log" ]; then
        echo "make-corpus.sh: $name: no core, gdb.json or truth.log for $prog $mode; $d/gdb.log says:" >&2
        tail -20 "$d/gdb.log" >&2
        return 1
      fi
      if ! "$PYTHON" "$here/truth.py" --log "$d/truth.log" --out "$d/truth.json" --program "$name/$prog" \
          --setting "$name" --mode "$mode" --arch "$arch" --cflags "$flags -g" >"$d/truth.err" 2>&1; then
        echo "make-corpus.sh: $name: truth.py failed for $prog $mode:" >&2
        cat "$d/truth.err" >&2
        return 1
      fi
      rm -f "$d/truth.err"
    done
  done
  touch "$sd/.ok"
}

jobs_max=${VMC_CORPUS_JOBS:-$(nproc 2>/dev/null || echo 2)}
for s in "${settings[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  make_setting "${s%%:*}" "${s#*:}" &
done
wait || true

failed=0
n=0
for s in "${settings[@]}"; do
  if [ -f "$out/${s%%:*}/.ok" ]; then
    n=$((n + $(find "$out/${s%%:*}" -name truth.json | wc -l)))
  else
    echo "make-corpus.sh: setting ${s%%:*} failed" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1
echo "make-corpus.sh: ${#settings[@]} settings, $n cores in $(( $(date +%s) - start )) s under $out"
touch "$stamp"
