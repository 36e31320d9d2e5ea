// The unwinder against independent unwinders on real process cores.
//
// tests/programs/make-cores.sh builds oracle_threads.c in several variants
// (-m64/-m32, -O2 with and without frame pointers, -O0), runs each under
// gdb to a breakpoint, a SIGSEGV, an abort() and a breakpoint in a signal
// handler running on an alternate stack, writes a core with gcore
// and records gdb's own backtrace PCs. Every thread of every core is then
// unwound by vmc (ProcessCore + unwind()) and, for x86-64, by libunwind's
// remote API with accessors over vmc's ProcessCore memory; the PC lists
// must be identical. The cores are made at test time (first test to run,
// under a lock), never committed.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "kvm/process_core.h"

#ifdef VMC_HAVE_LIBUNWIND_X86_64
#define UNW_REMOTE_ONLY
#include <libunwind.h>
#endif

namespace vmc {
namespace {

#ifdef VMC_PROCESS_CORES_DIR
const char* const kCoresDir = VMC_PROCESS_CORES_DIR;
const char* const kMakeCores = VMC_MAKE_PROCESS_CORES;
#else
const char* const kCoresDir = nullptr;
const char* const kMakeCores = nullptr;
#endif

// Runs make-cores.sh once per process (the script itself is idempotent
// and locked across processes). Empty string on success, else why not.
const std::string& ensure_cores() {
  static const std::string why = [] {
    if (!kCoresDir) return std::string("the oracle needs an x86-64 host build");
    std::string cmd = fmt::format("'{}' '{}' >'{}.log' 2>&1", kMakeCores, kCoresDir, kCoresDir);
    int rc = std::system(cmd.c_str());
    if (rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0) return std::string();
    if (rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 77)
      return fmt::format("make-cores.sh cannot run here (gcc or gdb missing; see {}.log)", kCoresDir);
    return fmt::format("make-cores.sh failed (status {}); see {}.log", rc, kCoresDir);
  }();
  return why;
}

using PcList = std::vector<uint64_t>;

std::map<int32_t, PcList> read_gdb_pcs(const std::string& path) {
  std::map<int32_t, PcList> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    int32_t tid = 0;
    ls >> tid;
    PcList pcs;
    std::string tok;
    while (ls >> tok) pcs.push_back(std::stoull(tok, nullptr, 16));
    out[tid] = pcs;
  }
  return out;
}

std::string show(const PcList& l) {
  std::string s;
  for (uint64_t p : l) s += fmt::format(" {:#x}", p);
  return s;
}

#ifdef VMC_HAVE_LIBUNWIND_X86_64
// ---- libunwind remote accessors over a ProcessCore ----------------------

extern "C" int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip, unw_dyn_info_t* di,
                                                 unw_proc_info_t* pi, int need_unwind_info, void* arg);

struct UnwArg {
  ProcessCore* core;
  const ProcessThread* thread;
};

int acc_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t* pi, int need_unwind_info, void* arg) {
  auto* a = static_cast<UnwArg*>(arg);
  const CodeImage* img = a->core->code().find(ip);
  if (!img) return -UNW_ENOINFO;
  // .eh_frame_hdr's binary-search table, as the runtime linker would use
  // it. Mapped files have their section headers; the vDSO's are read from
  // its image in memory.
  uint64_t hdr = 0;
  if (img->elf) {
    const ElfSection* s = img->elf->section(".eh_frame_hdr");
    if (!s) return -UNW_ENOINFO;
    hdr = s->addr + uint64_t(img->bias);
  } else {
    return -UNW_ENOINFO;  // [vdso] only appears on i386, which libunwind-x86_64 does not unwind
  }
  uint8_t h[12];
  if (!a->core->read_virt(hdr, h)) return -UNW_ENOINFO;
  // version 1, eh_frame_ptr pcrel|sdata4, fde_count udata4, table datarel|sdata4
  if (h[0] != 1 || h[1] != 0x1b || h[2] != 0x03 || h[3] != 0x3b) return -UNW_ENOINFO;
  uint32_t count = load_u32(h + 8, Endian::kLittle);
  unw_dyn_info_t di{};
  di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
  for (auto [lo, hi] : img->text)
    if (ip >= lo && ip < hi) {
      di.start_ip = lo;
      di.end_ip = hi;
    }
  di.u.rti.segbase = hdr;
  di.u.rti.table_data = hdr + 12;
  di.u.rti.table_len = count * 8 / sizeof(unw_word_t);
  return _Ux86_64_dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
}

void acc_put_unwind_info(unw_addr_space_t, unw_proc_info_t*, void*) {}

int acc_get_dyn_info_list_addr(unw_addr_space_t, unw_word_t*, void*) { return -UNW_ENOINFO; }

int acc_access_mem(unw_addr_space_t, unw_word_t addr, unw_word_t* val, int write, void* arg) {
  if (write) return -UNW_EINVAL;
  uint8_t b[8];
  if (!static_cast<UnwArg*>(arg)->core->read_virt(addr, b)) return -UNW_EINVAL;
  *val = load_u64(b, Endian::kLittle);
  return 0;
}

int acc_access_reg(unw_addr_space_t, unw_regnum_t reg, unw_word_t* val, int write, void* arg) {
  // libunwind's x86-64 numbering of rax..r15, rip is the DWARF numbering.
  if (write || reg < 0 || reg > UNW_X86_64_RIP) return -UNW_EBADREG;
  auto v = static_cast<UnwArg*>(arg)->thread->regs.get(unsigned(reg));
  if (!v) return -UNW_EBADREG;
  *val = *v;
  return 0;
}

int acc_access_fpreg(unw_addr_space_t, unw_regnum_t, unw_fpreg_t*, int, void*) { return -UNW_EBADREG; }
int acc_resume(unw_addr_space_t, unw_cursor_t*, void*) { return -UNW_EINVAL; }
int acc_get_proc_name(unw_addr_space_t, unw_word_t, char*, size_t, unw_word_t*, void*) { return -UNW_ENOINFO; }

PcList libunwind_pcs(ProcessCore& core, const ProcessThread& t, std::string* err) {
  unw_accessors_t acc{};
  acc.find_proc_info = acc_find_proc_info;
  acc.put_unwind_info = acc_put_unwind_info;
  acc.get_dyn_info_list_addr = acc_get_dyn_info_list_addr;
  acc.access_mem = acc_access_mem;
  acc.access_reg = acc_access_reg;
  acc.access_fpreg = acc_access_fpreg;
  acc.resume = acc_resume;
  acc.get_proc_name = acc_get_proc_name;
  unw_addr_space_t as = unw_create_addr_space(&acc, 0);
  UnwArg arg{&core, &t};
  unw_cursor_t c;
  PcList out;
  int rc = unw_init_remote(&c, as, &arg);
  if (rc < 0) {
    *err = fmt::format("unw_init_remote: {}", rc);
  } else {
    for (int i = 0; i < 256; ++i) {
      unw_word_t ip = 0;
      unw_get_reg(&c, UNW_REG_IP, &ip);
      out.push_back(ip);
      rc = unw_step(&c);
      if (rc <= 0) {
        if (rc < 0) *err = fmt::format("unw_step: {}", rc);
        break;
      }
    }
  }
  unw_destroy_addr_space(as);
  return out;
}
#endif

struct Case {
  std::string variant, mode;
  std::string dir() const { return fmt::format("{}/{}-{}", kCoresDir, variant, mode); }
  std::string prog() const { return fmt::format("{}/{}/prog", kCoresDir, variant); }
  bool m32() const { return variant.rfind("m32", 0) == 0; }
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const char* v : {"m64-O2-fp", "m64-O2-nofp", "m64-O0", "m32-O2-fp", "m32-O2-nofp"})
    for (const char* m : {"stop", "segv", "abort", "signal"}) out.push_back({v, m});
  return out;
}

class UnwindOracle : public ::testing::TestWithParam<Case> {};

TEST_P(UnwindOracle, SamePcListsForEveryThread) {
  const std::string& why = ensure_cores();
  if (!why.empty()) GTEST_SKIP() << why;
  const Case& c = GetParam();
  if (!std::ifstream(c.dir() + "/core")) {
    if (c.m32()) GTEST_SKIP() << "no -m32 cores (gcc -m32 cannot link here)";
    FAIL() << "no core in " << c.dir();
  }
  auto core = ProcessCore::open(c.dir() + "/core", c.prog());
  ASSERT_TRUE(core.ok()) << core.error().message();
  for (const auto& w : (*core)->warnings()) ADD_FAILURE() << "warning: " << w;
  auto gdb = read_gdb_pcs(c.dir() + "/gdb-pcs.txt");
  ASSERT_EQ((*core)->threads().size(), gdb.size());
  ASSERT_EQ((*core)->threads().size(), 4u);

  unsigned frames = 0, lu_threads = 0;
  for (const ProcessThread& t : (*core)->threads()) {
    SCOPED_TRACE(fmt::format("{} thread {}", c.dir(), t.tid));
    Frame f0 = (*core)->initial_frame(t);
    auto r = unwind((*core)->machine(), **core, (*core)->code(), f0, {});
    PcList ours;
    for (const Frame& f : r.frames) ours.push_back(f.pc);
    EXPECT_TRUE(r.complete) << r.stop_reason;
    // Each frame below the outermost one was found through CFI.
    for (size_t i = 1; i < r.frames.size(); ++i) EXPECT_EQ(r.frames[i].how, UnwoundBy::kCfi) << i;
    ASSERT_TRUE(gdb.count(t.tid)) << "gdb saw no thread " << t.tid;
    EXPECT_EQ(ours, gdb[t.tid]) << "vmc:" << show(ours) << "\ngdb:" << show(gdb[t.tid]);
    frames += unsigned(ours.size());
#ifdef VMC_HAVE_LIBUNWIND_X86_64
    if (!c.m32()) {
      std::string err;
      PcList lu = libunwind_pcs(**core, t, &err);
      EXPECT_EQ(err, "");
      EXPECT_EQ(ours, lu) << "vmc:" << show(ours) << "\nlibunwind:" << show(lu);
      ++lu_threads;
    }
#endif
  }
  RecordProperty("frames", int(frames));
  RecordProperty("libunwind_threads", int(lu_threads));
  std::cout << fmt::format("[ oracle   ] {}-{}: {} threads, {} frames; gdb agrees{}\n", c.variant, c.mode,
                           (*core)->threads().size(), frames, lu_threads ? ", libunwind agrees" : "");
}

INSTANTIATE_TEST_SUITE_P(Cores, UnwindOracle, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           std::string n = i.param.variant + "_" + i.param.mode;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace vmc
