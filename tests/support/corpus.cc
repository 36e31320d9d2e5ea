#include "support/corpus.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#ifndef VMC_DATA_DIR_DEFAULT
#define VMC_DATA_DIR_DEFAULT ""
#endif

namespace fs = std::filesystem;

namespace vmc::test {

std::string data_dir() {
  if (const char* e = getenv("VMCORE_ARGS_DATA"); e && *e) return e;
  if (*VMC_DATA_DIR_DEFAULT) return VMC_DATA_DIR_DEFAULT;
  return "/var/tmp/vmcore-args";
}

std::string Scenario::vmlinux() const {
  std::string v = truth.value("vmlinux", "");
  return v.empty() || v[0] == '/' ? v : data_dir() + "/" + v;
}

std::vector<std::string> Scenario::dumps() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind("vmcore", 0) == 0 && e.is_regular_file()) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> all = [] {
    std::vector<Scenario> v;
    fs::path root = fs::path(data_dir()) / "dumps";
    std::error_code ec;
    for (const auto& set : fs::directory_iterator(root, ec)) {
      if (!set.is_directory()) continue;
      for (const auto& sc : fs::directory_iterator(set.path(), ec)) {
        fs::path t = sc.path() / "truth.json";
        std::ifstream in(t);
        if (!in) continue;
        Scenario s;
        s.set = set.path().filename().string();
        s.name = sc.path().filename().string();
        s.dir = sc.path().string();
        s.truth = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
        if (s.truth.is_discarded()) continue;
        v.push_back(std::move(s));
      }
    }
    std::sort(v.begin(), v.end(), [](const Scenario& a, const Scenario& b) {
      return std::tie(a.set, a.name) < std::tie(b.set, b.name);
    });
    return v;
  }();
  return all;
}

std::string corpus_missing_message() {
  return "REAL DUMPS MISSING: no scenario with truth.json under " + data_dir() +
         "/dumps; make them with cores/make-cores.sh (see cores/README.md) or point VMCORE_ARGS_DATA at them";
}

}  // namespace vmc::test
