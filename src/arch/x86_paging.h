// x86 paging constants (Intel SDM vol. 3A ch. 4), owned here so every host
// builds them; nothing comes from host headers.
#pragma once

#include <cstdint>

namespace vmc::x86 {

constexpr unsigned kPageShift = 12;
constexpr uint64_t kPageSize = uint64_t(1) << kPageShift;
constexpr uint64_t kPresent = uint64_t(1) << 0;
constexpr uint64_t kPageSizeBit = uint64_t(1) << 7;  // PS in PDPTE/PDE (PAT in a PTE)

}  // namespace vmc::x86

namespace vmc::x86_64 {

// Physical address bits 51:12 of a 64-bit paging entry.
constexpr uint64_t kEntryAddrMask = 0x000ffffffffff000ULL;
constexpr unsigned kEntriesPerTable = 512;

}  // namespace vmc::x86_64

namespace vmc::i386 {

constexpr uint32_t kEntryAddrMask32 = 0xfffff000U;       // non-PAE PDE/PTE
constexpr uint32_t kLargePageMask32 = 0xffc00000U;       // non-PAE 4 MiB page
constexpr uint64_t kEntryAddrMaskPae = 0x000ffffffffff000ULL;
constexpr uint64_t kPdptAddrMask = 0xffffffe0ULL;        // CR3 in PAE mode
constexpr uint64_t kMax32 = 0xffffffffULL;

}  // namespace vmc::i386
