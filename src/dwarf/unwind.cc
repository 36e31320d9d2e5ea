#include "dwarf/unwind.h"

#include <algorithm>
#include <set>
#include <utility>

#include "arch/frames_x86.h"
#include "dwarf/cfi.h"
#include "dwarf/orc.h"

namespace vmc {

const char* unwound_by_name(UnwoundBy u) {
  switch (u) {
    case UnwoundBy::kRegs: return "regs";
    case UnwoundBy::kCfi: return "cfi";
    case UnwoundBy::kOrc: return "orc";
    case UnwoundBy::kFramePointer: return "fp";
    case UnwoundBy::kException: return "exception";
  }
  return "?";
}

void CodeImageList::add(const CodeImage* img) {
  images_.push_back(img);
  for (auto [s, e] : img->text)
    if (e > s) ranges_.push_back({s, e, img});
  std::sort(ranges_.begin(), ranges_.end(), [](const Range& a, const Range& b) { return a.start < b.start; });
}

const CodeImage* CodeImageList::find(uint64_t pc) const {
  // Ranges of different images do not overlap in a sane address space;
  // when they do, the one starting last below pc wins, then earlier ones
  // are checked (bounded by the number of ranges).
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), pc, [](uint64_t a, const Range& r) { return a < r.start; });
  while (it != ranges_.begin()) {
    --it;
    if (pc < it->end) return it->img;
  }
  return nullptr;
}

namespace {

// The result of trying one strategy on one frame.
struct Step {
  enum class Kind : uint8_t {
    kNext,    // `next` is the caller
    kEnd,     // the stack ends here (outermost frame)
    kStop,    // an error ends the walk: `reason`
    kNoInfo,  // this strategy cannot unwind this frame: `reason`
  };
  Kind kind = Kind::kNoInfo;
  Frame next;
  std::string reason;
  std::optional<uint64_t> cfa;  // the current frame's CFA, when computed
  bool switches_stack = false;  // next.sp may lie anywhere (exception, signal, indirect)
};

Step no_info(std::string why) {
  Step s;
  s.kind = Step::Kind::kNoInfo;
  s.reason = std::move(why);
  return s;
}
Step stop(std::string why, std::optional<uint64_t> cfa = std::nullopt) {
  Step s;
  s.kind = Step::Kind::kStop;
  s.reason = std::move(why);
  s.cfa = cfa;
  return s;
}
Step end(std::optional<uint64_t> cfa = std::nullopt) {
  Step s;
  s.kind = Step::Kind::kEnd;
  s.cfa = cfa;
  return s;
}

// Registers that elfutils' psABI table (backends/x86_64_cfi.c, at least up
// to 0.188) fails to mark same-value although the psABI preserves them: it
// lists register 0 (rax) where rbx (3) was meant. libdw then reports rbx as
// "undefined" for every FDE that does not save it.
bool libdw_omits_callee_saved(Machine m, unsigned regno) { return m == Machine::kX86_64 && regno == x86_64::kRbx; }

class Walker {
 public:
  Walker(Machine m, VirtualMemory& mem, const CodeMap& code, const UnwindOptions& o)
      : m_(m), mem_(mem), code_(code), o_(o), ri_(register_info(m)), ws_(x86::word_size(m)) {}

  UnwindResult run(const Frame& initial);

 private:
  bool callee_saved(unsigned r) const {
    return std::find(ri_.callee_saved.begin(), ri_.callee_saved.end(), uint8_t(r)) != ri_.callee_saved.end();
  }
  uint64_t mask(uint64_t v) const { return x86::mask_word(m_, v); }
  std::string rname(unsigned r) const {
    std::string_view n = register_name(m_, r);
    return n == "?" ? fmt::format("DWARF register {}", r) : std::string(n);
  }

  Frame new_caller(const Frame& cur, UnwoundBy how) const {
    Frame n;
    n.index = cur.index + 1;
    n.how = how;
    n.regs = RegisterSet(m_);
    return n;
  }
  void set(Frame& f, unsigned r, uint64_t v, RegLoc loc) const {
    f.regs.set(r, mask(v));
    if (r < f.loc.size()) f.loc[r] = loc;
  }
  void inherit(Frame& n, const Frame& cur, unsigned r) const {
    if (auto v = cur.regs.get(r)) set(n, r, *v, cur.loc[r]);
  }
  static RegLoc saved(const Frame& cur, uint64_t addr, uint64_t cfa) {
    RegLoc l;
    l.kind = RegLoc::Kind::kSaved;
    l.frame = int(cur.index);
    l.addr = addr;
    l.cfa_offset = int64_t(addr - cfa);
    return l;
  }
  static RegLoc computed(const Frame& cur) {
    RegLoc l;
    l.kind = RegLoc::Kind::kComputed;
    l.frame = int(cur.index);
    return l;
  }
  void finish_pc_sp(Frame& n, uint64_t pc, uint64_t sp) const {
    n.pc = mask(pc);
    n.sp = mask(sp);
  }

  Step step(const Frame& cur);
  Step try_cfi(const Frame& cur, const CodeImage& img, uint64_t lookup);
  Step cfi_from_row(const Frame& cur, const CfiRow& row);
  Result<uint64_t> orc_cfa(const Frame& cur, const OrcEntry& e);
  Step try_orc(const Frame& cur, const OrcEntry& e);
  Step try_fp(const Frame& cur, const CodeImage& img);
  // A frame stopped at the first instruction of a call through a bad
  // function pointer (NULL, or any address with no code: the instruction
  // fetch faulted), before executing anything.
  bool null_call(const Frame& f) {
    if (!f.pc_exact || f.user_mode) return false;
    if (f.pc == 0) return true;
    if (code_.find(f.pc)) return false;
    uint8_t b;
    if (mem_.read_virt(f.pc, std::span(&b, 1)).ok()) return false;  // there are bytes: not a fetch fault
    // For a pc other than 0 the word at sp must really be a return address:
    // in known code, right after a call instruction.
    if (!f.regs.has(ri_.sp)) return false;
    auto ra = x86::read_word(m_, mem_, mask(*f.regs.get(ri_.sp)), "return address");
    return ra && code_.find(*ra) && follows_call(*ra);
  }
  Step null_call_step(const Frame& cur);
  // True if the bytes just before `ret` are a call instruction (E8 rel32,
  // or FF /2 in its register and memory forms, with an optional REX).
  bool follows_call(uint64_t ret);
  Step from_pt_regs(const Frame& cur, uint64_t addr, UnwoundBy how);
  Frame frame_from_regs(const Frame& cur, UnwoundBy how, const x86::PtRegs& pt, uint64_t addr);
  // Checks and appends `n`; false when the walk must stop (reason set).
  bool accept(Frame n, bool switches_stack);
  // The stack holding sp. An sp at a stack's very top (hi) is that stack,
  // empty: e.g. the i386 kernel's call_on_stack() returns with sp at the
  // top of the IRQ stack before it restores the task's sp.
  std::optional<size_t> range_of(uint64_t sp) const {
    for (size_t i = 0; i < o_.stacks.size(); ++i)
      if (sp >= o_.stacks[i].lo && sp < o_.stacks[i].hi) return i;
    for (size_t i = 0; i < o_.stacks.size(); ++i)
      if (sp == o_.stacks[i].hi) return i;
    return std::nullopt;
  }

  Machine m_;
  VirtualMemory& mem_;
  const CodeMap& code_;
  const UnwindOptions& o_;
  const RegisterInfo& ri_;
  unsigned ws_;
  UnwindResult res_;
  std::vector<bool> visited_;
  std::optional<size_t> cur_range_;
  std::set<std::pair<uint64_t, uint64_t>> seen_;
};

UnwindResult Walker::run(const Frame& initial) {
  Frame f0 = initial;
  f0.index = 0;
  if (f0.regs.machine() != m_) {
    RegisterSet rs(m_);
    for (unsigned r = 0; r < RegisterSet::kMax; ++r)
      if (auto v = f0.regs.get(r)) rs.set(r, *v);
    f0.regs = rs;
  }
  if (f0.pc == 0 && f0.regs.has(ri_.pc)) f0.pc = *f0.regs.get(ri_.pc);
  if (f0.sp == 0 && f0.regs.has(ri_.sp)) f0.sp = *f0.regs.get(ri_.sp);
  if (!f0.regs.has(ri_.pc)) f0.regs.set(ri_.pc, f0.pc);
  if (!f0.regs.has(ri_.sp)) f0.regs.set(ri_.sp, f0.sp);
  f0.image = code_.find(f0.pc);
  visited_.assign(o_.stacks.size(), false);
  cur_range_ = range_of(f0.sp);
  if (cur_range_) visited_[*cur_range_] = true;
  seen_.insert({f0.pc, f0.sp});
  res_.frames.push_back(std::move(f0));
  if (res_.frames[0].user_mode) {
    res_.complete = true;
    return std::move(res_);
  }
  if (!res_.frames[0].image && !null_call(res_.frames[0])) {
    res_.stop_reason = fmt::format("pc {:#x} is in no known code", res_.frames[0].pc);
    return std::move(res_);
  }
  if (o_.max_frames <= 1) {
    res_.stop_reason = fmt::format("stopped at the limit of {} frames", o_.max_frames);
    return std::move(res_);
  }

  for (;;) {
    Frame& cur = res_.frames.back();
    Step s = step(cur);
    if (s.cfa && !cur.cfa) cur.cfa = mask(*s.cfa);
    if (s.kind == Step::Kind::kEnd) {
      res_.complete = true;
      break;
    }
    if (s.kind != Step::Kind::kNext) {
      res_.stop_reason = fmt::format("frame #{} ({:#x}): {}", cur.index, cur.pc, s.reason);
      break;
    }
    if (!accept(std::move(s.next), s.switches_stack)) break;
    const Frame& last = res_.frames.back();
    if (last.user_mode) {
      res_.complete = true;
      break;
    }
    if (!last.image && !null_call(last)) {
      res_.stop_reason = fmt::format("pc {:#x} is in no known code", last.pc);
      break;
    }
    if (res_.frames.size() >= o_.max_frames) {
      // Still compute the last frame's CFA when the next step would have.
      Frame& tail = res_.frames.back();
      Step t = step(tail);
      if (t.cfa && !tail.cfa) tail.cfa = mask(*t.cfa);
      res_.stop_reason = fmt::format("stopped at the limit of {} frames", o_.max_frames);
      break;
    }
  }
  return std::move(res_);
}

bool Walker::accept(Frame n, bool switches_stack) {
  const Frame& cur = res_.frames.back();
  if (!n.user_mode) n.image = code_.find(n.pc);
  if (!n.user_mode && !o_.stacks.empty()) {
    auto r = range_of(n.sp);
    if (!r) {
      res_.stop_reason = fmt::format("frame #{}: sp {:#x} (pc {:#x}) lies outside the thread's stacks", n.index, n.sp, n.pc);
      return false;
    }
    if (cur_range_ && *r == *cur_range_) {
      if (n.sp <= cur.sp) {
        res_.stop_reason = fmt::format("frame #{}: sp {:#x} does not lie above the previous frame's sp {:#x} on the {} stack",
                                       n.index, n.sp, cur.sp, o_.stacks[*r].name);
        return false;
      }
    } else {
      if (visited_[*r]) {
        res_.stop_reason = fmt::format("frame #{}: sp {:#x} returns to the {} stack, which the walk already left",
                                       n.index, n.sp, o_.stacks[*r].name);
        return false;
      }
      visited_[*r] = true;
      cur_range_ = r;
    }
  } else if (!n.user_mode) {
    if (!switches_stack && n.sp <= cur.sp) {
      res_.stop_reason =
          fmt::format("frame #{}: sp {:#x} does not lie above the previous frame's sp {:#x}", n.index, n.sp, cur.sp);
      return false;
    }
  }
  if (!seen_.insert({n.pc, n.sp}).second) {
    res_.stop_reason = fmt::format("frame #{}: pc {:#x} sp {:#x} repeats an earlier frame (unwinding loop)", n.index, n.pc, n.sp);
    return false;
  }
  res_.frames.push_back(std::move(n));
  return true;
}

Step Walker::step(const Frame& cur) {
  const CodeImage* img = cur.image;
  if (!img && null_call(cur)) return null_call_step(cur);
  if (!img) return stop(fmt::format("pc {:#x} is in no known code", cur.pc));
  uint64_t lookup = cur.pc_exact ? cur.pc : mask(cur.pc - 1);

  if (img->kernel && o_.task_pt_regs && cur.index > 0 && cur.sp == mask(*o_.task_pt_regs)) {
    Step s = from_pt_regs(cur, cur.sp, UnwoundBy::kException);
    if (s.kind == Step::Kind::kNext && !s.next.user_mode) return end();  // a kernel thread's initial regs
    if (s.kind == Step::Kind::kStop) s.reason = fmt::format("the thread's entry pt_regs: {}", s.reason);
    return s;
  }

  std::vector<std::string> why;
  Step cfi = try_cfi(cur, *img, lookup);
  const OrcEntry* oe = (img->orc && m_ == Machine::kX86_64) ? orc::lookup(*img->orc, lookup - uint64_t(img->orc_bias)) : nullptr;

  if (cfi.kind != Step::Kind::kNoInfo && oe) {
    // Cross-check: where ORC computes a different CFA (GCC's CFI of kernels
    // is exact only at call sites; inline-asm stack switches such as
    // call_on_irqstack make even those wrong), or CFI could not finish,
    // ORC's answer is used and CFI's register rules are not.
    auto ocfa = orc_cfa(cur, *oe);
    bool differs = ocfa && cfi.cfa && mask(*ocfa) != mask(*cfi.cfa);
    if (differs || (ocfa && cfi.kind == Step::Kind::kStop)) {
      Step o = try_orc(cur, *oe);
      if (o.kind == Step::Kind::kNext || o.kind == Step::Kind::kEnd) {
        if (o.kind == Step::Kind::kNext) {
          if (differs)
            o.next.notes.push_back(fmt::format(
                "frame #{}: CFI gives CFA {:#x} but ORC ({}) gives {:#x}; ORC used, CFI register rules ignored",
                cur.index, mask(*cfi.cfa), orc::describe(*oe), mask(*ocfa)));
          else
            o.next.notes.push_back(fmt::format("frame #{}: CFI failed ({}); ORC ({}) used", cur.index, cfi.reason,
                                               orc::describe(*oe)));
        }
        return o;
      }
    }
  }
  if (cfi.kind == Step::Kind::kNext || cfi.kind == Step::Kind::kEnd) return cfi;
  if (cfi.kind == Step::Kind::kStop) return cfi;
  why.push_back(cfi.reason);

  if (oe) {
    Step o = try_orc(cur, *oe);
    if (o.kind != Step::Kind::kNoInfo) return o;
    why.push_back(o.reason);
  } else if (img->orc && m_ == Machine::kX86_64) {
    why.push_back(fmt::format("ORC: no entry for {:#x}", lookup));
  }

  Step f = try_fp(cur, *img);
  if (f.kind != Step::Kind::kNoInfo) return f;
  why.push_back(f.reason);

  std::string all;
  for (const auto& w : why) all += (all.empty() ? "" : "; ") + w;
  return stop(fmt::format("cannot unwind: {}", all));
}

// ---- DWARF CFI ------------------------------------------------------------

Step Walker::try_cfi(const Frame& cur, const CodeImage& img, uint64_t lookup) {
  Dwarf_CFI* tables[2] = {img.debug_frame, img.eh_frame};
  const char* names[2] = {".debug_frame", ".eh_frame"};
  std::string why;
  CfiContext ctx;
  ctx.machine = m_;
  ctx.regs = &cur.regs;
  ctx.mem = &mem_;
  ctx.bias = img.bias;
  for (int i = 0; i < 2; ++i) {
    if (!tables[i]) continue;
    auto row = cfi_row(tables[i], mask(lookup - uint64_t(img.bias)), ctx);
    if (!row) {
      if (is_memory_error(row.error().code()))
        return stop(fmt::format("CFI ({}): {}", names[i], row.error().message()));
      why += fmt::format("{}CFI ({}): {}", why.empty() ? "" : "; ", names[i], row.error().message());
      continue;
    }
    Step s = cfi_from_row(cur, *row);
    if (s.kind == Step::Kind::kNoInfo) {
      why += fmt::format("{}CFI ({}): {}", why.empty() ? "" : "; ", names[i], s.reason);
      continue;
    }
    return s;
  }
  return no_info(why.empty() ? "no CFI for this code" : why);
}

Step Walker::cfi_from_row(const Frame& cur, const CfiRow& row) {
  uint64_t cfa = mask(row.cfa);
  Frame n = new_caller(cur, UnwoundBy::kCfi);

  // The return address gives the caller's pc.
  if (row.ra_column >= RegisterSet::kMax) return no_info(fmt::format("return-address column {} out of range", row.ra_column));
  const CfiRule& ra = row.rules[row.ra_column];
  uint64_t pc = 0;
  RegLoc pc_loc;
  switch (ra.kind) {
    case CfiRule::Kind::kUndefined:
      return end(cfa);  // outermost frame (_start, thread entry: .cfi_undefined rip)
    case CfiRule::Kind::kSavedAt: {
      auto v = x86::read_word(m_, mem_, ra.v, "return address");
      if (!v) {
        Step s = stop(v.error().message(), cfa);
        return s;
      }
      pc = *v;
      pc_loc = saved(cur, ra.v, cfa);
      break;
    }
    case CfiRule::Kind::kValue:
      pc = ra.v;
      pc_loc = computed(cur);
      break;
    case CfiRule::Kind::kRegister:
      if (!cur.regs.has(unsigned(ra.v)))
        return no_info(fmt::format("return address is in {}, which is not known", rname(unsigned(ra.v))));
      pc = *cur.regs.get(unsigned(ra.v));
      pc_loc = cur.loc[ra.v];
      break;
    case CfiRule::Kind::kSameValue:
      return no_info("the return-address column is marked same-value");
    case CfiRule::Kind::kError: {
      Step s = no_info(fmt::format("return address: {}", ra.error));
      s.cfa = cfa;
      return s;
    }
  }
  pc = mask(pc);
  if (pc == 0) return end(cfa);

  for (unsigned r = 0; r < RegisterSet::kMax; ++r) {
    if (r == row.ra_column || r == ri_.sp) continue;
    const CfiRule& rule = row.rules[r];
    switch (rule.kind) {
      case CfiRule::Kind::kUndefined:
        // libdw reports "no rule" like "undefined"; where its default table
        // is known to be wrong, apply the psABI (callee-saved -> same value).
        if (callee_saved(r) && libdw_omits_callee_saved(m_, r)) inherit(n, cur, r);
        break;
      case CfiRule::Kind::kSameValue:
        // Trusted for callee-saved registers only: libdw's default table
        // marks caller-saved rax same-value on x86-64.
        if (callee_saved(r)) inherit(n, cur, r);
        break;
      case CfiRule::Kind::kSavedAt: {
        auto v = x86::read_word(m_, mem_, rule.v, "saved register");
        if (v)
          set(n, r, *v, saved(cur, rule.v, cfa));
        else
          n.notes.push_back(fmt::format("{}: {}", rname(r), v.error().message()));
        break;
      }
      case CfiRule::Kind::kValue:
        set(n, r, rule.v, computed(cur));
        break;
      case CfiRule::Kind::kRegister:
        if (rule.v < RegisterSet::kMax && cur.regs.has(unsigned(rule.v)))
          set(n, r, *cur.regs.get(unsigned(rule.v)), cur.loc[rule.v]);
        break;
      case CfiRule::Kind::kError:
        n.notes.push_back(fmt::format("{}: {}", rname(r), rule.error));
        break;
    }
  }

  // The caller's sp is the CFA unless the CFI says otherwise (signal
  // frames restore it from the saved context).
  uint64_t sp = cfa;
  RegLoc sp_loc = computed(cur);
  const CfiRule& spr = row.rules[ri_.sp];
  if (spr.kind == CfiRule::Kind::kSavedAt) {
    auto v = x86::read_word(m_, mem_, spr.v, "saved stack pointer");
    if (!v) return stop(v.error().message(), cfa);
    sp = *v;
    sp_loc = saved(cur, spr.v, cfa);
  } else if (spr.kind == CfiRule::Kind::kValue) {
    sp = spr.v;
  } else if (spr.kind == CfiRule::Kind::kRegister && cur.regs.has(unsigned(spr.v))) {
    sp = *cur.regs.get(unsigned(spr.v));
    sp_loc = cur.loc[spr.v];
  }
  set(n, ri_.sp, sp, sp_loc);
  set(n, ri_.pc, pc, pc_loc);
  finish_pc_sp(n, pc, sp);
  n.pc_exact = row.signal_frame;

  Step s;
  s.kind = Step::Kind::kNext;
  s.cfa = cfa;
  // A CFA computed by an expression (a stack switch) or a signal frame may
  // move anywhere; "register + offset" CFAs must move up the stack.
  s.switches_stack = row.signal_frame || sp != cfa || !row.cfa_reg;
  s.next = std::move(n);
  return s;
}

// ---- ORC ------------------------------------------------------------------

Result<uint64_t> Walker::orc_cfa(const Frame& cur, const OrcEntry& e) {
  auto need = [&](unsigned r, const char* what) -> Result<uint64_t> {
    if (!cur.regs.has(r))
      return make_error(Errc::kNotFound, "ORC base register {} ({}) is not known in this frame", what, rname(r));
    return *cur.regs.get(r);
  };
  switch (e.type) {
    case orc::kTypeUndefined: return make_error(Errc::kNotFound, "ORC has no unwind information here ({})", orc::describe(e));
    case orc::kTypeEndOfStack: return make_error(Errc::kNotFound, "ORC marks the end of the stack");
    default: break;
  }
  switch (e.sp_reg) {
    case orc::kRegSp: { VMC_ASSIGN(uint64_t sp, need(x86_64::kRsp, "sp")); return mask(sp + uint64_t(int64_t(e.sp_offset))); }
    case orc::kRegBp: { VMC_ASSIGN(uint64_t bp, need(x86_64::kRbp, "bp")); return mask(bp + uint64_t(int64_t(e.sp_offset))); }
    case orc::kRegSpIndirect: {
      // (%rsp) + offset since Linux 5.12 (commit 87ccc826bf1c; unused before).
      VMC_ASSIGN(uint64_t sp, need(x86_64::kRsp, "sp"));
      VMC_ASSIGN(uint64_t v, x86::read_word(m_, mem_, sp, "ORC indirect stack pointer"));
      return mask(v + uint64_t(int64_t(e.sp_offset)));
    }
    case orc::kRegBpIndirect: {
      VMC_ASSIGN(uint64_t bp, need(x86_64::kRbp, "bp"));
      return x86::read_word(m_, mem_, mask(bp + uint64_t(int64_t(e.sp_offset))), "ORC indirect frame pointer");
    }
    // The kernel takes these registers' values as the previous sp without
    // adding the offset (unwind_orc.c, get_reg()).
    case orc::kRegAx: return need(x86_64::kRax, "ax");
    case orc::kRegDx: return need(x86_64::kRdx, "dx");
    case orc::kRegDi: return need(x86_64::kRdi, "di");
    case orc::kRegR10: return need(x86_64::kR10, "r10");
    case orc::kRegR13: return need(x86_64::kR13, "r13");
    default:
      return make_error(Errc::kBadData, "ORC entry has an unknown sp base register ({})", orc::describe(e));
  }
}

Step Walker::try_orc(const Frame& cur, const OrcEntry& e) {
  if (e.type == orc::kTypeEndOfStack) return end();
  if (e.type == orc::kTypeUndefined)
    return stop(fmt::format("ORC marks pc {:#x} as having no unwind information", cur.pc));
  auto prev = orc_cfa(cur, e);
  if (!prev) {
    if (is_memory_error(prev.error().code())) return stop(fmt::format("ORC: {}", prev.error().message()));
    return no_info(fmt::format("ORC: {}", prev.error().message()));
  }
  uint64_t cfa = *prev;
  Step s;
  if (e.type == orc::kTypeCall) {
    Frame n = new_caller(cur, UnwoundBy::kOrc);
    uint64_t ra_addr = mask(cfa - ws_);
    auto ra = x86::read_word(m_, mem_, ra_addr, "return address");
    if (!ra) return stop(ra.error().message(), cfa);
    set(n, ri_.pc, *ra, saved(cur, ra_addr, cfa));
    set(n, ri_.sp, cfa, computed(cur));
    finish_pc_sp(n, *ra, cfa);
    n.pc_exact = e.signal;
    s.next = std::move(n);
    s.switches_stack = e.sp_reg != orc::kRegSp && e.sp_reg != orc::kRegBp;
    if (mask(*ra) == 0) return end(cfa);
  } else if (e.type == orc::kTypeRegs) {
    s = from_pt_regs(cur, cfa, UnwoundBy::kException);
    if (s.kind != Step::Kind::kNext) {
      s.cfa = cfa;
      return s;
    }
  } else if (e.type == orc::kTypeRegsPartial) {
    auto pt = x86::read_iret_frame(m_, mem_, cfa);
    if (!pt) return stop(fmt::format("ORC: {}", pt.error().message()), cfa);
    Frame n = frame_from_regs(cur, UnwoundBy::kException, *pt, pt->addr);
    n.notes.push_back(fmt::format(
        "entered through a partial pt_regs at {:#x}: only ip, cs, flags, sp and ss are known", pt->addr));
    s.next = std::move(n);
    s.switches_stack = true;
  } else {
    return stop(fmt::format("ORC entry of unknown type ({})", orc::describe(e)));
  }

  // bp: ORC says where the caller's bp is, or that it is unchanged.
  Frame& n = s.next;
  auto bp_saved_at = [&](uint64_t a) {
    auto v = x86::read_word(m_, mem_, a, "saved frame pointer");
    if (v)
      set(n, x86_64::kRbp, *v, saved(cur, a, cfa));
    else
      n.notes.push_back(fmt::format("rbp: {}", v.error().message()));
  };
  switch (e.bp_reg) {
    case orc::kRegUndefined:
      if (e.type == orc::kTypeCall) inherit(n, cur, x86_64::kRbp);
      break;
    case orc::kRegPrevSp:
      bp_saved_at(mask(cfa + uint64_t(int64_t(e.bp_offset))));
      break;
    case orc::kRegBp: {
      if (!cur.regs.has(x86_64::kRbp)) {
        n.regs.clear(x86_64::kRbp);
        n.loc[x86_64::kRbp] = RegLoc{};
        n.notes.push_back("rbp: ORC finds it through this frame's rbp, which is not known");
        break;
      }
      bp_saved_at(mask(*cur.regs.get(x86_64::kRbp) + uint64_t(int64_t(e.bp_offset))));
      break;
    }
    default:
      if (e.type == orc::kTypeCall) n.notes.push_back(fmt::format("rbp: unknown ORC bp base ({})", orc::describe(e)));
      break;
  }
  s.kind = Step::Kind::kNext;
  s.cfa = cfa;
  return s;
}

// The interrupted context a pt_regs (or iret) record at `addr` describes:
// every register it holds, with its slot as provenance, and an exact pc.
Frame Walker::frame_from_regs(const Frame& cur, UnwoundBy how, const x86::PtRegs& pt, uint64_t addr) {
  Frame n = new_caller(cur, how);
  for (const auto& sl : pt.slots) {
    if (sl.regno == kNoReg) continue;
    RegLoc l;
    l.kind = RegLoc::Kind::kPtRegs;
    l.addr = sl.addr;
    set(n, sl.regno, sl.value, l);
  }
  n.pt_regs_addr = addr;
  n.user_mode = pt.user_mode;
  n.pc_exact = true;
  finish_pc_sp(n, pt.get(ri_.pc).value_or(0), pt.get(ri_.sp).value_or(0));
  return n;
}

Step Walker::from_pt_regs(const Frame& cur, uint64_t addr, UnwoundBy how) {
  auto pt = x86::read_pt_regs(m_, mem_, addr, o_.i386_short_kernel_pt_regs);
  if (!pt) return stop(pt.error().message());
  Frame n = frame_from_regs(cur, how, *pt, addr);
  // A kernel thread's stack begins with the empty regs copy_thread() left
  // (ip 0, cs 0); a kernel-mode context interrupted at ip 0 with a real cs
  // is a call through a NULL pointer and goes on (null_call_step).
  uint8_t cs_reg = m_ == Machine::kI386 ? uint8_t(i386::kCs) : uint8_t(x86_64::kCs);
  if (!n.user_mode && n.pc == 0 && pt->get(cs_reg).value_or(0) == 0) return end();
  Step s;
  s.kind = Step::Kind::kNext;
  s.switches_stack = true;
  s.next = std::move(n);
  return s;
}

// ---- A call through a NULL pointer -----------------------------------------

Step Walker::null_call_step(const Frame& cur) {
  // Nothing of the callee ran: the return address is at sp and every
  // register still holds the caller's value - the psABI's state at a
  // function's first instruction, which is also what the kernel assumes
  // for ip 0 (unwind_orc.c, null_orc_entry). Caller-saved registers are
  // treated as after any call (unknown), like CFI-unwound frames.
  if (!cur.regs.has(ri_.sp)) return stop(fmt::format("pc {:#x} has no code and sp is unknown", cur.pc));
  uint64_t sp = mask(*cur.regs.get(ri_.sp)), cfa = mask(sp + ws_);
  const std::string what = fmt::format("return address of a call to {:#x}", cur.pc);
  auto ra = x86::read_word(m_, mem_, sp, what.c_str());
  if (!ra) return stop(ra.error().message(), cfa);
  Frame n = new_caller(cur, UnwoundBy::kCfi);
  for (uint8_t r : ri_.callee_saved) inherit(n, cur, r);
  set(n, ri_.pc, *ra, saved(cur, sp, cfa));
  set(n, ri_.sp, cfa, computed(cur));
  finish_pc_sp(n, *ra, cfa);
  n.notes.push_back(fmt::format("frame #{} is at {:#x}, where there is no code (a call through a {} pointer): "
                                "return address at its sp {:#x}",
                                cur.index, cur.pc, cur.pc == 0 ? "NULL" : "bad", sp));
  Step s;
  s.kind = Step::Kind::kNext;
  s.cfa = cfa;
  s.next = std::move(n);
  return s;
}

bool Walker::follows_call(uint64_t ret) {
  uint8_t b[8];
  if (ret < 8 || !mem_.read_virt(ret - 8, std::span(b, 8)).ok()) return false;
  if (b[3] == 0xe8) return true;  // call rel32: 5 bytes
  // call r/m: [REX] FF modrm(reg=2) [SIB] [disp8|disp32]
  for (unsigned len = 2; len <= 8; ++len) {
    const uint8_t* p = b + 8 - len;
    unsigned i = 0;
    if (m_ == Machine::kX86_64 && (p[0] & 0xf0) == 0x40) ++i;
    if (i + 2 > len || p[i] != 0xff) continue;
    uint8_t modrm = p[i + 1];
    if (((modrm >> 3) & 7) != 2) continue;
    unsigned mod = modrm >> 6, rm = modrm & 7, n = i + 2;
    if (mod != 3 && rm == 4) {
      if (n >= len) continue;
      uint8_t sib = p[n++];
      if (mod == 0 && (sib & 7) == 5) n += 4;
    }
    if (mod == 0 && rm == 5) n += 4;
    else if (mod == 1) n += 1;
    else if (mod == 2) n += 4;
    if (n == len) return true;
  }
  return false;
}

// ---- Frame pointers -------------------------------------------------------

Step Walker::try_fp(const Frame& cur, const CodeImage& img) {
  if (!cur.regs.has(ri_.fp)) return no_info(fmt::format("frame pointer: {} is not known", rname(ri_.fp)));
  uint64_t bp = mask(*cur.regs.get(ri_.fp));
  if (img.kernel) {
    if (auto regs = x86::decode_kernel_frame_pointer(m_, bp)) {
      // The kernel accepts an encoded pointer only to regs on a stack of
      // the task (unwind_frame.c, update_stack_state()).
      if (!o_.stacks.empty()) {
        auto lo = range_of(*regs), hi = range_of(mask(*regs + x86::pt_regs_size(m_) - 1));
        if (!lo || lo != hi)
          return no_info(fmt::format("frame pointer {:#x} would put pt_regs at {:#x}, outside the thread's stacks", bp,
                                     *regs));
      }
      Step s = from_pt_regs(cur, *regs, UnwoundBy::kException);
      if (s.kind == Step::Kind::kStop) s.reason = fmt::format("encoded frame pointer {:#x}: {}", bp, s.reason);
      return s;
    }
  }
  if (bp == 0) return end();
  // A frame pointer below sp is not a frame, unless it lies on another of
  // the thread's stacks (the code switched stacks, e.g. i386 call_on_stack).
  bool other_stack = false;
  if (bp < cur.sp) {
    auto rb = range_of(bp), rs = range_of(cur.sp);
    other_stack = rb && rb != rs;
    if (!other_stack)
      return no_info(fmt::format("frame pointer {:#x} lies below sp {:#x}: not a frame", bp, cur.sp));
  }
  auto fr = x86::read_fp_frame(m_, mem_, bp);
  if (!fr) {
    if (is_memory_error(fr.error().code())) return stop(fmt::format("frame pointer: {}", fr.error().message()));
    return no_info(fmt::format("frame pointer: {}", fr.error().message()));
  }
  uint64_t cfa = fr->caller_sp;
  if (mask(fr->return_addr) == 0) return end(cfa);
  Frame n = new_caller(cur, UnwoundBy::kFramePointer);
  set(n, ri_.pc, fr->return_addr, saved(cur, fr->ra_slot, cfa));
  set(n, ri_.fp, fr->caller_bp, saved(cur, fr->bp_slot, cfa));
  set(n, ri_.sp, cfa, computed(cur));
  finish_pc_sp(n, fr->return_addr, cfa);
  Step s;
  s.kind = Step::Kind::kNext;
  s.cfa = cfa;
  s.switches_stack = other_stack;
  s.next = std::move(n);
  return s;
}

}  // namespace

UnwindResult unwind(Machine m, VirtualMemory& mem, const CodeMap& code, const Frame& initial, const UnwindOptions& o) {
  if (m != Machine::kX86_64 && m != Machine::kI386) {
    UnwindResult r;
    r.frames.push_back(initial);
    r.stop_reason = fmt::format("unwinding {} is not supported", machine_info(m).name);
    return r;
  }
  Walker w(m, mem, code, o);
  return w.run(initial);
}

}  // namespace vmc
