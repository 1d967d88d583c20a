#pragma once
// Files compiled into the binary by cmake/odrgw_embed.cmake.
#include <span>
#include <string_view>

namespace odrgw::embedded {
struct file {
  std::string_view path;  // relative to the embedded folder, '/'-separated
  std::string_view data;
};
namespace schemas {
std::span<const file> files() noexcept;  // schemas/v1/** (sorted by path)
}  // namespace schemas
}  // namespace odrgw::embedded
