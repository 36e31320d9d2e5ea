#!/usr/bin/env bash
# Benchmark (not a test): `vmcore-args triage` of N dumps of one kernel
# against N separate runs on the same dumps, one dump per run (each of which
# opens and indexes the vmlinux again), and the peak memory of a triage of
# a quarter of the dumps against all of them (it must not grow with N).
#   scripts/bench-triage.sh [DUMP_DIR VMLINUX [MODULE_DIR]]
# Default: the x86_64 set of the corpus (cores/make-cores.sh --sets x86_64).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
data=${VMCORE_ARGS_DATA:-/var/tmp/vmcore-args}
dir=${1:-$data/dumps/x86_64}
vmlinux=${2:-$(ls "$data"/kernels/x86_64/vmlinux-* 2>/dev/null | head -1)}
moddir=${3:-$(dirname "$vmlinux")}
bin=$top/build/vmcore-args
cpus=$(nproc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x "$bin" ] || { echo "build first: $bin is missing" >&2; exit 1; }
[ -f "$vmlinux" ] || { echo "no vmlinux (give DUMP_DIR VMLINUX, or make the corpus)" >&2; exit 1; }

# The dumps, as triage itself finds them.
"$bin" triage "$dir" --vmlinux "$vmlinux" --jsonl --no-progress -j "$cpus" 2>/dev/null |
  python3 -c 'import json,sys; [print(json.loads(l)["path"]) for l in sys.stdin]' | sort > "$tmp/dumps"
n=$(wc -l < "$tmp/dumps")
echo "$n dumps under $dir; vmlinux $vmlinux ($(du -h "$vmlinux" | cut -f1)); $cpus CPUs"

timed() {  # label command... -> prints wall seconds and peak RSS (MiB) of the largest process
  local label=$1; shift
  /usr/bin/time -f '%e %M' -o "$tmp/t" "$@" > /dev/null 2>&1 || true
  read -r t m < "$tmp/t"
  printf '%-44s %8.2f s   peak RSS %7.1f MiB\n' "$label" "$t" "$(echo "$m/1024" | bc -l)"
  echo "$t" > "$tmp/last"
}

timed "triage, all $n dumps, -j 1" "$bin" triage "$dir" --vmlinux "$vmlinux" --modules "$moddir" -j 1 --no-progress
t1=$(cat "$tmp/last")
timed "triage, all $n dumps, -j $cpus" "$bin" triage "$dir" --vmlinux "$vmlinux" --modules "$moddir" -j "$cpus" --no-progress
tj=$(cat "$tmp/last")
quarter=$(( (n + 3) / 4 ))
head -n "$quarter" "$tmp/dumps" > "$tmp/q"
timed "triage, $quarter dumps, -j 1 (memory vs N)" "$bin" triage $(cat "$tmp/q") --vmlinux "$vmlinux" --modules "$moddir" -j 1 --no-progress

# N separate runs, one dump each.
start=$(date +%s.%N); rss=0
while read -r d; do
  /usr/bin/time -f '%M' -o "$tmp/t" "$bin" triage "$d" --vmlinux "$vmlinux" --modules "$moddir" -j 1 --no-progress > /dev/null 2>&1 || true
  m=$(tail -1 "$tmp/t"); [ "$m" -gt "$rss" ] && rss=$m
done < "$tmp/dumps"
ts=$(echo "$(date +%s.%N) - $start" | bc -l)
printf '%-44s %8.2f s   peak RSS %7.1f MiB\n' "$n separate triage runs, one dump each" "$ts" "$(echo "$rss/1024" | bc -l)"
start=$(date +%s.%N)
while read -r d; do "$bin" "$d" "$vmlinux" --modules "$moddir" > /dev/null 2>&1 || true; done < "$tmp/dumps"
tr=$(echo "$(date +%s.%N) - $start" | bc -l)
printf '%-44s %8.2f s\n' "$n separate full reports (every thread)" "$tr"
printf 'ratio: separate runs / triage -j 1 = %.1fx; / triage -j %s = %.1fx\n' \
  "$(echo "$ts/$t1" | bc -l)" "$cpus" "$(echo "$ts/$tj" | bc -l)"
