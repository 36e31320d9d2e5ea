// The dump/panic summary shared by `info`, the thread report and triage:
// what the dump is and what happened, gathered once from a Session.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kvm/linux/printk.h"
#include "kvm/session.h"

namespace vmc::cli {

struct Summary {
  std::string path, format, compression, producer, arch, paging, os = "linux", release, banner;
  std::optional<uint64_t> kaslr_offset;
  std::string kaslr_source, root_source, vmlinux, vmlinux_check;
  unsigned cpus = 0;
  std::optional<int64_t> crash_time;
  std::string crash_time_source;
  std::optional<std::string> translation_error;
  // Panic.
  std::optional<std::string> panic_message, oops;  // message: panic()'s, else the oops headline
  bool reached_panic = false;                      // the log has "Kernel panic - not syncing" 
  std::optional<int> panic_cpu, pid;
  std::optional<std::string> comm;
  std::optional<uint64_t> task, fault_address;
  std::string panic_source;
  // Log.
  std::vector<LogRecord> log;
  std::optional<std::string> log_error;
  std::vector<std::string> warnings;
};

Summary summarize(Session& s);
nlohmann::ordered_json dump_json(const Summary& s);
nlohmann::ordered_json panic_json(const Summary& s);
std::string hex(uint64_t v);
// "2026-11-16 10:08:58 UTC", or the strftime `format` given, in UTC.
std::string utc_time(int64_t t, const char* format = "%Y-%m-%d %H:%M:%S UTC");
// Text from the dump made safe for a terminal: control bytes and bytes that
// are not valid UTF-8 become \xNN (a task name or a log line could carry
// escape sequences).
std::string printable(std::string_view s);
std::string format_log_line(const LogRecord& r);

}  // namespace vmc::cli
