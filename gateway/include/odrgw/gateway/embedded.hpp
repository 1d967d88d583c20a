#pragma once
// The gateway's files compiled into the binary (cmake/odrgw_embed.cmake): "config.schema.json"
// (gateway/config.schema.json) and "openapi.json" (docs/openapi.json).
#include <span>
#include <string_view>

#include <odrgw/embedded.hpp>

namespace odrgw::embedded::gateway {
std::span<const file> files() noexcept;  // sorted by path

// The file's bytes; empty when there is no such file.
inline std::string_view find(std::string_view path) noexcept {
  for (const auto& f : files())
    if (f.path == path) return f.data;
  return {};
}
}  // namespace odrgw::embedded::gateway
