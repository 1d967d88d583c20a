#pragma once
// YAML -> RapidJSON for mapping files (the gateway's config does the same; adapters cannot depend
// on gateway/, so this is a small copy of the approach, typed without a schema: see the .cpp).
#include <odrgw/schemas/json.hpp>

#include <string>
#include <string_view>

#include <odrgw/adapters/mapping.hpp>

namespace odrgw::adapters::detail {

// Throws mapping_error(file, pointer, message) on YAML syntax errors, duplicate keys, non-scalar
// keys, unsupported tags, too deep nesting (alias cycles) or too many nodes (alias bombs).
void yaml_to_json(std::string_view text, const std::string& file, const mapping_limits& limits,
                  rapidjson::Document& out);

}  // namespace odrgw::adapters::detail
