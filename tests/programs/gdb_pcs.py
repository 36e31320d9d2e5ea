# gdb helper for make-cores.sh: writes one line per thread, "TID PC PC …",
# with the PC of every real (not inlined, not tail-call) frame as gdb's own
# unwinder sees it: frame 0's exact pc, then return addresses.
import gdb


def vmc_dump_pcs(path):
    with open(path, "w") as out:
        inferior = gdb.selected_inferior()
        for thread in sorted(inferior.threads(), key=lambda t: t.ptid[1]):
            thread.switch()
            pcs = []
            frame = gdb.newest_frame()
            while frame is not None and len(pcs) < 512:
                if frame.type() in (gdb.NORMAL_FRAME, gdb.SIGTRAMP_FRAME):
                    pcs.append(frame.pc())
                try:
                    frame = frame.older()
                except gdb.error:
                    break
            out.write("%d %s\n" % (thread.ptid[1], " ".join("%#x" % p for p in pcs)))
