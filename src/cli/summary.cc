#include "cli/summary.h"

#include <ctime>

namespace vmc::cli {

std::string hex(uint64_t v) { return fmt::format("{:#x}", v); }

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += char(c);
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence of 2 to 4 bytes passes unchanged.
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    bool ok = n && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += c == '\t' ? std::string("\\t") : fmt::format("\\x{:02x}", c);
      ++i;
    }
  }
  return out;
}

std::string format_log_line(const LogRecord& r) {
  std::string t = r.text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return fmt::format("[{:5}.{:06}] {}", r.ts_nsec / 1000000000, (r.ts_nsec / 1000) % 1000000, printable(t));
}

Summary summarize(Session& s) {
  Summary m;
  const Dump& d = s.dump();
  const KernelFacts& k = s.kernel();
  m.path = d.path();
  m.format = d.format();
  m.compression = d.compression();
  m.producer = d.producer();
  m.arch = std::string(s.minfo().name);
  m.paging = s.kmem() ? s.kmem()->state().paging() : "unknown";
  m.root_source = k.root_source;
  m.release = k.release;
  m.banner = k.banner.value_or("");
  m.kaslr_offset = k.kaslr_offset;
  m.kaslr_source = k.kaslr_source;
  m.cpus = k.cpus;
  m.crash_time = k.crash_time;
  m.crash_time_source = k.crash_time_source;
  m.vmlinux = s.vmlinux() ? s.vmlinux()->path() : "";
  m.vmlinux_check = k.vmlinux_check;
  if (s.translation_error()) m.translation_error = s.translation_error()->message();
  m.warnings = s.warnings();

  if (s.kmem()) {
    LogReadOptions o;
    o.ptr_size = s.minfo().ptr_size;
    o.endian = d.endian();
    auto log = read_printk_log(*s.kmem(), s.vmcoreinfo(), o);
    if (log) m.log = std::move(*log);
    else m.log_error = log.error().message();
  } else {
    m.log_error = "no address translation";
  }
  LogPanic lp = scan_log_for_panic(m.log);
  // The crash's message: panic()'s, or the oops headline when the kernel
  // never got to panic() (a kdump capture of an oops jumps to the capture
  // kernel from oops_end, before panic() would print).
  m.panic_message = lp.panic ? lp.panic : lp.oops;
  m.reached_panic = lp.panic.has_value();
  m.oops = lp.oops;
  m.fault_address = lp.fault_address;
  m.pid = lp.pid;
  m.comm = lp.comm;
  m.panic_cpu = lp.cpu;
  m.panic_source = "kernel log";
  // panic_cpu (atomic_t) is the kernel's own record of the panicking CPU.
  if (auto a = s.symbol_address("panic_cpu"); a && s.kmem()) {
    if (auto v = s.read_uint(*a, 4); v && int32_t(*v) >= 0) {
      m.panic_cpu = int32_t(*v);
      m.panic_source = "panic_cpu and kernel log";
    }
  }
  // The panicking CPU's current task (needs the vmlinux's DWARF).
  if (m.panic_cpu && s.kmem() && s.types()) {
    if (auto pc = s.percpu_address("current_task", unsigned(*m.panic_cpu)))
      if (auto t = s.read_ulong(*pc); t && *t) m.task = *t;
  }
  return m;
}

std::string utc_time(int64_t t, const char* format) {
  std::time_t tt = t;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char b[64];
  std::strftime(b, sizeof b, format, &tm);
  return b;
}

nlohmann::ordered_json dump_json(const Summary& s) {
  nlohmann::ordered_json j;
  j["path"] = s.path;
  j["format"] = s.format;
  j["compression"] = s.compression;
  j["producer"] = s.producer;
  j["arch"] = s.arch;
  j["paging"] = s.paging;
  j["os"] = s.os;
  j["release"] = s.release;
  j["kaslr_offset"] = s.kaslr_offset ? nlohmann::ordered_json(hex(*s.kaslr_offset)) : nlohmann::ordered_json(nullptr);
  j["cpus"] = s.cpus;
  j["banner"] = s.banner;
  j["crash_time"] = s.crash_time ? nlohmann::ordered_json(*s.crash_time) : nlohmann::ordered_json(nullptr);
  j["vmlinux"] = s.vmlinux;
  j["vmlinux_check"] = s.vmlinux_check;
  if (s.translation_error) j["translation_error"] = *s.translation_error;
  if (!s.warnings.empty()) j["warnings"] = s.warnings;
  return j;
}

nlohmann::ordered_json panic_json(const Summary& s) {
  using J = nlohmann::ordered_json;
  J j;
  j["message"] = s.panic_message ? J(*s.panic_message) : J(nullptr);
  j["oops"] = s.oops ? J(*s.oops) : J(nullptr);
  j["cpu"] = s.panic_cpu ? J(*s.panic_cpu) : J(nullptr);
  j["task"] = s.task ? J(hex(*s.task)) : J(nullptr);
  j["pid"] = s.pid ? J(*s.pid) : J(nullptr);
  j["comm"] = s.comm ? J(*s.comm) : J(nullptr);
  j["fault_address"] = s.fault_address ? J(hex(*s.fault_address)) : J(nullptr);
  j["source"] = s.panic_source;
  return j;
}

}  // namespace vmc::cli
