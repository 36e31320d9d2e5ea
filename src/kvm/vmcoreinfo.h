// VMCOREINFO: the key=value text the kernel exports for dump tools
// (kernel/crash_core.c). SYMBOL()/KERNELOFFSET are hex, NUMBER()/OFFSET()/
// SIZE()/LENGTH() decimal.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace vmc {

class VmcoreInfo {
 public:
  VmcoreInfo() = default;
  // Parses the text; malformed lines are skipped (counted in bad_lines()).
  static VmcoreInfo parse(const std::string& text);

  bool empty() const { return kv_.empty(); }
  std::optional<std::string> get(const std::string& key) const;
  std::optional<uint64_t> symbol(const std::string& name) const;       // SYMBOL(name)
  std::optional<int64_t> number(const std::string& name) const;        // NUMBER(name)
  std::optional<uint64_t> offset(const std::string& member) const;     // OFFSET(struct.member)
  std::optional<uint64_t> size(const std::string& type) const;         // SIZE(type)
  std::optional<uint64_t> length(const std::string& name) const;       // LENGTH(name)
  std::optional<uint64_t> kernel_offset() const;                       // KERNELOFFSET
  std::optional<std::string> osrelease() const { return get("OSRELEASE"); }
  std::optional<uint64_t> page_size() const;
  std::optional<int64_t> crash_time() const;                           // CRASHTIME (epoch s)
  std::optional<std::string> build_id() const { return get("BUILD-ID"); }
  bool config(const std::string& name) const;                          // CONFIG_name=y
  unsigned bad_lines() const { return bad_lines_; }
  const std::map<std::string, std::string>& all() const { return kv_; }

 private:
  std::map<std::string, std::string> kv_;
  unsigned bad_lines_ = 0;
};

std::optional<uint64_t> parse_hex(const std::string& s);
std::optional<int64_t> parse_dec(const std::string& s);

}  // namespace vmc
