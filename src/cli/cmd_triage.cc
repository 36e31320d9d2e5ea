// `vmcore-args triage PATH...`: many dumps grouped by crash signature.
//
// 1. Discover: files under the PATHs whose first bytes say "crash dump";
//    everything else is listed as skipped.
// 2. Identify (forked workers): each dump's release and build-id, and what
//    it says without a vmlinux (format, panic message).
// 3. Find each dump's vmlinux (VmlinuxFinder).
// 4. Analyse, one kernel at a time: the parent opens and fully indexes the
//    vmlinux (KernelImage::warm), then forks workers that each analyse one
//    dump against the shared index and send back one JSON line.
// 5. Group by signature id and print.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/fork_pool.h"
#include "cli/signature.h"
#include "cli/thread_report.h"
#include "kvm/vmlinux_lookup.h"

namespace vmc::cli {

namespace {

namespace fs = std::filesystem;
using J = nlohmann::ordered_json;

constexpr size_t kMaxDumps = 1u << 20;  // paths collected at most

struct Skipped {
  std::string path, why;
};

struct Entry {
  std::string path;
  // Identification.
  std::string release, build_id;
  J known;  // {"dump", "panic"} learned without a vmlinux (for error rows)
  std::string vmlinux;
  // Result.
  bool finished = false;
  std::optional<std::string> error;
  int exit_code = 0;
  std::string group, crash;
  std::vector<std::string> signature;
  std::optional<int64_t> crash_time;
  // The full JSON line in the spool file.
  long spool_off = -1;
  size_t spool_len = 0;
};

struct Group {
  std::string id, crash;
  std::vector<std::string> signature;
  std::vector<size_t> members;  // entry indexes, path order
  std::set<std::string> releases;
  std::optional<int64_t> first, last;
};

// ISO 8601, for JSON.
std::string iso_time(int64_t t) { return utc_time(t, "%Y-%m-%dT%H:%M:%SZ"); }

// ---- 1. discovery ----------------------------------------------------------

void consider_file(const std::string& p, std::vector<Entry>& dumps, std::vector<Skipped>& skipped) {
  auto sn = sniff_dump_file(p);
  if (!sn) {
    skipped.push_back({p, sn.error().message()});
    return;
  }
  if (!sn->dump) {
    skipped.push_back({p, sn->what});
    return;
  }
  if (sn->elf_core && is_process_core(p)) {
    skipped.push_back({p, "a user-space process core (triage groups kernel dumps)"});
    return;
  }
  if (dumps.size() >= kMaxDumps) {
    skipped.push_back({p, fmt::format("more than {} dumps in one run", kMaxDumps)});
    return;
  }
  Entry e;
  e.path = p;
  dumps.push_back(std::move(e));
}

void discover(const std::vector<std::string>& paths, std::vector<Entry>& dumps, std::vector<Skipped>& skipped) {
  for (const auto& p : paths) {
    std::error_code ec;
    if (!fs::is_directory(p, ec)) {
      if (fs::is_regular_file(p, ec)) consider_file(p, dumps, skipped);
      else skipped.push_back({p, "not a regular file or directory"});
      continue;
    }
    std::vector<std::string> files;
    fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      std::error_code e2;
      if (it->is_symlink(e2) && it->is_directory(e2)) {
        it.disable_recursion_pending();  // no cycles through links
        continue;
      }
      if (it->is_regular_file(e2)) files.push_back(it->path().string());
    }
    if (ec) skipped.push_back({p, fmt::format("directory walk stopped: {}", ec.message())});
    std::sort(files.begin(), files.end());
    for (const auto& f : files) consider_file(f, dumps, skipped);
  }
  // A file named twice (a directory and a file in it) is analysed once.
  std::stable_sort(dumps.begin(), dumps.end(), [](const Entry& a, const Entry& b) { return a.path < b.path; });
  dumps.erase(std::unique(dumps.begin(), dumps.end(), [](const Entry& a, const Entry& b) { return a.path == b.path; }),
              dumps.end());
}

// ---- progress --------------------------------------------------------------

class Progress {
 public:
  explicit Progress(bool on) : on_(on) {}
  void show(std::string_view what, size_t done, size_t total, size_t failed) {
    if (!on_) return;
    constexpr int kWidth = 30;
    int fill = total ? int(done * kWidth / total) : kWidth;
    fmt::print(stderr, "\r\033[K{} [{}{}] {}/{}{}", what, std::string(size_t(fill), '#'), std::string(size_t(kWidth - fill), '.'),
               done, total, failed ? fmt::format(", {} failed", failed) : "");
    std::fflush(stderr);
  }
  void note(std::string_view text) {
    if (!on_) return;
    fmt::print(stderr, "\r\033[K{}", text);
    std::fflush(stderr);
  }
  void clear() {
    if (on_) fmt::print(stderr, "\r\033[K");
  }

 private:
  bool on_;
};

// The row of a dump that could not be analysed: its error, the status
// `report` would have exited with, and what was learned without a vmlinux.
J error_row(const Entry& e, const std::string& message, int exit_code) {
  J j;
  j["path"] = e.path;
  j["group"] = nullptr;
  j["error"] = message;
  j["exit_code"] = exit_code;
  if (!e.vmlinux.empty()) j["vmlinux"] = e.vmlinux;
  if (e.known.contains("dump")) j["dump"] = e.known["dump"];
  if (e.known.contains("panic")) j["panic"] = e.known["panic"];
  return j;
}

// ---- 2. identification (in a worker) ---------------------------------------

std::string identify_job(const Entry& e, const SessionOptions& so) {
  J out;
  auto s = Session::open(e.path, std::shared_ptr<KernelImage>(), so);
  if (!s) {
    out["error"] = s.error().message();
    out["exit_code"] = exit_code_for(s.error());
    return out.dump();
  }
  out["release"] = (*s)->kernel().release;
  out["build_id"] = (*s)->vmcoreinfo().build_id().value_or("");
  Summary m = summarize(**s);
  out["dump"] = dump_json(m);
  out["panic"] = panic_json(m);
  return out.dump(-1, ' ', false, J::error_handler_t::replace);
}

// ---- 4. analysis (in a worker) ---------------------------------------------

std::string analyse_job(const Entry& e, std::shared_ptr<KernelImage> k, const TriageArgs& a) {
  auto fail = [&](const Error& err) {
    return error_row(e, err.message(), exit_code_for(err)).dump(-1, ' ', false, J::error_handler_t::replace);
  };
  auto s = Session::open(e.path, std::move(k), a.session);
  if (!s) return fail(s.error());
  ReportOptions o;
  o.crashed_only = true;
  auto r = build_report(**s, o);
  if (!r) return fail(r.error());
  const ReportThread* crashed = nullptr;
  for (const auto& t : r->threads)
    if (t.crashed) crashed = &t;
  uint64_t user_limit = (*s)->machine() == Machine::kX86_64 ? (1ULL << 63)
                                                            : (*s)->kernel().page_offset.value_or(0xc0000000ULL);
  CrashSignature sig = make_signature(r->summary, crashed, a.frames, user_limit);
  J out;
  out["path"] = e.path;
  out["group"] = sig.id;
  out["crash"] = sig.kind;
  out["signature"] = sig.frames;
  if (sig.note) out["signature_note"] = *sig.note;
  out["vmlinux"] = e.vmlinux;
  out["dump"] = dump_json(r->summary);
  out["panic"] = panic_json(r->summary);
  if (crashed) out["crashed_thread"] = thread_json(*crashed);
  std::vector<std::string> warnings = r->warnings;
  if ((*s)->dump().header().incomplete)
    warnings.insert(warnings.begin(), "the dump is incomplete (truncated or flagged incomplete by its writer)");
  if (!warnings.empty()) out["warnings"] = warnings;
  return out.dump(-1, ' ', false, J::error_handler_t::replace);
}

// ---- output ----------------------------------------------------------------

std::vector<Group> make_groups(const std::vector<Entry>& dumps) {
  std::map<std::string, Group> by_id;
  for (size_t i = 0; i < dumps.size(); ++i) {
    const Entry& e = dumps[i];
    if (e.error || e.group.empty()) continue;
    Group& g = by_id[e.group];
    if (g.members.empty()) {
      g.id = e.group;
      g.crash = e.crash;
      g.signature = e.signature;
    }
    g.members.push_back(i);
    if (!e.release.empty()) g.releases.insert(e.release);
    if (e.crash_time) {
      if (!g.first || *e.crash_time < *g.first) g.first = e.crash_time;
      if (!g.last || *e.crash_time > *g.last) g.last = e.crash_time;
    }
  }
  std::vector<Group> out;
  for (auto& [id, g] : by_id) out.push_back(std::move(g));
  std::stable_sort(out.begin(), out.end(), [](const Group& a, const Group& b) {
    if (a.members.size() != b.members.size()) return a.members.size() > b.members.size();
    return a.crash < b.crash;
  });
  return out;
}

std::string spooled(std::FILE* spool, const Entry& e) {
  std::string s(e.spool_len, '\0');
  if (e.spool_off < 0 || std::fseek(spool, e.spool_off, SEEK_SET) != 0 ||
      std::fread(s.data(), 1, s.size(), spool) != s.size())
    return J{{"path", e.path}, {"group", nullptr}, {"error", "lost the result (spool file unreadable)"}}.dump();
  return s;
}

void print_json(const std::vector<Group>& groups, const std::vector<Entry>& dumps, const std::vector<Skipped>& skipped,
                std::FILE* spool, unsigned depth) {
  fmt::print("{{\"schema\": \"vmcore-args-triage/1\", \"signature_frames\": {},\n \"groups\": [", depth);
  for (size_t k = 0; k < groups.size(); ++k) {
    const Group& g = groups[k];
    J j;
    j["id"] = g.id;
    j["count"] = g.members.size();
    j["crash"] = g.crash;
    j["signature"] = g.signature;
    j["releases"] = std::vector<std::string>(g.releases.begin(), g.releases.end());
    j["first_crash"] = g.first ? J(iso_time(*g.first)) : J(nullptr);
    j["last_crash"] = g.last ? J(iso_time(*g.last)) : J(nullptr);
    j["example"] = dumps[g.members.front()].path;
    J paths = J::array();
    for (size_t i : g.members) paths.push_back(dumps[i].path);
    j["dumps"] = std::move(paths);
    fmt::print("{}\n  {}", k ? "," : "", j.dump(-1, ' ', false, J::error_handler_t::replace));
  }
  fmt::print("],\n \"dumps\": [");
  for (size_t i = 0; i < dumps.size(); ++i) fmt::print("{}\n  {}", i ? "," : "", spooled(spool, dumps[i]));
  fmt::print("],\n \"skipped\": [");
  for (size_t i = 0; i < skipped.size(); ++i)
    fmt::print("{}\n  {}", i ? "," : "",
               J{{"path", skipped[i].path}, {"reason", skipped[i].why}}.dump(-1, ' ', false, J::error_handler_t::replace));
  fmt::print("]}}\n");
}

void print_text(const std::vector<Group>& groups, const std::vector<Entry>& dumps, const std::vector<Skipped>& skipped,
                unsigned depth) {
  size_t failed = std::count_if(dumps.begin(), dumps.end(), [](const Entry& e) { return e.error.has_value(); });
  fmt::print("{} dump{} in {} group{}{}{}\n", dumps.size(), dumps.size() == 1 ? "" : "s", groups.size(),
             groups.size() == 1 ? "" : "s", failed ? fmt::format("; {} could not be analysed", failed) : "",
             skipped.empty() ? "" : fmt::format("; {} other file{} skipped", skipped.size(), skipped.size() == 1 ? "" : "s"));
  fmt::print("(signature: the crash kind and the crashing task's innermost {} functions outside the crash path)\n", depth);
  for (size_t k = 0; k < groups.size(); ++k) {
    const Group& g = groups[k];
    size_t timed = 0;
    for (size_t i : g.members) timed += dumps[i].crash_time.has_value();
    fmt::print("\n#{:<3} {:>5} dump{}  {}\n", k + 1, g.members.size(), g.members.size() == 1 ? " " : "s",
               printable(g.crash));
    fmt::print("      in        {}\n", g.signature.empty() ? "(no frames outside the crash path)"
                                                           : printable(fmt::format("{}", fmt::join(g.signature, " < "))));
    fmt::print("      kernels   {}\n", g.releases.empty() ? "unknown" : printable(fmt::format("{}", fmt::join(g.releases, ", "))));
    if (g.first)
      fmt::print("      crashed   {}{}{}\n", utc_time(*g.first), *g.last != *g.first ? " .. " + utc_time(*g.last) : "",
                 timed < g.members.size() ? fmt::format(" ({} of {} dumps record the time)", timed, g.members.size()) : "");
    else
      fmt::print("      crashed   unknown (no dump of this group records the time)\n");
    fmt::print("      example   {}\n", printable(dumps[g.members.front()].path));
    fmt::print("      id        {}\n", g.id);
  }
  if (failed) {
    fmt::print("\nCould not be analysed ({}):\n", failed);
    for (const auto& e : dumps)
      if (e.error) fmt::print("  {}: {}\n", printable(e.path), printable(*e.error));
  }
  if (!skipped.empty()) {
    fmt::print("\nSkipped, not kernel crash dumps ({}):\n", skipped.size());
    for (const auto& s : skipped) fmt::print("  {}: {}\n", printable(s.path), printable(s.why));
  }
}

}  // namespace

int cmd_triage(const TriageArgs& a) {
  std::vector<Entry> dumps;
  std::vector<Skipped> skipped;
  discover(a.paths, dumps, skipped);

  Progress progress(!a.no_progress && ::isatty(STDERR_FILENO));
  ForkPoolOptions po;
  po.jobs = a.jobs ? a.jobs : unsigned(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  po.timeout_seconds = a.timeout;

  std::FILE* spool = std::tmpfile();
  if (!spool) return report_error(make_error(Errc::kIo, "cannot create a temporary file: {}", std::strerror(errno)));
  size_t done_count = 0, failed = 0;

  // Records a finished dump: its small fields stay in memory, the full
  // line goes to the spool (--json) or straight out (--jsonl).
  auto finish = [&](Entry& e, const J& j) {
    e.finished = true;
    if (j.contains("error")) {
      e.error = j["error"].get<std::string>();
      e.exit_code = j.value("exit_code", int(kExitInternal));
      ++failed;
    } else {
      e.group = j.value("group", "");
      e.crash = j.value("crash", "");
      if (j.contains("signature")) e.signature = j["signature"].get<std::vector<std::string>>();
      if (j.contains("dump")) {
        if (j["dump"].contains("release") && j["dump"]["release"].is_string()) e.release = j["dump"]["release"];
        if (j["dump"].contains("crash_time") && j["dump"]["crash_time"].is_number_integer())
          e.crash_time = j["dump"]["crash_time"].get<int64_t>();
      }
    }
    std::string text = j.dump(-1, ' ', false, J::error_handler_t::replace);
    if (a.jsonl) {
      fmt::print("{}\n", text);
      std::fflush(stdout);
    } else {
      std::fseek(spool, 0, SEEK_END);
      e.spool_off = std::ftell(spool);
      e.spool_len = text.size();
      std::fwrite(text.data(), 1, text.size(), spool);
    }
    e.known = J();  // only error rows needed it
    ++done_count;
  };
  auto fail_row = [&](Entry& e, const std::string& message, int exit_code) {
    finish(e, error_row(e, message, exit_code));
  };
  auto fail_entry = [&](Entry& e, const Error& err) { fail_row(e, err.message(), exit_code_for(err)); };
  // A worker that died or hung is a bug in vmcore-args, or a dump that
  // needs more than --timeout; one that answered no JSON object, a bug.
  // Returns the worker's JSON object, or null after recording the failure.
  auto worker_result = [&](Entry& e, const JobOutcome& out) -> std::optional<J> {
    if (out.failure) {
      fail_row(e, *out.failure, out.timed_out ? int(kExitBadInput) : int(kExitInternal));
      return std::nullopt;
    }
    J j = J::parse(out.output, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      fail_row(e, "the worker's result is not a JSON object (a bug in vmcore-args)", kExitInternal);
      return std::nullopt;
    }
    return j;
  };

  // 2-3. Which vmlinux for which dump.
  const bool one_vmlinux = a.vmlinux.size() == 1 && a.debug_dirs.empty();
  std::vector<std::string> dirs = a.debug_dirs;
  if (a.vmlinux.empty() && dirs.empty()) dirs.push_back("/usr/lib/debug");
  VmlinuxFinder finder(a.vmlinux, dirs);
  std::vector<std::string> kernel_order;  // vmlinux paths, first-use order
  std::map<std::string, std::vector<size_t>> by_kernel;
  if (one_vmlinux) {
    for (size_t i = 0; i < dumps.size(); ++i) {
      dumps[i].vmlinux = a.vmlinux[0];
      by_kernel[a.vmlinux[0]].push_back(i);
    }
    if (!dumps.empty()) kernel_order.push_back(a.vmlinux[0]);
  } else {
    size_t identified = 0;
    run_forked(
        dumps.size(), po, [&](size_t i) { return identify_job(dumps[i], a.session); },
        [&](size_t i, JobOutcome out) {
          Entry& e = dumps[i];
          ++identified;
          if (auto j = worker_result(e, out)) {
            if (j->contains("error")) {
              fail_row(e, j->value("error", ""), j->value("exit_code", int(kExitInternal)));
            } else {
              e.release = j->value("release", "");
              e.build_id = j->value("build_id", "");
              e.known = J{{"dump", (*j)["dump"]}, {"panic", (*j)["panic"]}};
            }
          }
          progress.show("identifying", identified, dumps.size(), failed);
        });
    for (size_t i = 0; i < dumps.size(); ++i) {
      Entry& e = dumps[i];
      if (e.finished) continue;
      auto v = finder.find(e.release, e.build_id.empty() ? std::nullopt : std::optional<std::string>(e.build_id));
      if (!v) {
        fail_row(e, v.error().message(), kExitUnreadable);  // as for a vmlinux that cannot be opened
        continue;
      }
      e.vmlinux = *v;
      if (!by_kernel.count(*v)) kernel_order.push_back(*v);
      by_kernel[*v].push_back(i);
    }
  }

  // 4. Analysis, one kernel at a time.
  for (const auto& vm : kernel_order) {
    const auto& idx = by_kernel[vm];
    progress.note(fmt::format("indexing {} for {} dump{}…", vm, idx.size(), idx.size() == 1 ? "" : "s"));
    auto k = KernelImage::open(vm);
    if (!k) {
      for (size_t i : idx) fail_entry(dumps[i], k.error());
      continue;
    }
    // Indexing everything up front pays when workers share it; one dump
    // reads only what its stack needs, lazily.
    if (idx.size() > 1) (*k)->warm();
    run_forked(
        idx.size(), po, [&](size_t n) { return analyse_job(dumps[idx[n]], *k, a); },
        [&](size_t n, JobOutcome out) {
          Entry& e = dumps[idx[n]];
          if (auto j = worker_result(e, out)) finish(e, *j);
          progress.show("analysing", done_count, dumps.size(), failed);
        });
  }
  progress.clear();

  if (!a.jsonl) {
    std::vector<Group> groups = make_groups(dumps);
    if (a.json) print_json(groups, dumps, skipped, spool, a.frames);
    else print_text(groups, dumps, skipped, a.frames);
  } else {
    for (const auto& s : skipped) fmt::print(stderr, "vmcore-args: skipped {}: {}\n", printable(s.path), printable(s.why));
  }
  std::fclose(spool);
  std::fflush(stdout);
  if (a.strict && failed) {
    fmt::print(stderr, "vmcore-args: {} of {} dumps could not be analysed (--strict)\n", failed, dumps.size());
    return kExitBatchFailed;
  }
  return kExitOk;
}

}  // namespace vmc::cli
