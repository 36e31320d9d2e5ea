// Register files, DWARF register numbering, calling conventions and pt_regs
// layouts of the supported machines (SysV x86-64 psABI §3.6.2 and the i386
// psABI; Linux arch/x86/include/asm/ptrace.h for pt_regs order).
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "arch/machine.h"

namespace vmc {

// Register values indexed by DWARF register number, each known or not.
class RegisterSet {
 public:
  static constexpr unsigned kMax = 64;

  RegisterSet() = default;
  explicit RegisterSet(Machine m) : machine_(m) {}

  Machine machine() const { return machine_; }
  std::optional<uint64_t> get(unsigned regno) const {
    if (regno >= kMax || !known_[regno]) return std::nullopt;
    return v_[regno];
  }
  bool has(unsigned regno) const { return regno < kMax && known_[regno]; }
  void set(unsigned regno, uint64_t value) {
    if (regno >= kMax) return;
    v_[regno] = value;
    known_.set(regno);
  }
  void clear(unsigned regno) {
    if (regno < kMax) known_.reset(regno);
  }
  void clear_all() { known_.reset(); }

 private:
  Machine machine_ = Machine::kUnknown;
  std::array<uint64_t, kMax> v_{};
  std::bitset<kMax> known_;
};

// Fixed facts about a machine's registers and ABI.
struct RegisterInfo {
  Machine machine;
  unsigned reg_size;  // bytes in a general register
  unsigned pc;        // DWARF number of the program counter / return address column
  unsigned sp;
  unsigned fp;
  std::span<const std::string_view> names;  // by DWARF number; "" where unused
  std::span<const uint8_t> callee_saved;    // preserved across calls (besides sp)
  std::span<const uint8_t> int_args;        // integer argument registers, in order
  // pt_regs (and the ELF prstatus pr_reg, which has the same order): the
  // DWARF register number of each slot, 0xff for slots that are not a
  // DWARF register (orig_ax, segment registers…).
  std::span<const uint8_t> pt_regs;
  unsigned pt_regs_ip_slot, pt_regs_sp_slot;
};

const RegisterInfo& register_info(Machine m);
std::string_view register_name(Machine m, unsigned regno);
// DWARF number of a register by name ("rdi", "r12", "eax"), if any.
std::optional<unsigned> register_number(Machine m, std::string_view name);

namespace x86_64 {
enum Reg : uint8_t {
  kRax = 0, kRdx = 1, kRcx = 2, kRbx = 3, kRsi = 4, kRdi = 5, kRbp = 6, kRsp = 7,
  kR8 = 8, kR9 = 9, kR10 = 10, kR11 = 11, kR12 = 12, kR13 = 13, kR14 = 14, kR15 = 15,
  kRip = 16, kRflags = 49, kEs = 50, kCs = 51, kSs = 52, kDs = 53, kFs = 54, kGs = 55,
  kFsBase = 58, kGsBase = 59,
};
}  // namespace x86_64

namespace i386 {
enum Reg : uint8_t {
  kEax = 0, kEcx = 1, kEdx = 2, kEbx = 3, kEsp = 4, kEbp = 5, kEsi = 6, kEdi = 7,
  kEip = 8, kEflags = 9, kEs = 40, kCs = 41, kSs = 42, kDs = 43, kFs = 44, kGs = 45,
};
}  // namespace i386

constexpr uint8_t kNoReg = 0xff;

}  // namespace vmc
