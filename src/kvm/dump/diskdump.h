// makedumpfile's compressed kdump format ("KDUMP   " signature), as written
// by makedumpfile -c/-l/-p/-z and by QEMU dump-guest-memory -z/-l/-s.
//
// File layout (makedumpfile IMPLEMENTATION, diskdump_mod.h), in blocks of
// block_size bytes (= the dumped machine's page size):
//   block 0                    struct disk_dump_header
//   block 1 .. sub_hdr_size    struct kdump_sub_header, ELF notes, VMCOREINFO
//   then bitmap_blocks blocks  1st bitmap (pfn is RAM), 2nd bitmap (pfn dumped),
//                              each half of the area, bit pfn%8 of byte pfn/8
//   then                       page_desc_t for each dumped pfn, in pfn order
//   then                       page data (raw or compressed), eraseinfo
// Both headers use the *dumped* machine's C ABI (sizes and alignment of
// unsigned long, off_t, struct timeval, long long) and byte order; the layout
// is chosen from utsname.machine (at a fixed offset) and computed field by
// field, never by overlaying a host struct.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "kvm/dump/dump.h"

struct ZSTD_DCtx_s;

namespace vmc {

class DiskDump final : public Dump {
 public:
  // Opens and validates the headers, bitmaps and notes. Errors name the
  // file and the offset: kUnsupported (unknown machine, header version
  // outside 1..6, split dumps), kBadData (implausible header values),
  // kTruncated (headers, notes or bitmaps beyond the end of the file).
  // Memory is bounded by what the file can hold: bitmaps are only read as
  // far as the file has them.
  static Result<std::unique_ptr<DiskDump>> open(std::shared_ptr<const Source> src);
  ~DiskDump() override;

  // kNotInDump: pfn beyond max_mapnr or a hole in the 1st bitmap;
  // kExcluded: RAM (1st bitmap) the writer filtered out (2nd bitmap clear);
  // kTruncated: descriptor or data beyond the end of the file (the message
  // says when the header flags the dump incomplete); kBadData: a descriptor
  // or page that cannot be decoded, naming pfn and file offset.
  // Not thread-safe: it fills a small cache of decoded pages (the Session
  // that owns the dump serializes its reads).
  Status read_phys(PhysAddr pa, std::span<uint8_t> buf) override;

  int header_version() const { return header_version_; }
  uint32_t block_size() const { return block_size_; }  // = page size
  // Pages the bitmaps describe (max_mapnr, clamped to what the bitmaps cover).
  uint64_t max_mapnr() const { return pfn_limit_; }
  // Pages with data in the file (bits set in the 2nd bitmap).
  uint64_t dumped_pages() const { return dumped_; }
  // The C ABI the headers were read with ("x86_64", "i386").
  std::string_view layout() const { return layout_; }
  // Pages decompressed or read so far (cache misses); for tests and stats.
  uint64_t pages_decoded() const { return pages_decoded_; }

 private:
  DiskDump() = default;

  struct CacheSlot {
    uint64_t pfn = 0;
    uint64_t last_use = 0;
    bool valid = false;
    std::vector<uint8_t> data;
  };

  // The decoded page `pfn`; `addr` is the address asked for (for messages).
  Result<const uint8_t*> page(uint64_t pfn, uint64_t addr);
  Status decode(uint64_t pfn, uint64_t addr, std::vector<uint8_t>& out);
  std::string incomplete_note() const;
  static bool bit(const std::vector<uint64_t>& bm, uint64_t pfn) { return (bm[pfn >> 6] >> (pfn & 63)) & 1; }
  uint64_t rank(uint64_t pfn) const;  // dumped pfns below `pfn`

  std::shared_ptr<const Source> src_;
  int header_version_ = 0;
  uint32_t block_size_ = 0;
  uint32_t status_ = 0;
  std::string_view layout_;
  uint64_t pfn_limit_ = 0;
  uint64_t dumped_ = 0;
  uint64_t desc_off_ = 0;   // file offset of the first page descriptor
  unsigned desc_size_ = 0;  // bytes per page descriptor
  // Where page_desc_t's off_t offset, u32 size and u32 flags sit in it.
  unsigned pd_offset_at_ = 0, pd_size_at_ = 0, pd_flags_at_ = 0;
  std::vector<uint64_t> ram_;     // 1st bitmap, bit pfn%64 of word pfn/64
  std::vector<uint64_t> dumped_bm_;  // 2nd bitmap, same order
  std::vector<uint64_t> rank_;    // dumped pfns below each 512-pfn block
  std::vector<CacheSlot> cache_;
  uint64_t use_clock_ = 0;
  uint64_t pages_decoded_ = 0;
  std::unique_ptr<ZSTD_DCtx_s, void (*)(ZSTD_DCtx_s*)> zstd_{nullptr, nullptr};
};

}  // namespace vmc
