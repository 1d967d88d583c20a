// Every example passes or fails as labelled, at the labelled place; the compiled validator agrees
// with valijson on every example; JSON <-> XML round trips are lossless.
#include <set>

#include <gtest/gtest.h>

#include <odrgw/adapters/canonical.hpp>
#include <odrgw/schemas/validator.hpp>

#include "test_support.hpp"

namespace odrgw::schemas {
namespace {

using test::examples_dir;
using test::files_in;
using test::read_file;

std::shared_ptr<const schema_set> set() { return schema_set::builtin(); }

std::string describe(const report& r) {
  std::string s = std::string(to_string(r.status)) + " " + r.message_type + ":";
  for (const auto& e : r.errors) s += "\n  " + e.location + " [" + e.rule + "] " + e.message;
  return s;
}

std::set<std::pair<std::string, std::string>> places(const report& r) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& e : r.errors) out.emplace(e.location, e.rule);
  return out;
}

TEST(Examples, EveryMessageTypeHasValidJsonAndXmlExamples) {
  for (const auto& m : set()->model().messages()) {
    EXPECT_TRUE(std::filesystem::exists(examples_dir() / "valid" / (m.type + ".json"))) << m.type;
    EXPECT_TRUE(std::filesystem::exists(examples_dir() / "valid" / (m.type + ".xml"))) << m.type;
  }
}

TEST(Examples, ValidJsonExamplesAreValid) {
  const auto files = files_in(examples_dir() / "valid", ".json");
  ASSERT_GE(files.size(), set()->model().messages().size());
  for (const auto& f : files) {
    const report r = set()->validate(read_file(f));
    EXPECT_TRUE(r.valid()) << f.filename() << "\n" << describe(r);
    EXPECT_EQ(r.enc, encoding::json);
  }
}

TEST(Examples, ValidXmlExamplesAreValid) {
  const auto files = files_in(examples_dir() / "valid", ".xml");
  ASSERT_GE(files.size(), set()->model().messages().size());
  for (const auto& f : files) {
    const report r = set()->validate(read_file(f));
    EXPECT_TRUE(r.valid()) << f.filename() << "\n" << describe(r);
    EXPECT_EQ(r.enc, encoding::xml);
  }
}

struct labelled {
  std::string file, type, rule, location;
};

std::vector<labelled> manifest() {
  rapidjson::Document d;
  json_error err;
  const std::string text = read_file(examples_dir() / "invalid/manifest.json");
  EXPECT_TRUE(parse_json(text, d, {}, err)) << err.message;
  std::vector<labelled> out;
  if (!d.IsArray()) return out;
  for (const auto& e : d.GetArray())
    out.push_back({e["file"].GetString(), e["messageType"].GetString(), e["rule"].GetString(),
                   e["location"].GetString()});
  return out;
}

TEST(Examples, EveryInvalidExampleIsLabelledAndEveryLabelHasAFile) {
  const auto m = manifest();
  std::set<std::string> labelled_files;
  for (const auto& e : m) {
    labelled_files.insert(e.file);
    EXPECT_TRUE(std::filesystem::exists(examples_dir() / "invalid" / e.file)) << e.file;
  }
  for (const auto& ext : {".json", ".xml"})
    for (const auto& f : files_in(examples_dir() / "invalid", ext))
      if (f.filename() != "manifest.json") {
        EXPECT_TRUE(labelled_files.contains(f.filename().string())) << f.filename();
      }
  EXPECT_GE(m.size(), 25u);
}

TEST(Examples, InvalidExamplesFailAtTheLabelledPlaceForTheLabelledRule) {
  for (const auto& e : manifest()) {
    // Validated as the labelled type: one example sends a messageType that is not its payload's.
    validate_options as;
    as.message_type = e.type;
    const report r = set()->validate(read_file(examples_dir() / "invalid" / e.file), as);
    ASSERT_FALSE(r.valid()) << e.file;
    EXPECT_EQ(r.status, verdict::invalid) << e.file << "\n" << describe(r);
    EXPECT_EQ(r.message_type, e.type) << e.file;
    // The labelled violation comes first; XSD may add a consequence (e.g. the type check after a
    // facet), the JSON side must not.
    ASSERT_FALSE(r.errors.empty());
    EXPECT_EQ(r.errors.front().location, e.location) << e.file << "\n" << describe(r);
    EXPECT_EQ(r.errors.front().rule, e.rule) << e.file << "\n" << describe(r);
    if (r.enc == encoding::json) {
      EXPECT_EQ(r.errors.size(), 1u) << e.file << "\n" << describe(r);
    } else {
      EXPECT_GT(r.errors.front().line, 0u) << e.file;
    }
  }
}

// The compiled validator is the fast path; valijson on the published JSON Schema is the
// reference. They must agree on the verdict and on every (location, rule).
TEST(Examples, CompiledValidatorAgreesWithValijsonOnEveryJsonExample) {
  std::vector<std::filesystem::path> files = files_in(examples_dir() / "valid", ".json");
  for (const auto& f : files_in(examples_dir() / "invalid", ".json"))
    if (f.filename() != "manifest.json") files.push_back(f);
  std::map<std::string, std::unique_ptr<json_schema_validator>> reference;
  for (const auto& m : set()->model().messages()) {
    std::string error;
    reference[m.type] = json_schema_validator::load(*set()->json_schema_text(m.type), error);
    ASSERT_TRUE(reference[m.type]) << m.type << ": " << error;
  }
  int compared = 0;
  for (const auto& f : files) {
    rapidjson::Document doc;
    json_error err;
    ASSERT_TRUE(parse_json(read_file(f), doc, {}, err)) << f;
    report fast;
    set()->validate_json(doc, "", fast);
    auto it = reference.find(fast.message_type);
    if (it == reference.end()) continue;  // unknown type: nothing to compare
    report slow;
    it->second->validate(doc, slow);
    EXPECT_EQ(fast.valid(), slow.valid())
        << f.filename() << "\nfast " << describe(fast) << "\nvalijson " << describe(slow);
    EXPECT_EQ(places(fast), places(slow))
        << f.filename() << "\nfast " << describe(fast) << "\nvalijson " << describe(slow);
    ++compared;
  }
  EXPECT_GE(compared, 50);
}

TEST(RoundTrip, JsonToXmlToJsonIsLossless) {
  const adapters::canonical_json cj(set());
  const adapters::canonical_xml cx(set());
  for (const auto& f : files_in(examples_dir() / "valid", ".json")) {
    const std::string original = read_file(f);
    std::string xml, back;
    report r1, r2;
    ASSERT_TRUE(adapters::translate(cj, cx, original, xml, r1)) << f << describe(r1);
    ASSERT_TRUE(adapters::translate(cx, cj, xml, back, r2)) << f << describe(r2);
    rapidjson::Document a, b;
    json_error err;
    ASSERT_TRUE(parse_json(original, a, {}, err));
    ASSERT_TRUE(parse_json(back, b, {}, err));
    EXPECT_TRUE(a == b) << f.filename() << "\n" << back;
  }
}

TEST(RoundTrip, CommittedXmlExamplesAreExactlyWhatTheAdapterWrites) {
  const adapters::canonical_json cj(set());
  const adapters::canonical_xml cx(set());
  for (const auto& f : files_in(examples_dir() / "valid", ".xml")) {
    auto json_twin = f;
    json_twin.replace_extension(".json");
    ASSERT_TRUE(std::filesystem::exists(json_twin)) << f;
    std::string xml, back;
    report r;
    ASSERT_TRUE(adapters::translate(cj, cx, read_file(json_twin), xml, r)) << describe(r);
    EXPECT_TRUE(xml == read_file(f)) << f.filename()
                                     << ": regenerate with odrgw translate --from canonical-json "
                                        "--to canonical-xml";
    // ...and XML -> JSON -> XML is a fixed point too.
    ASSERT_TRUE(adapters::translate(cx, cj, xml, back, r)) << describe(r);
    std::string again;
    ASSERT_TRUE(adapters::translate(cj, cx, back, again, r)) << describe(r);
    EXPECT_EQ(again, xml) << f.filename();
  }
}

TEST(RoundTrip, XmlInAnyMemberOrderGivesTheSameCanonicalJson) {
  const adapters::canonical_xml cx(set());
  const std::string xml = read_file(examples_dir() / "valid/dispute.withdrawal.xml");
  // Move <sender> after <payload>: xs:all allows any order; canonical JSON is schema-ordered.
  const auto s = xml.find("  <sender>");
  const auto e = xml.find("</sender>\n") + 10;
  std::string moved = xml.substr(0, s) + xml.substr(e);
  moved.insert(moved.find("</message>"), xml.substr(s, e - s));
  rapidjson::Document a, b;
  report r;
  ASSERT_TRUE(cx.to_canonical(xml, a, r)) << describe(r);
  ASSERT_TRUE(cx.to_canonical(moved, b, r)) << describe(r) << moved;
  EXPECT_EQ(to_json_string(a), to_json_string(b));
}

TEST(RoundTrip, TextThatXmlCannotCarryIsReportedNotMangled) {
  const adapters::canonical_xml cx(set());
  rapidjson::Document d;
  json_error err;
  ASSERT_TRUE(parse_json(read_file(examples_dir() / "valid/negotiation.message.json"), d, {}, err));
  d["payload"]["text"].SetString("bell \x07 here", d.GetAllocator());
  std::string out;
  report r;
  EXPECT_FALSE(cx.from_canonical(d, out, r));
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0].rule, "xml-char");
  EXPECT_EQ(r.errors[0].location, "/payload/text");
}

TEST(RoundTrip, CarriageReturnsSurviveXml) {
  const adapters::canonical_json cj(set());
  const adapters::canonical_xml cx(set());
  rapidjson::Document d;
  json_error err;
  ASSERT_TRUE(parse_json(read_file(examples_dir() / "valid/negotiation.message.json"), d, {}, err));
  d["payload"]["text"].SetString("line one\r\nline two & <three>\t\xE4\xB8\xAD", d.GetAllocator());
  std::string xml, back;
  report r;
  ASSERT_TRUE(cx.from_canonical(d, xml, r)) << describe(r);
  ASSERT_TRUE(adapters::translate(cx, cj, xml, back, r)) << describe(r);
  rapidjson::Document b;
  ASSERT_TRUE(parse_json(back, b, {}, err));
  EXPECT_TRUE(d == b) << back;
}

}  // namespace
}  // namespace odrgw::schemas
