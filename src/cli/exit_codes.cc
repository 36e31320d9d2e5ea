#include "cli/exit_codes.h"

namespace vmc::cli {

int exit_code_for(const Error& e) {
  switch (e.code()) {
    case Errc::kUsage:
    case Errc::kNotFound:
      return kExitUsage;
    case Errc::kIo:
      return kExitUnreadable;
    case Errc::kTruncated:
    case Errc::kBadData:
    case Errc::kUnsupported:
    case Errc::kLimit:
      return kExitBadInput;
    case Errc::kMismatch:
      return kExitMismatch;
    case Errc::kNotInDump:
    case Errc::kExcluded:
    case Errc::kNotMapped:
    case Errc::kNonCanonical:
      return kExitNoMemory;
  }
  return kExitInternal;
}

}  // namespace vmc::cli
