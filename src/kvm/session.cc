#include "kvm/session.h"

#include <algorithm>
#include <cstring>

#include "arch/x86_paging.h"

namespace vmc {

namespace {

constexpr uint64_t kX86_64StartKernelMap = 0xffffffff80000000ULL;  // __START_KERNEL_map
constexpr uint64_t kI386DefaultPageOffset = 0xc0000000ULL;         // VMSPLIT_3G
constexpr uint64_t kCr4Pae = 1u << 5;
constexpr uint64_t kCr4La57 = 1u << 12;
constexpr uint64_t kKaslrAlign = 0x200000;  // CONFIG_PHYSICAL_ALIGN on x86
constexpr uint64_t kKaslrMax = 0x40000000;  // KERNEL_IMAGE_SIZE (1 GiB on x86-64)

}  // namespace

Result<std::unique_ptr<Session>> Session::open(const std::string& vmcore, const std::string& vmlinux,
                                               const SessionOptions& opts) {
  // The dump first: when both are wrong, the dump's problem is the message.
  VMC_ASSIGN(auto dump, open_dump(vmcore));
  std::shared_ptr<KernelImage> k;
  if (!vmlinux.empty()) {
    VMC_ASSIGN(k, KernelImage::open(vmlinux));
  }
  return open_with(std::move(dump), std::move(k), opts);
}

Result<std::unique_ptr<Session>> Session::open(const std::string& vmcore, std::shared_ptr<KernelImage> kernel,
                                               const SessionOptions& opts) {
  VMC_ASSIGN(auto dump, open_dump(vmcore));
  return open_with(std::move(dump), std::move(kernel), opts);
}

Result<std::unique_ptr<Session>> Session::open_with(std::unique_ptr<Dump> dump, std::shared_ptr<KernelImage> kernel,
                                                    const SessionOptions& opts) {
  auto s = std::unique_ptr<Session>(new Session());
  s->opts_ = opts;
  s->dump_ = std::move(dump);
  const std::string& vmcore = s->dump_->path();
  for (const auto& w : s->dump_->warnings()) s->warnings_.push_back(w);
  if (s->dump_->vmcoreinfo()) s->vmcoreinfo_ = VmcoreInfo::parse(*s->dump_->vmcoreinfo());
  s->cpu_notes_ = decode_cpu_notes(s->dump_->notes(), s->machine(), s->dump_->endian(), &s->warnings_);

  s->kernel_ = std::move(kernel);
  if (const ElfImage* vm = s->vmlinux(); vm && vm->machine() != s->machine())
    return make_error(Errc::kMismatch, "{} does not match the dump: it is for ELF machine {}, {} is a {} dump",
                      vm->path(), vm->elf_machine(), vmcore, s->minfo().name);

  s->gather_facts();
  if (Status st = s->setup_translation(); !st) s->translation_error_ = std::move(st).error();
  if (s->kmem_ && s->vmlinux() && !s->facts_.kaslr_offset) {
    if (Status st = s->find_kaslr_by_banner(); !st) s->warnings_.push_back(st.error().message());
  }
  if (s->vmlinux()) {
    Status st = s->check_vmlinux();
    if (!st) {
      if (!opts.ignore_mismatch || st.error().code() != Errc::kMismatch) return std::move(st).error();
      s->warnings_.push_back(st.error().message() + " (continuing: --ignore-mismatch)");
    }
  }
  // The kernel's own idea of its version, read from memory.
  if (s->kmem_) {
    if (auto a = s->symbol_address("linux_banner")) {
      if (auto b = s->read_cstr(*a, 512)) {
        std::string t = *b;
        while (!t.empty() && t.back() == '\n') t.pop_back();
        s->facts_.banner = t;
      }
    }
    if (!s->facts_.banner) {
      auto uts = s->vmcoreinfo_.symbol("init_uts_ns");
      auto off = s->vmcoreinfo_.offset("uts_namespace.name");
      if (uts && off) {
        // struct new_utsname: six 65-byte fields; release is the third.
        if (auto r = s->read_cstr(*uts + *off + 2 * 65, 65); r && s->facts_.release.empty()) {
          s->facts_.release = *r;
          s->facts_.release_source = "init_uts_ns";
        }
      }
    }
  }
  if (s->facts_.release.empty() && s->facts_.banner) {
    s->facts_.release = release_from_banner(*s->facts_.banner);
    s->facts_.release_source = "linux_banner";
  }
  return s;
}

void Session::gather_facts() {
  if (auto r = vmcoreinfo_.osrelease()) {
    facts_.release = *r;
    facts_.release_source = "VMCOREINFO";
  } else if (dump_->header().release) {
    facts_.release = *dump_->header().release;
    facts_.release_source = "dump header";
  }
  if (auto t = vmcoreinfo_.crash_time()) {
    facts_.crash_time = *t;
    facts_.crash_time_source = "VMCOREINFO CRASHTIME";
  } else if (dump_->header().timestamp) {
    facts_.crash_time = *dump_->header().timestamp;
    facts_.crash_time_source = "dump header";
  }
  facts_.cpus = unsigned(cpu_notes_.size());
  if (facts_.cpus == 0 && dump_->header().nr_cpus) facts_.cpus = *dump_->header().nr_cpus;

  if (auto pb = vmcoreinfo_.number("phys_base")) facts_.phys_base = uint64_t(*pb);
  else if (dump_->header().phys_base) facts_.phys_base = dump_->header().phys_base;

  if (machine() == Machine::kX86_64) {
    if (auto ko = vmcoreinfo_.kernel_offset()) {
      facts_.kaslr_offset = *ko;
      facts_.kaslr_source = "VMCOREINFO KERNELOFFSET";
    }
  }
  if (!facts_.kaslr_offset && vmlinux()) {
    // Kernels relocated without a KERNELOFFSET line (Debian's i386): the
    // runtime _stext from VMCOREINFO against the vmlinux's.
    auto rt = vmcoreinfo_.symbol("_stext");
    const Symbol* st = vmlinux()->find_symbol("_stext");
    if (rt && st) {
      facts_.kaslr_offset = *rt - st->addr;
      if (machine() == Machine::kI386) *facts_.kaslr_offset &= 0xffffffffu;
      facts_.kaslr_source = "VMCOREINFO SYMBOL(_stext) minus vmlinux _stext";
    }
  }
  // Kernel image mapping base: the vmlinux text segment's vaddr - paddr.
  if (vmlinux()) {
    const Symbol* st = vmlinux()->find_symbol("_stext");
    if (!st) st = vmlinux()->find_symbol("_text");
    if (st) {
      for (const auto& seg : vmlinux()->segments())
        if (st->addr >= seg.vaddr && st->addr - seg.vaddr < seg.memsz) facts_.page_offset = seg.vaddr - seg.paddr;
    }
  }
  if (!facts_.page_offset)
    facts_.page_offset = machine() == Machine::kX86_64 ? kX86_64StartKernelMap : kI386DefaultPageOffset;
}

Status Session::setup_translation() {
  VtopHints h;
  h.machine = machine();
  h.kind = DumpKind::kFull;
  std::vector<std::string> sources;
  auto add_root = [&](uint64_t pa, std::string why) {
    PhysAddr p(pa);
    if (std::find(h.roots.begin(), h.roots.end(), p) != h.roots.end()) return;
    h.roots.push_back(p);
    sources.push_back(std::move(why));
  };
  std::optional<uint64_t> cr4;
  for (const auto& c : cpu_notes_)
    if (c.cr4 && !cr4) cr4 = c.cr4;

  if (machine() == Machine::kX86_64) {
    auto sym = vmcoreinfo_.symbol("init_top_pgt");
    if (!sym) sym = vmcoreinfo_.symbol("swapper_pg_dir");
    if (sym && facts_.phys_base) {
      uint64_t pa = *sym - *facts_.page_offset + *facts_.phys_base;
      add_root(pa, "VMCOREINFO SYMBOL(init_top_pgt) and NUMBER(phys_base)");
      h.check = std::make_pair(*sym, PhysAddr(pa));
    }
    if (auto l5 = vmcoreinfo_.number("pgtable_l5_enabled")) h.la57 = *l5 != 0;
    else if (cr4) h.la57 = (*cr4 & kCr4La57) != 0;
    // With page-table isolation a CPU in user mode has the user half of an
    // 8 KiB PGD in CR3; the kernel half is the page below.
    for (const auto& c : cpu_notes_) {
      if (!c.cr3) continue;
      add_root(*c.cr3 & x86_64::kEntryAddrMask & ~0x1fffULL, fmt::format("CR3 of CPU {} (kernel PGD)", c.index));
      add_root(*c.cr3 & x86_64::kEntryAddrMask, fmt::format("CR3 of CPU {}", c.index));
    }
  } else if (machine() == Machine::kI386) {
    if (auto sym = vmcoreinfo_.symbol("swapper_pg_dir")) {
      uint64_t pa = *sym - *facts_.page_offset;
      add_root(pa, "VMCOREINFO SYMBOL(swapper_pg_dir)");
      h.check = std::make_pair(*sym, PhysAddr(pa));
    }
    if (vmcoreinfo_.config("X86_PAE")) h.pae = true;
    else if (cr4) h.pae = (*cr4 & kCr4Pae) != 0;
    for (const auto& c : cpu_notes_)
      if (c.cr3) add_root(*c.cr3 & 0xffffffe0ULL, fmt::format("CR3 of CPU {}", c.index));
  }
  if (h.roots.empty())
    return make_error(Errc::kUnsupported,
                      "no page-table root: the dump has neither VMCOREINFO page-table symbols nor CPU notes with CR3");
  VMC_ASSIGN(const ArchBackend* backend, probe_backend(h));
  VMC_ASSIGN(auto state, backend->initvtop(h, *dump_));
  for (size_t i = 0; i < h.roots.size(); ++i)
    if (h.roots[i] == state->root()) facts_.root_source = sources[i];
  kmem_ = std::make_unique<KernelMemory>(*dump_, *backend, std::move(state));
  return {};
}

Status Session::find_kaslr_by_banner() {
  const Symbol* b = vmlinux()->find_symbol("linux_banner");
  if (!b || b->size == 0) return make_error(Errc::kNotFound, "cannot find the KASLR offset: vmlinux has no linux_banner");
  VMC_ASSIGN(auto want, vmlinux()->read_at(b->addr, b->size));
  std::vector<uint8_t> got(want.size());
  for (uint64_t off = 0; off < kKaslrMax; off += kKaslrAlign) {
    uint64_t va = b->addr + off;
    if (machine() == Machine::kI386 && va + want.size() > 0xffffffffULL) break;
    if (!kmem_->read_virt(va, got).ok()) continue;
    if (got == want) {
      facts_.kaslr_offset = off;
      facts_.kaslr_source = "linux_banner found in memory";
      return {};
    }
  }
  return make_error(Errc::kNotFound,
                    "cannot find the KASLR offset: linux_banner of the vmlinux is at no 2 MiB-aligned offset below 1 GiB");
}

Status Session::check_vmlinux() {
  const std::string& vp = vmlinux()->path();
  std::vector<std::string> checked;
  if (auto bid = vmcoreinfo_.build_id(); bid && !vmlinux()->build_id().empty()) {
    std::string have = vmlinux()->build_id_hex();
    // VMCOREINFO prints the first 20 bytes.
    if (have.substr(0, bid->size()) != *bid)
      return make_error(Errc::kMismatch, "{} does not match the dump: dump build-id {}, vmlinux build-id {}", vp, *bid,
                        have);
    checked.push_back("build-id");
  }
  const std::string& file_banner = kernel_->banner();
  if (!file_banner.empty() && vmcoreinfo_.osrelease()) {
    const std::string& rel = kernel_->release();
    if (!rel.empty() && rel != *vmcoreinfo_.osrelease())
      return make_error(Errc::kMismatch, "{} does not match the dump: dump release {}, vmlinux release {}", vp,
                        *vmcoreinfo_.osrelease(), rel);
  }
  if (!file_banner.empty() && kmem_) {
    auto a = symbol_address("linux_banner");
    auto mem = a ? read_cstr(*a, file_banner.size() + 1) : Result<std::string>(a.error());
    if (!mem) {
      checked.push_back(fmt::format("banner unreadable ({})", mem.error().message()));
    } else if (*mem != file_banner) {
      return make_error(Errc::kMismatch,
                        "{} does not match the dump: linux_banner at {:#x} in the dump reads \"{}\", the vmlinux has \"{}\"",
                        vp, *a, mem->substr(0, 100), file_banner.substr(0, 100));
    } else {
      checked.push_back("linux_banner");
    }
  }
  facts_.vmlinux_check = checked.empty() ? "not checked (no build-id, no readable banner)"
                                         : fmt::format("matches ({})", fmt::join(checked, ", "));
  return {};
}

Result<kvaddr_t> Session::symbol_address(std::string_view name) const {
  if (vmlinux()) {
    if (const Symbol* s = vmlinux()->find_symbol(name)) {
      uint64_t a = s->addr + facts_.kaslr_offset.value_or(0);
      if (machine() == Machine::kI386) a &= 0xffffffffu;
      return a;
    }
  }
  if (auto v = vmcoreinfo_.symbol(std::string(name))) return *v;
  return make_error(Errc::kNotFound, "no symbol {}", name);
}

Result<kvaddr_t> Session::percpu_address(std::string_view name, unsigned cpu) {
  if (!vmlinux()) return make_error(Errc::kNotFound, "per-CPU {}: no vmlinux", name);
  const Symbol* sym = vmlinux()->find_symbol(name);
  if (!sym) return make_error(Errc::kNotFound, "no per-CPU symbol {}", name);
  VMC_ASSIGN(kvaddr_t offsets, symbol_address("__per_cpu_offset"));
  VMC_ASSIGN(uint64_t off, read_ulong(offsets + uint64_t(cpu) * minfo().ptr_size));
  const ElfSection* pcpu = vmlinux()->section(".data..percpu");
  bool zero_based = pcpu && pcpu->addr == 0;
  uint64_t base = zero_based ? sym->addr : sym->addr + facts_.kaslr_offset.value_or(0);
  uint64_t a = base + off;
  if (machine() == Machine::kI386) a &= 0xffffffffu;
  return a;
}

Status Session::read(kvaddr_t va, std::span<uint8_t> buf) {
  if (!kmem_) {
    return make_error(Errc::kUnsupported, "cannot read virtual address {:#x}: {}", va,
                      translation_error_ ? translation_error_->message() : "no address translation");
  }
  return kmem_->read_virt(va, buf);
}

Result<uint64_t> Session::read_uint(kvaddr_t va, unsigned width) {
  uint8_t b[8];
  VMC_TRY(read(va, std::span(b, width)));
  return load_uint(b, width, dump_->endian());
}

Result<std::string> Session::read_cstr(kvaddr_t va, size_t max) {
  std::string out;
  // Page by page, so a string ending before an unmapped page still reads.
  while (out.size() < max) {
    size_t chunk = std::min<size_t>(max - out.size(), 0x1000 - ((va + out.size()) & 0xfff));
    std::vector<uint8_t> b(chunk);
    Status s = read(va + out.size(), b);
    if (!s) {
      if (out.empty()) return std::move(s).error();
      break;
    }
    size_t n = strnlen(reinterpret_cast<const char*>(b.data()), chunk);
    out.append(reinterpret_cast<const char*>(b.data()), n);
    if (n < chunk) break;
  }
  return out;
}

}  // namespace vmc
