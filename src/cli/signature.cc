#include "cli/signature.h"

#include <algorithm>
#include <iterator>
#include <cctype>

#include <fmt/format.h>

namespace vmc::cli {

namespace {

// Functions that begin the crash path: whatever is on the stack inside
// them (delay loops, printk, console drivers) is the crash machinery at
// work, not the bug.
constexpr std::string_view kCrashEntries[] = {
    "panic",   "vpanic",  "nmi_panic",   "oops_end", "oops_begin", "die",      "__die",
    "die_addr", "__warn", "__crash_kexec", "crash_kexec", "check_panic_on_warn", "__stack_chk_fail",
    "__kasan_report",
};

// The generic plumbing between the bug and the crash entry, on x86 Linux
// (current and older names): trap and fault handlers, exception entry,
// the watchdogs' interrupt paths, the panic loop's helpers.
constexpr std::string_view kPlumbing[] = {
    // panic loop and kdump entry
    "delay_tsc", "delay_loop", "delay_halt", "delay_halt_mwaitx", "delay_halt_tpause", "__const_udelay", "__udelay",
    "__ndelay", "__delay", "touch_softlockup_watchdog", "touch_nmi_watchdog", "no_blink", "crash_setup_regs",
    "machine_crash_shutdown", "native_machine_crash_shutdown", "crash_save_cpu", "panic_smp_self_stop",
    "dump_stack", "dump_stack_lvl", "show_stack", "show_regs", "__show_regs", "show_trace_log_lvl",
    // oops and trap handling
    "__die_body", "do_trap", "do_trap_no_signal", "do_error_trap", "handle_bug", "report_bug", "__report_bug",
    "warn_slowpath_fmt", "handle_invalid_op", "handle_stack_overflow", "do_general_protection", "do_invalid_op",
    "do_divide_error", "math_error", "fixup_exception",
    // page faults
    "page_fault_oops", "kernelmode_fixup_or_oops", "no_context", "__bad_area_nosemaphore", "bad_area_nosemaphore",
    "__bad_area", "bad_area", "bad_area_access_error", "do_user_addr_fault", "do_kern_addr_fault",
    "handle_page_fault", "spurious_kernel_fault", "do_sigbus", "mm_fault_error", "__do_page_fault", "do_page_fault",
    "page_fault", "async_page_fault", "do_async_page_fault",
    // exception entry (the asm_exc_*/exc_* families are matched by prefix)
    "handle_exception", "error_entry", "error_code", "general_protection", "invalid_op", "divide_error",
    // watchdogs (soft lockup from the timer interrupt, hard lockup from NMI)
    "watchdog_timer_fn", "watchdog_overflow_callback", "__perf_event_overflow", "perf_event_overflow",
    "__hrtimer_run_queues", "hrtimer_interrupt", "__sysvec_apic_timer_interrupt", "perf_event_nmi_handler",
    "nmi_handle", "default_do_nmi",
    // KASAN and UBSAN reports (the __asan_*/__ubsan_handle_* families by prefix)
    "kasan_report", "kasan_check_range", "print_report", "end_report", "ubsan_epilogue",
};

constexpr std::string_view kPlumbingPrefixes[] = {
    "exc_", "asm_exc_", "__exc_", "sysvec_", "asm_sysvec_", "__asan_", "__ubsan_handle_", "__kasan_",
};

bool is_crash_entry(std::string_view f) {
  return std::find(std::begin(kCrashEntries), std::end(kCrashEntries), f) != std::end(kCrashEntries);
}

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool is_hex_digit(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

std::string basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// "… 0000 [#1] PREEMPT SMP NOPTI" and the error code before it go.
std::string strip_oops_tail(std::string s) {
  if (size_t p = s.find(" [#"); p != std::string::npos) s.erase(p);
  // ": 0000" / ": 0002" error codes at the end.
  if (s.size() > 6 && s[s.size() - 6] == ':' && s[s.size() - 5] == ' ' &&
      std::all_of(s.end() - 4, s.end(), [](char c) { return is_hex_digit(c); }))
    s.erase(s.size() - 6);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
  return s;
}

std::string address_class(const Summary& m, uint64_t user_limit) {
  if (!m.fault_address) return "";
  return *m.fault_address < user_limit ? " for a user address" : " for a kernel address";
}

uint64_t fnv1a64(std::string_view s, uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

bool is_crash_plumbing(std::string_view f) {
  if (is_crash_entry(f)) return true;
  if (std::find(std::begin(kPlumbing), std::end(kPlumbing), f) != std::end(kPlumbing)) return true;
  for (auto p : kPlumbingPrefixes)
    if (starts_with(f, p)) return true;
  return false;
}

std::string strip_clone_suffixes(std::string_view s) {
  // GCC: .cold, .part.N, .isra.N, .constprop.N, .lto_priv.N, .localalias;
  // clang: .llvm.NNN. Everything from the first such suffix goes.
  static constexpr std::string_view kSuffixes[] = {".cold", ".part.", ".isra.", ".constprop.",
                                                                 ".lto_priv.", ".localalias", ".llvm."};
  size_t cut = s.size();
  for (auto suf : kSuffixes)
    if (size_t p = s.find(suf); p != std::string_view::npos && p > 0) cut = std::min(cut, p);
  return std::string(s.substr(0, cut));
}

std::string mask_numbers(std::string_view t) {
  std::string out;
  size_t i = 0;
  while (i < t.size()) {
    bool at_token = i == 0 || !ident_char(t[i - 1]);
    if (at_token && std::isdigit(static_cast<unsigned char>(t[i]))) {
      size_t j = i;
      if (t.substr(i, 2) == "0x" || t.substr(i, 2) == "0X") {
        j = i + 2;
        while (j < t.size() && is_hex_digit(t[j])) ++j;
      } else {
        while (j < t.size() && is_hex_digit(t[j])) ++j;
        bool all_dec = std::all_of(t.begin() + long(i), t.begin() + long(j),
                                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
        // A bare hex run counts when it is long (an address); otherwise
        // only the decimal digits do ("1st" stays a word).
        if (!all_dec && j - i < 8) {
          j = i;
          while (j < t.size() && std::isdigit(static_cast<unsigned char>(t[j]))) ++j;
        }
      }
      if (j >= t.size() || !ident_char(t[j])) {
        out += 'N';
        i = j;
        continue;
      }
    } else if (at_token && is_hex_digit(t[i])) {
      // Bare hex addresses that start with a letter: "ffffcdc280046048".
      size_t j = i;
      while (j < t.size() && is_hex_digit(t[j])) ++j;
      if (j - i >= 8 && (j >= t.size() || !ident_char(t[j])) &&
          std::any_of(t.begin() + long(i), t.begin() + long(j), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
        out += 'N';
        i = j;
        continue;
      }
    }
    out += t[i++];
  }
  return out;
}

std::string crash_kind(const Summary& m, uint64_t user_limit) {
  if (m.oops) {
    std::string h = strip_oops_tail(*m.oops);
    // Page faults: the address goes, which half it was in stays (the
    // kernel dispatches the two differently and they are different bugs:
    // a stray user pointer against corrupt kernel memory).
    if (starts_with(h, "BUG: kernel NULL pointer dereference")) return "BUG: kernel NULL pointer dereference";
    if (starts_with(h, "BUG: unable to handle kernel NULL pointer dereference"))
      return "BUG: unable to handle kernel NULL pointer dereference";
    if (starts_with(h, "BUG: unable to handle page fault"))
      return "BUG: unable to handle page fault" + address_class(m, user_limit);
    if (starts_with(h, "BUG: unable to handle kernel paging request"))
      return "BUG: unable to handle kernel paging request" + address_class(m, user_limit);
    if (starts_with(h, "general protection fault"))
      return h.find("non-canonical address") != std::string::npos
                 ? "general protection fault for a non-canonical address"
                 : "general protection fault";
    // "kernel BUG at /build/dir/mm/slub.c:123!": the line tells BUG_ON()s
    // apart, the build directory does not.
    if (starts_with(h, "kernel BUG at ")) {
      std::string where = h.substr(14);
      if (!where.empty() && where.back() == '!') where.pop_back();
      return "kernel BUG at " + basename(where);
    }
    return mask_numbers(h);
  }
  if (m.panic_message) return "panic: " + mask_numbers(*m.panic_message);
  return "no panic or oops message in the log";
}

CrashSignature make_signature(const Summary& m, const ReportThread* t, unsigned depth, uint64_t user_limit) {
  CrashSignature sig;
  sig.kind = crash_kind(m, user_limit);
  if (!t) {
    sig.note = "the crashing task is not known";
  } else {
    // Physical frames (inlined functions share one) down to user space.
    struct Phys { std::string name; size_t first, end; bool after_exception; };
    std::vector<Phys> ph;
    size_t n = 0;
    while (n < t->frames.size() && !t->frames[n].user_mode) ++n;
    for (size_t i = 0; i < n;) {
      size_t j = i;
      while (j < n && t->frames[j].physical == t->frames[i].physical) ++j;
      std::string name;
      for (size_t k = i; k < j; ++k)
        if (!t->frames[k].fn.inlined) name = strip_clone_suffixes(t->frames[k].fn.function);
      if (name.empty()) name = strip_clone_suffixes(t->frames[j - 1].fn.symbol);
      ph.push_back({name, i, j, t->frames[i].how == UnwoundBy::kException && i > 0});
      i = j;
    }
    // A crash-path entry before the first exception frame: everything
    // inside it goes, and the plumbing right outside it.
    size_t cut = 0;
    for (size_t p = 0; p < ph.size() && !ph[p].after_exception; ++p)
      if (is_crash_entry(ph[p].name)) {
        cut = p;
        break;
      }
    while (cut < ph.size() && is_crash_plumbing(ph[cut].name)) ++cut;
    for (size_t p = cut; p < ph.size() && sig.frames.size() < depth; ++p)
      for (size_t k = ph[p].first; k < ph[p].end && sig.frames.size() < depth; ++k) {
        const ReportFrame& f = t->frames[k];
        // Without DWARF the function is the ELF symbol ("foo.cold").
        std::string name = !f.fn.function.empty() ? strip_clone_suffixes(f.fn.function)
                           : !f.fn.symbol.empty() ? strip_clone_suffixes(f.fn.symbol)
                                                  : "?";
        sig.frames.push_back(std::move(name));
      }
    if (sig.frames.size() < depth && t->error) sig.note = "the trace stopped: " + *t->error;
    else if (sig.frames.empty()) sig.note = "no frame outside the crash plumbing";
  }
  uint64_t h = fnv1a64(sig.kind);
  for (const auto& f : sig.frames) h = fnv1a64(f, fnv1a64("\n", h));
  sig.id = fmt::format("{:016x}", h);
  return sig;
}

}  // namespace vmc::cli
