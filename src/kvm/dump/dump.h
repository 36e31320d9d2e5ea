// A crash dump's physical memory and notes, whatever the container format.
// Readers: elf_dump (kdump /proc/vmcore copies, QEMU dump-guest-memory,
// makedumpfile -E), diskdump (makedumpfile's "KDUMP   " compressed format),
// both possibly wrapped in a makedumpfile flattened stream (flattened.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arch/machine.h"
#include "arch/memory.h"
#include "kvm/source.h"

namespace vmc {

struct Note {
  std::string name;  // "CORE", "VMCOREINFO", "QEMU", …
  uint32_t type = 0;
  std::vector<uint8_t> desc;
};

// What a container says about the dumped system, when it says it.
struct DumpHeader {
  std::optional<std::string> sysname, nodename, release, version, machine;
  std::optional<int64_t> timestamp;  // seconds since the epoch
  std::optional<uint32_t> nr_cpus, current_cpu;
  std::optional<int32_t> dump_level;
  std::optional<uint64_t> phys_base;
  std::optional<uint64_t> max_pfn;
  bool incomplete = false;  // the writer flagged the dump as not finished
};

struct PhysRange {
  uint64_t start = 0, size = 0;
};

class Dump : public PhysicalMemory {
 public:
  const std::string& path() const { return path_; }
  // "ELF", "kdump-compressed"; prefixed "flattened " when read through a
  // flattened stream.
  const std::string& format() const { return format_; }
  // "none", "zlib", "lzo", "snappy", "zstd", or a "+"-joined mix.
  const std::string& compression() const { return compression_; }
  // Who wrote it when we can tell: "qemu", "kdump", "makedumpfile", "".
  const std::string& producer() const { return producer_; }
  Machine machine() const { return machine_; }
  Endian endian() const { return endian_; }
  const std::vector<Note>& notes() const { return notes_; }
  // The VMCOREINFO text (from its note, or the diskdump sub-header area).
  const std::optional<std::string>& vmcoreinfo() const { return vmcoreinfo_; }
  const DumpHeader& header() const { return header_; }
  // Physical ranges the dump describes (RAM it claims to contain).
  const std::vector<PhysRange>& ranges() const { return ranges_; }
  // Problems noticed while opening that do not prevent use.
  const std::vector<std::string>& warnings() const { return warnings_; }

  void set_format_prefix(const std::string& p) { format_ = p + format_; }
  void add_warning(std::string w) { warnings_.push_back(std::move(w)); }
  void mark_incomplete() { header_.incomplete = true; }

 protected:
  std::string path_, format_, compression_ = "none", producer_;
  Machine machine_ = Machine::kUnknown;
  Endian endian_ = Endian::kLittle;
  std::vector<Note> notes_;
  std::optional<std::string> vmcoreinfo_;
  DumpHeader header_;
  std::vector<PhysRange> ranges_;
  std::vector<std::string> warnings_;
};

// Opens `path` read-only and detects its format. kUnsupported names every
// format tried when none matches.
Result<std::unique_ptr<Dump>> open_dump(const std::string& path);

// Detects the format of an already opened source. `owned` (may be null) is
// kept alive by the returned dump.
Result<std::unique_ptr<Dump>> open_dump_source(std::shared_ptr<const Source> src);

// What the first bytes of a file say it is, without opening it as a dump:
// `dump` is true for every format open_dump() knows or names (ELF ET_CORE,
// KDUMP, flattened, FreeBSD minidump, DISKDUMP); `what` names the format,
// or what the file is instead ("an ELF executable", "empty", …).
struct DumpSniff {
  enum class Kind { kNone, kElf, kKdump, kFlattened, kFreeBsdMinidump, kDiskdump };
  Kind kind = Kind::kNone;  // kElf for any ELF file (open_dump_source decides further)
  bool dump = false;
  bool elf_core = false;    // an ELF core: a kernel dump or a process core
  std::string what;
};
DumpSniff sniff_dump(std::span<const uint8_t> head);
// The same for a file (reads its first 64 bytes); kIo when unreadable.
Result<DumpSniff> sniff_dump_file(const std::string& path);

// Parses a buffer of ELF notes (4-byte aligned name and desc), as found in
// PT_NOTE segments and in the diskdump note area. Bounded by the buffer.
Result<std::vector<Note>> parse_notes(std::span<const uint8_t> buf, Endian e, std::string_view where);

}  // namespace vmc
