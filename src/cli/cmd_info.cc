#include <ctime>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/summary.h"

namespace vmc::cli {

int report_error(const Error& e) {
  fmt::print(stderr, "vmcore-args: error: {}\n", e.message());
  return exit_code_for(e);
}

namespace {

void print_text(const Summary& m, unsigned log_lines) {
  fmt::print("dump:      {}\n", m.path);
  fmt::print("format:    {}{}{}\n", m.format, m.compression != "none" ? fmt::format(", {} compressed", m.compression) : "",
             m.producer.empty() ? "" : fmt::format(" (written by {})", m.producer));
  fmt::print("arch:      {}, {} paging{}\n", m.arch, m.paging,
             m.root_source.empty() ? "" : fmt::format(" (page tables from {})", m.root_source));
  fmt::print("kernel:    Linux {}\n", m.release.empty() ? "(release unknown)" : printable(m.release));
  if (!m.banner.empty()) fmt::print("banner:    {}\n", printable(m.banner));
  if (m.kaslr_offset) fmt::print("KASLR:     offset {:#x} ({})\n", *m.kaslr_offset, m.kaslr_source);
  else fmt::print("KASLR:     offset unknown{}\n", m.vmlinux.empty() ? " (give the vmlinux to determine it)" : "");
  fmt::print("CPUs:      {}\n", m.cpus);
  if (m.crash_time) fmt::print("crashed:   {} ({})\n", utc_time(*m.crash_time), m.crash_time_source);
  if (!m.vmlinux.empty()) fmt::print("vmlinux:   {}: {}\n", m.vmlinux, m.vmlinux_check);
  if (m.translation_error) fmt::print("WARNING:   no address translation: {}\n", *m.translation_error);
  for (const auto& w : m.warnings) fmt::print("WARNING:   {}\n", printable(w));
  fmt::print("\n");
  if (m.panic_message) fmt::print("{}     \"{}\"\n", m.reached_panic ? "PANIC:" : "OOPS: ", printable(*m.panic_message));
  else fmt::print("PANIC:     (no panic or oops message in the log)\n");
  if (m.oops && m.oops != m.panic_message) fmt::print("cause:     {}\n", printable(*m.oops));
  if (m.panic_cpu) fmt::print("CPU:       {}\n", *m.panic_cpu);
  if (m.pid) fmt::print("task:      pid {} ({}){}\n", *m.pid, printable(m.comm.value_or("?")), m.task ? fmt::format(" at {:#x}", *m.task) : "");
  if (m.fault_address) fmt::print("fault address: {:#x}\n", *m.fault_address);
  fmt::print("\n");
  if (m.log_error) {
    fmt::print("kernel log: unavailable: {}\n", *m.log_error);
  } else {
    size_t n = std::min<size_t>(log_lines, m.log.size());
    fmt::print("kernel log (last {} of {} records):\n", n, m.log.size());
    for (size_t i = m.log.size() - n; i < m.log.size(); ++i) fmt::print("  {}\n", format_log_line(m.log[i]));
  }
}

}  // namespace

int cmd_info(const InfoArgs& a) {
  auto s = Session::open(a.vmcore, a.vmlinux, a.session);
  if (!s) return report_error(s.error());
  Summary m = summarize(**s);
  if (a.json) {
    nlohmann::ordered_json j;
    j["schema"] = "vmcore-args/1";
    j["dump"] = dump_json(m);
    j["panic"] = panic_json(m);
    auto& log = j["log"] = nlohmann::ordered_json::array();
    size_t n = std::min<size_t>(a.log_lines, m.log.size());
    for (size_t i = m.log.size() - n; i < m.log.size(); ++i) {
      std::string t = m.log[i].text;
      while (!t.empty() && t.back() == '\n') t.pop_back();
      log.push_back({{"seq", m.log[i].seq}, {"ts_nsec", m.log[i].ts_nsec}, {"level", m.log[i].level}, {"text", t}});
    }
    if (m.log_error) j["log_error"] = *m.log_error;
    fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  } else {
    print_text(m, a.log_lines);
  }
  // What could be shown was shown; the exit code still tells scripts that
  // the dump is damaged or could not be fully interpreted.
  if ((*s)->dump().header().incomplete) {
    fmt::print(stderr, "vmcore-args: error: {}: the dump is incomplete (truncated or flagged incomplete by its writer)\n",
               a.vmcore);
    return kExitBadInput;
  }
  if ((*s)->translation_error() && (*s)->translation_error()->code() != Errc::kUnsupported)
    return report_error(Error(*(*s)->translation_error()).context("address translation"));
  return kExitOk;
}

}  // namespace vmc::cli
