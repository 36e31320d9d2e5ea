// Argument recovery: for each frame (and each inlined function in it), the
// function's parameters with their values and a proof of where each value
// came from, or the reason it cannot be known. Nothing here guesses: a
// value is reported only when a DWARF location valid at the frame's PC
// names registers or memory whose contents are known in that frame
// (unwind.h provenance), or when an entry value resolves through a
// verified call site in the caller. See docs/ARCHITECTURE.md, "Arguments".
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arch/memory.h"
#include "dwarf/unwind.h"

namespace vmc {

// One step of a value's proof, outermost first; rendered e.g.
// "r12, saved by #2 __schedule at CFA-40" or "entry value: call site in #3".
struct ValueSource {
  std::string text;  // human-readable provenance
  std::string kind;  // "register" | "saved-register" | "pt_regs" | "switch-frame" | "stack" | "memory" |
                     // "entry-value" | "constant" | "computed"
};

struct ArgValue {
  std::string name;
  std::string type;          // C spelling of the declared type
  bool known = false;
  std::vector<uint8_t> bytes;// the value's bytes in target order (known only)
  uint64_t raw = 0;          // bytes as an unsigned integer, zero-extended (when <= 8 bytes)
  std::string display;       // typed rendering (decimal, enum name, string preview, sym+off)
  std::string source;        // provenance text (known only)
  std::string reason;        // why unknown (unknown only)
  bool fault_address = false;// equals the fault address (CR2)
  bool heuristic = false;    // produced by the optional heuristic, never by default
};

struct FunctionFrame {
  std::string function;      // name (DWARF, else symbol)
  uint64_t offset = 0;       // pc - function entry (of the physical function)
  std::string symbol;        // ELF symbol containing the pc ("foo.isra.0")
  std::string file;
  int line = 0;
  bool inlined = false;      // an inlined call inside the physical frame
  std::vector<ArgValue> args;
  std::optional<std::string> args_error;  // no DWARF for this function, etc.
  std::vector<std::string> trust_notes;   // pahole-style reasons that restrict values
};

struct ArgOptions {
  std::optional<uint64_t> fault_address;  // CR2, to mark equal values
  bool heuristics = false;                // optional, marked, off by default
  unsigned max_string = 64;               // char * preview length
  unsigned max_entry_value_depth = 4;
  // How to call the initial registers in provenance ("the CPU's registers
  // at the crash", "the vCPU's registers at dump time").
  std::string initial_regs = "the thread's initial registers";
  // Bytes below sp a frame that was stopped (not calling) may use: the
  // x86-64 user-space red zone (128); 0 for kernels (-mno-red-zone).
  uint64_t red_zone = 0;
  // Symbolizes data/text addresses for pointer display ("" when unknown).
  std::function<std::string(uint64_t)> symbolize;
};

class DwarfIndex;

// Describes frames of one stack: function, inlined functions, source line
// and arguments. Caches per-image DWARF indexes; one per session.
class ArgRecovery {
 public:
  ArgRecovery(Machine m, Endian e, VirtualMemory& mem, const CodeMap& code, ArgOptions o);
  ~ArgRecovery();

  // Function frames for physical frame `index` of `frames` (innermost
  // inlined first). `frames` is the whole unwound stack: entry values look
  // at the caller's frame.
  std::vector<FunctionFrame> describe(const std::vector<Frame>& frames, size_t index);

  // "name" of the physical function at a frame (for provenance texts).
  std::string frame_function(const Frame& f);

  // The thread whose frames are described next: its stacks (a parameter
  // located in memory must lie on one of them, at or above its frame's
  // stack pointer: parameters have automatic storage, and DWARF that says
  // otherwise is wrong for that pc), and the fault address to mark (only
  // for the crashed thread).
  void set_thread(std::vector<StackRange> stacks, std::optional<uint64_t> fault_address);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vmc
