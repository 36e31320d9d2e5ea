#include <cctype>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "kvm/vmcoreinfo.h"

namespace vmc::cli {

namespace {

constexpr uint64_t kMaxReadLen = 16u << 20;

std::optional<uint64_t> parse_number(const std::string& s) {
  if (s.rfind("0x", 0) == 0 || s.rfind("0X", 0) == 0) return parse_hex(s);
  auto d = parse_dec(s);
  if (d && *d >= 0) return uint64_t(*d);
  return std::nullopt;
}

// ADDR | SYMBOL | SYMBOL+OFF | SYMBOL-OFF
Result<kvaddr_t> resolve(Session& s, const std::string& where) {
  if (auto n = parse_number(where)) return *n;
  size_t op = where.find_first_of("+-", 1);
  std::string sym = where.substr(0, op);
  int64_t off = 0;
  if (op != std::string::npos) {
    auto o = parse_number(where.substr(op + 1));
    if (!o) return make_error(Errc::kUsage, "bad offset in \"{}\" (expected SYMBOL+0x10 or SYMBOL+16)", where);
    off = where[op] == '-' ? -int64_t(*o) : int64_t(*o);
  }
  auto a = s.symbol_address(sym);
  if (!a) return make_error(Errc::kUsage, "\"{}\" is neither an address nor a known symbol", sym);
  return *a + uint64_t(off);
}

}  // namespace

int cmd_read(const ReadArgs& a) {
  auto len = parse_number(a.length);
  if (!len || *len == 0 || *len > kMaxReadLen)
    return report_error(make_error(Errc::kUsage, "LEN must be between 1 and {} bytes, got \"{}\"", kMaxReadLen, a.length));
  auto s = Session::open(a.vmcore, a.vmlinux, a.session);
  if (!s) return report_error(s.error());
  auto va = resolve(**s, a.where);
  if (!va) return report_error(va.error());
  // Read line by line so everything readable before a hole is shown.
  const unsigned width = 16;
  for (uint64_t off = 0; off < *len; off += width) {
    uint64_t n = std::min<uint64_t>(width, *len - off);
    std::vector<uint8_t> b(n);
    if (Status st = (*s)->read(*va + off, b); !st) {
      fmt::print("{:016x}:  <unreadable>\n", *va + off);
      return report_error(st.error());
    }
    std::string hexs, ascii;
    for (unsigned i = 0; i < width; ++i) {
      if (i < n) hexs += fmt::format("{:02x} ", b[i]);
      else hexs += "   ";
      if (i == 7) hexs += ' ';
      if (i < n) ascii += std::isprint(b[i]) ? char(b[i]) : '.';
    }
    fmt::print("{:016x}:  {} |{}|\n", *va + off, hexs, ascii);
  }
  return kExitOk;
}

}  // namespace vmc::cli
