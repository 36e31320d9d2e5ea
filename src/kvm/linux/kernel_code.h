// The kernel's code as the unwinder sees it: the vmlinux (KASLR bias,
// .debug_frame, ORC) and every loaded module (relocated debug file, or
// kallsyms only; ORC from the module's in-memory tables).
#pragma once

#include <memory>
#include <vector>

#include "dwarf/unwind.h"
#include "kvm/linux/modules.h"
#include "kvm/session.h"

namespace vmc {

class KernelCodeMap final : public CodeMap {
 public:
  // Builds images for the vmlinux and each module in `mods` (which must
  // outlive the map).
  static Result<std::unique_ptr<KernelCodeMap>> build(Session& s, const ModuleList& mods);
  ~KernelCodeMap() override;

  const CodeImage* find(uint64_t pc) const override;
  const std::vector<std::unique_ptr<CodeImage>>& images() const { return images_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  KernelCodeMap() = default;
  std::vector<std::unique_ptr<CodeImage>> images_;
  std::vector<std::unique_ptr<OrcTable>> orcs_;
  std::vector<std::string> warnings_;
};

}  // namespace vmc
