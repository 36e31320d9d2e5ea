#include "dwarf/value_format.h"

#include <algorithm>
#include <bit>
#include <iterator>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace vmc {

namespace {

// Bounds on the work hostile debug info can cause.
constexpr unsigned kMaxStripSteps = 64;      // typedef/qualifier links followed to reach a type
constexpr unsigned kMaxNameSteps = 256;      // DIEs visited to spell one type (parameters included)
constexpr unsigned kMaxSizeNesting = 64;     // arrays of arrays when computing a size
constexpr unsigned kMaxChildren = 65536;     // children scanned per DIE (members, enumerators, params)
constexpr unsigned kMaxDims = 16;            // subranges of one array type
constexpr unsigned kMaxElementsTotal = 256;  // members and elements rendered in one value
constexpr unsigned kMaxDepthCap = 16;        // ValueContext::max_depth is clamped to this
constexpr unsigned kMaxRawBytes = 32;        // bytes listed for a value that is not rendered
constexpr unsigned kMaxStringCap = 1 << 16;  // ValueContext::max_string is clamped to this
// String previews never read across a 4 KiB boundary in one piece: that is
// the smallest page size of every supported target, so a string ending just
// before an unmapped page is still read.
constexpr uint64_t kPreviewChunk = 4096;

constexpr std::string_view kBadType = "<bad type>";

// A default-constructed or zeroed Dwarf_Die must never reach libdw.
bool valid(const Dwarf_Die& d) { return d.addr != nullptr && d.cu != nullptr; }

bool is_qualifier(int tag) {
  return tag == DW_TAG_const_type || tag == DW_TAG_volatile_type || tag == DW_TAG_restrict_type ||
         tag == DW_TAG_atomic_type;
}
bool is_pointer_like(int tag) {
  return tag == DW_TAG_pointer_type || tag == DW_TAG_reference_type || tag == DW_TAG_rvalue_reference_type;
}
bool is_aggregate(int tag) {
  return tag == DW_TAG_structure_type || tag == DW_TAG_union_type || tag == DW_TAG_class_type;
}

// Tags of DIEs that describe types (DWARF 5 §5), typedefs and qualifiers
// included; anything else handed to us as a type is a caller's mistake.
bool is_type_tag(int tag) {
  switch (tag) {
    case DW_TAG_base_type: case DW_TAG_unspecified_type: case DW_TAG_typedef: case DW_TAG_const_type:
    case DW_TAG_volatile_type: case DW_TAG_restrict_type: case DW_TAG_atomic_type: case DW_TAG_pointer_type:
    case DW_TAG_reference_type: case DW_TAG_rvalue_reference_type: case DW_TAG_ptr_to_member_type:
    case DW_TAG_structure_type: case DW_TAG_class_type: case DW_TAG_union_type: case DW_TAG_interface_type:
    case DW_TAG_enumeration_type: case DW_TAG_array_type: case DW_TAG_subroutine_type: case DW_TAG_string_type:
    case DW_TAG_set_type: case DW_TAG_subrange_type: case DW_TAG_file_type: case DW_TAG_packed_type:
    case DW_TAG_shared_type:
      return true;
    default:
      return false;
  }
}

enum class Ref { kOk, kVoid, kBad };

// The DIE's DW_AT_type: kVoid when there is none (DWARF's spelling of
// void), kBad when there is one that does not resolve.
Ref type_of(Dwarf_Die die, Dwarf_Die* out) {
  if (!dwarf_hasattr_integrate(&die, DW_AT_type)) return Ref::kVoid;
  Dwarf_Attribute a;
  if (!dwarf_attr_integrate(&die, DW_AT_type, &a) || !dwarf_formref_die(&a, out) || !valid(*out)) return Ref::kBad;
  return Ref::kOk;
}

// Like strip_cv_typedefs() (types.h), but telling "qualified void" apart
// from a broken or looping chain, which a renderer must not confuse.
struct Stripped {
  Ref ref;
  Dwarf_Die die;
};
Stripped strip(Dwarf_Die die) {
  if (!valid(die)) return {Ref::kBad, die};
  for (unsigned i = 0; i < kMaxStripSteps; ++i) {
    int tag = dwarf_tag(&die);
    if (tag != DW_TAG_typedef && !is_qualifier(tag)) return {Ref::kOk, die};
    Dwarf_Die next;
    Ref r = type_of(die, &next);
    if (r != Ref::kOk) return {r, die};
    die = next;
  }
  return {Ref::kBad, die};
}

std::optional<uint64_t> udata(Dwarf_Die die, unsigned at) {
  Dwarf_Attribute a;
  Dwarf_Word w;
  if (!dwarf_attr_integrate(&die, at, &a) || dwarf_formudata(&a, &w) != 0) return std::nullopt;
  return w;
}

// A constant attribute as a 64-bit pattern, with how its form encodes it:
// sdata is signed; data<n> (width n) takes its signedness from the type it
// describes (DWARF 5 §7.5.5); udata is unsigned.
struct Constant {
  uint64_t bits = 0;
  bool signed_form = false;
  unsigned data_width = 0;  // n for DW_FORM_data<n>, else 0
};
std::optional<Constant> constant(Dwarf_Die die, unsigned at) {
  Dwarf_Attribute a;
  if (!dwarf_attr(&die, at, &a)) return std::nullopt;
  Dwarf_Sword s;
  Dwarf_Word w;
  switch (dwarf_whatform(&a)) {
    case DW_FORM_sdata:
    case DW_FORM_implicit_const:
      if (dwarf_formsdata(&a, &s) != 0) return std::nullopt;
      return Constant{uint64_t(s), true, 0};
    case DW_FORM_data1:
    case DW_FORM_data2:
    case DW_FORM_data4:
    case DW_FORM_data8:
    case DW_FORM_udata: {
      if (dwarf_formudata(&a, &w) != 0) return std::nullopt;
      unsigned form = dwarf_whatform(&a);
      unsigned width = form == DW_FORM_data1 ? 1 : form == DW_FORM_data2 ? 2 : form == DW_FORM_data4 ? 4
                       : form == DW_FORM_data8 ? 8 : 0;
      return Constant{w, false, width};
    }
    default:  // references and expressions (variable bounds) are not constants
      return std::nullopt;
  }
}

// Element count of one DW_TAG_subrange_type; nullopt when it is not a
// constant (flexible and variable-length arrays).
std::optional<uint64_t> subrange_count(Dwarf_Die sub) {
  if (auto c = constant(sub, DW_AT_count)) {
    if (c->signed_form && int64_t(c->bits) < 0) return std::nullopt;
    return c->bits;
  }
  auto ub = constant(sub, DW_AT_upper_bound);
  if (!ub) return std::nullopt;
  auto lb = constant(sub, DW_AT_lower_bound);
  __int128 hi = ub->signed_form ? __int128(int64_t(ub->bits)) : __int128(ub->bits);
  if (!ub->signed_form && ub->bits == UINT64_MAX) hi = -1;  // GCC's old spelling of a zero-length array
  __int128 lo = !lb ? 0 : lb->signed_form ? __int128(int64_t(lb->bits)) : __int128(lb->bits);
  __int128 n = hi - lo + 1;
  if (n < 0 || n > __int128(UINT64_MAX)) return std::nullopt;
  return uint64_t(n);
}

struct ArrayShape {
  Dwarf_Die elem{};
  std::vector<std::optional<uint64_t>> dims;  // outermost first; nullopt: no constant bound
};
bool array_shape(Dwarf_Die arr, ArrayShape* out) {
  if (type_of(arr, &out->elem) != Ref::kOk) return false;
  Dwarf_Die sub;
  int rc = dwarf_child(&arr, &sub);
  if (rc < 0) return false;
  for (unsigned i = 0; rc == 0 && i < kMaxChildren; ++i, rc = dwarf_siblingof(&sub, &sub)) {
    int tag = dwarf_tag(&sub);
    if (tag != DW_TAG_subrange_type && tag != DW_TAG_enumeration_type) continue;
    if (out->dims.size() == kMaxDims) return false;
    out->dims.push_back(tag == DW_TAG_subrange_type ? subrange_count(sub) : std::nullopt);
  }
  if (rc < 0) return false;
  if (out->dims.empty()) out->dims.push_back(std::nullopt);  // no subrange: bound unknown
  return true;
}

std::optional<uint64_t> size_of(Dwarf_Die die, unsigned ptr_size, unsigned nesting) {
  if (nesting > kMaxSizeNesting) return std::nullopt;
  Stripped s = strip(die);
  if (s.ref != Ref::kOk) return std::nullopt;
  Dwarf_Die t = s.die;
  int tag = dwarf_tag(&t);
  if (tag == DW_TAG_subroutine_type) return std::nullopt;
  if ((is_aggregate(tag) || tag == DW_TAG_enumeration_type) && dwarf_hasattr(&t, DW_AT_declaration))
    return std::nullopt;
  if (auto bs = udata(t, DW_AT_byte_size)) return bs;
  if (is_pointer_like(tag)) return ptr_size;
  if (tag == DW_TAG_enumeration_type) {  // size of the underlying type
    Dwarf_Die under;
    if (type_of(t, &under) != Ref::kOk) return std::nullopt;
    return size_of(under, ptr_size, nesting + 1);
  }
  if (tag != DW_TAG_array_type) return std::nullopt;
  ArrayShape shape;
  if (!array_shape(t, &shape)) return std::nullopt;
  auto total = size_of(shape.elem, ptr_size, nesting + 1);
  for (const auto& d : shape.dims)
    if (!total || !d || !checked_mul(*total, *d, &*total)) return std::nullopt;
  return total;
}

// Loads a 1..8-byte unsigned integer in byte order `e`.
uint64_t load_any(std::span<const uint8_t> b, Endian e) {
  uint64_t v = 0;
  size_t n = std::min<size_t>(b.size(), 8);
  for (size_t i = 0; i < n; ++i) {
    if (e == Endian::kLittle)
      v |= uint64_t(b[i]) << (8 * i);
    else
      v = (v << 8) | b[i];
  }
  return v;
}

// Type-name spelling ---------------------------------------------------------

// GCC names base types in its own word order; C sources spell them otherwise.
std::string base_spelling(std::string_view gcc) {
  static constexpr std::pair<std::string_view, std::string_view> kRespell[] = {
      {"long int", "long"},
      {"long unsigned int", "unsigned long"},
      {"short int", "short"},
      {"short unsigned int", "unsigned short"},
      {"long long int", "long long"},
      {"long long unsigned int", "unsigned long long"},
      {"__int128 unsigned", "unsigned __int128"},
  };
  for (auto [from, to] : kRespell)
    if (gcc == from) return std::string(to);
  return std::string(gcc);
}

// Spells a type inside out: `decl` is the declarator built so far ("*",
// "(*)[16]"), and each step wraps it, as a C declaration nests.
class Namer {
 public:
  std::string spell(Dwarf_Die die) {
    std::string s = name(die, "");
    return bad_ ? std::string(kBadType) : s;
  }

 private:
  static std::string join(std::string base, const std::string& decl) {
    return decl.empty() ? base : base + " " + decl;
  }
  std::string fail() {
    bad_ = true;
    return {};
  }

  std::string name(Dwarf_Die die, const std::string& decl) {
    if (bad_ || ++steps_ > kMaxNameSteps || !valid(die)) return fail();
    int tag = dwarf_tag(&die);
    switch (tag) {
      case DW_TAG_base_type:
      case DW_TAG_unspecified_type:
      case DW_TAG_typedef: {
        const char* n = dwarf_diename(&die);
        if (!n) return fail();
        return join(tag == DW_TAG_typedef ? std::string(n) : base_spelling(n), decl);
      }
      case DW_TAG_structure_type:
      case DW_TAG_class_type:
      case DW_TAG_union_type:
      case DW_TAG_enumeration_type: {
        const char* kw = tag == DW_TAG_structure_type ? "struct" : tag == DW_TAG_class_type ? "class"
                         : tag == DW_TAG_union_type ? "union" : "enum";
        const char* n = dwarf_diename(&die);
        return join(n ? fmt::format("{} {}", kw, n) : fmt::format("{} {{...}}", kw), decl);
      }
      case DW_TAG_pointer_type: return target(die, "*" + decl);
      case DW_TAG_reference_type: return target(die, "&" + decl);
      case DW_TAG_rvalue_reference_type: return target(die, "&&" + decl);
      case DW_TAG_const_type:
      case DW_TAG_volatile_type:
      case DW_TAG_restrict_type:
      case DW_TAG_atomic_type: return qualified(die, decl);
      case DW_TAG_array_type: return array(die, decl);
      case DW_TAG_subroutine_type: return function(die, decl);
      default:
        // A type C has no spelling for; a non-type DIE is no type at all.
        if (!is_type_tag(tag)) return fail();
        return join(fmt::format("<type tag {:#x}>", tag), decl);
    }
  }

  // The pointed-to type of a pointer or reference; none means void.
  std::string target(Dwarf_Die die, const std::string& decl) {
    Dwarf_Die t;
    switch (type_of(die, &t)) {
      case Ref::kVoid: return join("void", decl);
      case Ref::kBad: return fail();
      case Ref::kOk: break;
    }
    return name(t, decl);
  }

  // Qualifiers bind to the declarator when they qualify a pointer
  // ("char *const"), else they prefix the type ("const char *"). A chain
  // of them is spelled in the usual order, "const volatile", whatever
  // order the producer nested them in.
  std::string qualified(Dwarf_Die die, const std::string& decl) {
    static constexpr std::pair<int, const char*> kOrder[] = {
        {DW_TAG_const_type, "const"},
        {DW_TAG_volatile_type, "volatile"},
        {DW_TAG_restrict_type, "restrict"},
        {DW_TAG_atomic_type, "_Atomic"},
    };
    bool present[std::size(kOrder)] = {};
    bool is_void = false;
    for (unsigned i = 0;; ++i) {
      if (i == kMaxStripSteps || ++steps_ > kMaxNameSteps) return fail();
      int tag = dwarf_tag(&die);
      if (!is_qualifier(tag)) break;
      for (size_t k = 0; k < std::size(kOrder); ++k)
        if (kOrder[k].first == tag) present[k] = true;
      Ref r = type_of(die, &die);
      if (r == Ref::kBad) return fail();
      if (r == Ref::kVoid) {
        is_void = true;
        break;
      }
    }
    std::string quals;
    for (size_t k = 0; k < std::size(kOrder); ++k)
      if (present[k]) quals += (quals.empty() ? "" : " ") + std::string(kOrder[k].second);
    if (is_void) return join(quals + " void", decl);
    if (is_pointer_like(dwarf_tag(&die))) return name(die, decl.empty() ? quals : quals + " " + decl);
    std::string inner = name(die, decl);
    return bad_ ? inner : quals + " " + inner;
  }

  std::string array(Dwarf_Die die, const std::string& decl) {
    ArrayShape shape;
    if (!array_shape(die, &shape)) return fail();
    // "char (*)[16]": a pointer declarator binds looser than [].
    std::string d = !decl.empty() && (decl[0] == '*' || decl[0] == '&') ? "(" + decl + ")" : decl;
    for (const auto& n : shape.dims) d += n ? fmt::format("[{}]", *n) : "[]";
    return name(shape.elem, d);
  }

  std::string function(Dwarf_Die die, const std::string& decl) {
    std::string params;
    bool any = false;
    Dwarf_Die c;
    int rc = dwarf_child(&die, &c);
    if (rc < 0) return fail();
    for (unsigned i = 0; rc == 0 && i < kMaxChildren; ++i, rc = dwarf_siblingof(&c, &c)) {
      int tag = dwarf_tag(&c);
      if (tag != DW_TAG_formal_parameter && tag != DW_TAG_unspecified_parameters) continue;
      if (any) params += ", ";
      any = true;
      if (tag == DW_TAG_unspecified_parameters) {
        params += "...";
        continue;
      }
      Dwarf_Die pt;
      if (type_of(c, &pt) != Ref::kOk) return fail();
      params += name(pt, "");
      if (bad_) return {};
    }
    if (rc < 0) return fail();
    if (!any && dwarf_hasattr(&die, DW_AT_prototyped)) params = "void";
    std::string d = (decl.empty() ? "" : "(" + decl + ")") + "(" + params + ")";
    return target(die, d);
  }

  unsigned steps_ = 0;
  bool bad_ = false;
};

// Value rendering --------------------------------------------------------------

// C escape of one byte inside quotes `quote`; octal escapes are
// unambiguous whatever follows them.
std::string escape_byte(uint8_t c, char quote) {
  switch (c) {
    case '\n': return "\\n";
    case '\t': return "\\t";
    case '\r': return "\\r";
    case '\\': return "\\\\";
    default: break;
  }
  if (c == uint8_t(quote)) return std::string("\\") + quote;
  if (c >= 0x20 && c < 0x7f) return std::string(1, char(c));
  return fmt::format("\\{:03o}", c);
}
std::string escape_string(std::string_view s) {
  std::string out;
  for (char c : s) out += escape_byte(uint8_t(c), '"');
  return out;
}

std::string integer(uint64_t raw, unsigned bits, bool is_signed) {
  if (bits < 64) raw &= (uint64_t(1) << bits) - 1;
  if (is_signed) {
    int64_t v = sign_extend(raw, bits);
    bool large = v >= 0x10000 || v <= -0x10000;
    return large ? fmt::format("{} ({:#x})", v, raw) : fmt::format("{}", v);
  }
  return raw >= 0x10000 ? fmt::format("{} ({:#x})", raw, raw) : fmt::format("{}", raw);
}

// A value's bytes as one hexadecimal number (most significant digit first).
std::string hex_number(std::span<const uint8_t> b, Endian e, bool negate = false) {
  std::vector<uint8_t> msb(b.begin(), b.end());
  if (e == Endian::kLittle) std::reverse(msb.begin(), msb.end());
  if (negate) {  // two's complement magnitude
    unsigned carry = 1;
    for (size_t i = msb.size(); i-- > 0;) {
      unsigned x = uint8_t(~msb[i]) + carry;
      msb[i] = uint8_t(x);
      carry = x >> 8;
    }
  }
  std::string digits;
  for (uint8_t x : msb) digits += fmt::format("{:02x}", x);
  size_t nz = digits.find_first_not_of('0');
  return (negate ? "-0x" : "0x") + (nz == std::string::npos ? std::string("0") : digits.substr(nz));
}

// The bytes in memory order, for values no rule renders.
std::string raw_bytes(std::span<const uint8_t> b) {
  std::string out = "bytes";
  for (size_t i = 0; i < b.size() && i < kMaxRawBytes; ++i) out += fmt::format(" {:02x}", b[i]);
  if (b.size() > kMaxRawBytes) out += " ...";
  return out;
}

bool base_encoding_signed(uint64_t enc) { return enc == DW_ATE_signed || enc == DW_ATE_signed_char; }

// 1-byte character types: char, signed/unsigned char and their typedefs (u8).
bool is_char_type(Dwarf_Die die) {
  Stripped s = strip(die);
  if (s.ref != Ref::kOk || dwarf_tag(&s.die) != DW_TAG_base_type) return false;
  auto enc = udata(s.die, DW_AT_encoding);
  return enc && (*enc == DW_ATE_signed_char || *enc == DW_ATE_unsigned_char) && udata(s.die, DW_AT_byte_size) == 1u;
}

// Whether an enum's values are signed: GCC puts DW_AT_encoding on the enum,
// DWARF 3+ producers give its underlying type; failing both, an enumerator
// stored in signed form with a negative value says so.
bool enum_signed(Dwarf_Die en) {
  if (auto enc = udata(en, DW_AT_encoding)) return base_encoding_signed(*enc);
  Dwarf_Die under;
  if (type_of(en, &under) == Ref::kOk) {
    Stripped s = strip(under);
    if (s.ref == Ref::kOk)
      if (auto enc = udata(s.die, DW_AT_encoding)) return base_encoding_signed(*enc);
  }
  Dwarf_Die c;
  int rc = dwarf_child(&en, &c);
  for (unsigned i = 0; rc == 0 && i < kMaxChildren; ++i, rc = dwarf_siblingof(&c, &c)) {
    auto v = dwarf_tag(&c) == DW_TAG_enumerator ? constant(c, DW_AT_const_value) : std::nullopt;
    if (v && v->signed_form && int64_t(v->bits) < 0) return true;
  }
  return false;
}

bool type_signed(Dwarf_Die stripped) {
  int tag = dwarf_tag(&stripped);
  if (tag == DW_TAG_enumeration_type) return enum_signed(stripped);
  if (tag != DW_TAG_base_type) return false;
  auto enc = udata(stripped, DW_AT_encoding);
  return enc && base_encoding_signed(*enc);
}

// A member's byte offset: absent means 0 (union members, the first member);
// a constant, or the DWARF 2 form, a block holding DW_OP_plus_uconst.
std::optional<uint64_t> member_offset(Dwarf_Die m) {
  Dwarf_Attribute a;
  if (!dwarf_attr(&m, DW_AT_data_member_location, &a)) return 0;
  Dwarf_Word w;
  switch (dwarf_whatform(&a)) {
    case DW_FORM_data1:
    case DW_FORM_data2:
    case DW_FORM_data4:
    case DW_FORM_data8:
    case DW_FORM_udata:
    case DW_FORM_sdata:
    case DW_FORM_implicit_const:
      if (dwarf_formudata(&a, &w) != 0) return std::nullopt;
      return w;
    default: break;
  }
  Dwarf_Op* ops;
  size_t nops;
  if (dwarf_getlocation(&a, &ops, &nops) == 0 && nops == 1 && ops[0].atom == DW_OP_plus_uconst) return ops[0].number;
  return std::nullopt;
}

class Renderer {
 public:
  explicit Renderer(const ValueContext& ctx) : ctx_(ctx), max_depth_(std::min(ctx.max_depth, kMaxDepthCap)) {}

  std::string value(Dwarf_Die type, std::span<const uint8_t> b, unsigned depth) {
    Stripped s = strip(type);
    if (s.ref == Ref::kBad) return std::string(kBadType);
    if (s.ref == Ref::kVoid) return "<void has no value>";
    Dwarf_Die t = s.die;
    int tag = dwarf_tag(&t);
    if (!is_type_tag(tag)) return std::string(kBadType);
    if (tag == DW_TAG_subroutine_type) return "<a function type has no value>";
    if ((is_aggregate(tag) || tag == DW_TAG_enumeration_type) && dwarf_hasattr(&t, DW_AT_declaration))
      return fmt::format("<incomplete type {}>", type_name(t));
    if (tag == DW_TAG_array_type) return array(t, b, depth);
    auto size = size_of(t, ctx_.ptr_size, 0);
    if (!size) return "<type without a known size>";
    if (b.size() != *size) return fmt::format("<{} bytes for a {}-byte type>", b.size(), *size);
    if (b.empty() && !is_aggregate(tag)) return "<empty value>";
    switch (tag) {
      case DW_TAG_base_type: return base(t, b);
      case DW_TAG_enumeration_type: return enumeration(t, b);
      case DW_TAG_pointer_type:
      case DW_TAG_reference_type:
      case DW_TAG_rvalue_reference_type: return pointer(t, b);
      case DW_TAG_structure_type:
      case DW_TAG_class_type:
      case DW_TAG_union_type: return aggregate(t, b, depth);
      default: return fmt::format("<type tag {:#x} not rendered: {}>", tag, raw_bytes(b));
    }
  }

  std::string member(Dwarf_Die m, std::span<const uint8_t> object, unsigned depth) {
    if (!valid(m) || dwarf_tag(&m) != DW_TAG_member) return "<not a member>";
    Dwarf_Die type;
    if (type_of(m, &type) != Ref::kOk) return std::string(kBadType);
    if (dwarf_hasattr(&m, DW_AT_bit_size)) return bitfield(m, type, object, depth);
    auto off = member_offset(m);
    if (!off) return "<member location is not a constant>";
    auto size = size_of(type, ctx_.ptr_size, 0);
    if (!size) return value(type, {}, depth);  // says why (incomplete, flexible array, …)
    if (!in_bounds(*off, *size, object.size()))
      return fmt::format("<member at offset {} ({} bytes) lies beyond the {}-byte object>", *off, *size,
                         object.size());
    return value(type, object.subspan(*off, *size), depth);
  }

 private:
  std::string base(Dwarf_Die t, std::span<const uint8_t> b) {
    auto enc = udata(t, DW_AT_encoding);
    if (!enc) return fmt::format("<base type without an encoding: {}>", raw_bytes(b));
    const size_t n = b.size();
    switch (*enc) {
      case DW_ATE_boolean: {
        if (n > 8) break;
        uint64_t v = load_any(b, ctx_.endian);
        return v == 0 ? "false" : v == 1 ? "true" : fmt::format("true (raw {})", v);
      }
      case DW_ATE_signed:
      case DW_ATE_unsigned:
      case DW_ATE_signed_char:
      case DW_ATE_unsigned_char:
      case DW_ATE_UTF: {
        bool sgn = base_encoding_signed(*enc);
        if (n > 8) {
          bool negative = sgn && (b[ctx_.endian == Endian::kLittle ? n - 1 : 0] & 0x80);
          return hex_number(b, ctx_.endian, negative);
        }
        uint64_t v = load_any(b, ctx_.endian);
        std::string out = integer(v, unsigned(n * 8), sgn);
        if ((*enc == DW_ATE_signed_char || *enc == DW_ATE_unsigned_char) && n == 1)
          out += " '" + (v == 0 ? std::string("\\0") : escape_byte(uint8_t(v), '\'')) + "'";
        return out;
      }
      case DW_ATE_float:
        // IEEE 754 binary32/binary64, decoded from the bit pattern loaded in
        // the target's byte order.
        if (n == 4) return fmt::format("{}", std::bit_cast<float>(uint32_t(load_any(b, ctx_.endian))));
        if (n == 8) return fmt::format("{}", std::bit_cast<double>(load_any(b, ctx_.endian)));
        return fmt::format("<{}-byte floating-point value not decoded: {}>", n, hex_number(b, ctx_.endian));
      default: break;
    }
    return fmt::format("<base encoding {:#x} of {} bytes not rendered: {}>", *enc, n, hex_number(b, ctx_.endian));
  }

  std::string enumeration(Dwarf_Die t, std::span<const uint8_t> b) {
    const size_t n = b.size();
    if (n > 8) return fmt::format("<{}-byte enum not rendered: {}>", n, hex_number(b, ctx_.endian));
    const unsigned bits = unsigned(n * 8);
    const uint64_t mask = bits >= 64 ? ~uint64_t(0) : (uint64_t(1) << bits) - 1;
    const uint64_t raw = load_any(b, ctx_.endian);
    const bool sgn = enum_signed(t);

    // One pass: an exact match wins; meanwhile collect what a flag
    // decomposition needs and whether the nonzero values are disjoint bits.
    std::vector<std::pair<uint64_t, std::string>> flags;  // distinct nonzero values, first name
    std::set<uint64_t> seen;
    uint64_t named_bits = 0;
    bool flag_enum = true;
    Dwarf_Die c;
    int rc = dwarf_child(&t, &c);
    for (unsigned i = 0; rc == 0 && i < kMaxChildren; ++i, rc = dwarf_siblingof(&c, &c)) {
      if (dwarf_tag(&c) != DW_TAG_enumerator) continue;
      const char* name = dwarf_diename(&c);
      auto k = constant(c, DW_AT_const_value);
      if (!name || !k) continue;
      uint64_t v = k->bits;
      if (sgn && !k->signed_form && k->data_width && k->data_width < 8) v = uint64_t(sign_extend(v, k->data_width * 8));
      v &= mask;
      if (v == raw) return name;
      if (v == 0 || seen.count(v)) continue;
      if (v & named_bits) flag_enum = false;
      named_bits |= v;
      seen.insert(v);
      if (flag_enum) flags.emplace_back(v, name);
    }
    if (flag_enum && raw != 0 && (raw & ~named_bits) == 0) {
      std::string out;
      for (const auto& [v, name] : flags)
        if ((raw & v) == v) out += (out.empty() ? "" : "|") + name;
      return out;
    }
    return integer(raw, bits, sgn);
  }

  std::string pointer(Dwarf_Die t, std::span<const uint8_t> b) {
    if (b.size() > 8) return fmt::format("<{}-byte pointer not rendered: {}>", b.size(), hex_number(b, ctx_.endian));
    uint64_t v = load_any(b, ctx_.endian);
    std::string out = fmt::format("{:#x}", v);
    if (v == 0) return out;
    Dwarf_Die target;
    if (type_of(t, &target) == Ref::kOk && is_char_type(target)) return out + " " + string_preview(v);
    if (ctx_.symbolize) {
      std::string sym = ctx_.symbolize(v);
      if (!sym.empty()) out += " <" + sym + ">";
    }
    return out;
  }

  // A NUL-terminated string at `addr`, at most max_string characters.
  std::string string_preview(uint64_t addr) {
    if (!ctx_.mem) return "<string not read: no memory to read from>";
    const uint64_t limit = std::min(ctx_.max_string, kMaxStringCap);
    const uint64_t want = limit + 1;  // one more byte tells whether the string ends at the limit
    std::string s;
    bool terminated = false;
    uint64_t at = addr;
    while (s.size() < want) {
      uint64_t n = std::min<uint64_t>(want - s.size(), kPreviewChunk - at % kPreviewChunk);
      std::vector<uint8_t> buf(n);
      if (Status st = ctx_.mem->read_virt(at, buf); !st) {
        if (s.size() >= limit) break;  // only the byte after the shown part is missing
        if (s.empty()) return fmt::format("<unreadable: {}>", st.error().message());
        return fmt::format("\"{}\" <unreadable after {} bytes: {}>", escape_string(s), s.size(), st.error().message());
      }
      auto nul = std::find(buf.begin(), buf.end(), uint8_t(0));
      s.append(buf.begin(), nul);
      if (nul != buf.end()) {
        terminated = true;
        break;
      }
      if (!checked_add(at, n, &at)) {
        if (s.size() >= limit) break;
        return fmt::format("\"{}\" <unreadable after {} bytes: end of the address space>", escape_string(s), s.size());
      }
    }
    if (terminated && s.size() <= limit) return "\"" + escape_string(s) + "\"";
    return "\"" + escape_string(std::string_view(s).substr(0, limit)) + "\"...";
  }

  std::string aggregate(Dwarf_Die t, std::span<const uint8_t> b, unsigned depth) {
    if (depth >= max_depth_) return "{...}";
    std::string out = "{";
    unsigned shown = 0;
    Dwarf_Die m;
    int rc = dwarf_child(&t, &m);
    unsigned i = 0;
    for (; rc == 0 && i < kMaxChildren; ++i, rc = dwarf_siblingof(&m, &m)) {
      if (dwarf_tag(&m) != DW_TAG_member) continue;  // nested type definitions
      if (shown == ctx_.max_members || elements_left_ == 0) {
        out += shown ? ", ..." : "...";
        return out + "}";
      }
      --elements_left_;
      const char* name = dwarf_diename(&m);
      out += (shown++ ? ", " : "") + (name ? std::string(name) + " = " : std::string()) + member(m, b, depth + 1);
    }
    if (rc < 0) out += shown ? ", <unreadable member list>" : "<unreadable member list>";
    else if (rc == 0) out += shown ? ", ..." : "...";  // kMaxChildren reached
    return out + "}";
  }

  std::string bitfield(Dwarf_Die m, Dwarf_Die type, std::span<const uint8_t> object, unsigned depth) {
    auto bits = udata(m, DW_AT_bit_size);
    if (!bits || *bits == 0 || *bits > 64) return "<bitfield of unsupported width>";
    const unsigned width = unsigned(*bits);
    uint64_t start;
    if (auto dbo = udata(m, DW_AT_data_bit_offset)) {
      start = *dbo;
    } else {
      auto off = member_offset(m);
      if (!off || !checked_mul(*off, 8, &start)) return "<bitfield location is not a constant>";
      if (auto bo = constant(m, DW_AT_bit_offset)) {
        // DWARF 2/3: bits from the most significant bit of a storage unit of
        // DW_AT_byte_size bytes at the member location to the field's most
        // significant bit (DWARF 4 §5.6.6 gives the conversion to a data bit
        // offset). GCC writes it negative for a field reaching past the
        // unit, hence the signed arithmetic.
        auto unit = udata(m, DW_AT_byte_size);
        if (!unit) unit = size_of(type, ctx_.ptr_size, 0);
        if (!unit || *unit > (uint64_t(1) << 32)) return "<bitfield storage unit of unknown size>";
        __int128 from_msb = bo->signed_form ? __int128(int64_t(bo->bits)) : __int128(bo->bits);
        __int128 rel = ctx_.endian == Endian::kBig ? from_msb : __int128(*unit) * 8 - from_msb - width;
        __int128 abs = __int128(start) + rel;
        if (abs < 0 || abs > __int128(UINT64_MAX)) return "<bitfield layout is inconsistent>";
        start = uint64_t(abs);
      }
    }
    auto raw = extract_bits(object, start, width, ctx_.endian);
    if (!raw)
      return fmt::format("<bitfield at bit {} ({} bits) lies beyond the {}-byte object>", start, width, object.size());
    // Rendered as its declared type: the field's value, widened (and
    // sign-extended for a signed type) to that type's size.
    Stripped s = strip(type);
    if (s.ref != Ref::kOk) return std::string(kBadType);
    auto size = size_of(s.die, ctx_.ptr_size, 0);
    if (!size || *size == 0 || *size > 8 || width > *size * 8)
      return fmt::format("<{}-bit field of type {} not rendered: {:#x}>", width, type_name(type), *raw);
    uint64_t v = type_signed(s.die) ? uint64_t(sign_extend(*raw, width)) : *raw;
    std::vector<uint8_t> buf(*size);
    store_uint(buf.data(), unsigned(*size), v, ctx_.endian);
    return value(type, buf, depth);
  }

  std::string array(Dwarf_Die t, std::span<const uint8_t> b, unsigned depth) {
    ArrayShape shape;
    if (!array_shape(t, &shape)) return std::string(kBadType);
    auto elem_size = size_of(shape.elem, ctx_.ptr_size, 0);
    if (!elem_size) return "<array element type without a known size>";
    return dims(shape, 0, *elem_size, b, depth);
  }

  // Dimension `i` of an array whose bytes are `b`.
  std::string dims(const ArrayShape& shape, size_t i, uint64_t elem_size, std::span<const uint8_t> b,
                   unsigned depth) {
    uint64_t inner = elem_size, total = 0;
    for (size_t j = i; j < shape.dims.size(); ++j) {
      if (!shape.dims[j]) return "<array of unknown length>";
      if (j > i && !checked_mul(inner, *shape.dims[j], &inner)) return "<array too large>";
    }
    const uint64_t count = *shape.dims[i];
    if (!checked_mul(count, inner, &total)) return "<array too large>";
    if (b.size() != total) return fmt::format("<{} bytes for a {}-byte array>", b.size(), total);
    const bool last = i + 1 == shape.dims.size();
    if (last && elem_size == 1 && is_char_type(shape.elem)) return char_array(b);
    if (depth >= max_depth_) return "{...}";
    std::string out = "{";
    for (uint64_t k = 0; k < count; ++k) {
      if (k == ctx_.max_members || elements_left_ == 0) {
        out += k ? ", ..." : "...";
        break;
      }
      --elements_left_;
      auto sub = b.subspan(k * inner, inner);
      out += k ? ", " : "";
      out += last ? value(shape.elem, sub, depth + 1) : dims(shape, i + 1, elem_size, sub, depth + 1);
    }
    return out + "}";
  }

  // A character array as a string of its bytes up to the last non-NUL one:
  // NUL padding is dropped, embedded NULs and what follows them are shown
  // ("RT\000\0224V", a MAC address in a u8 [6]).
  std::string char_array(std::span<const uint8_t> b) {
    size_t n = b.size();
    while (n > 0 && b[n - 1] == 0) --n;
    const size_t limit = std::min(ctx_.max_string, kMaxStringCap);
    std::string s(b.begin(), b.begin() + std::min(n, limit));
    return "\"" + escape_string(s) + (n > limit ? "\"..." : "\"");
  }

  const ValueContext& ctx_;
  const unsigned max_depth_;
  unsigned elements_left_ = kMaxElementsTotal;
};

}  // namespace

std::string type_name(Dwarf_Die type) { return Namer().spell(type); }

std::optional<uint64_t> type_size(Dwarf_Die type, unsigned ptr_size) {
  if (!valid(type)) return std::nullopt;
  return size_of(type, ptr_size, 0);
}

std::string display_value(Dwarf_Die type, std::span<const uint8_t> bytes, const ValueContext& ctx) {
  if (!valid(type)) return std::string(kBadType);
  return Renderer(ctx).value(type, bytes, 0);
}

std::string display_member(Dwarf_Die member, std::span<const uint8_t> object, const ValueContext& ctx) {
  return Renderer(ctx).member(member, object, 0);
}

std::optional<uint64_t> extract_bits(std::span<const uint8_t> bytes, uint64_t bit_offset, unsigned bit_size, Endian e) {
  uint64_t end;
  if (bit_size == 0 || bit_size > 64 || !checked_add(bit_offset, bit_size, &end) || end > uint64_t(bytes.size()) * 8)
    return std::nullopt;
  uint64_t v = 0;
  for (uint64_t b = bit_offset; b < end; ++b) {
    unsigned bit = (bytes[b / 8] >> (e == Endian::kLittle ? b % 8 : 7 - b % 8)) & 1;
    if (e == Endian::kLittle)
      v |= uint64_t(bit) << (b - bit_offset);
    else
      v = (v << 1) | bit;
  }
  return v;
}

}  // namespace vmc
