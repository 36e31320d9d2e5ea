// Loaded kernel modules from the dump (the `modules` list): name, where
// their code and data lie, section addresses, the in-memory ORC table, and
// their symbols from the module's own kallsyms. Debug files (NAME.ko,
// NAME.ko.debug) are found in --modules directories and the standard
// places, and opened relocated to the runtime section addresses.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kvm/session.h"

namespace vmc {

struct LoadedModule {
  kvaddr_t addr = 0;  // struct module
  std::string name;
  int state = 0;
  // Code ranges (core text, and init text while it exists).
  std::vector<std::pair<uint64_t, uint64_t>> text;
  uint64_t core_base = 0, core_size = 0;
  std::map<std::string, uint64_t, std::less<>> sections;  // from sect_attrs
  // In-memory ORC table (x86-64), relocated and sorted by the kernel.
  uint64_t orc_ip = 0, orc_entries = 0, num_orcs = 0;
  // Symbols from the module's kallsyms (runtime addresses), sorted.
  std::vector<std::pair<uint64_t, std::string>> kallsyms;

  std::string debug_path;               // file found, or empty
  std::unique_ptr<ElfImage> debug;      // opened relocated, or null
  std::string debug_error;              // why there is none
};

struct ModuleList {
  std::vector<std::unique_ptr<LoadedModule>> modules;
  std::vector<std::string> warnings;
  const LoadedModule* find_addr(uint64_t pc) const;
};

// Walks the module list and loads debug files. Directories searched, in
// order: each --modules DIR (recursively), /usr/lib/debug/lib/modules/<rel>,
// /lib/modules/<rel>. '-' and '_' in module names are treated alike.
Result<ModuleList> load_modules(Session& s);

}  // namespace vmc
