#include "kvm/vmlinux_lookup.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "dwarf/elf_image.h"

namespace vmc {

namespace fs = std::filesystem;

namespace {

bool is_file(const std::string& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);  // follows symlinks (.build-id links)
}

bool names_vmlinux(const std::string& filename) {
  return filename == "vmlinux" || filename.rfind("vmlinux-", 0) == 0 || filename == "vmlinux.debug";
}

}  // namespace

VmlinuxFinder::VmlinuxFinder(std::vector<std::string> files, std::vector<std::string> dirs)
    : files_(std::move(files)), dirs_(std::move(dirs)) {}

const std::string& VmlinuxFinder::build_id_of(const std::string& path) {
  auto it = build_ids_.find(path);
  if (it == build_ids_.end()) it = build_ids_.emplace(path, read_build_id(path).value_or("")).first;
  return it->second;
}

std::vector<std::string> VmlinuxFinder::walk(const std::string& dir) {
  auto it = walked_.find(dir);
  if (it != walked_.end()) return it->second;
  std::vector<std::string> found;
  std::error_code ec;
  fs::recursive_directory_iterator rit(dir, fs::directory_options::skip_permission_denied, ec), end;
  size_t entries = 0;
  for (; !ec && rit != end; rit.increment(ec)) {
    if (++entries > kMaxWalkEntries) break;
    if (rit.depth() >= kMaxWalkDepth) rit.disable_recursion_pending();
    std::error_code e2;
    const auto& de = *rit;
    if (de.is_directory(e2) && de.is_symlink(e2)) {
      rit.disable_recursion_pending();
      continue;
    }
    if (names_vmlinux(de.path().filename().string()) && de.is_regular_file(e2)) found.push_back(de.path().string());
  }
  std::sort(found.begin(), found.end());
  walked_[dir] = found;
  return found;
}

Result<std::string> VmlinuxFinder::find(const std::string& release, const std::optional<std::string>& build_id) {
  auto key = std::make_pair(release, build_id.value_or(""));
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;

  const std::string bid = build_id.value_or("");
  auto accept = [&](const std::string& p, bool named_for_release) {
    if (!is_file(p)) return false;
    const std::string& have = build_id_of(p);
    if (!bid.empty() && !have.empty()) return have == bid;
    return named_for_release;
  };
  auto done = [&](Result<std::string> r) {
    cache_.emplace(key, r);
    return r;
  };

  for (const auto& f : files_)
    if (accept(f, files_.size() == 1 || (!release.empty() && f.find(release) != std::string::npos))) return done(f);

  std::vector<std::string> tried;
  for (const auto& d : dirs_) {
    std::vector<std::pair<std::string, bool>> paths;
    if (bid.size() > 2) {
      std::string rel = fmt::format(".build-id/{}/{}.debug", bid.substr(0, 2), bid.substr(2));
      paths.emplace_back(d + "/" + rel, false);
      paths.emplace_back(d + "/usr/lib/debug/" + rel, false);
    }
    if (!release.empty()) {
      for (const char* layout : {"/boot/vmlinux-{}", "/usr/lib/debug/boot/vmlinux-{}", "/lib/modules/{}/vmlinux",
                                 "/usr/lib/debug/lib/modules/{}/vmlinux", "/vmlinux-{}", "/{}/vmlinux"})
        paths.emplace_back(d + fmt::format(fmt::runtime(layout), release), true);
    }
    for (const auto& [p, named] : paths)
      if (accept(p, named)) return done(p);
    for (const auto& p : walk(d)) {
      std::string name = fs::path(p).filename().string();
      bool named = !release.empty() && (name == "vmlinux-" + release || p.find("/" + release + "/") != std::string::npos);
      if (accept(p, named)) return done(p);
    }
    tried.push_back(d);
  }
  std::string what = fmt::format("release {}{}", release.empty() ? "(unknown)" : release,
                                 bid.empty() ? "" : fmt::format(", build-id {}", bid));
  if (files_.empty() && dirs_.empty()) return done(make_error(Errc::kNotFound, "no vmlinux given for {}", what));
  std::vector<std::string> where;
  for (const auto& f : files_) where.push_back(f);
  for (const auto& d : tried) where.push_back(d + "/");
  return done(make_error(Errc::kNotFound, "no vmlinux for {} in {}", what, fmt::join(where, ", ")));
}

}  // namespace vmc
