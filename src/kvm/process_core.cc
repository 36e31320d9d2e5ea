#include "kvm/process_core.h"

#include <algorithm>
#include <cstring>
#include <map>

#include <elfutils/libdw.h>
#include <gelf.h>
#include <libelf.h>

#include "arch/base/bytes.h"
#include "kvm/cpu_notes.h"
#include "kvm/dump/elf_dump.h"
#include "kvm/source.h"

namespace vmc {

namespace {

constexpr uint32_t kNtAuxv = 6;
constexpr uint32_t kNtFile = 0x46494c45;  // "FILE"
constexpr uint32_t kNtSiginfo = 0x53494749;  // "SIGI": siginfo_t of the fatal signal
constexpr uint32_t kNtGnuBuildId = 3;
constexpr uint64_t kAtPhdr = 3;
constexpr uint64_t kAtEntry = 9;
constexpr uint64_t kAtSysinfoEhdr = 33;
constexpr uint64_t kMaxVdsoSize = 1u << 20;
constexpr uint32_t kPfX = 1;
constexpr uint32_t kPtNote = 4;
constexpr size_t kMaxAuxv = 4096;
constexpr size_t kMaxPathLen = 4096;
// elf_prstatus.pr_cursig: after struct elf_siginfo (three ints).
constexpr size_t kPrCursigOff = 12;

std::string basename_of(const std::string& p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

// The GNU build-id in an ELF image whose first bytes are mapped at `base`
// in `core`, read from the core only; empty when it cannot be read.
std::vector<uint8_t> build_id_in_core(ProcessCore& core, uint64_t base, bool elf64, Endian e) {
  uint8_t eh[64] = {};
  size_t ehsize = elf64 ? 64 : 52;
  if (!core.read_core_only(base, std::span(eh, ehsize))) return {};
  if (std::memcmp(eh, "\x7f" "ELF", 4) != 0) return {};
  ByteView v(std::span<const uint8_t>(eh, ehsize), e, "ELF header in core");
  uint64_t phoff = elf64 ? v.u64(32).value_or(0) : v.u32(28).value_or(0);
  uint16_t phentsize = v.u16(elf64 ? 54 : 42).value_or(0);
  uint16_t phnum = v.u16(elf64 ? 56 : 44).value_or(0);
  if (phentsize != (elf64 ? 56 : 32) || phnum == 0 || phnum > 256) return {};
  std::vector<uint8_t> ph(size_t(phnum) * phentsize);
  if (!core.read_core_only(base + phoff, ph)) return {};
  for (unsigned i = 0; i < phnum; ++i) {
    ByteView p(std::span<const uint8_t>(ph.data() + size_t(i) * phentsize, phentsize), e, "program header in core");
    if (p.u32(0).value_or(0) != kPtNote) continue;
    uint64_t off = elf64 ? p.u64(8).value_or(0) : p.u32(4).value_or(0);
    uint64_t sz = elf64 ? p.u64(32).value_or(0) : p.u32(16).value_or(0);
    if (sz == 0 || sz > 65536) continue;
    std::vector<uint8_t> nb(sz);
    if (!core.read_core_only(base + off, nb)) continue;
    auto notes = parse_notes(nb, e, "notes in core");
    if (!notes) continue;
    for (const Note& n : *notes)
      if (n.name == "GNU" && n.type == kNtGnuBuildId) return n.desc;
  }
  return {};
}

}  // namespace

struct ProcessCore::OpenFile {
  std::unique_ptr<ElfImage> elf;
  CodeImage image;
  Dwarf_CFI* eh_frame = nullptr;  // owned (dwarf_getcfi_elf)
  const uint8_t* raw = nullptr;   // the whole file (libelf's read-only map)
  size_t raw_size = 0;
  ~OpenFile() {
    if (eh_frame) dwarf_cfi_end(eh_frame);
  }
};

struct ProcessCore::Vdso {
  std::vector<uint8_t> bytes;  // the image, copied out of the core
  Elf* elf = nullptr;          // libelf over `bytes`
  Dwarf_CFI* eh_frame = nullptr;
  CodeImage image;
  ~Vdso() {
    if (eh_frame) dwarf_cfi_end(eh_frame);
    if (elf) elf_end(elf);
  }
};

ProcessCore::~ProcessCore() = default;

std::vector<const CodeImage*> ProcessCore::images() const {
  std::vector<const CodeImage*> out;
  for (const auto& f : files_) out.push_back(&f->image);
  if (vdso_) out.push_back(&vdso_->image);
  return out;
}

std::optional<uint64_t> ProcessCore::auxv(uint64_t type) const {
  for (auto [t, v] : auxv_)
    if (t == type) return v;
  return std::nullopt;
}

Frame ProcessCore::initial_frame(const ProcessThread& t) const {
  const RegisterInfo& ri = register_info(machine_);
  Frame f;
  f.index = 0;
  f.how = UnwoundBy::kRegs;
  f.pc_exact = true;
  f.regs = t.regs;
  f.pc = t.regs.get(ri.pc).value_or(0);
  f.sp = t.regs.get(ri.sp).value_or(0);
  for (unsigned r = 0; r < RegisterSet::kMax; ++r)
    if (t.regs.has(r)) f.loc[r].kind = RegLoc::Kind::kInitial;
  return f;
}

Result<std::unique_ptr<ProcessCore>> ProcessCore::open(const std::string& core, const std::string& program,
                                                       const ProcessCoreOptions& opts) {
  auto pc = std::unique_ptr<ProcessCore>(new ProcessCore());
  pc->path_ = core;
  pc->opts_ = opts;
  VMC_ASSIGN(auto fs, FileSource::open(core));
  pc->src_ = std::shared_ptr<const Source>(std::move(fs));
  auto dump = ElfDump::open(pc->src_);
  if (!dump) return std::move(dump).error().context(fmt::format("opening process core {}", core));
  pc->machine_ = (*dump)->machine();
  pc->endian_ = (*dump)->endian();
  for (const auto& l : (*dump)->loads()) pc->loads_.push_back({l.vaddr, l.offset, l.filesz, l.memsz});
  std::sort(pc->loads_.begin(), pc->loads_.end(), [](const Load& a, const Load& b) { return a.vaddr < b.vaddr; });
  for (const auto& w : (*dump)->warnings()) pc->warnings_.push_back(w);

  const std::vector<Note>& notes = (*dump)->notes();
  pc->threads_.clear();
  std::vector<std::string> warn;
  auto cpus = decode_cpu_notes(notes, pc->machine_, pc->endian_, &warn);
  for (auto& w : warn) pc->warnings_.push_back(std::move(w));
  std::vector<int16_t> cursig;
  for (const Note& n : notes)
    if (n.name == "CORE" && n.type == kNtPrstatus && n.desc.size() == prstatus_size(pc->machine_))
      cursig.push_back(int16_t(load_u16(n.desc.data() + kPrCursigOff, pc->endian_)));
  for (const CpuNote& c : cpus) {
    if (!c.has_prstatus) continue;
    ProcessThread t;
    t.index = unsigned(pc->threads_.size());
    t.tid = c.pr_pid.value_or(0);
    t.cursig = t.index < cursig.size() ? cursig[t.index] : 0;
    t.regs = c.regs;
    pc->threads_.push_back(std::move(t));
  }
  if (pc->threads_.empty()) pc->warnings_.push_back(fmt::format("{}: no NT_PRSTATUS notes: no threads", core));

  unsigned ws = machine_info(pc->machine_).ptr_size;
  for (const Note& n : notes) {
    if (n.name != "CORE") continue;
    // The kernel writes one NT_SIGINFO (the dumping thread's); gcore one per
    // thread, the current thread first: the first one is the fatal signal.
    if (n.type == kNtSiginfo && n.desc.size() >= 12 && !pc->siginfo_) {
      // siginfo_t: si_signo, si_errno, si_code (ints), then the union,
      // pointer-aligned: si_addr first for the fault signals.
      SigInfo si;
      si.signo = int32_t(load_u32(n.desc.data(), pc->endian_));
      si.code = int32_t(load_u32(n.desc.data() + 8, pc->endian_));
      const uint64_t addr_off = ws == 8 ? 16 : 12;
      const bool fault = si.signo == 4 || si.signo == 7 || si.signo == 8 || si.signo == 11;  // ILL BUS FPE SEGV
      if (fault && n.desc.size() >= addr_off + ws) si.addr = load_uint(n.desc.data() + addr_off, ws, pc->endian_);
      pc->siginfo_ = si;
    } else if (n.type == kNtAuxv) {
      size_t cnt = n.desc.size() / (2 * ws);
      for (size_t i = 0; i < cnt && i < kMaxAuxv; ++i) {
        uint64_t t = load_uint(n.desc.data() + 2 * ws * i, ws, pc->endian_);
        uint64_t v = load_uint(n.desc.data() + 2 * ws * i + ws, ws, pc->endian_);
        if (t == 0) break;  // AT_NULL
        pc->auxv_.push_back({t, v});
      }
    } else if (n.type == kNtFile) {
      ByteView v(n.desc, pc->endian_, "NT_FILE note");
      Cursor c(v);
      uint64_t count = c.uint(ws);
      uint64_t page = c.uint(ws);
      if (!c.ok()) return Error(c.error()).context(core);
      if (count > opts.max_mappings || count > n.desc.size() / (3 * ws))
        return make_error(Errc::kBadData, "{}: NT_FILE claims {} mappings in {} bytes", core, count, n.desc.size());
      if (page == 0 || (page & (page - 1)) != 0)
        return make_error(Errc::kBadData, "{}: NT_FILE page size {:#x} is not a power of two", core, page);
      std::vector<FileMapping> maps(count);
      for (auto& m : maps) {
        m.start = c.uint(ws);
        m.end = c.uint(ws);
        uint64_t pgoff = c.uint(ws);
        if (!checked_mul(pgoff, page, &m.file_offset))
          return make_error(Errc::kBadData, "{}: NT_FILE file offset of {:#x} overflows", core, m.start);
      }
      if (!c.ok()) return Error(c.error()).context(core);
      uint64_t pos = c.pos();
      for (auto& m : maps) {
        if (pos >= v.size()) return make_error(Errc::kTruncated, "{}: NT_FILE path table ends early", core);
        VMC_ASSIGN(std::string s, v.cstr(pos, kMaxPathLen));
        m.path = s;
        pos += s.size() + 1;
        if (m.end <= m.start)
          return make_error(Errc::kBadData, "{}: NT_FILE mapping {} has end {:#x} <= start {:#x}", core, m.path,
                            m.end, m.start);
      }
      for (auto& m : maps) pc->mappings_.push_back(std::move(m));
    }
  }
  std::sort(pc->mappings_.begin(), pc->mappings_.end(),
            [](const FileMapping& a, const FileMapping& b) { return a.start < b.start; });
  pc->open_files(program);
  pc->open_vdso();
  return pc;
}

void ProcessCore::open_files(const std::string& program) {
  // Which NT_FILE path is the main program: the mapping holding AT_PHDR
  // (else AT_ENTRY).
  std::string main_path;
  for (uint64_t at : {kAtPhdr, kAtEntry}) {
    auto a = auxv(at);
    if (!a || !main_path.empty()) continue;
    for (const auto& m : mappings_)
      if (*a >= m.start && *a < m.end) main_path = m.path;
  }
  if (!program.empty() && main_path.empty()) {
    for (const auto& m : mappings_)
      if (basename_of(m.path) == basename_of(program)) main_path = m.path;
    if (main_path.empty())
      warnings_.push_back(fmt::format("{}: cannot tell which mapping is the program {}; it is not used", path_, program));
  }

  mapping_file_.assign(mappings_.size(), -1);
  std::map<std::string, int> by_path;
  for (size_t i = 0; i < mappings_.size(); ++i) {
    FileMapping& m = mappings_[i];
    std::string use = (!program.empty() && m.path == main_path) ? program : m.path;
    auto it = by_path.find(m.path);
    if (it != by_path.end()) {
      mapping_file_[i] = it->second;
      if (it->second >= 0) m.opened_path = use;
      continue;
    }
    if (files_.size() >= opts_.max_files) {
      warnings_.push_back(fmt::format("{}: more than {} mapped files; {} and later ones are not opened", path_,
                                      opts_.max_files, m.path));
      by_path[m.path] = -1;
      continue;
    }
    auto img = ElfImage::open(use);
    if (!img) {
      // Non-ELF mappings (locale archives, caches) are expected; say so
      // only for files that look like code.
      if (use.find(".so") != std::string::npos || use == program)
        warnings_.push_back(fmt::format("{}: mapped file not used: {}", path_, img.error().message()));
      by_path[m.path] = -1;
      continue;
    }
    auto f = std::make_unique<OpenFile>();
    f->elf = std::move(img).value();
    if (f->elf->machine() != machine_) {
      warnings_.push_back(fmt::format("{}: {} is for another machine; not used", path_, use));
      by_path[m.path] = -1;
      continue;
    }
    // Load bias from the lowest-offset mapping of this file and the PT_LOAD
    // whose file pages hold that offset: runtime = link + bias.
    const FileMapping* first = &m;
    for (const auto& o : mappings_)
      if (o.path == m.path && o.file_offset < first->file_offset) first = &o;
    uint64_t page = 4096;
    std::optional<int64_t> bias;
    for (const auto& seg : f->elf->segments()) {
      uint64_t lo = seg.offset & ~(page - 1);
      if (first->file_offset >= lo && first->file_offset < seg.offset + std::max<uint64_t>(seg.filesz, 1)) {
        bias = int64_t(first->start - first->file_offset + seg.offset - seg.vaddr);
        break;
      }
    }
    if (!bias) {
      warnings_.push_back(fmt::format("{}: no PT_LOAD of {} holds file offset {:#x} mapped at {:#x}; not used", path_,
                                      use, first->file_offset, first->start));
      by_path[m.path] = -1;
      continue;
    }
    // The core's copy of the first page names the build-id of what was
    // really mapped; a different file would give wrong unwind rules.
    if (first->file_offset == 0 && !f->elf->build_id().empty()) {
      auto in_core = build_id_in_core(*this, first->start, f->elf->elf64(), f->elf->endian());
      if (!in_core.empty() && in_core != f->elf->build_id()) {
        warnings_.push_back(fmt::format("{}: {} has build-id {} but the process mapped one with a different build-id; not used",
                                        path_, use, f->elf->build_id_hex()));
        by_path[m.path] = -1;
        continue;
      }
    }
    f->image.name = basename_of(m.path);
    f->image.bias = *bias;
    f->image.elf = f->elf.get();
    f->image.dwarf = f->elf->dwarf();
    f->image.debug_frame = f->elf->dwarf() ? dwarf_getcfi(f->elf->dwarf()) : nullptr;
    f->eh_frame = dwarf_getcfi_elf(f->elf->elf());
    f->image.eh_frame = f->eh_frame;
    for (const auto& seg : f->elf->segments())
      if ((seg.flags & kPfX) && seg.memsz)
        f->image.text.push_back({seg.vaddr + uint64_t(*bias), seg.vaddr + seg.memsz + uint64_t(*bias)});
    size_t raw_size = 0;
    char* raw = elf_rawfile(f->elf->elf(), &raw_size);
    f->raw = reinterpret_cast<const uint8_t*>(raw);
    f->raw_size = raw ? raw_size : 0;
    int idx = int(files_.size());
    files_.push_back(std::move(f));
    by_path[m.path] = idx;
    mapping_file_[i] = idx;
    m.opened_path = use;
  }
  for (const auto& f : files_) code_.add(&f->image);
}

void ProcessCore::open_vdso() {
  auto base = auxv(kAtSysinfoEhdr);
  if (!base || *base == 0) return;
  bool elf64 = machine_info(machine_).ptr_size == 8;
  uint8_t eh[64] = {};
  size_t ehsize = elf64 ? 64 : 52;
  Status st = read_core_only(*base, std::span(eh, ehsize));
  if (!st) {
    warnings_.push_back(fmt::format("{}: vDSO at {:#x} is not in the core: {}", path_, *base, st.error().message()));
    return;
  }
  ByteView v(std::span<const uint8_t>(eh, ehsize), endian_, "vDSO ELF header");
  if (std::memcmp(eh, "\x7f" "ELF", 4) != 0 || eh[4] != (elf64 ? 2 : 1)) {
    warnings_.push_back(fmt::format("{}: no ELF image at the vDSO address {:#x}", path_, *base));
    return;
  }
  // The image ends with its section headers (the kernel maps the whole
  // file); bounded, vDSOs are a few pages.
  uint64_t shoff = elf64 ? v.u64(40).value_or(0) : v.u32(32).value_or(0);
  uint64_t shentsize = v.u16(elf64 ? 58 : 46).value_or(0), shnum = v.u16(elf64 ? 60 : 48).value_or(0);
  uint64_t size = shoff + shentsize * shnum;
  if (shoff == 0 || size > kMaxVdsoSize || size < ehsize) {
    warnings_.push_back(fmt::format("{}: vDSO at {:#x} has an implausible size {:#x}", path_, *base, size));
    return;
  }
  auto vd = std::make_unique<Vdso>();
  vd->bytes.resize(size);
  st = read_core_only(*base, vd->bytes);
  if (!st) {
    warnings_.push_back(fmt::format("{}: reading the vDSO image at {:#x}: {}", path_, *base, st.error().message()));
    return;
  }
  elf_version(EV_CURRENT);
  vd->elf = elf_memory(reinterpret_cast<char*>(vd->bytes.data()), vd->bytes.size());
  GElf_Ehdr ehdr;
  if (!vd->elf || !gelf_getehdr(vd->elf, &ehdr) || machine_from_elf(ehdr.e_machine) != machine_) {
    warnings_.push_back(fmt::format("{}: the vDSO at {:#x} is not an ELF image for this machine", path_, *base));
    return;
  }
  size_t phnum = 0;
  elf_getphdrnum(vd->elf, &phnum);
  std::optional<int64_t> bias;
  std::vector<GElf_Phdr> loads;
  for (size_t i = 0; i < phnum && i < 64; ++i) {
    GElf_Phdr ph;
    if (!gelf_getphdr(vd->elf, int(i), &ph) || ph.p_type != PT_LOAD) continue;
    if (!bias) bias = int64_t(*base - (ph.p_vaddr - ph.p_offset));
    loads.push_back(ph);
  }
  if (!bias) return;
  vd->image.name = "[vdso]";
  vd->image.bias = *bias;
  for (const auto& ph : loads)
    if (ph.p_flags & PF_X)
      vd->image.text.push_back({ph.p_vaddr + uint64_t(*bias), ph.p_vaddr + ph.p_memsz + uint64_t(*bias)});
  vd->eh_frame = dwarf_getcfi_elf(vd->elf);
  vd->image.eh_frame = vd->eh_frame;
  for (Elf_Scn* scn = elf_nextscn(vd->elf, nullptr); scn; scn = elf_nextscn(vd->elf, scn)) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || sh.sh_entsize == 0) continue;
    Elf_Data* d = elf_getdata(scn, nullptr);
    size_t n = d ? std::min<size_t>(sh.sh_size / sh.sh_entsize, 4096) : 0;
    for (size_t i = 1; i < n; ++i) {
      GElf_Sym sym;
      if (!gelf_getsym(d, int(i), &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF) continue;
      const char* name = elf_strptr(vd->elf, sh.sh_link, sym.st_name);
      if (!name) continue;
      vd->image.runtime_symbols.push_back({sym.st_value + uint64_t(*bias), sym.st_size, name, STT_FUNC,
                                           uint8_t(GELF_ST_BIND(sym.st_info)), sym.st_shndx});
    }
  }
  std::sort(vd->image.runtime_symbols.begin(), vd->image.runtime_symbols.end(),
            [](const Symbol& a, const Symbol& b) { return a.addr < b.addr; });
  vdso_ = std::move(vd);
  code_.add(&vdso_->image);
}

Status ProcessCore::read_core_run(uint64_t va, std::span<uint8_t> buf, uint64_t* n, bool* in_load) {
  *n = 0;
  *in_load = false;
  auto it = std::upper_bound(loads_.begin(), loads_.end(), va, [](uint64_t a, const Load& l) { return a < l.vaddr; });
  if (it == loads_.begin()) return {};
  const Load& l = *(it - 1);
  if (va - l.vaddr >= l.memsz) return {};
  *in_load = true;
  uint64_t rel = va - l.vaddr;
  if (rel >= l.filesz) return {};
  uint64_t take = std::min<uint64_t>(buf.size(), l.filesz - rel);
  VMC_TRY(src_->read(l.offset + rel, buf.subspan(0, take)));
  *n = take;
  return {};
}

Status ProcessCore::read_core_only(kvaddr_t va, std::span<uint8_t> buf) {
  uint64_t done = 0;
  while (done < buf.size()) {
    uint64_t n = 0;
    bool in_load = false;
    VMC_TRY(read_core_run(va + done, buf.subspan(done), &n, &in_load));
    if (n == 0) {
      if (in_load) return make_error(Errc::kExcluded, "address {:#x}: its page is not in the core", va + done);
      return make_error(Errc::kNotMapped, "address {:#x} is not mapped in the core", va + done);
    }
    done += n;
  }
  return {};
}

Status ProcessCore::read_from_file(uint64_t va, std::span<uint8_t> buf, uint64_t* done) {
  *done = 0;
  auto it = std::upper_bound(mappings_.begin(), mappings_.end(), va,
                             [](uint64_t a, const FileMapping& m) { return a < m.start; });
  if (it == mappings_.begin()) return {};
  size_t i = size_t(it - mappings_.begin()) - 1;
  const FileMapping& m = mappings_[i];
  if (va >= m.end || mapping_file_[i] < 0) return {};
  const OpenFile& f = *files_[size_t(mapping_file_[i])];
  uint64_t off = m.file_offset + (va - m.start);
  uint64_t take = std::min<uint64_t>(buf.size(), m.end - va);
  if (!f.raw || off >= f.raw_size || take > f.raw_size - off)
    return make_error(Errc::kTruncated, "address {:#x}: beyond the end of {} (file offset {:#x}, {:#x} bytes)", va,
                      m.opened_path, off, f.raw_size);
  std::memcpy(buf.data(), f.raw + off, take);
  *done = take;
  return {};
}

Status ProcessCore::read_virt(kvaddr_t va, std::span<uint8_t> buf) {
  uint64_t done = 0;
  while (done < buf.size()) {
    uint64_t a = va + done;
    uint64_t n = 0;
    bool in_load = false;
    VMC_TRY(read_core_run(a, buf.subspan(done), &n, &in_load));
    if (n == 0 && opts_.read_file_backed) {
      // Limit the file read to where the core's own data resumes.
      std::span<uint8_t> rest = buf.subspan(done);
      auto nx = std::upper_bound(loads_.begin(), loads_.end(), a, [](uint64_t x, const Load& l) { return x < l.vaddr; });
      if (nx != loads_.end() && nx->vaddr - a < rest.size()) rest = rest.subspan(0, nx->vaddr - a);
      Status s = read_from_file(a, rest, &n);
      if (!s) return s;
    }
    if (n == 0) {
      if (in_load)
        return make_error(Errc::kExcluded, "address {:#x}: its page is not in the core and no mapped file supplies it", a);
      return make_error(Errc::kNotMapped, "address {:#x} is not mapped in the core", a);
    }
    done += n;
  }
  return {};
}

std::optional<std::pair<uint64_t, uint64_t>> ProcessCore::segment_of(uint64_t va) const {
  for (const Load& l : loads_)
    if (va >= l.vaddr && va - l.vaddr < l.memsz) return std::make_pair(l.vaddr, l.vaddr + l.memsz);
  return std::nullopt;
}

}  // namespace vmc
