// The one source of truth: its subset is enforced, and the published JSON Schemas and XSDs in
// schemas/v1/{json,xsd} are exactly what the model generates (no hand-kept twins).
#include <gtest/gtest.h>

#include <odrgw/schemas/validator.hpp>

#include "test_support.hpp"

namespace odrgw::schemas {
namespace {

std::string source_with_payload(const std::string& payload) {
  return R"({"$schema": "http://json-schema.org/draft-07/schema#", "$id": "urn:t",
    "x-odr-spec-version": "1.0", "x-odr-xml-namespace": "urn:t",
    "x-odr-messages": {"t.x": {"payload": "P", "caseIdRequired": false, "clause": "c",
                               "description": "d"}},
    "definitions": {
      "Envelope": {"type": "object", "additionalProperties": false,
        "required": ["messageId", "messageType", "specVersion", "sender", "recipient", "sentAt",
                     "payload"],
        "properties": {"messageId": {"type": "string", "maxLength": 36},
          "messageType": {"type": "string", "maxLength": 64}, "specVersion": {"const": "1.0"},
          "caseId": {"type": "string", "maxLength": 9}, "sender": {"type": "string", "maxLength": 9},
          "recipient": {"type": "string", "maxLength": 9},
          "sentAt": {"type": "string", "maxLength": 40}, "payload": {"type": "object"}}},
      "P": )" +
         payload + "}}";
}

TEST(Model, BuiltinSetHasEveryDesignMessageType) {
  const auto& m = schema_set::builtin()->model();
  for (const char* t : {"dispute.application",
                        "dispute.appeal",
                        "dispute.acceptance",
                        "dispute.response",
                        "dispute.withdrawal",
                        "negotiation.message",
                        "negotiation.offer",
                        "negotiation.offer-response",
                        "settlement.agreement",
                        "escalation.request",
                        "mediation.neutral-appointed",
                        "mediation.proposal",
                        "arbitration.submission",
                        "arbitration.award",
                        "evidence.submission",
                        "outcome.notification",
                        "outcome.confirmation",
                        "case.closure",
                        "execution.report",
                        "evaluation.submission",
                        "stage.changed",
                        "deadline.notice"})
    EXPECT_NE(m.find(t), nullptr) << t;
  EXPECT_EQ(m.spec_version(), "1.0");
  const auto* app = m.find("dispute.application");
  ASSERT_NE(app, nullptr);
  EXPECT_FALSE(app->case_id_required);
  EXPECT_TRUE(m.find("dispute.appeal")->case_id_required);
}

TEST(Model, EnvelopeFieldsAreExactlyTheDesignOnes) {
  const auto* env = schema_set::builtin()->model().envelope();
  std::vector<std::string> names;
  for (const auto& p : env->properties) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"messageId", "messageType", "specVersion", "caseId",
                                             "proceedingId", "senderCaseRef", "sender", "recipient",
                                             "sentAt", "inReplyTo", "language", "payload"}));
}

// Walks a message's tree and collects the pointers of personal-data properties.
void personal(const node& n, const std::string& at, std::vector<std::string>& out, int depth) {
  if (depth > 20) return;
  if (n.type == value_type::object)
    for (const auto& p : n.properties) {
      if (p.personal_data) out.push_back(at + "/" + p.name);
      personal(*p.schema, at + "/" + p.name, out, depth + 1);
    }
  if (n.type == value_type::array) personal(*n.items, at + "/*", out, depth + 1);
}

TEST(Model, PersonalDataIsMarkedAndReachesTheXsd) {
  const auto set = schema_set::builtin();
  const auto* app = set->model().find("dispute.application");
  std::vector<std::string> marked;
  personal(*app->root, "", marked, 0);
  EXPECT_GE(marked.size(), 5u);
  bool description = false;
  for (const auto& m : marked) description = description || m == "/payload/description";
  EXPECT_TRUE(description) << "free text must be marked";
  EXPECT_NE(set->xsd_text("dispute.application")->find("odrx:personalData=\"true\""),
            std::string::npos);
  EXPECT_NE(set->json_schema_text("dispute.application")->find("x-odr-personal-data"),
            std::string::npos);
}

TEST(Model, MinimalSourceLoads) {
  auto s = schema_set::from_source(source_with_payload(
      R"({"type": "object", "additionalProperties": false,
          "properties": {"a": {"type": "string", "maxLength": 3, "pattern": "^(x|y)$"}}})"));
  EXPECT_NE(s->xsd_text("t.x")->find("<xs:pattern value=\"(x|y)\"/>"), std::string::npos);
}

struct bad_source {
  const char* payload;
  const char* pointer;
};

TEST(Model, KeywordsOutsideTheSubsetAreRejectedWithTheirPlace) {
  const bad_source cases[] = {
      {R"({"type": "object", "additionalProperties": false, "oneOf": []})", "/definitions/P/oneOf"},
      {R"({"type": "object"})", "/definitions/P"},
      {R"({"type": "object", "additionalProperties": false,
           "properties": {"a": {"type": "number"}}})",
       "/definitions/P/properties/a/type"},
      {R"({"type": "object", "additionalProperties": false,
           "properties": {"a": {"type": "string"}}})",
       "/definitions/P/properties/a"},
      {R"({"type": "object", "additionalProperties": false,
           "properties": {"a": {"type": "string", "maxLength": 5, "pattern": "[0-9]+"}}})",
       "/definitions/P/properties/a/pattern"},
      {R"({"type": "object", "additionalProperties": false,
           "properties": {"a": {"type": "string", "maxLength": 5, "pattern": "^\\d+$"}}})",
       "/definitions/P/properties/a/pattern"},
      {R"({"type": "object", "additionalProperties": false,
           "properties": {"a": {"type": "string", "maxLength": 5, "pattern": "^a|b$"}}})",
       "/definitions/P/properties/a/pattern"},
      {R"({"type": "object", "additionalProperties": false,
           "properties": {"a": {"$ref": "#/definitions/Missing"}}})",
       "/definitions/P/properties/a/$ref"},
      {R"({"type": "object", "additionalProperties": false,
           "properties": {"a": {"$ref": "#/definitions/Envelope", "maxLength": 3}}})",
       "/definitions/P/properties/a/maxLength"},
      {R"({"type": "object", "additionalProperties": false, "required": ["zz"]})",
       "/definitions/P/required/0"},
      {R"({"type": "object", "additionalProperties": false,
           "properties": {"1bad": {"type": "boolean"}}})",
       "/definitions/P/properties/1bad"},
      {R"({"type": "object", "additionalProperties": false,
           "properties": {"a": {"type": "array", "uniqueItems": true,
                                "items": {"type": "boolean"}}}})",
       "/definitions/P/properties/a/uniqueItems"},
      {R"({"type": "object", "additionalProperties": false,
           "properties": {"a": {"type": "integer", "minimum": 0}}})",
       "/definitions/P/properties/a"},
      {R"({"type": "object", "additionalProperties": false,
           "properties": {"a": {"type": "string", "maxLength": 5, "format": "ipv4-ish"}}})",
       "/definitions/P/properties/a/format"},
  };
  for (const auto& c : cases) {
    try {
      schema_set::from_source(source_with_payload(c.payload));
      ADD_FAILURE() << "accepted: " << c.payload;
    } catch (const model_error& e) {
      EXPECT_EQ(e.pointer(), c.pointer) << e.what();
    }
  }
}

TEST(Model, PublishedSchemasMatchTheModel) {
  const auto set = schema_set::builtin();
  const auto dir = test::source_dir() / "schemas/v1";
  for (const auto& m : set->model().messages()) {
    // EXPECT_TRUE, not EXPECT_EQ: a diff of two 40 KB schemas helps nobody; the command does.
    EXPECT_TRUE(test::read_file(dir / "json" / (m.type + ".schema.json")) ==
                *set->json_schema_text(m.type))
        << m.type << ": run `odrgw schemas export --out schemas/v1`";
    EXPECT_TRUE(test::read_file(dir / "xsd" / (m.type + ".xsd")) == *set->xsd_text(m.type))
        << m.type << ": run `odrgw schemas export --out schemas/v1`";
  }
  EXPECT_EQ(test::files_in(dir / "json", ".json").size(), set->model().messages().size());
  EXPECT_EQ(test::files_in(dir / "xsd", ".xsd").size(), set->model().messages().size());
}

TEST(Model, OverrideDirectoryIsUsed) {
  const auto dir = std::filesystem::temp_directory_path() / "odrgw-model-override";
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "odr-interchange-v1.json")
        << source_with_payload(R"({"type": "object", "additionalProperties": false})");
  }
  const auto s = schema_set::from_directory(dir.string());
  EXPECT_EQ(s->model().messages().size(), 1u);
  EXPECT_THROW(schema_set::from_directory((dir / "missing").string()), std::runtime_error);
  std::filesystem::remove_all(dir);
}

TEST(Model, Utf8LengthCountsCodePoints) {
  EXPECT_EQ(utf8_length("abc"), 3u);
  EXPECT_EQ(utf8_length("\xE4\xB8\xAD\xE6\x96\x87"), 2u);
  EXPECT_EQ(utf8_length("\xF0\x9F\x98\x80"), 1u);
}

}  // namespace
}  // namespace odrgw::schemas
