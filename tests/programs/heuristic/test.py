#!/usr/bin/env python3
"""The optional heuristic (report --heuristics) on a real process core.

Builds callee.c (with var-tracking: its parameters become entry values) and
caller.c (-fno-var-tracking: no call-site DWARF), runs the program under gdb
to its fault, writes the core with gcore, and checks that:
  * by default callee's `a` is unknown (nothing proves it);
  * with --heuristics it is shown, marked heuristic, and equals the value
    the program printed; `b` (computed with lea, not moved) stays unknown.
Exit 77 when gcc or gdb is missing or the host is not x86-64.
"""
import json, os, platform, re, shutil, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
vmc = sys.argv[1]
if platform.machine() not in ("x86_64", "AMD64") or not shutil.which("gcc") or not shutil.which("gdb"):
    print("SKIPPED: needs an x86-64 host with gcc and gdb")
    sys.exit(77)
with tempfile.TemporaryDirectory() as d:
    exe = os.path.join(d, "prog")
    subprocess.run(["gcc", "-g", "-O2", "-c", os.path.join(here, "callee.c"), "-o", os.path.join(d, "callee.o")], check=True)
    subprocess.run(["gcc", "-g", "-O2", "-fno-var-tracking", "-c", os.path.join(here, "caller.c"), "-o",
                    os.path.join(d, "caller.o")], check=True)
    subprocess.run(["gcc", os.path.join(d, "caller.o"), os.path.join(d, "callee.o"), "-o", exe], check=True)
    core = os.path.join(d, "core")
    g = subprocess.run(["gdb", "-nx", "-batch", "-ex", "run", "-ex", "gcore " + core, exe], capture_output=True,
                       text=True, timeout=120)
    m = re.search(r"truth a=(\d+) b=(\d+)", g.stdout)
    if not os.path.exists(core) or not m:
        print("could not make the core:\n" + g.stdout + g.stderr)
        sys.exit(1)
    want_a = int(m.group(1))

    def callee_args(extra):
        p = subprocess.run([vmc, "--json", core, exe] + extra, capture_output=True, text=True)
        if p.returncode != 0:
            print(p.stderr)
            sys.exit(1)
        doc = json.loads(p.stdout)
        for th in doc["threads"]:
            for f in th["frames"]:
                if f.get("function") == "callee":
                    return {a["name"]: a for a in f["args"]}
        print("no callee frame in:\n" + p.stdout)
        sys.exit(1)

    failures = 0
    plain = callee_args([])
    if plain["a"]["known"]:
        print("FAIL: without --heuristics, a was shown: %s" % plain["a"])
        failures += 1
    h = callee_args(["--heuristics"])
    a = h["a"]
    if not a["known"] or not a.get("heuristic") or int(a["value"], 16) != want_a:
        print("FAIL: with --heuristics, a should be heuristic %d: %s" % (want_a, a))
        failures += 1
    elif "HEURISTIC" not in a["source"]:
        print("FAIL: the heuristic value's source does not say so: %s" % a["source"])
        failures += 1
    if h["b"]["known"]:
        print("FAIL: b was shown although nothing moved it: %s" % h["b"])
        failures += 1
    print("heuristic test: a=%s (%s); %d failures" % (a.get("value"), a.get("source", a.get("reason")), failures))
    sys.exit(1 if failures else 0)
