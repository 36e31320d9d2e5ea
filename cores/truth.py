#!/usr/bin/env python3
"""Turn a test guest's serial log into truth.json (schema vmcore-args-truth/1).

Ground truth comes only from what the guest itself printed: the vmcargs
module's "vmcargs: ..." lines, the init script's "vmcargs-init: ..." lines
(/proc/version, /proc/kallsyms, /sys/module/*/sections) and the kernel's own
oops/panic text.  No dump is read.  python3 standard library only (plus `nm`
to learn which symbol names GCC gave the module's functions).

The schema is documented in cores/README.md.
"""
import argparse
import json
import os
import re
import subprocess
import sys

TS = re.compile(r"^\[\s*\d+\.\d+\]\s?")
KV = re.compile(r'(\w+)=("(?:[^"]*)"|\S+)')


def fail(msg):
    print(f"truth.py: ERROR: {msg}", file=sys.stderr)
    sys.exit(1)


def kv(line):
    out = {}
    for k, v in KV.findall(line):
        if v.startswith('"') and v.endswith('"'):
            v = v[1:-1]
        out[k] = v
    return out


def first_kernel_lines(text):
    """Lines of the crashed (first) kernel, timestamps removed.

    In kdump runs the capture kernel logs to the same serial port; it starts
    with its own "Linux version" banner."""
    lines = []
    banners = 0
    for raw in text.splitlines():
        line = TS.sub("", raw.rstrip("\r"))
        if line.startswith("Linux version "):
            banners += 1
            if banners > 1:
                break
        lines.append(line)
    return lines


def hexs(v):
    return "0x%x" % v


def module_symbols(ko):
    """Map function name -> list of symbol names (exact or GCC clones)."""
    try:
        out = subprocess.run(["nm", "--defined-only", ko], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        fail(f"nm {ko}: {e}")
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 3 or parts[1] not in "tT":
            continue
        name = parts[2]
        base = name.split(".", 1)[0]
        syms.setdefault(base, []).append(name)
    return syms


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="data dir (paths are made relative to it)")
    ap.add_argument("--dir", required=True, help="scenario dir with serial.log and the dumps")
    ap.add_argument("--set", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--arch", required=True, choices=["x86_64", "i386"])
    ap.add_argument("--paging", required=True, choices=["4-level", "5-level", "pae", "2-level"])
    ap.add_argument("--release", required=True)
    ap.add_argument("--vmlinux", required=True, help="path relative to the data dir")
    ap.add_argument("--vmlinux-stext", required=True, help="link-time address of _stext")
    ap.add_argument("--ko", required=True, help="vmcargs.ko that was loaded")
    ap.add_argument("--modules-dir", required=True, help="dir of the other .ko, relative to the data dir")
    ap.add_argument("--debug-modules-dir", required=True,
                    help="dir of their detached debug info (from the -dbg package), relative to the data dir")
    ap.add_argument("--cpus", type=int, required=True)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    serial = os.path.join(a.dir, "serial.log")
    with open(serial, "rb") as f:
        lines = first_kernel_lines(f.read().decode("utf-8", "replace"))

    # Final location of the scenario dir (make-cores.sh builds it in DIR.tmp).
    final_dir = a.dir[:-4] if a.dir.endswith(".tmp") else a.dir
    rel_dir = os.path.relpath(os.path.abspath(final_dir), os.path.abspath(a.data))

    banner = cmdline = None
    runtime_stext = None
    cpus_online = None
    sections = {}
    stacks = {}      # pid -> list of frames (outermost first)
    info = {}        # pid -> {comm, task}
    roles = {}       # pid -> "parked" | "crashed"
    park_kind = {}
    crash = None
    whoami = None
    objects = {}
    layout = {}
    init_crash_seen = False
    oops_line = None
    panic_msg = None
    fault_address = None
    rip = None
    panic_hdr = None      # (cpu, pid, comm) of the first CPU:/PID: header after the crash
    backtraces = {}
    cur_bt_pid = None
    in_trace = False
    printed_offset = None

    for line in lines:
        if line.startswith("vmcargs-init: "):
            body = line[len("vmcargs-init: "):]
            if body.startswith("version "):
                banner = body[len("version "):]
            elif body.startswith("cmdline "):
                cmdline = body[len("cmdline "):]
            elif body.startswith("cpus online="):
                rng = body.split("=", 1)[1].strip()
                n = 0
                for part in rng.split(","):
                    lo, _, hi = part.partition("-")
                    n += (int(hi) - int(lo) + 1) if hi else 1
                cpus_online = n
            elif body.startswith("kallsyms "):
                toks = body.split()[1:]
                for i in range(0, len(toks) - 2, 3):
                    if toks[i + 2] == "_stext":
                        runtime_stext = int(toks[i], 16)
            elif body.startswith("section "):
                d = kv(body)
                sections.setdefault(d["module"], {})[d["name"]] = hexs(int(d["addr"], 16))
            elif body.startswith("crash mode="):
                init_crash_seen = True
            elif body.startswith("FAIL"):
                fail(f"{serial}: guest failed: {line}")
            continue

        if line.startswith("vmcargs: "):
            body = line[len("vmcargs: "):]
            word = body.split(" ", 1)[0]
            d = kv(body)
            if word == "enter":
                pid = int(d["pid"])
                info.setdefault(pid, {})
                info[pid].update(comm=d["comm"], task=hexs(int(d["task"], 16)))
                stacks.setdefault(pid, []).append({"function": d["fn"], "args": []})
            elif word == "leave":
                pid = int(d["pid"])
                st = stacks.get(pid) or fail(f"leave without enter: {line}")
                if st[-1]["function"] != d["fn"]:
                    fail(f"leave {d['fn']} but top frame is {st[-1]['function']}: {line}")
                st.pop()
            elif word == "truth":
                pid = int(d["pid"])
                st = stacks.get(pid)
                if not st or st[-1]["function"] != d["fn"]:
                    fail(f"truth line for a frame that was not entered: {line}")
                arg = {"name": d["arg"], "type": d["type"], "value": hexs(int(d["value"], 16)),
                       "display": d["display"]}
                if "string" in d:
                    arg["string"] = d["string"]
                    arg["display"] = '"%s"' % d["string"]
                idx = int(d["idx"])
                if "." in d["arg"]:
                    parent, member = d["arg"].split(".", 1)
                    top = st[-1]["args"][-1]
                    if top["name"] != parent:
                        fail(f"member {d['arg']} does not follow its struct: {line}")
                    arg["name"] = member
                    top.setdefault("members", []).append(arg)
                else:
                    arg["index"] = idx
                    st[-1]["args"].append(arg)
            elif word == "park":
                pid = int(d["pid"])
                roles[pid] = "parked"
                park_kind[pid] = d["kind"]
                info.setdefault(pid, {}).update(comm=d["comm"], task=hexs(int(d["task"], 16)))
            elif word == "crash":
                crash = d
            elif word == "whoami":
                whoami = d
            elif word == "object":
                objects[d["name"]] = hexs(int(d["addr"], 16))
            elif word == "layout":
                layout = {k: (int(v) if k == "pgtable_levels" else hexs(int(v, 16)))
                          for k, v in d.items()}
            continue

        if not init_crash_seen:
            continue
        # ---- the kernel's own crash report ----
        m = re.match(r"(BUG: unable to handle page fault for address: |BUG: kernel NULL pointer dereference, address: )([0-9a-f]+)", line)
        if m and oops_line is None:
            oops_line = line.strip()
            fault_address = int(m.group(2), 16)
        elif oops_line is None and (line.startswith("general protection fault")
                                    or line.startswith("kernel BUG at")
                                    or line.startswith("invalid opcode")):
            oops_line = line.strip()
        m = re.match(r"CPU: (\d+) PID: (\d+) Comm: (\S+)", line)
        if m:
            if panic_hdr is None:
                panic_hdr = (int(m.group(1)), int(m.group(2)), m.group(3))
            cur_bt_pid = int(m.group(2))
            in_trace = False
            continue
        # the oops's kernel RIP/EIP (not the user RIP of a syscall frame)
        m = re.match(r"(?:EIP|RIP): (?:[0-9a-f]{4}:)?([\w.$]+\+0x[0-9a-f]+/0x[0-9a-f]+)", line)
        if m and rip is None and oops_line is not None:
            rip = m.group(1)
        m = re.match(r"Kernel Offset: (0x[0-9a-f]+|disabled)", line)
        if m:
            printed_offset = m.group(1)
        m = re.match(r"Kernel panic - not syncing: (.*)$", line)
        if m and panic_msg is None:
            panic_msg = m.group(1).rstrip()
        if line.startswith("Call Trace:"):
            in_trace = cur_bt_pid is not None and str(cur_bt_pid) not in backtraces
            if in_trace:
                backtraces[str(cur_bt_pid)] = []
            continue
        if in_trace:
            e = line.strip()
            if e in ("<TASK>", "</TASK>", "<IRQ>", "</IRQ>", "<NMI>", "</NMI>"):
                continue
            if re.match(r"(\? )?[\w.$]+\+0x[0-9a-f]+/0x[0-9a-f]+( \[\w+\])?$", e):
                backtraces[str(cur_bt_pid)].append(e)
            else:
                in_trace = False

    # ---- checks and assembly ----
    if banner is None:
        fail(f"{serial}: no 'vmcargs-init: version' line (guest init did not run?)")
    if runtime_stext is None:
        fail(f"{serial}: no _stext from /proc/kallsyms")
    if "vmcargs" not in sections or ".text" not in sections["vmcargs"]:
        fail(f"{serial}: no section addresses of vmcargs")
    if not init_crash_seen:
        fail(f"{serial}: the guest never reached the crash step")
    panic_called = panic_msg is not None
    if not panic_called:
        # With kdump loaded, an oops goes to crash_kexec() in oops_end()
        # before panic() could print anything: the oops line is the message.
        if oops_line is None:
            fail(f"{serial}: neither a 'Kernel panic - not syncing' line nor an oops")
        panic_msg = oops_line
    if panic_hdr is None:
        fail(f"{serial}: no 'CPU: N PID: P Comm: C' line after the crash")
    kinds = sorted(park_kind.values())
    want_kinds = sorted(["waitqueue", "schedule_timeout", "completion", "mutex-holder", "mutex-waiter"])
    if kinds != want_kinds:
        fail(f"{serial}: parked threads {kinds}, expected {want_kinds}")

    crashed_pid = int((crash or whoami or {}).get("pid", panic_hdr[1]))
    if crashed_pid != panic_hdr[1]:
        fail(f"{serial}: module says pid {crashed_pid} crashes, kernel says {panic_hdr[1]}")
    if a.mode != "sysrq" and crash is None:
        fail(f"{serial}: no 'vmcargs: crash' line for mode {a.mode}")
    if crash is not None and crash["mode"] != "VMCARGS_MODE_" + a.mode.upper().replace("-", "_"):
        fail(f"{serial}: module crashed in {crash['mode']}, expected mode {a.mode}")
    if a.mode in ("fault", "fault-kernel"):
        if fault_address is None:
            fail(f"{serial}: no page-fault address in the oops")
        if fault_address != int(crash["addr"], 16):
            fail(f"{serial}: oops address {hexs(fault_address)} != argument {crash['addr']}")
    roles[crashed_pid] = "crashed"
    src = crash or whoami
    if src:
        info.setdefault(crashed_pid, {}).update(comm=src["comm"], task=hexs(int(src["task"], 16)))
    else:
        info.setdefault(crashed_pid, {}).update(comm=panic_hdr[2], task=None)

    syms = module_symbols(a.ko)
    threads = []
    for pid in sorted(roles, key=lambda p: (roles[p] != "crashed", p)):
        frames = list(reversed(stacks.get(pid, [])))
        if roles[pid] == "crashed" and a.mode == "sysrq":
            frames = []   # the sysrq write never enters the module
        for fr in frames:
            allsyms = syms.get(fr["function"], [])
            # GCC splits unlikely paths into NAME.cold (in .text.unlikely)
            cands = [s for s in allsyms if not s.endswith(".cold")]
            if len(cands) != 1:
                fail(f"{a.ko}: function {fr['function']} has symbols {allsyms}, expected one (+ .cold)")
            fr["symbol"] = cands[0]
            fr["clone"] = cands[0] != fr["function"]
            if cands[0] + ".cold" in allsyms:
                fr["cold_symbol"] = cands[0] + ".cold"
        t = {"pid": pid, "comm": info[pid]["comm"], "task": info[pid]["task"],
             "role": roles[pid], "frames": frames}
        if pid in park_kind:
            t["parked_in"] = park_kind[pid]
        threads.append(t)

    levels = {"2-level": 2, "pae": 3, "4-level": 4, "5-level": 5}[a.paging]
    if "pgtable_levels" not in layout:
        fail(f"{serial}: the module did not log pgtable_levels")
    if layout["pgtable_levels"] != levels:
        fail(f"{serial}: set says {a.paging} paging, the guest runs {layout['pgtable_levels']} levels")
    kaslr = cmdline is not None and "nokaslr" not in cmdline.split()
    offset = runtime_stext - int(a.vmlinux_stext, 16)
    if not kaslr and offset != 0:
        fail(f"{serial}: nokaslr but _stext moved by {hexs(offset)}")
    if printed_offset and printed_offset != "disabled" and int(printed_offset, 16) != offset:
        fail(f"{serial}: kernel printed offset {printed_offset}, kallsyms says {hexs(offset)}")
    mods = []
    for name in sorted(sections, key=lambda n: (n != "vmcargs", n)):
        if name == "vmcargs":
            path = dbg = os.path.join(rel_dir, "vmcargs.ko")
        else:
            path = os.path.join(a.modules_dir, name + ".ko")
            dbg = os.path.join(a.debug_modules_dir, name + ".ko")
        mods.append({"name": name, "path": path, "debug_path": dbg,
                     "text": sections[name].get(".text"), "sections": sections[name]})

    dumps = []
    for fn in sorted(os.listdir(a.dir)):
        if fn.startswith("vmcore."):
            dumps.append({"file": fn, "size": os.path.getsize(os.path.join(a.dir, fn))})

    truth = {
        "schema": "vmcore-args-truth/1",
        "set": a.set,
        "scenario": a.scenario,
        "arch": a.arch,
        "paging": a.paging,
        "release": a.release,
        "banner": banner,
        "kaslr": kaslr,
        "kaslr_offset": hexs(offset),
        "vmlinux": a.vmlinux,
        "modules": mods,
        "cpus": cpus_online if cpus_online is not None else a.cpus,
        "panic": {
            "cpu": panic_hdr[0],
            "pid": crashed_pid,
            "comm": info[crashed_pid]["comm"],
            "task": info[crashed_pid]["task"],
            "message": panic_msg,
            "fault_address": hexs(fault_address) if fault_address is not None else None,
            "mode": a.mode,
            "oops": oops_line,
            "panic_called": panic_called,
            "rip": rip,
        },
        "threads": threads,
        "serial_backtrace": backtraces,
        "cmdline": cmdline,
        "objects": objects,
        "layout": layout,
        "dumps": dumps,
    }
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    os.replace(tmp, a.out)
    print(f"truth.py: {a.out}: {len(threads)} threads, panic on CPU {panic_hdr[0]} pid {crashed_pid}, "
          f"KASLR offset {hexs(offset)}")


if __name__ == "__main__":
    main()
