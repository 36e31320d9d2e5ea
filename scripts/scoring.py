"""Shared scoring of argument values against ground truth.

Used by scripts/score.py (kernel dumps) and scripts/score_user.py
(user-space process cores).  Every ground-truth thread, frame (innermost
first) and argument is compared with a tool's output, normalised to
{pid: [frames, innermost first]}, each frame {function, symbol,
args: {name: {value, source}}} with value None when the tool showed none:

  correct  the value equals the truth;
  WRONG    a value was shown and differs (the worst bug this tool can have);
  unknown  no value, with a reason (always acceptable);
  missing  the frame itself was not found in the trace.
"""


def norm_hex(v):
    if v is None:
        return None
    if isinstance(v, int):
        return v
    v = v.strip()
    try:
        return int(v, 16) if v.lower().startswith("0x") else int(v)
    except ValueError:
        return None


def base_name(sym):
    return sym.split(".")[0] if sym else sym


def match_frames(truth_frames, frames, key):
    """Maps truth frames, in order, to our frames (physical, in order)."""
    out = []
    pos = 0
    for tf in truth_frames:
        want = {tf["function"], tf.get("symbol") or tf["function"]}
        found = None
        for i in range(pos, len(frames)):
            f = frames[i]
            names = {key(f, "function"), key(f, "symbol"), base_name(key(f, "symbol"))}
            if want & names:
                found = i
                break
        out.append(found)
        if found is not None:
            pos = found + 1
    return out


class Tally:
    def __init__(self):
        self.correct = self.wrong = self.unknown = self.missing_frames = self.frames = self.args = 0
        self.wrong_list = []
        self.missing_list = []

    def add(self, other):
        for k in ("correct", "wrong", "unknown", "missing_frames", "frames", "args"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.wrong_list += other.wrong_list
        self.missing_list += other.missing_list

    def line(self):
        known = self.correct + self.wrong
        recall = 100.0 * self.correct / self.args if self.args else 0.0
        return ("args %4d: correct %4d, WRONG %d, unknown %4d (recall %5.1f%%); frames %d, missing %d"
                % (self.args, self.correct, self.wrong, self.unknown, recall, self.frames, self.missing_frames))


def score_threads(truth, threads_by_pid, label):
    """threads_by_pid: pid -> list of frames, each frame a dict with
    function, symbol, args: {name: value-or-None, reason}."""
    t = Tally()
    for th in truth.get("threads", []):
        frames = threads_by_pid.get(th["pid"])
        t.frames += len(th["frames"])
        if frames is None:
            t.missing_frames += len(th["frames"])
            t.args += sum(len(f["args"]) for f in th["frames"])
            t.unknown += sum(len(f["args"]) for f in th["frames"])
            t.missing_list.append("%s: pid %d (%s) not in the output" % (label, th["pid"], th["comm"]))
            continue
        m = match_frames(th["frames"], frames, lambda f, k: f.get(k))
        for tf, idx in zip(th["frames"], m):
            t.args += len(tf["args"])
            if idx is None:
                t.missing_frames += 1
                t.unknown += len(tf["args"])
                t.missing_list.append("%s: pid %d frame %s missing" % (label, th["pid"], tf["function"]))
                continue
            ours = frames[idx]["args"]
            for a in tf["args"]:
                got = ours.get(a["name"])
                if got is None or got.get("value") is None:
                    t.unknown += 1
                    continue
                want = norm_hex(a["value"])
                have = norm_hex(got["value"])
                if want == have:
                    t.correct += 1
                else:
                    t.wrong += 1
                    t.wrong_list.append("%s: pid %d %s(%s): shown %s, truth %s; source: %s" % (
                        label, th["pid"], tf["function"], a["name"], got["value"], a["value"],
                        got.get("source", "?")))
    return t


def ours_threads(doc, inlined=False):
    """vmcore-args --json output -> {pid: frames}.  Inlined frames are left
    out unless `inlined`; then they are kept with no symbol, so that they
    match ground-truth frames by their own function name only (an inlined
    frame's symbol is the physical function it was inlined into)."""
    out = {}
    for th in doc.get("threads", []):
        frames = []
        for f in th.get("frames", []):
            if f.get("user_mode"):
                continue
            if f.get("inlined") and not inlined:
                continue
            args = {}
            for a in f.get("args", []):
                args[a["name"]] = {"value": a.get("value") if a.get("known") else None,
                                   "source": a.get("source", a.get("reason"))}
            frames.append({"function": f.get("function"), "symbol": None if f.get("inlined") else f.get("symbol"),
                           "args": args})
        if th.get("pid") is not None and not th.get("idle"):
            out[th["pid"]] = frames
    return out
