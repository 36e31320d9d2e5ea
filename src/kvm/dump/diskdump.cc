#include "kvm/dump/diskdump.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include <lzo/lzo1x.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "arch/base/bytes.h"

namespace vmc {

namespace {

// ---- Constants of the format (diskdump_mod.h, makedumpfile.h) --------------

constexpr char kSignature[] = "KDUMP   ";
constexpr size_t kSignatureLen = 8;
constexpr int kMinVersion = 1, kMaxVersion = 6;
constexpr size_t kUtsFieldLen = 65;  // struct new_utsname: six char[65]
constexpr size_t kUtsnameOffset = 12;  // after signature[8] and int header_version
constexpr size_t kUtsMachine = 4;      // index of .machine in new_utsname

// Flags in disk_dump_header.status and page_desc_t.flags.
constexpr uint32_t kZlib = 0x1;
constexpr uint32_t kLzo = 0x2;
constexpr uint32_t kSnappy = 0x4;
constexpr uint32_t kIncomplete = 0x8;  // status only
constexpr uint32_t kZstd = 0x20;
constexpr uint32_t kCodecMask = kZlib | kLzo | kSnappy | kZstd;

// Sanity bounds on values read from the file.
constexpr uint32_t kMinBlockSize = 512, kMaxBlockSize = 64 * 1024;
constexpr uint64_t kMaxNoteBytes = 64u << 20;
constexpr uint64_t kMaxVmcoreinfoBytes = 16u << 20;
constexpr size_t kMaxRanges = 1u << 16;
constexpr size_t kCacheSlots = 8;
constexpr unsigned kMaxDescSize = 32;  // page_desc_t is 24 bytes in every ABI we know
constexpr uint64_t kCompressionSample = 4096;  // page descriptors looked at when opening

// Linux elf_prstatus sizes (NT_PRSTATUS desc): tell an i386 kernel from an
// x86-64 one when the container's layout does not (QEMU, below).
constexpr uint32_t kNtPrstatus = 1;
constexpr size_t kPrstatusX86_64 = 336, kPrstatusI386 = 144;

// ---- The dumped machine's C ABI and struct layouts --------------------------

struct Abi {
  std::string_view name;
  Machine machine;
  Endian endian;
  unsigned long_bytes;  // sizeof and alignof (unsigned) long
  unsigned i64_align;   // alignof(long long) and of off_t inside a struct
};

// off_t is 64-bit on every ABI: makedumpfile is built with
// _FILE_OFFSET_BITS=64. i386 (System V psABI) aligns 8-byte scalars in
// structs to 4 bytes; QEMU's packed KdumpSubHeader32 matches that.
constexpr Abi kAbis[] = {
    {"x86_64", Machine::kX86_64, Endian::kLittle, 8, 8},
    {"i386", Machine::kI386, Endian::kLittle, 4, 4},
};

const Abi* abi_for(Machine m) {
  for (const Abi& a : kAbis)
    if (a.machine == m) return &a;
  return nullptr;
}

enum class CType : uint8_t { kChars, kInt, kUInt, kULong, kOffT, kULongLong, kTimeval };

struct FieldDef {
  CType type;
  unsigned count;  // bytes, for kChars
  int since;       // first header_version that has the field
};

struct Field {
  uint64_t offset = 0;
  unsigned size = 0;
  unsigned width = 0;  // integer width read at offset (tv_sec for a timeval)
  int since = 0;
};

// A C struct laid out for one ABI: each field at the next multiple of its
// alignment, the whole rounded up to the largest alignment.
class Layout {
 public:
  Layout(std::span<const FieldDef> defs, const Abi& abi) {
    unsigned max_align = 1;
    for (const FieldDef& d : defs) {
      unsigned size, align, width;
      switch (d.type) {
        case CType::kChars: size = d.count; align = 1; width = 0; break;
        case CType::kInt:
        case CType::kUInt: size = align = width = 4; break;
        case CType::kULong: size = align = width = abi.long_bytes; break;
        case CType::kOffT:
        case CType::kULongLong: size = width = 8; align = abi.i64_align; break;
        case CType::kTimeval: size = 2 * abi.long_bytes; align = width = abi.long_bytes; break;
        default: size = width = 0; align = 1;  // unreachable: every CType is listed
      }
      size_ = (size_ + align - 1) / align * align;
      f_.push_back({size_, size, width, d.since});
      size_ += size;
      max_align = std::max(max_align, align);
    }
    size_ = (size_ + max_align - 1) / max_align * max_align;
  }
  const Field& operator[](size_t i) const { return f_[i]; }
  uint64_t size() const { return size_; }
  // Bytes needed to hold every field a header of `version` has.
  uint64_t size_for(int version) const {
    uint64_t n = 0;
    for (const Field& f : f_)
      if (f.since <= version) n = std::max(n, f.offset + f.size);
    return n;
  }

 private:
  std::vector<Field> f_;
  uint64_t size_ = 0;
};

// struct disk_dump_header
enum : size_t {
  kDhSignature, kDhVersion, kDhUtsname, kDhTimestamp, kDhStatus, kDhBlockSize, kDhSubHdrSize, kDhBitmapBlocks,
  kDhMaxMapnr, kDhTotalRamBlocks, kDhDeviceBlocks, kDhWrittenBlocks, kDhCurrentCpu, kDhNrCpus,
};
constexpr FieldDef kDiskDumpHeader[] = {
    {CType::kChars, kSignatureLen, 0}, {CType::kInt, 0, 0},  {CType::kChars, 6 * kUtsFieldLen, 0},
    {CType::kTimeval, 0, 0},           {CType::kUInt, 0, 0}, {CType::kInt, 0, 0},
    {CType::kInt, 0, 0},               {CType::kUInt, 0, 0}, {CType::kUInt, 0, 0},
    {CType::kUInt, 0, 0},              {CType::kUInt, 0, 0}, {CType::kUInt, 0, 0},
    {CType::kUInt, 0, 0},              {CType::kInt, 0, 0},
};

// struct kdump_sub_header, fields by the header_version that added them.
enum : size_t {
  kShPhysBase, kShDumpLevel, kShSplit, kShStartPfn, kShEndPfn, kShOffVmcoreinfo, kShSizeVmcoreinfo, kShOffNote,
  kShSizeNote, kShOffEraseinfo, kShSizeEraseinfo, kShStartPfn64, kShEndPfn64, kShMaxMapnr64,
};
constexpr FieldDef kKdumpSubHeader[] = {
    {CType::kULong, 0, 1}, {CType::kInt, 0, 1},        {CType::kInt, 0, 2},       {CType::kULong, 0, 2},
    {CType::kULong, 0, 2}, {CType::kOffT, 0, 3},       {CType::kULong, 0, 3},     {CType::kOffT, 0, 4},
    {CType::kULong, 0, 4}, {CType::kOffT, 0, 5},       {CType::kULong, 0, 5},     {CType::kULongLong, 0, 6},
    {CType::kULongLong, 0, 6}, {CType::kULongLong, 0, 6},
};

// page_desc_t
enum : size_t { kPdOffset, kPdSize, kPdFlags, kPdPageFlags };
constexpr FieldDef kPageDesc[] = {
    {CType::kOffT, 0, 0}, {CType::kUInt, 0, 0}, {CType::kUInt, 0, 0}, {CType::kULongLong, 0, 0}};

uint64_t get(const ByteView& v, const Field& f) {
  // Callers size their buffers from the same layout.
  return v.has(f.offset, f.width) ? load_uint(v.data() + f.offset, f.width, v.endian()) : 0;
}
int64_t get_signed(const ByteView& v, const Field& f) { return sign_extend(get(v, f), f.width * 8); }

std::string uts_field(std::span<const uint8_t> h, size_t i) {
  const char* p = reinterpret_cast<const char*>(h.data() + kUtsnameOffset + i * kUtsFieldLen);
  return std::string(p, strnlen(p, kUtsFieldLen));
}

// The header values that decide the file layout, checked for sanity.
Status check_geometry(const ByteView& h, const Layout& dh, const Abi& abi, const std::string& fn) {
  uint64_t bs = get(h, dh[kDhBlockSize]);
  if (bs < kMinBlockSize || bs > kMaxBlockSize || !std::has_single_bit(bs))
    return make_error(Errc::kBadData, "{}: block_size {} at offset {:#x} ({} layout) is not a power of two from {} to {}",
                      fn, int32_t(bs), dh[kDhBlockSize].offset, abi.name, kMinBlockSize, kMaxBlockSize);
  int64_t sub = get_signed(h, dh[kDhSubHdrSize]);
  if (sub < 1)
    return make_error(Errc::kBadData,
                      "{}: sub_hdr_size {} at offset {:#x} ({} layout); a KDUMP file has at least one sub-header block",
                      fn, sub, dh[kDhSubHdrSize].offset, abi.name);
  if (get(h, dh[kDhBitmapBlocks]) < 1)
    return make_error(Errc::kBadData, "{}: bitmap_blocks is 0 at offset {:#x} ({} layout)", fn,
                      dh[kDhBitmapBlocks].offset, abi.name);
  return {};
}

const char* codec_name(uint32_t flag) {
  switch (flag) {
    case kZlib: return "zlib";
    case kLzo: return "lzo";
    case kSnappy: return "snappy";
    case kZstd: return "zstd";
  }
  return "?";
}

std::string codecs_string(uint32_t codecs) {
  std::string s;
  for (uint32_t f : {kZlib, kLzo, kSnappy, kZstd}) {
    if (!(codecs & f)) continue;
    if (!s.empty()) s += "+";
    s += codec_name(f);
  }
  return s.empty() ? "none" : s;
}

bool lzo_ready() {
  static const bool ok = lzo_init() == LZO_E_OK;
  return ok;
}

// Reads `nbytes` bitmap bytes at `off` into 64-bit words (bit pfn%64 of word
// pfn/64, whatever the host), clearing bits at or beyond `limit`.
Result<std::vector<uint64_t>> read_bitmap(const Source& src, uint64_t off, uint64_t limit) {
  uint64_t nbytes = (limit + 7) / 8;
  std::vector<uint64_t> words((nbytes + 7) / 8, 0);
  if (nbytes == 0) return words;
  auto* bytes = reinterpret_cast<uint8_t*>(words.data());
  VMC_TRY(src.read(off, std::span(bytes, nbytes)));
  for (uint64_t& w : words) w = load_u64(reinterpret_cast<const uint8_t*>(&w), Endian::kLittle);
  if (limit % 64) words.back() &= (uint64_t(1) << (limit % 64)) - 1;
  return words;
}

}  // namespace

DiskDump::~DiskDump() = default;

std::string DiskDump::incomplete_note() const {
  return (status_ & kIncomplete)
             ? "; the dump header marks the dump incomplete (status flag 0x8: its writer ran out of space or was stopped)"
             : "";
}

Result<std::unique_ptr<DiskDump>> DiskDump::open(std::shared_ptr<const Source> src) {
  auto d = std::unique_ptr<DiskDump>(new DiskDump());
  d->src_ = src;
  d->path_ = src->name();
  d->format_ = "kdump-compressed";
  const std::string& fn = d->path_;
  const uint64_t fsize = src->size();

  // As many bytes as the largest header layout, and no more: in a cut
  // flattened stream the padding after the header may be unreadable.
  uint64_t max_header = 0;
  for (const Abi& a : kAbis) max_header = std::max(max_header, Layout(kDiskDumpHeader, a).size());
  if (fsize < kSignatureLen)
    return make_error(Errc::kTruncated, "{}: file of {} bytes is too short for a kdump-compressed header", fn, fsize);
  std::vector<uint8_t> hb(std::min(fsize, max_header));
  VMC_TRY(src->read(0, hb));
  const uint64_t fixed = kUtsnameOffset + 6 * kUtsFieldLen;
  if (hb.size() < kSignatureLen || std::memcmp(hb.data(), kSignature, kSignatureLen) != 0)
    return make_error(Errc::kBadData, "{}: no \"KDUMP   \" signature at offset 0", fn);
  if (hb.size() < fixed)
    return make_error(Errc::kTruncated, "{}: file of {} bytes ends inside the disk_dump_header", fn, fsize);

  std::string uts_machine = uts_field(hb, kUtsMachine);
  Machine m = machine_from_uname(uts_machine);
  const Abi* abi = abi_for(m);
  if (!abi)
    return make_error(Errc::kUnsupported, "{}: kdump-compressed dump of machine \"{}\" (utsname.machine at offset {:#x}); "
                      "supported: x86_64, i386",
                      fn, uts_machine, kUtsnameOffset + kUtsMachine * kUtsFieldLen);
  // header_version is an int at offset 8 in every ABI, in the machine's order.
  int64_t version = int32_t(load_u32(hb.data() + kSignatureLen, abi->endian));
  if (version < kMinVersion || version > kMaxVersion)
    return make_error(Errc::kUnsupported, "{}: kdump-compressed header version {} at offset {:#x} (known: {} to {})", fn,
                      version, kSignatureLen, kMinVersion, kMaxVersion);

  // QEMU lays the headers out by the ELF class it chose for the guest, not
  // by the guest's ABI (dump.c create_header32/64): an i386 guest ("i686")
  // on a PC is written in the 64-bit layout, because the BIOS ROM ends at
  // 4 GiB (x86 cpu_get_dump_info), and qemu-system-x86_64 names every guest
  // "x86_64" (ELF_MACHINE_UNAME). So when the named layout is implausible,
  // the other x86 layout is tried before giving up.
  const Abi* named = abi;
  Layout dh(kDiskDumpHeader, *abi);
  Status geo = hb.size() < dh.size()
                   ? Status(make_error(Errc::kTruncated, "{}: file of {} bytes ends inside the {}-byte disk_dump_header",
                                       fn, fsize, dh.size()))
                   : check_geometry(ByteView(hb, abi->endian, fn), dh, *abi, fn);
  if (!geo) {
    for (const Abi& alt : kAbis) {
      if (&alt == named || alt.endian != named->endian) continue;
      Layout adh(kDiskDumpHeader, alt);
      if (hb.size() >= adh.size() && check_geometry(ByteView(hb, alt.endian, fn), adh, alt, fn)) {
        abi = &alt;
        dh = adh;
        geo = {};
        break;
      }
    }
  }
  if (!geo) return std::move(geo).error();
  d->layout_ = abi->name;
  d->endian_ = abi->endian;
  d->header_version_ = int(version);
  const ByteView h(std::span<const uint8_t>(hb.data(), dh.size()), abi->endian, fn);

  const uint32_t bs = uint32_t(get(h, dh[kDhBlockSize]));
  const uint64_t sub_blocks = uint64_t(get_signed(h, dh[kDhSubHdrSize]));
  const uint64_t bitmap_blocks = get(h, dh[kDhBitmapBlocks]);
  d->block_size_ = bs;
  d->status_ = uint32_t(get(h, dh[kDhStatus]));

  DumpHeader& hd = d->header_;
  std::optional<std::string>* uts_dst[] = {&hd.sysname, &hd.nodename, &hd.release, &hd.version, &hd.machine};
  for (size_t i = 0; i < 5; ++i) {
    std::string s = uts_field(hb, i);
    if (!s.empty()) *uts_dst[i] = std::move(s);
  }
  if (int64_t ts = get_signed(h, dh[kDhTimestamp]); ts != 0) hd.timestamp = ts;
  int64_t nr_cpus = get_signed(h, dh[kDhNrCpus]);
  if (nr_cpus > 0) hd.nr_cpus = uint32_t(nr_cpus);
  hd.current_cpu = uint32_t(get(h, dh[kDhCurrentCpu]));
  hd.incomplete = (d->status_ & kIncomplete) != 0;
  if (hd.incomplete)
    d->warnings_.push_back(fmt::format("{}: the dump header marks the dump incomplete (status {:#x} has flag 0x8): "
                                       "pages its writer did not get to cannot be read",
                                       fn, d->status_));

  // ---- sub-header ----
  Layout sh(kKdumpSubHeader, *abi);
  const uint64_t sub_off = bs;  // DISKDUMP_HEADER_BLOCKS = 1
  const uint64_t sub_need = sh.size_for(d->header_version_);
  if (sub_need > sub_blocks * bs)
    return make_error(Errc::kBadData, "{}: sub_hdr_size of {} blocks cannot hold a version {} kdump_sub_header ({} bytes)",
                      fn, sub_blocks, version, sub_need);
  if (!in_bounds(sub_off, sub_need, fsize))
    return make_error(Errc::kTruncated, "{}: the kdump_sub_header ({} bytes at offset {:#x}) lies beyond the end of the "
                      "file ({:#x} bytes){}",
                      fn, sub_need, sub_off, fsize, d->incomplete_note());
  VMC_ASSIGN(auto shb, src->read_vec(sub_off, sub_need));
  const ByteView s(shb, abi->endian, fn);
  const int v = d->header_version_;
  hd.phys_base = get(s, sh[kShPhysBase]);
  hd.dump_level = int32_t(get_signed(s, sh[kShDumpLevel]));
  if (v >= 2 && get(s, sh[kShSplit]) != 0) {
    uint64_t sp = v >= 6 ? get(s, sh[kShStartPfn64]) : get(s, sh[kShStartPfn]);
    uint64_t ep = v >= 6 ? get(s, sh[kShEndPfn64]) : get(s, sh[kShEndPfn]);
    return make_error(Errc::kUnsupported,
                      "{}: this is one piece of a split dump (pfns {:#x}-{:#x}, split flag at offset {:#x}); reassemble "
                      "the pieces first (makedumpfile --reassemble)",
                      fn, sp, ep, sub_off + sh[kShSplit].offset);
  }
  uint64_t max_mapnr = get(h, dh[kDhMaxMapnr]);
  if (v >= 6 && get(s, sh[kShMaxMapnr64]) != 0) max_mapnr = get(s, sh[kShMaxMapnr64]);
  hd.max_pfn = max_mapnr;

  // ---- bitmaps ----
  // Both bitmaps share bitmap_blocks, half each (crash diskdump.c and
  // makedumpfile prepare_bitmap2_buffer: each is whole blocks).
  const uint64_t bitmap_off = (1 + sub_blocks) * bs;  // < 2^48: sub_blocks < 2^31, bs <= 2^16
  const uint64_t bitmap_len = bitmap_blocks * bs;     // < 2^48
  const uint64_t half = bitmap_len / 2;
  const uint64_t covered = half * 8;
  d->pfn_limit_ = std::min(max_mapnr, covered);
  if (max_mapnr > covered)
    d->warnings_.push_back(fmt::format("{}: max_mapnr {:#x} is more than the {:#x} pfns its bitmaps ({} blocks) "
                                       "cover; higher pfns are treated as not in the dump",
                                       fn, max_mapnr, covered, bitmap_blocks));
  const uint64_t map_bytes = (d->pfn_limit_ + 7) / 8;
  for (int which = 1; which <= 2; ++which) {
    uint64_t off = bitmap_off + (which == 2 ? half : 0);
    if (!in_bounds(off, map_bytes, fsize))
      return make_error(Errc::kTruncated, "{}: the {} bitmap ({:#x} bytes at offset {:#x}) lies beyond the end of the "
                        "file ({:#x} bytes){}",
                        fn, which == 1 ? "1st" : "2nd", map_bytes, off, fsize, d->incomplete_note());
    auto bm = read_bitmap(*src, off, d->pfn_limit_);
    if (!bm) return std::move(bm).error().context(fmt::format("reading the {} bitmap", which == 1 ? "1st" : "2nd"));
    (which == 1 ? d->ram_ : d->dumped_bm_) = std::move(*bm);
  }
  d->rank_.reserve(d->dumped_bm_.size() / 8 + 1);
  for (size_t w = 0; w < d->dumped_bm_.size(); ++w) {
    if (w % 8 == 0) d->rank_.push_back(d->dumped_);
    d->dumped_ += uint64_t(std::popcount(d->dumped_bm_[w]));
  }

  // ---- page descriptors ----
  Layout pd(kPageDesc, *abi);
  d->desc_size_ = unsigned(pd.size());
  d->pd_offset_at_ = unsigned(pd[kPdOffset].offset);
  d->pd_size_at_ = unsigned(pd[kPdSize].offset);
  d->pd_flags_at_ = unsigned(pd[kPdFlags].offset);
  if (d->desc_size_ > kMaxDescSize)
    return make_error(Errc::kUnsupported, "{}: page descriptors of {} bytes in the {} layout", fn, d->desc_size_, abi->name);
  d->desc_off_ = bitmap_off + bitmap_len;
  const uint64_t desc_end = d->desc_off_ + d->dumped_ * d->desc_size_;  // dumped_ < 2^51: no overflow
  if (desc_end > fsize) {
    d->header_.incomplete = true;
    d->warnings_.push_back(fmt::format("{}: the descriptors of its {} dumped pages end at offset {:#x}, beyond the end of "
                                       "the file ({:#x} bytes): the dump is truncated{}",
                                       fn, d->dumped_, desc_end, fsize, d->incomplete_note()));
  }

  // ---- notes and VMCOREINFO ----
  if (v >= 4) {
    uint64_t off = get(s, sh[kShOffNote]), len = get(s, sh[kShSizeNote]);
    if (len > 0) {
      if (len > kMaxNoteBytes)
        return make_error(Errc::kBadData, "{}: note area size {:#x} (sub-header offset {:#x}) is implausibly large", fn,
                          len, sub_off + sh[kShSizeNote].offset);
      if (!in_bounds(off, len, fsize))
        return make_error(Errc::kTruncated, "{}: the note area ({:#x} bytes at offset {:#x}) lies beyond the end of the "
                          "file ({:#x} bytes){}",
                          fn, len, off, fsize, d->incomplete_note());
      VMC_ASSIGN(auto nb, src->read_vec(off, len));
      VMC_ASSIGN(d->notes_, parse_notes(nb, abi->endian, fmt::format("{} note area at offset {:#x}", fn, off)));
    }
  }
  if (v >= 3) {
    uint64_t off = get(s, sh[kShOffVmcoreinfo]), len = get(s, sh[kShSizeVmcoreinfo]);
    if (len > 0) {
      if (len > kMaxVmcoreinfoBytes)
        return make_error(Errc::kBadData, "{}: VMCOREINFO size {:#x} (sub-header offset {:#x}) is implausibly large", fn,
                          len, sub_off + sh[kShSizeVmcoreinfo].offset);
      if (!in_bounds(off, len, fsize))
        return make_error(Errc::kTruncated, "{}: VMCOREINFO ({:#x} bytes at offset {:#x}) lies beyond the end of the "
                          "file ({:#x} bytes){}",
                          fn, len, off, fsize, d->incomplete_note());
      VMC_ASSIGN(auto vb, src->read_vec(off, len));
      const char* p = reinterpret_cast<const char*>(vb.data());
      d->vmcoreinfo_ = std::string(p, strnlen(p, vb.size()));
    }
  }
  bool qemu = false;
  size_t prstatus_64 = 0, prstatus_32 = 0, prstatus = 0;
  for (const Note& n : d->notes_) {
    if (n.name == "QEMU") qemu = true;
    if (n.name == "VMCOREINFO" && !d->vmcoreinfo_) {
      const char* p = reinterpret_cast<const char*>(n.desc.data());
      d->vmcoreinfo_ = std::string(p, strnlen(p, n.desc.size()));
    }
    if (n.name == "CORE" && n.type == kNtPrstatus) {
      ++prstatus;
      prstatus_64 += n.desc.size() == kPrstatusX86_64;
      prstatus_32 += n.desc.size() == kPrstatusI386;
    }
  }
  // The machine is what utsname names, except that a 32-bit layout means a
  // kernel not in long mode (i386), and the kernel's own register notes know
  // its word size better than QEMU's name for the guest does.
  d->machine_ = abi->machine == Machine::kI386 ? Machine::kI386 : named->machine;
  if (prstatus > 0 && prstatus_32 == prstatus) d->machine_ = Machine::kI386;
  if (prstatus > 0 && prstatus_64 == prstatus) d->machine_ = Machine::kX86_64;
  d->producer_ = qemu ? "qemu" : "makedumpfile";

  // ---- compression: what the header says plus what a sample of pages uses ----
  uint32_t codecs = d->status_ & kCodecMask;
  uint64_t sample = std::min(d->dumped_, kCompressionSample);
  if (d->desc_off_ < fsize) sample = std::min(sample, (fsize - d->desc_off_) / d->desc_size_);
  // Best effort, in chunks: a cut flattened stream may not have delivered
  // every descriptor, and that must not stop the rest from being read.
  constexpr uint64_t kChunk = 256;
  std::vector<uint8_t> db(kChunk * d->desc_size_);
  for (uint64_t i = 0; i < sample; i += kChunk) {
    uint64_t n = std::min(kChunk, sample - i);
    if (!src->read(d->desc_off_ + i * d->desc_size_, std::span(db.data(), n * d->desc_size_))) break;
    for (uint64_t j = 0; j < n; ++j)
      codecs |= load_u32(db.data() + j * d->desc_size_ + d->pd_flags_at_, abi->endian) & kCodecMask;
  }
  d->compression_ = codecs_string(codecs);

  // ---- truncation: makedumpfile writes page data in pfn order (zero pages
  // share one early block), so the data of the last descriptors ends the
  // dump; a file that stops earlier was cut (a full disk, an interrupted
  // copy) even if the header says nothing.
  if (d->dumped_ > 0 && desc_end <= fsize) {
    const uint64_t n = std::min<uint64_t>(d->dumped_, 256);
    std::vector<uint8_t> tail(n * d->desc_size_);
    if (src->read(d->desc_off_ + (d->dumped_ - n) * d->desc_size_, tail)) {
      uint64_t max_end = 0;
      bool overflow = false;
      for (uint64_t i = 0; i < n; ++i) {
        const uint8_t* e = tail.data() + i * d->desc_size_;
        uint64_t end;
        if (!checked_add(load_u64(e + d->pd_offset_at_, abi->endian), load_u32(e + d->pd_size_at_, abi->endian), &end))
          overflow = true;
        else
          max_end = std::max(max_end, end);
      }
      if (overflow || max_end > fsize) {
        d->header_.incomplete = true;
        d->warnings_.push_back(fmt::format("{}: the data of its last dumped pages ends at offset {:#x}, beyond the end of "
                                           "the file ({:#x} bytes): the dump is truncated{}",
                                           fn, max_end, fsize, d->incomplete_note()));
      }
    }
  }

  // ---- RAM ranges: runs of pfns that are RAM or dumped, merged ----
  auto set_at = [&](uint64_t w) { return d->ram_[w] | d->dumped_bm_[w]; };
  const uint64_t limit = d->pfn_limit_;
  uint64_t pfn = 0;
  while (pfn < limit) {  // each pass moves past one run
    uint64_t w = pfn >> 6;
    uint64_t bits = set_at(w) & (~uint64_t(0) << (pfn & 63));
    while (bits == 0 && (w + 1) * 64 < limit) bits = set_at(++w);
    if (bits == 0) break;
    uint64_t start = w * 64 + uint64_t(std::countr_zero(bits));
    if (start >= limit) break;
    bits = ~set_at(w) & (~uint64_t(0) << (start & 63));
    while (bits == 0 && (w + 1) * 64 < limit) bits = ~set_at(++w);
    uint64_t end = bits == 0 ? limit : std::min(limit, w * 64 + uint64_t(std::countr_zero(bits)));
    if (d->ranges_.size() == kMaxRanges) {
      d->warnings_.push_back(fmt::format("{}: its memory map has more than {} ranges; ranges() lists the first {}", fn,
                                         kMaxRanges, kMaxRanges));
      break;
    }
    d->ranges_.push_back({start * bs, (end - start) * bs});
    pfn = end;
  }

  d->cache_.resize(kCacheSlots);
  return d;
}

uint64_t DiskDump::rank(uint64_t pfn) const {
  uint64_t w = pfn >> 6;
  uint64_t r = rank_[w >> 3];
  for (uint64_t i = w & ~uint64_t(7); i < w; ++i) r += uint64_t(std::popcount(dumped_bm_[i]));
  return r + uint64_t(std::popcount(dumped_bm_[w] & ((uint64_t(1) << (pfn & 63)) - 1)));
}

Status DiskDump::decode(uint64_t pfn, uint64_t addr, std::vector<uint8_t>& out) {
  const std::string& fn = path_;
  const uint64_t fsize = src_->size();
  const uint64_t doff = desc_off_ + rank(pfn) * desc_size_;
  if (!in_bounds(doff, desc_size_, fsize))
    return make_error(Errc::kTruncated,
                      "{}: physical address {:#x} (pfn {:#x}): its page descriptor at offset {:#x} lies beyond the end "
                      "of the file ({:#x} bytes){}",
                      fn, addr, pfn, doff, fsize, incomplete_note());
  uint8_t db[kMaxDescSize];
  std::span<uint8_t> dspan(db, desc_size_);
  if (Status st = src_->read(doff, dspan); !st)
    return std::move(st).error().context(
        fmt::format("physical address {:#x} (pfn {:#x}): reading its page descriptor at offset {:#x}", addr, pfn, doff));
  const int64_t off = int64_t(load_u64(db + pd_offset_at_, endian_));
  const uint32_t size = load_u32(db + pd_size_at_, endian_);
  const uint32_t flags = load_u32(db + pd_flags_at_, endian_);
  if (off == 0 && (status_ & kIncomplete))
    return make_error(Errc::kTruncated,
                      "{}: physical address {:#x} (pfn {:#x}) was never written: its page descriptor at offset {:#x} is "
                      "empty{}",
                      fn, addr, pfn, doff, incomplete_note());
  if (off <= 0 || size == 0 || size > block_size_)
    return make_error(Errc::kBadData,
                      "{}: physical address {:#x} (pfn {:#x}): page descriptor at offset {:#x} is invalid (data offset "
                      "{:#x}, size {}, page size {})",
                      fn, addr, pfn, doff, off, size, block_size_);
  if (flags & ~kCodecMask)
    return make_error(Errc::kBadData,
                      "{}: physical address {:#x} (pfn {:#x}): page descriptor at offset {:#x} has unknown flags {:#x}",
                      fn, addr, pfn, doff, flags);
  const uint32_t codec = flags & kCodecMask;
  if (std::popcount(codec) > 1)
    return make_error(Errc::kBadData,
                      "{}: physical address {:#x} (pfn {:#x}): page descriptor at offset {:#x} names several codecs "
                      "(flags {:#x})",
                      fn, addr, pfn, doff, flags);
  if (!in_bounds(uint64_t(off), size, fsize))
    return make_error(Errc::kTruncated,
                      "{}: physical address {:#x} (pfn {:#x}): its {} bytes of page data at offset {:#x} (descriptor at "
                      "{:#x}) lie beyond the end of the file ({:#x} bytes){}",
                      fn, addr, pfn, size, off, doff, fsize, incomplete_note());
  out.resize(block_size_);
  if (codec == 0) {
    if (size != block_size_)
      return make_error(Errc::kBadData,
                        "{}: physical address {:#x} (pfn {:#x}): uncompressed page at offset {:#x} has {} bytes, not "
                        "the page size {}",
                        fn, addr, pfn, off, size, block_size_);
  }
  std::vector<uint8_t> in;
  std::span<uint8_t> raw(out);
  if (codec != 0) {
    in.resize(size);
    raw = in;
  }
  if (Status st = src_->read(uint64_t(off), raw); !st)
    return std::move(st).error().context(fmt::format("physical address {:#x} (pfn {:#x}): reading {} bytes of page data at "
                                                     "offset {:#x}",
                                                     addr, pfn, size, off));
  if (codec == 0) return {};
  size_t got = 0;
  bool ok = false;
  std::string why;
  switch (codec) {
    case kZlib: {
      uLongf n = block_size_;
      int rc = uncompress(out.data(), &n, in.data(), size);
      ok = rc == Z_OK;
      got = n;
      if (!ok) why = fmt::format(" (zlib error {})", rc);
      break;
    }
    case kLzo: {
      if (!lzo_ready()) return make_error(Errc::kUnsupported, "{}: the LZO library failed to initialize", fn);
      lzo_uint n = block_size_;
      int rc = lzo1x_decompress_safe(in.data(), size, out.data(), &n, nullptr);
      ok = rc == LZO_E_OK;
      got = n;
      if (!ok) why = fmt::format(" (lzo error {})", rc);
      break;
    }
    case kSnappy: {
      size_t n = 0;
      auto cin = reinterpret_cast<const char*>(in.data());
      if (snappy_uncompressed_length(cin, size, &n) != SNAPPY_OK || n != block_size_) {
        why = fmt::format(" (snappy says {} bytes)", n);
        break;
      }
      ok = snappy_uncompress(cin, size, reinterpret_cast<char*>(out.data()), &n) == SNAPPY_OK;
      got = n;
      break;
    }
    case kZstd: {
      if (!zstd_) {
        zstd_ = decltype(zstd_)(ZSTD_createDCtx(), [](ZSTD_DCtx_s* c) { ZSTD_freeDCtx(c); });
        if (!zstd_) return make_error(Errc::kIo, "{}: cannot allocate a zstd decompression context", fn);
      }
      size_t rc = ZSTD_decompressDCtx(zstd_.get(), out.data(), block_size_, in.data(), size);
      ok = !ZSTD_isError(rc);
      got = ok ? rc : 0;
      if (!ok) why = fmt::format(" ({})", ZSTD_getErrorName(rc));
      break;
    }
  }
  if (!ok || got != block_size_)
    return make_error(Errc::kBadData,
                      "{}: physical address {:#x} (pfn {:#x}): {} data at offset {:#x} ({} bytes, descriptor at {:#x}) "
                      "does not decompress to one {}-byte page{}",
                      fn, addr, pfn, codec_name(codec), off, size, doff, block_size_,
                      why.empty() ? fmt::format(" (got {} bytes)", got) : why);
  return {};
}

Result<const uint8_t*> DiskDump::page(uint64_t pfn, uint64_t addr) {
  if (pfn >= pfn_limit_)
    return make_error(Errc::kNotInDump, "{}: physical address {:#x} is not in the dump (pfn {:#x}; the dump's pfns end at {:#x})",
                      path_, addr, pfn, pfn_limit_);
  if (!bit(dumped_bm_, pfn)) {
    if (bit(ram_, pfn)) {
      std::string level = header_.dump_level ? fmt::format(", dump level {}", *header_.dump_level) : "";
      return make_error(Errc::kExcluded, "{}: physical address {:#x} was excluded from the dump (pfn {:#x}{})", path_,
                        addr, pfn, level);
    }
    return make_error(Errc::kNotInDump,
                      "{}: physical address {:#x} is not in the dump (pfn {:#x} is not RAM in its memory map)", path_,
                      addr, pfn);
  }
  CacheSlot* victim = &cache_[0];
  for (CacheSlot& c : cache_) {
    if (c.valid && c.pfn == pfn) {
      c.last_use = ++use_clock_;
      return c.data.data();
    }
    if (!c.valid || (victim->valid && c.last_use < victim->last_use)) victim = &c;
  }
  victim->valid = false;
  ++pages_decoded_;
  VMC_TRY(decode(pfn, addr, victim->data));
  victim->pfn = pfn;
  victim->valid = true;
  victim->last_use = ++use_clock_;
  return victim->data.data();
}

Status DiskDump::read_phys(PhysAddr pa, std::span<uint8_t> buf) {
  uint64_t done = 0;
  while (done < buf.size()) {  // one page per pass
    uint64_t a;
    if (!checked_add(pa.v, done, &a))
      return make_error(Errc::kNotInDump, "{}: physical address {:#x}+{:#x} overflows", path_, pa.v, done);
    uint64_t pfn = a / block_size_, in = a % block_size_;
    VMC_ASSIGN(const uint8_t* p, page(pfn, a));
    uint64_t n = std::min<uint64_t>(buf.size() - done, block_size_ - in);
    std::memcpy(buf.data() + done, p + in, n);
    done += n;
  }
  return {};
}

}  // namespace vmc
