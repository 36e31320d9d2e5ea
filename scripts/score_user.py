#!/usr/bin/env python3
"""Score argument recovery on the user-space argument corpus.

The corpus (tests/programs/args/make-corpus.sh) holds, per build setting
and program mode, a process core written by gdb's gcore, the ground truth
the program logged (truth.json) and gdb's own view of every frame's
arguments read back from the same core (gdb.json).  For each core this runs
`vmcore-args --json CORE PROGRAM` and compares every ground-truth thread,
frame (inlined frames included, matched by their own function name) and
argument the way scripts/score.py does for kernel dumps (scripts/scoring.py):

  correct  the value equals the truth;
  WRONG    a value was shown and differs (the worst bug this tool can have);
  unknown  no value, with a reason (always acceptable);
  missing  the frame itself was not found in the trace.

gdb's values are scored against the same truth, as the comparison: gdb's
WRONG values are information, never a failure.

With --make-corpus the corpus is made (or found up to date) first by
make-corpus.sh; that is how the ctest user_args_score runs.

Exit status: 1 if --fail-on-wrong and vmcore-args showed any WRONG value,
or if --fail-on-error and vmcore-args failed (non-zero exit, timeout, no
JSON) on any core, or if --make-corpus failed; 2 on usage errors; 77 when
there is nothing to score (also when make-corpus.sh finds no gcc or gdb).
"""
import argparse
import concurrent.futures
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scoring import Tally, ours_threads, score_threads  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def gdb_threads(doc):
    """gdb.json (tests/programs/args/gdb_args.py) -> {pid: frames}."""
    out = {}
    for th in doc.get("threads", []):
        frames = []
        for f in th.get("frames", []):
            args = {}
            for a in f.get("args", []):
                args[a["name"]] = {"value": a.get("value") if a.get("known") else None,
                                   "source": "gdb: " + a.get("display", "") if a.get("known") else a.get("reason")}
            frames.append({"function": f.get("function"), "symbol": None if f.get("inlined") else f.get("function"),
                           "args": args})
        out[th["pid"]] = frames
    return out


def truth_totals(truth):
    t = Tally()
    t.args = t.unknown = sum(len(f["args"]) for th in truth["threads"] for f in th["frames"])
    t.frames = t.missing_frames = sum(len(th["frames"]) for th in truth["threads"])
    return t


def score_core(tp, corpus, vmcore_args, timeout, with_gdb):
    d = os.path.dirname(tp)
    truth = json.load(open(tp))
    label = "%s/%s-%s" % (truth["setting"], truth["program"].split("/")[-1], truth["mode"])
    core = os.path.join(d, "core")
    prog = os.path.join(corpus, truth["program"])
    error = None
    try:
        p = subprocess.run([vmcore_args, "--json", core, prog], capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0 or not p.stdout.strip():
            error = "vmcore-args exited %d: %s" % (p.returncode, p.stderr.strip()[:500])
        else:
            doc = json.loads(p.stdout)
    except subprocess.TimeoutExpired:
        error = "vmcore-args did not finish in %d s" % timeout
    except ValueError as e:
        error = "vmcore-args printed no valid JSON: %s" % e
    if error:
        ours = truth_totals(truth)
        ours.missing_list.append("%s: %s" % (label, error))
    else:
        ours = score_threads(truth, ours_threads(doc, inlined=True), label)
    gdb = None
    gp = os.path.join(d, "gdb.json")
    if with_gdb and os.path.exists(gp):
        gdb = score_threads(truth, gdb_threads(json.load(open(gp))), "gdb " + label)
    return truth, label, ours, gdb, error


def cells(t):
    if t is None:
        return "%5s %5s %5s %6s" % ("-", "-", "-", "-")
    recall = 100.0 * t.correct / t.args if t.args else 0.0
    return "%5d %5d %5d %5.1f%%" % (t.correct, t.wrong, t.unknown, recall)


def table(title, rows):
    print()
    print("%-26s %5s | %-24s | %-24s | %s" % (title, "args", "vmcore-args", "gdb", "missing frames (ours/gdb)"))
    print("%-26s %5s | %5s %5s %5s %6s | %5s %5s %5s %6s |" % ("", "", "corr", "WRONG", "unkn", "recall",
                                                              "corr", "WRONG", "unkn", "recall"))
    for name, ours, gdb in rows:
        print("%-26s %5d | %s | %s | %d/%s" % (name, ours.args, cells(ours), cells(gdb), ours.missing_frames,
                                               gdb.missing_frames if gdb else "-"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(HERE, "..", "build", "tests", "user-args"),
                    help="the corpus directory made by tests/programs/args/make-corpus.sh")
    ap.add_argument("--vmcore-args", default=os.path.join(HERE, "..", "build", "vmcore-args"))
    ap.add_argument("--make-corpus", action="store_true",
                    help="first run tests/programs/args/make-corpus.sh CORPUS (idempotent)")
    ap.add_argument("--settings", help="comma list of settings (default: all), e.g. m64-O2,m32-O0")
    ap.add_argument("--no-gdb", action="store_true", help="do not score gdb.json")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=int, default=120, help="seconds per vmcore-args run")
    ap.add_argument("--fail-on-wrong", action="store_true")
    ap.add_argument("--fail-on-error", action="store_true")
    ap.add_argument("--per-core", action="store_true", help="one line per core")
    ap.add_argument("--verbose", "-v", action="store_true", help="also list missing frames")
    a = ap.parse_args()

    if a.make_corpus:
        mk = os.path.join(HERE, "..", "tests", "programs", "args", "make-corpus.sh")
        rc = subprocess.run([mk, a.corpus]).returncode
        if rc == 77:
            print("USER ARGS CORPUS SKIPPED: make-corpus.sh found no gcc, gdb or python3")
            return 77
        if rc != 0:
            print("score_user.py: make-corpus.sh %s failed (exit %d)" % (a.corpus, rc), file=sys.stderr)
            return 1
    truths = sorted(glob.glob(os.path.join(a.corpus, "*", "*", "truth.json")))
    listed = os.path.join(a.corpus, "settings.txt")
    if os.path.exists(listed):  # the settings make-corpus.sh made last
        known = {line.split()[0] for line in open(listed) if line.strip()}
        truths = [t for t in truths if t.split(os.sep)[-3] in known]
    if a.settings:
        want = set(a.settings.split(","))
        truths = [t for t in truths if t.split(os.sep)[-3] in want]
    if not truths:
        print("USER ARGS CORPUS MISSING: no truth.json under %s: make it with tests/programs/args/make-corpus.sh"
              % a.corpus)
        return 77
    if not os.access(a.vmcore_args, os.X_OK):
        print("score_user.py: %s is not an executable" % a.vmcore_args, file=sys.stderr)
        return 2

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        results = list(ex.map(lambda tp: score_core(tp, a.corpus, a.vmcore_args, a.timeout, not a.no_gdb), truths))

    total, total_gdb = Tally(), Tally()
    per_setting, per_prog = {}, {}
    errors = []
    for truth, label, ours, gdb, error in results:
        if a.per_core:
            print("%-34s ours %s" % (label, ours.line()))
            if gdb:
                print("%-34s gdb  %s" % ("", gdb.line()))
        if error:
            errors.append("%s: %s" % (label, error))
        total.add(ours)
        key_p = "%s-%s %s" % (truth["program"].split("/")[-1], truth["mode"], truth["arch"])
        for key, agg in ((truth["setting"], per_setting), (key_p, per_prog)):
            o, g = agg.setdefault(key, (Tally(), Tally()))
            o.add(ours)
            if gdb:
                g.add(gdb)
        if gdb:
            total_gdb.add(gdb)
    gdb_any = not a.no_gdb and total_gdb.args > 0

    def order(name):  # m64 before m32, then the settings in the corpus' own order
        return (name.startswith("m32"), name)

    table("setting", [(k, v[0], v[1] if gdb_any else None) for k, v in sorted(per_setting.items(), key=lambda kv: order(kv[0]))])
    table("program-mode arch", [(k, v[0], v[1] if gdb_any else None) for k, v in sorted(per_prog.items())])
    table("total (%d cores)" % len(results), [("all", total, total_gdb if gdb_any else None)])
    print()
    print("vmcore-args %s" % total.line())
    if gdb_any:
        print("gdb         %s" % total_gdb.line())
    for e in errors:
        print("ERROR: " + e)
    for w in total.wrong_list:
        print("WRONG: " + w)
    if gdb_any and total_gdb.wrong_list:
        print("gdb's WRONG values (information: gdb is the comparison, not the subject):")
        for w in total_gdb.wrong_list:
            print("  gdb WRONG: " + w)
    if a.verbose:
        for m in total.missing_list:
            print("missing: " + m)
        if gdb_any:
            for m in total_gdb.missing_list:
                print("gdb missing: " + m)
    if a.fail_on_wrong and total.wrong:
        return 1
    if a.fail_on_error and errors:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
