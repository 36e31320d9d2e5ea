#include <gtest/gtest.h>

#include "kvm/dump/elf_dump.h"
#include "support/builders.h"

namespace vmc {
namespace {

using test::ElfCoreBuilder;
using test::TempFile;

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 7);
  return v;
}

Result<std::unique_ptr<Dump>> open_bytes(const std::vector<uint8_t>& b) {
  return open_dump_source(std::make_shared<BufferSource>(b, "synthetic.vmcore"));
}

TEST(ElfDump, ReadsLoadsAndNotesInBothClassesAndOrders) {
  for (bool elf64 : {true, false}) {
    for (Endian e : {Endian::kLittle, Endian::kBig}) {
      ElfCoreBuilder b(elf64, e, elf64 ? 62 : 3);
      b.add_note("CORE", 1, std::vector<uint8_t>(elf64 ? 336 : 144, 0xaa));
      b.add_note("VMCOREINFO", 0, std::vector<uint8_t>{'O', 'S', 'R', 'E', 'L', 'E', 'A', 'S', 'E', '=', '6', '\n'});
      b.add_load(0x0, 0, pattern(0x2000, 1));
      b.add_load(0x100000, 0, pattern(0x1000, 2));
      auto d = open_bytes(b.build());
      ASSERT_TRUE(d.ok()) << d.error().message();
      EXPECT_EQ((*d)->machine(), elf64 ? Machine::kX86_64 : Machine::kI386);
      EXPECT_EQ((*d)->endian(), e);
      ASSERT_EQ((*d)->notes().size(), 2u);
      EXPECT_EQ((*d)->notes()[0].name, "CORE");
      EXPECT_EQ((*d)->notes()[0].desc.size(), elf64 ? 336u : 144u);
      ASSERT_TRUE((*d)->vmcoreinfo());
      EXPECT_EQ(*(*d)->vmcoreinfo(), "OSRELEASE=6\n");
      EXPECT_EQ((*d)->producer(), "kdump");
      std::vector<uint8_t> buf(0x10);
      ASSERT_TRUE((*d)->read_phys(PhysAddr(0x1ff8), std::span(buf.data(), 8)).ok());
      auto p = pattern(0x2000, 1);
      EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + 8, p.begin() + 0x1ff8));
      auto r = (*d)->read_phys(PhysAddr(0x1ff8), std::span(buf.data(), 16));  // crosses into a hole
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().code(), Errc::kNotInDump);
      EXPECT_NE(r.error().message().find("0x2000"), std::string::npos);
    }
  }
}

TEST(ElfDump, QemuLayoutWithPnXnumAndI386InElf64) {
  ElfCoreBuilder b(true, Endian::kLittle, 3);  // QEMU writes i386 guests as ELFCLASS64/EM_386
  b.set_qemu_layout(true);
  b.add_note("CORE", 1, std::vector<uint8_t>(144, 0));
  b.add_note("QEMU", 0, std::vector<uint8_t>(0x1b8, 0));
  b.add_load(0x0, 0, pattern(0x1000, 3));
  auto d = open_bytes(b.build());
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ((*d)->machine(), Machine::kI386);
  EXPECT_EQ((*d)->producer(), "qemu");
  EXPECT_EQ((*d)->notes().size(), 2u);
}

TEST(ElfDump, FilteredTailIsExcludedNotZero) {
  ElfCoreBuilder b(true, Endian::kLittle, 62);
  b.add_note("CORE", 1, std::vector<uint8_t>(336, 0));
  b.add_load(0x10000, 0, pattern(0x1000, 4), 0x3000);
  auto d = open_bytes(b.build());
  ASSERT_TRUE(d.ok()) << d.error().message();
  std::vector<uint8_t> buf(8);
  EXPECT_TRUE((*d)->read_phys(PhysAddr(0x10ff8), buf).ok());
  auto r = (*d)->read_phys(PhysAddr(0x11000), buf);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kExcluded);
  EXPECT_EQ((*d)->producer(), "makedumpfile");
}

TEST(ElfDump, TruncatedFileIsReported) {
  ElfCoreBuilder b(true, Endian::kLittle, 62);
  b.add_note("CORE", 1, std::vector<uint8_t>(336, 0));
  b.add_load(0x0, 0, pattern(0x3000, 5));
  auto bytes = b.build();
  bytes.resize(bytes.size() - 0x1800);
  auto d = open_bytes(bytes);
  ASSERT_TRUE(d.ok()) << d.error().message();
  ASSERT_EQ((*d)->warnings().size(), 1u);
  std::vector<uint8_t> buf(8);
  EXPECT_TRUE((*d)->read_phys(PhysAddr(0x0), buf).ok());
  auto r = (*d)->read_phys(PhysAddr(0x2000), buf);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kTruncated);
  EXPECT_NE(r.error().message().find("physical address 0x2000"), std::string::npos);
}

TEST(ElfDump, CorruptHeadersAreRejected) {
  ElfCoreBuilder b(true, Endian::kLittle, 62);
  b.add_note("CORE", 1, std::vector<uint8_t>(336, 0));
  b.add_load(0x0, 0, pattern(0x1000, 6));
  auto good = b.build();
  // Every truncation of the headers fails cleanly.
  for (size_t n : {size_t(0), size_t(3), size_t(20), size_t(63), size_t(100), size_t(200)}) {
    std::vector<uint8_t> t(good.begin(), good.begin() + n);
    auto d = open_bytes(t);
    EXPECT_FALSE(d.ok()) << "prefix " << n;
  }
  auto bad = good;
  bad[56] = 0xff; bad[57] = 0xfe;  // e_phnum huge
  EXPECT_FALSE(open_bytes(bad).ok());
  bad = good;
  bad[16] = 2;  // ET_EXEC, not a core
  auto r = open_bytes(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kUnsupported);
  bad = good;
  bad[18] = 40;  // EM_ARM
  EXPECT_EQ(open_bytes(bad).error().code(), Errc::kUnsupported);
  // A note whose descsz runs past its segment.
  ElfCoreBuilder nb(true, Endian::kLittle, 62);
  nb.add_note("CORE", 1, std::vector<uint8_t>(16, 0));
  nb.add_load(0x0, 0, pattern(0x1000, 6));
  auto notebad = nb.build();
  size_t note_off = 64 + 2 * 56;
  notebad[note_off + 4] = 0xff;
  auto rn = open_bytes(notebad);
  ASSERT_FALSE(rn.ok());
  EXPECT_EQ(rn.error().code(), Errc::kBadData);
}

TEST(Detect, UnknownFormatNamesWhatWasTried) {
  auto r = open_bytes(std::vector<uint8_t>(100, 'x'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kUnsupported);
  EXPECT_NE(r.error().message().find("tried"), std::string::npos);
  auto e = open_bytes({});
  ASSERT_FALSE(e.ok());
  auto missing = open_dump("/nonexistent/vmcore");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Errc::kIo);
}

TEST(Detect, OpensRealFileReadOnly) {
  ElfCoreBuilder b(true, Endian::kLittle, 62);
  b.add_note("CORE", 1, std::vector<uint8_t>(336, 0));
  b.add_load(0x0, 0, pattern(0x1000, 7));
  TempFile f(b.build());
  auto d = open_dump(f.path());
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ((*d)->path(), f.path());
}

}  // namespace
}  // namespace vmc
