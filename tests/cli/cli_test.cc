#include <gtest/gtest.h>

#include "cli/exit_codes.h"
#include "cli/summary.h"

namespace vmc::cli {
namespace {

TEST(Printable, EscapesControlBytesAndInvalidUtf8) {
  EXPECT_EQ(printable("plain text"), "plain text");
  EXPECT_EQ(printable("a\x1b[31mb"), "a\\x1b[31mb");
  EXPECT_EQ(printable("tab\there"), "tab\\there");
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");          // valid UTF-8 passes
  EXPECT_EQ(printable("bad\xff\xc3"), "bad\\xff\\xc3");         // invalid and truncated sequences
  EXPECT_EQ(printable(std::string("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(printable("\xe2\x82\xac"), "\xe2\x82\xac");         // 3-byte sequence
  EXPECT_EQ(printable("\xe2\x28\xa1"), "\\xe2(\\xa1");           // broken continuation
}

TEST(ExitCodes, EachFailureClassHasItsCode) {
  EXPECT_EQ(exit_code_for(Error(Errc::kUsage, "")), kExitUsage);
  EXPECT_EQ(exit_code_for(Error(Errc::kNotFound, "")), kExitUsage);
  EXPECT_EQ(exit_code_for(Error(Errc::kIo, "")), kExitUnreadable);
  EXPECT_EQ(exit_code_for(Error(Errc::kTruncated, "")), kExitBadInput);
  EXPECT_EQ(exit_code_for(Error(Errc::kBadData, "")), kExitBadInput);
  EXPECT_EQ(exit_code_for(Error(Errc::kUnsupported, "")), kExitBadInput);
  EXPECT_EQ(exit_code_for(Error(Errc::kMismatch, "")), kExitMismatch);
  EXPECT_EQ(exit_code_for(Error(Errc::kExcluded, "")), kExitNoMemory);
  EXPECT_EQ(exit_code_for(Error(Errc::kNotMapped, "")), kExitNoMemory);
  EXPECT_EQ(exit_code_for(Error(Errc::kNonCanonical, "")), kExitNoMemory);
  EXPECT_EQ(exit_code_for(Error(Errc::kNotInDump, "")), kExitNoMemory);
}

}  // namespace
}  // namespace vmc::cli
