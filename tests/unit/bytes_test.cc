#include <gtest/gtest.h>

#include "arch/base/bytes.h"
#include "support/builders.h"

namespace vmc {
namespace {

TEST(Bytes, LoadsBothByteOrders) {
  const uint8_t b[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
  EXPECT_EQ(load_u16(b, Endian::kLittle), 0x0201);
  EXPECT_EQ(load_u16(b, Endian::kBig), 0x0102);
  EXPECT_EQ(load_u32(b, Endian::kLittle), 0x04030201u);
  EXPECT_EQ(load_u32(b, Endian::kBig), 0x01020304u);
  EXPECT_EQ(load_u64(b, Endian::kLittle), 0x0807060504030201ull);
  EXPECT_EQ(load_u64(b, Endian::kBig), 0x0102030405060708ull);
  EXPECT_EQ(load_uint(b, 1, Endian::kBig), 0x01u);
}

TEST(Bytes, StoreRoundTrips) {
  for (Endian e : {Endian::kLittle, Endian::kBig}) {
    for (unsigned w : {1u, 2u, 4u, 8u}) {
      uint8_t b[8] = {};
      uint64_t v = 0x1122334455667788ull & (w == 8 ? ~0ull : ((1ull << (8 * w)) - 1));
      store_uint(b, w, v, e);
      EXPECT_EQ(load_uint(b, w, e), v) << "width " << w;
    }
  }
}

TEST(Bytes, SignExtend) {
  EXPECT_EQ(sign_extend(0xff, 8), -1);
  EXPECT_EQ(sign_extend(0x7f, 8), 127);
  EXPECT_EQ(sign_extend(0x0000800000000000ull, 48), int64_t(0xffff800000000000ull));
  EXPECT_EQ(sign_extend(0x1234, 64), 0x1234);
}

TEST(Bytes, ViewIsBoundsChecked) {
  std::vector<uint8_t> d = {1, 2, 3, 4, 5};
  ByteView v(d, Endian::kBig, "five bytes");
  EXPECT_EQ(*v.u32(0), 0x01020304u);
  EXPECT_EQ(*v.u32(1), 0x02030405u);
  auto r = v.u32(2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kTruncated);
  EXPECT_NE(r.error().message().find("five bytes"), std::string::npos);
  EXPECT_FALSE(v.u64(UINT64_MAX - 2).ok());  // offset overflow must not wrap
  EXPECT_FALSE(v.sub(3, 3).ok());
  EXPECT_EQ(*v.cstr(0, 100), std::string("\x01\x02\x03\x04\x05"));
}

TEST(Bytes, CursorErrorIsSticky) {
  std::vector<uint8_t> d = {1, 0, 2, 0};
  Cursor c(ByteView(d, Endian::kLittle, "cur"));
  EXPECT_EQ(c.u16(), 1);
  EXPECT_EQ(c.u32(), 0u);  // fails: only 2 bytes left
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.u8(), 0);  // still failed, returns 0
  EXPECT_EQ(c.error().code(), Errc::kTruncated);
}

TEST(Bytes, CheckedArithmetic) {
  uint64_t out;
  EXPECT_FALSE(checked_add(UINT64_MAX, 1, &out));
  EXPECT_TRUE(checked_add(1, 2, &out));
  EXPECT_EQ(out, 3u);
  EXPECT_FALSE(checked_mul(1ull << 33, 1ull << 33, &out));
  EXPECT_TRUE(in_bounds(0, 0, 0));
  EXPECT_FALSE(in_bounds(1, UINT64_MAX, 10));
}

TEST(Result, ContextIsPrependedNotOverwritten) {
  Result<int> r = make_error(Errc::kExcluded, "page {:#x} excluded", 0x1000);
  auto r2 = std::move(r).context("reading task_struct.stack at 0xffff8880");
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().message(), "reading task_struct.stack at 0xffff8880: page 0x1000 excluded");
  EXPECT_EQ(r2.error().code(), Errc::kExcluded);
}

}  // namespace
}  // namespace vmc
