#include "dwarf/orc.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <numeric>

namespace vmc::orc {

namespace {

// .orc_header hashes (scripts/orc_hash.sh over orc_types.h), as listed by
// drgn's libdrgn/orc_info.c for each format change.
constexpr std::array<uint8_t, kHeaderSize> kHash71 = {0x13, 0x7c, 0x36, 0xad, 0x76, 0x27, 0xc4, 0xdd, 0x55, 0x93,
                                                      0x21, 0x76, 0xbb, 0x0e, 0xcd, 0xbd, 0x50, 0x41, 0xfc, 0x82};
constexpr std::array<uint8_t, kHeaderSize> kHash64 = {0xfe, 0x5d, 0x32, 0xbf, 0x58, 0x1b, 0xd6, 0x3b, 0x2c, 0xa9,
                                                      0xa5, 0xc6, 0x5b, 0xa5, 0xa6, 0x25, 0xea, 0xb3, 0xfe, 0x24};
constexpr std::array<uint8_t, kHeaderSize> kHash63 = {0xdb, 0x84, 0xae, 0xd4, 0x10, 0x3b, 0x31, 0xdd, 0x51, 0xe0,
                                                      0x17, 0xf8, 0xf7, 0x97, 0x83, 0xca, 0x98, 0x5c, 0x2c, 0x51};

// v1–v3 raw base register -> canonical (v4) number.
constexpr uint8_t kOldRegs[16] = {kRegUndefined,  kRegPrevSp,     kRegDx,     kRegDi,     kRegBp,     kRegSp,
                                  kRegR10,        kRegR13,        kRegBpIndirect, kRegSpIndirect, kRegInvalid,
                                  kRegInvalid,    kRegInvalid,    kRegInvalid, kRegInvalid, kRegInvalid};

uint8_t canonical_reg(int version, unsigned raw) {
  if (version >= 4) return raw <= kRegBpIndirect ? uint8_t(raw) : uint8_t(kRegInvalid);
  return kOldRegs[raw & 0xf];
}

unsigned raw_reg(int version, uint8_t reg) {
  if (version >= 4) return reg & 0xf;
  for (unsigned i = 0; i < 16; ++i)
    if (kOldRegs[i] == reg) return i;
  return 0xf;
}

bool is_terminator(const OrcEntry& e) { return e.type == kTypeUndefined; }

}  // namespace

OrcEntry decode_entry(int version, const uint8_t* raw, Endian en) {
  OrcEntry e;
  e.sp_offset = int16_t(load_u16(raw, en));
  e.bp_offset = int16_t(load_u16(raw + 2, en));
  uint16_t f = load_u16(raw + 4, en);
  unsigned sp_raw = f & 0xf, bp_raw = (f >> 4) & 0xf;
  e.sp_reg = canonical_reg(version, sp_raw);
  e.bp_reg = canonical_reg(version, bp_raw);
  if (version >= 3) {
    e.type = uint8_t((f >> 8) & 7);
    e.signal = (f >> 11) & 1;
    return e;
  }
  unsigned type2 = (f >> 8) & 3;
  bool end = version == 2 ? ((f >> 11) & 1) : ((f >> 10) & 1);
  e.end = end;
  if (sp_raw == 0)
    e.type = end ? kTypeEndOfStack : kTypeUndefined;
  else
    e.type = uint8_t(type2 + kTypeCall);  // CALL 0, REGS 1, REGS_PARTIAL 2 -> 2, 3, 4
  if (version == 2)
    e.signal = (f >> 10) & 1;
  else
    e.signal = e.type == kTypeRegs || e.type == kTypeRegsPartial;
  return e;
}

void encode_entry(int version, const OrcEntry& e, uint8_t* raw, Endian en) {
  store_uint(raw, 2, uint16_t(e.sp_offset), en);
  store_uint(raw + 2, 2, uint16_t(e.bp_offset), en);
  unsigned f = raw_reg(version, e.sp_reg) | (raw_reg(version, e.bp_reg) << 4);
  if (version >= 3) {
    f |= unsigned(e.type & 7) << 8;
    if (e.signal) f |= 1u << 11;
  } else {
    bool end = e.type == kTypeEndOfStack || e.end;
    unsigned t = e.type >= kTypeCall ? unsigned(e.type - kTypeCall) & 3 : 0;
    if (e.type == kTypeUndefined || e.type == kTypeEndOfStack) f &= ~0xfu;  // sp_reg UNDEFINED
    f |= t << 8;
    if (version == 2) {
      if (e.signal) f |= 1u << 10;
      if (end) f |= 1u << 11;
    } else if (end) {
      f |= 1u << 10;
    }
  }
  store_uint(raw + 4, 2, f, en);
}

int version_from_header(std::span<const uint8_t> h) {
  if (h.size() != kHeaderSize) return 0;
  if (std::equal(h.begin(), h.end(), kHash71.begin())) return 4;
  if (std::equal(h.begin(), h.end(), kHash64.begin())) return 3;
  if (std::equal(h.begin(), h.end(), kHash63.begin())) return 2;
  return 0;
}

int version_from_release(std::string_view rel) {
  auto num = [&](size_t& pos, long* out) {
    const char* b = rel.data() + pos;
    auto [p, ec] = std::from_chars(b, rel.data() + rel.size(), *out);
    if (ec != std::errc() || p == b) return false;
    pos += size_t(p - b);
    return true;
  };
  size_t pos = 0;
  long major = 0, minor = 0;
  if (!num(pos, &major)) return 0;
  if (pos < rel.size() && rel[pos] == '.') {
    ++pos;
    if (!num(pos, &minor)) minor = 0;
  }
  if (major > 7 || (major == 7 && minor >= 1)) return 4;
  if (major > 6 || (major == 6 && minor >= 4)) return 3;
  if (major == 6 && minor == 3) return 2;
  // RHEL 9.6 (5.14.0-517.el9 and later) ships the v3 format without
  // .orc_header (drgn orc_info.c, orc_version_from_osrelease).
  if (major == 5 && minor == 14 && rel.find(".el9") != std::string_view::npos) {
    size_t dash = rel.find('-');
    long build = 0;
    size_t p = dash + 1;
    if (dash != std::string_view::npos && num(p, &build) && build >= 517) return 3;
  }
  return 1;
}

Result<OrcTable> build_table(std::span<const uint8_t> ip_table, std::span<const uint8_t> entries, uint64_t ip_base,
                             int version, Endian en, std::string_view what) {
  if (version < 1 || version > 4) return make_error(Errc::kUnsupported, "{}: ORC format version {} is not known", what, version);
  if (ip_table.size() % 4 != 0 || entries.size() % kEntrySize != 0 || ip_table.size() / 4 != entries.size() / kEntrySize)
    return make_error(Errc::kBadData, "{}: ORC ip table ({} bytes) and entry table ({} bytes) do not match", what,
                      ip_table.size(), entries.size());
  uint64_t n = ip_table.size() / 4;
  if (n > kMaxEntries) return make_error(Errc::kLimit, "{}: {} ORC entries exceed the limit of {}", what, n, kMaxEntries);
  std::vector<uint64_t> ips(n);
  std::vector<OrcEntry> ents(n);
  for (uint64_t i = 0; i < n; ++i) {
    int32_t rel = int32_t(load_u32(ip_table.data() + 4 * i, en));
    ips[i] = ip_base + 4 * i + uint64_t(int64_t(rel));
    ents[i] = decode_entry(version, entries.data() + kEntrySize * i, en);
  }
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  bool sorted = true;
  for (uint64_t i = 1; i < n && sorted; ++i)
    if (ips[i - 1] > ips[i] || (ips[i - 1] == ips[i] && !is_terminator(ents[i - 1]) && is_terminator(ents[i])))
      sorted = false;
  if (!sorted)
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      if (ips[a] != ips[b]) return ips[a] < ips[b];
      return is_terminator(ents[a]) && !is_terminator(ents[b]);
    });
  OrcTable t;
  t.version = version;
  t.ips.reserve(n);
  t.entries.reserve(n);
  for (uint32_t i : order) {
    t.ips.push_back(ips[i]);
    t.entries.push_back(ents[i]);
  }
  return t;
}

Result<OrcTable> load_from_elf(const ElfImage& elf, int64_t bias, std::string_view release) {
  const ElfSection* ip_sec = elf.section(".orc_unwind_ip");
  const ElfSection* ent_sec = elf.section(".orc_unwind");
  if (!ip_sec || !ent_sec) return make_error(Errc::kNotFound, "{}: no ORC unwind sections", elf.path());
  int version = 0;
  if (elf.section(".orc_header")) {
    VMC_ASSIGN(auto hdr, elf.section_data(".orc_header"));
    version = version_from_header(hdr);
    if (!version)
      return make_error(Errc::kUnsupported, "{}: .orc_header ({} bytes) names an ORC format this tool does not know",
                        elf.path(), hdr.size());
  } else {
    version = version_from_release(release);
    if (!version)
      return make_error(Errc::kUnsupported,
                        "{}: no .orc_header and the kernel release \"{}\" does not say which ORC format it uses",
                        elf.path(), release);
  }
  VMC_ASSIGN(auto ips, elf.section_data(".orc_unwind_ip"));
  VMC_ASSIGN(auto ents, elf.section_data(".orc_unwind"));
  if (ips.size() != ip_sec->size || ents.size() != ent_sec->size)
    return make_error(Errc::kTruncated, "{}: ORC sections are shorter in the file than their headers say", elf.path());
  auto t = build_table(ips, ents, ip_sec->addr + uint64_t(bias), version, elf.endian(), elf.path());
  return std::move(t).context(fmt::format("{} .orc_unwind_ip at {:#x}", elf.path(), ip_sec->addr));
}

Result<OrcTable> load_from_memory(VirtualMemory& mem, uint64_t ip_table_addr, uint64_t entries_addr, uint64_t count,
                                  int version, Endian e) {
  if (count > kMaxEntries)
    return make_error(Errc::kLimit, "ORC table at {:#x}: {} entries exceed the limit of {}", ip_table_addr, count,
                      kMaxEntries);
  std::vector<uint8_t> ips(count * 4), ents(count * kEntrySize);
  if (count) {
    Status s = mem.read_virt(ip_table_addr, ips);
    if (!s)
      return std::move(s).error().context(
          fmt::format("reading {} ORC ip entries at {:#x}", count, ip_table_addr));
    s = mem.read_virt(entries_addr, ents);
    if (!s)
      return std::move(s).error().context(fmt::format("reading {} ORC entries at {:#x}", count, entries_addr));
  }
  return build_table(ips, ents, ip_table_addr, version, e, fmt::format("ORC table at {:#x}", ip_table_addr));
}

const OrcEntry* lookup(const OrcTable& t, uint64_t pc) {
  auto it = std::upper_bound(t.ips.begin(), t.ips.end(), pc);
  if (it == t.ips.begin()) return nullptr;
  return &t.entries[size_t(it - t.ips.begin()) - 1];
}

const char* reg_name(uint8_t r) {
  switch (r) {
    case kRegUndefined: return "undef";
    case kRegAx: return "ax";
    case kRegDx: return "dx";
    case kRegSp: return "sp";
    case kRegBp: return "bp";
    case kRegDi: return "di";
    case kRegR10: return "r10";
    case kRegR13: return "r13";
    case kRegPrevSp: return "prevsp";
    case kRegSpIndirect: return "(sp)";
    case kRegBpIndirect: return "(bp)";
    default: return "?";
  }
}

const char* type_name(uint8_t t) {
  switch (t) {
    case kTypeUndefined: return "undefined";
    case kTypeEndOfStack: return "end-of-stack";
    case kTypeCall: return "call";
    case kTypeRegs: return "regs";
    case kTypeRegsPartial: return "regs-partial";
    default: return "?";
  }
}

std::string describe(const OrcEntry& e) {
  return fmt::format("type:{} sp:{}{:+d} bp:{}{:+d}{}", type_name(e.type), reg_name(e.sp_reg), e.sp_offset,
                     reg_name(e.bp_reg), e.bp_offset, e.signal ? " signal" : "");
}

}  // namespace vmc::orc
