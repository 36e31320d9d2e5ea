// Address vocabulary. Kernel virtual addresses are plain 64-bit values
// (kvaddr_t, as in libkvm): they are the common currency of every layer.
// Physical addresses get a distinct type so that a virtual address can never
// be handed to a physical read by accident.
#pragma once

#include <compare>
#include <cstdint>

#include <fmt/format.h>

namespace vmc {

using kvaddr_t = uint64_t;

struct PhysAddr {
  uint64_t v = 0;
  constexpr PhysAddr() = default;
  constexpr explicit PhysAddr(uint64_t x) : v(x) {}
  constexpr auto operator<=>(const PhysAddr&) const = default;
  constexpr PhysAddr operator+(uint64_t d) const { return PhysAddr(v + d); }
};

}  // namespace vmc

template <>
struct fmt::formatter<vmc::PhysAddr> : fmt::formatter<uint64_t> {
  auto format(vmc::PhysAddr a, format_context& ctx) const { return fmt::formatter<uint64_t>::format(a.v, ctx); }
};
