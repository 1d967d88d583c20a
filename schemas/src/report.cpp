#include <odrgw/schemas/report.hpp>

namespace odrgw::schemas {

std::string_view to_string(encoding e) noexcept { return e == encoding::json ? "json" : "xml"; }

std::string_view to_string(verdict v) noexcept {
  switch (v) {
    case verdict::valid:
      return "valid";
    case verdict::invalid:
      return "invalid";
    case verdict::malformed:
      return "malformed";
  }
  return "invalid";
}

encoding detect_encoding(std::string_view bytes) noexcept {
  if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
  for (char c : bytes) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '<' ? encoding::xml : encoding::json;
  }
  return encoding::json;
}

}  // namespace odrgw::schemas
