#!/usr/bin/env bash
# anchors.sh DATA SET SCENARIO - run the reference tools (crash, drgn) on every
# dump of one scenario and keep what they printed, with exit codes, for
# differential tests: DATA/dumps/SET/SCENARIO/anchors/
#   crash.<dump>.txt   crash: sys, mod -s vmcargs, mod, ps, bt -a, foreach bt
#   drgn.<dump>.txt    drgn with cores/drgn-frames.py
#   summary.txt        one line per dump and tool: exit code, tasks seen
# Failures of the tools are recorded, not fatal: they are facts about them.
set -euo pipefail
shopt -s nullglob

[ $# -eq 3 ] || { echo "usage: $0 DATA SET SCENARIO" >&2; exit 2; }
DATA=$1 SET=$2 SC=$3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PYTHON:-python3}
TOOL_TIMEOUT=${VMC_ANCHOR_TIMEOUT:-600}
d=$DATA/dumps/$SET/$SC
out=$d/anchors

[ -s "$d/truth.json" ] || { echo "anchors: ERROR: no $d/truth.json" >&2; exit 1; }
if [ -s "$out/summary.txt" ]; then
	echo "anchors: skip $SET/$SC (exists)"
	exit 0
fi
for c in crash drgn timeout; do
	command -v "$c" >/dev/null || { echo "anchors: ERROR: $c not installed (scripts/install-deps.sh)" >&2; exit 1; }
done

# vmlinux and module paths from the truth file
mapfile -t info < <("$PY" - "$d/truth.json" "$DATA" <<'EOF'
import json, os, sys
t = json.load(open(sys.argv[1]))
print(os.path.join(sys.argv[2], t["vmlinux"]))
for m in t["modules"]:
    print(os.path.join(sys.argv[2], m.get("debug_path", m["path"])))
EOF
)
vmlinux=${info[0]}
kos=("${info[@]:1}")
[ -s "$vmlinux" ] || { echo "anchors: ERROR: vmlinux $vmlinux missing" >&2; exit 1; }
ko=$d/vmcargs.ko
[ -s "$ko" ] || { echo "anchors: ERROR: $ko missing" >&2; exit 1; }

tmp=$out.tmp
rm -rf "$tmp" && mkdir -p "$tmp"
cat > "$tmp/crash.cmds" <<EOF
sys
mod -s vmcargs $ko
mod
ps
bt -a
foreach bt
quit
EOF
drgn_s=()
for k in "${kos[@]}"; do drgn_s+=(-s "$k"); done

for dump in "$d"/vmcore.*; do
	name=${dump##*/}
	t0=$(date +%s)
	rc=0
	{
		echo "\$ crash -s $vmlinux $dump < crash.cmds"
		timeout "$TOOL_TIMEOUT" crash -s "$vmlinux" "$dump" < "$tmp/crash.cmds" 2>&1 || rc=$?
		echo "exit=$rc"
	} > "$tmp/crash.$name.txt"
	t1=$(date +%s)
	# crash's ps lists one line per task after its header
	ntasks=$(awk '/^ +PID +PPID +CPU +TASK/ {p=1; next} p && /^[> ] +[0-9]+ +[0-9-]+ +[0-9]+ +[0-9a-f]+ / {n++} p && /^PID:/ {p=0} END {print n+0}' "$tmp/crash.$name.txt")
	echo "$name crash exit=$rc tasks=$ntasks seconds=$((t1 - t0))" >> "$tmp/summary.txt"

	rc=0
	{
		echo "\$ drgn -c $dump -s $vmlinux ${drgn_s[*]} drgn-frames.py"
		timeout "$TOOL_TIMEOUT" drgn -c "$dump" -s "$vmlinux" "${drgn_s[@]}" "$HERE/drgn-frames.py" 2>&1 || rc=$?
		echo "exit=$rc"
	} > "$tmp/drgn.$name.txt"
	t2=$(date +%s)
	ntasks=$(awk '/^tasks [0-9]+$/ {print $2}' "$tmp/drgn.$name.txt" | tail -n1)
	echo "$name drgn exit=$rc tasks=${ntasks:-0} seconds=$((t2 - t1))" >> "$tmp/summary.txt"
done
rm -f "$tmp/crash.cmds"
[ -s "$tmp/summary.txt" ] || { echo "anchors: ERROR: no dumps in $d" >&2; exit 1; }
rm -rf "$out"
mv "$tmp" "$out"
sed "s|^|anchors: $SET/$SC: |" "$out/summary.txt"
