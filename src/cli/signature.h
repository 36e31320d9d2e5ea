// Crash signatures for triage: what kind of crash it was and where, in a
// form that is the same for the same bug across KASLR offsets, dump formats
// and builds of one release, so that dumps group by bug.
//
// kind   the oops headline, else "panic: " and panic()'s message, with what
//        varies between occurrences of one bug taken out: addresses, numbers,
//        oops counters and error codes, directory names (see crash_kind()).
// frames the crashing task's innermost meaningful functions, innermost
//        first: source function names (inlined ones included; no offsets,
//        addresses or compiler clone suffixes), up to `depth` names, never
//        past the return to user space. What is skipped: when a crash-path
//        entry (panic, oops_end, die, __crash_kexec, __warn, …) is on the
//        stack before the first exception frame, every frame inside it (the
//        delay loop a QEMU-dumped panic spins in, printk) and the generic
//        plumbing right outside it (trap and page-fault handlers, exception
//        entry, watchdog interrupts); without one, only leading plumbing
//        (a kdump of an oops starts at the faulting function itself).
// id     16 hex digits, FNV-1a 64 of kind and frames: equal for dumps of one
//        group, stable across runs and versions of this tool as long as the
//        rules above do not change.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/summary.h"
#include "cli/thread_report.h"

namespace vmc::cli {

struct CrashSignature {
  std::string kind;
  std::vector<std::string> frames;
  std::string id;
  // Why `frames` is empty or short ("no crashing task", "the trace stopped: …").
  std::optional<std::string> note;
};

constexpr unsigned kDefaultSignatureDepth = 5;

// `crashed`: the crashing task's trace (null when it is not known);
// `user_limit` as for crash_kind().
CrashSignature make_signature(const Summary& m, const ReportThread* crashed, unsigned depth, uint64_t user_limit);

// The crash kind (see above). A fault address below `user_limit` is "a
// user address", at or above it "a kernel address".
std::string crash_kind(const Summary& m, uint64_t user_limit);
// True for the generic crash-path functions the signature skips.
bool is_crash_plumbing(std::string_view function);
// A symbol without the suffixes compilers add to parts and clones of a
// function: "oops_end.cold" and "foo.constprop.0.isra.0" give "oops_end" and "foo".
std::string strip_clone_suffixes(std::string_view symbol);
// Numbers (decimal, 0x-hex, and bare hex of 8 or more digits) that stand
// alone become "N"; digits inside identifiers ("ext4") stay.
std::string mask_numbers(std::string_view text);

}  // namespace vmc::cli
