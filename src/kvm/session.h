// A Session owns one open dump and everything derived from it: the kernel
// image, address translation, KASLR, and (later) tasks and modules. No
// global state: sessions are independent and can run in parallel.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dwarf/elf_image.h"
#include "dwarf/types.h"
#include "kvm/cpu_notes.h"
#include "kvm/dump/dump.h"
#include "kvm/kernel_image.h"
#include "kvm/kernel_memory.h"
#include "kvm/vmcoreinfo.h"

namespace vmc {

struct SessionOptions {
  std::vector<std::string> module_dirs;  // --modules DIR (repeatable)
  // Continue when the vmlinux does not match the dump (results unreliable).
  bool ignore_mismatch = false;
};

// What was determined about the dumped kernel, each with its source.
struct KernelFacts {
  std::string release;
  std::string release_source;
  std::optional<uint64_t> kaslr_offset;
  std::string kaslr_source;  // "VMCOREINFO KERNELOFFSET", "VMCOREINFO SYMBOL(_stext)", "banner search", …
  std::optional<uint64_t> phys_base;
  std::optional<uint64_t> page_offset;  // i386 PAGE_OFFSET / x86-64 __START_KERNEL_map
  std::string root_source;              // which root the page tables came from
  std::optional<std::string> banner;    // linux_banner read from the dump
  std::optional<int64_t> crash_time;
  std::string crash_time_source;
  unsigned cpus = 0;
  std::string vmlinux_check;  // "build-id and banner match", "banner matches", "not checked: …"
};

class Session {
 public:
  // Opens the dump and, when `vmlinux` is not empty, the kernel image; sets
  // up translation. A vmlinux that does not belong to the dump is kMismatch.
  static Result<std::unique_ptr<Session>> open(const std::string& vmcore, const std::string& vmlinux,
                                               const SessionOptions& opts = {});
  // The same with a kernel image opened (and perhaps indexed) already and
  // shared with other sessions; null for none.
  static Result<std::unique_ptr<Session>> open(const std::string& vmcore, std::shared_ptr<KernelImage> kernel,
                                               const SessionOptions& opts = {});

  Dump& dump() { return *dump_; }
  const Dump& dump() const { return *dump_; }
  Machine machine() const { return dump_->machine(); }
  const MachineInfo& minfo() const { return machine_info(dump_->machine()); }
  const VmcoreInfo& vmcoreinfo() const { return vmcoreinfo_; }
  const std::vector<CpuNote>& cpu_notes() const { return cpu_notes_; }
  const KernelFacts& kernel() const { return facts_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  const SessionOptions& options() const { return opts_; }

  ElfImage* vmlinux() { return kernel_ ? &kernel_->elf() : nullptr; }
  const ElfImage* vmlinux() const { return kernel_ ? &kernel_->elf() : nullptr; }
  KernelImage* kernel_image() { return kernel_.get(); }
  // Kernel structure layouts from the vmlinux DWARF; null without DWARF.
  TypeIndex* types() { return kernel_ ? kernel_->types() : nullptr; }
  // Address of a per-CPU variable for `cpu` (x86-64 per-CPU symbols are
  // zero-based offsets, i386 ones are ordinary kernel addresses).
  Result<kvaddr_t> percpu_address(std::string_view name, unsigned cpu);
  // Kernel virtual memory; null when translation could not be set up (the
  // reason is in translation_error()).
  KernelMemory* kmem() { return kmem_.get(); }
  const std::optional<Error>& translation_error() const { return translation_error_; }

  // Runtime address of a kernel symbol: the vmlinux value plus the KASLR
  // offset, else VMCOREINFO's SYMBOL(). kNotFound when neither knows it.
  Result<kvaddr_t> symbol_address(std::string_view name) const;
  // Link-time address for a runtime kernel address (undoes KASLR).
  uint64_t to_link(kvaddr_t runtime) const { return runtime - facts_.kaslr_offset.value_or(0); }

  Status read(kvaddr_t va, std::span<uint8_t> buf);
  Result<uint64_t> read_uint(kvaddr_t va, unsigned width);
  Result<uint64_t> read_ulong(kvaddr_t va) { return read_uint(va, minfo().ptr_size); }
  // A NUL-terminated string of at most `max` bytes (bounded; a string
  // without NUL within max is returned truncated).
  Result<std::string> read_cstr(kvaddr_t va, size_t max);

 private:
  Session() = default;
  static Result<std::unique_ptr<Session>> open_with(std::unique_ptr<Dump> dump, std::shared_ptr<KernelImage> kernel,
                                                    const SessionOptions& opts);
  Status setup_translation();
  Status find_kaslr_by_banner();
  Status check_vmlinux();
  void gather_facts();

  SessionOptions opts_;
  std::unique_ptr<Dump> dump_;
  VmcoreInfo vmcoreinfo_;
  std::vector<CpuNote> cpu_notes_;
  std::shared_ptr<KernelImage> kernel_;
  std::unique_ptr<KernelMemory> kmem_;
  std::optional<Error> translation_error_;
  KernelFacts facts_;
  std::vector<std::string> warnings_;
};

}  // namespace vmc
