// Format detection: the first bytes of the file decide (sniff_dump, also
// used by triage to tell dumps from other files), and an unknown file is
// reported with every format that was tried.
#include <cstring>
#include <algorithm>

#include "kvm/dump/diskdump.h"
#include "kvm/dump/dump.h"
#include "kvm/dump/elf_dump.h"
#include "kvm/dump/flattened.h"

namespace vmc {

namespace {

// "7f454c46…": the first bytes of a file, for messages.
std::string hex_head(std::span<const uint8_t> head, size_t n) {
  std::string hex;
  for (size_t i = 0; i < std::min(head.size(), n); ++i) hex += fmt::format("{:02x}", head[i]);
  return hex;
}

// The logical file inside a makedumpfile flattened stream: ELF or KDUMP.
Result<std::unique_ptr<Dump>> open_flattened(std::shared_ptr<const Source> stream) {
  VMC_ASSIGN(std::shared_ptr<FlattenedSource> flat, FlattenedSource::open(stream));
  uint64_t n = std::min<uint64_t>(flat->size(), 64);
  std::vector<uint8_t> head;
  if (n > 0) {
    VMC_ASSIGN(head, flat->read_vec(0, n));
  }
  std::unique_ptr<Dump> d;
  switch (sniff_dump(head).kind) {
    case DumpSniff::Kind::kFlattened:
      return make_error(Errc::kUnsupported,
                        "{}: the flattened stream holds another flattened stream (signature at logical offset 0); "
                        "rebuild it with makedumpfile -R first",
                        stream->name());
    case DumpSniff::Kind::kElf: {
      VMC_ASSIGN(d, ElfDump::open(flat));
      break;
    }
    case DumpSniff::Kind::kKdump: {
      VMC_ASSIGN(d, DiskDump::open(flat));
      break;
    }
    default: {
      std::string hex = hex_head(head, 16);
      return make_error(Errc::kUnsupported,
                        "{}: the flattened stream holds neither an ELF core nor a kdump-compressed dump (logical bytes "
                        "at offset 0: {})",
                        stream->name(), hex.empty() ? "none" : hex);
    }
  }
  d->set_format_prefix("flattened ");
  for (const auto& w : flat->warnings()) d->add_warning(w);
  if (!flat->complete()) d->mark_incomplete();
  return d;
}

}  // namespace

Result<std::unique_ptr<Dump>> open_dump_source(std::shared_ptr<const Source> src) {
  uint64_t n = std::min<uint64_t>(src->size(), 64);
  std::vector<uint8_t> head;
  if (n > 0) {
    VMC_ASSIGN(head, src->read_vec(0, n));
  }
  switch (sniff_dump(head).kind) {
    case DumpSniff::Kind::kElf: {
      VMC_ASSIGN(auto d, ElfDump::open(src));
      return std::unique_ptr<Dump>(std::move(d));
    }
    case DumpSniff::Kind::kKdump: {
      VMC_ASSIGN(auto d, DiskDump::open(src));
      return std::unique_ptr<Dump>(std::move(d));
    }
    case DumpSniff::Kind::kFlattened:
      return open_flattened(src);
    case DumpSniff::Kind::kFreeBsdMinidump:
      return make_error(Errc::kUnsupported, "{}: FreeBSD minidumps are not supported yet", src->name());
    case DumpSniff::Kind::kDiskdump:
      return make_error(Errc::kUnsupported,
                        "{}: the old \"DISKDUMP\" format is not supported (only makedumpfile's \"KDUMP\")", src->name());
    case DumpSniff::Kind::kNone:
      break;
  }
  std::string hex = hex_head(head, 16);
  return make_error(Errc::kUnsupported,
                    "{}: not a recognized crash dump (tried: ELF core, kdump-compressed \"KDUMP   \", makedumpfile "
                    "flattened); first bytes {}",
                    src->name(), hex.empty() ? "(empty file)" : hex);
}

DumpSniff sniff_dump(std::span<const uint8_t> head) {
  auto has = [&](std::string_view m) {
    return head.size() >= m.size() && std::memcmp(head.data(), m.data(), m.size()) == 0;
  };
  DumpSniff s;
  if (head.empty()) {
    s.what = "an empty file";
  } else if (has("\x7f" "ELF")) {
    s.kind = DumpSniff::Kind::kElf;
    if (head.size() < 18) {
      s.what = "a truncated ELF header";
      s.dump = true;  // too short to tell: let the reader say what is wrong
      return s;
    }
    uint16_t type = head[5] == 2 ? uint16_t(head[16] << 8 | head[17]) : uint16_t(head[17] << 8 | head[16]);
    static const char* const kTypes[] = {"an ELF file of no type", "an ELF relocatable object", "an ELF executable",
                                         "an ELF shared object", "an ELF core"};
    s.what = type < 5 ? kTypes[type] : fmt::format("an ELF file of type {:#x}", type);
    s.dump = s.elf_core = type == 4;
  } else if (has("KDUMP   ")) {
    s.kind = DumpSniff::Kind::kKdump;
    s.dump = true;
    s.what = "a kdump-compressed dump";
  } else if (FlattenedSource::has_signature(head)) {
    s.kind = DumpSniff::Kind::kFlattened;
    s.dump = true;
    s.what = "a makedumpfile flattened stream";
  } else if (has("minidump FreeBSD")) {
    s.kind = DumpSniff::Kind::kFreeBsdMinidump;
    s.dump = true;
    s.what = "a FreeBSD minidump";
  } else if (has("DISKDUMP")) {
    s.kind = DumpSniff::Kind::kDiskdump;
    s.dump = true;
    s.what = "an old-format DISKDUMP";
  } else {
    s.what = fmt::format("not a crash dump (first bytes {})", hex_head(head, 8));
  }
  return s;
}

Result<DumpSniff> sniff_dump_file(const std::string& path) {
  VMC_ASSIGN(auto src, FileSource::open(path));
  std::vector<uint8_t> head;
  if (uint64_t n = std::min<uint64_t>(src->size(), 64)) {
    VMC_ASSIGN(head, src->read_vec(0, n));
  }
  return sniff_dump(head);
}

Result<std::unique_ptr<Dump>> open_dump(const std::string& path) {
  VMC_ASSIGN(auto f, FileSource::open(path));
  return open_dump_source(std::shared_ptr<const Source>(std::move(f)));
}

}  // namespace vmc
