#include <gtest/gtest.h>

#include <random>

#include "kvm/dump/diskdump.h"
#include "kvm/dump/flattened.h"
#include "support/builders.h"
#include "support/builders_dumps.h"

namespace vmc {
namespace {

using test::ByteWriter;
using test::DiskDumpBuilder;
using test::FlatRecord;
using test::PageEnc;
using test::page_pattern;

constexpr char kName[] = "synthetic.flat";

std::shared_ptr<const Source> buffer(const std::vector<uint8_t>& b) {
  return std::make_shared<BufferSource>(b, kName);
}
Result<std::unique_ptr<FlattenedSource>> open_flat(const std::vector<uint8_t>& stream) {
  return FlattenedSource::open(buffer(stream));
}
bool has(const std::string& msg, const std::string& what) { return msg.find(what) != std::string::npos; }

std::vector<uint8_t> read_all(const Source& s) {
  std::vector<uint8_t> out(s.size());
  EXPECT_TRUE(s.read(0, out).ok());
  return out;
}

std::vector<uint8_t> kdump_file() {
  DiskDumpBuilder b("x86_64", 6);
  const PageEnc encs[] = {PageEnc::kRaw, PageEnc::kZlib, PageEnc::kLzo, PageEnc::kSnappy, PageEnc::kZstd,
                          PageEnc::kExcluded};
  for (uint64_t pfn = 0; pfn < 24; ++pfn) b.add_page(pfn, page_pattern(4096, uint32_t(pfn) + 7), encs[pfn % 6]);
  for (uint64_t pfn = 40; pfn < 48; ++pfn) b.add_page(pfn, std::vector<uint8_t>(4096), PageEnc::kZlib);
  b.add_note("CORE", 1, std::vector<uint8_t>(336, 1));
  b.set_vmcoreinfo("OSRELEASE=6.1.0\n");
  return b.build();
}

// Random reads of the source agree with `want`.
void expect_same_reads(const Source& s, const std::vector<uint8_t>& want, uint32_t seed) {
  ASSERT_EQ(s.size(), want.size());
  std::mt19937 rng(seed);
  for (int i = 0; i < 200 && !want.empty(); ++i) {
    uint64_t off = rng() % want.size();
    uint64_t len = std::min<uint64_t>(1 + rng() % 9000, want.size() - off);
    std::vector<uint8_t> got(len);
    auto st = s.read(off, got);
    ASSERT_TRUE(st.ok()) << st.error().message();
    ASSERT_TRUE(std::equal(got.begin(), got.end(), want.begin() + off)) << "read at " << off << " len " << len;
  }
}

TEST(Flattened, RoundTripEqualsTheOriginalBytes) {
  const auto file = kdump_file();
  for (size_t chunk : {size_t(1) << 16, size_t(4096), size_t(1000), size_t(17)}) {
    auto fs = open_flat(test::flatten(file, chunk));
    ASSERT_TRUE(fs.ok()) << fs.error().message();
    EXPECT_TRUE((*fs)->complete());
    EXPECT_TRUE((*fs)->warnings().empty());
    EXPECT_EQ((*fs)->size(), file.size());
    EXPECT_EQ((*fs)->record_count(), (file.size() + chunk - 1) / chunk);
    EXPECT_EQ((*fs)->segments().size(), (*fs)->record_count()) << "records are not contiguous in the stream";
    EXPECT_EQ(read_all(**fs), file);
    EXPECT_EQ((*fs)->name(), kName);
  }
}

TEST(Flattened, OutOfOrderAndRechunkedRecords) {
  const auto file = kdump_file();
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    auto recs = test::flat_records(file, 700 * seed, seed);
    auto fs = open_flat(test::flatten(recs));
    ASSERT_TRUE(fs.ok()) << fs.error().message();
    EXPECT_EQ(read_all(**fs), file) << "seed " << seed;
    expect_same_reads(**fs, file, seed);
  }
}

TEST(Flattened, OverlappingRecordsLaterOneWins) {
  // Random records over a small area, checked against a sequential -R.
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    std::vector<FlatRecord> recs;
    int n = 1 + int(rng() % 60);
    for (int i = 0; i < n; ++i) {
      uint64_t off = rng() % 20000;
      size_t len = rng() % 3000;  // zero-size records included
      std::vector<uint8_t> data(len);
      for (auto& c : data) c = uint8_t(rng());
      recs.push_back({int64_t(off), std::move(data)});
    }
    auto fs = open_flat(test::flatten(recs));
    ASSERT_TRUE(fs.ok()) << fs.error().message();
    auto want = test::rearrange(recs);
    EXPECT_EQ(read_all(**fs), want) << "seed " << seed;
    expect_same_reads(**fs, want, seed);
    const auto& segs = (*fs)->segments();
    for (size_t i = 1; i < segs.size(); ++i) ASSERT_LE(segs[i - 1].offset + segs[i - 1].size, segs[i].offset);
  }
  // A whole-file rewrite: garbage first, the real bytes after.
  const auto file = kdump_file();
  std::vector<FlatRecord> recs{{0, std::vector<uint8_t>(file.size(), 0xcc)}};
  for (auto& r : test::flat_records(file, 3000, 9)) recs.push_back(std::move(r));
  auto fs = open_flat(test::flatten(recs));
  ASSERT_TRUE(fs.ok()) << fs.error().message();
  EXPECT_EQ(read_all(**fs), file);
  // And the other way round: the later garbage wins.
  recs = test::flat_records(file, 3000, 0);
  recs.push_back({100, std::vector<uint8_t>(50, 0xcc)});
  fs = open_flat(test::flatten(recs));
  ASSERT_TRUE(fs.ok());
  auto got = read_all(**fs);
  EXPECT_EQ(got[99], file[99]);
  EXPECT_EQ(got[100], 0xcc);
  EXPECT_EQ(got[149], 0xcc);
  EXPECT_EQ(got[150], file[150]);
}

TEST(Flattened, UnwrittenRegionsReadAsZerosWhenComplete) {
  const auto file = kdump_file();
  auto recs = test::flat_records(file, 512, 0, /*skip_zero=*/true);
  auto fs = open_flat(test::flatten(recs));
  ASSERT_TRUE(fs.ok()) << fs.error().message();
  EXPECT_LT((*fs)->record_count(), (file.size() + 511) / 512);
  EXPECT_EQ(read_all(**fs), file);
}

TEST(Flattened, MissingEndMarkerIsACutStream) {
  const auto file = kdump_file();
  auto recs = test::flat_records(file, 512, 0, /*skip_zero=*/true);
  auto stream = test::flatten(recs, /*end_marker=*/false);
  auto fs = open_flat(stream);
  ASSERT_TRUE(fs.ok()) << fs.error().message();
  EXPECT_FALSE((*fs)->complete());
  ASSERT_EQ((*fs)->warnings().size(), 1u);
  EXPECT_TRUE(has((*fs)->warnings()[0], "without its end marker")) << (*fs)->warnings()[0];
  EXPECT_TRUE(has((*fs)->warnings()[0], kName));
  // Written bytes read fine; a hole may be data that never arrived.
  std::vector<uint8_t> buf(8);
  ASSERT_TRUE((*fs)->read(0, buf).ok());
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), file.begin()));
  auto hole = (*fs)->read(600, std::span(buf.data(), 8));  // inside the padding after the header
  ASSERT_FALSE(hole.ok());
  EXPECT_EQ(hole.error().code(), Errc::kTruncated);
  EXPECT_TRUE(has(hole.error().message(), "never written")) << hole.error().message();
  EXPECT_TRUE(has(hole.error().message(), kName)) << hole.error().message();
  EXPECT_TRUE(has(hole.error().message(), "0x258")) << hole.error().message();
  // The dump opens, says so, and serves the pages that arrived.
  auto d = open_dump_source(buffer(stream));
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ((*d)->format(), "flattened kdump-compressed");
  ASSERT_FALSE((*d)->warnings().empty());
  EXPECT_TRUE(has((*d)->warnings()[0], "end marker"));
  std::vector<uint8_t> page(4096);
  ASSERT_TRUE((*d)->read_phys(PhysAddr(3 * 4096), page).ok());
  EXPECT_EQ(page, page_pattern(4096, 10));
}

TEST(Flattened, StreamCutInsideARecord) {
  const auto file = kdump_file();
  auto stream = test::flatten(file, 8192);
  const size_t cut = 4096 + 3 * (16 + 8192) + 16 + 100;  // 100 bytes into the 4th record's data
  stream.resize(cut);
  auto fs = open_flat(stream);
  ASSERT_TRUE(fs.ok()) << fs.error().message();
  EXPECT_FALSE((*fs)->complete());
  ASSERT_EQ((*fs)->warnings().size(), 1u);
  EXPECT_TRUE(has((*fs)->warnings()[0], "cut inside the record at offset 0x")) << (*fs)->warnings()[0];
  EXPECT_EQ((*fs)->size(), 3 * 8192u + 100);
  std::vector<uint8_t> buf(100);
  ASSERT_TRUE((*fs)->read(3 * 8192, buf).ok());
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), file.begin() + 3 * 8192));
  auto r = (*fs)->read(3 * 8192 + 50, buf);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kTruncated);
  // Cut inside a record header.
  stream.resize(4096 + (16 + 8192) + 9);
  fs = open_flat(stream);
  ASSERT_TRUE(fs.ok()) << fs.error().message();
  EXPECT_FALSE((*fs)->complete());
  EXPECT_TRUE(has((*fs)->warnings()[0], "record header")) << (*fs)->warnings()[0];
  EXPECT_EQ((*fs)->size(), 8192u);
  // Every cut of a small stream opens or fails cleanly; reads never lie.
  const auto small = test::flatten(std::vector<uint8_t>(file.begin(), file.begin() + 20000), 3000, 4);
  const auto want = std::vector<uint8_t>(file.begin(), file.begin() + 20000);
  for (size_t c = 0; c <= small.size(); c += 13) {
    auto f = open_flat(std::vector<uint8_t>(small.begin(), small.begin() + c));
    if (!f.ok()) {
      EXPECT_LT(c, 4096u) << f.error().message();
      continue;
    }
    for (uint64_t off = 0; off < (*f)->size(); off += 997) {
      std::vector<uint8_t> b(std::min<uint64_t>(997, (*f)->size() - off));
      auto st = (*f)->read(off, b);
      if (st.ok())
        ASSERT_TRUE(std::equal(b.begin(), b.end(), want.begin() + off)) << "cut " << c << " off " << off;
      else
        EXPECT_EQ(st.error().code(), Errc::kTruncated);
    }
  }
}

// makedumpfile -F streams the descriptor table interleaved with page data:
// a cut stream can lack descriptors of pages whose bitmap bits it has. The
// dump still opens; those pages fail naming the pfn, the rest read.
TEST(Flattened, CutStreamMissingSomeDescriptorsStillOpens) {
  DiskDumpBuilder b("x86_64", 6);
  for (uint64_t pfn = 0; pfn < 300; ++pfn) b.add_page(pfn, page_pattern(4096, uint32_t(pfn)), PageEnc::kZlib);
  const auto file = b.build();
  const auto& off = b.offsets();
  const uint64_t hole_start = off.desc.at(200), hole_end = off.desc.at(250) + 24;
  std::vector<FlatRecord> recs;
  for (auto& r : test::flat_records(file, 64))
    if (uint64_t(r.offset) + r.data.size() <= hole_start || uint64_t(r.offset) >= hole_end) recs.push_back(std::move(r));
  auto d = open_dump_source(buffer(test::flatten(recs, /*end_marker=*/false)));
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ((*d)->compression(), "zlib");
  std::vector<uint8_t> page(4096);
  for (uint64_t pfn : {0, 150, 199, 260, 299}) {
    ASSERT_TRUE((*d)->read_phys(PhysAddr(pfn * 4096), page).ok()) << pfn;
    EXPECT_EQ(page, page_pattern(4096, uint32_t(pfn)));
  }
  auto st = (*d)->read_phys(PhysAddr(220 * 4096), page);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Errc::kTruncated);
  EXPECT_TRUE(has(st.error().message(), "(pfn 0xdc): reading its page descriptor")) << st.error().message();
  EXPECT_TRUE(has(st.error().message(), "never written")) << st.error().message();
  EXPECT_TRUE(has(st.error().message(), kName)) << st.error().message();
}

TEST(Flattened, GarbageRecordHeadersAreBadDataNamingTheStreamOffset) {
  auto stream_with = [](std::initializer_list<std::pair<int64_t, int64_t>> hdrs) {
    ByteWriter w(Endian::kBig);
    w.str("makedumpfile", 16).u64(1).u64(1).zeros(4096 - 32);
    w.u64(0).u64(4).u32(0x11223344);  // one good record first
    for (auto [off, size] : hdrs) w.u64(uint64_t(off)).u64(uint64_t(size));
    w.zeros(64);
    return w.bytes();
  };
  struct Case {
    int64_t off, size;
    Errc code;
  };
  const Case cases[] = {
      {0, -5, Errc::kBadData},
      {-2, 10, Errc::kBadData},
      {-1, 10, Errc::kBadData},
      {10, -1, Errc::kBadData},
      {INT64_MAX - 2, 16, Errc::kBadData},
      {INT64_MAX, INT64_MAX, Errc::kBadData},
  };
  for (const Case& c : cases) {
    auto fs = open_flat(stream_with({{c.off, c.size}}));
    ASSERT_FALSE(fs.ok()) << c.off << " " << c.size;
    EXPECT_EQ(fs.error().code(), c.code) << fs.error().message();
    EXPECT_TRUE(has(fs.error().message(), "at offset 0x1014")) << fs.error().message();
    EXPECT_TRUE(has(fs.error().message(), kName)) << fs.error().message();
  }
  // A size running past the end of the stream is a cut, not an allocation.
  auto fs = open_flat(stream_with({{0, INT64_MAX - 1}}));
  ASSERT_TRUE(fs.ok()) << fs.error().message();
  EXPECT_FALSE((*fs)->complete());
  EXPECT_EQ((*fs)->size(), 64u);
  // Header problems.
  auto bad = stream_with({});
  EXPECT_EQ(open_flat(std::vector<uint8_t>(bad.begin(), bad.begin() + 4095)).error().code(), Errc::kTruncated);
  auto t = bad;
  t[23] = 2;  // type 2
  EXPECT_EQ(open_flat(t).error().code(), Errc::kUnsupported);
  EXPECT_TRUE(has(open_flat(t).error().message(), "type 2"));
  t = bad;
  t[31] = 7;  // version 7
  EXPECT_EQ(open_flat(t).error().code(), Errc::kUnsupported);
  EXPECT_TRUE(has(open_flat(t).error().message(), "version 7"));
  t = bad;
  t[12] = 'X';  // "makedumpfileX"
  EXPECT_EQ(open_flat(t).error().code(), Errc::kBadData);
}

TEST(Flattened, TrailingBytesAfterTheEndMarkerAreReported) {
  auto stream = test::flatten(std::vector<uint8_t>(5000, 0x42), 4096);
  stream.resize(stream.size() + 10, 0xee);
  auto fs = open_flat(stream);
  ASSERT_TRUE(fs.ok()) << fs.error().message();
  EXPECT_TRUE((*fs)->complete());
  ASSERT_EQ((*fs)->warnings().size(), 1u);
  EXPECT_TRUE(has((*fs)->warnings()[0], "10 bytes follow"));
  EXPECT_EQ((*fs)->size(), 5000u);
}

TEST(Flattened, DetectionOpensWhatIsInside) {
  // kdump-compressed, records shuffled.
  const auto file = kdump_file();
  test::TempFile tf(test::flatten(file, 2048, 5), ".flat");
  auto d = open_dump(tf.path());
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ((*d)->format(), "flattened kdump-compressed");
  EXPECT_EQ((*d)->path(), tf.path());
  EXPECT_EQ((*d)->compression(), "zlib+lzo+snappy+zstd");
  EXPECT_TRUE((*d)->warnings().empty());
  for (uint64_t pfn = 0; pfn < 24; ++pfn) {
    std::vector<uint8_t> page(4096);
    auto st = (*d)->read_phys(PhysAddr(pfn * 4096), page);
    if (pfn % 6 == 5) {
      EXPECT_EQ(st.error().code(), Errc::kExcluded);
    } else {
      ASSERT_TRUE(st.ok()) << st.error().message();
      EXPECT_EQ(page, page_pattern(4096, uint32_t(pfn) + 7));
    }
  }
  // ELF (makedumpfile -F -E).
  test::ElfCoreBuilder eb(true, Endian::kLittle, 62);
  eb.add_note("CORE", 1, std::vector<uint8_t>(336, 0));
  eb.add_load(0x100000, 0, page_pattern(8192, 3));
  d = open_dump_source(buffer(test::flatten(eb.build(), 1024, 2)));
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ((*d)->format(), "flattened ELF");
  std::vector<uint8_t> buf(8192);
  ASSERT_TRUE((*d)->read_phys(PhysAddr(0x100000), buf).ok());
  EXPECT_EQ(buf, page_pattern(8192, 3));
  // A flattened stream inside a flattened stream.
  auto r = open_dump_source(buffer(test::flatten(test::flatten(file, 4096), 4096)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kUnsupported);
  EXPECT_TRUE(has(r.error().message(), "another flattened stream")) << r.error().message();
  // Something else.
  r = open_dump_source(buffer(test::flatten(std::vector<uint8_t>(100, 0x33), 4096)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kUnsupported);
  EXPECT_TRUE(has(r.error().message(), "33333333")) << r.error().message();
  // An empty stream (header and end marker only).
  r = open_dump_source(buffer(test::flatten(std::vector<FlatRecord>{})));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kUnsupported);
}

}  // namespace
}  // namespace vmc
