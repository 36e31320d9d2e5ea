// Process exit codes. Documented in --help, README and man/vmcore-args.1;
// scripts depend on them, so they never change meaning.
#pragma once

#include "arch/base/result.h"

namespace vmc::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,     // a bug in vmcore-args
  kExitUsage = 2,        // bad command line, unknown symbol or address syntax
  kExitUnreadable = 3,   // an input file cannot be opened or read (missing, permission, I/O error)
  kExitBadInput = 4,     // input corrupt, truncated, or of an unsupported format or architecture
  kExitMismatch = 5,     // the vmlinux does not belong to the dump
  kExitNoMemory = 6,     // requested memory is not in the dump (not mapped, excluded, non-canonical)
  kExitBatchFailed = 7,  // triage --strict: some dumps could not be analysed
};

int exit_code_for(const Error& e);

}  // namespace vmc::cli
