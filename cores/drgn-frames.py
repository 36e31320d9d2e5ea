"""Print every task's stack frames and parameter values, as drgn sees them.

An anchor for differential tests of vmcore-args (cores/README.md); run as

    drgn -c DUMP -s VMLINUX -s vmcargs.ko [-s OTHER.ko ...] cores/drgn-frames.py

Output, one block per task:

    task PID COMM 0xTASK state=S cpu=N
      #I 0xPC FUNCTION [inline] sym=SYMBOL+0xOFF
         param NAME = 0xRAW (TYPE)          raw bits, zero-extended
         param NAME = <absent>              drgn has no value at this pc
         param NAME = {m=0x..,...}          struct members
      error: MESSAGE                        unwinding stopped

Written for drgn 0.0.22 (Debian 12); uses only its public API.
"""
import sys

from drgn import FaultError, ObjectAbsentError, TypeKind
from drgn.helpers.linux.pid import for_each_task

SCALAR = {TypeKind.INT, TypeKind.BOOL, TypeKind.ENUM, TypeKind.POINTER}


def underlying(t):
    while t.kind == TypeKind.TYPEDEF:
        t = t.type
    return t


def render(obj, depth=0):
    t = underlying(obj.type_)
    if t.kind in SCALAR:
        v = obj.value_()
        if isinstance(v, bool):
            v = int(v)
        size = t.type.size if t.kind == TypeKind.ENUM else t.size
        bits = 8 * (size or 8)
        return "0x%x" % (v & ((1 << bits) - 1))
    if t.kind in (TypeKind.STRUCT, TypeKind.UNION) and depth < 2:
        parts = []
        for m in t.members:
            if m.name is None:
                continue
            try:
                parts.append("%s=%s" % (m.name, render(obj.member_(m.name), depth + 1)))
            except (FaultError, ObjectAbsentError, LookupError, ValueError) as e:
                parts.append("%s=<%s>" % (m.name, type(e).__name__))
        return "{" + ",".join(parts) + "}"
    return "<%s>" % t.kind.name.lower()


def param_names(frame):
    """Parameter names of the frame's function, from its DWARF type."""
    name = frame.name
    if name is None:
        return None
    try:
        fn = prog.function(name)  # noqa: F821 (prog is drgn's global)
    except LookupError:
        return None
    t = underlying(fn.type_)
    if t.kind != TypeKind.FUNCTION:
        return None
    return [p.name for p in t.parameters]


def symbol_of(frame):
    try:
        s = frame.symbol()
        return "%s+0x%x" % (s.name, frame.pc - s.address)
    except LookupError:
        return "?"


def show_task(task):
    pid = task.pid.value_()
    comm = task.comm.string_().decode(errors="replace")
    try:
        cpu = task.cpu.value_() if hasattr(task, "cpu") else task.thread_info.cpu.value_()
    except (AttributeError, LookupError, FaultError):
        cpu = -1
    try:
        state = task.__state.value_()
    except (AttributeError, LookupError, FaultError):
        state = -1
    print("task %d %s 0x%x state=0x%x cpu=%d" % (pid, comm, task.value_(), state, cpu))
    try:
        trace = prog.stack_trace(task)  # noqa: F821
    except Exception as e:  # drgn raises several kinds here
        print("  error: %s: %s" % (type(e).__name__, e))
        return
    try:
        show_frames(trace)
    except Exception as e:  # e.g. LookupError "program counter is not known"
        print("  error: %s: %s" % (type(e).__name__, e))


def show_frames(trace):
    for i, frame in enumerate(trace):
        print("  #%d 0x%x %s%s sym=%s" % (i, frame.pc, frame.name or "?",
                                        " [inline]" if frame.is_inline else "",
                                        symbol_of(frame)))
        try:
            names = param_names(frame)
        except Exception as e:
            print("     params: <%s: %s>" % (type(e).__name__, e))
            continue
        if names is None:
            continue
        for n in names:
            if n is None:
                continue
            try:
                obj = frame[n]
                print("     param %s = %s (%s)" % (n, render(obj), obj.type_.type_name()))
            except ObjectAbsentError:
                print("     param %s = <absent>" % n)
            except Exception as e:  # drgn 0.0.22 raises bare Exception for
                # DWARF it cannot evaluate (e.g. DW_OP_entry_value, 0xa3)
                print("     param %s = <%s: %s>" % (n, type(e).__name__, e))


def main():
    try:
        crashed = prog.crashed_thread()  # noqa: F821
        print("crashed_thread tid=%d" % crashed.tid)
    except Exception as e:
        print("crashed_thread error: %s: %s" % (type(e).__name__, e))
    n = 0
    try:
        for task in for_each_task(prog):  # noqa: F821
            show_task(task)
            n += 1
    except Exception as e:
        print("error: listing tasks: %s: %s" % (type(e).__name__, e))
        print("tasks %d" % n)
        sys.exit(1)
    print("tasks %d" % n)
    if n == 0:
        sys.exit(2)


main()
sys.stdout.flush()
