// Page-table walks on synthetic page tables for every x86 paging mode.
#include <gtest/gtest.h>

#include "arch/backend.h"
#include "support/builders.h"

namespace vmc {
extern const ArchBackend kX86_64Backend;
extern const ArchBackend kI386Backend;

namespace {

using test::FakePhysMem;

// Builds x86-64 page tables (4- or 5-level) in a FakePhysMem.
class X86_64Tables {
 public:
  X86_64Tables(FakePhysMem& m, unsigned levels) : m_(m), levels_(levels) { m_.touch(root); }
  static constexpr uint64_t root = 0x1000;

  // Maps va -> pa with a page of `page_size` (4K, 2M or 1G).
  void map(uint64_t va, uint64_t pa, uint64_t page_size = 4096) {
    uint64_t table = root;
    unsigned stop = page_size == (1ull << 30) ? 3 : page_size == (1ull << 21) ? 2 : 1;
    for (unsigned level = levels_; level >= 1; --level) {
      unsigned shift = 12 + 9 * (level - 1);
      uint64_t entry = table + ((va >> shift) & 511) * 8;
      if (level == stop) {
        m_.put(entry, 8, pa | 0x3 | (stop > 1 ? 0x80 : 0) | (1ull << 63));  // NX set: must be ignored
        return;
      }
      uint64_t e = read(entry);
      if (!(e & 1)) {
        e = (next_ += 0x1000) | 0x63;
        m_.touch(e & ~0xfffull);
        m_.put(entry, 8, e);
      }
      table = e & 0x000ffffffffff000ull;
    }
  }
  uint64_t read(uint64_t pa) {
    uint8_t b[8];
    EXPECT_TRUE(m_.read_phys(PhysAddr(pa), b).ok());
    return load_u64(b, Endian::kLittle);
  }

 private:
  FakePhysMem& m_;
  unsigned levels_;
  uint64_t next_ = 0x100000;
};

std::unique_ptr<VtopState> init(const ArchBackend& b, FakePhysMem& m, VtopHints h) {
  auto r = b.initvtop(h, m);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? std::move(r).value() : nullptr;
}

TEST(X86_64Paging, FourLevelAllPageSizes) {
  FakePhysMem m;
  X86_64Tables t(m, 4);
  t.map(0xffffffff81000000ull, 0x2000000);                   // 4K
  t.map(0xffff888000200000ull, 0x200000, 1ull << 21);         // 2M
  t.map(0xffff888040000000ull, 0x40000000, 1ull << 30);       // 1G
  VtopHints h{Machine::kX86_64, DumpKind::kFull, {PhysAddr(X86_64Tables::root)}, false, {}, {}};
  auto st = init(kX86_64Backend, m, h);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->paging(), "4-level");

  auto r = kX86_64Backend.kvatop(*st, m, 0xffffffff81000123ull);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->pa.v, 0x2000123u);
  EXPECT_EQ(r->valid, 0x1000u - 0x123);
  EXPECT_EQ(r->page_size, 0x1000u);

  r = kX86_64Backend.kvatop(*st, m, 0xffff888000212345ull);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->pa.v, 0x212345u);
  EXPECT_EQ(r->page_size, 1u << 21);
  EXPECT_EQ(r->valid, (1u << 21) - 0x12345);

  r = kX86_64Backend.kvatop(*st, m, 0xffff888041234567ull);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->pa.v, 0x41234567u);
  EXPECT_EQ(r->page_size, 1u << 30);
}

TEST(X86_64Paging, ErrorsAreDistinct) {
  FakePhysMem m;
  X86_64Tables t(m, 4);
  t.map(0xffffffff81000000ull, 0x2000000);
  VtopHints h{Machine::kX86_64, DumpKind::kFull, {PhysAddr(X86_64Tables::root)}, false, {}, {}};
  auto st = init(kX86_64Backend, m, h);
  ASSERT_TRUE(st);

  auto r = kX86_64Backend.kvatop(*st, m, 0xffffffff81001000ull);  // PT entry not present
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNotMapped);
  EXPECT_NE(r.error().message().find("0xffffffff81001000"), std::string::npos);
  EXPECT_NE(r.error().message().find("PT entry"), std::string::npos);

  r = kX86_64Backend.kvatop(*st, m, 0x0000800000000000ull);  // non-canonical (4-level)
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNonCanonical);

  r = kX86_64Backend.kvatop(*st, m, 0x00007f0000000000ull);  // PML4 entry not present
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNotMapped);
  EXPECT_NE(r.error().message().find("PML4"), std::string::npos);
}

TEST(X86_64Paging, TruncatedAndExcludedTables) {
  FakePhysMem m;
  // PML4[511] -> a PDPT page that is not in the dump (as when the file was
  // truncated), PML4[510] -> a PDPT page that was filtered out.
  m.put(X86_64Tables::root + 511 * 8, 8, 0x7000000 | 0x63);
  m.put(X86_64Tables::root + 510 * 8, 8, 0x8000000 | 0x63);
  m.exclude(0x8000000);
  VtopHints h{Machine::kX86_64, DumpKind::kFull, {PhysAddr(X86_64Tables::root)}, false, {}, {}};
  auto st = init(kX86_64Backend, m, h);
  ASSERT_TRUE(st);
  auto r = kX86_64Backend.kvatop(*st, m, 0xffffff8000000000ull);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNotInDump);
  EXPECT_NE(r.error().message().find("PDPT entry"), std::string::npos);
  r = kX86_64Backend.kvatop(*st, m, 0xffffff0000000000ull);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kExcluded);
}

TEST(X86_64Paging, CycleTerminates) {
  FakePhysMem m;
  // Every level points back at the root: the walk must end after 4 reads.
  for (int i = 0; i < 512; ++i) m.put(X86_64Tables::root + i * 8, 8, X86_64Tables::root | 0x63);
  VtopHints h{Machine::kX86_64, DumpKind::kFull, {PhysAddr(X86_64Tables::root)}, false, {}, {}};
  auto st = init(kX86_64Backend, m, h);
  ASSERT_TRUE(st);
  size_t before = m.reads;
  auto r = kX86_64Backend.kvatop(*st, m, 0xffffffff81000000ull);
  EXPECT_LE(m.reads - before, 4u);
  ASSERT_TRUE(r.ok());  // a self-map translates (to the root page): bounded, not a hang
  EXPECT_EQ(r->pa.v, X86_64Tables::root);
}

TEST(X86_64Paging, FiveLevel) {
  FakePhysMem m;
  X86_64Tables t(m, 5);
  t.map(0xff11000000001000ull, 0x3000);  // 5-level direct map
  t.map(0xffffffff81000000ull, 0x2000000, 1ull << 21);
  VtopHints h{Machine::kX86_64, DumpKind::kFull, {PhysAddr(X86_64Tables::root)}, true, {}, {}};
  auto st = init(kX86_64Backend, m, h);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->paging(), "5-level");
  auto r = kX86_64Backend.kvatop(*st, m, 0xff11000000001010ull);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->pa.v, 0x3010u);
  // Canonical under 5-level, not under 4-level.
  r = kX86_64Backend.kvatop(*st, m, 0xff00800000000000ull);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNotMapped);
  r = kX86_64Backend.kvatop(*st, m, 0x0100000000000000ull);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNonCanonical);
}

TEST(X86_64Paging, ModeDetectedByKnownMapping) {
  for (unsigned levels : {4u, 5u}) {
    FakePhysMem m;
    X86_64Tables t(m, levels);
    t.map(0xffffffff82a0a000ull, 0x2a0a000);
    VtopHints h{Machine::kX86_64, DumpKind::kFull, {PhysAddr(0x9000), PhysAddr(X86_64Tables::root)}, {}, {},
                std::make_pair(uint64_t(0xffffffff82a0a000ull), PhysAddr(0x2a0a000))};
    m.touch(0x9000);  // a bogus first candidate root (empty table)
    auto st = init(kX86_64Backend, m, h);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->paging(), levels == 5 ? "5-level" : "4-level");
    EXPECT_EQ(st->root().v, X86_64Tables::root);
  }
}

TEST(X86_64Paging, NoValidRootIsAnError) {
  FakePhysMem m;
  m.touch(0x1000);
  VtopHints h{Machine::kX86_64, DumpKind::kFull, {PhysAddr(0x1000)}, {}, {},
              std::make_pair(uint64_t(0xffffffff82a0a000ull), PhysAddr(0x2a0a000))};
  auto r = kX86_64Backend.initvtop(h, m);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("0x1000"), std::string::npos);
}

TEST(I386Paging, NonPaeWith4MPages) {
  FakePhysMem m;
  const uint64_t pd = 0x5000, pt = 0x6000;
  m.touch(pd);
  m.put(pd + (0xc0000000u >> 22) * 4, 4, 0x00000000 | 0x83);  // 4M page at 0
  m.put(pd + (0xc1400000u >> 22) * 4, 4, 0x01400000 | 0x83 | (0x3u << 13));  // PSE-36: bits 33:32 = 3
  m.put(pd + (0xf0000000u >> 22) * 4, 4, pt | 0x63);
  m.put(pt + ((0xf0003000u >> 12) & 1023) * 4, 4, 0x7654000 | 0x63);
  VtopHints h{Machine::kI386, DumpKind::kFull, {PhysAddr(pd)}, {}, false, {}};
  auto st = init(kI386Backend, m, h);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->paging(), "2-level");
  auto r = kI386Backend.kvatop(*st, m, 0xc0123456u);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->pa.v, 0x123456u);
  EXPECT_EQ(r->page_size, 4u << 20);
  r = kI386Backend.kvatop(*st, m, 0xc1400010u);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->pa.v, 0x301400010ull);
  r = kI386Backend.kvatop(*st, m, 0xf0003abcu);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->pa.v, 0x7654abcu);
  r = kI386Backend.kvatop(*st, m, 0xf0004000u);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNotMapped);
  r = kI386Backend.kvatop(*st, m, 0x1c0000000ull);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNonCanonical);
}

TEST(I386Paging, PaeWith2MPagesAndDetection) {
  FakePhysMem m;
  const uint64_t pdpt = 0x5000, pd3 = 0x7000, pt = 0x8000;
  m.touch(pdpt);
  m.put(pdpt + 3 * 8, 8, pd3 | 0x1);
  m.put(pd3 + ((0xc0000000u >> 21) & 511) * 8, 8, 0x0 | 0x83 | (1ull << 63));  // 2M at 0, NX
  m.put(pd3 + ((0xc1e00000u >> 21) & 511) * 8, 8, pt | 0x63);
  m.put(pt + ((0xc1e74000u >> 12) & 511) * 8, 8, 0x123474000ull | 0x63);  // above 4G
  VtopHints h{Machine::kI386, DumpKind::kFull, {PhysAddr(pdpt)}, {}, {},
              std::make_pair(uint64_t(0xc0001000u), PhysAddr(0x1000))};
  auto st = init(kI386Backend, m, h);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->paging(), "pae");
  auto r = kI386Backend.kvatop(*st, m, 0xc01fffffu);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->pa.v, 0x1fffffu);
  EXPECT_EQ(r->valid, 1u);
  r = kI386Backend.kvatop(*st, m, 0xc1e74010u);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->pa.v, 0x123474010ull);
  r = kI386Backend.kvatop(*st, m, 0x40000000u);  // PDPTE 1 not present
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("PDPTE"), std::string::npos);
}

TEST(I386Paging, NonPaeDetectedByTrial) {
  FakePhysMem m;
  const uint64_t pd = 0x5000;
  m.touch(pd);
  m.put(pd + (0xc0000000u >> 22) * 4, 4, 0x83);
  VtopHints h{Machine::kI386, DumpKind::kFull, {PhysAddr(pd)}, {}, {},
              std::make_pair(uint64_t(0xc0005000u), PhysAddr(0x5000))};
  auto st = init(kI386Backend, m, h);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->paging(), "2-level");
}

TEST(Backends, TableProbe) {
  VtopHints h;
  h.machine = Machine::kX86_64;
  auto b = probe_backend(h);
  ASSERT_TRUE(b.ok());
  EXPECT_STREQ((*b)->name, "x86_64");
  h.machine = Machine::kI386;
  EXPECT_STREQ((*probe_backend(h))->name, "i386");
  h.kind = DumpKind::kMinidump;
  auto r = probe_backend(h);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("tried: x86_64, i386"), std::string::npos);
}

}  // namespace
}  // namespace vmc
