// Errors as values: a closed set of codes plus a message that callers extend
// with context ("reading task_struct.stack at 0x…: page excluded from dump").
// Context is prepended, never overwritten, so the root cause survives.
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace vmc {

enum class Errc : uint8_t {
  kUsage,         // bad command line or API misuse by the caller
  kIo,            // the OS refused a read/open (errno text in the message)
  kTruncated,     // the file ends before the data it describes
  kBadData,       // malformed or inconsistent bytes in a dump or debug file
  kUnsupported,   // well-formed but a variant we do not handle
  kNotInDump,     // physical address not covered by the dump at all
  kExcluded,      // page deliberately left out of the dump (filtered)
  kNotMapped,     // virtual address with no valid translation
  kNonCanonical,  // virtual address outside the architecture's canonical form
  kMismatch,      // vmlinux (or module) does not belong to this dump
  kNotFound,      // a symbol, type, note or member that is not there
  kLimit,         // a safety bound was hit (frames, list length, steps…)
};

const char* errc_name(Errc c);

class Error {
 public:
  Error(Errc code, std::string message) : code_(code), message_(std::move(message)) {}

  Errc code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prepend "what: " to the message; returns *this for chaining.
  Error& context(std::string_view what) {
    message_ = fmt::format("{}: {}", what, message_);
    return *this;
  }

 private:
  Errc code_;
  std::string message_;
};

template <typename... Args>
Error make_error(Errc code, fmt::format_string<Args...> f, Args&&... args) {
  return Error(code, fmt::format(f, std::forward<Args>(args)...));
}

// Result<T>: either a T or an Error. Minimal std::expected stand-in (C++20).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error e) : v_(std::move(e)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { assert(!ok()); return std::get<1>(v_); }
  Error&& error() && { assert(!ok()); return std::get<1>(std::move(v_)); }

  T value_or(T fallback) const { return ok() ? std::get<0>(v_) : fallback; }

  // Adds context to the error, if any; the value passes through.
  Result&& context(std::string_view what) && {
    if (!ok()) std::get<1>(v_).context(what);
    return std::move(*this);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : e_(std::move(e)), has_error_(true) {}

  bool ok() const { return !has_error_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { assert(!ok()); return e_; }
  Error&& error() && { assert(!ok()); return std::move(e_); }

  Result&& context(std::string_view what) && {
    if (has_error_) e_.context(what);
    return std::move(*this);
  }

 private:
  Error e_{Errc::kUsage, {}};
  bool has_error_ = false;
};

using Status = Result<void>;

}  // namespace vmc

// Propagate an error from an expression yielding Result<…>.
#define VMC_TRY(expr)                                  \
  do {                                                 \
    auto vmc_try_r_ = (expr);                          \
    if (!vmc_try_r_.ok()) return std::move(vmc_try_r_).error(); \
  } while (0)

#define VMC_CONCAT_INNER_(a, b) a##b
#define VMC_CONCAT_(a, b) VMC_CONCAT_INNER_(a, b)
// VMC_ASSIGN(auto x, expr): declare x from a Result, or return its error.
// At most one per source line (the temporary is named after __LINE__;
// __COUNTER__ would break ccache's preprocessor mode).
#define VMC_ASSIGN(decl, expr) VMC_ASSIGN_IMPL_(VMC_CONCAT_(vmc_r_, __LINE__), decl, expr)
#define VMC_ASSIGN_IMPL_(tmp, decl, expr)               \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) return std::move(tmp).error();         \
  decl = std::move(tmp).value()
