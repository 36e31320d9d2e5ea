#include "dwarf/location.h"

#include <array>

namespace vmc {

namespace {

constexpr size_t kMaxStack = 64;

LocPiece piece(LocPiece::Kind k, unsigned regno = 0) {
  LocPiece p;
  p.kind = k;
  p.regno = regno;
  return p;
}

bool is_reg_op(uint8_t a) { return a >= DW_OP_reg0 && a <= DW_OP_reg31; }
bool is_breg_op(uint8_t a) { return a >= DW_OP_breg0 && a <= DW_OP_breg31; }

}  // namespace

Result<uint64_t> frame_register(const EvalEnv& env, unsigned regno, LocInputs* in) {
  const Frame& f = *env.frame;
  auto v = f.regs.get(regno);
  if (!v) {
    const RegisterInfo& ri = register_info(env.machine);
    bool callee_saved = std::find(ri.callee_saved.begin(), ri.callee_saved.end(), regno) != ri.callee_saved.end();
    std::string why;
    if (f.pc_exact) why = "not in the registers the dump holds for this frame";
    else if (callee_saved) why = "callee-saved, but no deeper frame's unwind data says where it was saved";
    else why = "caller-saved: not preserved across the call this frame is making";
    return make_error(Errc::kNotFound, "{} is unknown in {} ({})", register_name(env.machine, regno), env.frame_label, why);
  }
  if (in) in->regs.push_back({regno, f.loc[regno]});
  return *v;
}

Result<std::vector<LocPiece>> eval_location(const Dwarf_Op* ops, size_t n, const EvalEnv& env, LocInputs* in) {
  const uint64_t mask = env.addr_size == 4 ? 0xffffffffULL : ~0ULL;
  std::vector<uint64_t> st;
  std::vector<bool> tainted;  // parallel to st: derived from registers, memory or entry values
  bool taint_next = false;    // the next push carries taint
  std::vector<LocPiece> pieces;
  std::optional<LocPiece> pending;  // location named by the last op before a piece
  auto push = [&](uint64_t v) -> Status {
    if (st.size() >= kMaxStack) return make_error(Errc::kLimit, "DWARF expression stack overflow");
    st.push_back(v & mask);
    tainted.push_back(taint_next);
    taint_next = false;
    return {};
  };
  bool popped_taint = false;  // taint of the operands popped since the last push
  auto pop = [&](uint64_t* v) -> Status {
    if (st.empty()) return make_error(Errc::kBadData, "DWARF expression pops an empty stack");
    *v = st.back();
    popped_taint = popped_taint || tainted.back();
    st.pop_back();
    tainted.pop_back();
    return {};
  };
  // Sign extension `const K; shl; const K; shra` ending at ops[i-1] (the shra).
  auto sign_extension_idiom = [&](size_t i) {
    if (i < 4) return false;
    const Dwarf_Op& k2 = ops[i - 2];
    const Dwarf_Op& sh = ops[i - 3];
    const Dwarf_Op& k1 = ops[i - 4];
    auto is_const = [](const Dwarf_Op& o) {
      return (o.atom >= DW_OP_lit0 && o.atom <= DW_OP_lit31) || o.atom == DW_OP_const1u || o.atom == DW_OP_constu;
    };
    auto val = [](const Dwarf_Op& o) { return o.atom >= DW_OP_lit0 && o.atom <= DW_OP_lit31 ? uint64_t(o.atom - DW_OP_lit0) : o.number; };
    return is_const(k1) && is_const(k2) && sh.atom == DW_OP_shl && val(k1) == val(k2);
  };
  auto read_mem = [&](uint64_t addr, unsigned size, uint64_t* out) -> Status {
    if (!env.mem) return make_error(Errc::kNotFound, "no memory to dereference {:#x}", addr);
    std::array<uint8_t, 8> b{};
    if (size == 0 || size > 8) return make_error(Errc::kBadData, "dereference of {} bytes", size);
    VMC_TRY(env.mem->read_virt(addr, std::span(b.data(), size)));
    if (in) in->memory.push_back(addr);
    *out = load_uint(b.data(), size, env.endian);
    return {};
  };
  auto finish_piece = [&](uint64_t size) -> Status {
    LocPiece p;
    if (pending) {
      p = *pending;
      pending.reset();
    } else if (!st.empty()) {
      p.kind = LocPiece::Kind::kMemory;
      VMC_TRY(pop(&p.addr));
    } else {
      p.kind = LocPiece::Kind::kUnavailable;
      p.why = "optimized out (empty piece)";
    }
    p.size = size;
    pieces.push_back(std::move(p));
    st.clear();
    return {};
  };

  size_t i = 0;
  unsigned steps = 0;
  while (i < n) {
    if (++steps > env.max_steps) return make_error(Errc::kLimit, "DWARF expression ran more than {} steps", env.max_steps);
    const Dwarf_Op& op = ops[i];
    const uint8_t a = op.atom;
    ++i;
    if (pending && a != DW_OP_piece && a != DW_OP_bit_piece)
      return make_error(Errc::kBadData, "DWARF op {:#x} after a register/value location", a);
    if (a >= DW_OP_lit0 && a <= DW_OP_lit31) { VMC_TRY(push(a - DW_OP_lit0)); continue; }
    if (is_reg_op(a) || a == DW_OP_regx) {
      pending = piece(LocPiece::Kind::kRegister, unsigned(is_reg_op(a) ? a - DW_OP_reg0 : op.number));
      continue;
    }
    if (is_breg_op(a) || a == DW_OP_bregx) {
      unsigned r = unsigned(is_breg_op(a) ? a - DW_OP_breg0 : op.number);
      int64_t off = int64_t(is_breg_op(a) ? op.number : op.number2);
      VMC_ASSIGN(uint64_t v, frame_register(env, r, in));
      taint_next = true;
      VMC_TRY(push(v + uint64_t(off)));
      continue;
    }
    switch (a) {
      case DW_OP_addr:
        VMC_TRY(push(op.number + uint64_t(env.addr_bias)));
        break;
      case DW_OP_addrx:
      case DW_OP_GNU_addr_index: {
        Dwarf_Attribute res;
        Dwarf_Addr ad;
        if (!env.attr || dwarf_getlocation_attr(env.attr, &op, &res) != 0 || dwarf_formaddr(&res, &ad) != 0)
          return make_error(Errc::kBadData, "DW_OP_addrx {} cannot be resolved", op.number);
        VMC_TRY(push(ad + uint64_t(env.addr_bias)));
        break;
      }
      case DW_OP_const1u: case DW_OP_const1s: case DW_OP_const2u: case DW_OP_const2s:
      case DW_OP_const4u: case DW_OP_const4s: case DW_OP_const8u: case DW_OP_const8s:
      case DW_OP_constu: case DW_OP_consts:
        VMC_TRY(push(op.number));
        break;
      case DW_OP_fbreg:
        if (!env.frame_base) return make_error(Errc::kNotFound, "the frame base of {} is unknown", env.frame_label);
        if (in) in->cfa = true;
        VMC_TRY(push(*env.frame_base + op.number));
        break;
      case DW_OP_call_frame_cfa:
        if (!env.frame->cfa) return make_error(Errc::kNotFound, "the CFA of {} is unknown", env.frame_label);
        if (in) in->cfa = true;
        VMC_TRY(push(*env.frame->cfa));
        break;
      case DW_OP_dup:
        if (st.empty()) return make_error(Errc::kBadData, "DW_OP_dup on an empty stack");
        taint_next = tainted.back();
        VMC_TRY(push(st.back()));
        break;
      case DW_OP_drop: { uint64_t x; VMC_TRY(pop(&x)); break; }
      case DW_OP_over:
        if (st.size() < 2) return make_error(Errc::kBadData, "DW_OP_over needs two entries");
        taint_next = tainted[st.size() - 2];
        VMC_TRY(push(st[st.size() - 2]));
        break;
      case DW_OP_pick:
        if (op.number >= st.size()) return make_error(Errc::kBadData, "DW_OP_pick {} beyond the stack", op.number);
        taint_next = tainted[st.size() - 1 - op.number];
        VMC_TRY(push(st[st.size() - 1 - op.number]));
        break;
      case DW_OP_swap: {
        if (st.size() < 2) return make_error(Errc::kBadData, "DW_OP_swap needs two entries");
        std::swap(st[st.size() - 1], st[st.size() - 2]);
        bool t = tainted[st.size() - 1];
        tainted[st.size() - 1] = tainted[st.size() - 2];
        tainted[st.size() - 2] = t;
        break;
      }
      case DW_OP_rot: {
        if (st.size() < 3) return make_error(Errc::kBadData, "DW_OP_rot needs three entries");
        std::rotate(st.end() - 3, st.end() - 1, st.end());
        std::vector<bool> t3 = {tainted[st.size() - 3], tainted[st.size() - 2], tainted[st.size() - 1]};
        tainted[st.size() - 3] = t3[2];
        tainted[st.size() - 2] = t3[0];
        tainted[st.size() - 1] = t3[1];
        break;
      }
      case DW_OP_deref: {
        uint64_t ad, v;
        VMC_TRY(pop(&ad));
        VMC_TRY(read_mem(ad, env.addr_size, &v));
        taint_next = true;
        VMC_TRY(push(v));
        break;
      }
      case DW_OP_deref_size: {
        uint64_t ad, v;
        VMC_TRY(pop(&ad));
        VMC_TRY(read_mem(ad, unsigned(op.number), &v));
        taint_next = true;
        VMC_TRY(push(v));
        break;
      }
      case DW_OP_abs: { popped_taint = false; uint64_t x; VMC_TRY(pop(&x)); taint_next = popped_taint; int64_t s = sign_extend(x, env.addr_size * 8); VMC_TRY(push(uint64_t(s < 0 ? -s : s))); break; }
      case DW_OP_neg: { popped_taint = false; uint64_t x; VMC_TRY(pop(&x)); taint_next = popped_taint; VMC_TRY(push(uint64_t(-int64_t(x)))); break; }
      case DW_OP_not: { popped_taint = false; uint64_t x; VMC_TRY(pop(&x)); taint_next = popped_taint; VMC_TRY(push(~x)); break; }
      case DW_OP_plus_uconst: { popped_taint = false; uint64_t x; VMC_TRY(pop(&x)); taint_next = popped_taint; VMC_TRY(push(x + op.number)); break; }
      case DW_OP_and: case DW_OP_or: case DW_OP_xor: case DW_OP_plus: case DW_OP_minus: case DW_OP_mul:
      case DW_OP_div: case DW_OP_mod: case DW_OP_shl: case DW_OP_shr: case DW_OP_shra:
      case DW_OP_eq: case DW_OP_ne: case DW_OP_lt: case DW_OP_gt: case DW_OP_le: case DW_OP_ge: {
        uint64_t b, x;
        popped_taint = false;
        VMC_TRY(pop(&b));
        VMC_TRY(pop(&x));
        const bool operands_tainted = popped_taint;
        if (operands_tainted && in && a != DW_OP_and && a != DW_OP_or && a != DW_OP_xor && a != DW_OP_plus &&
            a != DW_OP_minus && a != DW_OP_mul && a != DW_OP_shl && !(a == DW_OP_shra && sign_extension_idiom(i)))
          in->width_sensitive = true;
        taint_next = operands_tainted;
        const unsigned bits = env.addr_size * 8;
        int64_t sx = sign_extend(x, bits), sb = sign_extend(b, bits);
        uint64_t r = 0;
        switch (a) {
          case DW_OP_and: r = x & b; break;
          case DW_OP_or: r = x | b; break;
          case DW_OP_xor: r = x ^ b; break;
          case DW_OP_plus: r = x + b; break;
          case DW_OP_minus: r = x - b; break;
          case DW_OP_mul: r = x * b; break;
          case DW_OP_div:
            if (sb == 0) return make_error(Errc::kBadData, "DW_OP_div by zero");
            r = uint64_t(sx / sb);
            break;
          case DW_OP_mod:
            if (b == 0) return make_error(Errc::kBadData, "DW_OP_mod by zero");
            r = x % b;
            break;
          case DW_OP_shl: r = b >= 64 ? 0 : x << b; break;
          case DW_OP_shr: r = b >= 64 ? 0 : x >> b; break;
          case DW_OP_shra: r = uint64_t(b >= 64 ? (sx < 0 ? -1 : 0) : sx >> b); break;
          case DW_OP_eq: r = sx == sb; break;
          case DW_OP_ne: r = sx != sb; break;
          case DW_OP_lt: r = sx < sb; break;
          case DW_OP_gt: r = sx > sb; break;
          case DW_OP_le: r = sx <= sb; break;
          case DW_OP_ge: r = sx >= sb; break;
        }
        VMC_TRY(push(r));
        break;
      }
      case DW_OP_skip:
      case DW_OP_bra: {
        bool jump = true;
        if (a == DW_OP_bra) {
          uint64_t c;
          VMC_TRY(pop(&c));
          jump = c != 0;
        }
        if (jump) {
          // Target byte offset: this op's offset + 3 (opcode + 2-byte operand) + delta.
          uint64_t target = op.offset + 3 + uint64_t(int64_t(int16_t(op.number)));
          size_t k = 0;
          while (k < n && ops[k].offset != target) ++k;
          if (k == n && !(n > 0 && target == ops[n - 1].offset + 1))
            return make_error(Errc::kBadData, "DWARF branch to offset {:#x} that is no operation", target);
          i = k;
        }
        break;
      }
      case DW_OP_nop:
        break;
      case DW_OP_stack_value: {
        uint64_t v;
        VMC_TRY(pop(&v));
        pending = piece(LocPiece::Kind::kValue);
        pending->value = v;
        break;
      }
      case DW_OP_implicit_value: {
        Dwarf_Block blk;
        if (!env.attr || dwarf_getlocation_implicit_value(env.attr, &op, &blk) != 0)
          return make_error(Errc::kBadData, "DW_OP_implicit_value without its block");
        pending = piece(LocPiece::Kind::kBytes);
        pending->bytes.assign(blk.data, blk.data + blk.length);
        break;
      }
      case DW_OP_piece:
        VMC_TRY(finish_piece(op.number));
        break;
      case DW_OP_bit_piece:
        if (op.number % 8 != 0 || op.number2 != 0)
          return make_error(Errc::kUnsupported, "DW_OP_bit_piece of {} bits at bit {} (not byte-aligned)", op.number, op.number2);
        VMC_TRY(finish_piece(op.number / 8));
        break;
      case DW_OP_entry_value:
      case DW_OP_GNU_entry_value: {
        if (!env.entry_value) return make_error(Errc::kNotFound, "entry values cannot be resolved here");
        Dwarf_Attribute sub;
        if (!env.attr || dwarf_getlocation_attr(env.attr, &op, &sub) != 0)
          return make_error(Errc::kBadData, "DW_OP_entry_value without its sub-expression");
        VMC_ASSIGN(uint64_t v, env.entry_value(&sub, in));
        taint_next = true;
        VMC_TRY(push(v));
        break;
      }
      case DW_OP_GNU_parameter_ref: {
        if (!env.parameter_ref) return make_error(Errc::kNotFound, "DW_OP_GNU_parameter_ref cannot be resolved here");
        VMC_ASSIGN(uint64_t v, env.parameter_ref(Dwarf_Off(op.number), in));
        taint_next = true;
        VMC_TRY(push(v));
        break;
      }
      case DW_OP_implicit_pointer:
      case DW_OP_GNU_implicit_pointer:
        pending = piece(LocPiece::Kind::kImplicitPointer);
        pending->why = "an implicit pointer: it points to a value that is not in memory";
        break;
      default:
        return make_error(Errc::kUnsupported, "DWARF operation {:#x} is not evaluated", a);
    }
  }
  if (!pieces.empty()) {
    if (pending || !st.empty()) return make_error(Errc::kBadData, "DWARF expression ends after its last piece without one");
    return pieces;
  }
  LocPiece p;
  if (pending) {
    p = *pending;
  } else if (!st.empty()) {
    p.kind = LocPiece::Kind::kMemory;
    p.addr = st.back();
  } else {
    p.kind = LocPiece::Kind::kUnavailable;
    p.why = "optimized out (empty location)";
  }
  return std::vector<LocPiece>{p};
}

}  // namespace vmc
