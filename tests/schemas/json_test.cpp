// The JSON front door: strict syntax, UTF-8, limits, duplicate names, no recursion.
#include <gtest/gtest.h>

#include <odrgw/schemas/json.hpp>

namespace odrgw::schemas {
namespace {

json_error parse_fails(std::string_view text, const json_limits& limits = {}) {
  rapidjson::Document d;
  json_error err;
  EXPECT_FALSE(parse_json(text, d, limits, err)) << text.substr(0, 80);
  return err;
}

TEST(Json, ParsesStrictJson) {
  rapidjson::Document d;
  json_error err;
  ASSERT_TRUE(parse_json(R"({"a": [1, 2.5, "x", true, null], "b": {}})", d, {}, err));
  EXPECT_EQ(d["a"].Size(), 5u);
}

TEST(Json, SyntaxErrorsNameLineAndColumn) {
  const auto err = parse_fails("{\n  \"a\": 1,\n  \"b\": ]\n}");
  EXPECT_EQ(err.rule, "json-syntax");
  EXPECT_EQ(err.line, 3u);
  EXPECT_EQ(err.column, 8u);
  EXPECT_NE(err.message.find("line 3"), std::string::npos);
}

TEST(Json, RejectsWhatRfc8259Forbids) {
  for (std::string_view bad : {"{\"a\": 1,}", "[1,]", "{'a': 1}", "NaN", "[Infinity]", "01",
                               "{\"a\": 1} x", "", "   ", "/* c */ {}", "[\"tab\there\"]"})
    EXPECT_EQ(parse_fails(bad).rule, "json-syntax") << bad;
}

TEST(Json, RejectsInvalidUtf8) {
  for (std::string_view bad : {"[\"\xC3\x28\"]", "[\"\xFF\"]", "[\"\xED\xA0\x80\"]",
                               "[\"\xF4\x90\x80\x80\"]", "[\"\xC0\xAF\"]"})
    EXPECT_EQ(parse_fails(bad).rule, "json-encoding") << bad;
  // A lone surrogate escape is not a character either.
  EXPECT_EQ(parse_fails(R"(["\ud800"])").rule, "json-encoding");
}

TEST(Json, Utf8CheckFindsTheFirstBadByte) {
  // Valid: 2-, 3- and 4-byte sequences at the edges of their ranges, long ASCII runs.
  rapidjson::Document d;
  json_error err;
  const std::string ok = "[\"" + std::string(37, 'a') +
                         "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF"
                         "\xEE\x80\x80\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\"]";
  EXPECT_TRUE(parse_json(ok, d, {}, err)) << err.message;
  // Invalid: overlong, surrogate, above U+10FFFF, truncated at the end, lone continuation.
  for (std::string_view bad : {"\xC1\xBF", "\xE0\x9F\xBF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                               "\xF5\x80\x80\x80", "\xE2\x82", "\x80"}) {
    const std::string text = "[\"" + std::string(13, 'x') + std::string(bad) + "\"]";
    const auto e = parse_fails(text);
    EXPECT_EQ(e.rule, "json-encoding");
    EXPECT_EQ(e.offset, 15u) << text;
  }
  // A multi-byte character straddling the 8-byte fast path is still checked.
  const auto e = parse_fails(std::string("[\"abcde") + "\xE2\x82\"]");
  EXPECT_EQ(e.rule, "json-encoding");
}

TEST(Json, HundredThousandDeepNestingIsRefusedWithoutRecursion) {
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  const auto err = parse_fails(deep);
  EXPECT_EQ(err.rule, "max-depth");
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  objects += "1" + std::string(100000, '}');
  EXPECT_EQ(parse_fails(objects).rule, "max-depth");
}

TEST(Json, DepthLimitIsExact) {
  json_limits l;
  l.max_depth = 3;
  rapidjson::Document d;
  json_error err;
  EXPECT_TRUE(parse_json("[[[1]]]", d, l, err));
  EXPECT_EQ(parse_fails("[[[[1]]]]", l).rule, "max-depth");
}

TEST(Json, SizeAndStringLimits) {
  json_limits l;
  l.max_bytes = 10;
  EXPECT_EQ(parse_fails("[1,2,3,4,5,6]", l).rule, "max-bytes");
  json_limits s;
  s.max_string_bytes = 4;
  EXPECT_EQ(parse_fails(R"(["12345"])", s).rule, "max-string");
  EXPECT_EQ(parse_fails(R"({"12345": 1})", s).rule, "max-string");
}

TEST(Json, DuplicateMemberNamesAreRefusedWithTheirPlace) {
  auto err = parse_fails(R"({"a": {"b": [1, {"c": 1, "c": 2}]}})");
  EXPECT_EQ(err.rule, "duplicate-key");
  EXPECT_EQ(err.location, "/a/b/1");
  // Large objects take the sorting path.
  std::string big = "{";
  for (int i = 0; i < 5000; ++i) big += "\"k" + std::to_string(i) + "\":1,";
  big += "\"k42\":2}";
  err = parse_fails(big);
  EXPECT_EQ(err.rule, "duplicate-key");
  EXPECT_EQ(err.location, "");
}

TEST(Json, PointerTokensAreEscaped) {
  std::string p;
  append_pointer_token(p, "a/b~c");
  EXPECT_EQ(p, "/a~1b~0c");
}

TEST(Json, RapidJsonMisuseThrowsInsteadOfUndefinedBehaviour) {
  rapidjson::Document d;
  d.SetObject();
  EXPECT_THROW((void)d.GetString(), std::logic_error);
}

}  // namespace
}  // namespace odrgw::schemas
