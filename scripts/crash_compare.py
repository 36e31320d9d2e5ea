#!/usr/bin/env python3
"""Compare vmcore-args' stack traces with crash's `foreach bt` and with the
kernel's own backtraces on the real dumps.

crash's output was saved next to each dump by cores/anchors.sh. For every
task crash lists, the physical frames vmcore-args reports must appear in
crash's trace, in the same order (function base names: crash shortens clone
names). Differences that are crash's own and therefore not failures:

  * frames above the last exception frame: crash shows the exception
    handler (and machine_kexec on kdump dumps); vmcore-args starts kdump
    traces at the registers saved at the exception and shows the handler
    chain only when it has the live registers (QEMU dumps);
  * frames only crash shows below it: stale return addresses found by
    crash's stack scan (e.g. a second do_syscall_64);
  * tasks crash does not list: crash 8.0.2 lists only 3 tasks on Debian's
    6.1.19x kernels (its struct pid handling predates the backport).

A frame of ours that crash does not show is accepted when the kernel's own
backtrace (printed on the console at the crash, saved in truth.json) lists
it as reliable (without "?"): crash's scan misses e.g. a .cold part that
called panic(). Tasks for which crash prints no frames are not compared.

Second oracle: for each task whose backtrace the kernel printed, every
reliable entry must appear in our trace in the same order.

Exit 1 on a difference neither oracle explains, 77 when there is nothing to
compare (no dumps for the chosen sets).
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

PID_RE = re.compile(r"^PID: (\d+)\s+TASK: ([0-9a-f]+)\s+CPU: (\d+)\s+COMMAND: \"(.*)\"")
FRAME_RE = re.compile(r"^\s*#\s*\d+ \[[0-9a-f]+\] (\S+) at [0-9a-f]+")
EXC_RE = re.compile(r"^\s+\[exception RIP: ([^+\]\s]+)")


def base(name):
    return name.split(".")[0] if name else name


def crash_tasks(path):
    """task address -> (pid, comm, frames below the last exception)."""
    tasks = {}
    cur = None
    for line in open(path, errors="replace"):
        m = PID_RE.match(line)
        if m:
            cur = {"pid": int(m.group(1)), "comm": m.group(4), "frames": [], "above": []}
            tasks[int(m.group(2), 16)] = cur  # the last block (foreach bt) wins
            continue
        if cur is None:
            continue
        m = EXC_RE.match(line)
        if m:
            cur["above"] += cur["frames"]
            cur["frames"] = [m.group(1)]
            continue
        m = FRAME_RE.match(line)
        if m:
            cur["frames"].append(m.group(1))
        elif line.startswith("crash>") or line.startswith("exit="):
            cur = None
    return tasks


def kernel_reliable(entries):
    """Function names of the kernel's reliable backtrace entries."""
    return [e.split("+")[0].split()[0] for e in entries if not e.startswith("?")]


def subsequence_miss(ours, theirs):
    """First element of ours not found in order in theirs, else None."""
    j = 0
    for x in ours:
        while j < len(theirs) and base(theirs[j]) != base(x):
            j += 1
        if j == len(theirs):
            return x
        j += 1
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("VMCORE_ARGS_DATA", "/var/tmp/vmcore-args"))
    ap.add_argument("--vmcore-args", default=os.path.join(os.path.dirname(__file__), "..", "build", "vmcore-args"))
    ap.add_argument("--sets")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    truths = sorted(glob.glob(os.path.join(a.data, "dumps", "*", "*", "truth.json")))
    if a.sets:
        truths = [t for t in truths if t.split(os.sep)[-3] in set(a.sets.split(","))]
    if not truths:
        print("REAL DUMPS MISSING: no truth.json under %s/dumps: make the corpus with cores/make-cores.sh" % a.data)
        return 77
    failures = compared = stale = kernel_compared = crash_unreadable = 0
    for tp in truths:
        d = os.path.dirname(tp)
        truth = json.load(open(tp))
        for dump in sorted(glob.glob(os.path.join(d, "vmcore*"))):
            label = "%s/%s/%s" % (truth["set"], truth["scenario"], os.path.basename(dump))
            cmd = [a.vmcore_args, "--json", dump, os.path.join(a.data, truth["vmlinux"])]
            for m in truth.get("modules", []):
                cmd += ["--modules", os.path.dirname(os.path.join(a.data, m["path"]))]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                print("FAIL %s: vmcore-args exited %d: %s" % (label, p.returncode, p.stderr.strip()[:200]))
                failures += 1
                continue
            ours = {int(t["task"], 16): t for t in json.loads(p.stdout)["threads"]}
            cf = os.path.join(d, "anchors", "crash.%s.txt" % os.path.basename(dump))
            theirs = crash_tasks(cf) if os.path.exists(cf) else {}
            if os.path.exists(cf) and not theirs:
                crash_unreadable += 1
            for addr, ct in sorted(theirs.items()):
                t = ours.get(addr)
                if t is None:
                    print("FAIL %s: task %#x (pid %d) that crash lists is missing" % (label, addr, ct["pid"]))
                    failures += 1
                    continue
                mine = [f["symbol"] or f["function"] for f in t["frames"] if not f.get("inlined") and not f.get("user_mode")]
                if not ct["frames"]:
                    if a.verbose:
                        print("skip %s pid %d (%s): crash shows no frames" % (label, ct["pid"], ct["comm"]))
                    continue
                # Compare from crash's exception frame down (our trace may
                # start above it when we had the live registers).
                start = 0
                first = base(ct["frames"][0])
                idx = [i for i, x in enumerate(mine) if base(x) == first]
                if idx:
                    start = idx[0]
                kernel = set(base(x) for x in kernel_reliable(truth.get("serial_backtrace", {}).get(str(ct["pid"]), [])))
                crash_names = {base(y) for y in ct["frames"]}
                # Our frames crash lacks but the kernel's own backtrace has are accepted.
                candidates = [x for x in mine[start:] if base(x) not in kernel or base(x) in crash_names]
                miss = subsequence_miss(candidates, ct["frames"])
                compared += 1
                extra = [x for x in ct["frames"] if base(x) not in {base(y) for y in mine}]
                stale += len(extra)
                if miss is not None:
                    failures += 1
                    print("FAIL %s pid %d (%s): our frame %s is not in crash's trace\n  ours:  %s\n  crash: %s" % (
                        label, ct["pid"], ct["comm"], miss, " ".join(mine[start:]), " ".join(ct["frames"])))
                elif a.verbose:
                    print("ok   %s pid %d (%s): %d frames%s" % (label, ct["pid"], ct["comm"], len(mine) - start,
                          "; crash-only (stale) frames: " + " ".join(extra) if extra else ""))
            # The kernel's own backtraces: every reliable entry, in order.
            for pid, entries in sorted(truth.get("serial_backtrace", {}).items()):
                t = [x for x in ours.values() if x["pid"] == int(pid) and not x.get("idle")]
                if not t:
                    print("FAIL %s: pid %s, whose backtrace the kernel printed, is missing" % (label, pid))
                    failures += 1
                    continue
                mine = [f["symbol"] or f["function"] for f in t[0]["frames"] if not f.get("inlined") and not f.get("user_mode")]
                want = kernel_reliable(entries)
                # The kernel's printing functions (dump_stack...) sit above
                # where our trace of the live CPU starts.
                while want and base(want[0]) not in {base(x) for x in mine}:
                    want = want[1:]
                miss = subsequence_miss(want, mine)
                kernel_compared += 1
                if miss is not None:
                    failures += 1
                    print("FAIL %s pid %s: the kernel's frame %s is not in our trace\n  kernel: %s\n  ours:   %s" % (
                        label, pid, miss, " ".join(want), " ".join(mine)))
                elif a.verbose:
                    print("ok   %s pid %s: the kernel's %d reliable frames are in our trace" % (label, pid, len(want)))
    print("crash: %d traces compared, %d crash-only frames (stale scan results), %d dumps crash could not read; "
          "kernel backtraces compared: %d; failures: %d" % (compared, stale, crash_unreadable, kernel_compared, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
