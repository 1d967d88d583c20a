#pragma once
// The one way into RapidJSON for odrgw code: include this header, never <rapidjson/...> directly,
// so every translation unit agrees on the assertion and std::string settings.
#include <cstddef>
#include <string>
#include <string_view>

#ifndef ODRGW_RAPIDJSON_CONFIGURED
#define ODRGW_RAPIDJSON_CONFIGURED 1
#if defined(RAPIDJSON_RAPIDJSON_H_)
#error "include <odrgw/schemas/json.hpp> before any RapidJSON header"
#endif
namespace odrgw::schemas::detail {
// Throws std::logic_error. RapidJSON's default assert is a no-op under NDEBUG (undefined behaviour
// on misuse); a cheap branch that fails loudly is better, and unlike VALIJSON_USE_EXCEPTIONS'
// version it builds no string unless it fails.
[[noreturn]] void rapidjson_assert_failed(const char* expr, const char* file, int line);
}  // namespace odrgw::schemas::detail
#define RAPIDJSON_ASSERT(x)                  \
  (__builtin_expect(static_cast<bool>(x), 1) \
       ? static_cast<void>(0)                \
       : ::odrgw::schemas::detail::rapidjson_assert_failed(#x, __FILE__, __LINE__))
#define RAPIDJSON_HAS_STDSTRING 1
#define RAPIDJSON_SSE2 1
#endif

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace odrgw::schemas {

struct json_limits {
  std::size_t max_bytes = 16u << 20;        // whole document
  unsigned max_depth = 64;                  // nesting of arrays and objects
  std::size_t max_string_bytes = 1u << 20;  // also applies to member names
};

// Why a parse failed; `rule` is a stable token for reports: json-syntax, json-encoding,
// max-bytes, max-depth, max-string, duplicate-key.
struct json_error {
  std::string rule;
  std::string message;
  std::string location;    // JSON pointer of the containing value where known
  std::size_t offset = 0;  // byte offset into the input
  std::size_t line = 0;    // 1-based
  std::size_t column = 0;  // 1-based, in bytes
};

// Parses strict RFC 8259 JSON into `doc` without recursion (RapidJSON's iterative parser), with
// UTF-8 validation, depth/size limits and duplicate member names rejected (they make two parsers
// read two different messages). On failure returns false and fills `err`.
bool parse_json(std::string_view text, rapidjson::Document& doc, const json_limits& limits,
                json_error& err);

// RFC 6901 escaping of one reference token.
void append_pointer_token(std::string& pointer, std::string_view token);
std::string pointer_token(std::string_view token);

std::string to_json_string(const rapidjson::Value& v, bool pretty = false);
// `s` as a JSON string literal, quotes included (RapidJSON Writer's escaping).
std::string json_quoted(std::string_view s);

// Reading members without trusting the shape (RapidJSON 1.1's const operator[] can loop forever
// on a missing member): a string member or "", an object's member or an empty object.
std::string_view string_member(const rapidjson::Value& obj, std::string_view name);
const rapidjson::Value& member_or_empty(const rapidjson::Value& obj, std::string_view name);

}  // namespace odrgw::schemas
