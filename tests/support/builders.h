// Byte builders for synthetic test inputs: every fixture a test uses is made
// here, in code, so nothing rots (bloaty / libkdumpfile style).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "arch/base/bytes.h"
#include "arch/memory.h"

namespace vmc::test {

class ByteWriter {
 public:
  explicit ByteWriter(Endian e = Endian::kLittle) : e_(e) {}
  size_t size() const { return buf_.size(); }
  std::vector<uint8_t>& bytes() { return buf_; }
  ByteWriter& uint(unsigned width, uint64_t v) {
    size_t at = buf_.size();
    buf_.resize(at + width);
    store_uint(buf_.data() + at, width, v, e_);
    return *this;
  }
  ByteWriter& u8(uint64_t v) { return uint(1, v); }
  ByteWriter& u16(uint64_t v) { return uint(2, v); }
  ByteWriter& u32(uint64_t v) { return uint(4, v); }
  ByteWriter& u64(uint64_t v) { return uint(8, v); }
  ByteWriter& raw(const void* p, size_t n) {
    auto* b = static_cast<const uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + n);
    return *this;
  }
  ByteWriter& str(const std::string& s, size_t field) {  // fixed-size, NUL-padded
    std::string t = s.substr(0, field);
    t.resize(field, '\0');
    return raw(t.data(), t.size());
  }
  ByteWriter& zeros(size_t n) { buf_.resize(buf_.size() + n); return *this; }
  ByteWriter& align(size_t a) { while (buf_.size() % a) buf_.push_back(0); return *this; }
  void put(size_t at, unsigned width, uint64_t v) {
    if (buf_.size() < at + width) buf_.resize(at + width);
    store_uint(buf_.data() + at, width, v, e_);
  }

 private:
  Endian e_;
  std::vector<uint8_t> buf_;
};

// Sparse physical memory in 4 KiB pages; pages never written are "not in
// dump", pages marked excluded read as kExcluded.
class FakePhysMem : public PhysicalMemory {
 public:
  void put(uint64_t pa, unsigned width, uint64_t v, Endian e = Endian::kLittle);
  void put_bytes(uint64_t pa, const std::vector<uint8_t>& b);
  void exclude(uint64_t pa) { excluded_[pa >> 12] = true; }
  void touch(uint64_t pa) { page(pa); }
  Status read_phys(PhysAddr pa, std::span<uint8_t> buf) override;
  size_t reads = 0;

 private:
  std::vector<uint8_t>& page(uint64_t pa);
  std::map<uint64_t, std::vector<uint8_t>> pages_;
  std::map<uint64_t, bool> excluded_;
};

// An ELF core file (ET_CORE) with notes and PT_LOADs, in either class and
// byte order.
class ElfCoreBuilder {
 public:
  ElfCoreBuilder(bool elf64, Endian e, uint16_t machine) : elf64_(elf64), e_(e), machine_(machine) {}
  void add_note(const std::string& name, uint32_t type, const std::vector<uint8_t>& desc);
  // `data` is the file part; memsz >= data.size() (the rest is "excluded").
  void add_load(uint64_t paddr, uint64_t vaddr, std::vector<uint8_t> data, uint64_t memsz = 0);
  // Place the section-header table before the program headers as QEMU 7.2
  // does (e_phoff = 64 + shdr size), optionally with PN_XNUM.
  void set_qemu_layout(bool pn_xnum) { qemu_layout_ = true; pn_xnum_ = pn_xnum; }
  std::vector<uint8_t> build() const;

 private:
  struct Load { uint64_t paddr, vaddr, memsz; std::vector<uint8_t> data; };
  bool elf64_;
  Endian e_;
  uint16_t machine_;
  bool qemu_layout_ = false, pn_xnum_ = false;
  std::vector<uint8_t> notes_;
  std::vector<Load> loads_;
};

// Encodes one ELF note (name and desc padded to 4 bytes).
std::vector<uint8_t> encode_note(const std::string& name, uint32_t type, const std::vector<uint8_t>& desc, Endian e);

// Writes bytes to a fresh temporary file and returns its path; the file is
// removed by the destructor.
class TempFile {
 public:
  explicit TempFile(const std::vector<uint8_t>& bytes, const std::string& suffix = "");
  ~TempFile();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace vmc::test
