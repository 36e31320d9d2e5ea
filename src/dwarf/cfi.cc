#include "dwarf/cfi.h"

#include <dwarf.h>

#include <array>
#include <cstdlib>
#include <memory>
#include <vector>

namespace vmc {

namespace {

constexpr size_t kMaxStack = 64;

struct FrameDeleter {
  void operator()(Dwarf_Frame* f) const { std::free(f); }
};

class Evaluator {
 public:
  Evaluator(std::span<const Dwarf_Op> ops, const CfiContext& ctx, std::optional<uint64_t> cfa)
      : ops_(ops), ctx_(ctx), cfa_(cfa), ws_(machine_info(ctx.machine).ptr_size) {}

  Result<CfiExprResult> run() {
    if (ops_.empty()) return make_error(Errc::kBadData, "empty CFI expression");
    // A lone register operation names a register, not a value.
    if (ops_.size() == 1) {
      uint8_t a = ops_[0].atom;
      if (a >= DW_OP_reg0 && a <= DW_OP_reg31) return CfiExprResult{CfiExprResult::Kind::kRegister, uint64_t(a - DW_OP_reg0)};
      if (a == DW_OP_regx) return CfiExprResult{CfiExprResult::Kind::kRegister, ops_[0].number};
    }
    size_t pc = 0;
    unsigned steps = 0;
    bool is_value = false;
    while (pc < ops_.size()) {
      if (++steps > ctx_.max_steps)
        return make_error(Errc::kLimit, "CFI expression exceeds {} steps", ctx_.max_steps);
      const Dwarf_Op& op = ops_[pc];
      size_t next = pc + 1;
      uint8_t a = op.atom;
      if (a >= DW_OP_lit0 && a <= DW_OP_lit31) {
        VMC_TRY(push(a - DW_OP_lit0));
      } else if (a >= DW_OP_breg0 && a <= DW_OP_breg31) {
        VMC_ASSIGN(uint64_t r, reg(a - DW_OP_breg0));
        VMC_TRY(push(r + op.number));
      } else if (a >= DW_OP_reg0 && a <= DW_OP_reg31) {
        return make_error(Errc::kUnsupported, "DW_OP_reg{} inside a CFI expression", a - DW_OP_reg0);
      } else {
        switch (a) {
          case DW_OP_addr: VMC_TRY(push(op.number + uint64_t(ctx_.bias))); break;
          case DW_OP_const1u: case DW_OP_const2u: case DW_OP_const4u: case DW_OP_const8u:
          case DW_OP_const1s: case DW_OP_const2s: case DW_OP_const4s: case DW_OP_const8s:
          case DW_OP_constu: case DW_OP_consts:
            VMC_TRY(push(op.number));
            break;
          case DW_OP_bregx: {
            VMC_ASSIGN(uint64_t r, reg(op.number));
            VMC_TRY(push(r + op.number2));
            break;
          }
          case DW_OP_call_frame_cfa:
            if (!cfa_) return make_error(Errc::kBadData, "DW_OP_call_frame_cfa while computing the CFA itself");
            VMC_TRY(push(*cfa_));
            break;
          case DW_OP_dup: { VMC_ASSIGN(uint64_t x, peek(0)); VMC_TRY(push(x)); break; }
          case DW_OP_drop: VMC_TRY(pop().ok() ? Status{} : underflow()); break;
          case DW_OP_over: { VMC_ASSIGN(uint64_t x, peek(1)); VMC_TRY(push(x)); break; }
          case DW_OP_pick: { VMC_ASSIGN(uint64_t x, peek(op.number)); VMC_TRY(push(x)); break; }
          case DW_OP_swap: {
            VMC_ASSIGN(uint64_t x, pop());
            VMC_ASSIGN(uint64_t y, pop());
            VMC_TRY(push(x)); VMC_TRY(push(y));
            break;
          }
          case DW_OP_rot: {
            VMC_ASSIGN(uint64_t x, pop());
            VMC_ASSIGN(uint64_t y, pop());
            VMC_ASSIGN(uint64_t z, pop());
            VMC_TRY(push(x)); VMC_TRY(push(z)); VMC_TRY(push(y));
            break;
          }
          case DW_OP_deref: {
            VMC_ASSIGN(uint64_t x, pop());
            VMC_ASSIGN(uint64_t v, load(x, ws_));
            VMC_TRY(push(v));
            break;
          }
          case DW_OP_deref_size: {
            if (op.number == 0 || op.number > ws_)
              return make_error(Errc::kBadData, "DW_OP_deref_size {} on a {}-byte machine", op.number, ws_);
            VMC_ASSIGN(uint64_t x, pop());
            VMC_ASSIGN(uint64_t v, load(x, unsigned(op.number)));
            VMC_TRY(push(v));
            break;
          }
          case DW_OP_abs: { VMC_ASSIGN(uint64_t x, pop()); int64_t s = sx(x); VMC_TRY(push(uint64_t(s < 0 ? -s : s))); break; }
          case DW_OP_neg: { VMC_ASSIGN(uint64_t x, pop()); VMC_TRY(push(uint64_t(-sx(x)))); break; }
          case DW_OP_not: { VMC_ASSIGN(uint64_t x, pop()); VMC_TRY(push(~x)); break; }
          case DW_OP_plus_uconst: { VMC_ASSIGN(uint64_t x, pop()); VMC_TRY(push(x + op.number)); break; }
          case DW_OP_and: case DW_OP_or: case DW_OP_xor: case DW_OP_plus: case DW_OP_minus: case DW_OP_mul:
          case DW_OP_div: case DW_OP_mod: case DW_OP_shl: case DW_OP_shr: case DW_OP_shra:
          case DW_OP_eq: case DW_OP_ne: case DW_OP_lt: case DW_OP_le: case DW_OP_gt: case DW_OP_ge: {
            VMC_ASSIGN(uint64_t b, pop());
            VMC_ASSIGN(uint64_t x, pop());
            VMC_ASSIGN(uint64_t r, binary(a, x, b));
            VMC_TRY(push(r));
            break;
          }
          case DW_OP_skip: case DW_OP_bra: {
            bool take = true;
            if (a == DW_OP_bra) {
              VMC_ASSIGN(uint64_t c, pop());
              take = c != 0;
            }
            if (take) {
              // libdw keeps each op's byte offset; the operand is relative
              // to the end of this 3-byte instruction.
              uint64_t target = op.offset + 3 + uint64_t(int64_t(int16_t(op.number)));
              bool found = false;
              for (size_t i = 0; i < ops_.size(); ++i) {
                // libdw marks the DW_OP_call_frame_cfa it prepends to
                // DW_CFA_expression rules with offset -1.
                if (ops_[i].offset == ~Dwarf_Word(0)) continue;
                if (ops_[i].offset == target) {
                  next = i;
                  found = true;
                  break;
                }
              }
              // libdw does not record operand sizes: a target past the last
              // operation's start is taken as the end of the expression.
              if (!found && target > ops_.back().offset) {
                next = ops_.size();
                found = true;
              }
              if (!found) return make_error(Errc::kBadData, "CFI expression branches to offset {:#x}, not an operation", target);
            }
            break;
          }
          case DW_OP_nop: break;
          case DW_OP_stack_value:
            is_value = true;
            next = ops_.size();
            break;
          default:
            return make_error(Errc::kUnsupported, "DWARF operation {:#x} is not supported in CFI", a);
        }
      }
      pc = next;
    }
    VMC_ASSIGN(uint64_t top, pop());
    return CfiExprResult{is_value ? CfiExprResult::Kind::kValue : CfiExprResult::Kind::kMemory, top};
  }

 private:
  uint64_t mask(uint64_t v) const { return ws_ == 4 ? (v & 0xffffffffu) : v; }
  int64_t sx(uint64_t v) const { return ws_ == 4 ? int64_t(int32_t(uint32_t(v))) : int64_t(v); }
  Status underflow() const { return make_error(Errc::kBadData, "CFI expression stack underflow"); }
  Status push(uint64_t v) {
    if (stack_.size() >= kMaxStack) return make_error(Errc::kLimit, "CFI expression stack deeper than {}", kMaxStack);
    stack_.push_back(mask(v));
    return {};
  }
  Result<uint64_t> pop() {
    if (stack_.empty()) return make_error(Errc::kBadData, "CFI expression stack underflow");
    uint64_t v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Result<uint64_t> peek(uint64_t depth) const {
    if (depth >= stack_.size()) return make_error(Errc::kBadData, "CFI expression stack underflow");
    return stack_[stack_.size() - 1 - depth];
  }
  Result<uint64_t> reg(uint64_t regno) const {
    if (regno >= RegisterSet::kMax || !ctx_.regs || !ctx_.regs->has(unsigned(regno)))
      return make_error(Errc::kNotFound, "{} is not known in this frame",
                        register_name(ctx_.machine, unsigned(regno)) == "?"
                            ? fmt::format("DWARF register {}", regno)
                            : std::string(register_name(ctx_.machine, unsigned(regno))));
    return mask(*ctx_.regs->get(unsigned(regno)));
  }
  Result<uint64_t> load(uint64_t addr, unsigned size) const {
    if (!ctx_.mem) return make_error(Errc::kUsage, "no memory to dereference {:#x}", addr);
    std::array<uint8_t, 8> b{};
    Status s = ctx_.mem->read_virt(addr, std::span(b.data(), size));
    if (!s) return std::move(s).error().context(fmt::format("CFI expression reading {} bytes at {:#x}", size, addr));
    return load_uint(b.data(), size, machine_info(ctx_.machine).endian);
  }
  Result<uint64_t> binary(uint8_t a, uint64_t x, uint64_t b) const {
    unsigned bits = ws_ * 8;
    switch (a) {
      case DW_OP_and: return x & b;
      case DW_OP_or: return x | b;
      case DW_OP_xor: return x ^ b;
      case DW_OP_plus: return x + b;
      case DW_OP_minus: return x - b;
      case DW_OP_mul: return x * b;
      case DW_OP_div:
        if (sx(b) == 0) return make_error(Errc::kBadData, "CFI expression divides by zero");
        if (sx(b) == -1) return uint64_t(-sx(x));
        return uint64_t(sx(x) / sx(b));
      case DW_OP_mod:
        if (b == 0) return make_error(Errc::kBadData, "CFI expression divides by zero");
        return x % b;
      case DW_OP_shl: return b >= bits ? 0 : x << b;
      case DW_OP_shr: return b >= bits ? 0 : x >> b;
      case DW_OP_shra: return b >= bits ? uint64_t(sx(x) < 0 ? -1 : 0) : uint64_t(sx(x) >> b);
      case DW_OP_eq: return uint64_t(sx(x) == sx(b));
      case DW_OP_ne: return uint64_t(sx(x) != sx(b));
      case DW_OP_lt: return uint64_t(sx(x) < sx(b));
      case DW_OP_le: return uint64_t(sx(x) <= sx(b));
      case DW_OP_gt: return uint64_t(sx(x) > sx(b));
      case DW_OP_ge: return uint64_t(sx(x) >= sx(b));
      default: return make_error(Errc::kUnsupported, "DWARF operation {:#x}", a);
    }
  }

  std::span<const Dwarf_Op> ops_;
  const CfiContext& ctx_;
  std::optional<uint64_t> cfa_;
  unsigned ws_;
  std::vector<uint64_t> stack_;
};

}  // namespace

bool is_memory_error(Errc c) {
  switch (c) {
    case Errc::kIo: case Errc::kTruncated: case Errc::kNotInDump: case Errc::kExcluded: case Errc::kNotMapped:
    case Errc::kNonCanonical: case Errc::kBadData:
      return true;
    default:
      return false;
  }
}

Result<CfiExprResult> eval_cfi_expr(std::span<const Dwarf_Op> ops, const CfiContext& ctx, std::optional<uint64_t> cfa) {
  if (machine_info(ctx.machine).ptr_size != 4 && machine_info(ctx.machine).ptr_size != 8)
    return make_error(Errc::kUsage, "CFI evaluation for an unknown machine");
  Evaluator ev(ops, ctx, cfa);
  return ev.run();
}

Result<CfiRow> cfi_row(Dwarf_CFI* cfi, uint64_t image_pc, const CfiContext& ctx) {
  if (!cfi) return make_error(Errc::kNotFound, "no CFI");
  Dwarf_Frame* raw = nullptr;
  if (dwarf_cfi_addrframe(cfi, image_pc, &raw) != 0 || !raw)
    return make_error(Errc::kNotFound, "no CFI covers image address {:#x} ({})", image_pc, dwarf_errmsg(-1));
  std::unique_ptr<Dwarf_Frame, FrameDeleter> frame(raw);

  CfiRow row;
  Dwarf_Addr start = 0, end = 0;
  bool signal = false;
  int ra = dwarf_frame_info(frame.get(), &start, &end, &signal);
  if (ra < 0) return make_error(Errc::kBadData, "CFI at {:#x}: no return-address column ({})", image_pc, dwarf_errmsg(-1));
  row.ra_column = unsigned(ra);
  row.signal_frame = signal;
  row.start = start;
  row.end = end;

  Dwarf_Op* ops = nullptr;
  size_t nops = 0;
  if (dwarf_frame_cfa(frame.get(), &ops, &nops) != 0)
    return make_error(Errc::kBadData, "CFI at {:#x}: bad CFA rule ({})", image_pc, dwarf_errmsg(-1));
  if (nops == 0) return make_error(Errc::kNotFound, "CFI at {:#x} leaves the CFA undefined", image_pc);
  auto cfa = eval_cfi_expr(std::span<const Dwarf_Op>(ops, nops), ctx, std::nullopt);
  if (!cfa) return std::move(cfa).error().context(fmt::format("CFA at image address {:#x}", image_pc));
  if (cfa->kind == CfiExprResult::Kind::kRegister)
    return make_error(Errc::kBadData, "CFI at {:#x}: CFA names a register location", image_pc);
  row.cfa = cfa->v;
  if (nops == 1 && ops[0].atom == DW_OP_bregx) row.cfa_reg = unsigned(ops[0].number);
  if (nops == 1 && ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) row.cfa_reg = unsigned(ops[0].atom - DW_OP_breg0);
  // A DW_CFA_def_cfa_expression yields the CFA's value (no stack_value, but
  // the CFA is a value by definition); bregx form likewise.

  for (unsigned r = 0; r < RegisterSet::kMax; ++r) {
    Dwarf_Op mem[3];
    Dwarf_Op* rops = nullptr;
    size_t rn = 0;
    CfiRule& rule = row.rules[r];
    if (dwarf_frame_register(frame.get(), int(r), mem, &rops, &rn) != 0) {
      rule.kind = CfiRule::Kind::kError;
      rule.error = fmt::format("libdw: {}", dwarf_errmsg(-1));
      continue;
    }
    if (rn == 0) {
      rule.kind = rops == nullptr ? CfiRule::Kind::kSameValue : CfiRule::Kind::kUndefined;
      continue;
    }
    auto res = eval_cfi_expr(std::span<const Dwarf_Op>(rops, rn), ctx, row.cfa);
    if (!res) {
      rule.kind = CfiRule::Kind::kError;
      rule.error = res.error().message();
      continue;
    }
    switch (res->kind) {
      case CfiExprResult::Kind::kMemory: rule.kind = CfiRule::Kind::kSavedAt; break;
      case CfiExprResult::Kind::kValue: rule.kind = CfiRule::Kind::kValue; break;
      case CfiExprResult::Kind::kRegister: rule.kind = CfiRule::Kind::kRegister; break;
    }
    rule.v = res->v;
  }
  return row;
}

}  // namespace vmc
