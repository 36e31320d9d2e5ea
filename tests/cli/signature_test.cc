// Crash signatures (src/cli/signature.h): the crash kind from the log's
// headline, the frames outside the crash plumbing, a stable id. The frame
// sequences below are the shapes real traces have (see the corpus: a QEMU
// dump of a panicked guest starts in the panic loop, a kdump of an oops at
// the faulting function); tests/real/triage_test.cc checks the real ones.
#include <gtest/gtest.h>

#include "cli/signature.h"

namespace vmc::cli {
namespace {

constexpr uint64_t kUser64 = 1ULL << 63;

struct F {
  F(std::string f, std::string s = "", bool inl = false, UnwoundBy h = UnwoundBy::kCfi, bool u = false)
      : function(std::move(f)), symbol(std::move(s)), inlined(inl), how(h), user(u) {}
  std::string function, symbol;
  bool inlined;
  UnwoundBy how;
  bool user;
};

// Frames in order; an inlined frame shares the physical number of the
// frame after it (as the report builds them: inlined callees first).
ReportThread thread(const std::vector<F>& fs) {
  ReportThread t;
  t.crashed = true;
  size_t phys = 0;
  for (size_t i = 0; i < fs.size(); ++i) {
    ReportFrame r;
    r.physical = phys;
    r.index = phys;
    r.how = fs[i].how;
    r.user_mode = fs[i].user;
    r.fn.function = fs[i].function;
    r.fn.symbol = fs[i].symbol.empty() ? fs[i].function : fs[i].symbol;
    r.fn.inlined = fs[i].inlined;
    t.frames.push_back(r);
    if (!fs[i].inlined) ++phys;
  }
  return t;
}

Summary oops(std::string headline, std::optional<uint64_t> fault = std::nullopt) {
  Summary m;
  m.oops = std::move(headline);
  m.panic_message = "Fatal exception";
  m.fault_address = fault;
  return m;
}

Summary panicked(std::optional<std::string> message) {
  Summary m;
  m.panic_message = std::move(message);
  return m;
}

TEST(Signature, MaskNumbers) {
  EXPECT_EQ(mask_numbers("tag=0x5171c addr=0xffffffffc0240160"), "tag=N addr=N");
  EXPECT_EQ(mask_numbers("Watchdog detected hard LOCKUP on cpu 1"), "Watchdog detected hard LOCKUP on cpu N");
  EXPECT_EQ(mask_numbers("page fault for address: ffffcdc280046048"), "page fault for address: N");
  EXPECT_EQ(mask_numbers("ext4 and i915 stay; so do 1st, dead and deadbeef"), "ext4 and i915 stay; so do 1st, dead and deadbeef");
  EXPECT_EQ(mask_numbers("unknown-block(0,0)"), "unknown-block(N,N)");
  EXPECT_EQ(mask_numbers(""), "");
}

TEST(Signature, StripCloneSuffixes) {
  EXPECT_EQ(strip_clone_suffixes("oops_end.cold"), "oops_end");
  EXPECT_EQ(strip_clone_suffixes("vmcargs_crash_clone.constprop.0.isra.0"), "vmcargs_crash_clone");
  EXPECT_EQ(strip_clone_suffixes("foo.part.3"), "foo");
  EXPECT_EQ(strip_clone_suffixes("bar.llvm.123456"), "bar");
  EXPECT_EQ(strip_clone_suffixes("plain"), "plain");
  EXPECT_EQ(strip_clone_suffixes(".cold"), ".cold");  // nothing before the suffix: not a clone
}

TEST(Signature, CrashKindFromTheOopsHeadline) {
  EXPECT_EQ(crash_kind(oops("BUG: unable to handle page fault for address: 0000000000001234", 0x1234), kUser64),
            "BUG: unable to handle page fault for a user address");
  EXPECT_EQ(crash_kind(oops("BUG: unable to handle page fault for address: ffffcdc280046048", 0xffffcdc280046048),
                       kUser64),
            "BUG: unable to handle page fault for a kernel address");
  // i386: the split is PAGE_OFFSET.
  EXPECT_EQ(crash_kind(oops("BUG: unable to handle page fault for address: 00001234", 0x1234), 0xc0000000),
            "BUG: unable to handle page fault for a user address");
  EXPECT_EQ(crash_kind(oops("BUG: unable to handle page fault for address: f8a01000", 0xf8a01000), 0xc0000000),
            "BUG: unable to handle page fault for a kernel address");
  EXPECT_EQ(crash_kind(oops("BUG: kernel NULL pointer dereference, address: 0000000000000008", 8), kUser64),
            "BUG: kernel NULL pointer dereference");
  EXPECT_EQ(crash_kind(oops("general protection fault, probably for non-canonical address 0xdead00000000beef: 0000 "
                            "[#1] PREEMPT SMP NOPTI"),
                       kUser64),
            "general protection fault for a non-canonical address");
  EXPECT_EQ(crash_kind(oops("general protection fault: 0000 [#1] SMP"), kUser64), "general protection fault");
  EXPECT_EQ(crash_kind(oops("kernel BUG at /var/tmp/build-1/vmcargs.c:575!"), kUser64), "kernel BUG at vmcargs.c:575");
  EXPECT_EQ(crash_kind(oops("invalid opcode: 0000 [#1] PREEMPT SMP NOPTI"), kUser64), "invalid opcode");
  EXPECT_EQ(crash_kind(oops("divide error: 0000 [#2] SMP PTI"), kUser64), "divide error");
}

TEST(Signature, CrashKindFromThePanicMessage) {
  EXPECT_EQ(crash_kind(panicked("vmcargs: panic requested, tag=0x5171c addr=0xffffffffc0240160"), kUser64),
            "panic: vmcargs: panic requested, tag=N addr=N");
  EXPECT_EQ(crash_kind(panicked("sysrq triggered crash"), kUser64), "panic: sysrq triggered crash");
  EXPECT_EQ(crash_kind(panicked(std::nullopt), kUser64), "no panic or oops message in the log");
}

// A QEMU dump of a guest that oopsed and panicked: the panic CPU spins in
// panic()'s delay loop; the oops path and the exception entry lie between
// it and the faulting function.
TEST(Signature, QemuDumpOfAnOopsSkipsThePanicLoopAndTheFaultPath) {
  auto t = thread({{"__preempt_count_add", "", true, UnwoundBy::kRegs},
                   {"delay_tsc", "", false, UnwoundBy::kRegs},
                   {"panic"},
                   {"oops_end", "oops_end.cold"},
                   {"page_fault_oops"},
                   {"handle_page_fault", "exc_page_fault", true},
                   {"exc_page_fault"},
                   {"asm_exc_page_fault"},
                   {"bad_fn", "", false, UnwoundBy::kException},
                   {"caller_one", "caller_one.constprop.0.isra.0"},
                   {"helper", "caller_two", true},
                   {"caller_two"},
                   {"vfs_write"},
                   {"ksys_write"},
                   {"", "", false, UnwoundBy::kException, true}});
  auto s = make_signature(oops("BUG: unable to handle page fault for address: 0000000000001234", 0x1234), &t, 5, kUser64);
  EXPECT_EQ(s.kind, "BUG: unable to handle page fault for a user address");
  EXPECT_EQ(s.frames, (std::vector<std::string>{"bad_fn", "caller_one", "helper", "caller_two", "vfs_write"}));
  EXPECT_FALSE(s.note);
  EXPECT_EQ(s.id.size(), 16u);

  // A kdump of the same oops starts at the faulting function itself (the
  // crash notes hold the exception's registers): same signature.
  auto k = thread({{"bad_fn", "", false, UnwoundBy::kRegs},
                   {"caller_one"},
                   {"helper", "caller_two", true},
                   {"caller_two"},
                   {"vfs_write"},
                   {"ksys_write"}});
  auto sk = make_signature(oops("BUG: unable to handle page fault for address: 0000000000001234", 0x1234), &k, 5, kUser64);
  EXPECT_EQ(sk.frames, s.frames);
  EXPECT_EQ(sk.id, s.id);
}

// Whatever the panic CPU was doing inside panic() when the dump was taken
// (printk, console drivers) is not the bug, named in the plumbing list or not.
TEST(Signature, EverythingInsidePanicIsSkipped) {
  auto t = thread({{"serial8250_console_putchar", "", false, UnwoundBy::kRegs},
                   {"uart_console_write"},
                   {"console_flush_all"},
                   {"panic"},
                   {"my_driver_check"},
                   {"my_driver_ioctl"},
                   {"", "", false, UnwoundBy::kException, true}});
  Summary m = panicked("my_driver: state 3 is impossible");
  auto s = make_signature(m, &t, 5, kUser64);
  EXPECT_EQ(s.kind, "panic: my_driver: state N is impossible");
  EXPECT_EQ(s.frames, (std::vector<std::string>{"my_driver_check", "my_driver_ioctl"}));
}

// A panic called from an interrupt handler: the handler is the bug, the
// interrupt entry outside it is not skipped (it is not contiguous with the
// crash path) and the trace goes on to the interrupted task.
TEST(Signature, PanicInAnInterruptHandlerKeepsTheHandler) {
  auto t = thread({{"delay_tsc", "", false, UnwoundBy::kRegs},
                   {"panic"},
                   {"my_timer_fn"},
                   {"call_timer_fn"},
                   {"__run_timers"},
                   {"sysvec_apic_timer_interrupt"},
                   {"asm_sysvec_apic_timer_interrupt"},
                   {"default_idle", "", false, UnwoundBy::kException}});
  Summary m = panicked("timer went bad");
  auto s = make_signature(m, &t, 3, kUser64);
  EXPECT_EQ(s.frames, (std::vector<std::string>{"my_timer_fn", "call_timer_fn", "__run_timers"}));
}

// A crash-path name in an interrupted context (after an exception frame)
// is not taken for the crash entry.
TEST(Signature, CrashEntriesAfterTheFirstExceptionFrameDoNotCount) {
  auto t = thread({{"bad_fn", "", false, UnwoundBy::kRegs},
                   {"irq_handler"},
                   {"asm_common_interrupt"},
                   {"panic", "", false, UnwoundBy::kException},
                   {"other"}});
  auto s = make_signature(oops("BUG: kernel NULL pointer dereference, address: 0000000000000000", 0), &t, 2, kUser64);
  EXPECT_EQ(s.frames, (std::vector<std::string>{"bad_fn", "irq_handler"}));
}

TEST(Signature, NoCrashedTaskOrAStoppedTraceSaysWhy) {
  Summary m = panicked("hung_task: blocked tasks");
  auto s = make_signature(m, nullptr, 5, kUser64);
  EXPECT_TRUE(s.frames.empty());
  ASSERT_TRUE(s.note);
  EXPECT_NE(s.note->find("not known"), std::string::npos);

  auto t = thread({{"delay_tsc", "", false, UnwoundBy::kRegs}, {"panic"}, {"my_fn"}});
  t.error = "pc 0x0 is in no known code";
  auto st = make_signature(m, &t, 5, kUser64);
  EXPECT_EQ(st.frames, (std::vector<std::string>{"my_fn"}));
  ASSERT_TRUE(st.note);
  EXPECT_NE(st.note->find("pc 0x0"), std::string::npos);
}

TEST(Signature, IdDependsOnKindAndFramesOnly) {
  auto a = thread({{"panic", "", false, UnwoundBy::kRegs}, {"x"}, {"y"}});
  auto b = thread({{"delay_tsc", "", false, UnwoundBy::kRegs}, {"panic"}, {"x"}, {"y"}});
  Summary m = panicked("boom at 0xffffffff81000000");
  Summary n = panicked("boom at 0xffffffff9a000000");  // another KASLR offset
  EXPECT_EQ(make_signature(m, &a, 5, kUser64).id, make_signature(n, &b, 5, kUser64).id);
  Summary o = panicked("another message");
  EXPECT_NE(make_signature(m, &a, 5, kUser64).id, make_signature(o, &a, 5, kUser64).id);
  EXPECT_NE(make_signature(m, &a, 5, kUser64).id, make_signature(m, &a, 1, kUser64).id);
}

TEST(Signature, PlumbingList) {
  for (const char* f : {"panic", "oops_end", "die", "__die", "do_trap", "page_fault_oops", "exc_page_fault",
                        "asm_exc_invalid_op", "handle_exception", "delay_tsc", "__const_udelay", "__crash_kexec"})
    EXPECT_TRUE(is_crash_plumbing(f)) << f;
  for (const char* f : {"", "vfs_write", "sysrq_handle_crash", "vmcargs_crash_now", "panicky_driver_fn", "exc"})
    EXPECT_FALSE(is_crash_plumbing(f)) << f;
}

}  // namespace
}  // namespace vmc::cli
