// The kernel log from the dump's memory: the lockless printk ring buffer
// (Linux 5.10+, kernel/printk/printk_ringbuffer.h) and the older
// log_buf/printk_log format, both located through VMCOREINFO, which exports
// the symbols, sizes and member offsets of either layout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arch/base/bytes.h"
#include "arch/memory.h"
#include "kvm/vmcoreinfo.h"

namespace vmc {

struct LogRecord {
  uint64_t seq = 0;
  uint64_t ts_nsec = 0;
  int level = -1;  // 0..7, -1 when unknown
  std::string text;
};

struct LogReadOptions {
  unsigned ptr_size = 8;
  Endian endian = Endian::kLittle;
  size_t max_records = 1u << 20;
};

// Reads every record still in the buffer, oldest first. kNotFound when
// VMCOREINFO describes neither format.
Result<std::vector<LogRecord>> read_printk_log(VirtualMemory& mem, const VmcoreInfo& vi, const LogReadOptions& o);

// What the log says about the crash.
struct LogPanic {
  std::optional<std::string> panic;      // text after "Kernel panic - not syncing: "
  std::optional<std::string> oops;       // "BUG: unable to handle page fault…", "general protection fault…", …
  std::optional<uint64_t> fault_address; // from "…page fault for address: X" or "CR2: X"
  std::optional<int> cpu, pid;           // from the "CPU: n PID: p Comm: c" line of the oops/panic
  std::optional<std::string> comm;
};
LogPanic scan_log_for_panic(const std::vector<LogRecord>& log);

}  // namespace vmc
