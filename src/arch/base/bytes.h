// Explicit-endian, explicit-width, bounds-checked access to target bytes.
// Nothing about the target's layout comes from host structs or host byte
// order: every multi-byte datum goes through load<N>() with the target's
// Endian, and every access is checked against the buffer it reads.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "arch/base/result.h"

namespace vmc {

enum class Endian : uint8_t { kLittle, kBig };

constexpr Endian host_endian() {
  return (std::endian::native == std::endian::little) ? Endian::kLittle : Endian::kBig;
}

inline uint16_t load_u16(const uint8_t* p, Endian e) {
  return e == Endian::kLittle ? uint16_t(p[0] | (p[1] << 8)) : uint16_t((p[0] << 8) | p[1]);
}
inline uint32_t load_u32(const uint8_t* p, Endian e) {
  if (e == Endian::kLittle)
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
inline uint64_t load_u64(const uint8_t* p, Endian e) {
  uint64_t lo = load_u32(p, e), hi = load_u32(p + 4, e);
  return e == Endian::kLittle ? (hi << 32) | lo : (lo << 32) | hi;
}
// Loads an unsigned integer of `width` bytes (1, 2, 4 or 8).
inline uint64_t load_uint(const uint8_t* p, unsigned width, Endian e) {
  switch (width) {
    case 1: return p[0];
    case 2: return load_u16(p, e);
    case 4: return load_u32(p, e);
    default: return load_u64(p, e);
  }
}
inline void store_uint(uint8_t* p, unsigned width, uint64_t v, Endian e) {
  for (unsigned i = 0; i < width; ++i) {
    unsigned shift = (e == Endian::kLittle ? i : width - 1 - i) * 8;
    p[i] = uint8_t(v >> shift);
  }
}
inline int64_t sign_extend(uint64_t v, unsigned bits) {
  if (bits >= 64) return int64_t(v);
  uint64_t m = uint64_t(1) << (bits - 1);
  v &= (uint64_t(1) << bits) - 1;
  return int64_t((v ^ m) - m);
}

// Overflow-checked arithmetic for sizes and offsets read from hostile data.
inline bool checked_add(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}
inline bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
// True if [off, off+len) lies within [0, size).
inline bool in_bounds(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

// An immutable view of target bytes with a byte order. All reads are
// bounds-checked; failures name the offset and the view's label.
class ByteView {
 public:
  ByteView() = default;
  ByteView(std::span<const uint8_t> data, Endian e, std::string_view label = "buffer")
      : data_(data), endian_(e), label_(label) {}

  size_t size() const { return data_.size(); }
  Endian endian() const { return endian_; }
  const uint8_t* data() const { return data_.data(); }
  std::span<const uint8_t> span() const { return data_; }
  std::string_view label() const { return label_; }

  bool has(uint64_t off, uint64_t len) const { return in_bounds(off, len, data_.size()); }

  Result<uint64_t> uint(uint64_t off, unsigned width) const {
    if (!has(off, width)) return oob(off, width);
    return load_uint(data_.data() + off, width, endian_);
  }
  Result<uint8_t> u8(uint64_t off) const { VMC_ASSIGN(uint64_t v, uint(off, 1)); return uint8_t(v); }
  Result<uint16_t> u16(uint64_t off) const { VMC_ASSIGN(uint64_t v, uint(off, 2)); return uint16_t(v); }
  Result<uint32_t> u32(uint64_t off) const { VMC_ASSIGN(uint64_t v, uint(off, 4)); return uint32_t(v); }
  Result<uint64_t> u64(uint64_t off) const { return uint(off, 8); }

  Result<ByteView> sub(uint64_t off, uint64_t len) const {
    if (!has(off, len)) return oob(off, len);
    return ByteView(data_.subspan(off, len), endian_, label_);
  }
  // A NUL-terminated string inside [off, off+max): the bytes before the
  // first NUL (or all of them when there is none).
  Result<std::string> cstr(uint64_t off, uint64_t max) const {
    if (off > data_.size()) return oob(off, 1);
    uint64_t n = std::min<uint64_t>(max, data_.size() - off);
    const char* p = reinterpret_cast<const char*>(data_.data() + off);
    return std::string(p, strnlen(p, n));
  }

 private:
  Error oob(uint64_t off, uint64_t len) const {
    return make_error(Errc::kTruncated, "{}: {} bytes at offset {:#x} lie beyond its end ({:#x} bytes)",
                      label_, len, off, data_.size());
  }

  std::span<const uint8_t> data_;
  Endian endian_ = Endian::kLittle;
  std::string_view label_ = "buffer";
};

// A sequential reader over a ByteView with a sticky error: read a record
// field by field, then check ok() once (drgn's binary_buffer idiom).
class Cursor {
 public:
  explicit Cursor(ByteView v, uint64_t pos = 0) : v_(v), pos_(pos) {}

  uint64_t pos() const { return pos_; }
  void seek(uint64_t pos) { pos_ = pos; }
  void skip(uint64_t n) { if (!checked_add(pos_, n, &pos_)) fail(pos_, n); }
  bool ok() const { return ok_; }
  const Error& error() const { return err_; }

  uint64_t uint(unsigned width) {
    if (!ok_) return 0;
    if (!v_.has(pos_, width)) { fail(pos_, width); return 0; }
    uint64_t r = load_uint(v_.data() + pos_, width, v_.endian());
    pos_ += width;
    return r;
  }
  uint8_t u8() { return uint8_t(uint(1)); }
  uint16_t u16() { return uint16_t(uint(2)); }
  uint32_t u32() { return uint32_t(uint(4)); }
  uint64_t u64() { return uint(8); }
  int32_t s32() { return int32_t(u32()); }
  int64_t s64() { return int64_t(u64()); }

 private:
  void fail(uint64_t off, uint64_t len) {
    if (!ok_) return;
    ok_ = false;
    err_ = make_error(Errc::kTruncated, "{}: {} bytes at offset {:#x} lie beyond its end ({:#x} bytes)",
                      v_.label(), len, off, v_.size());
  }

  ByteView v_;
  uint64_t pos_;
  bool ok_ = true;
  Error err_{Errc::kTruncated, {}};
};

}  // namespace vmc
