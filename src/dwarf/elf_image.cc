#include "dwarf/elf_image.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elfutils/libdw.h>
#include <gelf.h>

namespace vmc {

namespace {
// Ensures elf_version() ran before any libelf call (thread-safe static).
bool elf_init() {
  static const bool ok = elf_version(EV_CURRENT) != EV_NONE;
  return ok;
}
}  // namespace

Result<std::unique_ptr<ElfImage>> ElfImage::open(const std::string& path) { return open_impl(path, nullptr); }

Result<std::unique_ptr<ElfImage>> ElfImage::open_relocated(const std::string& path, const RelocationPlan& plan) {
  return open_impl(path, &plan);
}

namespace {

// The NT_GNU_BUILD_ID in a SHT_NOTE section, or empty.
std::vector<uint8_t> note_build_id(Elf_Scn* scn) {
  Elf_Data* d = elf_getdata(scn, nullptr);
  size_t off = 0, name_off, desc_off;
  GElf_Nhdr nh;
  while (d && (off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
    if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
        std::memcmp(static_cast<char*>(d->d_buf) + name_off, "GNU", 4) == 0) {
      auto* p = static_cast<uint8_t*>(d->d_buf) + desc_off;
      return {p, p + nh.n_descsz};
    }
  }
  return {};
}

}  // namespace

Result<std::string> read_build_id(const std::string& path) {
  if (!elf_init()) return make_error(Errc::kUnsupported, "libelf: version mismatch");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::kIo, "{}: cannot open: {}", path, strerror(errno));
  Elf* e = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  std::vector<uint8_t> id;
  bool is_elf = e && elf_kind(e) == ELF_K_ELF;
  if (is_elf)
    for (Elf_Scn* scn = elf_nextscn(e, nullptr); scn && id.empty(); scn = elf_nextscn(e, scn)) {
      GElf_Shdr sh;
      if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_NOTE) id = note_build_id(scn);
    }
  if (e) elf_end(e);
  ::close(fd);
  if (!is_elf) return make_error(Errc::kBadData, "{}: not an ELF file", path);
  std::string hex;
  for (uint8_t b : id) hex += fmt::format("{:02x}", b);
  return hex;
}

Result<std::unique_ptr<ElfImage>> ElfImage::open_impl(const std::string& path, const RelocationPlan* plan) {
  if (!elf_init()) return make_error(Errc::kUnsupported, "libelf: version mismatch");
  auto img = std::unique_ptr<ElfImage>(new ElfImage());
  img->path_ = path;
  img->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (img->fd_ < 0) return make_error(Errc::kIo, "{}: cannot open: {}", path, strerror(errno));
  struct stat st;
  if (fstat(img->fd_, &st) == 0 && !S_ISREG(st.st_mode))
    return make_error(Errc::kIo, "{}: not a regular file", path);
  // ELF_C_READ_MMAP maps the file read-only; the private variant is a
  // copy-on-write mapping used to apply relocations. Nothing is written back.
  img->elf_ = elf_begin(img->fd_, plan ? ELF_C_READ_MMAP_PRIVATE : ELF_C_READ_MMAP, nullptr);
  if (!img->elf_ || elf_kind(img->elf_) != ELF_K_ELF)
    return make_error(Errc::kBadData, "{}: not an ELF file{}", path,
                      img->elf_ ? "" : fmt::format(" ({})", elf_errmsg(-1)));
  VMC_TRY(img->load(plan));
  return img;
}

ElfImage::~ElfImage() {
  if (dwarf_) dwarf_end(dwarf_);
  if (elf_) elf_end(elf_);
  if (fd_ >= 0) ::close(fd_);
}

Status ElfImage::load(const RelocationPlan* plan) {
  GElf_Ehdr eh;
  if (!gelf_getehdr(elf_, &eh)) return make_error(Errc::kBadData, "{}: bad ELF header: {}", path_, elf_errmsg(-1));
  elf64_ = eh.e_ident[EI_CLASS] == ELFCLASS64;
  endian_ = eh.e_ident[EI_DATA] == ELFDATA2MSB ? Endian::kBig : Endian::kLittle;
  e_machine_ = eh.e_machine;
  e_type_ = eh.e_type;
  machine_ = machine_from_elf(eh.e_machine);

  size_t phnum = 0;
  if (elf_getphdrnum(elf_, &phnum) == 0) {
    for (size_t i = 0; i < phnum; ++i) {
      GElf_Phdr ph;
      if (!gelf_getphdr(elf_, int(i), &ph) || ph.p_type != PT_LOAD) continue;
      segments_.push_back({ph.p_vaddr, ph.p_paddr, ph.p_offset, ph.p_filesz, ph.p_memsz, ph.p_flags});
    }
  }

  size_t shstrndx = 0;
  if (elf_getshdrstrndx(elf_, &shstrndx) != 0)
    return make_error(Errc::kBadData, "{}: no section name table: {}", path_, elf_errmsg(-1));
  Elf_Scn* symtab = nullptr;
  Elf_Scn* dynsym = nullptr;
  for (Elf_Scn* scn = elf_nextscn(elf_, nullptr); scn; scn = elf_nextscn(elf_, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) continue;
    const char* name = elf_strptr(elf_, shstrndx, sh.sh_name);
    sections_.push_back({name ? name : "", sh.sh_addr, sh.sh_offset, sh.sh_size, sh.sh_type, sh.sh_flags,
                         elf_ndxscn(scn)});
    if (sh.sh_type == SHT_SYMTAB) symtab = scn;
    if (sh.sh_type == SHT_DYNSYM) dynsym = scn;
    if (sh.sh_type == SHT_NOTE && build_id_.empty()) build_id_ = note_build_id(scn);
  }

  if (plan && e_type_ != ET_REL)
    return make_error(Errc::kBadData, "{}: a relocated open needs a relocatable object (ELF type {})", path_, e_type_);
  if (plan) {
    for (auto& sec : sections_)
      if (auto it = plan->section_addrs.find(sec.name); it != plan->section_addrs.end() && (sec.flags & SHF_ALLOC))
        sec.addr = it->second;
  }

  if (Elf_Scn* scn = symtab ? symtab : dynsym) {
    GElf_Shdr sh;
    gelf_getshdr(scn, &sh);
    Elf_Data* d = elf_getdata(scn, nullptr);
    size_t n = (d && sh.sh_entsize) ? sh.sh_size / sh.sh_entsize : 0;
    symbols_.reserve(n);
    for (size_t i = 1; i < n; ++i) {
      GElf_Sym s;
      if (!gelf_getsym(d, int(i), &s)) continue;
      if (s.st_shndx == SHN_UNDEF) continue;
      uint8_t type = GELF_ST_TYPE(s.st_info);
      if (type == STT_SECTION || type == STT_FILE) continue;
      const char* name = elf_strptr(elf_, sh.sh_link, s.st_name);
      if (!name || !*name) continue;
      uint64_t value = s.st_value;
      if (plan && s.st_shndx != SHN_ABS && s.st_shndx < SHN_LORESERVE) {
        // ET_REL symbol values are section-relative.
        const ElfSection* sec = nullptr;
        for (const auto& x : sections_)
          if (x.index == s.st_shndx) sec = &x;
        if (!sec || !(sec->flags & SHF_ALLOC) || !plan->section_addrs.count(sec->name)) continue;
        value += sec->addr;
      }
      symbols_.push_back({value, s.st_size, name, type, uint8_t(GELF_ST_BIND(s.st_info)), s.st_shndx});
    }
    std::stable_sort(symbols_.begin(), symbols_.end(), [](const Symbol& a, const Symbol& b) {
      if (a.addr != b.addr) return a.addr < b.addr;
      return a.size > b.size;  // the sized symbol first among aliases
    });
    by_name_.reserve(symbols_.size());
    for (size_t i = 0; i < symbols_.size(); ++i) by_name_.emplace(symbols_[i].name, i);
  }

  if (plan) VMC_TRY(relocate_debug_sections(*plan));
  // DWARF is optional (a stripped module still gives name+offset frames).
  dwarf_ = dwarf_begin_elf(elf_, DWARF_C_READ, nullptr);
  return {};
}

std::string ElfImage::build_id_hex() const {
  std::string s;
  for (uint8_t b : build_id_) s += fmt::format("{:02x}", b);
  return s;
}

const ElfSection* ElfImage::section(std::string_view name) const {
  for (const auto& s : sections_)
    if (s.name == name) return &s;
  return nullptr;
}

const Symbol* ElfImage::find_symbol(std::string_view name) const {
  const Symbol* best = nullptr;
  auto [b, e] = by_name_.equal_range(name);
  for (auto it = b; it != e; ++it) {
    const Symbol& s = symbols_[it->second];
    if (!best || (best->type != STT_FUNC && best->type != STT_OBJECT && (s.type == STT_FUNC || s.type == STT_OBJECT)) ||
        (best->bind == STB_LOCAL && s.bind != STB_LOCAL))
      best = &s;
  }
  return best;
}

std::vector<const Symbol*> ElfImage::find_symbols(std::string_view name) const {
  std::vector<const Symbol*> out;
  auto [b, e] = by_name_.equal_range(name);
  for (auto it = b; it != e; ++it) out.push_back(&symbols_[it->second]);
  return out;
}

const Symbol* ElfImage::symbol_at(uint64_t addr) const {
  auto it = std::upper_bound(symbols_.begin(), symbols_.end(), addr,
                             [](uint64_t a, const Symbol& s) { return a < s.addr; });
  // Symbols at the same address sort sized-first; skip absolute ones.
  const Symbol* best = nullptr;
  for (int steps = 0; it != symbols_.begin() && steps < 256; ++steps) {
    --it;
    if (it->shndx == SHN_ABS) continue;
    if (best && it->addr != best->addr) break;
    if (!best || (it->type == STT_FUNC && best->type != STT_FUNC) ||
        (it->type == best->type && it->bind == STB_GLOBAL && best->bind != STB_GLOBAL))
      best = &*it;
  }
  if (best && best->size && addr - best->addr >= best->size) {
    // Past the end of a sized symbol: only a label in between could name it.
    return nullptr;
  }
  return best;
}

const Symbol* ElfImage::object_at(uint64_t addr) const {
  auto it = std::upper_bound(symbols_.begin(), symbols_.end(), addr,
                             [](uint64_t a, const Symbol& s) { return a < s.addr; });
  for (int steps = 0; it != symbols_.begin() && steps < 64; ++steps) {
    --it;
    if (it->shndx == SHN_ABS || !it->size) continue;
    if ((it->type == STT_FUNC || it->type == STT_OBJECT) && addr - it->addr < it->size) return &*it;
  }
  return nullptr;
}

Result<std::vector<uint8_t>> ElfImage::read_at(uint64_t addr, uint64_t len) const {
  for (const auto& s : sections_) {
    if (!(s.flags & SHF_ALLOC) || s.type != SHT_PROGBITS || addr < s.addr || addr - s.addr >= s.size) continue;
    if (len > s.size - (addr - s.addr))
      return make_error(Errc::kNotFound, "{}: {} bytes at {:#x} run past section {}", path_, len, addr, s.name);
    Elf_Scn* scn = elf_getscn(elf_, s.index);
    Elf_Data* d = scn ? elf_rawdata(scn, nullptr) : nullptr;
    if (!d || d->d_size < s.size) return make_error(Errc::kBadData, "{}: cannot read section {}", path_, s.name);
    auto* p = static_cast<const uint8_t*>(d->d_buf) + (addr - s.addr);
    return std::vector<uint8_t>(p, p + len);
  }
  return make_error(Errc::kNotFound, "{}: no file contents at address {:#x}", path_, addr);
}

Result<std::span<const uint8_t>> ElfImage::section_data(std::string_view name) const {
  const ElfSection* s = section(name);
  if (!s) return make_error(Errc::kNotFound, "{}: no section {}", path_, name);
  Elf_Scn* scn = elf_getscn(elf_, s->index);
  Elf_Data* d = scn ? elf_rawdata(scn, nullptr) : nullptr;
  if (!d) return make_error(Errc::kBadData, "{}: cannot read section {}: {}", path_, name, elf_errmsg(-1));
  return std::span<const uint8_t>(static_cast<const uint8_t*>(d->d_buf), d->d_size);
}

}  // namespace vmc
