#include "mapping_transforms.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include <odrgw/schemas/formats.hpp>

namespace odrgw::adapters::detail {
namespace {

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr std::array<int, 12> d{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : d[static_cast<std::size_t>(m - 1)];
}

// Howard Hinnant's days_from_civil / civil_from_days.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, int& y, int& m, int& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2));
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

void pad(std::string& out, int v, int width) {
  std::string s = std::to_string(v);
  if (static_cast<int>(s.size()) < width)
    out.append(static_cast<std::size_t>(width) - s.size(), '0');
  out += s;
}

std::string format_offset(int minutes) {
  if (minutes == 0) return "Z";
  std::string out(1, minutes < 0 ? '-' : '+');
  const int a = minutes < 0 ? -minutes : minutes;
  pad(out, a / 60, 2);
  out += ':';
  pad(out, a % 60, 2);
  return out;
}

bool valid(const civil_time& t) {
  return t.year >= 1 && t.year <= 9999 && t.month >= 1 && t.month <= 12 && t.day >= 1 &&
         t.day <= days_in_month(t.year, t.month) && t.hour >= 0 && t.hour <= 23 && t.minute >= 0 &&
         t.minute <= 59 && t.second >= 0 && t.second <= 59;
}

}  // namespace

bool time_pattern::has(kind k) const noexcept {
  return std::any_of(tokens.begin(), tokens.end(), [k](const token& t) { return t.k == k; });
}

std::optional<time_pattern> time_pattern::parse(std::string_view pattern, std::string& error) {
  static constexpr std::array<std::pair<std::string_view, kind>, 7> names{{
      {"yyyy", kind::year},
      {"MM", kind::month},
      {"dd", kind::day},
      {"HH", kind::hour},
      {"mm", kind::minute},
      {"ss", kind::second},
      {"XXX", kind::offset},
  }};
  time_pattern p;
  std::size_t i = 0;
  while (i < pattern.size()) {
    bool matched = false;
    for (const auto& [name, k] : names) {
      if (pattern.substr(i, name.size()) == name) {
        if (p.has(k)) {
          error = "'" + std::string(name) + "' appears twice";
          return std::nullopt;
        }
        p.tokens.push_back({k, {}});
        i += name.size();
        matched = true;
        break;
      }
    }
    if (matched) continue;
    const char c = pattern[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      error = "unknown pattern letter '" + std::string(1, c) +
              "' (known: yyyy MM dd HH mm ss XXX; other letters are not allowed)";
      return std::nullopt;
    }
    if (!p.tokens.empty() && p.tokens.back().k == kind::literal) {
      p.tokens.back().text += c;
    } else {
      p.tokens.push_back({kind::literal, std::string(1, c)});
    }
    ++i;
  }
  if (!p.has(kind::year) || !p.has(kind::month) || !p.has(kind::day)) {
    error = "a pattern needs yyyy, MM and dd";
    return std::nullopt;
  }
  if (p.has(kind::second) && !p.has(kind::minute)) {
    error = "ss without mm";
    return std::nullopt;
  }
  if (p.has(kind::minute) && !p.has(kind::hour)) {
    error = "mm without HH";
    return std::nullopt;
  }
  return p;
}

std::optional<int> parse_offset(std::string_view s) {
  if (s == "Z" || s == "z") return 0;
  int h = 0, m = 0;
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' || !digits(s, 1, 2, h) ||
      !digits(s, 4, 2, m) || h > 23 || m > 59)
    return std::nullopt;
  return (s[0] == '-' ? -1 : 1) * (h * 60 + m);
}

std::optional<civil_time> parse_time(const time_pattern& p, std::string_view s) {
  civil_time t;
  std::size_t pos = 0;
  for (const auto& tok : p.tokens) {
    using k = time_pattern::kind;
    switch (tok.k) {
      case k::literal:
        if (s.substr(pos, tok.text.size()) != tok.text) return std::nullopt;
        pos += tok.text.size();
        break;
      case k::year:
        if (!digits(s, pos, 4, t.year)) return std::nullopt;
        pos += 4;
        break;
      case k::offset: {
        const std::size_t n = pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z') ? 1 : 6;
        const auto off = parse_offset(s.substr(pos, n));
        if (!off) return std::nullopt;
        t.offset_minutes = *off;
        t.has_offset = true;
        pos += n;
        break;
      }
      default: {
        int v = 0;
        if (!digits(s, pos, 2, v)) return std::nullopt;
        pos += 2;
        (tok.k == k::month    ? t.month
         : tok.k == k::day    ? t.day
         : tok.k == k::hour   ? t.hour
         : tok.k == k::minute ? t.minute
                              : t.second) = v;
      }
    }
  }
  if (pos != s.size() || !valid(t)) return std::nullopt;
  return t;
}

std::string format_time(const time_pattern& p, const civil_time& t) {
  std::string out;
  for (const auto& tok : p.tokens) {
    using k = time_pattern::kind;
    switch (tok.k) {
      case k::literal:
        out += tok.text;
        break;
      case k::year:
        pad(out, t.year, 4);
        break;
      case k::month:
        pad(out, t.month, 2);
        break;
      case k::day:
        pad(out, t.day, 2);
        break;
      case k::hour:
        pad(out, t.hour, 2);
        break;
      case k::minute:
        pad(out, t.minute, 2);
        break;
      case k::second:
        pad(out, t.second, 2);
        break;
      case k::offset:
        out += format_offset(t.offset_minutes);
        break;
    }
  }
  return out;
}

std::optional<civil_time> parse_rfc3339(std::string_view s) {
  if (!schemas::formats::is_date_time(s)) return std::nullopt;
  civil_time t;
  digits(s, 0, 4, t.year);
  digits(s, 5, 2, t.month);
  digits(s, 8, 2, t.day);
  digits(s, 11, 2, t.hour);
  digits(s, 14, 2, t.minute);
  digits(s, 17, 2, t.second);
  std::size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
  }
  const auto off = parse_offset(s.substr(pos));
  if (!off) return std::nullopt;
  t.offset_minutes = *off;
  t.has_offset = true;
  if (t.second > 59) t.second = 59;  // a leap second: the nearest representable instant
  return t;
}

std::optional<civil_time> parse_iso_date(std::string_view s) {
  if (!schemas::formats::is_date(s)) return std::nullopt;
  civil_time t;
  digits(s, 0, 4, t.year);
  digits(s, 5, 2, t.month);
  digits(s, 8, 2, t.day);
  return t;
}

std::string format_rfc3339(const civil_time& t) {
  std::string out = format_iso_date(t) + 'T';
  pad(out, t.hour, 2);
  out += ':';
  pad(out, t.minute, 2);
  out += ':';
  pad(out, t.second, 2);
  out += format_offset(t.offset_minutes);
  return out;
}

std::string format_iso_date(const civil_time& t) {
  std::string out;
  pad(out, t.year, 4);
  out += '-';
  pad(out, t.month, 2);
  out += '-';
  pad(out, t.day, 2);
  return out;
}

civil_time to_offset(const civil_time& t, int offset_minutes) {
  const std::int64_t day =
      days_from_civil(t.year, static_cast<unsigned>(t.month), static_cast<unsigned>(t.day));
  std::int64_t minutes = day * 1440 + t.hour * 60 + t.minute - t.offset_minutes + offset_minutes;
  std::int64_t d = minutes >= 0 ? minutes / 1440 : -((-minutes + 1439) / 1440);
  minutes -= d * 1440;
  civil_time out = t;
  civil_from_days(d, out.year, out.month, out.day);
  out.hour = static_cast<int>(minutes / 60);
  out.minute = static_cast<int>(minutes % 60);
  out.offset_minutes = offset_minutes;
  out.has_offset = true;
  return out;
}

std::optional<int> currency_exponent(std::string_view code) {
  static constexpr std::array<std::string_view, 17> zero{"BIF", "CLP", "DJF", "GNF", "ISK", "JPY",
                                                         "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
                                                         "VND", "VUV", "XAF", "XOF", "XPF"};
  static constexpr std::array<std::string_view, 7> three{"BHD", "IQD", "JOD", "KWD",
                                                         "LYD", "OMR", "TND"};
  static constexpr std::array<std::string_view, 2> four{"CLF", "UYW"};
  static constexpr std::array<std::string_view, 13> none{
      "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"};
  const auto in = [code](const auto& list) {
    return std::find(list.begin(), list.end(), code) != list.end();
  };
  if (code.size() != 3 || in(none)) return std::nullopt;
  if (in(zero)) return 0;
  if (in(three)) return 3;
  if (in(four)) return 4;
  return 2;
}

std::string minor_to_decimal(std::uint64_t minor, int exponent) {
  std::string s = std::to_string(minor);
  if (exponent <= 0) return s;
  const auto e = static_cast<std::size_t>(exponent);
  if (s.size() <= e) s.insert(0, e + 1 - s.size(), '0');
  s.insert(s.size() - e, 1, '.');
  return s;
}

std::optional<std::uint64_t> decimal_to_minor(std::string_view s, int exponent) {
  const std::size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  const auto all_digits = [](std::string_view d) {
    return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || !all_digits(whole) || !all_digits(frac) ||
      (dot != std::string_view::npos && frac.empty()))
    return std::nullopt;
  const auto e = static_cast<std::size_t>(exponent);
  if (frac.size() > e) {
    if (!std::all_of(frac.begin() + static_cast<std::ptrdiff_t>(e), frac.end(),
                     [](char c) { return c == '0'; }))
      return std::nullopt;
    frac = frac.substr(0, e);
  }
  std::string d(whole);
  d += frac;
  d.append(e - frac.size(), '0');
  d.erase(0, std::min(d.find_first_not_of('0'), d.size() - 1));
  if (d.size() > 18) return std::nullopt;
  std::uint64_t v = 0;
  std::from_chars(d.data(), d.data() + d.size(), v);
  return v;
}

}  // namespace odrgw::adapters::detail
