#include <gtest/gtest.h>

#include <random>

#include "kvm/dump/diskdump.h"
#include "support/builders.h"
#include "support/builders_dumps.h"

namespace vmc {
namespace {

using test::ByteWriter;
using test::DiskDumpBuilder;
using test::PageEnc;
using test::page_pattern;

constexpr char kName[] = "synthetic.kdump";

Result<std::unique_ptr<DiskDump>> open_bytes(const std::vector<uint8_t>& b) {
  return DiskDump::open(std::make_shared<BufferSource>(b, kName));
}

bool has(const std::string& msg, const std::string& what) { return msg.find(what) != std::string::npos; }

std::vector<uint8_t> prstatus(bool is64) { return std::vector<uint8_t>(is64 ? 336 : 144, 0x5a); }

std::vector<uint8_t> read_page(DiskDump& d, uint64_t pfn, Status* st) {
  std::vector<uint8_t> buf(d.block_size());
  *st = d.read_phys(PhysAddr(pfn * d.block_size()), buf);
  return buf;
}

TEST(DiskDump, EveryHeaderVersionInBothLayouts) {
  for (std::string machine : {"x86_64", "i386", "i686"}) {
    const bool is64 = machine == "x86_64";
    for (int v = 1; v <= 6; ++v) {
      SCOPED_TRACE(machine + " v" + std::to_string(v));
      DiskDumpBuilder b(machine, v);
      b.add_page(0, page_pattern(4096, 1), PageEnc::kRaw);
      b.add_page(1, page_pattern(4096, 2), PageEnc::kZlib);
      b.add_page(3, page_pattern(4096, 3), PageEnc::kExcluded);
      b.add_page(5, page_pattern(4096, 4), PageEnc::kLzo);
      b.add_note("CORE", 1, prstatus(is64));
      b.set_vmcoreinfo("OSRELEASE=6.1.0-test\nPAGESIZE=4096\n");
      b.set_eraseinfo("erase foo size 4\n");
      b.set_phys_base(is64 ? 0x12000000 : 0);
      auto d = open_bytes(b.build());
      ASSERT_TRUE(d.ok()) << d.error().message();
      DiskDump& dd = **d;
      EXPECT_EQ(dd.header_version(), v);
      EXPECT_EQ(dd.layout(), is64 ? "x86_64" : "i386");
      EXPECT_EQ(dd.machine(), is64 ? Machine::kX86_64 : Machine::kI386);
      EXPECT_EQ(dd.endian(), Endian::kLittle);
      EXPECT_EQ(dd.format(), "kdump-compressed");
      EXPECT_EQ(dd.producer(), "makedumpfile");
      EXPECT_EQ(dd.block_size(), 4096u);
      EXPECT_EQ(dd.max_mapnr(), 6u);
      EXPECT_EQ(dd.dumped_pages(), 3u);
      EXPECT_EQ(dd.compression(), "zlib+lzo");
      const DumpHeader& h = dd.header();
      EXPECT_EQ(h.machine, machine);
      EXPECT_EQ(h.release, "6.1.0-test");
      EXPECT_EQ(h.nodename, "testhost");
      EXPECT_EQ(h.sysname, "Linux");
      EXPECT_EQ(h.timestamp, 1700000000);
      EXPECT_EQ(h.nr_cpus, 2u);
      EXPECT_EQ(h.current_cpu, 1u);
      EXPECT_EQ(h.dump_level, 31);
      EXPECT_EQ(h.phys_base, is64 ? 0x12000000u : 0u);
      EXPECT_EQ(h.max_pfn, 6u);
      EXPECT_FALSE(h.incomplete);
      EXPECT_TRUE(dd.warnings().empty()) << dd.warnings().front();
      // Notes exist from v4, VMCOREINFO from v3.
      EXPECT_EQ(dd.notes().size(), v >= 4 ? 2u : 0u);
      if (v >= 4) {
        EXPECT_EQ(dd.notes()[0].name, "CORE");
        EXPECT_EQ(dd.notes()[0].desc.size(), is64 ? 336u : 144u);
      }
      if (v >= 3) {
        ASSERT_TRUE(dd.vmcoreinfo());
        EXPECT_EQ(*dd.vmcoreinfo(), "OSRELEASE=6.1.0-test\nPAGESIZE=4096\n");
      } else {
        EXPECT_FALSE(dd.vmcoreinfo());
      }
      Status st;
      EXPECT_EQ(read_page(dd, 0, &st), page_pattern(4096, 1));
      EXPECT_TRUE(st.ok());
      EXPECT_EQ(read_page(dd, 1, &st), page_pattern(4096, 2));
      EXPECT_TRUE(st.ok());
      EXPECT_EQ(read_page(dd, 5, &st), page_pattern(4096, 4));
      EXPECT_TRUE(st.ok()) << st.error().message();
      read_page(dd, 3, &st);
      ASSERT_FALSE(st.ok());
      EXPECT_EQ(st.error().code(), Errc::kExcluded);
      read_page(dd, 2, &st);
      ASSERT_FALSE(st.ok());
      EXPECT_EQ(st.error().code(), Errc::kNotInDump);
      ASSERT_EQ(dd.ranges().size(), 3u);
      EXPECT_EQ(dd.ranges()[0].start, 0u);
      EXPECT_EQ(dd.ranges()[0].size, 0x2000u);
      EXPECT_EQ(dd.ranges()[1].start, 0x3000u);
      EXPECT_EQ(dd.ranges()[2].start, 0x5000u);
    }
  }
}

TEST(DiskDump, EveryCompressionDecodes) {
  DiskDumpBuilder b("x86_64", 6);
  const PageEnc encs[] = {PageEnc::kRaw, PageEnc::kZlib, PageEnc::kLzo, PageEnc::kSnappy, PageEnc::kZstd};
  for (uint64_t pfn = 0; pfn < 20; ++pfn) b.add_page(pfn, page_pattern(4096, uint32_t(pfn) + 10), encs[pfn % 5]);
  auto d = open_bytes(b.build());
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ((*d)->compression(), "zlib+lzo+snappy+zstd");
  for (uint64_t pfn = 0; pfn < 20; ++pfn) {
    Status st;
    EXPECT_EQ(read_page(**d, pfn, &st), page_pattern(4096, uint32_t(pfn) + 10)) << test::page_enc_name(encs[pfn % 5]);
    EXPECT_TRUE(st.ok()) << st.error().message();
  }
  // The header status may name no codec; the pages still tell.
  for (PageEnc e : encs) {
    DiskDumpBuilder one("i686", 6);
    one.add_page(7, page_pattern(4096, 99), e);
    one.set_status(0);
    auto od = open_bytes(one.build());
    ASSERT_TRUE(od.ok()) << od.error().message();
    EXPECT_EQ((*od)->compression(), e == PageEnc::kRaw ? "none" : test::page_enc_name(e));
    Status st;
    EXPECT_EQ(read_page(**od, 7, &st), page_pattern(4096, 99));
    EXPECT_TRUE(st.ok()) << st.error().message();
  }
}

TEST(DiskDump, OtherBlockSizes) {
  for (uint32_t bs : {512u, 8192u, 65536u}) {
    DiskDumpBuilder b("x86_64", 6, bs);
    b.add_page(0, page_pattern(bs, 1), PageEnc::kZstd);
    b.add_page(9, page_pattern(bs, 2), PageEnc::kZlib);
    auto d = open_bytes(b.build());
    ASSERT_TRUE(d.ok()) << d.error().message();
    EXPECT_EQ((*d)->block_size(), bs);
    Status st;
    EXPECT_EQ(read_page(**d, 9, &st), page_pattern(bs, 2));
    EXPECT_TRUE(st.ok());
  }
}

TEST(DiskDump, ReadsAcrossPagesAndCachesDecodedPages) {
  DiskDumpBuilder b("x86_64", 6);
  for (uint64_t pfn = 0; pfn < 12; ++pfn) b.add_page(pfn, page_pattern(4096, uint32_t(pfn)), PageEnc::kZlib);
  b.add_page(12, page_pattern(4096, 12), PageEnc::kExcluded);
  auto d = open_bytes(b.build());
  ASSERT_TRUE(d.ok()) << d.error().message();
  DiskDump& dd = **d;
  // A read crossing three pages.
  std::vector<uint8_t> buf(4096 + 16);
  ASSERT_TRUE(dd.read_phys(PhysAddr(0x1ff8), buf).ok());
  auto p1 = page_pattern(4096, 1), p2 = page_pattern(4096, 2), p3 = page_pattern(4096, 3);
  EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + 8, p1.end() - 8));
  EXPECT_TRUE(std::equal(buf.begin() + 8, buf.begin() + 8 + 4096, p2.begin()));
  EXPECT_TRUE(std::equal(buf.end() - 8, buf.end(), p3.begin()));
  uint64_t decoded = dd.pages_decoded();
  EXPECT_EQ(decoded, 3u);
  // Sequential small reads of one page decode it once.
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(dd.read_phys(PhysAddr(0x5000 + i * 8), std::span(buf.data(), 8)).ok());
  EXPECT_EQ(dd.pages_decoded(), decoded + 1);
  // Touch more pages than the cache holds, then the first again: decoded anew.
  for (uint64_t pfn = 0; pfn < 12; ++pfn) ASSERT_TRUE(dd.read_phys(PhysAddr(pfn * 4096), std::span(buf.data(), 8)).ok());
  uint64_t before = dd.pages_decoded();
  ASSERT_TRUE(dd.read_phys(PhysAddr(0), std::span(buf.data(), 8)).ok());
  EXPECT_EQ(dd.pages_decoded(), before + 1);
  // A read that runs into an excluded page fails as a whole.
  auto r = dd.read_phys(PhysAddr(12 * 4096 - 4), std::span(buf.data(), 8));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kExcluded);
  EXPECT_TRUE(dd.read_phys(PhysAddr(0), std::span(buf.data(), 0)).ok());
}

TEST(DiskDump, ErrorsNameFileAddressAndReason) {
  DiskDumpBuilder b("x86_64", 6);
  b.add_page(0, page_pattern(4096, 1), PageEnc::kZlib);
  b.add_page(3, page_pattern(4096, 3), PageEnc::kExcluded);
  b.add_page(6, page_pattern(4096, 6), PageEnc::kRaw);
  b.set_max_mapnr(8);
  auto d = open_bytes(b.build());
  ASSERT_TRUE(d.ok()) << d.error().message();
  std::vector<uint8_t> buf(8);
  auto r = (*d)->read_phys(PhysAddr(0x3010), buf);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kExcluded);
  EXPECT_TRUE(has(r.error().message(), kName)) << r.error().message();
  EXPECT_TRUE(has(r.error().message(), "physical address 0x3010 was excluded from the dump")) << r.error().message();
  EXPECT_TRUE(has(r.error().message(), "dump level 31")) << r.error().message();
  r = (*d)->read_phys(PhysAddr(0x4000), buf);  // a hole in the 1st bitmap
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNotInDump);
  EXPECT_TRUE(has(r.error().message(), "0x4000")) << r.error().message();
  EXPECT_TRUE(has(r.error().message(), "not RAM")) << r.error().message();
  r = (*d)->read_phys(PhysAddr(0x8000), buf);  // pfn == max_mapnr
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNotInDump);
  r = (*d)->read_phys(PhysAddr(~uint64_t(0) - 3), buf);  // wraps around
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNotInDump);
}

TEST(DiskDump, RangesComeFromTheFirstBitmapMerged) {
  DiskDumpBuilder b("x86_64", 6);
  for (uint64_t pfn : {0, 1, 2, 3, 64, 65, 200}) b.add_page(pfn, page_pattern(4096, 1), pfn == 2 ? PageEnc::kExcluded : PageEnc::kRaw);
  for (uint64_t pfn = 300; pfn < 700; ++pfn) b.add_page(pfn, std::vector<uint8_t>(4096), PageEnc::kZlib);
  auto d = open_bytes(b.build());
  ASSERT_TRUE(d.ok()) << d.error().message();
  const auto& rs = (*d)->ranges();
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[0].start, 0u);
  EXPECT_EQ(rs[0].size, 4u * 4096);
  EXPECT_EQ(rs[1].start, 64u * 4096);
  EXPECT_EQ(rs[1].size, 2u * 4096);
  EXPECT_EQ(rs[2].start, 200u * 4096);
  EXPECT_EQ(rs[3].start, 300u * 4096);
  EXPECT_EQ(rs[3].size, 400u * 4096);
  // The zero pages share one copy of their data, as makedumpfile writes them.
  auto& off = b.offsets();
  EXPECT_EQ(off.page_data.at(300), off.page_data.at(699));
  std::vector<uint8_t> buf(4096, 0xee);
  ASSERT_TRUE((*d)->read_phys(PhysAddr(500 * 4096), buf).ok());
  EXPECT_EQ(buf, std::vector<uint8_t>(4096));
}

// A dump with every kind of page, notes and VMCOREINFO.
DiskDumpBuilder rich_dump(const std::string& machine = "x86_64", int version = 6) {
  DiskDumpBuilder b(machine, version);
  const PageEnc encs[] = {PageEnc::kRaw, PageEnc::kZlib, PageEnc::kLzo, PageEnc::kSnappy, PageEnc::kZstd,
                          PageEnc::kExcluded};
  for (uint64_t pfn = 0; pfn < 18; ++pfn) b.add_page(pfn, page_pattern(4096, uint32_t(pfn) * 3 + 1), encs[pfn % 6]);
  b.add_note("CORE", 1, prstatus(machine == "x86_64"));
  b.add_note("CORE", 1, prstatus(machine == "x86_64"));
  b.set_vmcoreinfo("OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(init_uts_ns)=ffffffff82a13a40\n");
  return b;
}

// Cutting the file anywhere must give a clean error (at open or on the
// pages that are gone), never a crash, a hang or different bytes.
TEST(DiskDump, TruncatedAnywhereFailsCleanly) {
  for (std::string machine : {"x86_64", "i386"}) {
    DiskDumpBuilder b = rich_dump(machine);
    const auto full = b.build();
    const auto& off = b.offsets();
    std::vector<size_t> cuts;
    for (size_t c = 0; c < full.size(); c += 37) cuts.push_back(c);
    for (uint64_t at : {uint64_t(0), uint64_t(8), off.header_size, off.sub_header, off.notes, off.vmcoreinfo,
                        off.bitmap1, off.bitmap2, off.descs, off.data})
      for (int delta : {-1, 0, 1, 8}) cuts.push_back(size_t(std::clamp<int64_t>(int64_t(at) + delta, 0, full.size())));
    size_t opened = 0, page_errors = 0;
    for (size_t cut : cuts) {
      SCOPED_TRACE(machine + " cut at " + std::to_string(cut));
      std::vector<uint8_t> part(full.begin(), full.begin() + cut);
      auto d = open_bytes(part);
      if (!d.ok()) {
        EXPECT_TRUE(d.error().code() == Errc::kTruncated || d.error().code() == Errc::kBadData)
            << errc_name(d.error().code()) << ": " << d.error().message();
        EXPECT_TRUE(has(d.error().message(), kName)) << d.error().message();
        continue;
      }
      ++opened;
      if (cut < off.data) {
        EXPECT_FALSE((*d)->warnings().empty());
      }
      for (uint64_t pfn = 0; pfn < 18; ++pfn) {
        Status st;
        auto got = read_page(**d, pfn, &st);
        if (pfn % 6 == 5) {
          ASSERT_FALSE(st.ok());
          EXPECT_EQ(st.error().code(), Errc::kExcluded);
        } else if (st.ok()) {
          EXPECT_EQ(got, page_pattern(4096, uint32_t(pfn) * 3 + 1)) << "pfn " << pfn;
        } else {
          ++page_errors;
          EXPECT_EQ(st.error().code(), Errc::kTruncated) << st.error().message();
          EXPECT_TRUE(has(st.error().message(), kName)) << st.error().message();
          EXPECT_TRUE(has(st.error().message(), "offset")) << st.error().message();
        }
      }
    }
    EXPECT_GT(opened, 10u);
    EXPECT_GT(page_errors, 10u);
  }
}

TEST(DiskDump, IncompleteDumpsSaySo) {
  DiskDumpBuilder b = rich_dump();
  b.set_status(0x8 | 0x1);
  auto full = b.build();
  const auto& off = b.offsets();
  // Cut inside the page data: the pages past the cut are missing.
  std::vector<uint8_t> part(full.begin(), full.begin() + off.page_data.at(7) + 10);
  auto d = open_bytes(part);
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_TRUE((*d)->header().incomplete);
  ASSERT_FALSE((*d)->warnings().empty());
  EXPECT_TRUE(has((*d)->warnings()[0], "incomplete"));
  Status st;
  read_page(**d, 7, &st);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::kTruncated);
  EXPECT_TRUE(has(st.error().message(), "incomplete")) << st.error().message();
  EXPECT_TRUE(has(st.error().message(), "0x8")) << st.error().message();
  // An empty descriptor (offset 0) is a page makedumpfile never wrote.
  ByteWriter w;
  w.bytes() = full;
  w.put(off.desc.at(8), 8, 0);
  w.put(off.desc.at(8) + 8, 4, 0);
  d = open_bytes(w.bytes());
  ASSERT_TRUE(d.ok()) << d.error().message();
  read_page(**d, 8, &st);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::kTruncated);
  EXPECT_TRUE(has(st.error().message(), "never written")) << st.error().message();
}

TEST(DiskDump, CorruptPagesAreBadDataNamingPfnAndOffset) {
  const PageEnc encs[] = {PageEnc::kZlib, PageEnc::kLzo, PageEnc::kSnappy, PageEnc::kZstd};
  for (PageEnc e : encs) {
    for (int how = 0; how < 3; ++how) {
      SCOPED_TRACE(std::string(test::page_enc_name(e)) + " corruption " + std::to_string(how));
      DiskDumpBuilder b("x86_64", 6);
      b.add_page(4, page_pattern(4096, 4), e);
      b.add_page(5, page_pattern(4096, 5), e);
      ByteWriter w;
      w.bytes() = b.build();
      const auto& off = b.offsets();
      uint64_t data = off.page_data.at(4), size = off.page_size.at(4);
      if (how == 0) {
        std::fill(w.bytes().begin() + data, w.bytes().begin() + data + size, 0xff);
      } else if (how == 1) {
        w.put(off.desc.at(4) + 8, 4, size / 2);  // data cut short
      } else {
        w.put(off.desc.at(4) + 8, 4, 4097);  // more than a page
      }
      auto d = open_bytes(w.bytes());
      ASSERT_TRUE(d.ok()) << d.error().message();
      Status st;
      read_page(**d, 4, &st);
      ASSERT_FALSE(st.ok());
      EXPECT_EQ(st.error().code(), Errc::kBadData) << st.error().message();
      EXPECT_TRUE(has(st.error().message(), "pfn 0x4")) << st.error().message();
      EXPECT_TRUE(has(st.error().message(), kName)) << st.error().message();
      EXPECT_TRUE(has(st.error().message(), fmt::format("{:#x}", how == 2 ? off.desc.at(4) : data)))
          << st.error().message();
      EXPECT_EQ(read_page(**d, 5, &st), page_pattern(4096, 5));  // the neighbour is fine
      EXPECT_TRUE(st.ok());
    }
  }
  // Descriptor-level nonsense.
  DiskDumpBuilder b("x86_64", 6);
  b.add_page(1, page_pattern(4096, 1), PageEnc::kRaw);
  const auto good = b.build();
  const uint64_t desc = b.offsets().desc.at(1);
  auto expect_bad = [&](uint64_t at, unsigned width, uint64_t value, Errc code) {
    ByteWriter w;
    w.bytes() = good;
    w.put(at, width, value);
    auto d = open_bytes(w.bytes());
    ASSERT_TRUE(d.ok()) << d.error().message();
    Status st;
    read_page(**d, 1, &st);
    ASSERT_FALSE(st.ok()) << "value " << value;
    EXPECT_EQ(st.error().code(), code) << st.error().message();
    EXPECT_TRUE(has(st.error().message(), "pfn 0x1")) << st.error().message();
  };
  expect_bad(desc + 8, 4, 4000, Errc::kBadData);                  // raw page that is not a page
  expect_bad(desc + 12, 4, 0x3, Errc::kBadData);                  // two codecs
  expect_bad(desc + 12, 4, 0x40, Errc::kBadData);                 // unknown flag
  expect_bad(desc, 8, uint64_t(-4096), Errc::kBadData);           // negative offset
  expect_bad(desc, 8, uint64_t(1) << 40, Errc::kTruncated);       // beyond the file
  expect_bad(desc + 8, 4, 0, Errc::kBadData);                     // empty
}

TEST(DiskDump, AbsurdHeaderValuesAreCleanErrors) {
  DiskDumpBuilder b("x86_64", 6);
  b.add_page(0, page_pattern(4096, 1), PageEnc::kZlib);
  b.add_page(2, page_pattern(4096, 2), PageEnc::kRaw);
  b.add_note("CORE", 1, prstatus(true));
  const auto good = b.build();
  const auto off = b.offsets();
  auto patched = [&](uint64_t at, unsigned width, uint64_t value) {
    ByteWriter w;
    w.bytes() = good;
    w.put(at, width, value);
    return open_bytes(w.bytes());
  };
  auto expect_err = [&](uint64_t at, unsigned width, uint64_t value, Errc code, const std::string& words) {
    auto d = patched(at, width, value);
    ASSERT_FALSE(d.ok()) << "field at " << at << " = " << value;
    EXPECT_EQ(d.error().code(), code) << d.error().message();
    EXPECT_TRUE(has(d.error().message(), words)) << d.error().message();
    EXPECT_TRUE(has(d.error().message(), kName)) << d.error().message();
  };
  expect_err(off.block_size, 4, 0, Errc::kBadData, "block_size 0");
  expect_err(off.block_size, 4, 3, Errc::kBadData, "block_size 3");
  expect_err(off.block_size, 4, 1 << 20, Errc::kBadData, "block_size");
  expect_err(off.block_size, 4, 0x80000000u, Errc::kBadData, "block_size");
  expect_err(off.sub_hdr_size, 4, 0, Errc::kBadData, "sub_hdr_size 0");
  expect_err(off.sub_hdr_size, 4, 0xffffffffu, Errc::kBadData, "sub_hdr_size -1");
  expect_err(off.sub_hdr_size, 4, 0x7fffffff, Errc::kTruncated, "1st bitmap");
  expect_err(off.bitmap_blocks, 4, 0, Errc::kBadData, "bitmap_blocks");
  expect_err(off.bitmap_blocks, 4, 0xffffffffu, Errc::kTruncated, "2nd bitmap");
  expect_err(8, 4, 0, Errc::kUnsupported, "version 0");
  expect_err(8, 4, 7, Errc::kUnsupported, "version 7");
  expect_err(8, 4, 0xffffffffu, Errc::kUnsupported, "version -1");
  expect_err(off.sub_split, 4, 1, Errc::kUnsupported, "split");
  expect_err(off.sub_size_note, 8, uint64_t(1) << 40, Errc::kBadData, "note area");
  expect_err(off.sub_offset_note, 8, uint64_t(1) << 40, Errc::kTruncated, "note area");
  expect_err(off.sub_size_note, 8, 20, Errc::kBadData, "note");  // cuts a note in half
  expect_err(0, 1, 'X', Errc::kBadData, "signature");
  // A huge max_mapnr is clamped to what the bitmaps cover, with a warning;
  // nothing the size of max_mapnr is allocated.
  for (uint64_t huge : {uint64_t(1) << 60, ~uint64_t(0)}) {
    auto d = patched(off.sub_max_mapnr_64, 8, huge);
    ASSERT_TRUE(d.ok()) << d.error().message();
    EXPECT_EQ((*d)->max_mapnr(), 4096u * 8);  // one block per bitmap
    ASSERT_FALSE((*d)->warnings().empty());
    EXPECT_TRUE(has((*d)->warnings()[0], "max_mapnr"));
    std::vector<uint8_t> buf(8);
    EXPECT_TRUE((*d)->read_phys(PhysAddr(0x2000), buf).ok());
    auto r = (*d)->read_phys(PhysAddr(uint64_t(1) << 50), buf);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::kNotInDump);
  }
  // Unknown machines are named.
  for (std::string m : {"sparc64", "", "s390x"}) {
    DiskDumpBuilder u(m, 6);
    u.set_layout64(true);
    u.add_page(0, page_pattern(4096, 1), PageEnc::kRaw);
    auto d = open_bytes(u.build());
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code(), Errc::kUnsupported);
    EXPECT_TRUE(has(d.error().message(), "\"" + m + "\"")) << d.error().message();
  }
  // Short files.
  for (size_t n : {0, 4, 8, 100, 401, 463}) {
    auto d = open_bytes(std::vector<uint8_t>(good.begin(), good.begin() + n));
    ASSERT_FALSE(d.ok()) << n;
    EXPECT_TRUE(has(d.error().message(), kName));
  }
}

TEST(DiskDump, SplitDumpsAreRefused) {
  DiskDumpBuilder b("x86_64", 6);
  b.add_page(0, page_pattern(4096, 1), PageEnc::kRaw);
  b.set_split(0, 0x8000);
  auto d = open_bytes(b.build());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code(), Errc::kUnsupported);
  EXPECT_TRUE(has(d.error().message(), "split dump")) << d.error().message();
  EXPECT_TRUE(has(d.error().message(), "0x8000")) << d.error().message();
}

// qemu-system-x86_64 names every guest "x86_64" but writes 32-bit guests in
// the 32-bit layout; its notes include "QEMU" ones.
TEST(DiskDump, QemuThirtyTwoBitLayoutUnderX86_64Name) {
  DiskDumpBuilder b("x86_64", 6);
  b.set_layout64(false);
  b.add_page(0, page_pattern(4096, 1), PageEnc::kZlib);
  b.add_page(1, page_pattern(4096, 2), PageEnc::kRaw);
  b.add_note("CORE", 1, prstatus(false));
  b.add_note("QEMU", 0, std::vector<uint8_t>(0x1b8, 0));
  auto d = open_bytes(b.build());
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ((*d)->layout(), "i386");
  EXPECT_EQ((*d)->machine(), Machine::kI386);
  EXPECT_EQ((*d)->producer(), "qemu");
  Status st;
  EXPECT_EQ(read_page(**d, 0, &st), page_pattern(4096, 1));
  EXPECT_TRUE(st.ok());
  // What QEMU 7.2 really writes for a qemu-system-i386 guest: named "i686",
  // 64-bit layout (its BIOS ROM ends at 4 GiB, so it picks ELFCLASS64).
  DiskDumpBuilder q32("i686", 6);
  q32.set_layout64(true);
  q32.add_page(0, page_pattern(4096, 1), PageEnc::kZlib);
  d = open_bytes(q32.build());
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ((*d)->layout(), "x86_64");
  EXPECT_EQ((*d)->machine(), Machine::kI386);
  EXPECT_EQ(read_page(**d, 0, &st), page_pattern(4096, 1));
  // qemu-system-x86_64 running an i386 kernel: "x86_64", 64-bit layout,
  // i386 registers.
  DiskDumpBuilder big("x86_64", 6);
  big.add_page(0, page_pattern(4096, 1), PageEnc::kRaw);
  big.add_note("CORE", 1, prstatus(false));
  d = open_bytes(big.build());
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ((*d)->layout(), "x86_64");
  EXPECT_EQ((*d)->machine(), Machine::kI386);
}

TEST(DiskDump, DetectedFromAFile) {
  DiskDumpBuilder b = rich_dump("i686", 5);
  test::TempFile f(b.build(), ".kdump");
  auto d = open_dump(f.path());
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ((*d)->format(), "kdump-compressed");
  EXPECT_EQ((*d)->path(), f.path());
  EXPECT_EQ((*d)->machine(), Machine::kI386);
  EXPECT_EQ((*d)->notes().size(), 3u);
  std::vector<uint8_t> buf(4096);
  ASSERT_TRUE((*d)->read_phys(PhysAddr(4 * 4096), buf).ok());
  EXPECT_EQ(buf, page_pattern(4096, 13));
}

// Random corruption of the metadata must never crash or hang (the
// sanitizer build runs this too). Bytes may differ: a flipped bitmap bit
// moves pages, which no reader can notice.
TEST(DiskDump, RandomMetadataCorruptionDoesNotCrash) {
  DiskDumpBuilder b = rich_dump();
  const auto good = b.build();
  const uint64_t meta_end = b.offsets().data + 64;
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 400; ++iter) {
    auto bad = good;
    int flips = 1 + int(rng() % 4);
    for (int i = 0; i < flips; ++i) bad[rng() % meta_end] ^= uint8_t(1u << (rng() % 8));
    auto d = open_bytes(bad);
    if (!d.ok()) continue;
    std::vector<uint8_t> buf(4096);
    for (uint64_t pfn = 0; pfn < 20; ++pfn) (void)(*d)->read_phys(PhysAddr(pfn * 4096), buf);
  }
}

}  // namespace
}  // namespace vmc
