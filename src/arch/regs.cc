#include "arch/regs.h"

namespace vmc {

namespace {

constexpr std::string_view kX86_64Names[] = {
    "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
    "rip", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
    "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
    "", "rflags", "es", "cs", "ss", "ds", "fs", "gs", "", "", "fs_base", "gs_base"};
constexpr uint8_t kX86_64CalleeSaved[] = {x86_64::kRbx, x86_64::kRbp, x86_64::kR12,
                                          x86_64::kR13, x86_64::kR14, x86_64::kR15};
constexpr uint8_t kX86_64IntArgs[] = {x86_64::kRdi, x86_64::kRsi, x86_64::kRdx,
                                      x86_64::kRcx, x86_64::kR8,  x86_64::kR9};
// struct pt_regs / user_regs_struct order (arch/x86/include/asm/ptrace.h).
constexpr uint8_t kX86_64PtRegs[] = {
    x86_64::kR15, x86_64::kR14, x86_64::kR13, x86_64::kR12, x86_64::kRbp, x86_64::kRbx, x86_64::kR11,
    x86_64::kR10, x86_64::kR9,  x86_64::kR8,  x86_64::kRax, x86_64::kRcx, x86_64::kRdx, x86_64::kRsi,
    x86_64::kRdi, kNoReg /*orig_ax*/, x86_64::kRip, x86_64::kCs, x86_64::kRflags, x86_64::kRsp, x86_64::kSs,
    x86_64::kFsBase, x86_64::kGsBase, x86_64::kDs, x86_64::kEs, x86_64::kFs, x86_64::kGs};

constexpr std::string_view kI386Names[] = {
    "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags", "", "", "", "", "", "",
    "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
    "", "", "", "", "", "", "", "", "es", "cs", "ss", "ds", "fs", "gs"};
constexpr uint8_t kI386CalleeSaved[] = {i386::kEbx, i386::kEbp, i386::kEsi, i386::kEdi};
// Linux i386 kernels are built with -mregparm=3: eax, edx, ecx, then stack.
constexpr uint8_t kI386IntArgs[] = {i386::kEax, i386::kEdx, i386::kEcx};
constexpr uint8_t kI386PtRegs[] = {i386::kEbx, i386::kEcx, i386::kEdx, i386::kEsi, i386::kEdi, i386::kEbp,
                                   i386::kEax, i386::kDs,  i386::kEs,  i386::kFs,  i386::kGs,  kNoReg /*orig_ax*/,
                                   i386::kEip, i386::kCs,  i386::kEflags, i386::kEsp, i386::kSs};

const RegisterInfo kInfos[] = {
    {Machine::kX86_64, 8, x86_64::kRip, x86_64::kRsp, x86_64::kRbp, kX86_64Names, kX86_64CalleeSaved,
     kX86_64IntArgs, kX86_64PtRegs, 16, 19},
    {Machine::kI386, 4, i386::kEip, i386::kEsp, i386::kEbp, kI386Names, kI386CalleeSaved, kI386IntArgs,
     kI386PtRegs, 12, 15},
};

}  // namespace

const RegisterInfo& register_info(Machine m) {
  for (const auto& r : kInfos)
    if (r.machine == m) return r;
  return kInfos[0];
}

std::string_view register_name(Machine m, unsigned regno) {
  const auto& ri = register_info(m);
  if (regno < ri.names.size() && !ri.names[regno].empty()) return ri.names[regno];
  return "?";
}

std::optional<unsigned> register_number(Machine m, std::string_view name) {
  const auto& ri = register_info(m);
  for (unsigned i = 0; i < ri.names.size(); ++i)
    if (ri.names[i] == name) return i;
  return std::nullopt;
}

}  // namespace vmc
