#include "kvm/dump/elf_dump.h"

#include <algorithm>
#include <cstring>

#include "arch/base/bytes.h"

namespace vmc {

namespace {

// ELF constants (System V gABI), owned here rather than taken from <elf.h>.
constexpr uint16_t kEtCore = 4;
constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kPtNote = 4;
constexpr uint16_t kPnXnum = 0xffff;
constexpr uint64_t kMaxPhdrs = 1u << 20;
constexpr uint64_t kMaxNoteBytes = 64u << 20;

}  // namespace

Result<std::vector<Note>> parse_notes(std::span<const uint8_t> buf, Endian e, std::string_view where) {
  std::vector<Note> out;
  ByteView v(buf, e, where);
  uint64_t off = 0;
  while (off + 12 <= buf.size()) {
    uint32_t namesz = load_u32(buf.data() + off, e);
    uint32_t descsz = load_u32(buf.data() + off + 4, e);
    uint32_t type = load_u32(buf.data() + off + 8, e);
    // Some writers pad note areas with zeros: an all-zero header ends them.
    if (namesz == 0 && descsz == 0 && type == 0) break;
    uint64_t name_off = off + 12;
    uint64_t desc_off = name_off + ((uint64_t(namesz) + 3) & ~uint64_t(3));
    uint64_t next = desc_off + ((uint64_t(descsz) + 3) & ~uint64_t(3));
    if (!v.has(name_off, namesz) || !v.has(desc_off, descsz))
      return make_error(Errc::kBadData, "{}: note at offset {:#x} (namesz {}, descsz {}) overruns its area ({:#x} bytes)",
                        where, off, namesz, descsz, buf.size());
    Note n;
    const char* np = reinterpret_cast<const char*>(buf.data() + name_off);
    n.name.assign(np, strnlen(np, namesz));
    n.type = type;
    n.desc.assign(buf.begin() + desc_off, buf.begin() + desc_off + descsz);
    out.push_back(std::move(n));
    off = next;
  }
  return out;
}

Result<std::unique_ptr<ElfDump>> ElfDump::open(std::shared_ptr<const Source> src) {
  auto d = std::unique_ptr<ElfDump>(new ElfDump());
  d->src_ = src;
  d->path_ = src->name();
  d->format_ = "ELF";
  const std::string& fn = src->name();

  uint8_t ident[64] = {};
  uint64_t hdr_len = std::min<uint64_t>(64, src->size());
  VMC_TRY(src->read(0, std::span(ident, hdr_len)));
  if (hdr_len < 16 || std::memcmp(ident, "\x7f" "ELF", 4) != 0)
    return make_error(Errc::kBadData, "{}: not an ELF file", fn);
  if (ident[4] != 1 && ident[4] != 2) return make_error(Errc::kBadData, "{}: bad ELF class {}", fn, ident[4]);
  if (ident[5] != 1 && ident[5] != 2) return make_error(Errc::kBadData, "{}: bad ELF data encoding {}", fn, ident[5]);
  d->elf64_ = ident[4] == 2;
  d->endian_ = ident[5] == 1 ? Endian::kLittle : Endian::kBig;
  uint64_t ehsize = d->elf64_ ? 64 : 52;
  if (hdr_len < ehsize) return make_error(Errc::kTruncated, "{}: file too short for an ELF header ({} bytes)", fn, hdr_len);
  ByteView eh(std::span<const uint8_t>(ident, ehsize), d->endian_, "ELF header");
  Cursor c(eh, 16);
  uint16_t e_type = c.u16();
  uint16_t e_machine = c.u16();
  c.u32();  // e_version
  uint64_t e_phoff, e_shoff;
  if (d->elf64_) {
    c.u64();  // e_entry
    e_phoff = c.u64();
    e_shoff = c.u64();
  } else {
    c.u32();
    e_phoff = c.u32();
    e_shoff = c.u32();
  }
  c.u32();  // e_flags
  c.u16();  // e_ehsize
  uint16_t e_phentsize = c.u16();
  uint64_t e_phnum = c.u16();
  uint16_t e_shentsize = c.u16();
  if (!c.ok()) return c.error();
  if (e_type != kEtCore) return make_error(Errc::kUnsupported, "{}: ELF file is not a core dump (e_type {})", fn, e_type);
  d->machine_ = machine_from_elf(e_machine);
  if (d->machine_ == Machine::kUnknown)
    return make_error(Errc::kUnsupported, "{}: ELF core for machine {} (only x86-64 and i386 are supported)", fn,
                      e_machine);

  uint64_t phent = d->elf64_ ? 56 : 32;
  if (e_phentsize != phent)
    return make_error(Errc::kBadData, "{}: e_phentsize {} (expected {})", fn, e_phentsize, phent);
  if (e_phnum == kPnXnum) {
    // PN_XNUM: the real count is sh_info of section header 0 (QEMU writes
    // this when there are too many segments).
    uint64_t shent = d->elf64_ ? 64 : 40;
    if (e_shoff == 0 || e_shentsize != shent)
      return make_error(Errc::kBadData, "{}: e_phnum is PN_XNUM but section header 0 is missing", fn);
    VMC_ASSIGN(auto sh0, src->read_vec(e_shoff, shent));
    e_phnum = load_u32(sh0.data() + (d->elf64_ ? 44 : 28), d->endian_);
  }
  if (e_phnum == 0 || e_phnum > kMaxPhdrs)
    return make_error(Errc::kBadData, "{}: implausible program header count {}", fn, e_phnum);
  uint64_t ph_bytes = e_phnum * phent;
  auto ph = src->read_vec(e_phoff, ph_bytes);
  if (!ph) return std::move(ph).error().context(fmt::format("{}: reading {} program headers", fn, e_phnum));

  bool filtered = false;
  std::vector<uint8_t> note_bytes;
  for (uint64_t i = 0; i < e_phnum; ++i) {
    ByteView pv(std::span<const uint8_t>(ph->data() + i * phent, phent), d->endian_, "program header");
    Cursor pc(pv);
    uint32_t p_type = pc.u32();
    uint64_t p_offset, p_vaddr, p_paddr, p_filesz, p_memsz;
    if (d->elf64_) {
      pc.u32();  // p_flags
      p_offset = pc.u64(); p_vaddr = pc.u64(); p_paddr = pc.u64(); p_filesz = pc.u64(); p_memsz = pc.u64();
    } else {
      p_offset = pc.u32(); p_vaddr = pc.u32(); p_paddr = pc.u32(); p_filesz = pc.u32(); p_memsz = pc.u32();
    }
    if (p_type == kPtNote) {
      if (p_filesz > kMaxNoteBytes || note_bytes.size() + p_filesz > kMaxNoteBytes)
        return make_error(Errc::kBadData, "{}: PT_NOTE {} is implausibly large ({} bytes)", fn, i, p_filesz);
      auto nb = src->read_vec(p_offset, p_filesz);
      if (!nb) return std::move(nb).error().context(fmt::format("{}: reading PT_NOTE {}", fn, i));
      VMC_ASSIGN(auto notes, parse_notes(*nb, d->endian_, fmt::format("{} PT_NOTE {}", fn, i)));
      for (auto& n : notes) d->notes_.push_back(std::move(n));
    } else if (p_type == kPtLoad) {
      uint64_t end;
      if (p_filesz > p_memsz || !checked_add(p_paddr, p_memsz, &end) || !checked_add(p_offset, p_filesz, &end))
        return make_error(Errc::kBadData, "{}: PT_LOAD {} has inconsistent sizes (paddr {:#x} offset {:#x} filesz {:#x} memsz {:#x})",
                          fn, i, p_paddr, p_offset, p_filesz, p_memsz);
      if (p_memsz == 0) continue;
      if (p_filesz < p_memsz) filtered = true;
      d->loads_.push_back({p_paddr, p_vaddr, p_offset, p_filesz, p_memsz});
      if (p_offset + p_filesz > src->size()) {
        d->header_.incomplete = true;
        d->warnings_.push_back(fmt::format(
            "PT_LOAD {} (physical {:#x}-{:#x}) extends to file offset {:#x} but the file has {:#x} bytes: the dump is truncated",
            i, p_paddr, p_paddr + p_memsz, p_offset + p_filesz, src->size()));
      }
    }
  }
  if (d->loads_.empty()) return make_error(Errc::kBadData, "{}: ELF core has no PT_LOAD segments", fn);
  std::sort(d->loads_.begin(), d->loads_.end(), [](const Load& a, const Load& b) { return a.paddr < b.paddr; });
  uint64_t m = 0;
  for (const Load& l : d->loads_) {
    m = std::max(m, l.paddr + l.memsz);
    d->max_end_.push_back(m);
  }
  // RAM ranges: merge overlapping loads (QEMU -p and kdump's kernel-text
  // segment repeat physical ranges).
  for (const Load& l : d->loads_) {
    if (!d->ranges_.empty() && l.paddr <= d->ranges_.back().start + d->ranges_.back().size) {
      auto& r = d->ranges_.back();
      r.size = std::max(r.start + r.size, l.paddr + l.memsz) - r.start;
    } else {
      d->ranges_.push_back({l.paddr, l.memsz});
    }
  }

  bool qemu = false;
  for (const Note& n : d->notes_) {
    if (n.name == "QEMU") qemu = true;
    if (n.name == "VMCOREINFO" && !d->vmcoreinfo_)
      d->vmcoreinfo_ = std::string(reinterpret_cast<const char*>(n.desc.data()), strnlen(reinterpret_cast<const char*>(n.desc.data()), n.desc.size()));
  }
  d->producer_ = qemu ? "qemu" : filtered ? "makedumpfile" : "kdump";
  return d;
}

const ElfDump::Load* ElfDump::find(uint64_t pa) const {
  // Last segment starting at or below pa, then walk back while an earlier
  // segment could still reach pa (segments may overlap).
  auto it = std::upper_bound(loads_.begin(), loads_.end(), pa, [](uint64_t a, const Load& l) { return a < l.paddr; });
  size_t i = size_t(it - loads_.begin());
  while (i > 0) {
    --i;
    if (max_end_[i] <= pa) break;
    const Load& l = loads_[i];
    if (pa >= l.paddr && pa - l.paddr < l.memsz) return &l;
  }
  return nullptr;
}

Status ElfDump::read_phys(PhysAddr pa, std::span<uint8_t> buf) {
  uint64_t done = 0;
  while (done < buf.size()) {
    uint64_t a = pa.v + done;
    const Load* l = find(a);
    if (!l) return make_error(Errc::kNotInDump, "physical address {:#x} is not in the dump", a);
    uint64_t rel = a - l->paddr;
    if (rel >= l->filesz)
      return make_error(Errc::kExcluded, "physical address {:#x} was excluded from the dump (filtered)", a);
    uint64_t n = std::min<uint64_t>(buf.size() - done, l->filesz - rel);
    Status s = src_->read(l->offset + rel, buf.subspan(done, n));
    if (!s) return std::move(s).error().context(fmt::format("reading physical address {:#x}", a));
    done += n;
  }
  return {};
}

}  // namespace vmc
