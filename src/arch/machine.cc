#include "arch/machine.h"

namespace vmc {

namespace {
constexpr MachineInfo kMachines[] = {
    {Machine::kUnknown, "unknown", 0, 8, Endian::kLittle},
    {Machine::kX86_64, "x86_64", 62, 8, Endian::kLittle},
    {Machine::kI386, "i386", 3, 4, Endian::kLittle},
};
}  // namespace

const MachineInfo& machine_info(Machine m) {
  for (const auto& mi : kMachines)
    if (mi.machine == m) return mi;
  return kMachines[0];
}

Machine machine_from_elf(uint16_t e_machine) {
  for (const auto& mi : kMachines)
    if (mi.machine != Machine::kUnknown && mi.elf_machine == e_machine) return mi.machine;
  return Machine::kUnknown;
}

Machine machine_from_uname(std::string_view s) {
  if (s == "x86_64" || s == "amd64") return Machine::kX86_64;
  if (s == "i386" || s == "i486" || s == "i586" || s == "i686" || s == "x86") return Machine::kI386;
  return Machine::kUnknown;
}

}  // namespace vmc
