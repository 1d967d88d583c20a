#pragma once
// The value transforms of mapping-file dialects (docs/adapters/mapping.md): date and date-time
// formats, decimal <-> minor-unit money. Pure functions on strings; nothing throws on bad input.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace odrgw::adapters::detail {

// A date/time pattern: yyyy MM dd HH mm ss XXX (offset: Z or +hh:mm) and literal characters.
struct time_pattern {
  enum class kind { literal, year, month, day, hour, minute, second, offset };
  struct token {
    kind k = kind::literal;
    std::string text;  // literal text
  };
  std::vector<token> tokens;
  bool has(kind k) const noexcept;
  // Parses a pattern; nullopt with `error` if it is unusable.
  static std::optional<time_pattern> parse(std::string_view pattern, std::string& error);
};

struct civil_time {
  int year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int offset_minutes = 0;
  bool has_offset = false;
};

// Reads `s` by the pattern (the whole string; ranges checked). nullopt if it does not fit.
std::optional<civil_time> parse_time(const time_pattern& p, std::string_view s);
std::string format_time(const time_pattern& p, const civil_time& t);
// RFC 3339 date-time (fraction dropped) and full-date.
std::optional<civil_time> parse_rfc3339(std::string_view s);
std::optional<civil_time> parse_iso_date(std::string_view s);
std::string format_rfc3339(const civil_time& t);
std::string format_iso_date(const civil_time& t);
// The same instant at another UTC offset.
civil_time to_offset(const civil_time& t, int offset_minutes);
// "+01:00", "-05:30", "Z" -> minutes.
std::optional<int> parse_offset(std::string_view s);

// ISO 4217 minor-unit exponent; nullopt for codes without minor units (XAU, XXX, ...).
std::optional<int> currency_exponent(std::string_view code);
// 28900, exponent 2 -> "289.00".
std::string minor_to_decimal(std::uint64_t minor, int exponent);
// "289.00" / "289.5", exponent 2 -> 28900 / 28950; nullopt if not a decimal, too many fraction
// digits (non-zero beyond the exponent) or too large.
std::optional<std::uint64_t> decimal_to_minor(std::string_view s, int exponent);

}  // namespace odrgw::adapters::detail
