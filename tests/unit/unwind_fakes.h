// Shared helpers of the unwinder tests: a fake virtual memory, code images
// made from the tiny objects in tests/programs (built by tests/CMakeLists
// into VMC_UNWIND_FIXTURES), and frame builders.
#pragma once

#include <elfutils/libdw.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "arch/base/bytes.h"
#include "arch/memory.h"
#include "arch/regs.h"
#include "dwarf/elf_image.h"
#include "dwarf/unwind.h"

namespace vmc::test {

// Sparse byte-addressed memory; unwritten bytes fail with kNotMapped.
class FakeVm : public VirtualMemory {
 public:
  void put(uint64_t addr, unsigned width, uint64_t v) {
    for (unsigned i = 0; i < width; ++i) bytes_[addr + i] = uint8_t(v >> (8 * i));  // x86: little-endian
  }
  void put64(uint64_t addr, uint64_t v) { put(addr, 8, v); }
  void put32(uint64_t addr, uint64_t v) { put(addr, 4, v); }
  void erase(uint64_t addr, unsigned width) {
    for (unsigned i = 0; i < width; ++i) bytes_.erase(addr + i);
  }
  Status read_virt(kvaddr_t va, std::span<uint8_t> buf) override {
    ++reads;
    for (size_t i = 0; i < buf.size(); ++i) {
      auto it = bytes_.find(va + i);
      if (it == bytes_.end()) return make_error(Errc::kNotMapped, "virtual address {:#x} is not mapped", va + i);
      buf[i] = it->second;
    }
    return {};
  }
  size_t reads = 0;

 private:
  std::map<uint64_t, uint8_t> bytes_;
};

inline std::string fixture_dir() {
#ifdef VMC_UNWIND_FIXTURES
  return VMC_UNWIND_FIXTURES;
#else
  return "";
#endif
}

// A fixture object opened as a CodeImage at `bias`, owning its handles.
struct LoadedImage {
  std::unique_ptr<ElfImage> elf;
  CodeImage image;
  Dwarf_CFI* eh = nullptr;
  ~LoadedImage() {
    if (eh) dwarf_cfi_end(eh);
  }
  // Runtime address of a symbol of the object.
  uint64_t sym(const char* name) const {
    const Symbol* s = elf->find_symbol(name);
    EXPECT_NE(s, nullptr) << name;
    return s ? s->addr + uint64_t(image.bias) : 0;
  }
};

// Opens tests/programs' object `file` from the fixture directory; null
// (after GTEST_SKIP in the caller) when fixtures were not built.
inline std::unique_ptr<LoadedImage> load_fixture(const std::string& file, int64_t bias, bool kernel = false) {
  std::string dir = fixture_dir();
  if (dir.empty()) return nullptr;
  auto elf = ElfImage::open(dir + "/" + file);
  EXPECT_TRUE(elf.ok()) << (elf.ok() ? "" : elf.error().message());
  if (!elf.ok()) return nullptr;
  auto li = std::make_unique<LoadedImage>();
  li->elf = std::move(elf).value();
  li->image.name = file;
  li->image.bias = bias;
  li->image.elf = li->elf.get();
  li->image.dwarf = li->elf->dwarf();
  li->image.debug_frame = li->elf->dwarf() ? dwarf_getcfi(li->elf->dwarf()) : nullptr;
  li->eh = dwarf_getcfi_elf(li->elf->elf());
  li->image.eh_frame = li->eh;
  li->image.kernel = kernel;
  for (const auto& s : li->elf->sections())
    if (s.name == ".text") li->image.text.push_back({s.addr + uint64_t(bias), s.addr + s.size + uint64_t(bias)});
  return li;
}

#define VMC_REQUIRE_UNWIND_FIXTURES()                                                                   \
  do {                                                                                                  \
    if (::vmc::test::fixture_dir().empty())                                                             \
      GTEST_SKIP() << "unwinder fixtures (tests/programs/*.S) were not built: no x86-64 gcc at configure time"; \
  } while (0)

// Frame 0 with the given registers known (provenance kInitial).
inline Frame initial_frame(Machine m, uint64_t pc, uint64_t sp, std::map<unsigned, uint64_t> regs = {},
                           bool exact = true) {
  const RegisterInfo& ri = register_info(m);
  Frame f;
  f.pc = pc;
  f.sp = sp;
  f.pc_exact = exact;
  f.regs = RegisterSet(m);
  regs[ri.pc] = pc;
  regs[ri.sp] = sp;
  for (auto [r, v] : regs) {
    f.regs.set(r, v);
    f.loc[r].kind = RegLoc::Kind::kInitial;
  }
  return f;
}

}  // namespace vmc::test
