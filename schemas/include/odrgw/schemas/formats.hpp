#pragma once

// Checkers for the JSON Schema `format` keyword (draft-04/07 names plus "uuid").
//
// valijson 1.0 builds a std::regex per call for the formats it knows and ignores the rest, so the
// validator checks `format` itself with these. They run on hostile input: every checker is a
// single forward scan (O(n), no recursion), throws nothing, is thread-safe, and treats the string
// as raw bytes (any non-ASCII byte fails every format; embedded NULs are ordinary rejected bytes,
// not terminators). Only the A-label check of is_hostname and is_email allocates: it hands each
// "xn--" label, once known to be at most 63 octets, to libidn2.

#include <optional>
#include <string_view>

namespace odrgw::schemas::formats {

enum class format_kind {
  date_time,
  date,
  time,
  uuid,
  uri,
  uri_reference,
  email,
  hostname,
  ipv4,
  ipv6
};

// Maps a JSON Schema draft-04/07 format name ("date-time", "date", "time", "uuid", "uri",
// "uri-reference", "email", "hostname", "ipv4", "ipv6") to a kind; nullopt for formats we do not
// check (they are annotations then). Names are case-sensitive, as in the specification.
std::optional<format_kind> parse_format_name(std::string_view name) noexcept;

// The keyword's name for a kind, e.g. "date-time".
std::string_view format_name(format_kind kind) noexcept;

// RFC 3339 §5.6 date-time: full-date "T" full-time; "T" and "Z" may be lower case. A leap second
// (:60) is accepted only where it falls on 23:59 UTC once the offset is applied.
bool is_date_time(std::string_view s) noexcept;

// RFC 3339 full-date: YYYY-MM-DD with Gregorian month lengths and leap years.
bool is_date(std::string_view s) noexcept;

// RFC 3339 full-time: HH:MM:SS[.fraction] followed by a required Z or +hh:mm / -hh:mm offset.
bool is_time(std::string_view s) noexcept;

// RFC 4122 textual form 8-4-4-4-12 hex, either case; any version and variant.
bool is_uuid(std::string_view s) noexcept;

// RFC 3986 URI (scheme required), ASCII only.
bool is_uri(std::string_view s) noexcept;

// RFC 3986 URI-reference (a URI or a relative reference; the empty string is one), ASCII only.
bool is_uri_reference(std::string_view s) noexcept;

// RFC 5321 Mailbox: dot-atom or quoted-string local part (at most 64 octets), then a host name
// (as is_hostname) or an address literal "[IPv4]" / "[IPv6:...]"; at most 254 octets in all
// (RFC 5321 §4.5.3.1). ASCII only; general address literals ("[tag:...]") are rejected.
bool is_email(std::string_view s) noexcept;

// RFC 1123 host name: dot-separated letter/digit/hyphen labels of 1-63 octets that neither start
// nor end with a hyphen, at most 253 octets, no trailing dot. A label starting with "xn--" (in any
// case) must also be an IDNA2008 A-label, checked with libidn2: it must decode to a U-label that
// passes the RFC 5891 §4.2 checks (NFC, hyphens, leading combining marks, the RFC 5892 code point
// and context rules, and the RFC 5893 bidi rule within the label) and re-encode to itself.
// libidn2's bidi check omits RFC 5893 rule 4 (no European and Arabic-Indic digits together in a
// right-to-left label), and its IDNA tables lag Unicode (Unicode 12 in libidn2 2.3.3), so code
// points assigned later are rejected as unassigned.
bool is_hostname(std::string_view s) noexcept;

// Dotted quad of decimal octets 0-255 without leading zeros.
bool is_ipv4(std::string_view s) noexcept;

// RFC 4291 §2.2 text forms, including "::" and a trailing embedded IPv4 (as is_ipv4); no zone
// index, prefix length or brackets.
bool is_ipv6(std::string_view s) noexcept;

// Dispatches to the checker for `kind`.
bool check(format_kind kind, std::string_view s) noexcept;

}  // namespace odrgw::schemas::formats
