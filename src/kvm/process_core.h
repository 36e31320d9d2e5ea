// A user-space process core (ET_CORE written by the kernel or gdb's
// gcore): its memory as a VirtualMemory over the PT_LOADs' *virtual*
// addresses, its threads' registers (NT_PRSTATUS), and the mapped ELF files
// (NT_FILE) opened as CodeImages so that the unwinder can use their
// .eh_frame / .debug_frame.
//
// Layouts (Linux fs/binfmt_elf.c, include/uapi/linux/elfcore.h):
//   NT_PRSTATUS ("CORE", 1): struct elf_prstatus; pr_cursig (short) at 12,
//     pr_pid at 24 (i386) / 32 (x86-64), pr_reg (user_regs_struct order) at
//     72 / 112 — decoded by decode_cpu_notes().
//   NT_AUXV ("CORE", 6): (type, value) pairs of target longs.
//   NT_FILE ("CORE", 0x46494c45): long count, long page_size, count x {long
//     start, long end, long file_ofs (in pages)}, then count NUL-terminated
//     paths.
// All of it is read through explicit-endian, bounds-checked readers; nothing
// about the target comes from the host. Opened read-only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arch/memory.h"
#include "arch/regs.h"
#include "dwarf/elf_image.h"
#include "dwarf/unwind.h"

namespace vmc {

class Source;

struct ProcessCoreOptions {
  // Serve reads of file-backed mappings whose pages are not in the core
  // (text and read-only data: gcore and the kernel dump only what
  // /proc/PID/coredump_filter selects) from the mapped file itself.
  bool read_file_backed = true;
  // At most this many distinct mapped files are opened.
  size_t max_files = 1024;
  // At most this many NT_FILE entries are accepted.
  size_t max_mappings = 1u << 20;
};

struct ProcessThread {
  unsigned index = 0;    // position among the core's NT_PRSTATUS notes
  int32_t tid = 0;       // pr_pid: the thread (LWP) id
  int16_t cursig = 0;    // pr_cursig: the signal being delivered, 0 if none
  RegisterSet regs;      // user_regs_struct: general registers, pc, sp, flags, segments
};

struct FileMapping {
  uint64_t start = 0, end = 0;  // [start, end) virtual
  uint64_t file_offset = 0;     // bytes
  std::string path;             // as the core recorded it
  std::string opened_path;      // the file actually used (PROGRAM for the main program); empty if none
};

class ProcessCore final : public VirtualMemory {
 public:
  // Opens `core`. `program`, when not empty, is the executable to use for
  // the main program instead of the path NT_FILE recorded (found through
  // NT_AUXV AT_PHDR / AT_ENTRY). Mapped files that cannot be opened, are not
  // ELF, or whose GNU build-id differs from the one in the core's copy of
  // their first page are skipped with a warning (their code is then "no
  // known code" for the unwinder). The vDSO (NT_AUXV AT_SYSINFO_EHDR; i386
  // system calls return through its __kernel_vsyscall) is read from the
  // core itself and becomes the image "[vdso]" with its .eh_frame and
  // dynamic symbols (CodeImage::runtime_symbols; its `elf` is null).
  static Result<std::unique_ptr<ProcessCore>> open(const std::string& core, const std::string& program = "",
                                                   const ProcessCoreOptions& opts = {});
  ~ProcessCore() override;
  ProcessCore(const ProcessCore&) = delete;
  ProcessCore& operator=(const ProcessCore&) = delete;

  const std::string& path() const { return path_; }
  Machine machine() const { return machine_; }
  Endian endian() const { return endian_; }
  const std::vector<ProcessThread>& threads() const { return threads_; }
  const std::vector<FileMapping>& mappings() const { return mappings_; }
  // Code of every opened mapped file (the unwinder's CodeMap).
  const CodeMap& code() const { return code_; }
  std::vector<const CodeImage*> images() const;
  // An NT_AUXV value (AT_ENTRY = 9, AT_PHDR = 3, AT_SYSINFO_EHDR = 33…).
  std::optional<uint64_t> auxv(uint64_t type) const;
  const std::vector<std::string>& warnings() const { return warnings_; }

  // Frame 0 of a thread: its NT_PRSTATUS registers, pc exact, provenance
  // kInitial.
  Frame initial_frame(const ProcessThread& t) const;

  // Reads process memory. Errors: kNotMapped (no PT_LOAD covers the
  // address and no file-backed mapping does), kExcluded (the core has the
  // segment but not its contents, and no file can supply them), kTruncated /
  // kIo from the files. Messages name the address.
  Status read_virt(kvaddr_t va, std::span<uint8_t> buf) override;
  // The core segment (PT_LOAD) containing va, as [start, end), e.g. a
  // thread's stack.
  std::optional<std::pair<uint64_t, uint64_t>> segment_of(uint64_t va) const;
  // The core's first NT_SIGINFO (the signal being handled by the first
  // thread, which the kernel and gcore both write first): signo, code, and
  // the fault address for SIGSEGV/SIGBUS/SIGILL/SIGFPE.
  struct SigInfo {
    int32_t signo = 0, code = 0;
    std::optional<uint64_t> addr;
  };
  std::optional<SigInfo> siginfo() const { return siginfo_; }
  // Like read_virt, from the core's own bytes only (no file fallback).
  Status read_core_only(kvaddr_t va, std::span<uint8_t> buf);

 private:
  struct Load { uint64_t vaddr, offset, filesz, memsz; };
  struct OpenFile;
  struct Vdso;

  ProcessCore() = default;
  Status parse_notes();
  void open_files(const std::string& program);
  void open_vdso();
  Status read_from_file(uint64_t va, std::span<uint8_t> buf, uint64_t* done);
  // Reads up to buf.size() bytes at va from the core; sets *n to the number
  // of bytes the containing segment supplies (0 when none). Errors only for
  // I/O failures.
  Status read_core_run(uint64_t va, std::span<uint8_t> buf, uint64_t* n, bool* in_load);

  std::string path_;
  ProcessCoreOptions opts_;
  std::shared_ptr<const Source> src_;
  Machine machine_ = Machine::kUnknown;
  Endian endian_ = Endian::kLittle;
  std::vector<Load> loads_;  // sorted by vaddr
  std::vector<ProcessThread> threads_;
  std::vector<FileMapping> mappings_;  // sorted by start
  std::vector<std::pair<uint64_t, uint64_t>> auxv_;
  std::vector<std::unique_ptr<OpenFile>> files_;
  std::vector<int> mapping_file_;  // index into files_ per mapping, -1 if none
  std::unique_ptr<Vdso> vdso_;
  CodeImageList code_;
  std::vector<std::string> warnings_;
  std::optional<SigInfo> siginfo_;
};

}  // namespace vmc
