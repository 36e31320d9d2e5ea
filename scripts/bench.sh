#!/usr/bin/env bash
# Benchmark (not a test): time and peak memory of the full all-threads report
# against crash (foreach bt) and drgn (every task's stack trace) on the same
# dump. Each tool runs RUNS times (default 3); the median wall time and the
# largest peak RSS are reported.
#   scripts/bench.sh DUMP VMLINUX [MODULE_DIR]
set -euo pipefail
dump=$1 vmlinux=$2 moddir=${3:-$(dirname "$1")}
runs=${RUNS:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/build/vmcore-args
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/drgn_all.py" <<'PY'
from drgn.helpers.linux.pid import for_each_task
n = 0
for task in for_each_task(prog):
    try:
        trace = prog.stack_trace(task)
        for frame in trace:
            str(frame)
    except Exception:
        pass
    n += 1
print("tasks", n)
PY
printf 'foreach bt\nquit\n' > "$tmp/crash.in"

measure() {  # name command...
  local name=$1; shift
  local times=() rss=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -f '%e %M' -o "$tmp/t" "$@" >"$tmp/out" 2>"$tmp/err" || true
    read -r t m < <(tail -1 "$tmp/t")
    times+=("$t"); [ "$m" -gt "$rss" ] && rss=$m
  done
  local med; med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  local what
  case "$name" in
    vmcore-args-json) what=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); t=d["threads"]; print("%d threads, %d frames, %d args" % (len(t), sum(len(x["frames"]) for x in t), sum(len(f["args"]) for x in t for f in x["frames"])))' "$tmp/out" 2>/dev/null || echo "?") ;;
    crash-*) what="$(grep -c '^PID:' "$tmp/out" || true) tasks (bt blocks)" ;;
    drgn-*) what=$(grep -m1 -oE 'tasks [0-9]+' "$tmp/out" || echo "?") ;;
    *) what="" ;;
  esac
  printf '%-24s median %7.2f s   peak RSS %7.1f MiB   %s\n' "$name" "$med" "$(echo "$rss/1024" | bc -l)" "$what"
  echo "$med" > "$tmp/$name.med"
}

echo "dump: $dump ($(du -h "$dump" | cut -f1))"
measure vmcore-args-json "$bin" --json "$dump" "$vmlinux" --modules "$moddir"
measure vmcore-args-text "$bin" "$dump" "$vmlinux" --modules "$moddir"
measure vmcore-args-info "$bin" info "$dump" "$vmlinux"
command -v crash >/dev/null && measure crash-foreach-bt crash -s -i "$tmp/crash.in" "$vmlinux" "$dump"
command -v drgn >/dev/null && measure drgn-all-stack-traces drgn -q -c "$dump" -s "$vmlinux" "$tmp/drgn_all.py"
