#include "dwarf/args.h"

#include <algorithm>
#include <map>

#include "dwarf/dwarf_index.h"
#include "dwarf/location.h"
#include "dwarf/types.h"
#include "dwarf/value_format.h"

namespace vmc {

namespace {

constexpr size_t kMaxParams = 64;
constexpr uint8_t kX86CallRel32 = 0xe8;

// GNU call-site attributes (pre-DWARF 5), from GCC's dwarf2out.
constexpr int kAtGnuCallSiteValue = 0x2111;
constexpr int kAtGnuCallSiteDataValue = 0x2112;
constexpr int kAtGnuTailCall = 0x2115;
constexpr int kAtGnuAllTailCallSites = 0x2116;
constexpr int kAtGnuAllCallSites = 0x2117;

std::string signed_off(int64_t v) { return v < 0 ? fmt::format("-{:#x}", -v) : fmt::format("+{:#x}", v); }

bool has_flag(Dwarf_Die* d, int at) {
  Dwarf_Attribute a;
  bool v = false;
  return dwarf_attr(d, at, &a) && dwarf_formflag(&a, &v) == 0 && v;
}

// The location expression(s) of `attr` valid at `addr` (first one).
Result<std::pair<const Dwarf_Op*, size_t>> location_at(Dwarf_Attribute* attr, uint64_t addr) {
  Dwarf_Op* ops[4];
  size_t lens[4];
  int n = dwarf_getlocation_addr(attr, addr, ops, lens, 4);
  if (n < 0)
    return make_error(Errc::kBadData, "its location list cannot be read here ({}; e.g. a DW_OP_GNU_uninit entry, "
                      "which marks the value as not yet initialized)",
                      dwarf_errmsg(-1));
  if (n == 0) return make_error(Errc::kNotFound, "not available at this pc (its location list has no entry here)");
  return std::make_pair(static_cast<const Dwarf_Op*>(ops[0]), lens[0]);
}

}  // namespace

struct ArgRecovery::Impl {
  Machine m;
  Endian e;
  unsigned ws;
  VirtualMemory& mem;
  const CodeMap& code;
  ArgOptions o;
  std::map<const CodeImage*, std::unique_ptr<DwarfIndex>> indexes;
  std::vector<StackRange> stacks;

  Impl(Machine m_, Endian e_, VirtualMemory& mem_, const CodeMap& c, ArgOptions o_)
      : m(m_), e(e_), ws(machine_info(m_).ptr_size), mem(mem_), code(c), o(std::move(o_)) {}

  const CodeImage* image_of(const Frame& f) const { return f.image ? f.image : code.find(f.pc); }
  DwarfIndex* index_of(const CodeImage* img) {
    if (!img || !img->dwarf) return nullptr;
    if (img->index) return img->index;
    auto& p = indexes[img];
    if (!p) p = std::make_unique<DwarfIndex>(img->dwarf);
    return p.get();
  }
  uint64_t lookup_pc(const Frame& f) const { return f.pc_exact ? f.pc : f.pc - 1; }

  const Symbol* symbol_for(const CodeImage* img, uint64_t pc) const {
    if (!img) return nullptr;
    if (!img->runtime_symbols.empty()) {
      const auto& v = img->runtime_symbols;
      auto it = std::upper_bound(v.begin(), v.end(), pc, [](uint64_t a, const Symbol& s) { return a < s.addr; });
      if (it == v.begin()) return nullptr;
      --it;
      return (it->size == 0 || pc - it->addr < it->size) ? &*it : nullptr;
    }
    if (!img->elf) return nullptr;
    return img->elf->symbol_at(pc - uint64_t(img->bias));
  }

  // A parameter's storage must be on this thread's stack, at or above the
  // frame's stack pointer. "" when it is, else why not.
  std::string storage_check(const Frame& f, uint64_t addr, uint64_t len) const {
    if (stacks.empty()) return "";
    // A frame stopped mid-function (not at a call) may also use the red
    // zone below its sp.
    const uint64_t low = f.pc_exact && o.red_zone ? f.sp - o.red_zone : f.sp;
    for (const StackRange& r : stacks) {
      if (f.sp < r.lo || f.sp >= r.hi) continue;
      if (addr >= low && addr >= r.lo && addr < r.hi && len <= r.hi - addr) return "";
      return fmt::format("the DWARF places it at {:#x}, outside this frame's part of the {}stack "
                         "[{:#x}, {:#x}): that location is not valid at this pc",
                         addr, r.name == "stack" ? "" : r.name + " ", low, r.hi);
    }
    for (const StackRange& r : stacks)
      if (addr >= r.lo && addr < r.hi && len <= r.hi - addr) return "";
    return fmt::format("the DWARF places it at {:#x}, which is on none of this thread's stacks: that location is "
                       "not valid at this pc",
                       addr);
  }

  // Runtime entry address of a function DIE: DW_AT_entry_pc/low_pc, else
  // (functions split into hot and .cold ranges) the ELF symbol of that
  // name whose address lies in one of the function's ranges.
  std::optional<uint64_t> function_entry(const CodeImage* img, Dwarf_Die fn) {
    if (!img) return std::nullopt;
    if (auto e2 = die_entry(fn)) return *e2 + uint64_t(img->bias);
    std::string name = die_name(fn);
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    Dwarf_Addr base, start, end;
    ptrdiff_t p = 0;
    while ((p = dwarf_ranges(&fn, p, &base, &start, &end)) > 0 && ranges.size() < 64)
      ranges.emplace_back(start + uint64_t(img->bias), end + uint64_t(img->bias));
    auto in_ranges = [&](uint64_t a) {
      for (auto [b, e2] : ranges)
        if (a >= b && a < e2) return true;
      return false;
    };
    std::optional<uint64_t> found;
    auto consider = [&](uint64_t a) {
      if (!in_ranges(a)) return true;
      if (found && *found != a) return false;  // ambiguous
      found = a;
      return true;
    };
    if (!img->runtime_symbols.empty()) {
      for (const auto& sy : img->runtime_symbols)
        if (sy.name == name && !consider(sy.addr)) return std::nullopt;
    } else if (img->elf) {
      for (const Symbol* sy : img->elf->find_symbols(name))
        if (sy->is_function() && !consider(sy->addr + uint64_t(img->bias))) return std::nullopt;
    }
    return found;
  }

  uint64_t symbol_runtime(const CodeImage* img, const Symbol* s) const {
    return img && img->runtime_symbols.empty() ? s->addr + uint64_t(img->bias) : s->addr;
  }

  // The physical function (DW_TAG_subprogram) at a frame, if DWARF knows it.
  std::optional<Dwarf_Die> physical_function(const Frame& f) {
    const CodeImage* img = image_of(f);
    DwarfIndex* idx = index_of(img);
    if (!idx) return std::nullopt;
    auto scopes = idx->function_scopes(lookup_pc(f) - uint64_t(img->bias));
    if (scopes.empty() || dwarf_tag(&scopes.back()) != DW_TAG_subprogram) return std::nullopt;
    return scopes.back();
  }

  std::string frame_name(const Frame& f) {
    if (auto fn = physical_function(f)) {
      std::string n = die_name(*fn);
      if (!n.empty()) return n;
    }
    if (const Symbol* s = symbol_for(image_of(f), lookup_pc(f))) return std::string(s->name);
    return fmt::format("{:#x}", f.pc);
  }

  std::string describe_reg(const std::vector<Frame>& frames, size_t idx, unsigned regno, const RegLoc& loc) {
    std::string r(register_name(m, regno));
    switch (loc.kind) {
      case RegLoc::Kind::kInitial:
        return fmt::format("{} from {}", r, o.initial_regs);
      case RegLoc::Kind::kPtRegs: {
        bool fault = idx < frames.size() && frames[idx].pt_regs_addr && o.fault_address;
        return fmt::format("{} {} (pt_regs at {:#x})", r, fault ? "at the exception" : "from an exception frame", loc.addr);
      }
      case RegLoc::Kind::kSwitchFrame:
        return fmt::format("{} from the scheduler's switch frame at {:#x}", r, loc.addr);
      case RegLoc::Kind::kSaved:
        if (loc.frame >= 0 && size_t(loc.frame) < frames.size())
          return fmt::format("{}, saved by #{} {} at CFA{}", r, loc.frame, frame_name(frames[size_t(loc.frame)]),
                             signed_off(loc.cfa_offset));
        return fmt::format("{}, saved at {:#x}", r, loc.addr);
      case RegLoc::Kind::kComputed:
        return fmt::format("{}, computed by the unwind rule of #{}", r, loc.frame);
      case RegLoc::Kind::kNone:
        break;
    }
    return r;
  }

  // Environment for evaluating expressions in frame `idx`.
  EvalEnv env_for(const std::vector<Frame>& frames, size_t idx, Dwarf_Attribute* attr, unsigned depth,
                  std::optional<Dwarf_Die> function) {
    EvalEnv env;
    env.machine = m;
    env.endian = e;
    env.addr_size = ws;
    env.mem = &mem;
    env.frame = &frames[idx];
    env.frame_label = fmt::format("#{} {}", idx, frame_name(frames[idx]));
    env.attr = attr;
    if (const CodeImage* img = image_of(frames[idx])) env.addr_bias = img->bias;
    if (function) env.frame_base = frame_base(frames, idx, *function);
    env.entry_value = [this, &frames, idx, depth](Dwarf_Attribute* sub, LocInputs* in) -> Result<uint64_t> {
      return entry_value(frames, idx, sub, std::nullopt, depth, in);
    };
    env.parameter_ref = [this, &frames, idx, depth](Dwarf_Off cu_off, LocInputs* in) -> Result<uint64_t> {
      return entry_value(frames, idx, nullptr, cu_off, depth, in);
    };
    return env;
  }

  std::optional<uint64_t> frame_base(const std::vector<Frame>& frames, size_t idx, Dwarf_Die function) {
    Dwarf_Attribute a;
    if (!dwarf_attr_integrate(&function, DW_AT_frame_base, &a)) return std::nullopt;
    auto loc = location_at(&a, lookup_pc(frames[idx]) - uint64_t(image_of(frames[idx])->bias));
    if (!loc) return std::nullopt;
    EvalEnv env = env_for(frames, idx, &a, 0, std::nullopt);
    auto r = eval_location(loc->first, loc->second, env, nullptr);
    if (!r || r->size() != 1) return std::nullopt;
    const LocPiece& p = (*r)[0];
    if (p.kind == LocPiece::Kind::kMemory) return p.addr;  // e.g. DW_OP_call_frame_cfa
    if (p.kind == LocPiece::Kind::kRegister) {
      auto v = frames[idx].regs.get(p.regno);
      if (v) return *v;
    }
    return std::nullopt;
  }

  // Why this function's machine-level signature may differ from its
  // source declaration (pahole's rules), or "".
  std::string signature_note(const CodeImage* img, const Frame& f, Dwarf_Die fn) {
    if (const Symbol* s = symbol_for(img, lookup_pc(f))) {
      std::string_view n = s->name;
      // .cold is the same function's out-of-line part (same entry, same
      // signature), so it does not count.
      for (const char* suf : {".isra", ".constprop", ".part"})
        if (n.find(suf) != std::string_view::npos)
          return fmt::format("{} is a compiler-made clone ({}): its signature differs from the source; values below "
                             "come from its own DWARF only",
                             n, suf + 1);
    }
    Dwarf_Attribute a;
    Dwarf_Word cc;
    Dwarf_Die origin = die_origin(fn);
    for (Dwarf_Die* d : {&fn, &origin})
      if (dwarf_attr(d, DW_AT_calling_convention, &a) && dwarf_formudata(&a, &cc) == 0 && cc == DW_CC_nocall)
        return "DW_CC_nocall: the compiler changed how this function is called";
    return {};
  }

  // What an entry value asks for: a register's value at the callee's entry
  // (DW_OP_entry_value(DW_OP_regN)), the memory it pointed to
  // (DW_OP_entry_value(DW_OP_bregN 0; DW_OP_deref): DW_AT_call_data_value),
  // or a formal parameter's value (DW_OP_GNU_parameter_ref), as a global
  // DIE offset.
  struct EntryQuery {
    std::optional<unsigned> reg;
    bool data_value = false;
    std::optional<Dwarf_Off> param;
  };

  Result<EntryQuery> parse_query(Dwarf_Attribute* sub, std::optional<Dwarf_Off> param_ref, Dwarf_Die callee) {
    EntryQuery q;
    if (param_ref) {
      // DW_OP_GNU_parameter_ref's operand is relative to the callee's CU.
      Dwarf_Die cu;
      if (!dwarf_diecu(&callee, &cu, nullptr, nullptr))
        return make_error(Errc::kBadData, "entry value: the callee's CU is unknown");
      q.param = dwarf_dieoffset(&cu) - dwarf_cuoffset(&cu) + *param_ref;
      return q;
    }
    Dwarf_Op* ops;
    size_t n;
    if (!sub || dwarf_getlocation(sub, &ops, &n) != 0 || n == 0)
      return make_error(Errc::kBadData, "entry value: unreadable sub-expression");
    uint8_t a = ops[0].atom;
    if (n == 1 && a >= DW_OP_reg0 && a <= DW_OP_reg31) q.reg = a - DW_OP_reg0;
    else if (n == 1 && a == DW_OP_regx) q.reg = unsigned(ops[0].number);
    else if (n == 2 && a >= DW_OP_breg0 && a <= DW_OP_breg31 && ops[0].number == 0 && ops[1].atom == DW_OP_deref) {
      q.reg = a - DW_OP_breg0;
      q.data_value = true;
    } else if (a == DW_OP_regval_type || a == DW_OP_GNU_regval_type) {
      return make_error(Errc::kUnsupported,
                        "entry value of a typed register (DW_OP_regval_type), e.g. a 64-bit value in a 32-bit "
                        "register pair: not evaluated");
    } else {
      return make_error(Errc::kUnsupported, "entry value of a complex expression (op {:#x}, {} ops)", a, n);
    }
    return q;
  }

  // The DW_TAG_call_site_parameter of `cs` that answers q.
  std::optional<Dwarf_Die> call_site_parameter(Dwarf_Die cs, const EntryQuery& q) {
    Dwarf_Die p;
    if (dwarf_child(&cs, &p) != 0) return std::nullopt;
    do {
      int tag = dwarf_tag(&p);
      if (tag != DW_TAG_call_site_parameter && tag != DW_TAG_GNU_call_site_parameter) continue;
      Dwarf_Attribute la;
      if (q.reg && dwarf_attr(&p, DW_AT_location, &la)) {
        Dwarf_Op* ops;
        size_t n;
        if (dwarf_getlocation(&la, &ops, &n) == 0 && n == 1) {
          uint8_t a = ops[0].atom;
          if ((a == DW_OP_regx && ops[0].number == *q.reg) || (a >= DW_OP_reg0 && a <= DW_OP_reg31 && unsigned(a - DW_OP_reg0) == *q.reg))
            return p;
        }
      } else if (q.param) {
        Dwarf_Attribute ra;
        Dwarf_Die target;
        if ((dwarf_attr(&p, DW_AT_call_parameter, &ra) || dwarf_attr(&p, DW_AT_abstract_origin, &ra)) &&
            dwarf_formref_die(&ra, &target) && dwarf_dieoffset(&target) == *q.param)
          return p;
      }
    } while (dwarf_siblingof(&p, &p) == 0);
    return std::nullopt;
  }

  // Whether the call site `cs` (in image `img`) calls function `fn` (a
  // subprogram DIE of the same image): by DIE identity, or, for a
  // declaration in the caller's CU, by a name only one function has.
  bool calls_function(const CodeImage* img, Dwarf_Die cs, Dwarf_Die fn) {
    Dwarf_Attribute a;
    Dwarf_Die target;
    if (!(dwarf_attr(&cs, DW_AT_call_origin, &a) || dwarf_attr(&cs, DW_AT_abstract_origin, &a)) ||
        !dwarf_formref_die(&a, &target))
      return false;
    Dwarf_Die t = die_origin(target), f = die_origin(fn);
    if (dwarf_dieoffset(&t) == dwarf_dieoffset(&f)) return true;
    if (!dwarf_hasattr(&t, DW_AT_declaration)) return false;
    std::string name = die_name(f);
    if (name.empty() || die_name(t) != name || !img || !img->elf) return false;
    std::optional<uint64_t> addr;
    for (const Symbol* sy : img->elf->find_symbols(name)) {
      if (!sy->is_function()) continue;
      if (addr && *addr != sy->addr) return false;  // several functions of that name
      addr = sy->addr;
    }
    return addr.has_value();
  }

  // Evaluates a call-site parameter's DW_AT_call_value (or _data_value) in
  // `env`, appending its provenance, prefixed by `via`, to `in`.
  Result<uint64_t> call_value(Dwarf_Die p, const EntryQuery& q, EvalEnv env, const std::vector<Frame>& frames,
                              size_t caller_idx, const std::string& via, LocInputs* in) {
    Dwarf_Attribute va;
    int at = q.data_value ? DW_AT_call_data_value : DW_AT_call_value;
    int gnu = q.data_value ? kAtGnuCallSiteDataValue : kAtGnuCallSiteValue;
    if (!dwarf_attr(&p, at, &va) && !dwarf_attr(&p, gnu, &va))
      return make_error(Errc::kNotFound, "entry value: {} does not record that parameter's value", via);
    Dwarf_Op* ops;
    size_t n;
    if (dwarf_getlocation(&va, &ops, &n) != 0)
      return make_error(Errc::kBadData, "entry value: unreadable DW_AT_call_value");
    env.attr = &va;
    LocInputs sub_in;
    auto r = eval_location(ops, n, env, &sub_in);
    if (!r) return std::move(r).error().context(fmt::format("entry value via {}", via));
    if (r->size() != 1) return make_error(Errc::kUnsupported, "entry value: a multi-piece call value");
    const LocPiece& pc = (*r)[0];
    uint64_t v;
    if (pc.kind == LocPiece::Kind::kMemory) v = pc.addr;  // the expression's result is the value
    else if (pc.kind == LocPiece::Kind::kValue) v = pc.value;
    else if (pc.kind == LocPiece::Kind::kRegister) {
      VMC_ASSIGN(v, frame_register(env, pc.regno, &sub_in));
    } else {
      return make_error(Errc::kNotFound, "entry value: {}", pc.why.empty() ? "no value at the call" : pc.why);
    }
    if (in) {
      in->width_sensitive = in->width_sensitive || sub_in.width_sensitive;
      std::string inner = describe_inputs(frames, caller_idx, sub_in);
      in->entry.push_back(fmt::format("the entry value passed by {} ({})", via,
                                      inner.empty() ? "a constant at the call site" : inner));
    }
    return v;
  }

  // DW_OP_entry_value(sub) (or DW_OP_GNU_parameter_ref when sub is null)
  // of frame idx, through the call site in frame idx+1.
  Result<uint64_t> entry_value(const std::vector<Frame>& frames, size_t idx, Dwarf_Attribute* sub,
                               std::optional<Dwarf_Off> param_ref, unsigned depth, LocInputs* in) {
    auto fn = physical_function(frames[idx]);
    if (!fn) return make_error(Errc::kNotFound, "entry value: no DWARF function for #{}", idx);
    VMC_ASSIGN(EntryQuery q, parse_query(sub, param_ref, *fn));
    return resolve_entry(frames, idx, *fn, image_of(frames[idx]), frame_name(frames[idx]), q, depth, true, in);
  }

  // The value `q` asks for at the entry of `fn` (image `fimg`), whose caller
  // is frame callee_idx+1: through the caller's call site when the call
  // instruction goes straight to fn; through a unique tail call in the
  // function it goes to otherwise (allow_tail: one level).
  Result<uint64_t> resolve_entry(const std::vector<Frame>& frames, size_t callee_idx, Dwarf_Die fn,
                                 const CodeImage* fimg, const std::string& fn_label, const EntryQuery& q,
                                 unsigned depth, bool allow_tail, LocInputs* in) {
    if (depth >= o.max_entry_value_depth)
      return make_error(Errc::kLimit, "entry values nest deeper than {} calls", o.max_entry_value_depth);
    const size_t ci = callee_idx + 1;
    if (ci >= frames.size()) return make_error(Errc::kNotFound, "entry value: #{} has no caller frame", callee_idx);
    const Frame& caller = frames[ci];
    if (caller.pc_exact)
      return make_error(Errc::kNotFound, "entry value: #{} was interrupted, not called: there is no call site", ci);
    auto entry = function_entry(fimg, fn);
    if (!entry) return make_error(Errc::kNotFound, "entry value: the entry of {} is unknown", fn_label);
    // The call instruction before the return address must go to fn (or to
    // a function that tail-calls it): anything else means the caller's
    // call site describes another callee.
    uint8_t insn[5];
    if (Status st = mem.read_virt(caller.pc - 5, insn); !st)
      return make_error(Errc::kNotFound, "entry value: cannot read the call before {:#x}: {}", caller.pc, st.error().message());
    if (insn[0] != kX86CallRel32)
      return make_error(Errc::kNotFound, "entry value: the call in #{} {} is indirect; its target cannot be verified", ci,
                        frame_name(caller));
    uint64_t target = caller.pc + uint64_t(int64_t(int32_t(load_u32(insn + 1, Endian::kLittle))));
    if (ws == 4) target &= 0xffffffffu;
    if (target != *entry) {
      if (!allow_tail)
        return make_error(Errc::kNotFound, "entry value: the call in #{} {} goes to {:#x}, not to {} at {:#x}", ci,
                          frame_name(caller), target, fn_label, *entry);
      return through_tail_call(frames, callee_idx, fn, fimg, fn_label, q, target, depth, in);
    }
    const CodeImage* kimg = image_of(caller);
    DwarfIndex* kidx = index_of(kimg);
    auto kfn = physical_function(caller);
    if (!kidx || !kfn) return make_error(Errc::kNotFound, "entry value: no DWARF for the caller #{}", ci);
    auto cs = kidx->call_site(*kfn, caller.pc - uint64_t(kimg->bias));
    if (!cs)
      return make_error(Errc::kNotFound, "entry value: {} has no call-site information for the call returning to {:#x}",
                        frame_name(caller), caller.pc);
    if (has_flag(&*cs, DW_AT_call_tail_call) || has_flag(&*cs, kAtGnuTailCall))
      return make_error(Errc::kNotFound, "entry value: the call site in {} is a tail call", frame_name(caller));
    auto p = call_site_parameter(*cs, q);
    std::string via = fmt::format("the call in #{} {}", ci, frame_name(caller));
    if (!p)
      return make_error(Errc::kNotFound, "entry value: {} has no value for {}", via,
                        q.reg ? std::string(register_name(m, *q.reg)) : std::string("that parameter"));
    return call_value(*p, q, env_for(frames, ci, nullptr, depth + 1, kfn), frames, ci, via, in);
  }

  // The caller's call goes to X, which reached fn by a tail call. Proven
  // only when X's DWARF lists all its calls and exactly one of them is a
  // tail call to fn; its parameter values are then evaluated in X's state
  // at the jump: callee-saved registers hold the caller's values again (X
  // restored them before jumping), caller-saved registers are unknown, X's
  // own entry values come from the caller's call site, and nothing of X's
  // stack frame can be read (fn has reused that stack since).
  Result<uint64_t> through_tail_call(const std::vector<Frame>& frames, size_t callee_idx, Dwarf_Die fn,
                                     const CodeImage* fimg, const std::string& fn_label, const EntryQuery& q,
                                     uint64_t target, unsigned depth, LocInputs* in) {
    const size_t ci = callee_idx + 1;
    const Frame& caller = frames[ci];
    const CodeImage* ximg = code.find(target);
    DwarfIndex* xidx = index_of(ximg);
    std::string why = fmt::format("the call in #{} {} goes to {:#x}, not to {}", ci, frame_name(caller), target, fn_label);
    if (!xidx || ximg != fimg) return make_error(Errc::kNotFound, "entry value: {} (no DWARF to follow it)", why);
    auto xs = xidx->function_scopes(target - uint64_t(ximg->bias));
    if (xs.empty() || dwarf_tag(&xs.back()) != DW_TAG_subprogram)
      return make_error(Errc::kNotFound, "entry value: {} (no DWARF function there)", why);
    Dwarf_Die x = xs.back();
    auto xentry = function_entry(ximg, x);
    std::string xname = die_name(x);
    if (!xentry || *xentry != target)
      return make_error(Errc::kNotFound, "entry value: {} (not a function's entry)", why);
    if (!(has_flag(&x, DW_AT_call_all_calls) || has_flag(&x, DW_AT_call_all_tail_calls) ||
          has_flag(&x, kAtGnuAllTailCallSites) || has_flag(&x, kAtGnuAllCallSites)))
      return make_error(Errc::kNotFound, "entry value: {} ({}'s DWARF does not list all its calls)", why, xname);
    std::vector<Dwarf_Die> tails = xidx->tail_call_sites(x);
    std::vector<Dwarf_Die> to_fn;
    for (Dwarf_Die& t : tails)
      if (calls_function(ximg, t, fn)) to_fn.push_back(t);
    if (to_fn.empty())
      return make_error(Errc::kNotFound, "entry value: {}, and {} has no tail call to it (a longer chain?)", why, xname);
    if (to_fn.size() > 1)
      return make_error(Errc::kNotFound, "entry value: {}, and {} tail-calls it from {} places (ambiguous)", why, xname,
                        to_fn.size());
    auto p = call_site_parameter(to_fn[0], q);
    std::string via = fmt::format("the tail call in {} (called by #{} {})", xname, ci, frame_name(caller));
    if (!p)
      return make_error(Errc::kNotFound, "entry value: {} has no value for {}", via,
                        q.reg ? std::string(register_name(m, *q.reg)) : std::string("that parameter"));
    // X's state at the jump.
    auto vf = std::make_shared<Frame>();
    vf->regs = RegisterSet(m);
    const RegisterInfo& ri = register_info(m);
    for (uint8_t r : ri.callee_saved) {
      if (auto v = caller.regs.get(r)) {
        vf->regs.set(r, *v);
        vf->loc[r] = caller.loc[r];
      }
    }
    vf->pc_exact = false;
    EvalEnv env = env_for(frames, ci, nullptr, depth + 1, std::nullopt);
    env.frame = vf.get();
    env.frame_label = fmt::format("{} at its tail call (its frame is gone)", xname);
    env.addr_bias = ximg->bias;
    env.frame_base.reset();
    env.mem = nullptr;
    env.entry_value = [this, &frames, callee_idx, x, ximg, xname, depth](Dwarf_Attribute* sub, LocInputs* in2) -> Result<uint64_t> {
      VMC_ASSIGN(EntryQuery q2, parse_query(sub, std::nullopt, x));
      return resolve_entry(frames, callee_idx, x, ximg, xname, q2, depth + 1, false, in2);
    };
    env.parameter_ref = [this, &frames, callee_idx, x, ximg, xname, depth](Dwarf_Off off, LocInputs* in2) -> Result<uint64_t> {
      VMC_ASSIGN(EntryQuery q2, parse_query(nullptr, off, x));
      return resolve_entry(frames, callee_idx, x, ximg, xname, q2, depth + 1, false, in2);
    };
    return call_value(*p, q, env, frames, ci, via, in);
  }

  std::string describe_inputs(const std::vector<Frame>& frames, size_t idx, const LocInputs& in) {
    std::vector<std::string> parts;
    for (const auto& e2 : in.entry) parts.push_back(e2);
    for (const auto& r : in.regs) parts.push_back(describe_reg(frames, idx, r.regno, r.loc));
    if (in.cfa) parts.push_back(fmt::format("CFA of #{}", idx));
    if (parts.empty() && in.memory.empty()) return "";
    if (parts.empty()) return "memory";
    return fmt::format("{}", fmt::join(parts, "; "));
  }

  // Bytes and provenance of a parameter whose location is `a`, evaluated
  // at image address `dpc` in frame idx.
  Result<std::pair<std::vector<uint8_t>, std::string>> value_at(const std::vector<Frame>& frames, size_t idx,
                                                                 Dwarf_Attribute* a, Dwarf_Die function, uint64_t dpc,
                                                                 uint64_t size) {
    auto loc = location_at(a, dpc);
    if (!loc) return std::move(loc).error();
    EvalEnv env = env_for(frames, idx, a, 0, function);
    LocInputs in;
    VMC_ASSIGN(auto pieces, eval_location(loc->first, loc->second, env, &in));
    std::vector<uint8_t> bytes;
    std::vector<std::string> src;
    for (const LocPiece& p : pieces) {
      uint64_t psize = p.size ? p.size : size;
      if (psize > (1u << 16)) return make_error(Errc::kBadData, "implausible piece size {}", psize);
      std::vector<uint8_t> b(psize);
      switch (p.kind) {
        case LocPiece::Kind::kRegister: {
          LocInputs rin;
          VMC_ASSIGN(uint64_t rv, frame_register(env, p.regno, &rin));
          if (psize > ws) return make_error(Errc::kUnsupported, "{} bytes cannot come from one register", psize);
          store_uint(b.data(), unsigned(psize), rv, e);
          src.push_back(describe_reg(frames, idx, p.regno, rin.regs.back().loc));
          break;
        }
        case LocPiece::Kind::kMemory: {
          if (std::string why = storage_check(frames[idx], p.addr, psize); !why.empty())
            return make_error(Errc::kNotFound, "{}", why);
          if (Status st = mem.read_virt(p.addr, b); !st)
            return make_error(st.error().code(), "its memory at {:#x} is unreadable: {}", p.addr, st.error().message());
          const Frame& f = frames[idx];
          if (in.regs.empty() && in.entry.empty() && in.cfa && f.cfa)
            src.push_back(fmt::format("stack CFA{} of #{}", signed_off(int64_t(p.addr - *f.cfa)), idx));
          else
            src.push_back(fmt::format("memory at {:#x} (address from {})", p.addr, describe_inputs(frames, idx, in)));
          break;
        }
        case LocPiece::Kind::kValue: {
          // See LocInputs::width_sensitive: on a 64-bit DWARF stack, GCC's
          // expressions for 32-bit C arithmetic can compute another number.
          if (in.width_sensitive && ws > 4)
            return make_error(Errc::kNotFound,
                              "its DWARF expression shifts, divides or compares register contents on the untyped "
                              "{}-bit DWARF stack; compilers write such expressions for narrower C arithmetic, "
                              "which evaluates differently there",
                              ws * 8);
          store_uint(b.data(), unsigned(std::min<uint64_t>(psize, 8)), p.value, e);
          std::string inputs = describe_inputs(frames, idx, in);
          src.push_back(inputs.empty() ? "constant (DWARF expression)"
                        : in.entry.size() == 1 && in.regs.empty() && !in.cfa ? inputs
                                                                               : fmt::format("computed from {}", inputs));
          break;
        }
        case LocPiece::Kind::kBytes:
          if (p.bytes.size() < psize) return make_error(Errc::kBadData, "DW_OP_implicit_value shorter than the value");
          std::copy_n(p.bytes.begin(), psize, b.begin());
          src.push_back("constant (DW_OP_implicit_value)");
          break;
        case LocPiece::Kind::kUnavailable:
        case LocPiece::Kind::kImplicitPointer:
          return make_error(Errc::kNotFound, "{}", p.why);
      }
      bytes.insert(bytes.end(), b.begin(), b.end());
    }
    if (bytes.size() < size) return make_error(Errc::kNotFound, "its location covers only part of the value");
    bytes.resize(size);
    return std::make_pair(std::move(bytes), fmt::format("{}", fmt::join(src, " + ")));
  }

  // The optional illumos-style heuristic (ArgOptions::heuristics, off by
  // default): the parameter's arrival register, from its own DWARF location
  // at the function's entry; the instruction just before the (verified,
  // direct) call in the caller, decoded as a register-to-register mov into
  // that register; its source a callee-saved register known in the caller.
  // Not a proof: a jump could land between the mov and the call, and the
  // function may have changed the parameter since its entry.
  std::optional<std::pair<std::vector<uint8_t>, std::string>> heuristic(const std::vector<Frame>& frames, size_t idx,
                                                                       Dwarf_Attribute* a, Dwarf_Die function,
                                                                       uint64_t size) {
    if (idx + 1 >= frames.size() || frames[idx + 1].pc_exact || size > ws) return std::nullopt;
    const Frame& caller = frames[idx + 1];
    const CodeImage* img = image_of(frames[idx]);
    auto entry = function_entry(img, function);
    if (!img || !entry) return std::nullopt;
    auto loc = location_at(a, *entry - uint64_t(img->bias));
    if (!loc || loc->second != 1) return std::nullopt;
    uint8_t at = loc->first[0].atom;
    if (at < DW_OP_reg0 || at > DW_OP_reg31) return std::nullopt;
    const unsigned arrival = at - DW_OP_reg0;
    // The call, and up to 8 register-to-register movs before it.
    constexpr unsigned kMaxMovs = 8, kWindow = 5 + 3 * kMaxMovs;
    uint8_t b[kWindow];
    if (!mem.read_virt(caller.pc - kWindow, b).ok() || b[kWindow - 5] != kX86CallRel32) return std::nullopt;
    uint64_t target = caller.pc + uint64_t(int64_t(int32_t(load_u32(b + kWindow - 4, Endian::kLittle))));
    if (ws == 4) target &= 0xffffffffu;
    if (target != *entry) return std::nullopt;
    // x86 hardware register number -> DWARF register number (i386's DWARF
    // order is the hardware order).
    static constexpr uint8_t kHwToDwarf64[16] = {0, 2, 1, 3, 7, 6, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15};
    struct Mov { unsigned dst, src; bool wide; };
    // Decodes `[REX] 89|8B modrm(mod=3)` ending at b[end].
    auto mov_ending_at = [&](size_t end, unsigned* len) -> std::optional<Mov> {
      for (unsigned l : {3u, 2u}) {
        if (end < l) continue;
        const uint8_t* p = b + end - l;
        unsigned rex = 0, i = 0;
        if (l == 3) {
          if (ws != 8 || (p[0] & 0xf0) != 0x40) continue;
          rex = p[0];
          i = 1;
        }
        if ((p[i] != 0x89 && p[i] != 0x8b) || (p[i + 1] >> 6) != 3) continue;
        unsigned reg = ((p[i + 1] >> 3) & 7) | ((rex & 4) ? 8 : 0), rm = (p[i + 1] & 7) | ((rex & 1) ? 8 : 0);
        unsigned dst = p[i] == 0x89 ? rm : reg, src = p[i] == 0x89 ? reg : rm;
        *len = l;
        return Mov{ws == 8 ? kHwToDwarf64[dst] : (dst & 7), ws == 8 ? kHwToDwarf64[src] : (src & 7),
                   ws == 4 || (rex & 8) != 0};
      }
      return std::nullopt;
    };
    std::vector<unsigned> written_later;  // registers written after the mov being looked at
    size_t pos = kWindow - 5;
    for (unsigned k = 0; k < kMaxMovs; ++k) {
      unsigned len = 0;
      auto mv = mov_ending_at(pos, &len);
      if (!mv) break;
      pos -= len;
      if (mv->dst != arrival) {
        written_later.push_back(mv->dst);
        continue;
      }
      const RegisterInfo& ri = register_info(m);
      if (std::find(ri.callee_saved.begin(), ri.callee_saved.end(), mv->src) == ri.callee_saved.end()) return std::nullopt;
      if (std::find(written_later.begin(), written_later.end(), mv->src) != written_later.end()) return std::nullopt;
      auto v = caller.regs.get(mv->src);
      if (!v) return std::nullopt;
      uint64_t value = mv->wide ? *v : (*v & 0xffffffffu);  // a 32-bit mov zero-extends
      std::vector<uint8_t> bytes(size);
      store_uint(bytes.data(), unsigned(size), value, e);
      return std::make_pair(std::move(bytes),
                            fmt::format("HEURISTIC, not proven: the caller #{} {} moved {} into {} among the {} "
                                        "instructions before the call; {}. This is the value at entry; the function "
                                        "may have changed it",
                                        idx + 1, frame_name(caller), register_name(m, mv->src), register_name(m, arrival),
                                        k + 1, describe_reg(frames, idx + 1, mv->src, caller.loc[mv->src])));
    }
    return std::nullopt;
  }

  ArgValue recover(const std::vector<Frame>& frames, size_t idx, Dwarf_Die param, Dwarf_Die scope, Dwarf_Die function,
                   uint64_t dwarf_pc) {
    ArgValue v;
    v.name = die_name(param);
    if (v.name.empty()) v.name = "?";
    Dwarf_Attribute ta;
    Dwarf_Die type;
    bool has_type = dwarf_attr_integrate(&param, DW_AT_type, &ta) && dwarf_formref_die(&ta, &type);
    v.type = has_type ? type_name(type) : "?";
    std::optional<uint64_t> size = has_type ? type_size(type, ws) : std::nullopt;
    auto unknown = [&](std::string why) {
      v.known = false;
      v.reason = std::move(why);
      return v;
    };
    if (!size || *size == 0) return unknown("the type's size is unknown");

    Dwarf_Attribute a;
    if (dwarf_attr(&param, DW_AT_const_value, &a)) {
      Dwarf_Word w;
      Dwarf_Sword sw;
      Dwarf_Block blk;
      if (dwarf_formblock(&a, &blk) == 0) {
        v.bytes.assign(blk.data, blk.data + blk.length);
      } else if (dwarf_formsdata(&a, &sw) == 0 || dwarf_formudata(&a, &w) == 0) {
        uint64_t x = dwarf_formsdata(&a, &sw) == 0 ? uint64_t(sw) : w;
        v.bytes.resize(std::min<uint64_t>(*size, 8));
        store_uint(v.bytes.data(), unsigned(v.bytes.size()), x, e);
      } else {
        return unknown("unreadable DW_AT_const_value");
      }
      v.source = "constant (DW_AT_const_value)";
      v.known = true;
    } else {
      if (!dwarf_attr(&param, DW_AT_location, &a)) return unknown("optimized out (no location)");
      auto r = value_at(frames, idx, &a, function, dwarf_pc, *size);
      // A caller frame's state is the state at its call instruction (pc-1);
      // the location list entry starting at the return address describes
      // the same moment (no instruction of the caller has run since), and
      // may name a register the callee preserves where pc-1's entry names
      // one it clobbers.
      const uint64_t ret = dwarf_pc + 1;
      if (!r && !frames[idx].pc_exact && dwarf_haspc(&scope, ret) == 1) {
        if (auto r2 = value_at(frames, idx, &a, function, ret, *size)) {
          r2->second += " (location list at the return address)";
          r = std::move(r2);
        }
      }
      if (r) {
        v.bytes = std::move(r->first);
        v.source = std::move(r->second);
        v.known = true;
      } else if (auto h = o.heuristics && signature_note(image_of(frames[idx]), frames[idx], function).empty()
                              ? heuristic(frames, idx, &a, function, *size)
                              : std::nullopt) {
        // Off by default, and marked: never mixed with proven values.
        v.bytes = std::move(h->first);
        v.source = std::move(h->second);
        v.known = true;
        v.heuristic = true;
      } else {
        return unknown(r.error().message());
      }
    }
    if (v.bytes.size() <= 8) v.raw = load_uint(v.bytes.data(), unsigned(v.bytes.size()), e);
    ValueContext ctx;
    ctx.mem = &mem;
    ctx.endian = e;
    ctx.ptr_size = ws;
    ctx.symbolize = o.symbolize;
    ctx.max_string = o.max_string;
    v.display = has_type ? display_value(type, v.bytes, ctx) : "";
    if (o.fault_address && v.bytes.size() <= 8 && v.raw == *o.fault_address && v.raw != 0) v.fault_address = true;
    return v;
  }

  // Formal parameters of `scope` in source order, with their concrete DIE
  // when the concrete instance has one.
  std::vector<std::pair<Dwarf_Die, bool>> params_of(Dwarf_Die scope, std::vector<std::string>* notes) {
    std::vector<Dwarf_Die> concrete;
    Dwarf_Die c;
    if (dwarf_child(&scope, &c) == 0) {
      do {
        if (dwarf_tag(&c) == DW_TAG_formal_parameter && concrete.size() < kMaxParams) concrete.push_back(c);
      } while (dwarf_siblingof(&c, &c) == 0);
    }
    Dwarf_Die origin = die_origin(scope);
    std::vector<Dwarf_Die> abstract;
    if (dwarf_dieoffset(&origin) != dwarf_dieoffset(&scope) && dwarf_child(&origin, &c) == 0) {
      do {
        if (dwarf_tag(&c) == DW_TAG_formal_parameter && abstract.size() < kMaxParams) abstract.push_back(c);
      } while (dwarf_siblingof(&c, &c) == 0);
    }
    std::vector<std::pair<Dwarf_Die, bool>> out;
    if (abstract.empty()) {
      for (auto& d : concrete)
        if (!has_flag(&d, DW_AT_artificial)) out.emplace_back(d, true);
      return out;
    }
    // Map concrete parameters to their abstract origins; note reordering.
    size_t last_pos = 0;
    bool reordered = false;
    for (size_t i = 0; i < abstract.size(); ++i) {
      bool found = false;
      for (size_t k = 0; k < concrete.size(); ++k) {
        Dwarf_Attribute a;
        Dwarf_Die o2;
        if (dwarf_attr(&concrete[k], DW_AT_abstract_origin, &a) && dwarf_formref_die(&a, &o2) &&
            dwarf_dieoffset(&o2) == dwarf_dieoffset(&abstract[i])) {
          if (k < last_pos) reordered = true;
          last_pos = k;
          out.emplace_back(concrete[k], true);
          found = true;
          break;
        }
      }
      if (!found) out.emplace_back(abstract[i], false);
    }
    if (reordered && notes) notes->push_back("parameters are reordered relative to the source declaration");
    return out;
  }
};

ArgRecovery::ArgRecovery(Machine m, Endian e, VirtualMemory& mem, const CodeMap& code, ArgOptions o)
    : impl_(std::make_unique<Impl>(m, e, mem, code, std::move(o))) {}
ArgRecovery::~ArgRecovery() = default;

std::string ArgRecovery::frame_function(const Frame& f) { return impl_->frame_name(f); }

void ArgRecovery::set_thread(std::vector<StackRange> stacks, std::optional<uint64_t> fault_address) {
  impl_->stacks = std::move(stacks);
  impl_->o.fault_address = fault_address;
}

std::vector<FunctionFrame> ArgRecovery::describe(const std::vector<Frame>& frames, size_t index) {
  Impl& I = *impl_;
  const Frame& f = frames[index];
  const CodeImage* img = I.image_of(f);
  const uint64_t lpc = I.lookup_pc(f);
  const Symbol* sym = I.symbol_for(img, lpc);
  std::vector<FunctionFrame> out;
  DwarfIndex* idx = I.index_of(img);
  std::vector<Dwarf_Die> scopes;
  uint64_t dpc = img ? lpc - uint64_t(img->bias) : lpc;
  if (idx && (!img->elf || img->elf->debug_relocation_complete())) scopes = idx->function_scopes(dpc);
  if (scopes.empty()) {
    FunctionFrame ff;
    ff.function = sym ? std::string(sym->name) : "";
    ff.symbol = ff.function;
    if (sym) ff.offset = f.pc - I.symbol_runtime(img, sym);
    ff.args_error = !img ? "the pc is in no known code"
                    : !img->dwarf ? fmt::format("no debug info for {}", img->name)
                    : img->elf && !img->elf->debug_relocation_complete() ? fmt::format("the debug info of {} could not be fully relocated", img->name)
                                                                         : "no DWARF function covers this pc";
    out.push_back(std::move(ff));
    return out;
  }
  Dwarf_Die physical = scopes.back();
  std::vector<std::string> notes;
  // pahole's signature rules: a clone's parameters may not be the source's
  // in the source's registers. Values here never rest on the calling
  // convention (only on DWARF locations, call sites and verified calls), so
  // this is a note for the reader, not a veto.
  if (std::string d = I.signature_note(img, f, physical); !d.empty()) notes.push_back(d);
  auto line = idx->line_for(dpc);
  for (size_t i = 0; i < scopes.size(); ++i) {
    FunctionFrame ff;
    Dwarf_Die sc = scopes[i];
    ff.inlined = dwarf_tag(&sc) == DW_TAG_inlined_subroutine;
    ff.function = die_name(sc);
    ff.symbol = sym ? std::string(sym->name) : "";
    // Offsets are from the ELF symbol, as in the kernel's own backtraces
    // (a function split into hot and .cold parts has two symbols).
    if (sym) ff.offset = f.pc - I.symbol_runtime(img, sym);
    else if (auto en = die_entry(physical)) ff.offset = dpc + (f.pc_exact ? 0 : 1) - *en;
    if (i == 0) {
      if (line) { ff.file = line->file; ff.line = line->line; }
    } else {
      // Where the inlined function below was called from.
      Dwarf_Attribute a;
      Dwarf_Word w;
      Dwarf_Die below = scopes[i - 1];
      Dwarf_Files* files;
      size_t nfiles;
      Dwarf_Die cu;
      if (dwarf_attr(&below, DW_AT_call_line, &a) && dwarf_formudata(&a, &w) == 0) ff.line = int(w);
      if (dwarf_attr(&below, DW_AT_call_file, &a) && dwarf_formudata(&a, &w) == 0 &&
          dwarf_diecu(&below, &cu, nullptr, nullptr) && dwarf_getsrcfiles(&cu, &files, &nfiles) == 0 && w < nfiles)
        if (const char* fn = dwarf_filesrc(files, w, nullptr, nullptr)) ff.file = fn;
    }
    ff.trust_notes = notes;
    for (auto& [pd, concrete] : I.params_of(sc, &ff.trust_notes)) {
      if (ff.args.size() >= kMaxParams) break;
      if (!concrete) {
        ArgValue v;
        v.name = die_name(pd);
        Dwarf_Attribute ta;
        Dwarf_Die type;
        v.type = dwarf_attr_integrate(&pd, DW_AT_type, &ta) && dwarf_formref_die(&ta, &type) ? type_name(type) : "?";
        v.reason = "optimized out (not described in this instance)";
        ff.args.push_back(std::move(v));
        continue;
      }
      ff.args.push_back(I.recover(frames, index, pd, sc, physical, dpc));
    }
    out.push_back(std::move(ff));
  }
  return out;
}

}  // namespace vmc
