#pragma once
// A validation report: data, not an exception. Every entry names the place, the rule and why.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace odrgw::schemas {

enum class encoding { json, xml };

enum class verdict {
  valid,      // parsed and conforms
  invalid,    // parsed, but breaks one or more schema rules
  malformed,  // could not be read: syntax, encoding, limits, forbidden constructs (DOCTYPE)
};

struct issue {
  std::string location;  // JSON pointer (JSON) or XPath-like path (XML); "" is the document
  std::string rule;      // JSON Schema keyword, libxml2 XSD rule (cvc-...), or parser rule
  std::string message;
  std::size_t line = 0;  // 1-based where the encoding has lines (XML, JSON syntax errors)
};

struct report {
  verdict status = verdict::valid;
  encoding enc = encoding::json;
  std::string message_type;  // as read from the document, when it has one
  std::vector<issue> errors;
  bool truncated = false;  // more errors were found than the report keeps

  bool valid() const noexcept { return status == verdict::valid; }
};

// Reports stop collecting after this many entries: a hostile document cannot make one grow
// without bound.
inline constexpr std::size_t max_report_errors = 100;

std::string_view to_string(encoding e) noexcept;
std::string_view to_string(verdict v) noexcept;

// Guesses the encoding from the first non-whitespace byte (after an optional UTF-8 BOM):
// '<' is XML, anything else JSON.
encoding detect_encoding(std::string_view bytes) noexcept;

}  // namespace odrgw::schemas
