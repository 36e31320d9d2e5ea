// type_name() / type_size() / display_value() / display_member() against
// the DWARF GCC writes for tests/unit/data/value_types.c (DWARF 5 and 4, and
// the same for big-endian s390x when its cross compiler is installed; see
// tests/CMakeLists.txt), and against hand-built malformed DWARF. Value bytes
// are always built with an explicit byte order, and scalars are checked in
// both orders, so the same expectations hold on any host.
#include <gtest/gtest.h>

#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <libelf.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dwarf/types.h"
#include "dwarf/value_format.h"
#include "support/builders.h"

namespace vmc {
namespace {

using test::ByteWriter;

constexpr Endian kBothOrders[] = {Endian::kLittle, Endian::kBig};

std::vector<uint8_t> le_or_be(uint64_t v, unsigned width, Endian e) {
  std::vector<uint8_t> b(width);
  store_uint(b.data(), width, v, e);
  return b;
}

// Page-granular sparse virtual memory: a read fails as a whole, naming the
// first unmapped address, as a dump's address space does.
class PageMemory : public VirtualMemory {
 public:
  void put(uint64_t va, const std::string& bytes) {
    for (size_t i = 0; i < bytes.size(); ++i) page(va + i)[(va + i) & 4095] = uint8_t(bytes[i]);
  }
  void map(uint64_t va) { page(va); }
  Status read_virt(kvaddr_t va, std::span<uint8_t> buf) override {
    for (size_t i = 0; i < buf.size(); ++i) {
      auto it = pages_.find((va + i) >> 12);
      if (it == pages_.end()) return make_error(Errc::kNotMapped, "{:#x} is not mapped", va + i);
      buf[i] = it->second[(va + i) & 4095];
    }
    return {};
  }

 private:
  std::vector<uint8_t>& page(uint64_t va) {
    auto& p = pages_[va >> 12];
    p.resize(4096);
    return p;
  }
  std::map<uint64_t, std::vector<uint8_t>> pages_;
};

// --- The compiled fixtures --------------------------------------------------

struct DwflDeleter {
  void operator()(Dwfl* d) const { dwfl_end(d); }
};

// One compiled value_types object, opened through libdwfl, which applies an
// ET_REL object's relocations to its DWARF for every architecture it knows.
class TypesObject {
 public:
  static std::unique_ptr<TypesObject> open(const std::string& path, std::string* why) {
    static const Dwfl_Callbacks callbacks = {
        .find_elf = dwfl_build_id_find_elf,
        .find_debuginfo = dwfl_standard_find_debuginfo,
        .section_address = dwfl_offline_section_address,
        .debuginfo_path = nullptr,
    };
    auto obj = std::unique_ptr<TypesObject>(new TypesObject);
    obj->dwfl_.reset(dwfl_begin(&callbacks));
    Dwfl_Module* mod = obj->dwfl_ ? dwfl_report_offline(obj->dwfl_.get(), "value_types", path.c_str(), -1) : nullptr;
    if (!mod || dwfl_report_end(obj->dwfl_.get(), nullptr, nullptr) != 0) {
      *why = fmt::format("{}: {}", path, dwfl_errmsg(-1));
      return nullptr;
    }
    Dwarf_Addr bias;
    obj->dwarf_ = dwfl_module_getdwarf(mod, &bias);
    GElf_Addr elf_bias;
    Elf* elf = dwfl_module_getelf(mod, &elf_bias);
    if (!obj->dwarf_ || !elf) {
      *why = fmt::format("{}: no DWARF: {}", path, dwfl_errmsg(-1));
      return nullptr;
    }
    const char* ident = elf_getident(elf, nullptr);
    obj->endian_ = ident && ident[EI_DATA] == ELFDATA2MSB ? Endian::kBig : Endian::kLittle;
    obj->index_variables();
    return obj;
  }

  Dwarf* dwarf() const { return dwarf_; }
  std::vector<std::string> variables() const {
    std::vector<std::string> v;
    for (const auto& [n, d] : vars_) v.push_back(n);
    return v;
  }
  Endian endian() const { return endian_; }

  // The declared type of file-scope variable `name`.
  Dwarf_Die type_of(const std::string& name) const {
    auto it = vars_.find(name);
    EXPECT_NE(it, vars_.end()) << "no variable " << name;
    if (it == vars_.end()) return Dwarf_Die{};
    Dwarf_Die var = it->second, type;
    Dwarf_Attribute a;
    EXPECT_TRUE(dwarf_attr(&var, DW_AT_type, &a) && dwarf_formref_die(&a, &type)) << name;
    return type;
  }
  // Pointed-to type of pointer variable `name`.
  Dwarf_Die pointee_of(const std::string& name) const {
    Dwarf_Die p = strip_cv_typedefs(type_of(name)), t{};
    Dwarf_Attribute a;
    EXPECT_TRUE(dwarf_attr(&p, DW_AT_type, &a) && dwarf_formref_die(&a, &t)) << name;
    return t;
  }
  // Member `m` of the struct that variable `var` has.
  Dwarf_Die member_of(const std::string& var, const std::string& m) const {
    Dwarf_Die s = strip_cv_typedefs(type_of(var)), c;
    if (dwarf_child(&s, &c) == 0) {
      do {
        const char* n = dwarf_diename(&c);
        if (dwarf_tag(&c) == DW_TAG_member && n && m == n) return c;
      } while (dwarf_siblingof(&c, &c) == 0);
    }
    ADD_FAILURE() << "no member " << m << " in " << var;
    return Dwarf_Die{};
  }

 private:
  TypesObject() = default;
  void index_variables() {
    Dwarf_Off off = 0, next;
    size_t hsize;
    while (dwarf_nextcu(dwarf_, off, &next, &hsize, nullptr, nullptr, nullptr) == 0) {
      Dwarf_Die cu, c;
      if (dwarf_offdie(dwarf_, off + hsize, &cu) && dwarf_child(&cu, &c) == 0) {
        do {
          const char* n = dwarf_diename(&c);
          if (dwarf_tag(&c) == DW_TAG_variable && n) vars_.emplace(n, c);
        } while (dwarf_siblingof(&c, &c) == 0);
      }
      off = next;
    }
  }

  std::unique_ptr<Dwfl, DwflDeleter> dwfl_;
  Dwarf* dwarf_ = nullptr;
  Endian endian_ = Endian::kLittle;
  std::map<std::string, Dwarf_Die> vars_;
};

class ValueTypes : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string path = fmt::format("{}/value_types_{}.o", VMC_VALUE_TYPES_DIR, GetParam());
    if (!std::filesystem::exists(path)) {
      if (std::string(GetParam()).starts_with("s390x")) GTEST_SKIP() << path << " not built (no s390x-linux-gnu-gcc)";
      FAIL() << path << " missing: it is built with vmc_unit_tests";
    }
    std::string why;
    obj_ = TypesObject::open(path, &why);
    ASSERT_TRUE(obj_) << why;
  }

  std::string name(const std::string& var) const { return type_name(obj_->type_of(var)); }
  std::string show(const std::string& var, const std::vector<uint8_t>& b, const ValueContext& c) const {
    return display_value(obj_->type_of(var), b, c);
  }
  std::string show(const std::string& var, uint64_t v, unsigned width, Endian e) const {
    ValueContext c;
    c.endian = e;
    return show(var, le_or_be(v, width, e), c);
  }

  std::unique_ptr<TypesObject> obj_;
};

TEST_P(ValueTypes, NamesIntegerTypesAndTypedefs) {
  const std::pair<const char*, const char*> cases[] = {
      {"v_u8", "u8"},
      {"v_u16", "u16"},
      {"v_u32", "u32"},
      {"v_u64", "u64"},
      {"v_s8", "s8"},
      {"v_s16", "s16"},
      {"v_s32", "s32"},
      {"v_s64", "s64"},
      {"v_id", "vmcargs_id_t"},
      {"v_char", "char"},
      {"v_schar", "signed char"},
      {"v_uchar", "unsigned char"},
      {"v_short", "short"},
      {"v_ushort", "unsigned short"},
      {"v_int", "int"},
      {"v_uint", "unsigned int"},
      {"v_long", "long"},
      {"v_ulong", "unsigned long"},
      {"v_llong", "long long"},
      {"v_ullong", "unsigned long long"},
      {"v_i128", "__int128"},
      {"v_u128", "unsigned __int128"},
      {"v_bool", "_Bool"},
      {"v_float", "float"},
      {"v_double", "double"},
      {"v_mode", "enum vmcargs_mode"},
      {"v_signed_enum", "enum vmcargs_signed"},
  };
  for (auto [var, want] : cases) EXPECT_EQ(name(var), want) << var;
}

TEST_P(ValueTypes, NamesPointersQualifiersAndFunctions) {
  const std::pair<const char*, const char*> cases[] = {
      {"v_file", "struct file *"},
      {"v_cstr", "const char *"},
      {"v_str", "char *"},
      {"v_u8p", "u8 *"},
      {"v_void", "void *"},
      {"v_cvoid", "const void *"},
      {"v_cptr", "char *const"},
      {"v_argv", "const char *const *"},
      {"v_fn", "int (*)(void *)"},
      {"v_cb", "vmcargs_cb_t"},
      {"v_vfn", "void (*)(void)"},
      {"v_varfn", "int (*)(const char *, ...)"},
      {"v_vol", "volatile unsigned long"},
      {"v_pair_ptr", "struct vmcargs_pair *"},
      {"v_pair_pp", "struct vmcargs_pair **"},
      {"v_anon_ptr", "struct {...} *"},
      {"v_int_ptrs", "int *[2]"},
      {"v_rowp", "char (*)[16]"},
      {"v_signal", "void (*(*)(int))(int)"},
      {"v_fn_table", "int (*[2])(void)"},
      {"v_flex_ptr", "struct vmcargs_flex *"},
  };
  for (auto [var, want] : cases) EXPECT_EQ(name(var), want) << var;
  // Two qualifiers (GCC nests them volatile -> const) in the usual order.
  EXPECT_EQ(name("v_cvptr"), "char *const volatile");
  EXPECT_EQ(name("v_cvint"), "const volatile int");
  // The function type itself, behind the pointer.
  EXPECT_EQ(type_name(obj_->pointee_of("v_fn")), "int (void *)");
}

TEST_P(ValueTypes, NamesArraysAndAggregates) {
  const std::pair<const char*, const char*> cases[] = {
      {"v_name", "char [16]"},
      {"v_ints", "int [4]"},
      {"v_grid", "int [2][3]"},
      {"v_mac", "u8 [6]"},
      {"v_pair", "struct vmcargs_pair"},
      {"v_nested", "struct vmcargs_nested"},
      {"v_word", "union vmcargs_word"},
      {"v_anon_t", "vmcargs_anon_t"},
      {"v_flex", "struct vmcargs_flex"},
  };
  for (auto [var, want] : cases) EXPECT_EQ(name(var), want) << var;
  EXPECT_EQ(type_name(strip_cv_typedefs(obj_->type_of("v_anon_t"))), "struct {...}");
}

TEST_P(ValueTypes, Sizes) {
  EXPECT_EQ(type_size(obj_->type_of("v_u8"), 8), 1u);
  EXPECT_EQ(type_size(obj_->type_of("v_id"), 8), 4u);
  EXPECT_EQ(type_size(obj_->type_of("v_u128"), 8), 16u);
  EXPECT_EQ(type_size(obj_->type_of("v_mode"), 8), 4u);
  EXPECT_EQ(type_size(obj_->type_of("v_pair"), 8), 16u);
  EXPECT_EQ(type_size(obj_->type_of("v_grid"), 8), 24u);
  EXPECT_EQ(type_size(obj_->type_of("v_name"), 8), 16u);
  EXPECT_EQ(type_size(obj_->type_of("v_int_ptrs"), 8), 16u);
  EXPECT_EQ(type_size(obj_->type_of("v_bits"), 8), 8u);
  EXPECT_EQ(type_size(obj_->type_of("v_flex"), 8), 4u);
  EXPECT_EQ(type_size(obj_->type_of("v_cvint"), 8), 4u);
  EXPECT_EQ(type_size(obj_->type_of("v_fn"), 8), 8u);
  EXPECT_EQ(type_size(obj_->pointee_of("v_fn"), 8), std::nullopt);    // function type
  EXPECT_EQ(type_size(obj_->pointee_of("v_file"), 8), std::nullopt);  // declaration only
  EXPECT_EQ(type_size(obj_->pointee_of("v_cvoid"), 8), std::nullopt);  // const void
  EXPECT_EQ(type_size(Dwarf_Die{}, 8), std::nullopt);
}

TEST_P(ValueTypes, Integers) {
  for (Endian e : kBothOrders) {
    SCOPED_TRACE(e == Endian::kLittle ? "little-endian" : "big-endian");
    EXPECT_EQ(show("v_u16", 0x1234, 2, e), "4660");
    EXPECT_EQ(show("v_u32", 0xdeadbeef, 4, e), "3735928559 (0xdeadbeef)");
    EXPECT_EQ(show("v_u64", ~0ull, 8, e), "18446744073709551615 (0xffffffffffffffff)");
    EXPECT_EQ(show("v_s16", 0x8000, 2, e), "-32768");
    EXPECT_EQ(show("v_s32", uint32_t(-22), 4, e), "-22");
    EXPECT_EQ(show("v_s64", uint64_t(-0x10000), 8, e), "-65536 (0xffffffffffff0000)");
    EXPECT_EQ(show("v_int", 65535, 4, e), "65535");
    EXPECT_EQ(show("v_int", 65536, 4, e), "65536 (0x10000)");
    EXPECT_EQ(show("v_long", 0xffff888000000000ull, 8, e), "-131391639519232 (0xffff888000000000)");
    EXPECT_EQ(show("v_ulong", 0xffff888000000000ull, 8, e), "18446612682070032384 (0xffff888000000000)");
    EXPECT_EQ(show("v_id", 7, 4, e), "7");
    EXPECT_EQ(show("v_vol", 3, 8, e), "3");
    EXPECT_EQ(show("v_cvint", uint32_t(-1), 4, e), "-1");
    EXPECT_EQ(show("v_bool", 0, 1, e), "false");
    EXPECT_EQ(show("v_bool", 1, 1, e), "true");
    EXPECT_EQ(show("v_bool", 2, 1, e), "true (raw 2)");
  }
}

TEST_P(ValueTypes, Characters) {
  Endian e = obj_->endian();
  EXPECT_EQ(show("v_char", 'A', 1, e), "65 'A'");
  EXPECT_EQ(show("v_char", '\n', 1, e), "10 '\\n'");
  EXPECT_EQ(show("v_char", '\'', 1, e), "39 '\\''");
  EXPECT_EQ(show("v_char", 0, 1, e), "0 '\\0'");
  EXPECT_EQ(show("v_schar", 0xff, 1, e), "-1 '\\377'");
  EXPECT_EQ(show("v_uchar", 0xff, 1, e), "255 '\\377'");
  EXPECT_EQ(show("v_s8", 0x80, 1, e), "-128 '\\200'");
  EXPECT_EQ(show("v_u8", 0x41, 1, e), "65 'A'");
}

TEST_P(ValueTypes, WideIntegersAndFloats) {
  for (Endian e : kBothOrders) {
    SCOPED_TRACE(e == Endian::kLittle ? "little-endian" : "big-endian");
    ValueContext c;
    c.endian = e;
    // 128-bit: (1 << 64) + 5, -1, all ones unsigned.
    std::vector<uint8_t> lo = le_or_be(5, 8, e), hi = le_or_be(1, 8, e), v;
    v = e == Endian::kLittle ? lo : hi;
    v.insert(v.end(), (e == Endian::kLittle ? hi : lo).begin(), (e == Endian::kLittle ? hi : lo).end());
    EXPECT_EQ(show("v_i128", v, c), "0x10000000000000005");
    std::vector<uint8_t> ones(16, 0xff);
    EXPECT_EQ(show("v_i128", ones, c), "-0x1");
    EXPECT_EQ(show("v_u128", ones, c), "0xffffffffffffffffffffffffffffffff");
    // IEEE 754 bit patterns: 1.5f, -0.25.
    EXPECT_EQ(show("v_float", 0x3fc00000, 4, e), "1.5");
    EXPECT_EQ(show("v_double", 0xbfd0000000000000ull, 8, e), "-0.25");
    EXPECT_EQ(show("v_double", 0x7ff0000000000000ull, 8, e), "inf");
  }
}

TEST_P(ValueTypes, Enums) {
  for (Endian e : kBothOrders) {
    SCOPED_TRACE(e == Endian::kLittle ? "little-endian" : "big-endian");
    EXPECT_EQ(show("v_mode", 0, 4, e), "VMCARGS_MODE_NONE");
    EXPECT_EQ(show("v_mode", 7, 4, e), "VMCARGS_MODE_PANIC");
    EXPECT_EQ(show("v_mode", 5, 4, e), "5");  // 1 and 7 overlap: not a flag enum
    EXPECT_EQ(show("v_bits_only", 2, 4, e), "VMCARGS_B1");
    EXPECT_EQ(show("v_bits_only", 0x80000003, 4, e), "VMCARGS_B0|VMCARGS_B1|VMCARGS_B31");
    EXPECT_EQ(show("v_bits_only", 0x80000001, 4, e), "VMCARGS_B0|VMCARGS_B31");
    EXPECT_EQ(show("v_bits_only", 0x5, 4, e), "5");  // bit 2 has no name
    EXPECT_EQ(show("v_bits_only", 0, 4, e), "0");
    EXPECT_EQ(show("v_flags", 3, 4, e), "VMCARGS_F_RW");  // an exact match wins
    EXPECT_EQ(show("v_flags", 5, 4, e), "5");             // RW overlaps READ: no decomposition
    EXPECT_EQ(show("v_signed_enum", uint32_t(-2), 4, e), "VMCARGS_NEG");
    EXPECT_EQ(show("v_signed_enum", uint32_t(-3), 4, e), "-3");
    EXPECT_EQ(show("v_signed_enum", 3, 4, e), "VMCARGS_POS");
  }
}

TEST_P(ValueTypes, Pointers) {
  for (Endian e : kBothOrders) {
    SCOPED_TRACE(e == Endian::kLittle ? "little-endian" : "big-endian");
    ValueContext c;
    c.endian = e;
    c.symbolize = [](uint64_t a) -> std::string {
      if (a == 0xffffffff81000000ull) return "startup_64";
      if (a == 0xffffffff81000104ull) return "vmcargs_cb+0x4";
      return "";
    };
    EXPECT_EQ(show("v_void", le_or_be(0, 8, e), c), "0x0");
    EXPECT_EQ(show("v_void", le_or_be(0xffffffff81000000ull, 8, e), c), "0xffffffff81000000 <startup_64>");
    EXPECT_EQ(show("v_fn", le_or_be(0xffffffff81000104ull, 8, e), c), "0xffffffff81000104 <vmcargs_cb+0x4>");
    EXPECT_EQ(show("v_cb", le_or_be(0xffffffff81000104ull, 8, e), c), "0xffffffff81000104 <vmcargs_cb+0x4>");
    EXPECT_EQ(show("v_file", le_or_be(0xffff888001234000ull, 8, e), c), "0xffff888001234000");
    EXPECT_EQ(show("v_pair_pp", le_or_be(0x1000, 8, e), c), "0x1000");
    ValueContext nosym;
    nosym.endian = e;
    EXPECT_EQ(show("v_void", le_or_be(0xffffffff81000000ull, 8, nosym.endian), nosym), "0xffffffff81000000");
  }
}

TEST_P(ValueTypes, StringPreviews) {
  PageMemory mem;
  mem.put(0x1000, std::string("hello\n\"q\"\x01", 10) + '\0');
  mem.put(0x2000, std::string(100, 'x') + '\0');
  mem.put(0x3000, std::string(64, 'y') + '\0');
  mem.put(0x4ffa, "abcdef");  // runs into the unmapped page 0x5000
  mem.put(0x6ffc, std::string("abcdefgh") + '\0');  // crosses into the mapped page 0x7000
  mem.put(0x8000, std::string("\x52\x54\x00", 3));
  for (Endian e : kBothOrders) {
    SCOPED_TRACE(e == Endian::kLittle ? "little-endian" : "big-endian");
    ValueContext c;
    c.endian = e;
    c.mem = &mem;
    c.symbolize = [](uint64_t) { return std::string("never_for_strings"); };
    auto p = [&](uint64_t a) { return le_or_be(a, 8, e); };
    EXPECT_EQ(show("v_cstr", p(0x1000), c), "0x1000 \"hello\\n\\\"q\\\"\\001\"");
    EXPECT_EQ(show("v_str", p(0x1000), c), "0x1000 \"hello\\n\\\"q\\\"\\001\"");
    EXPECT_EQ(show("v_u8p", p(0x8000), c), "0x8000 \"RT\"");
    EXPECT_EQ(show("v_cptr", p(0x2000), c), "0x2000 \"" + std::string(64, 'x') + "\"...");
    EXPECT_EQ(show("v_cstr", p(0x3000), c), "0x3000 \"" + std::string(64, 'y') + "\"");
    EXPECT_EQ(show("v_cstr", p(0x4ffa), c), "0x4ffa \"abcdef\" <unreadable after 6 bytes: 0x5000 is not mapped>");
    EXPECT_EQ(show("v_cstr", p(0x6ffc), c), "0x6ffc \"abcdefgh\"");
    EXPECT_EQ(show("v_cstr", p(0xdead0000), c), "0xdead0000 <unreadable: 0xdead0000 is not mapped>");
    EXPECT_EQ(show("v_cstr", p(0), c), "0x0");
    ValueContext shorter = c;
    shorter.max_string = 5;
    EXPECT_EQ(show("v_cstr", p(0x1000), shorter), "0x1000 \"hello\"...");
    EXPECT_EQ(show("v_cstr", p(0x4ffa), shorter), "0x4ffa \"abcde\"...");
    ValueContext nomem;
    nomem.endian = e;
    EXPECT_EQ(show("v_cstr", p(0x1000), nomem), "0x1000 <string not read: no memory to read from>");
    // At the top of the address space a read cannot wrap around.
    mem.put(0xfffffffffffffffcull, "abcd");
    EXPECT_EQ(show("v_cstr", p(0xfffffffffffffffcull), c),
              "0xfffffffffffffffc \"abcd\" <unreadable after 4 bytes: end of the address space>");
  }
}

TEST_P(ValueTypes, StructsAndUnions) {
  const std::string pair = "v_pair";
  for (Endian e : kBothOrders) {
    SCOPED_TRACE(e == Endian::kLittle ? "little-endian" : "big-endian");
    ValueContext c;
    c.endian = e;
    ByteWriter p(e);
    p.u64(1).u64(0x4000000000ull);
    EXPECT_EQ(show("v_pair", p.bytes(), c), "{a = 1, b = 274877906944 (0x4000000000)}");

    ByteWriter n(e);
    n.u32(7).zeros(4).u64(uint64_t(-1)).u64(2).str("eth0", 8);
    EXPECT_EQ(show("v_nested", n.bytes(), c), "{id = 7, pair = {a = -1, b = 2}, name = \"eth0\"}");
    ValueContext shallow = c;
    shallow.max_depth = 1;
    EXPECT_EQ(show("v_nested", n.bytes(), shallow), "{id = 7, pair = {...}, name = \"eth0\"}");

    // The union's bytes read as a word in the target's order.
    std::vector<uint8_t> w = {'A', 'B', 'C', 'D'};
    EXPECT_EQ(show("v_word", w, c), e == Endian::kLittle ? "{word = 1145258561 (0x44434241), bytes = \"ABCD\"}"
                                                          : "{word = 1094861636 (0x41424344), bytes = \"ABCD\"}");

    ByteWriter a(e);
    a.u32(1).u32(uint32_t(-5)).u16(3).u16(uint16_t(-4));
    EXPECT_EQ(show("v_anon", a.bytes(), c), "{kind = 1, {i = -5, u = 4294967291 (0xfffffffb)}, pt = {x = 3, y = -4}}");
    EXPECT_EQ(show("v_anon_t", le_or_be(9, 4, e), c), "{x = 9}");

    ByteWriter m(e);
    for (uint32_t i = 0; i < 20; ++i) m.u32(i);
    EXPECT_EQ(show("v_many", m.bytes(), c),
              "{m0 = 0, m1 = 1, m2 = 2, m3 = 3, m4 = 4, m5 = 5, m6 = 6, m7 = 7, m8 = 8, m9 = 9, m10 = 10, "
              "m11 = 11, m12 = 12, m13 = 13, m14 = 14, m15 = 15, ...}");
    ValueContext few = c;
    few.max_members = 2;
    EXPECT_EQ(show("v_many", m.bytes(), few), "{m0 = 0, m1 = 1, ...}");

    EXPECT_EQ(show("v_flex", le_or_be(3, 4, e), c), "{n = 3, data = <array of unknown length>}");
  }
}

TEST_P(ValueTypes, StructWithPointerMembers) {
  PageMemory mem;
  mem.put(0x1000, std::string("vmcargs") + '\0');
  for (Endian e : kBothOrders) {
    SCOPED_TRACE(e == Endian::kLittle ? "little-endian" : "big-endian");
    ValueContext c;
    c.endian = e;
    c.mem = &mem;
    c.symbolize = [](uint64_t a) { return a == 0xffffffff81000000ull ? std::string("startup_64") : std::string(); };
    ByteWriter s(e);
    s.u64(0x1000).u64(0).u64(0xffffffff81000000ull);
    EXPECT_EQ(show("v_ptrs", s.bytes(), c),
              "{name = 0x1000 \"vmcargs\", next = 0x0, fn = 0xffffffff81000000 <startup_64>}");
  }
}

TEST_P(ValueTypes, Arrays) {
  for (Endian e : kBothOrders) {
    SCOPED_TRACE(e == Endian::kLittle ? "little-endian" : "big-endian");
    ValueContext c;
    c.endian = e;
    ByteWriter ints(e);
    ints.u32(1).u32(uint32_t(-2)).u32(3).u32(65536);
    EXPECT_EQ(show("v_ints", ints.bytes(), c), "{1, -2, 3, 65536 (0x10000)}");
    ByteWriter grid(e);
    for (uint32_t i = 1; i <= 6; ++i) grid.u32(i);
    EXPECT_EQ(show("v_grid", grid.bytes(), c), "{{1, 2, 3}, {4, 5, 6}}");
    ValueContext few = c;
    few.max_members = 2;
    EXPECT_EQ(show("v_grid", grid.bytes(), few), "{{1, 2, ...}, {4, 5, ...}}");
    EXPECT_EQ(show("v_ints", ints.bytes(), few), "{1, -2, ...}");

    ByteWriter name(e);
    name.str("eth0", 16);
    EXPECT_EQ(show("v_name", name.bytes(), c), "\"eth0\"");
    ByteWriter full(e);
    full.str("abcdefghijklmnop", 16);
    EXPECT_EQ(show("v_name", full.bytes(), c), "\"abcdefghijklmnop\"");
    ValueContext shortstr = c;
    shortstr.max_string = 4;
    EXPECT_EQ(show("v_name", full.bytes(), shortstr), "\"abcd\"...");
    EXPECT_EQ(show("v_mac", std::vector<uint8_t>{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, c), "\"RT\\000\\0224V\"");

    ByteWriter ptrs(e);
    ptrs.u64(0).u64(0xffff888000001000ull);
    EXPECT_EQ(show("v_int_ptrs", ptrs.bytes(), c), "{0x0, 0xffff888000001000}");
  }
}

TEST_P(ValueTypes, ValuesThatCannotBeRendered) {
  ValueContext c;
  c.endian = obj_->endian();
  EXPECT_EQ(show("v_int", std::vector<uint8_t>(8), c), "<8 bytes for a 4-byte type>");
  EXPECT_EQ(show("v_pair", std::vector<uint8_t>(4), c), "<4 bytes for a 16-byte type>");
  EXPECT_EQ(show("v_ints", std::vector<uint8_t>(4), c), "<4 bytes for a 16-byte array>");
  EXPECT_EQ(show("v_int", std::vector<uint8_t>(), c), "<0 bytes for a 4-byte type>");
  EXPECT_EQ(display_value(obj_->pointee_of("v_file"), std::vector<uint8_t>(8), c), "<incomplete type struct file>");
  EXPECT_EQ(display_value(obj_->pointee_of("v_fn"), std::vector<uint8_t>(8), c), "<a function type has no value>");
  EXPECT_EQ(display_value(obj_->pointee_of("v_cvoid"), std::vector<uint8_t>(1), c), "<void has no value>");
  EXPECT_EQ(display_value(Dwarf_Die{}, std::vector<uint8_t>(4), c), "<bad type>");
  EXPECT_EQ(type_name(Dwarf_Die{}), "<bad type>");
  EXPECT_EQ(display_member(Dwarf_Die{}, std::vector<uint8_t>(4), c), "<not a member>");
  EXPECT_EQ(display_member(obj_->type_of("v_pair"), std::vector<uint8_t>(16), c), "<not a member>");
  // A member DIE is not a type.
  EXPECT_EQ(type_name(obj_->member_of("v_pair", "a")), "<bad type>");
  EXPECT_EQ(display_value(obj_->member_of("v_pair", "a"), std::vector<uint8_t>(8), c), "<bad type>");
}

// Arbitrary bytes of the right size, and of wrong sizes, render as
// something for every type, with pointers into mapped and unmapped memory.
TEST_P(ValueTypes, EveryVariableRendersArbitraryBytes) {
  PageMemory mem;
  mem.put(0x1000, std::string(5000, '\x7f'));
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  auto next = [&] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
  };
  for (const std::string& var : obj_->variables()) {
    Dwarf_Die t = obj_->type_of(var);
    auto size = type_size(t, 8);
    ASSERT_TRUE(size) << var;
    for (Endian e : kBothOrders) {
      ValueContext c;
      c.endian = e;
      c.mem = &mem;
      c.symbolize = [](uint64_t a) { return a & 1 ? std::string("odd") : std::string(); };
      for (int round = 0; round < 20; ++round) {
        std::vector<uint8_t> b(*size);
        for (auto& x : b) x = uint8_t(next());
        if (round % 4 == 0 && *size == 8) store_uint(b.data(), 8, 0x1000 + next() % 5000, e);
        EXPECT_FALSE(display_value(t, b, c).empty()) << var;
      }
      EXPECT_EQ(display_value(t, std::vector<uint8_t>(*size + 1), c).front(), '<') << var;
    }
  }
}

// Bitfields are laid out by the target's byte order, so only that order
// means anything for them. The layout of struct vmcargs_bitfields: a 0-2,
// b 3-7, c 8, flag 9, mode 10-12, wide 13-52 (DWARF bit numbering), small
// in the next byte, 56-59, all in one 8-byte unit.
std::vector<uint8_t> bitfield_bytes(Endian e) {
  struct Field {
    uint64_t value;
    unsigned offset, size;
  };
  const Field fields[] = {{5, 0, 3}, {uint64_t(-3), 3, 5}, {1, 8, 1}, {1, 9, 1}, {7, 10, 3},
                          {0x123456789aull, 13, 40}, {uint64_t(-8), 56, 4}};
  uint64_t unit = 0;
  for (const Field& f : fields) {
    uint64_t v = f.value & ((uint64_t(1) << f.size) - 1);
    // Little-endian numbers bits from the unit's least significant bit,
    // big-endian from its most significant one.
    unit |= e == Endian::kLittle ? v << f.offset : v << (64 - f.offset - f.size);
  }
  return le_or_be(unit, 8, e);
}

TEST_P(ValueTypes, Bitfields) {
  Endian e = obj_->endian();
  ValueContext c;
  c.endian = e;
  std::vector<uint8_t> b = bitfield_bytes(e);
  EXPECT_EQ(show("v_bits", b, c),
            "{a = 5, b = -3, c = 1, flag = true, mode = VMCARGS_MODE_PANIC, wide = 78187493530 (0x123456789a), "
            "small = -8 '\\370'}");
  EXPECT_EQ(display_member(obj_->member_of("v_bits", "wide"), b, c), "78187493530 (0x123456789a)");
  EXPECT_EQ(display_member(obj_->member_of("v_bits", "b"), b, c), "-3");
  EXPECT_EQ(display_member(obj_->member_of("v_bits", "mode"), b, c), "VMCARGS_MODE_PANIC");
  EXPECT_EQ(display_member(obj_->member_of("v_bits", "wide"), std::span(b).first(4), c),
            "<bitfield at bit 13 (40 bits) lies beyond the 4-byte object>");
  EXPECT_EQ(display_member(obj_->member_of("v_pair", "b"), std::vector<uint8_t>(8), c),
            "<member at offset 8 (8 bytes) lies beyond the 8-byte object>");
}

// The compiler's own layout of the same struct agrees with the hand-made
// bytes (only meaningful for objects made for this host).
struct HostBitfields {
  unsigned int a : 3;
  int b : 5;
  unsigned int c : 1;
  bool flag : 1;
  unsigned int mode : 3;
  unsigned long long wide : 40;
  signed char small : 4;
};

TEST_P(ValueTypes, BitfieldsMatchTheHostCompiler) {
  if (obj_->endian() != host_endian()) GTEST_SKIP() << "an object for another byte order than the host's";
  static_assert(sizeof(HostBitfields) == 8);
  HostBitfields h{};
  h.a = 5;
  h.b = -3;
  h.c = 1;
  h.flag = true;
  h.mode = 7;
  h.wide = 0x123456789aull;
  h.small = -8;
  std::vector<uint8_t> b(sizeof h);
  std::memcpy(b.data(), &h, sizeof h);
  EXPECT_EQ(b, bitfield_bytes(host_endian()));
  ValueContext c;
  c.endian = host_endian();
  EXPECT_EQ(display_member(obj_->member_of("v_bits", "small"), b, c), "-8 '\\370'");
}

INSTANTIATE_TEST_SUITE_P(Objects, ValueTypes, ::testing::Values("dwarf5", "dwarf4", "s390x", "s390x_dwarf4"),
                         [](const auto& info) { return std::string(info.param); });

TEST(ExtractBits, BothByteOrders) {
  // a:3 = 5, b:5 = 0x1d, c:1 = 1, as a compiler lays them out.
  const std::vector<uint8_t> le = {0xed, 0x01}, be = {0xbd, 0x80};
  EXPECT_EQ(extract_bits(le, 0, 3, Endian::kLittle), 5u);
  EXPECT_EQ(extract_bits(le, 3, 5, Endian::kLittle), 0x1du);
  EXPECT_EQ(extract_bits(le, 8, 1, Endian::kLittle), 1u);
  EXPECT_EQ(extract_bits(be, 0, 3, Endian::kBig), 5u);
  EXPECT_EQ(extract_bits(be, 3, 5, Endian::kBig), 0x1du);
  EXPECT_EQ(extract_bits(be, 8, 1, Endian::kBig), 1u);
  // Across a byte boundary: bits 4-11.
  EXPECT_EQ(extract_bits(std::vector<uint8_t>{0xa0, 0x0b}, 4, 8, Endian::kLittle), 0xbau);
  EXPECT_EQ(extract_bits(std::vector<uint8_t>{0x0a, 0xb0}, 4, 8, Endian::kBig), 0xabu);
  // 64 bits spread over nine bytes.
  std::vector<uint8_t> nine(9, 0xff);
  nine[0] = 0x0f;
  nine[8] = 0xf0;
  EXPECT_EQ(extract_bits(nine, 4, 64, Endian::kBig), ~0ull);
  EXPECT_EQ(extract_bits(nine, 4, 64, Endian::kLittle), 0x0ffffffffffffff0ull);
  // Out of range.
  EXPECT_EQ(extract_bits(le, 14, 3, Endian::kLittle), std::nullopt);
  EXPECT_EQ(extract_bits(le, 0, 0, Endian::kLittle), std::nullopt);
  EXPECT_EQ(extract_bits(nine, 0, 65, Endian::kLittle), std::nullopt);
  EXPECT_EQ(extract_bits(le, UINT64_MAX - 1, 4, Endian::kLittle), std::nullopt);
}

// --- Hand-built malformed DWARF ----------------------------------------------

// A DWARF 4 compilation unit written DIE by DIE, with CU-relative ref4
// labels patched at the end, wrapped in a minimal ELF relocatable file.
class DwarfBuilder {
 public:
  DwarfBuilder() {
    // Abbreviations: code, tag, children, (attribute, form)...
    abbrev(kCu, DW_TAG_compile_unit, true, {{DW_AT_name, DW_FORM_string}});
    abbrev(kTypedef, DW_TAG_typedef, false, {{DW_AT_name, DW_FORM_string}, {DW_AT_type, DW_FORM_ref4}});
    abbrev(kPointer, DW_TAG_pointer_type, false, {{DW_AT_byte_size, DW_FORM_data1}, {DW_AT_type, DW_FORM_ref4}});
    abbrev(kConst, DW_TAG_const_type, false, {{DW_AT_type, DW_FORM_ref4}});
    abbrev(kVolatile, DW_TAG_volatile_type, false, {{DW_AT_type, DW_FORM_ref4}});
    abbrev(kStruct, DW_TAG_structure_type, true, {{DW_AT_name, DW_FORM_string}, {DW_AT_byte_size, DW_FORM_data1}});
    abbrev(kMember, DW_TAG_member, false,
           {{DW_AT_name, DW_FORM_string}, {DW_AT_type, DW_FORM_ref4}, {DW_AT_data_member_location, DW_FORM_data1}});
    abbrev(kBase, DW_TAG_base_type, false,
           {{DW_AT_name, DW_FORM_string}, {DW_AT_byte_size, DW_FORM_data1}, {DW_AT_encoding, DW_FORM_data1}});
    abbrev(kArray, DW_TAG_array_type, true, {{DW_AT_type, DW_FORM_ref4}});
    abbrev(kSubrange, DW_TAG_subrange_type, false, {{DW_AT_count, DW_FORM_data8}});
    abbrev(kEnum, DW_TAG_enumeration_type, true, {{DW_AT_name, DW_FORM_string}, {DW_AT_byte_size, DW_FORM_data1}});
    abbrev(kEnumerator, DW_TAG_enumerator, false, {{DW_AT_name, DW_FORM_string}, {DW_AT_const_value, DW_FORM_data1}});
    abbrev(kFunction, DW_TAG_subroutine_type, true,
           {{DW_AT_prototyped, DW_FORM_flag_present}, {DW_AT_type, DW_FORM_ref4}});
    abbrev(kParam, DW_TAG_formal_parameter, false, {{DW_AT_type, DW_FORM_ref4}});
    abbrev(kNamelessBase, DW_TAG_base_type, false, {{DW_AT_byte_size, DW_FORM_data1}, {DW_AT_encoding, DW_FORM_data1}});
    abbrevs_.u8(0);
    // Unit header (DWARF 4, 32-bit format): length patched in build().
    info_.u32(0).u16(4).u32(0).u8(8);
  }

  enum Code : uint8_t {
    kCu = 1, kTypedef, kPointer, kConst, kVolatile, kStruct, kMember, kBase, kArray, kSubrange, kEnum,
    kEnumerator, kFunction, kParam, kNamelessBase
  };

  // Starts a DIE, recording its offset under `label` (if any).
  DwarfBuilder& die(Code code, const std::string& label = "") {
    if (!label.empty()) labels_[label] = info_.size();
    info_.u8(code);
    return *this;
  }
  DwarfBuilder& str(const std::string& s) {
    info_.raw(s.c_str(), s.size() + 1);
    return *this;
  }
  DwarfBuilder& u8(uint8_t v) {
    info_.u8(v);
    return *this;
  }
  DwarfBuilder& u64(uint64_t v) {
    info_.u64(v);
    return *this;
  }
  DwarfBuilder& ref(const std::string& label) {
    refs_.emplace_back(info_.size(), label);
    info_.u32(0);
    return *this;
  }
  DwarfBuilder& raw_ref(uint32_t off) {
    info_.u32(off);
    return *this;
  }
  DwarfBuilder& end_children() { return u8(0); }

  uint64_t offset(const std::string& label) const { return labels_.at(label); }

  std::vector<uint8_t> build_elf() {
    for (auto [at, label] : refs_) info_.put(at, 4, labels_.at(label));
    info_.put(0, 4, info_.size() - 4);
    // ELF64 little-endian ET_REL: null, .debug_abbrev, .debug_info, .shstrtab.
    const std::string shstr = std::string("\0.debug_abbrev\0.debug_info\0.shstrtab\0", 37);
    ByteWriter elf(Endian::kLittle);
    const uint64_t abbrev_off = 64, info_off = abbrev_off + abbrevs_.size(), str_off = info_off + info_.size();
    uint64_t shoff = str_off + shstr.size();
    shoff = (shoff + 7) & ~uint64_t(7);
    const uint8_t ident[16] = {0x7f, 'E', 'L', 'F', ELFCLASS64, ELFDATA2LSB, EV_CURRENT};
    elf.raw(ident, 16).u16(ET_REL).u16(EM_X86_64).u32(EV_CURRENT).u64(0).u64(0).u64(shoff).u32(0);
    elf.u16(64).u16(0).u16(0).u16(64).u16(4).u16(3);
    elf.raw(abbrevs_.bytes().data(), abbrevs_.size()).raw(info_.bytes().data(), info_.size());
    elf.raw(shstr.data(), shstr.size()).align(8);
    auto section = [&](uint32_t name, uint32_t type, uint64_t off, uint64_t size) {
      elf.u32(name).u32(type).u64(0).u64(0).u64(off).u64(size).u32(0).u32(0).u64(1).u64(0);
    };
    section(0, SHT_NULL, 0, 0);
    section(1, SHT_PROGBITS, abbrev_off, abbrevs_.size());
    section(15, SHT_PROGBITS, info_off, info_.size());
    section(27, SHT_STRTAB, str_off, shstr.size());
    return elf.bytes();
  }

 private:
  void abbrev(Code code, int tag, bool children, std::initializer_list<std::pair<int, int>> attrs) {
    abbrevs_.u8(code).u8(uint8_t(tag)).u8(children ? DW_CHILDREN_yes : DW_CHILDREN_no);
    for (auto [at, form] : attrs) uleb(at).uleb(form);
    abbrevs_.u8(0).u8(0);
  }
  DwarfBuilder& uleb(uint64_t v) {
    do {
      uint8_t b = v & 0x7f;
      v >>= 7;
      abbrevs_.u8(v ? b | 0x80 : b);
    } while (v);
    return *this;
  }

  ByteWriter abbrevs_{Endian::kLittle}, info_{Endian::kLittle};
  std::map<std::string, uint64_t> labels_;
  std::vector<std::pair<size_t, std::string>> refs_;
};

struct ElfDeleter {
  void operator()(Elf* e) const { elf_end(e); }
};
struct DwarfDeleter {
  void operator()(Dwarf* d) const { dwarf_end(d); }
};

class MalformedDwarf : public ::testing::Test {
 protected:
  void SetUp() override {
    DwarfBuilder& b = builder_;
    b.die(DwarfBuilder::kCu).str("malformed.c");
    b.die(DwarfBuilder::kBase, "int").str("int").u8(4).u8(DW_ATE_signed);
    b.die(DwarfBuilder::kTypedef, "loop").str("loop_t").ref("loop");
    b.die(DwarfBuilder::kPointer, "dangling").u8(8).raw_ref(0xffff);
    b.die(DwarfBuilder::kConst, "cv1").ref("cv2");
    b.die(DwarfBuilder::kVolatile, "cv2").ref("cv1");
    b.die(DwarfBuilder::kStruct, "bad_struct").str("bad").u8(4);
    b.die(DwarfBuilder::kMember).str("x").ref("int").u8(8);
    b.die(DwarfBuilder::kMember).str("y").ref("loop").u8(0);
    b.end_children();
    b.die(DwarfBuilder::kStruct, "self").str("self").u8(8);
    b.die(DwarfBuilder::kMember).str("self").ref("self").u8(0);
    b.end_children();
    b.die(DwarfBuilder::kArray, "huge").ref("int");
    b.die(DwarfBuilder::kSubrange).u64(0x4000000000000000ull);
    b.end_children();
    b.die(DwarfBuilder::kEnum, "enum8").str("e8").u8(1);
    b.die(DwarfBuilder::kEnumerator).str("ALL").u8(0xff);
    b.die(DwarfBuilder::kEnumerator).str("ONE").u8(1);
    b.end_children();
    b.die(DwarfBuilder::kFunction, "fn").ref("int");
    b.die(DwarfBuilder::kParam).ref("loop");
    b.end_children();
    b.die(DwarfBuilder::kNamelessBase, "nameless").u8(4).u8(DW_ATE_unsigned);
    b.end_children();
    image_ = b.build_elf();

    elf_version(EV_CURRENT);
    elf_.reset(elf_memory(reinterpret_cast<char*>(image_.data()), image_.size()));
    ASSERT_TRUE(elf_) << elf_errmsg(-1);
    dwarf_.reset(dwarf_begin_elf(elf_.get(), DWARF_C_READ, nullptr));
    ASSERT_TRUE(dwarf_) << dwarf_errmsg(-1);
  }

  Dwarf_Die die(const std::string& label) {
    Dwarf_Die d;
    // One CU at offset 0: CU-relative offsets are section offsets.
    EXPECT_TRUE(dwarf_offdie(dwarf_.get(), builder_.offset(label), &d)) << label;
    return d;
  }

  DwarfBuilder builder_;
  std::vector<uint8_t> image_;
  std::unique_ptr<Elf, ElfDeleter> elf_;
  std::unique_ptr<Dwarf, DwarfDeleter> dwarf_;
};

TEST_F(MalformedDwarf, BrokenTypeChainsAreBadTypes) {
  ValueContext c;
  EXPECT_EQ(type_name(die("int")), "int");
  // A typedef is spelled by its name without following it; using it for a
  // value follows it and finds the loop.
  EXPECT_EQ(type_name(die("loop")), "loop_t");
  EXPECT_EQ(display_value(die("loop"), std::vector<uint8_t>(4), c), "<bad type>");
  EXPECT_EQ(type_size(die("loop"), 8), std::nullopt);
  EXPECT_EQ(type_name(die("cv1")), "<bad type>");
  EXPECT_EQ(display_value(die("cv1"), std::vector<uint8_t>(4), c), "<bad type>");
  EXPECT_EQ(type_name(die("dangling")), "<bad type>");
  EXPECT_EQ(type_name(die("fn")), "int (loop_t)");
  EXPECT_EQ(type_name(die("nameless")), "<bad type>");
  // The pointer's own value is still known even though its target is not.
  EXPECT_EQ(type_size(die("dangling"), 8), 8u);
  EXPECT_EQ(display_value(die("dangling"), le_or_be(0x1234, 8, Endian::kLittle), c), "0x1234");
  EXPECT_EQ(display_value(die("nameless"), le_or_be(5, 4, Endian::kLittle), c), "5");
}

TEST_F(MalformedDwarf, BadMembersAndSizesAreReported) {
  ValueContext c;
  EXPECT_EQ(display_value(die("bad_struct"), std::vector<uint8_t>(4), c),
            "{x = <member at offset 8 (4 bytes) lies beyond the 4-byte object>, y = <bad type>}");
  // A struct containing itself stops at the depth bound.
  EXPECT_EQ(display_value(die("self"), std::vector<uint8_t>(8), c), "{self = {self = {self = {...}}}}");
  ValueContext deep = c;
  deep.max_depth = 1000000;  // clamped: still bounded
  std::string s = display_value(die("self"), std::vector<uint8_t>(8), deep);
  EXPECT_LT(s.size(), 200u) << s;
  EXPECT_EQ(type_size(die("huge"), 8), std::nullopt);  // count * 4 overflows
  EXPECT_EQ(display_value(die("huge"), std::vector<uint8_t>(4), c), "<array too large>");
}

TEST_F(MalformedDwarf, Data1EnumeratorsOfAOneByteEnum) {
  ValueContext c;
  EXPECT_EQ(type_name(die("enum8")), "enum e8");
  EXPECT_EQ(display_value(die("enum8"), std::vector<uint8_t>{0xff}, c), "ALL");
  EXPECT_EQ(display_value(die("enum8"), std::vector<uint8_t>{0x01}, c), "ONE");
  EXPECT_EQ(display_value(die("enum8"), std::vector<uint8_t>{0x02}, c), "2");
}

}  // namespace
}  // namespace vmc
