// The commands. Each returns a process exit code (exit_codes.h) and prints
// its own error messages to stderr.
#pragma once

#include <string>
#include <vector>

#include "kvm/session.h"

namespace vmc::cli {

struct InfoArgs {
  std::string vmcore, vmlinux;
  bool json = false;
  unsigned log_lines = 30;
  SessionOptions session;
};
int cmd_info(const InfoArgs& a);

struct ReadArgs {
  std::string vmcore, vmlinux, where;
  std::string length = "64";
  SessionOptions session;
};
int cmd_read(const ReadArgs& a);

struct ReportArgs {
  std::string vmcore, vmlinux;
  bool json = false, verbose = false, active_only = false, expand = false, heuristics = false;
  std::vector<std::string> threads;  // --thread PID|ADDR (repeatable)
  unsigned max_frames = 128;
  SessionOptions session;
};
int cmd_report(const ReportArgs& a);

struct TriageArgs {
  std::vector<std::string> paths;       // dumps and directories
  std::vector<std::string> vmlinux;     // --vmlinux FILE (repeatable)
  std::vector<std::string> debug_dirs;  // --debug-dir DIR (repeatable)
  unsigned jobs = 0;                    // -j; 0: the number of CPUs
  unsigned frames = 5;                  // --frames: signature depth
  unsigned timeout = 600;               // --timeout: seconds per dump, 0 none
  bool json = false, jsonl = false, strict = false, no_progress = false;
  SessionOptions session;
};
int cmd_triage(const TriageArgs& a);

// Prints "vmcore-args: error: …" and returns the exit code for e.
int report_error(const Error& e);

}  // namespace vmc::cli
