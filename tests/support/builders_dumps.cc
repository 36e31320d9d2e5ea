#include "support/builders_dumps.h"

#include <algorithm>
#include <cstdlib>
#include <random>

#include <lzo/lzo1x.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

namespace vmc::test {

namespace {

// Byte offsets of struct disk_dump_header and struct kdump_sub_header
// fields, written down by hand from diskdump_mod.h for the two ABIs:
// x86-64 (long 8, long long/off_t 8-aligned, timeval 16) and i386 (long 4,
// long long/off_t 4-aligned, timeval 8). QEMU's packed DiskDumpHeader32/
// KdumpSubHeader32 agree with the i386 column.
struct HeaderTable {
  unsigned long_size;
  uint64_t ts_sec, ts_usec, status, block_size, sub_hdr_size, bitmap_blocks, max_mapnr, total_ram_blocks,
      device_blocks, written_blocks, current_cpu, nr_cpus, header_size;
  uint64_t phys_base, dump_level, split, start_pfn, end_pfn, offset_vmcoreinfo, size_vmcoreinfo, offset_note,
      size_note, offset_eraseinfo, size_eraseinfo, start_pfn_64, end_pfn_64, max_mapnr_64;
  uint64_t sub_size[7];  // bytes of the sub-header struct by header_version
};

constexpr HeaderTable kX86_64 = {8,  408, 416, 424, 428, 432, 436, 440, 444, 448, 452, 456, 460, 464,
                                 0,  8,   12,  16,  24,  32,  40,  48,  56,  64,  72,  80,  88,  96,
                                 {0, 16, 32, 48, 64, 80, 104}};
constexpr HeaderTable kI386 = {4,  404, 408, 412, 416, 420, 424, 428, 432, 436, 440, 444, 448, 452,
                               0,  4,   8,   12,  16,  20,  28,  32,  40,  44,  52,  56,  64,  72,
                               {0, 8, 20, 32, 44, 56, 80}};

constexpr Endian kLE = Endian::kLittle;  // both ABIs are little-endian

uint32_t enc_flag(PageEnc e) {
  switch (e) {
    case PageEnc::kZlib: return 0x1;
    case PageEnc::kLzo: return 0x2;
    case PageEnc::kSnappy: return 0x4;
    case PageEnc::kZstd: return 0x20;
    default: return 0;
  }
}

}  // namespace

const char* page_enc_name(PageEnc e) {
  switch (e) {
    case PageEnc::kRaw: return "raw";
    case PageEnc::kZlib: return "zlib";
    case PageEnc::kLzo: return "lzo";
    case PageEnc::kSnappy: return "snappy";
    case PageEnc::kZstd: return "zstd";
    case PageEnc::kExcluded: return "excluded";
  }
  return "?";
}

std::vector<uint8_t> compress_page(const std::vector<uint8_t>& page, PageEnc enc) {
  std::vector<uint8_t> out;
  switch (enc) {
    case PageEnc::kZlib: {
      uLongf n = compressBound(page.size());
      out.resize(n);
      if (compress2(out.data(), &n, page.data(), page.size(), Z_BEST_SPEED) != Z_OK) std::abort();
      out.resize(n);
      break;
    }
    case PageEnc::kLzo: {
      static const bool init = lzo_init() == LZO_E_OK;
      if (!init) std::abort();
      std::vector<uint8_t> wrk(LZO1X_1_MEM_COMPRESS);
      lzo_uint n = page.size() + page.size() / 16 + 64 + 3;
      out.resize(n);
      if (lzo1x_1_compress(page.data(), page.size(), out.data(), &n, wrk.data()) != LZO_E_OK) std::abort();
      out.resize(n);
      break;
    }
    case PageEnc::kSnappy: {
      size_t n = snappy_max_compressed_length(page.size());
      out.resize(n);
      if (snappy_compress(reinterpret_cast<const char*>(page.data()), page.size(), reinterpret_cast<char*>(out.data()),
                          &n) != SNAPPY_OK)
        std::abort();
      out.resize(n);
      break;
    }
    case PageEnc::kZstd: {
      size_t n = ZSTD_compressBound(page.size());
      out.resize(n);
      n = ZSTD_compress(out.data(), n, page.data(), page.size(), 1);
      if (ZSTD_isError(n)) std::abort();
      out.resize(n);
      break;
    }
    default: out = page;
  }
  return out;
}

DiskDumpBuilder::DiskDumpBuilder(std::string machine, int version, uint32_t block_size)
    : machine_(std::move(machine)), version_(version), bs_(block_size), layout64_(machine_ == "x86_64") {}

void DiskDumpBuilder::add_page(uint64_t pfn, std::vector<uint8_t> data, PageEnc enc) {
  pages_[pfn] = {std::move(data), enc};
}

void DiskDumpBuilder::add_note(const std::string& name, uint32_t type, const std::vector<uint8_t>& desc) {
  auto n = encode_note(name, type, desc, kLE);
  notes_.insert(notes_.end(), n.begin(), n.end());
}

std::vector<uint8_t> DiskDumpBuilder::build() {
  const HeaderTable& t = layout64_ ? kX86_64 : kI386;
  const int v = std::clamp(version_, 0, 6);
  off_ = {};

  // Sub-header area: struct, then notes (v4+), or VMCOREINFO text (v3).
  std::vector<uint8_t> notes = notes_;
  uint64_t vmci_in_notes = 0;
  if (vmcoreinfo_ && v >= 4) {
    std::vector<uint8_t> desc(vmcoreinfo_->begin(), vmcoreinfo_->end());
    vmci_in_notes = notes.size() + 12 + 12;  // header + "VMCOREINFO\0" padded to 12
    auto n = encode_note("VMCOREINFO", 0, desc, kLE);
    notes.insert(notes.end(), n.begin(), n.end());
  }
  const uint64_t sub_struct = t.sub_size[std::max(v, 1)];
  uint64_t sub_bytes = sub_struct;
  if (v >= 4) sub_bytes += notes.size();
  if (v == 3 && vmcoreinfo_) sub_bytes += vmcoreinfo_->size();
  const uint64_t sub_blocks = std::max<uint64_t>(1, (sub_bytes + bs_ - 1) / bs_);

  uint64_t max_pfn = pages_.empty() ? 1 : pages_.rbegin()->first + 1;
  const uint64_t mapnr = max_mapnr_.value_or(max_pfn);
  const uint64_t bitmap_bytes = (std::min(mapnr, max_pfn) + 7) / 8;
  const uint64_t half_blocks = std::max<uint64_t>(1, (bitmap_bytes + bs_ - 1) / bs_);
  const uint64_t bitmap_blocks = 2 * half_blocks;

  off_.header_size = t.header_size;
  off_.sub_header = bs_;
  off_.sub_header_size = sub_struct;
  off_.bitmap1 = (1 + sub_blocks) * bs_;
  off_.bitmap2 = off_.bitmap1 + half_blocks * bs_;
  off_.descs = off_.bitmap1 + bitmap_blocks * bs_;
  off_.status = t.status;
  off_.block_size = t.block_size;
  off_.sub_hdr_size = t.sub_hdr_size;
  off_.bitmap_blocks = t.bitmap_blocks;
  off_.max_mapnr = t.max_mapnr;
  off_.sub_split = bs_ + t.split;
  off_.sub_max_mapnr_64 = bs_ + t.max_mapnr_64;
  off_.sub_size_note = bs_ + t.size_note;
  off_.sub_offset_note = bs_ + t.offset_note;

  uint64_t ndumped = 0;
  uint32_t codecs = 0;
  for (const auto& [pfn, p] : pages_)
    if (p.enc != PageEnc::kExcluded && pfn < mapnr) {
      ++ndumped;
      codecs |= enc_flag(p.enc);
    }
  off_.data = off_.descs + ndumped * 24;

  ByteWriter w(kLE);
  w.zeros(off_.data);
  auto& b = w.bytes();
  // disk_dump_header
  std::copy_n("KDUMP   ", 8, b.begin());
  w.put(8, 4, uint32_t(version_));
  auto uts = [&](size_t i, const std::string& s) {
    std::copy_n(s.begin(), std::min<size_t>(s.size(), 64), b.begin() + 12 + i * 65);
  };
  uts(0, "Linux");
  uts(1, nodename_);
  uts(2, release_);
  uts(3, "#1 SMP PREEMPT_DYNAMIC Debian");
  uts(4, machine_);
  uts(5, "(none)");
  w.put(t.ts_sec, t.long_size, uint64_t(timestamp_));
  w.put(t.ts_usec, t.long_size, 123456);
  w.put(t.status, 4, status_.value_or(codecs));
  w.put(t.block_size, 4, bs_);
  w.put(t.sub_hdr_size, 4, sub_blocks);
  w.put(t.bitmap_blocks, 4, bitmap_blocks);
  w.put(t.max_mapnr, 4, std::min<uint64_t>(mapnr, 0xffffffffu));
  w.put(t.current_cpu, 4, current_cpu_);
  w.put(t.nr_cpus, 4, nr_cpus_);

  // kdump_sub_header (only the fields its version has)
  const uint64_t s = bs_;
  w.put(s + t.phys_base, t.long_size, phys_base_);
  w.put(s + t.dump_level, 4, uint32_t(dump_level_));
  if (v >= 2 && split_) {
    w.put(s + t.split, 4, 1);
    w.put(s + t.start_pfn, t.long_size, split_->first);
    w.put(s + t.end_pfn, t.long_size, split_->second);
  }
  if (v >= 4 && !notes.empty()) {
    off_.notes = s + sub_struct;
    std::copy(notes.begin(), notes.end(), b.begin() + off_.notes);
    w.put(s + t.offset_note, 8, off_.notes);
    w.put(s + t.size_note, t.long_size, notes.size());
    if (vmcoreinfo_) {
      off_.vmcoreinfo = off_.notes + vmci_in_notes;
      w.put(s + t.offset_vmcoreinfo, 8, off_.vmcoreinfo);
      w.put(s + t.size_vmcoreinfo, t.long_size, vmcoreinfo_->size());
    }
  }
  if (v == 3 && vmcoreinfo_) {
    off_.vmcoreinfo = s + sub_struct;
    std::copy(vmcoreinfo_->begin(), vmcoreinfo_->end(), b.begin() + off_.vmcoreinfo);
    w.put(s + t.offset_vmcoreinfo, 8, off_.vmcoreinfo);
    w.put(s + t.size_vmcoreinfo, t.long_size, vmcoreinfo_->size());
  }
  if (v >= 6) {
    w.put(s + t.max_mapnr_64, 8, mapnr);
    if (split_) {
      w.put(s + t.start_pfn_64, 8, split_->first);
      w.put(s + t.end_pfn_64, 8, split_->second);
    }
  }

  // bitmaps, descriptors, data
  uint64_t rank = 0;
  std::optional<std::tuple<uint64_t, uint32_t, uint32_t>> zero_desc;
  for (const auto& [pfn, p] : pages_) {
    if (pfn >= mapnr) continue;  // beyond an overridden max_mapnr
    b[off_.bitmap1 + pfn / 8] |= uint8_t(1u << (pfn % 8));
    if (p.enc == PageEnc::kExcluded) continue;
    b[off_.bitmap2 + pfn / 8] |= uint8_t(1u << (pfn % 8));
    uint64_t doff = off_.descs + rank++ * 24;
    off_.desc[pfn] = doff;
    bool zero = std::all_of(p.data.begin(), p.data.end(), [](uint8_t c) { return c == 0; });
    uint64_t data_off;
    uint32_t size, flags;
    if (zero && share_zero_ && zero_desc) {
      std::tie(data_off, size, flags) = *zero_desc;
    } else {
      auto enc = compress_page(p.data, p.enc);
      data_off = b.size();
      size = uint32_t(enc.size());
      flags = enc_flag(p.enc);
      w.raw(enc.data(), enc.size());
      if (zero && share_zero_) zero_desc = {data_off, size, flags};
    }
    off_.page_data[pfn] = data_off;
    off_.page_size[pfn] = size;
    w.put(doff, 8, data_off);
    w.put(doff + 8, 4, size);
    w.put(doff + 12, 4, flags);
    w.put(doff + 16, 8, 0);
  }
  if (v >= 5 && eraseinfo_) {
    uint64_t at = b.size();
    w.raw(eraseinfo_->data(), eraseinfo_->size());
    w.put(s + t.offset_eraseinfo, 8, at);
    w.put(s + t.size_eraseinfo, t.long_size, eraseinfo_->size());
  }
  return b;
}

std::vector<FlatRecord> flat_records(const std::vector<uint8_t>& file, size_t chunk, uint32_t seed, bool skip_zero) {
  std::vector<FlatRecord> recs;
  std::mt19937 rng(seed);
  size_t off = 0;
  while (off < file.size()) {
    size_t n = seed ? 1 + rng() % (2 * chunk) : chunk;
    n = std::min(n, file.size() - off);
    FlatRecord r{int64_t(off), std::vector<uint8_t>(file.begin() + off, file.begin() + off + n)};
    bool zero = std::all_of(r.data.begin(), r.data.end(), [](uint8_t c) { return c == 0; });
    if (!(skip_zero && zero)) recs.push_back(std::move(r));
    off += n;
  }
  if (seed)  // Fisher-Yates with the engine's raw output: the same on every host
    for (size_t i = recs.size(); i > 1; --i) std::swap(recs[i - 1], recs[rng() % i]);
  return recs;
}

std::vector<uint8_t> flatten(const std::vector<FlatRecord>& recs, bool end_marker) {
  ByteWriter w(Endian::kBig);
  w.str("makedumpfile", 16).u64(1).u64(1);
  w.zeros(4096 - w.size());
  for (const FlatRecord& r : recs) {
    w.u64(uint64_t(r.offset)).u64(r.data.size());
    w.raw(r.data.data(), r.data.size());
  }
  if (end_marker) w.u64(~uint64_t(0)).u64(~uint64_t(0));
  return w.bytes();
}

std::vector<uint8_t> rearrange(const std::vector<FlatRecord>& recs) {
  uint64_t size = 0;
  for (const FlatRecord& r : recs) size = std::max<uint64_t>(size, uint64_t(r.offset) + r.data.size());
  std::vector<uint8_t> out(size);
  for (const FlatRecord& r : recs) std::copy(r.data.begin(), r.data.end(), out.begin() + r.offset);
  return out;
}

std::vector<uint8_t> page_pattern(uint32_t size, uint32_t seed) {
  std::vector<uint8_t> v(size);
  for (uint32_t i = 0; i < size; ++i) v[i] = uint8_t(seed * 131 + (i / 8) * 3 + ((i % 8) == 0 ? seed : 0));
  return v;
}

}  // namespace vmc::test
