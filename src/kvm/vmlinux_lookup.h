// Finding the vmlinux (with debug info) of a dump from its kernel release
// and build-id, in debug directories laid out the way distributions and
// build trees lay them out.
//
// For a dump of release R with build-id B (from VMCOREINFO), in each
// directory D, in this order:
//   D/.build-id/B[0:2]/B[2:].debug and D/usr/lib/debug/.build-id/…
//   D/boot/vmlinux-R, D/usr/lib/debug/boot/vmlinux-R (Debian, Ubuntu),
//   D/lib/modules/R/vmlinux, D/usr/lib/debug/lib/modules/R/vmlinux (Fedora,
//   RHEL, SUSE), D/vmlinux-R, D/R/vmlinux
//   then files named vmlinux-R or vmlinux anywhere below D (at most
//   kMaxWalkDepth levels, kMaxWalkEntries directory entries; symbolic
//   links to directories are not followed).
// A candidate is taken when its build-id equals B; when the dump has no
// build-id, when its name carries R (the session then checks the banner).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "arch/base/result.h"

namespace vmc {

class VmlinuxFinder {
 public:
  static constexpr int kMaxWalkDepth = 6;
  static constexpr size_t kMaxWalkEntries = 200000;

  // `files`: vmlinux files given by name (tried first, by build-id and
  // release); `dirs`: debug directories.
  VmlinuxFinder(std::vector<std::string> files, std::vector<std::string> dirs);

  // The vmlinux for a dump, or kNotFound saying where it looked. Results
  // are cached per (release, build-id).
  Result<std::string> find(const std::string& release, const std::optional<std::string>& build_id);

 private:
  struct Candidate {
    std::string path;
    std::string build_id;  // "" when it has none or cannot be read
  };
  const std::string& build_id_of(const std::string& path);
  std::vector<std::string> walk(const std::string& dir);

  std::vector<std::string> files_, dirs_;
  std::map<std::string, std::string> build_ids_;                // path -> build-id ("" none)
  std::map<std::string, std::vector<std::string>> walked_;      // dir -> vmlinux* files below
  std::map<std::pair<std::string, std::string>, Result<std::string>> cache_;
};

}  // namespace vmc
