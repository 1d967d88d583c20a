#include "odrgw/schemas/formats.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace odrgw::schemas::formats {
namespace {

using checker = bool (*)(std::string_view) noexcept;

// One table row. Taking the literal as an array keeps embedded NULs in the string_view.
struct format_case {
  template <std::size_t N>
  constexpr format_case(const char (&literal)[N], bool is_valid, std::string_view what)
      : input(literal, N - 1), valid(is_valid), description(what) {}

  std::string_view input;
  bool valid;
  std::string_view description;
};

// Non-ASCII cases are written as "\u" escapes and assume a UTF-8 execution character set (the
// GCC and Clang default). Those escapes take exactly four hex digits, so "a\u0000b" is three
// octets with a NUL inside.
static_assert(format_case("a\u0000b", false, "").input.size() == 3);

// Prints the input with non-printable and non-ASCII bytes escaped, for failure messages.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F) {
      out += c;
    } else {
      constexpr std::string_view kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

void expect_cases(checker check_fn, std::span<const format_case> cases) {
  for (const format_case& c : cases) {
    EXPECT_EQ(check_fn(c.input), c.valid) << c.description << ": \"" << printable(c.input) << '"';
  }
}

// ---------------------------------------------------------------------------------------------
// Cases copied from JSON-Schema-Test-Suite @ 44401e0c046704b476ec9d2e2fccdaee618f259d,
// tests/draft7/optional/format/<name>.json (string instances only; the non-string instances only
// test that formats ignore them, which is the validator's business, not these checkers'). The
// draft4 files for date-time, email, ipv4, ipv6 and uri hold the same cases; the draft4 hostname
// cases that draft7 lacks are in kHostnameDraft4Suite. Copied rather than read at test time so
// that the project builds and tests on its own. We agree with every case.

constexpr format_case kDateTimeSuite[] = {
    {"1963-06-19T08:30:06.283185Z", true, "a valid date-time string"},
    {"1963-06-19T08:30:06Z", true, "a valid date-time string without second fraction"},
    {"1937-01-01T12:00:27.87+00:20", true, "a valid date-time string with plus offset"},
    {"1990-12-31T15:59:50.123-08:00", true, "a valid date-time string with minus offset"},
    {"1998-12-31T23:59:60Z", true, "a valid date-time with a leap second, UTC"},
    {"1998-12-31T15:59:60.123-08:00", true,
     "a valid date-time with a leap second, with minus offset"},
    {"1998-12-31T23:59:61Z", false, "an invalid date-time past leap second, UTC"},
    {"1998-12-31T23:58:60Z", false, "an invalid date-time with leap second on a wrong minute, UTC"},
    {"1998-12-31T22:59:60Z", false, "an invalid date-time with leap second on a wrong hour, UTC"},
    {"1990-12-31T24:00:00Z", false, "an invalid hour in date-time string"},
    {"1990-12-31T15:60:00Z", false, "an invalid minute in date-time string"},
    {"1990-12-31T10:00:00+10:60", false, "an invalid offset minute in date-time string"},
    {"1990-02-31T15:59:59.123-08:00", false, "an invalid day in date-time string"},
    {"1990-12-31T15:59:59-24:00", false, "an invalid offset in date-time string"},
    {"1963-06-19T08:30:06.28123+01:00Z", false, "an invalid closing Z after time-zone offset"},
    {"06/19/1963 08:30:06 PST", false, "an invalid date-time string"},
    {"1963-06-19t08:30:06.283185z", true, "case-insensitive T and Z"},
    {"2013-350T01:01:01", false, "only RFC3339 not all of ISO 8601 are valid"},
    {"1963-6-19T08:30:06.283185Z", false, "invalid non-padded month dates"},
    {"1963-06-1T08:30:06.283185Z", false, "invalid non-padded day dates"},
    {"1963-06-1\u09eaT00:00:00Z", false,
     "invalid non-ASCII '\u09ea' (a Bengali 4) in date portion"},
    {"1963-06-11T0\u09ea:00:00Z", false,
     "invalid non-ASCII '\u09ea' (a Bengali 4) in time portion"},
    {"+11963-06-19T08:30:06.283185Z", false, "invalid extended year"},
    {"1985-04-12T23:20:50+01", false, "a numeric offset without minutes is invalid"},
    {"2016-12-31T24:59:60+01:00", false, "hour 24 is invalid even with a leap second"},
    {"1985-04-12T00:59:59.999999999999999Z", true, "a second fraction of fifteen nines is valid"},
    {"1985-04-12T23:20:50Z\n", false, "a trailing newline is invalid"},
};

constexpr format_case kDateSuite[] = {
    {"1963-06-19", true, "a valid date string"},
    {"2020-01-31", true, "a valid date string with 31 days in January"},
    {"2020-01-32", false, "a invalid date string with 32 days in January"},
    {"2021-02-28", true, "a valid date string with 28 days in February (normal)"},
    {"2020-02-30", false, "a invalid date string with 30 days in February (leap)"},
    {"2020-03-31", true, "a valid date string with 31 days in March"},
    {"2020-03-32", false, "a invalid date string with 32 days in March"},
    {"2020-04-30", true, "a valid date string with 30 days in April"},
    {"2020-04-31", false, "a invalid date string with 31 days in April"},
    {"2020-05-31", true, "a valid date string with 31 days in May"},
    {"2020-05-32", false, "a invalid date string with 32 days in May"},
    {"2020-06-30", true, "a valid date string with 30 days in June"},
    {"2020-06-31", false, "a invalid date string with 31 days in June"},
    {"2020-07-31", true, "a valid date string with 31 days in July"},
    {"2020-07-32", false, "a invalid date string with 32 days in July"},
    {"2020-08-31", true, "a valid date string with 31 days in August"},
    {"2020-08-32", false, "a invalid date string with 32 days in August"},
    {"2020-09-30", true, "a valid date string with 30 days in September"},
    {"2020-09-31", false, "a invalid date string with 31 days in September"},
    {"2020-10-31", true, "a valid date string with 31 days in October"},
    {"2020-10-32", false, "a invalid date string with 32 days in October"},
    {"2020-11-30", true, "a valid date string with 30 days in November"},
    {"2020-11-31", false, "a invalid date string with 31 days in November"},
    {"2020-12-31", true, "a valid date string with 31 days in December"},
    {"2020-12-32", false, "a invalid date string with 32 days in December"},
    {"06/19/1963", false, "an invalid date string"},
    {"2013-350", false, "only RFC3339 not all of ISO 8601 are valid"},
    {"1998-1-20", false, "non-padded month dates are not valid"},
    {"1998-01-1", false, "non-padded day dates are not valid"},
    {"1998-13-01", false, "invalid month"},
    {"2021-02-29", false, "2021 is not a leap year"},
    {"2020-02-29", true, "2020 is a leap year"},
    {"1963-06-1\u09ea", false, "invalid non-ASCII '\u09ea' (a Bengali 4)"},
    {"2020-0\u09ea-01", false, "invalid: non-ASCII Bengali digit in month field"},
    {"20230328", false, "ISO8601 / non-RFC3339: YYYYMMDD without dashes (2023-03-28)"},
    {"2023-W01", false, "ISO8601 / non-RFC3339: week number implicit day of week (2023-01-02)"},
    {"2023-W13-2", false, "ISO8601 / non-RFC3339: week number with day of week (2023-03-28)"},
    {"2022W527", false, "ISO8601 / non-RFC3339: week number rollover to next year (2023-01-01)"},
    {"2020-11-28T23:55:45Z", false, "an invalid time string in date-time format"},
    {"0100-02-29", false, "century year 0100 is not a leap year"},
    {"0400-02-29", true, "century year 0400 is a leap year"},
    {"2100-02-29", false, "century year 2100 is not a leap year"},
    {" 2024-01-15", false, "invalid: leading whitespace is not permitted"},
    {"2024-01-15 ", false, "invalid: trailing whitespace is not permitted"},
    {"2024-00-15", false, "invalid: month 00 is not valid per date-month range 01-12"},
    {"2024-01-00", false, "invalid: day 00 is not valid per date-mday minimum of 01"},
    {"", false, "invalid: empty string"},
    {"2020 -01-01", false, "invalid: embedded whitespace between year and month"},
    {"2020-01-01X", false, "invalid: trailing character after valid full-date"},
    {"2020-01-01Z", false, "invalid: trailing Z after full-date"},
    {"2020-01-01 00:00:00Z", false, "invalid: full-date followed by space and time component"},
    {"0001-01-01", true, "valid: four-digit year 0001"},
    {"20-01-01", false, "invalid: two-digit year (N-2 digits)"},
    {"998-01-01", false, "invalid: three-digit year (N-1 digits)"},
    {"12020-01-01", false, "invalid: five-digit year (N+1 digits)"},
    {"+2020-01-01", false, "invalid: positive sign prefix on year"},
    {"-2020-01-01", false, "invalid: negative sign prefix on year"},
    {"\u09e8020-01-01", false, "invalid: non-ASCII Bengali digit in year field"},
    {"YYYY-01-01", false, "invalid: alphabetic characters in year field"},
    {"2020-001-01", false, "invalid: three-digit month (N+1 digits)"},
    {"2020-MM-01", false, "invalid: alphabetic characters in month field"},
    {"2020-01-001", false, "invalid: three-digit day (N+1 digits)"},
    {"2020-01-DD", false, "invalid: alphabetic characters in day field"},
    {"2020:01:01", false, "invalid: colon separators"},
    {"2020.01.01", false, "invalid: dot separators"},
    {"2020 01 01", false, "invalid: space separators"},
    {"2020-01/01", false, "invalid: mixed slash and hyphen separators"},
    {"2020--01-01", false, "invalid: duplicated first hyphen"},
    {"2020-01--01", false, "invalid: duplicated second hyphen"},
    {"1582-10-10", true, "valid: date inside the Julian to Gregorian reform gap"},
    {"2147483648-01-01", false,
     "invalid: year field numerically larger than a 32-bit signed integer"},
    {"2020-01-0:", false, "invalid: character just above '9' as the second digit of the day"},
    {"\u09e80-01-01", false,
     "invalid: non-ASCII digit leaving ten UTF-8 bytes but eight characters"},
    {"2020\u201301\u201301", false, "invalid: en dash separators instead of hyphen-minus"},
    {"2020-01-01\x00", false, "invalid: NUL character after an otherwise valid full-date"},
};

constexpr format_case kTimeSuite[] = {
    {"08:30:06Z", true, "a valid time string"},
    {"008:030:006Z", false, "invalid time string with extra leading zeros"},
    {"8:3:6Z", false, "invalid time string with no leading zero for single digit"},
    {"8:0030:6Z", false, "hour, minute, second must be two digits"},
    {"23:59:60Z", true, "a valid time string with leap second, Zulu"},
    {"22:59:60Z", false, "invalid leap second, Zulu (wrong hour)"},
    {"23:58:60Z", false, "invalid leap second, Zulu (wrong minute)"},
    {"23:59:60+00:00", true, "valid leap second, zero time-offset"},
    {"22:59:60+00:00", false, "invalid leap second, zero time-offset (wrong hour)"},
    {"23:58:60+00:00", false, "invalid leap second, zero time-offset (wrong minute)"},
    {"01:29:60+01:30", true, "valid leap second, positive time-offset"},
    {"23:29:60+23:30", true, "valid leap second, large positive time-offset"},
    {"23:59:60+01:00", false, "invalid leap second, positive time-offset (wrong hour)"},
    {"23:59:60+00:30", false, "invalid leap second, positive time-offset (wrong minute)"},
    {"15:59:60-08:00", true, "valid leap second, negative time-offset"},
    {"00:29:60-23:30", true, "valid leap second, large negative time-offset"},
    {"23:59:60-01:00", false, "invalid leap second, negative time-offset (wrong hour)"},
    {"23:59:60-00:30", false, "invalid leap second, negative time-offset (wrong minute)"},
    {"23:20:50.52Z", true, "a valid time string with second fraction"},
    {"08:30:06.283185Z", true, "a valid time string with precise second fraction"},
    {"08:30:06+00:20", true, "a valid time string with plus offset"},
    {"08:30:06-08:00", true, "a valid time string with minus offset"},
    {"12:34:56-00:00", true, "time with unknown local offset is valid"},
    {"08:30:06-8:000", false, "hour, minute in time-offset must be two digits"},
    {"08:30:06z", true, "a valid time string with case-insensitive Z"},
    {"24:00:00Z", false, "an invalid time string with invalid hour"},
    {"00:60:00Z", false, "an invalid time string with invalid minute"},
    {"00:00:61Z", false, "an invalid time string with invalid second"},
    {"22:59:60Z", false, "an invalid time string with invalid leap second (wrong hour)"},
    {"23:58:60Z", false, "an invalid time string with invalid leap second (wrong minute)"},
    {"01:02:03+24:00", false, "an invalid time string with invalid time numoffset hour"},
    {"01:02:03+00:60", false, "an invalid time string with invalid time numoffset minute"},
    {"01:02:03Z+00:30", false,
     "an invalid time string with invalid time with both Z and numoffset"},
    {"08:30:06 PST", false, "an invalid offset indicator"},
    {"01:01:01,1111", false, "only RFC3339 not all of ISO 8601 are valid"},
    {"12:00:00", false, "no time offset"},
    {"12:00:00.52", false, "no time offset with second fraction"},
    {"1\u09e8:00:00Z", false, "invalid non-ASCII '\u09e8' (a Bengali 2)"},
    {"08:30:06#00:20", false, "offset not starting with plus or minus"},
    {"ab:cd:ef", false, "contains letters"},
    {"2020-11-28T23:55:45Z", false, "an invalid time string in date-time format"},
};

constexpr format_case kUriSuite[] = {
    {"http://foo.bar/?baz=qux#quux", true, "a valid URL with anchor tag"},
    {"http://foo.com/blah_(wikipedia)_blah#cite-1", true,
     "a valid URL with anchor tag and parentheses"},
    {"http://foo.bar/?q=Test%20URL-encoded%20stuff", true, "a valid URL with URL-encoded stuff"},
    {"http://xn--nw2a.xn--j6w193g/", true, "a valid puny-coded URL"},
    {"http://-.~_!$&'()*+,;=:%40:80%2f::::::@example.com", true,
     "a valid URL with many special characters"},
    {"http://223.255.255.254", true, "a valid URL based on IPv4"},
    {"ftp://ftp.is.co.za/rfc/rfc1808.txt", true, "a valid URL with ftp scheme"},
    {"http://www.ietf.org/rfc/rfc2396.txt", true, "a valid URL for a simple text file"},
    {"ldap://[2001:db8::7]/c=GB?objectClass?one", true, "a valid URL"},
    {"mailto:John.Doe@example.com", true, "a valid mailto URI"},
    {"news:comp.infosystems.www.servers.unix", true, "a valid newsgroup URI"},
    {"tel:+1-816-555-1212", true, "a valid tel URI"},
    {"urn:oasis:names:specification:docbook:dtd:xml:4.1.2", true, "a valid URN"},
    {"//foo.bar/?baz=qux#quux", false, "an invalid protocol-relative URI Reference"},
    {"/abc", false, "an invalid relative URI Reference"},
    {"\\\\WINDOWS\\fileshare", false, "an invalid URI"},
    {"abc", false, "an invalid URI though valid URI reference"},
    {"http:// shouldfail.com", false, "an invalid URI with spaces"},
    {":// should fail", false, "an invalid URI with spaces and missing scheme"},
    {"bar,baz:foo", false, "an invalid URI with comma in scheme"},
    {"https://[@example.org/test.txt", false, "invalid userinfo"},
    {"https://example.org/foobar\u00ae.txt", false, "unescaped non US-ASCII characters"},
    {"https://example.org/foobar\\.txt", false, "invalid backslash character"},
    {"https://example.org/foobar\".txt", false, "invalid \" character"},
    {"https://example.org/foobar<>.txt", false, "invalid <> characters"},
    {"https://example.org/foobar{}.txt", false, "invalid {} characters"},
    {"https://example.org/foobar^.txt", false, "invalid ^ character"},
    {"https://example.org/foobar`.txt", false, "invalid ` character"},
    {"https://example.org/foo bar.txt", false, "invalid SPACE character"},
    {"https://example.org/foobar|.txt", false, "invalid | character"},
    {"http://087.10.0.1/", true, "URI with leading-zero IPv4 is structurally valid as a reg-name"},
    {"http://999.999.999.999/", true,
     "URI with out-of-bounds IPv4 is structurally valid as a reg-name"},
    {"http://example.com/%6G", false, "invalid percent-encoding with non-hex digits"},
    {"http://example.com/%A", false, "incomplete percent-encoding triplet"},
    {"http://example.com/%", false, "lone percent sign is invalid"},
    {"1http://example.com", false, "scheme must start with a letter"},
    {"ht_tp://example.com", false, "invalid character in scheme"},
    {"http://example.com:abc/path", false, "non-numeric port is invalid"},
    {"http://[::ffff:01.2.3.4]", false, "leading zero in an embedded IPv4 address is invalid"},
    {"http:/[::1]", false, "square brackets are not allowed in a path segment"},
};

constexpr format_case kUriReferenceSuite[] = {
    {"http://foo.bar/?baz=qux#quux", true, "a valid URI"},
    {"//foo.bar/?baz=qux#quux", true, "a valid protocol-relative URI Reference"},
    {"/abc", true, "a valid relative URI Reference"},
    {"\\\\WINDOWS\\fileshare", false, "an invalid URI Reference"},
    {"abc", true, "a valid URI Reference"},
    {"#fragment", true, "a valid URI fragment"},
    {"#frag\\ment", false, "an invalid URI fragment"},
    {"/foobar\u00ae.txt", false, "unescaped non US-ASCII characters"},
    {"https://example.org/foobar\\.txt", false, "invalid backslash character"},
    {"http://087.10.0.1/", true, "URI with leading-zero IPv4 is structurally valid as a reg-name"},
    {"http://999.999.999.999/", true,
     "URI with out-of-bounds IPv4 is structurally valid as a reg-name"},
    {"", true, "an empty URI reference"},
    {"?query=1", true, "a query-only reference"},
    {"//", true, "a network-path reference with an empty authority"},
    {"/%zz", false, "an incomplete percent-encoding"},
    {"/a\"b", false, "a double quote in a path"},
    {"/[::1]", false, "square brackets outside an authority"},
    {"//example.com:abc/p", false, "a non-numeric port in a network-path reference"},
    {"//a@b@example.com/", false, "more than one at-sign in the authority"},
    {"//[::ffff:192.168.0.01]/p", false, "a leading zero in the IPv4 part of an IPv6 literal"},
    {"1:b", false, "a colon in the first segment of a relative-path reference"},
    {"./this:that", true, "a colon in the first segment preceded by a dot-segment"},
};

constexpr format_case kEmailSuite[] = {
    {"joe.bloggs@example.com", true, "a valid e-mail address"},
    {"2962", false, "an invalid e-mail address"},
    {"te~st@example.com", true, "tilde in local part is valid"},
    {"~test@example.com", true, "tilde before local part is valid"},
    {"test~@example.com", true, "tilde after local part is valid"},
    {".test@example.com", false, "dot before local part is not valid"},
    {"test.@example.com", false, "dot after local part is not valid"},
    {"te.s.t@example.com", true, "two separated dots inside local part are valid"},
    {"te..st@example.com", false, "two subsequent dots inside local part are not valid"},
    {"user1@oceania.org, user2@oceania.org", false, "two email addresses is not valid"},
    {"\"Winston Smith\" <winston.smith@recdep.minitrue> (Records Department)", false,
     "full \"From\" header is invalid"},
    {"@example.com", false, "local part is required"},
    {"joe.bloggs@", false, "domain is required"},
    {"joe bloggs@example.com", false, "unquoted space in local part is invalid"},
};

constexpr format_case kHostnameSuite[] = {
    {"www.example.com", true, "a valid host name"},
    {"hostname", true, "single label"},
    {"h0stn4me", true, "single label with digits"},
    {"1host", true, "single label starting with digit"},
    {"hostnam3", true, "single label ending with digit"},
    {"", false, "empty string"},
    {".", false, "single dot"},
    {".example", false, "leading dot"},
    {"example.", false, "trailing dot"},
    {"example\uff0ecom", false, "IDN label separator"},
    {"host-name", true, "single label with hyphen"},
    {"-hostname", false, "starts with hyphen"},
    {"hostname-", false, "ends with hyphen"},
    {"host_name", false, "contains underscore"},
    {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk."
     "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk."
     "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk."
     "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk.com",
     false, "exceeds maximum overall length (256)"},
    {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk.com", true,
     "maximum label length (63)"},
    {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl.com", false,
     "exceeds maximum label length (63)"},
    {"example.com\n", false, "trailing newline is invalid"},
    {"\u212aelvin.example.com", false, "invalid non-ASCII KELVIN SIGN (U+212A)"},
    {"a--b.com", true, "consecutive hyphens inside a label"},
    {"xn--X", false, "invalid Punycode"},
    {"xn--9n2bp8q.xn--9t4b11yi5a", true, "a valid host name (example.test in Hangul)"},
    {"xn--07jt112bpxg.xn--9t4b11yi5a", false,
     "contains illegal char U+302E Hangul single dot tone mark"},
    {"xn--hello-txk", false, "Begins with a Spacing Combining Mark"},
    {"xn--hello-zed", false, "Begins with a Nonspacing Mark"},
    {"xn--hello-6bf", false, "Begins with an Enclosing Mark"},
    {"xn--zca29lwxobi7a", true, "Exceptions that are PVALID, left-to-right chars"},
    {"xn--qmbc", true, "Exceptions that are PVALID, right-to-left chars"},
    {"xn--chb89f", false, "Exceptions that are DISALLOWED, right-to-left chars"},
    {"xn--07jceefgh4c", false, "Exceptions that are DISALLOWED, left-to-right chars"},
    {"xn--al-0ea", false, "MIDDLE DOT with no preceding 'l'"},
    {"xn--l-fda", false, "MIDDLE DOT with nothing preceding"},
    {"xn--la-0ea", false, "MIDDLE DOT with no following 'l'"},
    {"xn--l-gda", false, "MIDDLE DOT with nothing following"},
    {"xn--ll-0ea", true, "MIDDLE DOT with surrounding 'l's"},
    {"xn--S-jib3p", false, "Greek KERAIA not followed by Greek"},
    {"xn--wva3j", false, "Greek KERAIA not followed by anything"},
    {"xn--wva3je", true, "Greek KERAIA followed by Greek"},
    {"xn--A-2hc5h", false, "Hebrew GERESH not preceded by Hebrew"},
    {"xn--5db1e", false, "Hebrew GERESH not preceded by anything"},
    {"xn--4dbc5h", true, "Hebrew GERESH preceded by Hebrew"},
    {"xn--A-2hc8h", false, "Hebrew GERSHAYIM not preceded by Hebrew"},
    {"xn--5db3e", false, "Hebrew GERSHAYIM not preceded by anything"},
    {"xn--4dbc8h", true, "Hebrew GERSHAYIM preceded by Hebrew"},
    {"xn--defabc-k64e", false, "KATAKANA MIDDLE DOT with no Hiragana, Katakana, or Han"},
    {"xn--vek", false, "KATAKANA MIDDLE DOT with no other characters"},
    {"xn--k8j5u", true, "KATAKANA MIDDLE DOT with Hiragana"},
    {"xn--bck0j", true, "KATAKANA MIDDLE DOT with Katakana"},
    {"xn--vek778f", true, "KATAKANA MIDDLE DOT with Han"},
    {"xn--ngb6iyr", false, "Arabic-Indic digits mixed with Extended Arabic-Indic digits"},
    {"xn--ngba1o", true, "Arabic-Indic digits not mixed with Extended Arabic-Indic digits"},
    {"xn--0-gyc", true, "Extended Arabic-Indic digits not mixed with Arabic-Indic digits"},
    {"xn--11b2er09f", false, "ZERO WIDTH JOINER not preceded by Virama"},
    {"xn--02b508i", false, "ZERO WIDTH JOINER not preceded by anything"},
    {"xn--11b2ezcw70k", true, "ZERO WIDTH JOINER preceded by Virama"},
    {"xn--11b2ezcs70k", true, "ZERO WIDTH NON-JOINER preceded by Virama"},
    {"xn--ngba5hb2804a", true, "ZERO WIDTH NON-JOINER not preceded by Virama but matches regexp"},
    {"XN--aa---o47jg78q", false, "contains \"--\" in the 3rd and 4th position"},
};

constexpr format_case kIpv4Suite[] = {
    {"192.168.0.1", true, "a valid IP address"},
    {"127.0.0.0.1", false, "an IP address with too many components"},
    {"256.256.256.256", false, "an IP address with out-of-range values"},
    {"127.0", false, "an IP address without 4 components"},
    {"127.1", false, "a 2-part address resolving to a routable IP (inet_aton shorthand)"},
    {"127.0.1", false, "a 3-part address resolving to a routable IP (inet_aton shorthand)"},
    {"0x7f000001", false, "an IP address as an integer"},
    {"2130706433", false, "an IP address as an integer (decimal)"},
    {"1\u09e87.0.0.1", false, "invalid non-ASCII '\u09e8' (a Bengali 2)"},
    {"\uff11\uff19\uff12.\uff11\uff16\uff18.\uff11.\uff11", false,
     "invalid fullwidth digits (non-ASCII)"},
    {"\U0001d7cf\U0001d7d7\U0001d7d0.\U0001d7cf\U0001d7d4\U0001d7d6.\U0001d7cf.\U0001d7cf", false,
     "invalid mathematical bold digits (non-ASCII)"},
    {"192.168.1.0/24", false, "netmask is not a part of ipv4 address"},
    {" 192.168.0.1", false, "leading whitespace is invalid"},
    {"192.168.0.1 ", false, "trailing whitespace is invalid"},
    {"192.168.0.1\n", false, "trailing newline is invalid"},
    {"0x7f.0.0.1", false, "hexadecimal notation is invalid"},
    {"0o10.0.0.1", false, "octal notation explicit is invalid"},
    {"192.168..1", false, "empty part (double dot) is invalid"},
    {".192.168.0.1", false, "leading dot is invalid"},
    {"192.168.0.1.", false, "trailing dot is invalid"},
    {"0.0.0.0", true, "minimum valid IPv4 address"},
    {"255.255.255.255", true, "maximum valid IPv4 address"},
    {"200.0.0.0", true, "valid IPv4 with an octet in the 200 to 249 range"},
    {"10.20.30.40", true, "valid IPv4 with two-digit octets"},
    {"", false, "empty string is invalid"},
    {"+1.2.3.4", false, "plus sign is invalid"},
    {"-1.2.3.4", false, "negative sign is invalid"},
    {"1e2.0.0.1", false, "exponential notation is invalid"},
    {"192.168.a.1", false, "alpha characters are invalid"},
    {"192. 168.0.1", false, "internal whitespace is invalid"},
    {"192.168.0.1\t", false, "tab character is invalid"},
    {"192.168.0.1\x00.evil.com", false, "additional content after an embedded NUL byte"},
    {"192.168.0.1:80", false, "with port number is invalid"},
    {"::ffff:192.168.0.1", false, "an IPv4-mapped IPv6 address is invalid"},
    {"192.168.0.256", false, "single octet out of range in last position"},
};

constexpr format_case kIpv6Suite[] = {
    {"::1", true, "a valid IPv6 address"},
    {"12345::", false, "a group with 5 hex digits is invalid"},
    {"::abef", true, "trailing 4 hex symbols is valid"},
    {"::abcef", false, "trailing 5 hex symbols is invalid"},
    {"1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1", false, "an IPv6 address with too many components"},
    {"::laptop", false, "an IPv6 address containing illegal characters"},
    {"::", true, "no digits is valid"},
    {"::42:ff:1", true, "leading colons is valid"},
    {"d6::", true, "trailing colons is valid"},
    {":2:3:4:5:6:7:8", false, "missing leading octet is invalid"},
    {"1:2:3:4:5:6:7:", false, "missing trailing octet is invalid"},
    {":2:3:4::8", false, "missing leading octet with omitted octets later"},
    {"1:d6::42", true, "single set of double colons in the middle is valid"},
    {"1::d6::42", false, "two sets of double colons is invalid"},
    {"1::d6:192.168.0.1", true, "mixed format with the ipv4 section as decimal octets"},
    {"1:2::192.168.0.1", true, "mixed format with double colons between the sections"},
    {"1::2:192.168.256.1", false, "mixed format with ipv4 section with octet out of range"},
    {"1::2:192.168.ff.1", false, "mixed format with ipv4 section with a hex octet"},
    {"::ffff:192.168.0.1", true,
     "mixed format with leading double colons (ipv4-mapped ipv6 address)"},
    {"1:2:3:4:5:::8", false, "triple colons is invalid"},
    {"1:2:3:4:5:6:7:8", true, "8 octets"},
    {"1:2:3:4:5:6:7", false, "insufficient octets without double colons"},
    {"1", false, "no colons is invalid"},
    {"127.0.0.1", false, "ipv4 is not ipv6"},
    {"1:2:3:4:1.2.3", false, "ipv4 segment must have 4 octets"},
    {"  ::1", false, "leading whitespace is invalid"},
    {"::1  ", false, "trailing whitespace is invalid"},
    {"fe80::/64", false, "netmask is not a part of ipv6 address"},
    {"fe80::a%eth1", false, "zone id is not a part of ipv6 address"},
    {"1000:1000:1000:1000:1000:1000:255.255.255.255", true, "a long valid ipv6"},
    {"100:100:100:100:100:100:255.255.255.255.255", false,
     "a long invalid ipv6, below length limit, first"},
    {"100:100:100:100:100:100:100:255.255.255.255", false,
     "a long invalid ipv6, below length limit, second"},
    {"1:2:3:4:5:6:7:\u09ea", false, "invalid non-ASCII '\u09ea' (a Bengali 4)"},
    {"1:2::192.16\u09ea.0.1", false,
     "invalid non-ASCII '\u09ea' (a Bengali 4) in the IPv4 portion"},
    {"[::1]", false, "a bracketed address is invalid"},
    {"::ffff:192.168.0.01", false, "a leading zero in the last IPv4 octet is invalid"},
};

constexpr format_case kHostnameDraft4Suite[] = {
    {"xn--4gbwdl.xn--wgbh1c", true, "a valid punycoded IDN hostname"},
    {"ab--cd.example", true, "hostname with consecutive hyphens (RFC1123)"},
    {"-a-host-name-that-starts-with--", false, "a host name starting with an illegal character"},
    {"not_a_valid_host_name", false, "a host name containing illegal characters"},
    {"a-vvvvvvvvvvvvvvvveeeeeeeeeeeeeeeerrrrrrrrrrrrrrrryyyyyyyyyyyyyyyy-long-host-name-component",
     false, "a host name with a component too long"},
    {"_hostname", false, "starts with underscore"},
    {"hostname_", false, "ends with underscore"},
};

TEST(FormatsSuiteTest, DateTimeAgreesWithTestSuite) { expect_cases(is_date_time, kDateTimeSuite); }

TEST(FormatsSuiteTest, DateAgreesWithTestSuite) { expect_cases(is_date, kDateSuite); }

TEST(FormatsSuiteTest, TimeAgreesWithTestSuite) { expect_cases(is_time, kTimeSuite); }

TEST(FormatsSuiteTest, UriAgreesWithTestSuite) { expect_cases(is_uri, kUriSuite); }

TEST(FormatsSuiteTest, UriReferenceAgreesWithTestSuite) {
  expect_cases(is_uri_reference, kUriReferenceSuite);
}

TEST(FormatsSuiteTest, EmailAgreesWithTestSuite) { expect_cases(is_email, kEmailSuite); }

TEST(FormatsSuiteTest, HostnameAgreesWithTestSuite) {
  expect_cases(is_hostname, kHostnameSuite);
  expect_cases(is_hostname, kHostnameDraft4Suite);
}

TEST(FormatsSuiteTest, Ipv4AgreesWithTestSuite) { expect_cases(is_ipv4, kIpv4Suite); }

TEST(FormatsSuiteTest, Ipv6AgreesWithTestSuite) { expect_cases(is_ipv6, kIpv6Suite); }

// ---------------------------------------------------------------------------------------------
// Our own cases.

constexpr format_kind kAllKinds[] = {
    format_kind::date_time, format_kind::date,          format_kind::time,  format_kind::uuid,
    format_kind::uri,       format_kind::uri_reference, format_kind::email, format_kind::hostname,
    format_kind::ipv4,      format_kind::ipv6};

TEST(FormatNameTest, RoundTripsEveryKind) {
  for (format_kind kind : kAllKinds) {
    const std::optional<format_kind> parsed = parse_format_name(format_name(kind));
    ASSERT_TRUE(parsed.has_value()) << format_name(kind);
    EXPECT_EQ(*parsed, kind);
  }
}

TEST(FormatNameTest, UsesTheKeywordSpelling) {
  EXPECT_EQ(format_name(format_kind::date_time), "date-time");
  EXPECT_EQ(format_name(format_kind::date), "date");
  EXPECT_EQ(format_name(format_kind::time), "time");
  EXPECT_EQ(format_name(format_kind::uuid), "uuid");
  EXPECT_EQ(format_name(format_kind::uri), "uri");
  EXPECT_EQ(format_name(format_kind::uri_reference), "uri-reference");
  EXPECT_EQ(format_name(format_kind::email), "email");
  EXPECT_EQ(format_name(format_kind::hostname), "hostname");
  EXPECT_EQ(format_name(format_kind::ipv4), "ipv4");
  EXPECT_EQ(format_name(format_kind::ipv6), "ipv6");
}

TEST(FormatNameTest, UncheckedFormatsAreNotParsed) {
  // Formats we leave as annotations, plus near misses: names are case-sensitive and exact.
  for (std::string_view name :
       {"", "regex", "json-pointer", "relative-json-pointer", "uri-template", "iri",
        "iri-reference", "idn-email", "idn-hostname", "duration", "color", "Date-Time", "date_time",
        "datetime", "URI", "ipv4 ", " ipv4", "host-name", "ip-address"}) {
    EXPECT_FALSE(parse_format_name(name).has_value()) << '"' << name << '"';
  }
  EXPECT_FALSE(parse_format_name(std::string_view("date\0time", 9)).has_value());
}

TEST(CheckTest, DispatchesToTheMatchingChecker) {
  constexpr std::string_view kSamples[] = {"1963-06-19T08:30:06Z",
                                           "1963-06-19",
                                           "08:30:06Z",
                                           "2eb8aa08-aa98-11ea-b4aa-73b441d16380",
                                           "http://example.com/",
                                           "/relative",
                                           "joe@example.com",
                                           "example.com",
                                           "192.168.0.1",
                                           "::1",
                                           ""};
  constexpr checker kCheckers[] = {is_date_time,     is_date,  is_time,     is_uuid, is_uri,
                                   is_uri_reference, is_email, is_hostname, is_ipv4, is_ipv6};
  static_assert(std::size(kCheckers) == std::size(kAllKinds));
  for (std::size_t k = 0; k < std::size(kAllKinds); ++k) {
    // Every kind accepts its own sample and agrees with its checker on all the others.
    EXPECT_TRUE(check(kAllKinds[k], kSamples[k])) << format_name(kAllKinds[k]);
    for (std::string_view sample : kSamples) {
      EXPECT_EQ(check(kAllKinds[k], sample), kCheckers[k](sample))
          << format_name(kAllKinds[k]) << " \"" << sample << '"';
    }
  }
}

constexpr format_case kDateCases[] = {
    {"2000-02-29", true, "divisible by 400: leap year"},
    {"1900-02-29", false, "divisible by 100 but not 400: not a leap year"},
    {"2024-02-29", true, "divisible by 4: leap year"},
    {"2023-02-29", false, "not divisible by 4: not a leap year"},
    {"2023-02-28", true, "last day of a common February"},
    {"2024-02-30", false, "no February 30 even in a leap year"},
    {"0000-02-29", true, "year 0 is divisible by 400"},
    {"9999-12-31", true, "largest four-digit year"},
    {"2024-01-31", true, "31-day January"},
    {"2024-03-31", true, "31-day March"},
    {"2024-05-31", true, "31-day May"},
    {"2024-07-31", true, "31-day July"},
    {"2024-08-31", true, "31-day August"},
    {"2024-10-31", true, "31-day October"},
    {"2024-12-31", true, "31-day December"},
    {"2024-04-31", false, "30-day April"},
    {"2024-06-31", false, "30-day June"},
    {"2024-09-31", false, "30-day September"},
    {"2024-11-31", false, "30-day November"},
    {"2024-00-10", false, "month 00"},
    {"2024-13-10", false, "month 13"},
    {"2024-99-10", false, "month 99"},
    {"2024-01-00", false, "day 00"},
    {"2024-01-32", false, "day 32"},
    {"2024-01-99", false, "day 99"},
    {"", false, "empty string"},
    {"2024-01-1", false, "short day"},
    {"2024-01-011", false, "long day"},
    {"2024/01/01", false, "slashes"},
    {"2024-01-01T", false, "trailing T"},
    {"2024-01-01\x00", false, "trailing NUL"},
    {"2024\u000001-01", false, "NUL as separator"},
    {"\u0000024-01-01", false, "leading NUL"},
    {"2024-\u06601-01", false, "Arabic-Indic digit zero in the month"},
    {"\uff12\uff10\uff12\uff14-01-01", false, "fullwidth digits in the year"},
    {"2024-01-0\xff", false, "invalid UTF-8 byte"},
    {"2024-01-0/", false, "the character just below '0'"},
    {"2024-01-0:", false, "the character just above '9'"},
};

TEST(DateTest, ChecksCalendarAndSyntax) { expect_cases(is_date, kDateCases); }

TEST(DateTest, AcceptsExactlyTheDaysOfEachMonth) {
  // Month lengths for a common year and a leap year, checked against every day 00-39.
  constexpr int kCommon[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  for (const int year : {2023, 2024, 1900, 2000}) {
    const bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    for (int month = 1; month <= 12; ++month) {
      const int days = kCommon[month - 1] + (month == 2 && leap ? 1 : 0);
      for (int day = 0; day <= 39; ++day) {
        char text[11];
        std::snprintf(text, sizeof text, "%04d-%02d-%02d", year, month, day);
        EXPECT_EQ(is_date(text), day >= 1 && day <= days) << text;
      }
    }
  }
}

constexpr format_case kTimeCases[] = {
    {"00:00:00Z", true, "midnight"},
    {"23:59:59Z", true, "last second of the day"},
    {"23:59:60Z", true, "leap second in UTC"},
    {"12:00:00+14:00", true, "offset +14:00 (Line Islands)"},
    {"12:00:00-12:00", true, "offset -12:00"},
    {"12:00:00+23:59", true, "largest offset"},
    {"12:00:00+24:00", false, "offset hour 24"},
    {"12:00:00+00:60", false, "offset minute 60"},
    {"12:00:00+0000", false, "offset without colon"},
    {"12:00:00+00", false, "offset without minutes"},
    {"12:00:00+00:00:00", false, "offset with seconds"},
    {"12:00:00+", false, "bare plus"},
    {"12:00:00 Z", false, "space before Z"},
    {"12:00:00ZZ", false, "two Zs"},
    {"12:00:00.5Z", true, "one fractional digit"},
    {"12:00:00.123456789Z", true, "nine fractional digits"},
    {"12:00:00.Z", false, "dot without digits"},
    {"12:00:00.", false, "trailing dot"},
    {"12:00:00,5Z", false, "comma as decimal separator"},
    {"12:00:00.5.5Z", false, "two fractions"},
    {"12:00:00.5", false, "fraction without offset"},
    {"12:00:00z", true, "lower-case z"},
    {"24:00:00Z", false, "hour 24"},
    {"12:60:00Z", false, "minute 60"},
    {"12:00:61Z", false, "second 61"},
    {"23:59:60+00:00", true, "leap second with a zero offset"},
    {"23:59:60-00:00", true, "leap second with the unknown-offset marker"},
    {"00:59:60+01:00", true, "leap second, 23:59 UTC from +01:00"},
    {"12:59:60+13:00", true, "leap second, 23:59 UTC from +13:00"},
    {"12:00:60Z", false, "leap second at noon"},
    {"23:59:60+23:59", false, "leap second that is 00:00 UTC"},
    {"1:00:00Z", false, "one-digit hour"},
    {"12:0:00Z", false, "one-digit minute"},
    {"12:00:0Z", false, "one-digit second"},
    {"12:00Z", false, "no seconds"},
    {"12-00-00Z", false, "hyphens as separators"},
    {"", false, "empty string"},
    {"Z", false, "offset only"},
    {"12:00:00\x00Z", false, "NUL before the offset"},
    {"12:00:00Z\x00", false, "trailing NUL"},
    {"1\u0662:00:00Z", false, "Arabic-Indic digit two"},
    {"12:00:00.\u0665Z", false, "Arabic-Indic digit in the fraction"},
    {"12:00:00+0\u09ea:00", false, "Bengali digit in the offset"},
    {"T12:00:00Z", false, "leading T"},
};

TEST(TimeTest, ChecksRangesFractionsAndOffsets) { expect_cases(is_time, kTimeCases); }

constexpr format_case kDateTimeCases[] = {
    {"2024-02-29T12:00:00Z", true, "leap day"},
    {"2023-02-29T12:00:00Z", false, "not a leap year"},
    {"2000-02-29T12:00:00Z", true, "divisible by 400"},
    {"1900-02-29T12:00:00Z", false, "divisible by 100 only"},
    {"2024-01-01t00:00:00z", true, "lower-case t and z"},
    {"2024-01-01T00:00:00z", true, "lower-case z only"},
    {"2024-01-01 00:00:00Z", false, "space instead of T"},
    {"2024-01-01_00:00:00Z", false, "underscore instead of T"},
    {"2024-01-01T", false, "no time"},
    {"2024-01-01", false, "date only"},
    {"T00:00:00Z", false, "time only"},
    {"2024-01-01T00:00:00", false, "no offset"},
    {"2024-01-01T00:00:00.5Z", true, "one fractional digit"},
    {"2024-01-01T00:00:00.123456789+05:30", true, "nanoseconds and an offset"},
    {"2024-01-01T00:00:00.Z", false, "empty fraction"},
    {"2024-01-01T00:00:00+14:00", true, "offset +14:00"},
    {"2024-01-01T00:00:00+24:00", false, "offset +24:00"},
    {"2024-01-01T00:00:00+0100", false, "offset without colon"},
    {"2024-13-01T00:00:00Z", false, "month 13"},
    {"2024-00-01T00:00:00Z", false, "month 00"},
    {"2024-01-32T00:00:00Z", false, "day 32"},
    {"2024-01-00T00:00:00Z", false, "day 00"},
    {"2024-06-30T23:59:60Z", true, "leap second at the end of June"},
    {"2024-07-01T00:59:60+01:00", true, "leap second seen from +01:00"},
    {"2024-06-30T23:59:60+01:00", false, "leap second that is 22:59 UTC"},
    {"2024-01-01T00:00:00Z ", false, "trailing space"},
    {" 2024-01-01T00:00:00Z", false, "leading space"},
    {"2024-01-01T00:00:00Z\x00", false, "trailing NUL"},
    {"2024-01-01\u000000:00:00Z", false, "NUL instead of T"},
    {"2024-01-01T\u06600:00:00Z", false, "Arabic-Indic digit in the hour"},
    {"", false, "empty string"},
};

TEST(DateTimeTest, CombinesDateAndTime) { expect_cases(is_date_time, kDateTimeCases); }

constexpr format_case kUuidCases[] = {
    {"123e4567-e89b-12d3-a456-426614174000", true, "lower case"},
    {"123E4567-E89B-12D3-A456-426614174000", true, "upper case"},
    {"123e4567-E89b-12D3-a456-426614174000", true, "mixed case"},
    {"00000000-0000-0000-0000-000000000000", true, "nil UUID"},
    {"ffffffff-ffff-ffff-ffff-ffffffffffff", true, "max UUID"},
    {"123e4567-e89b-f2d3-a456-426614174000", true, "any version digit"},
    {"123e4567-e89b-12d3-f456-426614174000", true, "any variant digit"},
    {"123e4567-e89b-12d3-a456-42661417400", false, "35 characters"},
    {"123e4567-e89b-12d3-a456-4266141740000", false, "37 characters"},
    {"123e4567e89b12d3a456426614174000", false, "no hyphens"},
    {"123e4567-e89b-12d3-a456426614174000", false, "missing hyphen"},
    {"123e456-7e89b-12d3-a456-426614174000", false, "shifted hyphen"},
    {"123e4567-e89b-12d3-a456-42661417400g", false, "non-hex letter"},
    {"{123e4567-e89b-12d3-a456-426614174000}", false, "braces"},
    {"urn:uuid:123e4567-e89b-12d3-a456-426614174000", false, "URN prefix"},
    {" 123e4567-e89b-12d3-a456-42661417400", false, "leading space"},
    {"123e4567-e89b-12d3-a456-42661417400\x00", false, "NUL in place of a digit"},
    {"123e4567-e89b-12d3-a456-42661417400\u0660", false, "Arabic-Indic digit"},
    {"123e4567_e89b_12d3_a456_426614174000", false, "underscores"},
    {"", false, "empty string"},
};

TEST(UuidTest, ChecksTheTextualForm) { expect_cases(is_uuid, kUuidCases); }

constexpr format_case kIpv4Cases[] = {
    {"1.2.3.4", true, "single digits"},
    {"0.0.0.0", true, "zeros"},
    {"255.255.255.255", true, "maximum"},
    {"249.250.199.100", true, "three-digit octets"},
    {"256.0.0.0", false, "first octet 256"},
    {"1.2.3.256", false, "last octet 256"},
    {"1.2.3.1000", false, "four-digit octet"},
    {"01.2.3.4", false, "leading zero"},
    {"1.2.3.00", false, "double zero"},
    {"1.2.3.4.", false, "trailing dot"},
    {"1.2.3", false, "three octets"},
    {"1..3.4", false, "empty octet"},
    {"1.2.3.4\x00", false, "trailing NUL"},
    {"1.2\x00.3.4", false, "embedded NUL"},
    {"1.2.3.\u0664", false, "Arabic-Indic digit"},
    {"", false, "empty string"},
};

TEST(Ipv4Test, ChecksDottedQuads) { expect_cases(is_ipv4, kIpv4Cases); }

constexpr format_case kIpv6Cases[] = {
    {"2001:db8:85a3:0:0:8a2e:370:7334", true, "full form"},
    {"2001:0DB8:85A3:0000:0000:8A2E:0370:7334", true, "upper case with leading zeros"},
    {"2001:db8::8a2e:370:7334", true, "compressed middle"},
    {"1:2:3:4:5:6:7::", true, "'::' standing for one trailing group"},
    {"::2:3:4:5:6:7:8", true, "'::' standing for one leading group"},
    {"1:2:3::5:6:7:8", true, "'::' standing for one middle group"},
    {"1:2:3:4:5:6:7:8::", false, "'::' with eight groups"},
    {"::1:2:3:4:5:6:7:8", false, "leading '::' with eight groups"},
    {"1:2:3:4:5:6:7:8:9", false, "nine groups"},
    {"::1.2.3.4", true, "IPv4-compatible"},
    {"::ffff:1.2.3.4", true, "IPv4-mapped"},
    {"1:2:3:4:5:6:1.2.3.4", true, "six groups and IPv4"},
    {"1:2:3:4:5:6:7:1.2.3.4", false, "seven groups and IPv4"},
    {"1:2:3:4:5::1.2.3.4", true, "compressed with IPv4"},
    {"1:2:3:4:5:6::1.2.3.4", false, "'::' with six groups and IPv4"},
    {"::1.2.3.4:1", false, "IPv4 not at the end"},
    {"::1.2.3", false, "short IPv4"},
    {"::01.2.3.4", false, "IPv4 with a leading zero"},
    {":::", false, "three colons"},
    {":", false, "single colon"},
    {"1:", false, "trailing single colon"},
    {":1", false, "leading single colon"},
    {"::1:", false, "trailing colon after '::'"},
    {"1::2::3", false, "two '::'"},
    {"1:2:3:4:5:6:7:8 ", false, "trailing space"},
    {"g::1", false, "non-hex letter"},
    {"00000::1", false, "five-digit group"},
    {"fe80::1%eth0", false, "zone index"},
    {"::1/128", false, "prefix length"},
    {"::1\x00", false, "trailing NUL"},
    {"::\u00001", false, "embedded NUL"},
    {"::\u0661", false, "Arabic-Indic digit"},
    {"", false, "empty string"},
};

TEST(Ipv6Test, ChecksTextForms) { expect_cases(is_ipv6, kIpv6Cases); }

constexpr format_case kHostnameCases[] = {
    {"a", true, "one letter"},
    {"0", true, "one digit"},
    {"123.456", true, "all-numeric labels (RFC 1123 allows a leading digit)"},
    {"EXAMPLE.COM", true, "upper case"},
    {"a-b-c.d-e", true, "inner hyphens"},
    {"ab--cd", true, "'--' in the 3rd and 4th position of a non-IDNA label"},
    {"a..b", false, "empty label"},
    {"a.-b", false, "label starting with a hyphen"},
    {"a.b-", false, "label ending with a hyphen"},
    {"a b", false, "space"},
    {"a\u0000b", false, "embedded NUL"},
    {"example.com\x00", false, "trailing NUL"},
    {"ex\u00e4mple.com", false, "non-ASCII letter (a U-label, not a host name)"},
    {"*.example.com", false, "wildcard"},
    {"example.com:80", false, "port"},
    {"[::1]", false, "IP literal"},
    // IDNA2008 A-labels, cross-checked with the Python idna package.
    {"xn--bcher-kva.example", true, "b\u00fccher.example"},
    {"XN--BCHER-KVA.EXAMPLE", true, "upper-case A-label (DNS is case-insensitive)"},
    {"xn--BCHER-kva", true, "upper-case basic code points fold to lower case"},
    {"xn--9n2bp8q", true, "Hangul"},
    {"xn--mgbh0fb", true, "Arabic"},
    {"xn--fiqs8s", true, "Han"},
    {"xn--80ak6aa92e.com", true, "Cyrillic"},
    {"xn--ab-fsf", true, "virama between letters"},
    {"xn--", false, "prefix only"},
    {"xn--b", false, "truncated Punycode integer"},
    {"xn--a", false, "decodes to U+0080, a control"},
    {"xn--abc", false, "decodes to C1 controls"},
    {"xn--zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", false, "Punycode integer overflow"},
    {"xn--99999999999999999999999999", false, "Punycode integer overflow with digits"},
    {"xn--ls8h", false, "emoji U+1F4A9 is DISALLOWED"},
    {"xn--n3h", false, "snowman U+2603 is DISALLOWED"},
    {"xn--a-ecp.ru", false, "U+2488 DIGIT ONE FULL STOP is DISALLOWED"},
    {"xn--ss-", false, "trailing hyphen"},
    {"xn----eha", false, "U-label \"-\u00fc\" starts with a hyphen"},
    {"xn----dha", false, "U-label \"\u00fc-\" ends with a hyphen"},
    {"xn--1ca", true, "U+00E1 (NFC)"},
    {"xn--a-xbb", false, "'a' U+0301 is not NFC"},
    {"xn--zva", false, "U+0378 is unassigned"},
    {"xn--a-zhc", false, "bidi: a right-to-left label with a Latin letter"},
    {"xn--a-0hc", false, "bidi: a left-to-right label with a Hebrew letter"},
    {"xn--1-0hc", false, "bidi: a right-to-left label starting with a digit"},
    {"xn--4dbc5h.xn--bcher-kva", true, "Hebrew and Latin labels (bidi is checked per label)"},
    {"xn---fiqs8s", false, "delimiter without basic code points (Python idna accepts it)"},
    {"xn--bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-8yf", true, "63-octet A-label"},
    {"xn--bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-t2f", false, "64-octet A-label"},
};

TEST(HostnameTest, ChecksLabelsAndALabels) { expect_cases(is_hostname, kHostnameCases); }

TEST(HostnameTest, EnforcesLengthLimits) {
  const std::string label63(63, 'a');
  EXPECT_TRUE(is_hostname(label63));
  EXPECT_FALSE(is_hostname(label63 + "a"));
  // Four labels of 63 plus three dots is 255 octets; trim to exactly 253 and 254.
  std::string name = label63 + "." + label63 + "." + label63 + "." + label63;
  name.resize(253);
  EXPECT_TRUE(is_hostname(name)) << name.size();
  name += "a";
  EXPECT_FALSE(is_hostname(name)) << name.size();
  EXPECT_FALSE(is_hostname("example.com."));  // The root label's dot is not part of the name.
  EXPECT_FALSE(is_hostname(""));
  // As many A-labels as fit in 253 octets, each checked by libidn2.
  std::string a_labels = "xn--fiqs8s";
  while (a_labels.size() + 11 <= 253) a_labels += ".xn--fiqs8s";
  EXPECT_TRUE(is_hostname(a_labels)) << a_labels.size();
  EXPECT_FALSE(is_hostname(a_labels + ".xn--fiqs8s")) << a_labels.size() + 11;
}

// libidn2's conversions are reentrant: concurrent checks agree with sequential ones.
TEST(HostnameTest, IsThreadSafe) {
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&mismatches] {
      for (int round = 0; round < 50; ++round) {
        for (const format_case& c : kHostnameCases) {
          if (is_hostname(c.input) != c.valid) ++mismatches;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

constexpr format_case kUriCases[] = {
    {"https://user:pw@example.com:8443/a/b?c=d&e#f", true, "every component"},
    {"http://[::1]:80/", true, "IPv6 literal with port"},
    {"http://[v7.fe80::a+en1]/", true, "IPvFuture literal"},
    {"http://[V1A.x]/", true, "IPvFuture with upper-case V"},
    {"http://[v.x]/", false, "IPvFuture without version"},
    {"http://[v1.]/", false, "IPvFuture without address"},
    {"http://[::1]x/", false, "junk after an IP literal"},
    {"http://[::1/", false, "unclosed IP literal"},
    {"http://[1.2.3.4]/", false, "IPv4 in brackets"},
    {"http://a:/", true, "empty port"},
    {"http://a:65536/", true, "port range is not syntax"},
    {"http://a:-1/", false, "negative port"},
    {"http://", true, "empty authority"},
    {"file:///etc/hosts", true, "empty host"},
    {"http://a%2Fb/", true, "percent-encoded reg-name"},
    {"http://a%2/", false, "truncated percent-encoding in host"},
    {"x:", true, "scheme and empty path"},
    {"a+b-c.d:x", true, "every scheme character"},
    {"urn:isbn:0451450523", true, "URN"},
    {"http://a/b?c?d/e:f@g", true, "'?', '/', ':' and '@' in the query"},
    {"http://a/b#c?d/e", true, "'?' and '/' in the fragment"},
    {"http://a/b#c#d", false, "two '#'"},
    {"http://a/b c", false, "space"},
    {"http://a/%7e", true, "lower-case hex in percent-encoding"},
    {"http://a/%", false, "lone '%' at the end"},
    {"http://a/?%4", false, "truncated percent-encoding in the query"},
    {"http://a/#%zz", false, "bad percent-encoding in the fragment"},
    {"http://a/\x00", false, "NUL"},
    {"http://a/\x7f", false, "DEL"},
    {"http://a/\u00e9", false, "non-ASCII"},
    {":", false, "empty scheme"},
    {"", false, "empty string is no URI"},
    {"//a/b", false, "network-path reference"},
    {"a/b:c", false, "relative path"},
};

TEST(UriTest, ChecksComponents) { expect_cases(is_uri, kUriCases); }

constexpr format_case kUriReferenceCases[] = {
    {"", true, "empty"},
    {".", true, "dot"},
    {"../a/b", true, "dot-dot"},
    {"a/b:c", true, "colon after the first segment"},
    {"a:b", true, "a URI with scheme a"},
    {"-a:b", false, "colon in a first segment that is no scheme"},
    {"?", true, "empty query"},
    {"#", true, "empty fragment"},
    {"//host:8080", true, "network path with port"},
    {"//[::1]", true, "network path with IPv6"},
    {"//user@host@x", false, "two '@'"},
    {"/a//b", true, "empty segment"},
    {"//a\\b", false, "backslash"},
    {"%41", true, "percent-encoded first segment"},
    {"%4", false, "truncated percent-encoding"},
    {"a\x00", false, "NUL"},
};

TEST(UriReferenceTest, ChecksRelativeReferences) {
  expect_cases(is_uri_reference, kUriReferenceCases);
  // Every URI is a URI reference.
  for (const format_case& c : kUriCases) {
    if (c.valid) {
      EXPECT_TRUE(is_uri_reference(c.input)) << printable(c.input);
    }
  }
}

constexpr format_case kEmailCases[] = {
    {"a@b", true, "shortest"},
    {"!#$%&'*+-/=?^_`{|}~@example.com", true, "every atext special"},
    {"a.b.c@example.com", true, "dot-atoms"},
    {"\"john doe\"@example.com", true, "quoted space"},
    {"\"a@b\"@example.com", true, "quoted '@'"},
    {"\"a\\\"b\\\\c\"@example.com", true, "quoted-pairs"},
    {"\"\"@example.com", true, "empty quoted string"},
    {"\"a\"b@example.com", false, "text after the quoted string"},
    {"\"unterminated@example.com", false, "unterminated quote"},
    {"\"a\\\x01\"@example.com", false, "quoted-pair of a control"},
    {"\"a\x01\"@example.com", false, "control in a quoted string"},
    {"a\"b@example.com", false, "quote inside a dot-atom"},
    {"a(b)@example.com", false, "comment characters"},
    {"a@[127.0.0.1]", true, "IPv4 literal"},
    {"a@[IPv6:::1]", true, "IPv6 literal"},
    {"a@[ipv6:2001:db8::1]", true, "IPv6 tag is case-insensitive"},
    {"a@[IPv6:1.2.3.4]", false, "IPv4 under the IPv6 tag"},
    {"a@[::1]", false, "IPv6 literal without tag"},
    {"a@[256.0.0.1]", false, "bad IPv4 literal"},
    {"a@[127.0.0.1", false, "unclosed literal"},
    {"a@127.0.0.1]", false, "unopened literal"},
    {"a@[]", false, "empty literal"},
    {"a@[tag:content]", false, "general address literal"},
    {"a@-example.com", false, "domain label starting with a hyphen"},
    {"a@example..com", false, "empty domain label"},
    {"a@exa_mple.com", false, "underscore in domain"},
    {"a@invalid=domain.com", false, "'=' in domain"},
    {"a@xn--n3h.com", false, "DISALLOWED A-label in domain"},
    {"a@b@c", false, "two '@'"},
    {"a", false, "no '@'"},
    {"a@", false, "no domain"},
    {"@b", false, "no local part"},
    {"\u00e9@example.com", false, "non-ASCII local part"},
    {"a@\u00e9xample.com", false, "non-ASCII domain"},
    {"a\x00@example.com", false, "NUL in local part"},
    {"a@example.com\x00", false, "trailing NUL"},
    {"", false, "empty string"},
};

TEST(EmailTest, ChecksMailboxes) { expect_cases(is_email, kEmailCases); }

TEST(EmailTest, EnforcesLengthLimits) {
  const std::string local64(64, 'a');
  EXPECT_TRUE(is_email(local64 + "@example.com"));
  EXPECT_FALSE(is_email(local64 + "a@example.com"));
  EXPECT_FALSE(is_email("\"" + std::string(63, 'a') + "\"@example.com"));  // 65 with quotes.
  // 64 + "@" + 189 = 254 octets is the most a path's mailbox may have.
  const std::string domain189 =
      std::string(63, 'b') + "." + std::string(63, 'c') + "." + std::string(61, 'd');
  EXPECT_TRUE(is_email(local64 + "@" + domain189));
  EXPECT_FALSE(is_email(local64 + "@" + domain189 + "e"));
}

// Inputs that no format accepts, whatever the kind.
TEST(AllFormatsTest, RejectEmptyStringExceptUriReference) {
  for (format_kind kind : kAllKinds) {
    EXPECT_EQ(check(kind, ""), kind == format_kind::uri_reference) << format_name(kind);
  }
}

TEST(AllFormatsTest, RejectEmbeddedNulAndNonAscii) {
  constexpr std::string_view kValid[] = {"1963-06-19T08:30:06Z",
                                         "1963-06-19",
                                         "08:30:06Z",
                                         "2eb8aa08-aa98-11ea-b4aa-73b441d16380",
                                         "http://example.com/a",
                                         "/a",
                                         "joe@example.com",
                                         "example.com",
                                         "192.168.0.1",
                                         "1::2"};
  static_assert(std::size(kValid) == std::size(kAllKinds));
  for (std::size_t k = 0; k < std::size(kAllKinds); ++k) {
    const std::string valid(kValid[k]);
    ASSERT_TRUE(check(kAllKinds[k], valid)) << valid;
    // Replacing or following any character with NUL, a UTF-8 digit or a stray byte must fail.
    for (std::string_view bad : {std::string_view("\0", 1), std::string_view("\u0661"),
                                 std::string_view("\xff"), std::string_view("\xc2\xa0")}) {
      for (std::size_t i = 0; i <= valid.size(); ++i) {
        std::string replaced = valid;
        replaced.replace(i, i < valid.size() ? 1 : 0, bad);
        EXPECT_FALSE(check(kAllKinds[k], replaced)) << printable(replaced);
      }
    }
  }
}

// Each check of a 1 MiB input must be linear: a quadratic scan would take minutes, so a bound of
// one second (generous for sanitizer builds) catches it without being flaky.
void expect_fast(format_kind kind, const std::string& input, bool valid) {
  const auto start = std::chrono::steady_clock::now();
  const bool result = check(kind, input);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(result, valid) << format_name(kind) << ", " << input.size() << " octets";
  EXPECT_LT(elapsed, std::chrono::seconds(1)) << format_name(kind);
}

TEST(AllFormatsTest, HandleOneMebibyteInputsInLinearTime) {
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  const std::string digits(kMiB, '1');
  const std::string letters(kMiB, 'a');
  const std::string colons(kMiB, ':');
  const std::string dots(kMiB, '.');
  const std::string path_segments = [&] {
    std::string s;
    while (s.size() < kMiB) s += "/a%20b";
    return s;
  }();
  for (format_kind kind : kAllKinds) {
    for (const std::string* junk : {&digits, &letters, &colons, &dots}) {
      // Only a relative reference can be a megabyte of letters, digits or dots.
      const bool valid = kind == format_kind::uri_reference && junk != &colons;
      expect_fast(kind, *junk, valid);
    }
  }
  // Long but valid: an unbounded fraction of a second, and long URI components.
  expect_fast(format_kind::date_time, "2024-01-01T00:00:00." + digits + "Z", true);
  expect_fast(format_kind::time, "00:00:00." + digits + "+01:00", true);
  expect_fast(format_kind::time, "00:00:00." + digits, false);
  expect_fast(format_kind::uri, "http://example.com" + path_segments, true);
  expect_fast(format_kind::uri, "http://example.com/?" + letters + "#" + letters, true);
  expect_fast(format_kind::uri, "http://" + letters + "/", true);
  expect_fast(format_kind::uri, "http://[" + colons + "]/", false);
  expect_fast(format_kind::uri, "http://" + letters + "@" + letters + "@/", false);
  expect_fast(format_kind::uri, "a:" + path_segments + "%", false);
  expect_fast(format_kind::uri_reference, path_segments + "#" + path_segments, true);
  expect_fast(format_kind::uri_reference, letters + ":", true);  // Scheme "aaa...", empty path.
  expect_fast(format_kind::uri_reference, digits + ":", false);  // No scheme starts with a digit.
  // Length limits cut these short; the sizes just prove nothing is scanned first.
  expect_fast(format_kind::hostname, letters, false);
  expect_fast(format_kind::email, letters + "@example.com", false);
  expect_fast(format_kind::email, "a@" + letters, false);
  expect_fast(format_kind::email, "\"" + letters, false);
  expect_fast(format_kind::ipv6, "1:" + letters, false);
  expect_fast(format_kind::ipv6, "::" + digits, false);
  expect_fast(format_kind::ipv4, "1.1.1." + digits, false);
}

}  // namespace
}  // namespace odrgw::schemas::formats
