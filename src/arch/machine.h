// Target machines known to vmcore-args and their fixed properties.
#pragma once

#include <cstdint>
#include <string_view>

#include "arch/base/bytes.h"

namespace vmc {

enum class Machine : uint8_t { kUnknown, kX86_64, kI386 };

struct MachineInfo {
  Machine machine;
  std::string_view name;  // "x86_64", "i386"
  uint16_t elf_machine;   // EM_X86_64 = 62, EM_386 = 3
  unsigned ptr_size;      // bytes in a pointer / unsigned long
  Endian endian;
};

const MachineInfo& machine_info(Machine m);
// From an ELF e_machine value; kUnknown when not ours.
Machine machine_from_elf(uint16_t e_machine);
// From a uname machine string ("x86_64", "i686", "i386"…).
Machine machine_from_uname(std::string_view s);

}  // namespace vmc
