# gdb helper for make-corpus.sh: gdb's own view of every frame's arguments,
# as the comparison for vmcore-args on the same core.
#
#   (gdb) source gdb_args.py
#   (gdb) python vmc_args_dump("gdb.json", "gdb-bt.txt")
#
# gdb.json: {"tool": "gdb", "version", "threads": [{"pid": LWP, "frames":
# [{"index", "pc", "function", "inlined", "args": [{"name", "type",
# "known": true, "value": "0x…" (raw bits, zero-extended; an aggregate's
# bytes as one little-endian number), "display"} | {"name", "type",
# "known": false, "reason"}]}]}]}, innermost frame first, inlined frames
# included (gdb.INLINE_FRAME).  gdb-bt.txt: `thread apply all bt full`.
import json
import struct

import gdb


class Unknown(Exception):
    pass


def _raw(val, depth=0):
    """Raw bits of a gdb.Value as a Python int (little-endian composition)."""
    if depth > 8:
        raise Unknown("nested too deep")
    if val.is_optimized_out:
        raise Unknown("<optimized out>")
    t = val.type.strip_typedefs()
    size = t.sizeof
    code = t.code
    if code in (gdb.TYPE_CODE_INT, gdb.TYPE_CODE_BOOL, gdb.TYPE_CODE_CHAR, gdb.TYPE_CODE_ENUM,
                gdb.TYPE_CODE_PTR, gdb.TYPE_CODE_FUNC):
        return int(val) & ((1 << (8 * size)) - 1)
    if code == gdb.TYPE_CODE_FLT:
        if size == 4:
            return struct.unpack("<I", struct.pack("<f", float(val)))[0]
        if size == 8:
            return struct.unpack("<Q", struct.pack("<d", float(val)))[0]
        raise Unknown("floating type of size %d" % size)
    if code == gdb.TYPE_CODE_ARRAY:
        lo, hi = t.range()
        el = t.target().strip_typedefs().sizeof
        out = 0
        for i in range(lo, hi + 1):
            out |= _raw(val[i], depth + 1) << (8 * el * (i - lo))
        return out
    if code == gdb.TYPE_CODE_STRUCT:
        out = 0
        for f in t.fields():
            v = _raw(val[f], depth + 1)
            if f.bitsize:
                v &= (1 << f.bitsize) - 1
            out |= v << f.bitpos
        return out & ((1 << (8 * size)) - 1)
    if code == gdb.TYPE_CODE_UNION:
        # The member covering the whole union defines every bit.
        for f in t.fields():
            if f.type.strip_typedefs().sizeof == size and not f.bitsize:
                return _raw(val[f], depth + 1)
        raise Unknown("union without a member of its full size")
    raise Unknown("type code %d not handled" % code)


def _arg(sym, frame):
    d = {"name": sym.print_name, "type": str(sym.type)}
    try:
        val = sym.value(frame)
        if val.is_lazy:
            val.fetch_lazy()
        d["value"] = "%#x" % _raw(val)
        d["known"] = True
        try:
            d["display"] = str(val)
        except gdb.error as e:
            d["display"] = "<%s>" % e
    except Unknown as e:
        d["known"] = False
        d["reason"] = str(e)
    except (gdb.error, gdb.MemoryError, ValueError, OverflowError) as e:
        d["known"] = False
        d["reason"] = "<%s>" % e
    return d


def _frame_args(frame):
    try:
        block = frame.block()
    except RuntimeError:
        return None
    while block is not None and block.function is None:
        block = block.superblock
    if block is None:
        return None
    return [_arg(sym, frame) for sym in block if sym.is_argument]


def vmc_args_dump(path, bt_path=None):
    out = {"tool": "gdb", "version": gdb.VERSION, "threads": []}
    inferior = gdb.selected_inferior()
    for thread in sorted(inferior.threads(), key=lambda t: t.ptid[1]):
        thread.switch()
        frames = []
        frame = gdb.newest_frame()
        index = 0
        while frame is not None and index < 256:
            f = {"index": index, "pc": "%#x" % frame.pc(), "function": frame.name(),
                 "inlined": frame.type() == gdb.INLINE_FRAME}
            args = _frame_args(frame)
            f["args"] = args if args is not None else []
            if args is None:
                f["no_debug_info"] = True
            frames.append(f)
            index += 1
            try:
                frame = frame.older()
            except gdb.error:
                break
        out["threads"].append({"pid": thread.ptid[1], "frames": frames})
    with open(path, "w") as fh:
        json.dump(out, fh, indent=1)
    if bt_path:
        with open(bt_path, "w") as fh:
            fh.write(gdb.execute("thread apply all bt full", to_string=True))
