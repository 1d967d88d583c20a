#pragma once
// The adapters' files compiled into the binary (cmake/odrgw_embed.cmake): "mapping.schema.json".
#include <span>
#include <string_view>

#include <odrgw/embedded.hpp>

namespace odrgw::embedded::adapters {
std::span<const file> files() noexcept;  // sorted by path
}  // namespace odrgw::embedded::adapters
