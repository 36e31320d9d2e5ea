#include "arch/base/result.h"

namespace vmc {

const char* errc_name(Errc c) {
  switch (c) {
    case Errc::kUsage: return "usage";
    case Errc::kIo: return "io";
    case Errc::kTruncated: return "truncated";
    case Errc::kBadData: return "bad-data";
    case Errc::kUnsupported: return "unsupported";
    case Errc::kNotInDump: return "not-in-dump";
    case Errc::kExcluded: return "excluded";
    case Errc::kNotMapped: return "not-mapped";
    case Errc::kNonCanonical: return "non-canonical";
    case Errc::kMismatch: return "mismatch";
    case Errc::kNotFound: return "not-found";
    case Errc::kLimit: return "limit";
  }
  return "?";
}

}  // namespace vmc
