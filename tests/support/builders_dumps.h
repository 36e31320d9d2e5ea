// Synthetic makedumpfile outputs for tests: kdump-compressed ("KDUMP   ")
// files of any header version, ABI layout, block size and page encoding, and
// flattened streams of any file with records in any order or chunking.
//
// The builder lays headers out from its own table of byte offsets (one per
// ABI, written down from diskdump_mod.h with the i386 and x86-64 psABI
// rules), not from the reader's layout code, so the two check each other.
// All integers are written with an explicit byte order: the bytes are the
// same on every host.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/builders.h"

namespace vmc::test {

enum class PageEnc { kRaw, kZlib, kLzo, kSnappy, kZstd, kExcluded };
const char* page_enc_name(PageEnc e);

class DiskDumpBuilder {
 public:
  // `machine` goes into utsname.machine; the header layout follows it
  // (64-bit for "x86_64", 32-bit for "i386"/"i686") unless set_layout64().
  explicit DiskDumpBuilder(std::string machine = "x86_64", int version = 6, uint32_t block_size = 4096);

  // A page of RAM. kExcluded pages are RAM (1st bitmap) but not dumped.
  // `data` must be block_size bytes (ignored for kExcluded).
  void add_page(uint64_t pfn, std::vector<uint8_t> data, PageEnc enc);
  void add_note(const std::string& name, uint32_t type, const std::vector<uint8_t>& desc);
  // v3: stored after the sub-header; v4+: as a VMCOREINFO note that
  // offset_vmcoreinfo points into (as makedumpfile does).
  void set_vmcoreinfo(const std::string& text) { vmcoreinfo_ = text; }
  void set_eraseinfo(const std::string& text) { eraseinfo_ = text; }

  // Overrides (defaults: max_mapnr = highest pfn + 1, status = codecs used).
  void set_layout64(bool is64) { layout64_ = is64; }
  void set_max_mapnr(uint64_t n) { max_mapnr_ = n; }
  void set_status(uint32_t s) { status_ = s; }
  void set_split(uint64_t start_pfn, uint64_t end_pfn) { split_ = {start_pfn, end_pfn}; }
  void set_uts(const std::string& release, const std::string& nodename) { release_ = release; nodename_ = nodename; }
  void set_timestamp(int64_t sec) { timestamp_ = sec; }
  void set_cpus(uint32_t nr, uint32_t current) { nr_cpus_ = nr; current_cpu_ = current; }
  void set_dump_level(int level) { dump_level_ = level; }
  void set_phys_base(uint64_t p) { phys_base_ = p; }
  // All-zero pages share one copy of their data (makedumpfile's pd_zero).
  void set_share_zero_pages(bool b) { share_zero_ = b; }

  std::vector<uint8_t> build();

  // Where the last build() put things, for tests that corrupt them.
  struct Offsets {
    uint64_t sub_header = 0, bitmap1 = 0, bitmap2 = 0, descs = 0, data = 0, notes = 0, vmcoreinfo = 0;
    uint64_t header_size = 0, sub_header_size = 0;
    // Header field offsets in the chosen layout.
    uint64_t status = 0, block_size = 0, sub_hdr_size = 0, bitmap_blocks = 0, max_mapnr = 0;
    uint64_t sub_split = 0, sub_max_mapnr_64 = 0, sub_size_note = 0, sub_offset_note = 0;
    std::map<uint64_t, uint64_t> desc;       // pfn -> descriptor offset
    std::map<uint64_t, uint64_t> page_data;  // pfn -> data offset
    std::map<uint64_t, uint32_t> page_size;  // pfn -> stored size
  };
  const Offsets& offsets() const { return off_; }

 private:
  struct Page {
    std::vector<uint8_t> data;
    PageEnc enc;
  };
  std::string machine_;
  int version_;
  uint32_t bs_;
  bool layout64_;
  std::map<uint64_t, Page> pages_;
  std::vector<uint8_t> notes_;
  std::optional<std::string> vmcoreinfo_, eraseinfo_;
  std::optional<uint64_t> max_mapnr_;
  std::optional<uint32_t> status_;
  std::optional<std::pair<uint64_t, uint64_t>> split_;
  std::string release_ = "6.1.0-test", nodename_ = "testhost";
  int64_t timestamp_ = 1700000000;
  uint32_t nr_cpus_ = 2, current_cpu_ = 1;
  int dump_level_ = 31;
  uint64_t phys_base_ = 0x1000000;
  bool share_zero_ = true;
  Offsets off_;
};

// Compresses one page the way makedumpfile does (zlib compress2, LZO1X-1,
// snappy, zstd frames).
std::vector<uint8_t> compress_page(const std::vector<uint8_t>& page, PageEnc enc);

// One record of a flattened stream.
struct FlatRecord {
  int64_t offset;
  std::vector<uint8_t> data;
};

// Records covering `file` in chunks of `chunk` bytes; with seed != 0 the
// chunk sizes vary (1..2*chunk) and the order is shuffled deterministically.
// With skip_zero, all-zero chunks are left out (holes read back as zeros).
std::vector<FlatRecord> flat_records(const std::vector<uint8_t>& file, size_t chunk, uint32_t seed = 0,
                                     bool skip_zero = false);

// A flattened stream: 4096-byte header ("makedumpfile", type 1, version 1,
// big-endian), the records, and the end marker when `end_marker`.
std::vector<uint8_t> flatten(const std::vector<FlatRecord>& recs, bool end_marker = true);
inline std::vector<uint8_t> flatten(const std::vector<uint8_t>& file, size_t chunk = 4096, uint32_t seed = 0) {
  return flatten(flat_records(file, chunk, seed));
}

// What a sequential `makedumpfile -R` makes of the records: a file as long
// as the furthest record, zeros where nothing was written.
std::vector<uint8_t> rearrange(const std::vector<FlatRecord>& recs);

// A deterministic byte pattern for page contents (compressible: runs and
// small values), different per seed.
std::vector<uint8_t> page_pattern(uint32_t size, uint32_t seed);

}  // namespace vmc::test
