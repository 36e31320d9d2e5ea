// Linux ORC: bit layouts of every format version, version detection, and
// loading tables from ELF files (tests/programs/orc_cases.S built in each
// format) and from memory.
#include <gtest/gtest.h>

#include <algorithm>

#include "dwarf/orc.h"
#include "unwind_fakes.h"

namespace vmc {
namespace {

using namespace orc;
using test::FakeVm;

OrcEntry raw_decode(int version, uint16_t sp_off, uint16_t bp_off, uint16_t flags) {
  uint8_t raw[6] = {uint8_t(sp_off), uint8_t(sp_off >> 8), uint8_t(bp_off), uint8_t(bp_off >> 8), uint8_t(flags),
                    uint8_t(flags >> 8)};
  return decode_entry(version, raw, Endian::kLittle);
}

// Hand-computed flag words (arch/x86/include/asm/orc_types.h of each era).
TEST(OrcDecode, Version1Layout) {
  // sp_reg 5 (SP), bp_reg 1 (PREV_SP), type 0 (CALL): 0x0015.
  OrcEntry e = raw_decode(1, 16, uint16_t(-16), 0x0015);
  EXPECT_EQ(e.sp_offset, 16);
  EXPECT_EQ(e.bp_offset, -16);
  EXPECT_EQ(e.sp_reg, kRegSp);
  EXPECT_EQ(e.bp_reg, kRegPrevSp);
  EXPECT_EQ(e.type, kTypeCall);
  EXPECT_FALSE(e.signal);
  // type 1 (REGS) implies signal in v1.
  e = raw_decode(1, 0, 0, 0x0105);
  EXPECT_EQ(e.type, kTypeRegs);
  EXPECT_TRUE(e.signal);
  // type 2 (REGS_IRET).
  e = raw_decode(1, 0, 0, 0x0205);
  EXPECT_EQ(e.type, kTypeRegsPartial);
  EXPECT_TRUE(e.signal);
  // sp_reg UNDEFINED with end (bit 10): end of stack; without: undefined.
  e = raw_decode(1, 0, 0, 0x0400);
  EXPECT_EQ(e.type, kTypeEndOfStack);
  EXPECT_TRUE(e.end);
  e = raw_decode(1, 0, 0, 0x0000);
  EXPECT_EQ(e.type, kTypeUndefined);
  // Base registers 8 (BP_INDIRECT), 9 (SP_INDIRECT), 2 (DX), 3 (DI), 6, 7.
  EXPECT_EQ(raw_decode(1, 0, 0, 0x0008).sp_reg, kRegBpIndirect);
  EXPECT_EQ(raw_decode(1, 0, 0, 0x0009).sp_reg, kRegSpIndirect);
  EXPECT_EQ(raw_decode(1, 0, 0, 0x0002).sp_reg, kRegDx);
  EXPECT_EQ(raw_decode(1, 0, 0, 0x0003).sp_reg, kRegDi);
  EXPECT_EQ(raw_decode(1, 0, 0, 0x0006).sp_reg, kRegR10);
  EXPECT_EQ(raw_decode(1, 0, 0, 0x0007).sp_reg, kRegR13);
  EXPECT_EQ(raw_decode(1, 0, 0, 0x000c).sp_reg, kRegInvalid);
}

TEST(OrcDecode, Version2Layout) {
  // signal is bit 10, end bit 11.
  OrcEntry e = raw_decode(2, 8, 0, 0x0405);
  EXPECT_EQ(e.type, kTypeCall);
  EXPECT_TRUE(e.signal);
  e = raw_decode(2, 0, 0, 0x0105);
  EXPECT_EQ(e.type, kTypeRegs);
  EXPECT_FALSE(e.signal);  // no implication from the type in v2
  e = raw_decode(2, 0, 0, 0x0800);
  EXPECT_EQ(e.type, kTypeEndOfStack);
  e = raw_decode(2, 0, 0, 0x0400);  // signal without end, sp undefined
  EXPECT_EQ(e.type, kTypeUndefined);
}

TEST(OrcDecode, Version3Layout) {
  // 3-bit type at 8-10, signal at 11; v1-v3 register numbers.
  OrcEntry e = raw_decode(3, 0, 0, 0x0315);
  EXPECT_EQ(e.type, kTypeRegs);
  EXPECT_EQ(e.sp_reg, kRegSp);
  EXPECT_EQ(e.bp_reg, kRegPrevSp);
  EXPECT_FALSE(e.signal);
  e = raw_decode(3, 0, 0, 0x0c05);
  EXPECT_EQ(e.type, kTypeRegsPartial);
  EXPECT_TRUE(e.signal);
  EXPECT_EQ(raw_decode(3, 0, 0, 0x0100).type, kTypeEndOfStack);
  EXPECT_EQ(raw_decode(3, 0, 0, 0x0000).type, kTypeUndefined);
  EXPECT_EQ(raw_decode(3, 0, 0, 0x0205).type, kTypeCall);
}

TEST(OrcDecode, Version4Registers) {
  // sp raw 3 = SP, bp raw 8 = PREV_SP in v4; raw 1 = AX, 9 = SP_INDIRECT,
  // 10 = BP_INDIRECT, 5 = DI.
  OrcEntry e = raw_decode(4, 8, uint16_t(-16), 0x0283);
  EXPECT_EQ(e.sp_reg, kRegSp);
  EXPECT_EQ(e.bp_reg, kRegPrevSp);
  EXPECT_EQ(e.type, kTypeCall);
  EXPECT_EQ(raw_decode(4, 0, 0, 0x0201).sp_reg, kRegAx);
  EXPECT_EQ(raw_decode(4, 0, 0, 0x0209).sp_reg, kRegSpIndirect);
  EXPECT_EQ(raw_decode(4, 0, 0, 0x020a).sp_reg, kRegBpIndirect);
  EXPECT_EQ(raw_decode(4, 0, 0, 0x0205).sp_reg, kRegDi);
  EXPECT_EQ(raw_decode(4, 0, 0, 0x020b).sp_reg, kRegInvalid);
  // The same bits mean SP in v3 for raw 5.
  EXPECT_EQ(raw_decode(3, 0, 0, 0x0205).sp_reg, kRegSp);
}

TEST(OrcDecode, EncodeRoundTripsEveryVersion) {
  const uint8_t regs[] = {kRegSp, kRegBp, kRegSpIndirect, kRegBpIndirect, kRegDx, kRegDi, kRegR10, kRegR13};
  const uint8_t bps[] = {kRegUndefined, kRegPrevSp, kRegBp};
  for (int v = 1; v <= 4; ++v)
    for (uint8_t sp : regs)
      for (uint8_t bp : bps)
        for (uint8_t type : {kTypeCall, kTypeRegs, kTypeRegsPartial}) {
          OrcEntry e;
          e.sp_reg = sp;
          e.bp_reg = bp;
          e.type = type;
          e.sp_offset = -24;
          e.bp_offset = 40;
          e.signal = v == 1 ? type != kTypeCall : (type == kTypeRegs);
          uint8_t raw[6];
          encode_entry(v, e, raw, Endian::kLittle);
          OrcEntry d = decode_entry(v, raw, Endian::kLittle);
          EXPECT_EQ(d.sp_reg, sp) << v;
          EXPECT_EQ(d.bp_reg, bp) << v;
          EXPECT_EQ(d.type, type) << v;
          EXPECT_EQ(d.signal, e.signal) << v;
          EXPECT_EQ(d.sp_offset, -24);
          EXPECT_EQ(d.bp_offset, 40);
        }
}

TEST(OrcDecode, BigEndianFieldsFollowTheTargetOrder) {
  uint8_t raw[6] = {0x00, 0x10, 0xff, 0xf0, 0x02, 0x83};  // v4, big-endian: flags 0x0283
  OrcEntry e = decode_entry(4, raw, Endian::kBig);
  EXPECT_EQ(e.sp_offset, 16);
  EXPECT_EQ(e.bp_offset, -16);
  EXPECT_EQ(e.sp_reg, kRegSp);
  EXPECT_EQ(e.bp_reg, kRegPrevSp);
}

TEST(OrcVersion, FromHeaderHash) {
  const uint8_t h71[20] = {0x13, 0x7c, 0x36, 0xad, 0x76, 0x27, 0xc4, 0xdd, 0x55, 0x93,
                           0x21, 0x76, 0xbb, 0x0e, 0xcd, 0xbd, 0x50, 0x41, 0xfc, 0x82};
  const uint8_t h64[20] = {0xfe, 0x5d, 0x32, 0xbf, 0x58, 0x1b, 0xd6, 0x3b, 0x2c, 0xa9,
                           0xa5, 0xc6, 0x5b, 0xa5, 0xa6, 0x25, 0xea, 0xb3, 0xfe, 0x24};
  const uint8_t h63[20] = {0xdb, 0x84, 0xae, 0xd4, 0x10, 0x3b, 0x31, 0xdd, 0x51, 0xe0,
                           0x17, 0xf8, 0xf7, 0x97, 0x83, 0xca, 0x98, 0x5c, 0x2c, 0x51};
  EXPECT_EQ(version_from_header(h71), 4);
  EXPECT_EQ(version_from_header(h64), 3);
  EXPECT_EQ(version_from_header(h63), 2);
  uint8_t other[20] = {};
  EXPECT_EQ(version_from_header(other), 0);
  EXPECT_EQ(version_from_header(std::span(h71, 19)), 0);
}

TEST(OrcVersion, FromRelease) {
  EXPECT_EQ(version_from_release("4.14.0"), 1);
  EXPECT_EQ(version_from_release("4.19.0-25-amd64"), 1);
  EXPECT_EQ(version_from_release("6.1.0-56-cloud-amd64"), 1);
  EXPECT_EQ(version_from_release("6.2.16"), 1);
  EXPECT_EQ(version_from_release("6.3.13"), 2);
  EXPECT_EQ(version_from_release("6.4.0"), 3);
  EXPECT_EQ(version_from_release("6.12.9+bpo-amd64"), 3);
  EXPECT_EQ(version_from_release("7.0.3"), 3);
  EXPECT_EQ(version_from_release("7.1.0-rc1"), 4);
  EXPECT_EQ(version_from_release("8"), 4);
  EXPECT_EQ(version_from_release("5.14.0-570.12.1.el9_6.x86_64"), 3);
  EXPECT_EQ(version_from_release("5.14.0-70.13.1.el9_0.x86_64"), 1);
  EXPECT_EQ(version_from_release(""), 0);
  EXPECT_EQ(version_from_release("linux"), 0);
}

// The canonical table every orc_cases.S build describes.
void expect_canonical_table(const OrcTable& t, const test::LoadedImage& img) {
  uint64_t f1 = img.sym("orc_f1"), f2 = img.sym("orc_f2"), f3 = img.sym("orc_f3");
  ASSERT_EQ(t.ips.size(), 7u);
  ASSERT_EQ(t.entries.size(), 7u);
  EXPECT_TRUE(std::is_sorted(t.ips.begin(), t.ips.end()));
  const OrcEntry* e = lookup(t, f1);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->type, kTypeCall);
  EXPECT_EQ(e->sp_reg, kRegSp);
  EXPECT_EQ(e->sp_offset, 8);
  EXPECT_EQ(e->bp_reg, kRegUndefined);
  e = lookup(t, f1 + 3);  // still the first entry
  EXPECT_EQ(e->sp_offset, 8);
  e = lookup(t, f1 + 4);
  EXPECT_EQ(e->sp_offset, 16);
  EXPECT_EQ(e->bp_reg, kRegPrevSp);
  EXPECT_EQ(e->bp_offset, -16);
  // The real entry at orc_f2 wins over the terminator with the same ip.
  e = lookup(t, f2);
  EXPECT_EQ(e->type, kTypeRegs);
  EXPECT_TRUE(e->signal);
  e = lookup(t, f3);
  EXPECT_EQ(e->type, kTypeEndOfStack);
  e = lookup(t, f3 + 2);
  EXPECT_EQ(e->type, kTypeRegsPartial);
  EXPECT_EQ(e->sp_offset, 40);
  EXPECT_TRUE(e->signal);
  e = lookup(t, f3 + 4);
  EXPECT_EQ(e->sp_reg, kRegSpIndirect);
  EXPECT_EQ(e->bp_reg, kRegBp);
  EXPECT_EQ(e->bp_offset, -8);
  EXPECT_EQ(e->signal, t.version >= 2);  // v1 has no signal bit; CALL does not imply it
  EXPECT_EQ(lookup(t, f1 - 1), nullptr);
}

TEST(OrcLoad, EveryFormatFromElfWithBias) {
  VMC_REQUIRE_UNWIND_FIXTURES();
  const int64_t bias = 0x1c200000;
  struct Case { const char* file; const char* release; int version; };
  const Case cases[] = {
      {"orc_v1.so", "6.1.0-56-cloud-amd64", 1}, {"orc_v2.so", "6.3.1", 2},       {"orc_v3.so", "6.8.0", 3},
      {"orc_v4.so", "7.1.0", 4},                {"orc_v2_header.so", "4.19", 2}, {"orc_v4_header.so", "", 4},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    auto img = test::load_fixture(c.file, bias);
    ASSERT_TRUE(img);
    auto t = load_orc_from_elf(*img->elf, bias, c.release);
    ASSERT_TRUE(t.ok()) << t.error().message();
    EXPECT_EQ(t->version, c.version);
    expect_canonical_table(*t, *img);
  }
}

TEST(OrcLoad, UnknownHeaderHashIsRefused) {
  VMC_REQUIRE_UNWIND_FIXTURES();
  auto img = test::load_fixture("orc_bad_header.so", 0);
  ASSERT_TRUE(img);
  auto t = load_orc_from_elf(*img->elf, 0, "6.8.0");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code(), Errc::kUnsupported);
  EXPECT_NE(t.error().message().find(".orc_header"), std::string::npos);
}

TEST(OrcLoad, NoSectionsIsNotFound) {
  VMC_REQUIRE_UNWIND_FIXTURES();
  auto img = test::load_fixture("cfi_cases.so", 0);
  ASSERT_TRUE(img);
  auto t = load_orc_from_elf(*img->elf, 0, "6.1.0");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code(), Errc::kNotFound);
}

TEST(OrcLoad, ModuleTableFromMemory) {
  // Two entries at ips 0xffffffffc0502000 and +0x10, stored as offsets
  // relative to their own slots, as a loaded module's sorted table.
  FakeVm vm;
  const uint64_t ipt = 0xffffffffc0507c5a, ent = 0xffffffffc0507000;
  const uint64_t ips[] = {0xffffffffc0502000, 0xffffffffc0502010};
  for (int i = 0; i < 2; ++i) vm.put32(ipt + 4 * i, uint32_t(int32_t(ips[i] - (ipt + 4 * i))));
  OrcEntry a;
  a.type = kTypeCall;
  a.sp_reg = kRegSp;
  a.sp_offset = 8;
  OrcEntry b = a;
  b.sp_offset = 24;
  b.bp_reg = kRegPrevSp;
  b.bp_offset = -16;
  uint8_t raw[6];
  encode_entry(1, a, raw, Endian::kLittle);
  for (int i = 0; i < 6; ++i) vm.put(ent + i, 1, raw[i]);
  encode_entry(1, b, raw, Endian::kLittle);
  for (int i = 0; i < 6; ++i) vm.put(ent + 6 + i, 1, raw[i]);
  auto t = load_orc_from_memory(vm, ipt, ent, 2, 1);
  ASSERT_TRUE(t.ok()) << t.error().message();
  ASSERT_EQ(t->ips.size(), 2u);
  EXPECT_EQ(t->ips[0], ips[0]);
  EXPECT_EQ(t->ips[1], ips[1]);
  EXPECT_EQ(lookup(*t, ips[1] + 5)->sp_offset, 24);
  EXPECT_EQ(lookup(*t, ips[1] - 1)->sp_offset, 8);

  // A table that cannot be read names its address.
  auto bad = load_orc_from_memory(vm, ipt, ent + 0x1000, 2, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("0xffffffffc0508000"), std::string::npos) << bad.error().message();
  // Absurd counts are refused before reading.
  size_t reads = vm.reads;
  auto huge = load_orc_from_memory(vm, ipt, ent, kMaxEntries + 1, 1);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().code(), Errc::kLimit);
  EXPECT_EQ(vm.reads, reads);
}

TEST(OrcLoad, MismatchedSectionSizesAreBadData) {
  uint8_t ips[8] = {}, ents[6] = {};
  auto t = build_table(ips, ents, 0x1000, 1, Endian::kLittle, "test");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code(), Errc::kBadData);
}

TEST(OrcDescribe, NamesFields) {
  OrcEntry e;
  e.type = kTypeCall;
  e.sp_reg = kRegSp;
  e.sp_offset = 16;
  e.bp_reg = kRegPrevSp;
  e.bp_offset = -16;
  EXPECT_EQ(describe(e), "type:call sp:sp+16 bp:prevsp-16");
}

}  // namespace
}  // namespace vmc
