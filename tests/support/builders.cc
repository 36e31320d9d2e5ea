#include "support/builders.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace vmc::test {

std::vector<uint8_t>& FakePhysMem::page(uint64_t pa) {
  auto& p = pages_[pa >> 12];
  if (p.empty()) p.resize(4096);
  return p;
}

void FakePhysMem::put(uint64_t pa, unsigned width, uint64_t v, Endian e) {
  for (unsigned i = 0; i < width; ++i) {
    unsigned shift = (e == Endian::kLittle ? i : width - 1 - i) * 8;
    page(pa + i)[(pa + i) & 4095] = uint8_t(v >> shift);
  }
}

void FakePhysMem::put_bytes(uint64_t pa, const std::vector<uint8_t>& b) {
  for (size_t i = 0; i < b.size(); ++i) page(pa + i)[(pa + i) & 4095] = b[i];
}

Status FakePhysMem::read_phys(PhysAddr pa, std::span<uint8_t> buf) {
  ++reads;
  for (size_t i = 0; i < buf.size(); ++i) {
    uint64_t a = pa.v + i;
    if (excluded_.count(a >> 12)) return make_error(Errc::kExcluded, "physical {:#x} excluded", a);
    auto it = pages_.find(a >> 12);
    if (it == pages_.end()) return make_error(Errc::kNotInDump, "physical {:#x} not in dump", a);
    buf[i] = it->second[a & 4095];
  }
  return {};
}

std::vector<uint8_t> encode_note(const std::string& name, uint32_t type, const std::vector<uint8_t>& desc, Endian e) {
  ByteWriter w(e);
  w.u32(name.size() + 1).u32(desc.size()).u32(type);
  w.raw(name.c_str(), name.size() + 1).align(4);
  w.raw(desc.data(), desc.size()).align(4);
  return w.bytes();
}

void ElfCoreBuilder::add_note(const std::string& name, uint32_t type, const std::vector<uint8_t>& desc) {
  auto n = encode_note(name, type, desc, e_);
  notes_.insert(notes_.end(), n.begin(), n.end());
}

void ElfCoreBuilder::add_load(uint64_t paddr, uint64_t vaddr, std::vector<uint8_t> data, uint64_t memsz) {
  uint64_t m = memsz ? memsz : data.size();
  loads_.push_back({paddr, vaddr, m, std::move(data)});
}

std::vector<uint8_t> ElfCoreBuilder::build() const {
  const size_t ehsize = elf64_ ? 64 : 52, phent = elf64_ ? 56 : 32, shent = elf64_ ? 64 : 40;
  const size_t phnum = 1 + loads_.size();
  size_t shoff = 0, phoff = ehsize;
  if (qemu_layout_) {
    shoff = ehsize;
    phoff = ehsize + shent;
  }
  size_t data_off = phoff + phnum * phent;
  size_t note_off = data_off;
  size_t off = note_off + notes_.size();
  std::vector<size_t> load_offs;
  for (const auto& l : loads_) {
    off = (off + 4095) & ~size_t(4095);
    load_offs.push_back(off);
    off += l.data.size();
  }
  ByteWriter w(e_);
  w.raw("\x7f" "ELF", 4).u8(elf64_ ? 2 : 1).u8(e_ == Endian::kLittle ? 1 : 2).u8(1).zeros(9);
  w.u16(4).u16(machine_).u32(1);
  if (elf64_) w.u64(0).u64(phoff).u64(shoff);
  else w.u32(0).u32(phoff).u32(shoff);
  w.u32(0).u16(ehsize).u16(phent).u16(pn_xnum_ ? 0xffff : phnum).u16(qemu_layout_ ? shent : 0)
      .u16(qemu_layout_ ? 1 : 0).u16(0);
  if (qemu_layout_) {
    // Section header 0: sh_info carries the real program header count.
    if (elf64_) w.u32(0).u32(0).u64(0).u64(0).u64(0).u64(0).u32(0).u32(phnum).u64(0).u64(0);
    else w.u32(0).u32(0).u32(0).u32(0).u32(0).u32(0).u32(0).u32(phnum).u32(0).u32(0);
  }
  auto phdr = [&](uint32_t type, uint64_t offset, uint64_t vaddr, uint64_t paddr, uint64_t filesz, uint64_t memsz) {
    if (elf64_) w.u32(type).u32(0).u64(offset).u64(vaddr).u64(paddr).u64(filesz).u64(memsz).u64(0);
    else w.u32(type).u32(offset).u32(vaddr).u32(paddr).u32(filesz).u32(memsz).u32(0).u32(0);
  };
  phdr(4, note_off, 0, 0, notes_.size(), 0);
  for (size_t i = 0; i < loads_.size(); ++i)
    phdr(1, load_offs[i], loads_[i].vaddr, loads_[i].paddr, loads_[i].data.size(), loads_[i].memsz);
  w.raw(notes_.data(), notes_.size());
  for (size_t i = 0; i < loads_.size(); ++i) {
    w.zeros(load_offs[i] - w.size());
    w.raw(loads_[i].data.data(), loads_[i].data.size());
  }
  return w.bytes();
}

TempFile::TempFile(const std::vector<uint8_t>& bytes, const std::string& suffix) {
  std::string tmpl = std::string(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") + "/vmc-test-XXXXXX" + suffix;
  std::vector<char> t(tmpl.begin(), tmpl.end());
  t.push_back(0);
  int fd = mkstemps(t.data(), int(suffix.size()));
  if (fd < 0) std::abort();
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) std::abort();
    done += size_t(n);
  }
  ::close(fd);
  path_ = t.data();
}

TempFile::~TempFile() { ::unlink(path_.c_str()); }

}  // namespace vmc::test
