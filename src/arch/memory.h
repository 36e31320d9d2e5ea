// The small memory interface the arch layer reads through. src/arch never
// sees dump files: the kvm layer implements these over whatever the dump is.
#pragma once

#include <cstdint>
#include <span>

#include "arch/base/addr.h"
#include "arch/base/result.h"

namespace vmc {

// Physical memory of the dumped machine.
class PhysicalMemory {
 public:
  virtual ~PhysicalMemory() = default;

  // Reads exactly buf.size() bytes at `pa`. A read may cross pages; it fails
  // as a whole. Errors: kNotInDump (no RAM of the dump covers it), kExcluded
  // (filtered out of the dump), kTruncated (the file ends early), kBadData
  // (a page that cannot be decoded), kIo. Messages name the address.
  virtual Status read_phys(PhysAddr pa, std::span<uint8_t> buf) = 0;
};

// Virtual memory of one address space (a kernel, or a process core).
class VirtualMemory {
 public:
  virtual ~VirtualMemory() = default;

  // Reads exactly buf.size() bytes at `va`. Errors as PhysicalMemory plus
  // kNotMapped and kNonCanonical. Messages name the virtual address.
  virtual Status read_virt(kvaddr_t va, std::span<uint8_t> buf) = 0;
};

}  // namespace vmc
