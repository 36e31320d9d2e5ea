#include "cli/app.h"

#include <algorithm>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"

#ifndef VMC_VERSION
#define VMC_VERSION "dev"
#endif

namespace vmc::cli {

namespace {

constexpr const char* kExitCodesHelp = R"(Exit codes:
  0  success
  1  internal error (a bug in vmcore-args)
  2  usage error: bad command line, unknown symbol or address syntax
  3  an input file cannot be opened or read
  4  input is corrupt, truncated, or of an unsupported format or architecture
  5  the vmlinux does not match the dump
  6  the requested memory is not in the dump (not mapped, excluded, non-canonical)
  7  triage --strict: some dumps could not be analysed

See vmcore-args(1) for the output formats and examples.)";

void add_session_options(CLI::App* c, SessionOptions& o) {
  c->add_option("--modules", o.module_dirs, "Directory with kernel module debug files (NAME.ko, NAME.ko.debug); repeatable")
      ->check(CLI::ExistingDirectory);
  c->add_flag("--ignore-mismatch", o.ignore_mismatch,
              "Continue even when the vmlinux does not match the dump (results are then unreliable)");
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"vmcore-args: post-mortem kernel crash-dump analysis with provable argument values\n\n"
               "  vmcore-args VMCORE VMLINUX [OPTIONS]     the thread report (short for `vmcore-args report …`)\n"
               "  vmcore-args CORE PROGRAM [OPTIONS]       the same for a user-space process core\n"
               "  vmcore-args triage PATH… [OPTIONS]       many dumps grouped by crash signature\n"
               "  vmcore-args SUBCOMMAND [OPTIONS] ARGS…   see the subcommands below; SUBCOMMAND --help for each",
               "vmcore-args"};
  app.set_version_flag("--version", VMC_VERSION);
  app.footer(kExitCodesHelp);
  app.require_subcommand(1, 1);

  ReportArgs rep;
  CLI::App* c_rep = app.add_subcommand(
      "report", "Default command: panic summary, then every thread's stack with each frame's arguments");
  c_rep->add_option("VMCORE", rep.vmcore, "Kernel crash dump, or a user-space process core")->required();
  c_rep->add_option("VMLINUX", rep.vmlinux,
                    "Kernel image with debug info (the -dbg vmlinux); for a process core, the program")->required();
  c_rep->add_flag("--json", rep.json, "Machine-readable output (schema vmcore-args/1)");
  c_rep->add_flag("-v,--verbose", rep.verbose, "One line per argument with its type and where the value came from");
  c_rep->add_option("--thread", rep.threads, "Only this thread: PID or task address (repeatable)");
  c_rep->add_flag("--active", rep.active_only, "Only tasks running on a CPU at the time of the dump");
  c_rep->add_flag("--expand", rep.expand, "Show every thread even when several have identical stacks");
  c_rep->add_option("--max-frames", rep.max_frames, "Frames per thread at most (default 128)");
  c_rep->add_flag("--heuristics", rep.heuristics,
                  "Also show unproven values guessed from the caller's code (a mov from a callee-saved register just "
                  "before the call), each marked HEURISTIC; off by default");
  add_session_options(c_rep, rep.session);

  InfoArgs info;
  CLI::App* c_info = app.add_subcommand("info", "What the dump is and what happened: format, arch, paging, release, "
                                                "KASLR, CPUs, crash time, panic, kernel log tail");
  c_info->add_option("VMCORE", info.vmcore, "Crash dump")->required();
  c_info->add_option("VMLINUX", info.vmlinux, "Kernel image with symbols (checked against the dump)");
  c_info->add_flag("--json", info.json, "Machine-readable output (schema vmcore-args/1: dump, panic, log)");
  c_info->add_option("--log-lines", info.log_lines, "Kernel log records to show (default 30)");
  add_session_options(c_info, info.session);

  ReadArgs rd;
  CLI::App* c_read = app.add_subcommand("read", "Hex dump of kernel virtual memory");
  c_read->add_option("VMCORE", rd.vmcore, "Crash dump")->required();
  c_read->add_option("VMLINUX", rd.vmlinux, "Kernel image with symbols")->required();
  c_read->add_option("WHERE", rd.where, "ADDR (0x… or decimal), SYMBOL, SYMBOL+OFF or SYMBOL-OFF")->required();
  c_read->add_option("LEN", rd.length, "Bytes to show (default 64, at most 16 MiB)");
  add_session_options(c_read, rd.session);

  TriageArgs tri;
  CLI::App* c_tri = app.add_subcommand(
      "triage", "Many dumps grouped by crash signature: which are the same bug, on which kernels, where to look first");
  c_tri->add_option("PATH", tri.paths, "Dumps and directories (searched recursively; other files are listed as skipped)")
      ->required()
      ->check(CLI::ExistingPath);
  c_tri->add_option("--vmlinux", tri.vmlinux,
                    "Kernel image with debug info; repeatable: each dump takes the one with its build-id (or release)")
      ->check(CLI::ExistingFile);
  c_tri->add_option("--debug-dir", tri.debug_dirs,
                    "Directory searched for each dump's vmlinux by build-id and release (.build-id/, boot/vmlinux-R, "
                    "usr/lib/debug/boot/vmlinux-R, lib/modules/R/vmlinux, then any vmlinux-R below it); repeatable; "
                    "default /usr/lib/debug when no --vmlinux is given")
      ->check(CLI::ExistingDirectory);
  c_tri->add_option("-j,--jobs", tri.jobs, "Dumps analysed in parallel (default: the number of CPUs)");
  c_tri->add_option("--frames", tri.frames, "Functions in a signature (default 5)")->check(CLI::Range(1, 64));
  c_tri->add_option("--timeout", tri.timeout, "Seconds one dump may take before it is given up (default 600, 0: none)");
  CLI::Option* tri_json =
      c_tri->add_flag("--json", tri.json, "One JSON document (schema vmcore-args-triage/1): groups, dumps, skipped files");
  c_tri->add_flag("--jsonl", tri.jsonl, "One JSON line per dump as soon as it is analysed (no groups)")->excludes(tri_json);
  c_tri->add_flag("--strict", tri.strict, "Exit with 7 when any dump could not be analysed");
  c_tri->add_flag("--no-progress", tri.no_progress, "No progress bar (there is none when stderr is not a terminal)");
  add_session_options(c_tri, tri.session);

  // The bare form `vmcore-args VMCORE VMLINUX` is the report.
  std::vector<std::string> args(argv + 1, argv + argc);
  static const char* const kSubcommands[] = {"report", "info", "read", "triage"};
  if (!args.empty() && args[0] != "-h" && args[0] != "--help" && args[0] != "--version" &&
      std::find(std::begin(kSubcommands), std::end(kSubcommands), args[0]) == std::end(kSubcommands))
    args.insert(args.begin(), "report");
  std::reverse(args.begin(), args.end());  // CLI11 takes them last-first
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  try {
    if (c_rep->parsed()) return cmd_report(rep);
    if (c_info->parsed()) return cmd_info(info);
    if (c_read->parsed()) return cmd_read(rd);
    if (c_tri->parsed()) return cmd_triage(tri);
  } catch (const std::exception& e) {
    fmt::print(stderr, "vmcore-args: internal error: {}\n", e.what());
    return kExitInternal;
  }
  return kExitUsage;
}

}  // namespace vmc::cli
