#!/usr/bin/env python3
"""Score argument recovery against the real dumps' ground truth.

For every scenario under DATA/dumps/<set>/<scenario>/ (truth.json written by
cores/truth.py from the test module's own log) and every dump file in it,
runs `vmcore-args --json DUMP VMLINUX --modules DIR` and compares each
ground-truth thread, frame and argument:

  correct  the value equals the truth;
  WRONG    a value was shown and differs (the worst bug this tool can have);
  unknown  no value, with a reason (always acceptable);
  missing  the frame itself was not found in the trace.

With --drgn, drgn's output saved next to each dump by cores/anchors.sh is
scored the same way (drgn shows parameters it can determine and <absent>
or an exception otherwise).

Exit status: 1 if --fail-on-wrong and any WRONG value (or, with
--fail-on-missing, any missing ground-truth frame), 2 on usage errors,
77 when there is nothing to score (no corpus for the chosen sets: ctest
reports that as Skipped).
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scoring import Tally, ours_threads, score_threads  # noqa: E402  (shared with score_user.py)


DRGN_TASK = re.compile(r"^task (\d+) (.*?) 0x[0-9a-f]+ ")
DRGN_FRAME = re.compile(r"^\s+#\d+ 0x[0-9a-f]+ (\S+)(?:.*?) sym=(\S+)")
DRGN_PARAM = re.compile(r"^\s+param (\S+) = (.*)$")


def drgn_threads(path):
    out = {}
    cur = None
    frames = None
    with open(path, errors="replace") as f:
        for line in f:
            m = DRGN_TASK.match(line)
            if m:
                pid = int(m.group(1))
                frames = []
                if pid != 0:
                    out[pid] = frames
                continue
            m = DRGN_FRAME.match(line)
            if m and frames is not None:
                sym = m.group(2).split("+")[0]
                cur = {"function": m.group(1), "symbol": sym, "args": {}}
                frames.append(cur)
                continue
            m = DRGN_PARAM.match(line)
            if m and cur is not None:
                v = m.group(2)
                hv = re.match(r"^(-?0x[0-9a-f]+|-?\d+)\b", v)
                cur["args"][m.group(1)] = {"value": hv.group(1) if hv and not v.startswith("<") else None,
                                           "source": "drgn"}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("VMCORE_ARGS_DATA", "/var/tmp/vmcore-args"))
    ap.add_argument("--vmcore-args", default=os.path.join(os.path.dirname(__file__), "..", "build", "vmcore-args"))
    ap.add_argument("--sets", help="comma list of sets (default: all)")
    ap.add_argument("--drgn", action="store_true", help="also score drgn's saved output")
    ap.add_argument("--fail-on-wrong", action="store_true")
    ap.add_argument("--fail-on-missing", action="store_true")
    ap.add_argument("--verbose", "-v", action="store_true", help="list every WRONG and missing item")
    a = ap.parse_args()

    truths = sorted(glob.glob(os.path.join(a.data, "dumps", "*", "*", "truth.json")))
    if a.sets:
        sets = set(a.sets.split(","))
        truths = [t for t in truths if t.split(os.sep)[-3] in sets]
    if not truths:
        print("REAL DUMPS MISSING: no truth.json under %s/dumps%s: make the corpus with cores/make-cores.sh"
              % (a.data, " for sets " + a.sets if a.sets else ""))
        return 77
    total, total_drgn = Tally(), Tally()
    per_set = {}
    for tp in truths:
        d = os.path.dirname(tp)
        truth = json.load(open(tp))
        vmlinux = os.path.join(a.data, truth["vmlinux"])
        moddirs = sorted({os.path.dirname(os.path.join(a.data, m["path"])) for m in truth.get("modules", [])})
        for dump in sorted(glob.glob(os.path.join(d, "vmcore*"))):
            label = "%s/%s/%s" % (truth["set"], truth["scenario"], os.path.basename(dump))
            cmd = [a.vmcore_args, "--json", dump, vmlinux]
            for md in moddirs:
                cmd += ["--modules", md]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode not in (0,) or not p.stdout.strip():
                t = Tally()
                t.args = sum(len(f["args"]) for th in truth["threads"] for f in th["frames"])
                t.unknown = t.args
                t.missing_frames = t.frames = sum(len(th["frames"]) for th in truth["threads"])
                t.missing_list.append("%s: vmcore-args exited %d: %s" % (label, p.returncode, p.stderr.strip()[:300]))
            else:
                t = score_threads(truth, ours_threads(json.loads(p.stdout)), label)
            print("%-58s %s" % (label, t.line()))
            total.add(t)
            per_set.setdefault(truth["set"], Tally()).add(t)
            if a.drgn:
                dp = os.path.join(d, "anchors", "drgn.%s.txt" % os.path.basename(dump))
                if os.path.exists(dp):
                    td = score_threads(truth, drgn_threads(dp), "drgn " + label)
                    print("%-58s %s" % ("  drgn", td.line()))
                    total_drgn.add(td)
    print()
    for s, t in sorted(per_set.items()):
        print("%-20s %s" % ("set " + s, t.line()))
    print("%-20s %s" % ("vmcore-args total", total.line()))
    if a.drgn:
        print("%-20s %s" % ("drgn total", total_drgn.line()))
    if a.verbose or total.wrong:
        for w in total.wrong_list:
            print("WRONG: " + w)
    if a.verbose:
        for m in total.missing_list:
            print("missing: " + m)
    if a.fail_on_wrong and total.wrong:
        return 1
    if a.fail_on_missing and total.missing_frames:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
