#include "kvm/vmcoreinfo.h"

#include <charconv>

namespace vmc {

std::optional<uint64_t> parse_hex(const std::string& s) {
  std::string_view v = s;
  if (v.starts_with("0x") || v.starts_with("0X")) v.remove_prefix(2);
  if (v.empty()) return std::nullopt;
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out, 16);
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return out;
}

std::optional<int64_t> parse_dec(const std::string& s) {
  if (s.empty()) return std::nullopt;
  int64_t out = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 10);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return out;
}

VmcoreInfo VmcoreInfo::parse(const std::string& text) {
  VmcoreInfo vi;
  size_t pos = 0;
  // Bounded by the text length; a line without '=' is counted and skipped.
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0) {
      ++vi.bad_lines_;
      continue;
    }
    vi.kv_.emplace(line.substr(0, eq), line.substr(eq + 1));
  }
  return vi;
}

std::optional<std::string> VmcoreInfo::get(const std::string& key) const {
  auto it = kv_.find(key);
  if (it == kv_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint64_t> VmcoreInfo::symbol(const std::string& name) const {
  auto v = get("SYMBOL(" + name + ")");
  return v ? parse_hex(*v) : std::nullopt;
}
std::optional<int64_t> VmcoreInfo::number(const std::string& name) const {
  auto v = get("NUMBER(" + name + ")");
  return v ? parse_dec(*v) : std::nullopt;
}
std::optional<uint64_t> VmcoreInfo::offset(const std::string& member) const {
  auto v = get("OFFSET(" + member + ")");
  auto d = v ? parse_dec(*v) : std::nullopt;
  return d && *d >= 0 ? std::optional<uint64_t>(uint64_t(*d)) : std::nullopt;
}
std::optional<uint64_t> VmcoreInfo::size(const std::string& type) const {
  auto v = get("SIZE(" + type + ")");
  auto d = v ? parse_dec(*v) : std::nullopt;
  return d && *d >= 0 ? std::optional<uint64_t>(uint64_t(*d)) : std::nullopt;
}
std::optional<uint64_t> VmcoreInfo::length(const std::string& name) const {
  auto v = get("LENGTH(" + name + ")");
  auto d = v ? parse_dec(*v) : std::nullopt;
  return d && *d >= 0 ? std::optional<uint64_t>(uint64_t(*d)) : std::nullopt;
}
std::optional<uint64_t> VmcoreInfo::kernel_offset() const {
  auto v = get("KERNELOFFSET");
  return v ? parse_hex(*v) : std::nullopt;
}
std::optional<uint64_t> VmcoreInfo::page_size() const {
  auto v = get("PAGESIZE");
  auto d = v ? parse_dec(*v) : std::nullopt;
  return d && *d > 0 ? std::optional<uint64_t>(uint64_t(*d)) : std::nullopt;
}
std::optional<int64_t> VmcoreInfo::crash_time() const {
  auto v = get("CRASHTIME");
  return v ? parse_dec(*v) : std::nullopt;
}
bool VmcoreInfo::config(const std::string& name) const {
  auto v = get("CONFIG_" + name);
  return v && *v == "y";
}

}  // namespace vmc
