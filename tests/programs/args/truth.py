#!/usr/bin/env python3
"""Turn a corpus program's truth log (truthlog.h) into truth.json.

The log is replayed per thread: "enter" pushes a frame, "truth" adds an
argument to the frame on top, "leave" pops it.  The frames left when the
process stopped are each thread's ground truth, innermost first, in the
kernel corpus' schema (threads[] {pid, comm, role, frames[] {function,
args[] {name, type, value}}}) plus what identifies the build:

  {"schema": "vmcore-args-user-truth/1", "program", "setting", "mode",
   "arch", "cflags", "crash": {"tid", "mode", "addr"}, "threads": [...]}

python3 standard library only.
"""
import argparse
import json
import re
import sys

KV = re.compile(r'(\w+)=("(?:[^"]*)"|\S+)')


def fail(msg):
    print("truth.py: ERROR: %s" % msg, file=sys.stderr)
    sys.exit(1)


def kv(line):
    out = {}
    for k, v in KV.findall(line):
        if v.startswith('"') and v.endswith('"'):
            v = v[1:-1]
        out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--program", required=True, help="the program, relative to the corpus directory")
    ap.add_argument("--setting", required=True)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--arch", required=True, choices=["x86_64", "i386"])
    ap.add_argument("--cflags", required=True)
    a = ap.parse_args()

    stacks = {}   # tid -> frames, outermost first
    comm = {}
    role = {}
    order = []
    crash = None
    with open(a.log, errors="replace") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            word = line.split(" ", 1)[0]
            d = kv(line)
            if "tid" not in d:
                fail("%s:%d: no tid: %s" % (a.log, n, line))
            tid = int(d["tid"])
            if tid not in stacks:
                stacks[tid] = []
                order.append(tid)
            st = stacks[tid]
            if word == "enter":
                st.append({"function": d["fn"], "args": []})
            elif word == "leave":
                if not st or st[-1]["function"] != d["fn"]:
                    fail("%s:%d: leave %s but the top frame is %s" % (a.log, n, d["fn"], st[-1]["function"] if st else None))
                st.pop()
            elif word == "truth":
                if not st or st[-1]["function"] != d["fn"]:
                    fail("%s:%d: truth line for a frame that was not entered: %s" % (a.log, n, line))
                arg = {"name": d["arg"], "type": d["type"], "size": int(d["size"]),
                       "value": "0x%x" % int(d["value"], 16), "index": int(d["idx"])}
                if "string" in d:
                    arg["string"] = d["string"]
                st[-1]["args"].append(arg)
            elif word == "park":
                role[tid] = "parked"
                comm[tid] = d.get("comm", "?")
                st and st[-1].setdefault("parked_in", d.get("kind"))
            elif word == "crash":
                role[tid] = "crashed"
                crash = {"tid": tid, "mode": int(d["mode"]), "addr": "0x%x" % int(d["addr"], 16)}
            else:
                fail("%s:%d: unknown record: %s" % (a.log, n, line))
    if crash is None:
        fail("%s: no crash record: the program did not reach its crash point" % a.log)
    threads = []
    for tid in order:
        if not stacks[tid]:
            continue
        threads.append({"pid": tid, "comm": comm.get(tid, a.program.split("/")[-1][:15]),
                        "role": role.get(tid, "other"), "frames": list(reversed(stacks[tid]))})
    doc = {"schema": "vmcore-args-user-truth/1", "program": a.program, "setting": a.setting, "mode": a.mode,
           "arch": a.arch, "cflags": a.cflags, "crash": crash, "threads": threads}
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
