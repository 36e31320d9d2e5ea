#include "kvm/linux/tasks.h"

#include <unordered_set>

namespace vmc {

namespace {

constexpr size_t kMaxTasks = 1u << 20;
constexpr size_t kMaxThreadsPerGroup = 1u << 20;
constexpr unsigned kMaxCpus = 8192;

// Member offsets of task_struct and friends that the walk needs.
struct TaskLayout {
  uint64_t size = 0;
  uint64_t tasks = 0, pid = 0, tgid = 0, comm = 0, state = 0, exit_state = 0, stack = 0, thread_sp = 0, mm = 0,
           flags = 0, signal = 0;
  std::optional<uint64_t> cpu, thread_node, thread_group;
  std::optional<uint64_t> sig_thread_head;
  unsigned state_size = 8;
};

Result<TaskLayout> task_layout(Session& s) {
  TypeIndex* t = s.types();
  if (!t) return make_error(Errc::kNotFound, "the vmlinux has no DWARF: task structures are unknown");
  TaskLayout l;
  auto ctx = [](Result<uint64_t> r, const char* what) { return std::move(r).context(what); };
  VMC_ASSIGN(l.size, t->struct_size("task_struct"));
  VMC_ASSIGN(l.tasks, ctx(t->offset("task_struct", "tasks"), "task list"));
  VMC_ASSIGN(l.pid, t->offset("task_struct", "pid"));
  VMC_ASSIGN(l.tgid, t->offset("task_struct", "tgid"));
  VMC_ASSIGN(l.comm, t->offset("task_struct", "comm"));
  VMC_ASSIGN(l.stack, t->offset("task_struct", "stack"));
  VMC_ASSIGN(l.thread_sp, t->offset("task_struct", "thread.sp"));
  VMC_ASSIGN(l.mm, t->offset("task_struct", "mm"));
  VMC_ASSIGN(l.flags, t->offset("task_struct", "flags"));
  VMC_ASSIGN(l.signal, t->offset("task_struct", "signal"));
  VMC_ASSIGN(l.exit_state, t->offset("task_struct", "exit_state"));
  auto st = t->member("task_struct", "__state");  // 5.14+
  if (!st) st = t->member("task_struct", "state");
  if (!st) return std::move(st).error();
  l.state = st->offset;
  l.state_size = unsigned(st->size.value_or(8));
  if (auto c = t->offset("task_struct", "cpu")) l.cpu = *c;
  else if (auto c2 = t->offset("task_struct", "thread_info.cpu")) l.cpu = *c2;
  if (auto n = t->offset("task_struct", "thread_node"); n && t->has_member("signal_struct", "thread_head")) {
    l.thread_node = *n;
    l.sig_thread_head = *t->offset("signal_struct", "thread_head");
  } else if (auto g = t->offset("task_struct", "thread_group")) {
    l.thread_group = *g;
  }
  return l;
}

}  // namespace

char task_state_char(uint64_t state, uint64_t exit_state) {
  if (exit_state & 0x20) return 'Z';
  if (exit_state & 0x10) return 'X';
  if (state == 0) return 'R';
  if ((state & 0x402) == 0x402) return 'I';  // TASK_IDLE = UNINTERRUPTIBLE | NOLOAD
  if (state & 0x1) return 'S';
  if (state & 0x2) return 'D';
  if (state & 0x4) return 'T';
  if (state & 0x8) return 't';
  if (state & 0x40) return 'P';
  return '?';
}

const Task* TaskList::find(kvaddr_t addr) const {
  for (const auto& t : tasks)
    if (t.addr == addr) return &t;
  return nullptr;
}

const Task* TaskList::find_pid(int32_t pid) const {
  for (const auto& t : tasks)
    if (t.pid == pid && !t.idle) return &t;
  return nullptr;
}

Result<TaskList> load_tasks(Session& s) {
  VMC_ASSIGN(TaskLayout l, task_layout(s));
  TaskList out;
  const unsigned ws = s.minfo().ptr_size;
  const Endian e = s.dump().endian();

  // Kernel stack size: the init task's stack runs from init_stack to __end_init_task.
  auto is = s.symbol_address("init_stack"), ie = s.symbol_address("__end_init_task");
  out.thread_size = (is && ie && *ie > *is && *ie - *is <= (1u << 20)) ? *ie - *is
                    : s.machine() == Machine::kX86_64 ? 16384 : 8192;

  // Reads the fields the report needs. The whole struct in one read when
  // possible; else field by field, because a filtered dump may exclude a
  // page of the struct that holds only zeros (makedumpfile -d 1) while the
  // fields that matter lie in pages that were kept.
  auto read_task = [&](kvaddr_t a) -> Result<Task> {
    std::vector<uint8_t> b(l.size);
    bool whole = s.read(a, b).ok();
    auto field = [&](uint64_t off, unsigned width) -> Result<uint64_t> {
      if (whole) return load_uint(b.data() + off, width, e);
      return s.read_uint(a + off, width).context(fmt::format("task {:#x}", a));
    };
    Task t;
    t.addr = a;
    VMC_ASSIGN(uint64_t pid, field(l.pid, 4));
    VMC_ASSIGN(uint64_t tgid, field(l.tgid, 4));
    t.pid = int32_t(pid);
    t.tgid = int32_t(tgid);
    if (whole) {
      const char* c = reinterpret_cast<const char*>(b.data() + l.comm);
      t.comm.assign(c, strnlen(c, 16));
    } else {
      VMC_ASSIGN(t.comm, s.read_cstr(a + l.comm, 16));
    }
    VMC_ASSIGN(t.state, field(l.state, l.state_size));
    t.exit_state = field(l.exit_state, 4).value_or(0);
    t.state_char = task_state_char(t.state, t.exit_state);
    VMC_ASSIGN(t.stack, field(l.stack, ws));
    VMC_ASSIGN(t.thread_sp, field(l.thread_sp, ws));
    t.mm = field(l.mm, ws).value_or(0);
    t.kthread = (field(l.flags, 4).value_or(0) & 0x00200000) != 0;  // PF_KTHREAD
    if (l.cpu) t.cpu = int(field(*l.cpu, 4).value_or(uint64_t(-1)));
    return t;
  };

  // CPUs: possible = nr_cpu_ids; online from __cpu_online_mask.
  unsigned ncpu = 1;
  if (auto a = s.symbol_address("nr_cpu_ids"))
    if (auto v = s.read_uint(*a, 4); v && *v > 0 && *v <= kMaxCpus) ncpu = unsigned(*v);
  out.cpu_current.assign(ncpu, 0);
  // After a panic the other CPUs have taken themselves offline
  // (stop_this_cpu), so CPUs are enumerated from the possible mask; the
  // online mask is kept as information.
  auto read_mask = [&](const char* sym, std::vector<bool>& v) {
    v.assign(ncpu, true);
    if (auto m = s.symbol_address(sym)) {
      for (unsigned c = 0; c < ncpu; ++c) {
        auto w = s.read_ulong(*m + (c / (ws * 8)) * ws);
        if (w) v[c] = (*w >> (c % (ws * 8))) & 1;
      }
    }
  };
  std::vector<bool> possible;
  read_mask("__cpu_possible_mask", possible);
  read_mask("__cpu_online_mask", out.cpu_online);
  if (auto a = s.symbol_address("panic_cpu"))
    if (auto v = s.read_uint(*a, 4); v && int32_t(*v) >= 0 && unsigned(*v) < ncpu) out.panic_cpu = int32_t(*v);

  std::unordered_set<kvaddr_t> seen;
  auto add = [&](Task t) {
    if (seen.insert(t.addr).second) out.tasks.push_back(std::move(t));
  };

  // Idle and current task of each CPU.
  TypeIndex* ti = s.types();
  auto rq_idle = ti->offset("rq", "idle"), rq_curr = ti->offset("rq", "curr");
  for (unsigned c = 0; c < ncpu; ++c) {
    if (!possible[c]) continue;
    kvaddr_t idle = 0;
    if (rq_idle) {
      if (auto rq = s.percpu_address("runqueues", c))
        if (auto v = s.read_ulong(*rq + *rq_idle)) idle = *v;
    }
    if (!idle && c == 0) idle = *s.symbol_address("init_task");
    if (idle) {
      auto t = read_task(idle);
      if (t) {
        t->idle = true;
        t->cpu = int(c);
        add(std::move(*t));
      } else {
        out.warnings.push_back(fmt::format("CPU {} idle task at {:#x}: {}", c, idle, t.error().message()));
      }
    }
    kvaddr_t cur = 0;
    for (const char* sym : {"current_task", "pcpu_hot"}) {  // pcpu_hot.current_task is offset 0 (6.2+)
      if (auto a = s.percpu_address(sym, c))
        if (auto v = s.read_ulong(*a)) { cur = *v; break; }
    }
    if (!cur && rq_curr) {
      if (auto rq = s.percpu_address("runqueues", c))
        if (auto v = s.read_ulong(*rq + *rq_curr)) cur = *v;
    }
    out.cpu_current[c] = cur;
  }

  // init_task.tasks: one entry per thread group leader.
  VMC_ASSIGN(kvaddr_t init, s.symbol_address("init_task"));
  kvaddr_t head = init + l.tasks;
  VMC_ASSIGN(kvaddr_t p, s.read_ulong(head));
  std::unordered_set<kvaddr_t> leaders_seen;
  size_t n = 0;
  for (; p != head; ++n) {
    if (n >= kMaxTasks) {
      out.warnings.push_back(fmt::format("task list longer than {} entries: stopped", kMaxTasks));
      break;
    }
    if (!leaders_seen.insert(p).second) {
      out.warnings.push_back(fmt::format("task list has a cycle at {:#x} that does not return to init_task: stopped", p));
      break;
    }
    kvaddr_t leader = p - l.tasks;
    auto t = read_task(leader);
    kvaddr_t leader_signal = 0;
    if (!t) {
      out.warnings.push_back(fmt::format("task at {:#x} skipped: {}", leader, t.error().message()));
    } else {
      if (auto sig = s.read_ulong(leader + l.signal)) leader_signal = *sig;
      add(std::move(*t));
    }
    // The group's other threads.
    if (l.thread_node && leader_signal) {
      kvaddr_t th_head = leader_signal + *l.sig_thread_head;
      auto q = s.read_ulong(th_head);
      std::unordered_set<kvaddr_t> th_seen;
      for (size_t k = 0; q && *q != th_head && k < kMaxThreadsPerGroup; ++k) {
        if (!th_seen.insert(*q).second) {
          out.warnings.push_back(fmt::format("thread list of {:#x} has a cycle at {:#x}", leader, *q));
          break;
        }
        kvaddr_t ta = *q - *l.thread_node;
        if (ta != leader) {
          auto tt = read_task(ta);
          if (tt) add(std::move(*tt));
          else out.warnings.push_back(fmt::format("thread at {:#x} skipped: {}", ta, tt.error().message()));
        }
        q = s.read_ulong(*q);
      }
      if (!q) out.warnings.push_back(fmt::format("thread list of {:#x}: {}", leader, q.error().message()));
    } else if (l.thread_group) {
      kvaddr_t th_head = leader + *l.thread_group;
      auto q = s.read_ulong(th_head);
      std::unordered_set<kvaddr_t> th_seen;
      for (size_t k = 0; q && *q != th_head && k < kMaxThreadsPerGroup && th_seen.insert(*q).second; ++k) {
        auto tt = read_task(*q - *l.thread_group);
        if (!tt) break;
        add(std::move(*tt));
        q = s.read_ulong(*q);
      }
    }
    auto nx = s.read_ulong(p);
    if (!nx) {
      out.warnings.push_back(fmt::format("task list entry {:#x}: {} (walk stopped)", p, nx.error().message()));
      break;
    }
    p = *nx;
  }

  // Mark what runs where (a current task missing from the lists is added).
  for (unsigned c = 0; c < ncpu; ++c) {
    kvaddr_t cur = out.cpu_current[c];
    if (!cur) continue;
    bool found = false;
    for (auto& t : out.tasks) {
      if (t.addr == cur && (!t.idle || t.cpu == int(c))) {
        t.active_cpu = int(c);
        found = true;
      }
    }
    if (!found) {
      if (auto t = read_task(cur)) {
        t->active_cpu = int(c);
        out.warnings.push_back(fmt::format("CPU {} current task {:#x} (pid {}) is on no task list", c, cur, t->pid));
        add(std::move(*t));
      }
    }
  }
  return out;
}

}  // namespace vmc
