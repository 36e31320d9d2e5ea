#!/usr/bin/env python3
"""Boot one test guest under QEMU (TCG), wait for its crash and collect dumps.

Used by cores/make-cores.sh; python3 standard library only.

Two kinds of run:

  --dumps elf,paging,zlib   wait until the serial log shows the end of the
                            kernel panic, stop the VM and write QEMU
                            dump-guest-memory files through the HMP monitor:
                            vmcore.qemu.elf, vmcore.qemu-paging.elf,
                            vmcore.qemu-zlib.flat
  --kdump-disk FILE         the guest loads a kdump capture kernel; after the
                            crash the capture kernel copies /proc/vmcore to
                            this virtio disk and powers off; the dump is then
                            extracted to vmcore.kdump.elf

Every run is bounded by --timeout; on timeout or failure QEMU is killed and
the tail of the serial log is printed.  Exit status 0 only if every requested
dump file exists and is larger than --min-size bytes.
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import time

PANIC_END = "---[ end Kernel panic"
CAPTURE_DONE = "vmcargs-init: capture: done"
FAIL_MARK = "vmcargs-init: FAIL"

DUMP_FILES = {
    "elf": ("vmcore.qemu.elf", ""),
    "paging": ("vmcore.qemu-paging.elf", "-p "),
    "zlib": ("vmcore.qemu-zlib.flat", "-z "),
}


def die(msg, serial=None):
    print(f"qemu-run: ERROR: {msg}", file=sys.stderr)
    if serial and os.path.exists(serial):
        with open(serial, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        print(f"qemu-run: last lines of {serial}:", file=sys.stderr)
        for line in lines[-40:]:
            print("  | " + line, file=sys.stderr)
    sys.exit(1)


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


class Monitor:
    """Minimal HMP client over a unix socket."""

    def __init__(self, path, timeout):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        self.sock.settimeout(timeout)
        self._read_prompt()

    def _read_prompt(self):
        buf = b""
        while not buf.endswith(b"(qemu) "):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("monitor closed")
            buf += chunk
        return buf.decode("utf-8", "replace")

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\n")
        out = self._read_prompt()
        # HMP echoes the command (with terminal escapes); keep the reply only.
        text = out.replace("\r", "")
        lines = [l for l in text.split("\n") if l and not l.endswith("(qemu) ")]
        return "\n".join(l for l in lines if line not in l)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--append", required=True)
    ap.add_argument("--mem", default="512M")
    ap.add_argument("--smp", default="2")
    ap.add_argument("--cpu", default=None)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--dumps", default="", help="comma list of elf,paging,zlib")
    ap.add_argument("--kdump-disk", default=None)
    ap.add_argument("--disk-size", type=int, default=0)
    ap.add_argument("--min-size", type=int, default=1 << 20)
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    serial = os.path.join(a.out, "serial.log")
    qlog = os.path.join(a.out, "qemu.log")
    mon_path = os.path.join(a.out, ".monitor.sock")
    for p in (serial, mon_path):
        if os.path.exists(p):
            os.unlink(p)
    dumps = [d for d in a.dumps.split(",") if d]
    for d in dumps:
        if d not in DUMP_FILES:
            die(f"unknown dump kind {d!r}")
    if not dumps and not a.kdump_disk:
        die("nothing to collect: give --dumps or --kdump-disk")

    cmd = [a.qemu, "-machine", "pc", "-m", a.mem, "-smp", a.smp,
           "-display", "none", "-vga", "none", "-net", "none", "-no-reboot",
           "-kernel", a.kernel, "-initrd", a.initrd, "-append", a.append,
           "-serial", f"file:{serial}",
           "-monitor", f"unix:{mon_path},server,nowait",
           "-device", "vmcoreinfo"]
    if a.cpu:
        cmd += ["-cpu", a.cpu]
    if a.kdump_disk:
        with open(a.kdump_disk, "wb") as f:
            f.truncate(a.disk_size)
        cmd += ["-drive", f"file={a.kdump_disk},format=raw,if=virtio"]

    print("qemu-run: " + " ".join(cmd), flush=True)
    t0 = time.time()
    with open(qlog, "wb") as ql:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=ql,
                                stderr=subprocess.STDOUT)
    mon = None
    try:
        want = CAPTURE_DONE if a.kdump_disk else PANIC_END
        while True:
            text = read_text(serial)
            if FAIL_MARK in text:
                line = text[text.index(FAIL_MARK):].split("\n")[0]
                die(f"guest reported failure: {line.strip()}", serial)
            if want in text:
                break
            if a.kdump_disk:
                # the capture kernel announces itself with a second banner
                parts = text.split("] Linux version ")
                if len(parts) > 2 and "---[ end Kernel panic" in parts[2]:
                    die("the capture kernel panicked", serial)
            if proc.poll() is not None:
                die(f"QEMU exited ({proc.returncode}) before '{want}' "
                    f"appeared; see {qlog}: {read_text(qlog).strip()[-500:]}", serial)
            if time.time() - t0 > a.timeout:
                die(f"timeout after {a.timeout:.0f} s waiting for '{want}'", serial)
            time.sleep(0.5)
        t_crash = time.time() - t0
        print(f"qemu-run: '{want}' after {t_crash:.1f} s", flush=True)

        if dumps:
            mon = Monitor(mon_path, 60)
            mon.cmd("stop")
            for d in dumps:
                name, flag = DUMP_FILES[d]
                path = os.path.abspath(os.path.join(a.out, name))
                if os.path.exists(path):
                    os.unlink(path)
                t1 = time.time()
                reply = mon.cmd(f"dump-guest-memory {flag}{path}")
                if reply.strip():
                    print(f"qemu-run: monitor: {reply.strip()}", flush=True)
                print(f"qemu-run: {name} written in {time.time() - t1:.1f} s", flush=True)
            try:
                mon.sock.sendall(b"quit\n")
                mon.sock.settimeout(10)
                while mon.sock.recv(4096):
                    pass
            except OSError:
                pass
            mon.close()
            mon = None
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # The dumps are complete (dump-guest-memory is synchronous).
            print("qemu-run: QEMU did not exit after quit/poweroff; terminating it", flush=True)
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    finally:
        if mon:
            mon.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if os.path.exists(mon_path):
            os.unlink(mon_path)

    produced = [DUMP_FILES[d][0] for d in dumps]
    if a.kdump_disk:
        out = os.path.join(a.out, "vmcore.kdump.elf")
        with open(a.kdump_disk, "rb") as f:
            header = f.read(512).split(b"\0")[0].decode("ascii", "replace").strip()
            if not header.startswith("VMCARGS-KDUMP size="):
                die(f"{a.kdump_disk}: no VMCARGS-KDUMP header (got {header[:60]!r})", serial)
            size = int(header.split("=", 1)[1])
            f.seek(1 << 20)
            with open(out + ".tmp", "wb") as o:
                left = size
                while left:
                    chunk = f.read(min(left, 8 << 20))
                    if not chunk:
                        die(f"{a.kdump_disk}: truncated, {left} of {size} bytes missing")
                    o.write(chunk)
                    left -= len(chunk)
        os.replace(out + ".tmp", out)
        os.unlink(a.kdump_disk)
        produced.append("vmcore.kdump.elf")

    for name in produced:
        p = os.path.join(a.out, name)
        if os.path.exists(p):
            os.chmod(p, 0o644)   # QEMU creates dumps 0400
        if not os.path.exists(p):
            die(f"expected dump {p} was not written", serial)
        if os.path.getsize(p) < a.min_size:
            die(f"dump {p} is only {os.path.getsize(p)} bytes", serial)
        print(f"qemu-run: {name} {os.path.getsize(p)} bytes", flush=True)
    print(f"qemu-run: done in {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
