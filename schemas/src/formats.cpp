#include "odrgw/schemas/formats.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <idn2.h>

namespace odrgw::schemas::formats {
namespace {

// ---------------------------------------------------------------------------------------------
// ASCII character classes. Every class holds ASCII characters only, so any byte >= 0x80 (a UTF-8
// lead or continuation byte) falls outside all of them and fails the format.

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

constexpr bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr bool is_hex(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

constexpr bool is_let_dig(char c) noexcept { return is_alpha(c) || is_digit(c); }

constexpr char to_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

constexpr bool starts_with_icase(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// RFC 3986 / RFC 5321 character sets as bits of one table, so each component check is a lookup.
enum char_class : std::uint8_t {
  kUnreserved = 1 << 0,  // ALPHA / DIGIT / "-" / "." / "_" / "~"
  kSubDelim = 1 << 1,    // "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
  kSchemeChar = 1 << 2,  // ALPHA / DIGIT / "+" / "-" / "."
  kAtext = 1 << 3,       // RFC 5322 atext
};

constexpr std::array<std::uint8_t, 256> make_char_classes() noexcept {
  std::array<std::uint8_t, 256> table{};
  auto add = [&table](std::string_view chars, std::uint8_t bit) {
    for (char c : chars) table[static_cast<unsigned char>(c)] |= bit;
  };
  constexpr std::string_view kAlnum =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  add(kAlnum, kUnreserved | kSchemeChar | kAtext);
  add("-._~", kUnreserved);
  add("!$&'()*+,;=", kSubDelim);
  add("+-.", kSchemeChar);
  add("!#$%&'*+-/=?^_`{|}~", kAtext);
  return table;
}

constexpr std::array<std::uint8_t, 256> kCharClasses = make_char_classes();

constexpr bool has_class(char c, std::uint8_t mask) noexcept {
  return (kCharClasses[static_cast<unsigned char>(c)] & mask) != 0;
}

// ---------------------------------------------------------------------------------------------
// RFC 3339 date and time.

// Two ASCII digits at s[pos], or -1; the caller has checked that s is long enough.
constexpr int two_digits(std::string_view s, std::size_t pos) noexcept {
  if (!is_digit(s[pos]) || !is_digit(s[pos + 1])) return -1;
  return (s[pos] - '0') * 10 + (s[pos + 1] - '0');
}

constexpr bool is_leap_year(int year) noexcept {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

constexpr int days_in_month(int year, int month) noexcept {
  constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : kDays[static_cast<std::size_t>(month - 1)];
}

constexpr std::size_t kFullDateLength = 10;  // YYYY-MM-DD

constexpr bool full_date(std::string_view s) noexcept {
  if (s.size() != kFullDateLength || s[4] != '-' || s[7] != '-') return false;
  const int century = two_digits(s, 0);
  const int year_in_century = two_digits(s, 2);
  const int month = two_digits(s, 5);
  const int day = two_digits(s, 8);
  if (century < 0 || year_in_century < 0 || month < 1 || month > 12 || day < 1) return false;
  return day <= days_in_month(century * 100 + year_in_century, month);
}

constexpr bool full_time(std::string_view s) noexcept {
  constexpr std::size_t kPartialTimeLength = 8;  // HH:MM:SS
  if (s.size() < kPartialTimeLength + 1 || s[2] != ':' || s[5] != ':') return false;
  const int hour = two_digits(s, 0);
  const int minute = two_digits(s, 3);
  const int second = two_digits(s, 6);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
    return false;
  }
  std::size_t pos = kPartialTimeLength;
  if (s[pos] == '.') {
    // time-secfrac = "." 1*DIGIT, unbounded in length.
    const std::size_t first_digit = ++pos;
    while (pos < s.size() && is_digit(s[pos])) ++pos;
    if (pos == first_digit) return false;
  }
  if (pos >= s.size()) return false;  // The offset is required.
  int offset_minutes = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    // time-numoffset = ("+" / "-") time-hour ":" time-minute, exactly six characters.
    if (s.size() - pos != 6 || s[pos + 3] != ':') return false;
    const int offset_hour = two_digits(s, pos + 1);
    const int offset_minute = two_digits(s, pos + 4);
    if (offset_hour < 0 || offset_hour > 23 || offset_minute < 0 || offset_minute > 59) {
      return false;
    }
    offset_minutes = (offset_hour * 60 + offset_minute) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  if (second == 60) {
    // A leap second is inserted at the end of a UTC day, so local time minus the offset must be
    // 23:59 (modulo a day); this is what the JSON-Schema-Test-Suite expects.
    constexpr int kMinutesPerDay = 24 * 60;
    const int utc =
        ((hour * 60 + minute - offset_minutes) % kMinutesPerDay + kMinutesPerDay) % kMinutesPerDay;
    return utc == 23 * 60 + 59;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// IP addresses.

constexpr bool ipv4(std::string_view s) noexcept {
  std::size_t pos = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (pos >= s.size() || s[pos] != '.') return false;
      ++pos;
    }
    const std::size_t start = pos;
    int value = 0;
    // At most three digits, which also keeps `value` small on long digit runs.
    while (pos < s.size() && pos - start < 3 && is_digit(s[pos]))
      value = value * 10 + (s[pos++] - '0');
    const std::size_t length = pos - start;
    if (length == 0 || value > 255) return false;
    if (length > 1 && s[start] == '0') return false;  // Leading zeros read as octal elsewhere.
  }
  return pos == s.size();
}

constexpr bool ipv6(std::string_view s) noexcept {
  constexpr int kGroups = 8;
  int groups = 0;
  bool compressed = false;
  std::size_t pos = 0;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    compressed = true;
    pos = 2;
    if (pos == s.size()) return true;  // "::"
  }
  // Each iteration reads one group (or the final IPv4 part) and the separator after it.
  while (true) {
    std::size_t end = pos;
    bool has_dot = false;
    while (end < s.size() && s[end] != ':') has_dot |= s[end++] == '.';
    const std::string_view token = s.substr(pos, end - pos);
    if (has_dot) {
      // An embedded IPv4 address stands for the last two groups, so nothing may follow it.
      if (end != s.size() || !ipv4(token)) return false;
      groups += 2;
      break;
    }
    if (token.empty() || token.size() > 4) return false;
    for (char c : token) {
      if (!is_hex(c)) return false;
    }
    if (++groups > kGroups) return false;
    if (end == s.size()) break;
    pos = end + 1;
    if (pos < s.size() && s[pos] == ':') {
      if (compressed) return false;  // Only one "::" is allowed.
      compressed = true;
      if (++pos == s.size()) break;  // "...::" at the end.
    } else if (pos == s.size()) {
      return false;  // A single trailing ':'.
    }
  }
  // "::" stands for at least one zero group (RFC 4291 §2.2).
  return compressed ? groups < kGroups : groups == kGroups;
}

// ---------------------------------------------------------------------------------------------
// Host names (RFC 1123) with IDNA2008 A-labels (RFC 5890-5893), the latter checked by libidn2.

constexpr std::size_t kMaxLabelLength = 63;
constexpr std::size_t kMaxHostnameLength = 253;
constexpr std::string_view kAcePrefix = "xn--";

// RFC 5890 §2.3.2.1: `label` (letters, digits and hyphens, at most 63 octets, starting "xn--" in
// any case, not ending in '-') must be the A-label of a U-label. It is lower-cased, as RFC 5891
// §5 asks, and Punycode-decoded; the U-label must pass the RFC 5891 §4.2 registration checks,
// which RFC 5890 makes part of being a U-label: NFC; no "--" in the 3rd and 4th positions; no
// leading or trailing hyphen; no leading combining mark; only PVALID code points, and CONTEXTJ
// and CONTEXTO ones whose RFC 5892 rules hold; the RFC 5893 bidi rule within the label. (The
// lookup side, idn2_lookup_u8, does not evaluate CONTEXTO rules: it accepts "xn--vek", a lone
// KATAKANA MIDDLE DOT.) Re-encoding the U-label must then give back the label, case-insensitively.
//
// libidn2 is C (it throws nothing) and its conversions are reentrant. The label is at most 63
// octets, so its quadratic Punycode coding does bounded work. It allocates; a failed allocation
// rejects the label. Two gaps are libidn2's: its bidi check omits RFC 5893 rule 4 (European and
// Arabic-Indic digits together in a right-to-left label), and its IDNA tables lag Unicode
// (2.3.3's are Unicode 12's), so a code point assigned later is "unassigned" and rejected.
bool a_label(std::string_view label) noexcept {
  std::array<char, kMaxLabelLength + 1> lower{};  // NUL-terminated for libidn2.
  if (label.size() <= kAcePrefix.size() || label.size() >= lower.size()) return false;
  for (std::size_t i = 0; i < label.size(); ++i) lower[i] = to_lower(label[i]);
  // The U-label holds no NUL: Punycode inserts only code points >= U+0080 among the basic ones,
  // which are letters, digits and hyphens here. Without IDN2_NFC_INPUT, registration rejects a
  // U-label that is not in NFC instead of normalizing it.
  char* u_label = nullptr;
  std::uint8_t* reencoded = nullptr;
  bool ok = false;
  if (idn2_to_unicode_8z8z(lower.data(), &u_label, 0) == IDN2_OK && u_label != nullptr &&
      idn2_register_u8(reinterpret_cast<const std::uint8_t*>(u_label), nullptr, &reencoded, 0) ==
          IDN2_OK &&
      reencoded != nullptr) {
    ok = iequals(std::string_view(reinterpret_cast<const char*>(reencoded)), label);
  }
  idn2_free(reencoded);  // idn2_free(NULL) does nothing.
  idn2_free(u_label);
  return ok;
}

bool hostname(std::string_view s) noexcept {
  if (s.empty() || s.size() > kMaxHostnameLength) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t end = start;
    while (end < s.size() && s[end] != '.') ++end;
    const std::string_view label = s.substr(start, end - start);
    if (label.empty() || label.size() > kMaxLabelLength) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!is_let_dig(c) && c != '-') return false;
    }
    if (starts_with_icase(label, kAcePrefix) && !a_label(label)) return false;
    if (end == s.size()) return true;
    start = end + 1;  // A trailing dot leaves an empty last label, which is rejected above.
  }
}

// ---------------------------------------------------------------------------------------------
// RFC 3986 URIs.

// Each character is in `mask`, in `extra`, or starts a "%" HEXDIG HEXDIG triplet.
constexpr bool uri_chars(std::string_view s, std::uint8_t mask, std::string_view extra) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
      i += 2;
    } else if (!has_class(c, mask) && extra.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

constexpr std::uint8_t kUriBase = kUnreserved | kSubDelim;
// pchar = unreserved / pct-encoded / sub-delims / ":" / "@"; a path adds "/", a query or fragment
// adds "/" and "?".
constexpr std::string_view kPathExtra = ":@/";
constexpr std::string_view kQueryExtra = ":@/?";

// IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
constexpr bool ipv_future(std::string_view s) noexcept {
  if (s.size() < 4 || (s[0] != 'v' && s[0] != 'V')) return false;
  std::size_t pos = 1;
  while (pos < s.size() && is_hex(s[pos])) ++pos;
  if (pos == 1 || pos >= s.size() || s[pos] != '.' || pos + 1 == s.size()) return false;
  for (char c : s.substr(pos + 1)) {
    if (!has_class(c, kUriBase) && c != ':') return false;
  }
  return true;
}

// authority = [ userinfo "@" ] host [ ":" port ]
constexpr bool authority(std::string_view s) noexcept {
  const std::size_t at = s.find('@');
  if (at != std::string_view::npos) {
    if (!uri_chars(s.substr(0, at), kUriBase, ":")) return false;
    s.remove_prefix(at + 1);
  }
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    // IP-literal = "[" ( IPv6address / IPvFuture ) "]"
    const std::size_t close = s.find(']');
    if (close == std::string_view::npos) return false;
    const std::string_view literal = s.substr(1, close - 1);
    if (!ipv6(literal) && !ipv_future(literal)) return false;
    s.remove_prefix(close + 1);
    if (!s.empty() && s.front() != ':') return false;
    port = s;
  } else {
    // reg-name (which includes IPv4address) cannot contain ':', so the first one starts the port.
    const std::size_t colon = s.find(':');
    const std::string_view host = s.substr(0, colon);
    if (!uri_chars(host, kUriBase, "")) return false;
    port = s.substr(host.size());
  }
  if (!port.empty()) port.remove_prefix(1);  // The ':'.
  for (char c : port) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ], and when `reference` is set also
// relative-ref = relative-part [ "?" query ] [ "#" fragment ].
constexpr bool uri(std::string_view s, bool reference) noexcept {
  const std::size_t hash = s.find('#');
  if (hash != std::string_view::npos) {
    // A second '#' is not a fragment character, so it fails here.
    if (!uri_chars(s.substr(hash + 1), kUriBase, kQueryExtra)) return false;
    s = s.substr(0, hash);
  }
  const std::size_t question = s.find('?');
  if (question != std::string_view::npos) {
    if (!uri_chars(s.substr(question + 1), kUriBase, kQueryExtra)) return false;
    s = s.substr(0, question);
  }
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ':'.
  std::size_t scheme_end = 0;
  while (scheme_end < s.size() && has_class(s[scheme_end], kSchemeChar)) ++scheme_end;
  const bool has_scheme =
      scheme_end > 0 && scheme_end < s.size() && s[scheme_end] == ':' && is_alpha(s[0]);
  if (has_scheme) {
    s.remove_prefix(scheme_end + 1);
  } else if (!reference) {
    return false;
  }
  if (s.size() >= 2 && s[0] == '/' && s[1] == '/') {
    // "//" authority path-abempty: the authority runs to the next '/'.
    s.remove_prefix(2);
    const std::size_t slash = s.find('/');
    if (!authority(s.substr(0, slash))) return false;
    s = slash == std::string_view::npos ? std::string_view() : s.substr(slash);
  } else if (!has_scheme) {
    // path-noscheme: a relative path's first segment must not contain ':', or it would read as a
    // scheme.
    const std::string_view first_segment = s.substr(0, s.find('/'));
    if (first_segment.find(':') != std::string_view::npos) return false;
  }
  // path-abempty / path-absolute / path-rootless / path-noscheme / path-empty: as "//" was taken
  // above, what is left is any run of pchars and '/'.
  return uri_chars(s, kUriBase, kPathExtra);
}

// ---------------------------------------------------------------------------------------------
// RFC 5321 Mailbox.

constexpr std::size_t kMaxLocalPartLength = 64;
constexpr std::size_t kMaxMailboxLength = 254;  // A 256-octet path less "<" and ">".

// Local-part = Dot-string / Quoted-string; returns its length, or 0 if there is none at the start.
constexpr std::size_t local_part(std::string_view s) noexcept {
  std::size_t pos = 0;
  if (!s.empty() && s[0] == '"') {
    // Quoted-string = DQUOTE *( qtextSMTP / quoted-pairSMTP ) DQUOTE
    for (pos = 1; pos < s.size(); ++pos) {
      const char c = s[pos];
      if (c == '"') return pos + 1;
      if (c == '\\') {
        // quoted-pairSMTP = "\" %d32-126
        if (++pos >= s.size() || s[pos] < 32 || s[pos] > 126) return 0;
      } else if (c < 32 || c > 126) {
        return 0;  // qtextSMTP is %d32-33 / %d35-91 / %d93-126; '"' and '\' were handled.
      }
    }
    return 0;  // Unterminated.
  }
  // Dot-string = Atom *("." Atom), Atom = 1*atext
  while (true) {
    const std::size_t atom_start = pos;
    while (pos < s.size() && has_class(s[pos], kAtext)) ++pos;
    if (pos == atom_start) return 0;  // Empty atom: leading, trailing or doubled dot.
    if (pos == s.size() || s[pos] != '.') return pos;
    ++pos;
  }
}

bool mailbox(std::string_view s) noexcept {
  if (s.size() > kMaxMailboxLength) return false;
  const std::size_t local_length = local_part(s);
  if (local_length == 0 || local_length > kMaxLocalPartLength) return false;
  if (local_length >= s.size() || s[local_length] != '@') return false;
  const std::string_view domain = s.substr(local_length + 1);
  if (!domain.empty() && domain.front() == '[') {
    // address-literal = "[" ( IPv4-address-literal / IPv6-address-literal ) "]"
    if (domain.back() != ']') return false;
    const std::string_view literal = domain.substr(1, domain.size() - 2);
    if (starts_with_icase(literal, "IPv6:")) return ipv6(literal.substr(5));
    return ipv4(literal);
  }
  return hostname(domain);
}

}  // namespace

std::optional<format_kind> parse_format_name(std::string_view name) noexcept {
  constexpr format_kind kKinds[] = {
      format_kind::date_time, format_kind::date,          format_kind::time,  format_kind::uuid,
      format_kind::uri,       format_kind::uri_reference, format_kind::email, format_kind::hostname,
      format_kind::ipv4,      format_kind::ipv6};
  for (format_kind kind : kKinds) {
    if (format_name(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string_view format_name(format_kind kind) noexcept {
  switch (kind) {
    case format_kind::date_time:
      return "date-time";
    case format_kind::date:
      return "date";
    case format_kind::time:
      return "time";
    case format_kind::uuid:
      return "uuid";
    case format_kind::uri:
      return "uri";
    case format_kind::uri_reference:
      return "uri-reference";
    case format_kind::email:
      return "email";
    case format_kind::hostname:
      return "hostname";
    case format_kind::ipv4:
      return "ipv4";
    case format_kind::ipv6:
      return "ipv6";
  }
  return {};
}

bool is_date_time(std::string_view s) noexcept {
  // date-time = full-date "T" full-time; RFC 3339 §5.6 lets "T" be lower case.
  if (s.size() <= kFullDateLength || (s[kFullDateLength] != 'T' && s[kFullDateLength] != 't')) {
    return false;
  }
  return full_date(s.substr(0, kFullDateLength)) && full_time(s.substr(kFullDateLength + 1));
}

bool is_date(std::string_view s) noexcept { return full_date(s); }

bool is_time(std::string_view s) noexcept { return full_time(s); }

bool is_uuid(std::string_view s) noexcept {
  constexpr std::size_t kLength = 36;  // 8-4-4-4-12 hex digits and four hyphens.
  if (s.size() != kLength) return false;
  for (std::size_t i = 0; i < kLength; ++i) {
    const bool hyphen_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (hyphen_position ? s[i] != '-' : !is_hex(s[i])) return false;
  }
  return true;
}

bool is_uri(std::string_view s) noexcept { return uri(s, false); }

bool is_uri_reference(std::string_view s) noexcept { return uri(s, true); }

bool is_email(std::string_view s) noexcept { return mailbox(s); }

bool is_hostname(std::string_view s) noexcept { return hostname(s); }

bool is_ipv4(std::string_view s) noexcept { return ipv4(s); }

bool is_ipv6(std::string_view s) noexcept { return ipv6(s); }

bool check(format_kind kind, std::string_view s) noexcept {
  switch (kind) {
    case format_kind::date_time:
      return is_date_time(s);
    case format_kind::date:
      return is_date(s);
    case format_kind::time:
      return is_time(s);
    case format_kind::uuid:
      return is_uuid(s);
    case format_kind::uri:
      return is_uri(s);
    case format_kind::uri_reference:
      return is_uri_reference(s);
    case format_kind::email:
      return is_email(s);
    case format_kind::hostname:
      return is_hostname(s);
    case format_kind::ipv4:
      return is_ipv4(s);
    case format_kind::ipv6:
      return is_ipv6(s);
  }
  return false;
}

}  // namespace odrgw::schemas::formats
