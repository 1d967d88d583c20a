// Mapping-file dialects: the shipped dialects from their example files, round trips, a dialect
// written at test time (no rebuild), the transforms, hostile input and broken mapping files.
#include <odrgw/schemas/json.hpp>  // must come first: our RAPIDJSON_ASSERT

#include <rapidjson/pointer.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include <odrgw/adapters/adapter.hpp>
#include <odrgw/adapters/mapping.hpp>

namespace {

namespace fs = std::filesystem;
using namespace odrgw;
using adapters::mapping_error;

// Through parse_json: Document::Parse on a std::string may read past its end (RapidJSON's SSE2
// scanner reads 16 bytes at a time; parse_json copies into a padded buffer).
void parse_into(rapidjson::Document& d, std::string_view text) {
  schemas::json_error err;
  if (!schemas::parse_json(text, d, {}, err)) ADD_FAILURE() << err.message;
}

const fs::path dialects = fs::path(ODRGW_SOURCE_DIR) / "adapters" / "dialects";
const fs::path canonical_examples = fs::path(ODRGW_SOURCE_DIR) / "schemas/v1/examples/valid";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "odrgw-mapping-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& rel, const std::string& content) const {
    const fs::path p = path / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
};

std::shared_ptr<const schemas::schema_set> set() { return schemas::schema_set::builtin(); }

// The built-in adapters plus the shipped mapping dialects.
const adapters::registry& shipped() {
  static const adapters::registry reg = [] {
    schemas::xml_init();
    auto r = adapters::registry::builtin(set());
    adapters::load_mapping_dialects(dialects, set(), r);
    return r;
  }();
  return reg;
}

const adapters::adapter& dialect(std::string_view id) {
  const auto* a = shipped().find(id);
  if (a == nullptr) throw std::runtime_error("no dialect " + std::string(id));
  return *a;
}

std::string dump(const schemas::report& r) {
  std::string s;
  for (const auto& e : r.errors) s += e.location + " [" + e.rule + "] " + e.message + "\n";
  return s;
}

adapters::context test_context() {
  adapters::context c;
  c.partner_id = "helpdesk-1";
  c.partner_role = "merchant";
  c.request_id = "req-1";
  c.received_at = "2026-09-02T10:00:00Z";
  return c;
}

// ---- the shipped dialects, from their example files ------------------------------------------

TEST(MappingDialects, ShippedDialectsLoadWithTheirTypes) {
  const auto& h = dialect("helpdesk-ticket-v1");
  EXPECT_EQ(h.encoding(), schemas::encoding::json);
  const std::vector<std::string> h_in(h.inbound_types().begin(), h.inbound_types().end());
  EXPECT_EQ(h_in, (std::vector<std::string>{"dispute.application", "dispute.withdrawal",
                                            "negotiation.message", "negotiation.offer",
                                            "negotiation.offer-response"}));
  const std::vector<std::string> h_out(h.outbound_types().begin(), h.outbound_types().end());
  EXPECT_EQ(h_out, (std::vector<std::string>{"dispute.acceptance", "negotiation.message",
                                             "negotiation.offer", "negotiation.offer-response",
                                             "outcome.notification"}));
  const auto& p = dialect("provider-xml-v1");
  EXPECT_EQ(p.encoding(), schemas::encoding::xml);
  EXPECT_EQ(p.inbound_types().size(), 5u);
  EXPECT_EQ(p.outbound_types().size(), 5u);
}

struct example_case {
  std::string dialect;
  std::string file;
  std::string type;      // expected messageType; empty: must fail
  std::string location;  // for failures
  std::string rule;
};

TEST(MappingDialects, EveryExampleFileTranslatesOrFailsWithItsRule) {
  const std::vector<example_case> table = {
      {"helpdesk-ticket-v1", "complaint.json", "dispute.application", "", ""},
      {"helpdesk-ticket-v1", "reply.json", "negotiation.message", "", ""},
      {"helpdesk-ticket-v1", "offer.json", "negotiation.offer", "", ""},
      {"helpdesk-ticket-v1", "offer-response.json", "negotiation.offer-response", "", ""},
      {"helpdesk-ticket-v1", "withdrawal.json", "dispute.withdrawal", "", ""},
      {"helpdesk-ticket-v1", "invalid-unknown-category.json", "", "/ticket/category",
       "mapping:/messages/0/fields/27 (codes)"},
      {"helpdesk-ticket-v1", "invalid-bad-date.json", "", "/ticket/offer/validUntil",
       "mapping:/messages/2/fields/7 (datetime)"},
      {"provider-xml-v1", "case-intake.xml", "dispute.application", "", ""},
      {"provider-xml-v1", "withdrawal.xml", "dispute.withdrawal", "", ""},
      {"provider-xml-v1", "acknowledgement.xml", "dispute.acceptance", "", ""},
      {"provider-xml-v1", "proposal.xml", "mediation.proposal", "", ""},
      {"provider-xml-v1", "decision.xml", "outcome.notification", "", ""},
      {"provider-xml-v1", "invalid-unknown-category.xml", "", "/caseIntake/claim/category",
       "mapping:/messages/0/fields/24 (codes)"},
      {"provider-xml-v1", "invalid-bad-decided.xml", "", "/decision/decided",
       "mapping:/messages/4/fields/2 (datetime)"},
  };
  std::size_t files = 0;
  for (const auto& id : {"helpdesk-ticket-v1", "provider-xml-v1"})
    for (const auto& e : fs::directory_iterator(dialects / id / "examples")) {
      (void)e;
      ++files;
    }
  EXPECT_EQ(files, table.size()) << "every example file has a row";
  for (const auto& c : table) {
    SCOPED_TRACE(c.dialect + "/" + c.file);
    const auto& a = dialect(c.dialect);
    rapidjson::Document out;
    schemas::report r;
    const bool ok =
        a.to_canonical(slurp(dialects / c.dialect / "examples" / c.file), test_context(), out, r);
    if (!c.type.empty()) {
      ASSERT_TRUE(ok) << dump(r);
      EXPECT_EQ(r.message_type, c.type);
      schemas::report check;
      set()->validate_json(out, "", check);
      EXPECT_TRUE(check.valid()) << dump(check);
    } else {
      ASSERT_FALSE(ok);
      ASSERT_EQ(r.errors.size(), 1u) << dump(r);
      EXPECT_EQ(r.errors[0].location, c.location);
      EXPECT_EQ(r.errors[0].rule, c.rule);
    }
  }
}

TEST(MappingDialects, ComplaintMapsEveryTransform) {
  rapidjson::Document out;
  schemas::report r;
  ASSERT_TRUE(dialect("helpdesk-ticket-v1")
                  .to_canonical(slurp(dialects / "helpdesk-ticket-v1/examples/complaint.json"),
                                test_context(), out, r))
      << dump(r);
  const auto at = [&](const char* p) {
    const auto* v = rapidjson::Pointer(p).Get(out);
    return v != nullptr && v->IsString() ? std::string(v->GetString()) : std::string("<none>");
  };
  EXPECT_EQ(at("/payload/price/amount"), "289.00");             // money-minor
  EXPECT_EQ(at("/payload/purchaseDate"), "2026-08-18");         // date dd.MM.yyyy
  EXPECT_EQ(at("/sentAt"), "2026-09-02T09:14:00+01:00");        // datetime with offset
  EXPECT_EQ(at("/payload/complainant/name"), "Anna Schmidt");   // concat
  EXPECT_EQ(at("/payload/category"), "defective");              // codes
  EXPECT_EQ(at("/payload/complainant/address/country"), "DE");  // upper
  EXPECT_EQ(at("/payload/description"),
            "The machine leaks water from the base after two days of use.");  // trim
  EXPECT_EQ(at("/payload/tier"), "T1");                                       // codes
  EXPECT_EQ(at("/specVersion"), "1.0");                                       // const
  EXPECT_EQ(at("/sender/partyId"), "brightway-helpdesk");  // source wins over context
  EXPECT_EQ(at("/language"), "en");
  const auto* online = rapidjson::Pointer("/payload/orderedOnline").Get(out);
  ASSERT_NE(online, nullptr);
  EXPECT_TRUE(online->IsBool() && online->GetBool());
}

TEST(MappingDialects, RoundTripsWhereTheDialectHoldsEveryField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"helpdesk-ticket-v1", "offer.json"},  {"helpdesk-ticket-v1", "offer-response.json"},
      {"helpdesk-ticket-v1", "reply.json"},  {"provider-xml-v1", "case-intake.xml"},
      {"provider-xml-v1", "withdrawal.xml"}, {"provider-xml-v1", "acknowledgement.xml"},
      {"provider-xml-v1", "proposal.xml"},   {"provider-xml-v1", "decision.xml"},
  };
  for (const auto& [id, file] : cases) {
    SCOPED_TRACE(id + "/" + file);
    const auto& a = dialect(id);
    const std::string original = slurp(dialects / id / "examples" / file);
    std::string back;
    schemas::report r;
    ASSERT_TRUE(adapters::translate(a, a, original, test_context(), test_context(), back, r))
        << dump(r);
    if (a.encoding() == schemas::encoding::json) {
      rapidjson::Document x, y;
      parse_into(x, original);
      parse_into(y, back);
      EXPECT_TRUE(x == y) << back;
    } else {
      EXPECT_EQ(back, original);  // the examples are in the writer's own layout
    }
  }
}

TEST(MappingDialects, CanonicalExamplesGoOutToEveryOutboundType) {
  for (const auto& id : {"helpdesk-ticket-v1", "provider-xml-v1"}) {
    const auto& a = dialect(id);
    for (const auto& type : a.outbound_types()) {
      SCOPED_TRACE(std::string(id) + " " + type);
      rapidjson::Document msg;
      parse_into(msg, slurp(canonical_examples / (type + ".json")));
      ASSERT_FALSE(msg.HasParseError());
      std::string out;
      schemas::report r;
      ASSERT_TRUE(a.from_canonical(msg, test_context(), out, r)) << dump(r);
      // ... and what went out comes back in as the same type.
      if (std::find(a.inbound_types().begin(), a.inbound_types().end(), type) !=
          a.inbound_types().end()) {
        rapidjson::Document again;
        ASSERT_TRUE(a.to_canonical(out, test_context(), again, r)) << dump(r) << out;
        EXPECT_EQ(r.message_type, type);
      }
    }
  }
}

TEST(MappingDialects, UnsupportedTypeAndOutputFailingTheDialectSchemaNameTheRule) {
  const auto& h = dialect("helpdesk-ticket-v1");
  rapidjson::Document msg;
  parse_into(msg, slurp(canonical_examples / "case.closure.json"));
  std::string out;
  schemas::report r;
  ASSERT_FALSE(h.from_canonical(msg, test_context(), out, r));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].rule, "mapping:/messages (type)");

  // A tier the help desk's schema does not allow (T9 is no v1 tier either, but outbound input is
  // trusted to be valid: the dialect schema is the last line).
  parse_into(msg, slurp(canonical_examples / "outcome.notification.json"));
  rapidjson::Pointer("/payload/tier").Set(msg, "T9");
  ASSERT_FALSE(h.from_canonical(msg, test_context(), out, r));
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0].location, "/ticket/outcome/tier") << dump(r);
  EXPECT_EQ(r.errors[0].rule, "mapping:/messages/5/fields/1 (dialect schema: pattern)") << dump(r);
  EXPECT_TRUE(out.empty());

  // An amount with more decimals than the currency has cannot become minor units.
  parse_into(msg, slurp(canonical_examples / "negotiation.offer.json"));
  rapidjson::Pointer("/payload/amount/amount").Set(msg, "60.005");
  ASSERT_FALSE(h.from_canonical(msg, test_context(), out, r));
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.errors[0].location, "/payload/amount/amount");
  EXPECT_EQ(r.errors[0].rule, "mapping:/messages/2/fields/5 (money-minor)");

  // A canonical code the dialect has no code for.
  parse_into(msg, slurp(canonical_examples / "negotiation.offer.json"));
  rapidjson::Pointer("/payload/offeredBy").Set(msg, "odr-provider");
  ASSERT_FALSE(h.from_canonical(msg, test_context(), out, r));
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.errors[0].location, "/payload/offeredBy");
  EXPECT_EQ(r.errors[0].rule, "mapping:/messages/2/fields/1 (codes)");
}

TEST(MappingDialects, MissingRequiredSourceAndCanonicalSchemaFailuresNameSourceAndRule) {
  const auto& h = dialect("helpdesk-ticket-v1");
  rapidjson::Document out;
  schemas::report r;
  // No offer id: a required source field.
  const std::string no_id = R"({"ticket": {"kind": "offer", "caseRef": "C-1",
    "from": {"id": "shop-1", "role": "merchant"}, "sent": "06.09.2026 03:02",
    "offer": {"by": "SHOP", "remedy": "REFUND", "validUntil": "10.09.2026 16:59"},
    "text": "Full refund."}})";
  ASSERT_FALSE(h.to_canonical(no_id, test_context(), out, r));
  // The dialect's schema requires offer.id too: that check comes first and says so.
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0].rule, "required") << dump(r);

  // No desk: the help desk's schema allows that, the mapping requires it (the forum).
  rapidjson::Document complaint;
  parse_into(complaint, slurp(dialects / "helpdesk-ticket-v1/examples/complaint.json"));
  complaint["ticket"].RemoveMember("desk");
  ASSERT_FALSE(h.to_canonical(schemas::to_json_string(complaint), test_context(), out, r));
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.errors[0].location, "/ticket/desk");
  EXPECT_EQ(r.errors[0].rule, "mapping:/messages/0/fields/36 (required)");

  // No caseRef and no context case id: v1 requires caseId on a negotiation.message. The rule that
  // maps caseId found no value: the entry names it and its source.
  const std::string no_case = R"({"ticket": {"kind": "reply",
    "from": {"id": "shop-1", "role": "merchant"}, "sent": "06.09.2026 03:02", "text": "Hello"}})";
  ASSERT_FALSE(h.to_canonical(no_case, test_context(), out, r));
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.errors[0].location, "/ticket/caseRef") << dump(r);
  EXPECT_EQ(r.errors[0].rule, "mapping:/envelope/2 (v1 schema: required)") << dump(r);
  EXPECT_NE(r.errors[0].message.find("nor context case_id"), std::string::npos) << dump(r);

  // A value the v1 schema rejects is traced back to the source field and rule that wrote it.
  const std::string bad_party = R"({"ticket": {"kind": "reply", "caseRef": "C-1",
    "from": {"id": "shop 1!", "role": "merchant"}, "sent": "06.09.2026 03:02", "text": "Hi"}})";
  ASSERT_FALSE(h.to_canonical(bad_party, test_context(), out, r));
  ASSERT_EQ(r.errors.size(), 1u) << dump(r);
  EXPECT_EQ(r.errors[0].location, "/ticket/from/id");
  EXPECT_EQ(r.errors[0].rule, "mapping:/envelope/6 (v1 schema: pattern)");

  // Context fills the envelope where the document is silent; no sent time and no received_at is
  // a missing required source field.
  const std::string no_sent = R"({"ticket": {"kind": "reply", "caseRef": "C-1",
    "from": {"id": "shop-1", "role": "merchant"}, "text": "Hi"}})";
  ASSERT_FALSE(h.to_canonical(no_sent, adapters::context{}, out, r));
  // `sent` is required by the dialect schema; so the failure is the schema's.
  ASSERT_FALSE(r.errors.empty());
}

// ---- a dialect written at test time, with no rebuild -----------------------------------------

const char* tiny_schema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["t"],
  "properties": {"t": {"type": "string"}, "amt": {"type": "integer"}, "cur": {"type": "string"},
                 "when": {"type": "string"}, "who": {"type": "string"}, "lines": {"type": "array"},
                 "prio": {"type": "integer"}}
})";

std::string tiny_mapping(const std::string& id, const std::string& extra = "");

// A negotiation.message dialect exercising money, datetime with a zone, codes with integers and
// `each`. `extra` is appended to the message's field list.
std::string tiny_mapping(const std::string& id, const std::string& extra) {
  return "dialect: " + id + R"(
encoding: json
description: a tiny dialect written by a test
schema: tiny.schema.json
envelope:
  - {canonical: /messageId, context: message_id}
  - {canonical: /specVersion, const: "1.0"}
  - {canonical: /caseId, const: CASE-1}
  - {canonical: /sender/partyId, source: /who, context: partner_id, required: true}
  - {canonical: /sender/role, context: partner_role, default: consumer}
  - {canonical: /recipient/partyId, context: gateway_party_id}
  - {canonical: /recipient/role, context: gateway_party_role}
  - canonical: /sentAt
    source: /when
    transform: datetime
    format: yyyyMMdd HH:mm
    offset: "-05:00"
    context: received_at
    required: true
messages:
  - type: negotiation.message
    direction: both
    match: {source: /t, value: msg}
    fields:
      - canonical: /payload/text
        transform: concat
        sources: [/text1, /text2]
        separator: " | "
        required: true
      - canonical: /payload/attachmentRefs
        source: /lines
        each:
          - {canonical: "", source: ""}
)" + extra;
}

// List items addressed by index, both ways (no `each`).
TEST(MappingDialects, IndexedListItemsMapBothWays) {
  temp_dir d;
  d.write("i/tiny.schema.json", tiny_schema);
  const std::string mapping = R"(dialect: i
encoding: json
description: indexes
schema: tiny.schema.json
messages:
  - type: negotiation.message
    direction: both
    match: {source: /t, value: msg}
    fields:
      - {canonical: /payload/text, source: /text1}
      - {canonical: /payload/attachmentRefs/0, source: /first}
      - {canonical: /payload/attachmentRefs/1, source: /pair/1}
)";
  const auto a = adapters::load_mapping_dialect(d.write("i/dialect.yaml", mapping), set());
  rapidjson::Document out;
  schemas::report r;
  a->to_canonical(R"({"t": "msg", "text1": "x", "first": "a-1", "pair": ["a-0", "a-2"]})",
                  test_context(), out, r);  // no envelope: v1 fails, the payload is built
  const auto* refs = rapidjson::Pointer("/payload/attachmentRefs").Get(out);
  ASSERT_NE(refs, nullptr);
  ASSERT_TRUE(refs->IsArray());
  ASSERT_EQ(refs->Size(), 2u);
  EXPECT_STREQ((*refs)[0].GetString(), "a-1");
  EXPECT_STREQ((*refs)[1].GetString(), "a-2");

  rapidjson::Document msg;
  parse_into(msg, slurp(canonical_examples / "negotiation.message.json"));
  std::string back;
  ASSERT_TRUE(a->from_canonical(msg, test_context(), back, r)) << dump(r);
  rapidjson::Document b;
  parse_into(b, back);
  EXPECT_STREQ(b["first"].GetString(), "att-0002");
  EXPECT_FALSE(b.HasMember("pair"));  // the example has one attachment
}

TEST(MappingDialects, ADialectWrittenAtTestTimeWorksWithoutRebuild) {
  temp_dir d;
  d.write("tiny-v1/tiny.schema.json", tiny_schema);
  d.write("tiny-v1/dialect.yaml", tiny_mapping("tiny-v1"));
  d.write("README.txt", "not a dialect");
  fs::create_directories(d.path / "empty-dir");
  auto reg = adapters::registry::builtin(set());
  EXPECT_EQ(adapters::load_mapping_dialects(d.path, set(), reg), 1u);
  const auto* tiny = reg.find("tiny-v1");
  ASSERT_NE(tiny, nullptr);

  const std::string in =
      R"({"t": "msg", "who": "c-1", "when": "20260902 22:30", "text1": "a", "text2": "b | c",
          "lines": ["att-1", "att-2"]})";
  rapidjson::Document out;
  schemas::report r;
  ASSERT_TRUE(tiny->to_canonical(in, test_context(), out, r)) << dump(r);
  EXPECT_STREQ(out["sentAt"].GetString(), "2026-09-02T22:30:00-05:00");
  EXPECT_STREQ(out["payload"]["text"].GetString(), "a | b | c");
  EXPECT_STREQ(out["payload"]["attachmentRefs"][1].GetString(), "att-2");
  EXPECT_STREQ(out["sender"]["role"].GetString(), "merchant");  // context before default
  EXPECT_STREQ(out["recipient"]["partyId"].GetString(), "odrgw");

  // Back out: the zone converts, concat splits at the first separator, `each` rebuilds the list.
  rapidjson::Pointer("/sentAt").Set(out, "2026-09-03T03:30:00Z");
  std::string back;
  ASSERT_TRUE(tiny->from_canonical(out, test_context(), back, r)) << dump(r);
  rapidjson::Document b;
  parse_into(b, back);
  EXPECT_STREQ(b["when"].GetString(), "20260902 22:30");
  EXPECT_STREQ(b["text1"].GetString(), "a");
  EXPECT_STREQ(b["text2"].GetString(), "b | c");
  EXPECT_STREQ(b["t"].GetString(), "msg");
  ASSERT_TRUE(b["lines"].IsArray());
  EXPECT_EQ(b["lines"].Size(), 2u);

  // The same dialect through the single-file API.
  const auto again = adapters::load_mapping_dialect(d.path / "tiny-v1/dialect.yaml", set());
  EXPECT_EQ(again->id(), "tiny-v1");
}

TEST(MappingDialects, DerivedMessageIdIsStablePerRequestAndBody) {
  temp_dir d;
  d.write("tiny-v1/tiny.schema.json", tiny_schema);
  const auto tiny = adapters::load_mapping_dialect(
      d.write("tiny-v1/dialect.yaml", tiny_mapping("tiny-v1")), set());
  const auto id_of = [&](const std::string& body, std::string_view request_id) {
    auto ctx = test_context();
    ctx.request_id = request_id;
    rapidjson::Document out;
    schemas::report r;
    EXPECT_TRUE(tiny->to_canonical(body, ctx, out, r)) << dump(r);
    return out.HasMember("messageId") ? std::string(out["messageId"].GetString()) : "";
  };
  const std::string a = R"({"t": "msg", "text1": "one"})";
  const std::string b = R"({"t": "msg", "text1": "two"})";
  EXPECT_EQ(id_of(a, "k1"), id_of(b, "k1"));  // a retry with the same key: the same id
  EXPECT_NE(id_of(a, "k1"), id_of(a, "k2"));
  EXPECT_EQ(id_of(a, ""), id_of(a, ""));  // no key: the body decides
  EXPECT_NE(id_of(a, ""), id_of(b, ""));
  EXPECT_EQ(id_of(a, "k1").size(), 36u);
  EXPECT_EQ(id_of(a, "k1")[14], '5');  // a name-based (SHA-1) UUID
}

TEST(MappingDialects, MoneyMinorUsesTheCurrencyExponent) {
  temp_dir d;
  d.write("m/tiny.schema.json", tiny_schema);
  // negotiation.offer carries money; a second dialect maps amt/cur to /payload/amount.
  const std::string mapping = R"(dialect: m
encoding: json
description: money
schema: tiny.schema.json
messages:
  - type: negotiation.offer
    direction: both
    match: {source: /t, value: offer}
    fields:
      - {canonical: /payload/amount/currency, source: /cur}
      - {canonical: /payload/amount/amount, source: /amt, transform: money-minor, currency: /payload/amount/currency}
      - {canonical: /payload/remedy, source: /prio, transform: codes, codes: {"1": refund, "2": repair}, source-type: integer}
)";
  const auto m = adapters::load_mapping_dialect(d.write("m/dialect.yaml", mapping), set());
  const auto amount = [&](int minor, const char* cur) {
    rapidjson::Document out;
    schemas::report r;
    const std::string in = std::string(R"({"t": "offer", "prio": 1, "amt": )") +
                           std::to_string(minor) + R"(, "cur": ")" + cur + "\"}";
    m->to_canonical(in, test_context(), out, r);  // the v1 check fails (no envelope); values stay
    const auto* v = rapidjson::Pointer("/payload/amount/amount").Get(out);
    return v != nullptr ? std::string(v->GetString()) : std::string("<none>");
  };
  EXPECT_EQ(amount(28900, "EUR"), "289.00");
  EXPECT_EQ(amount(5, "EUR"), "0.05");
  EXPECT_EQ(amount(28900, "JPY"), "28900");
  EXPECT_EQ(amount(28900, "KWD"), "28.900");

  // Back: decimals to minor units; codes map back and the dialect gets an integer.
  rapidjson::Document msg;
  parse_into(msg, slurp(canonical_examples / "negotiation.offer.json"));
  rapidjson::Pointer("/payload/remedy").Set(msg, "repair");
  rapidjson::Pointer("/payload/amount/amount").Set(msg, "60.5");
  std::string out;
  schemas::report r;
  ASSERT_TRUE(m->from_canonical(msg, test_context(), out, r)) << dump(r);
  rapidjson::Document b;
  parse_into(b, out);
  EXPECT_EQ(b["amt"].GetInt(), 6050);
  EXPECT_EQ(b["prio"].GetInt(), 2);
}

// ---- hostile input through every adapter -----------------------------------------------------

TEST(MappingDialects, HostileInputThroughEveryAdapterNeverCrashes) {
  std::vector<std::string> inputs = {
      "",
      "{",
      "<",
      "\xff\xfe{\"ticket\": 1}",
      R"({"ticket": {"kind": "reply", "text": ")" + std::string("\xc3\x28") + R"("}})",
      std::string(200000, '['),
      std::string(100000, '<') + "a>",
      R"({"ticket": {"kind": "reply", "text": ")" + std::string(2u << 20, 'x') + R"("}})",
      R"(<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><p:decision xmlns:p="urn:example:odr-provider:v1">&x;</p:decision>)",
      R"(<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>)",
      R"(<p:decision xmlns:p="urn:example:odr-provider:v1"><p:header/></p:decision>)",
      R"({"ticket": {"kind": "reply", "from": {"id": {"a": 1}, "role": []}, "sent": 5}})",
      R"({"ticket": {"kind": ["reply"]}})",
      R"(<p:withdrawal xmlns:p="urn:example:odr-provider:v1"><p:by>)" + std::string(3u << 20, 'y') +
          "</p:by></p:withdrawal>",
      "<p:withdrawal xmlns:p=\"urn:example:odr-provider:v1\"><p:by>\xc3\x28</p:by></p:withdrawal>",
      R"(<p:withdrawal xmlns:p="urn:example:odr-provider:v1"><![CDATA[x]]><?pi x?></p:withdrawal>)",
  };
  std::string deep = "{\"ticket\": ";
  for (int i = 0; i < 500; ++i) deep += "{\"a\": ";
  inputs.push_back(deep);
  std::string deep_xml = "<p:decision xmlns:p=\"urn:example:odr-provider:v1\">";
  for (int i = 0; i < 300; ++i) deep_xml += "<p:x>";
  inputs.push_back(deep_xml);
  for (const auto& a : shipped().all()) {
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      SCOPED_TRACE(std::string(a->id()) + " input " + std::to_string(i));
      rapidjson::Document out;
      schemas::report r;
      EXPECT_FALSE(a->to_canonical(inputs[i], test_context(), out, r));
      EXPECT_FALSE(r.errors.empty());
    }
    // Outbound input is a valid canonical message by contract; mapping dialects still refuse
    // anything else rather than assert.
    if (a->id().starts_with("canonical-")) continue;
    rapidjson::Document junk;
    parse_into(junk, "[1, 2]");
    std::string out;
    schemas::report r;
    EXPECT_FALSE(a->from_canonical(junk, test_context(), out, r)) << a->id();
  }
}

TEST(MappingDialects, ControlCharactersCannotReachXmlOutput) {
  rapidjson::Document msg;
  parse_into(msg, slurp(canonical_examples / "outcome.notification.json"));
  rapidjson::Pointer("/payload/reasons").Set(msg, "bell \x07 here");
  std::string out;
  schemas::report r;
  EXPECT_FALSE(dialect("provider-xml-v1").from_canonical(msg, test_context(), out, r));
  EXPECT_FALSE(r.errors.empty());
  // And markup in text is escaped, not interpreted.
  rapidjson::Pointer("/payload/reasons").Set(msg, "<b>&amp; \"q\" 'a'</b>");
  ASSERT_TRUE(dialect("provider-xml-v1").from_canonical(msg, test_context(), out, r)) << dump(r);
  rapidjson::Document back;
  ASSERT_TRUE(dialect("provider-xml-v1").to_canonical(out, test_context(), back, r)) << dump(r);
  EXPECT_STREQ(back["payload"]["reasons"].GetString(), "<b>&amp; \"q\" 'a'</b>");
}

TEST(MappingDialects, OneAdapterServesManyThreads) {
  const auto& p = dialect("provider-xml-v1");
  const std::string doc = slurp(dialects / "provider-xml-v1/examples/case-intake.xml");
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        std::string back;
        schemas::report r;
        if (adapters::translate(p, p, doc, test_context(), test_context(), back, r) && back == doc)
          ++good;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 200);
}

// ---- broken mapping files --------------------------------------------------------------------

struct broken_case {
  std::string name;
  std::string mapping;  // the whole file; "$TINY" is replaced by a working base
  std::string pointer;  // expected mapping_error::pointer()
  std::string words;    // expected in the message
};

TEST(MappingDialects, BrokenMappingFilesGiveAClearLoadError) {
  const std::string base = tiny_mapping("broken");
  const auto with_field = [&](const std::string& field) { return base + field; };
  const std::vector<broken_case> table = {
      {"unknown transform",
       with_field("      - {canonical: /payload/text, source: /x, transform: rot13}\n"),
       "/messages/0/fields/2/transform", "enum"},
      {"bad JSON pointer", with_field("      - {canonical: /payload/text, source: \"x/y\"}\n"),
       "/messages/0/fields/2/source", "JSON pointer"},
      {"bad pointer escape", with_field("      - {canonical: /payload/te~2xt, source: /x}\n"),
       "/messages/0/fields/2/canonical", "~"},
      {"unknown canonical field", with_field("      - {canonical: /payload/colour, source: /x}\n"),
       "/messages/0/fields/2/canonical", "not a field"},
      {"code map not a map",
       with_field(
           "      - {canonical: /payload/text, source: /x, transform: codes, codes: [a, b]}\n"),
       "/messages/0/fields/2/codes", "type"},
      {"code outside the canonical list",
       with_field(
           "      - {canonical: /sender/role, source: /x, transform: codes, codes: {A: boss}}\n"),
       "/messages/0/fields/2/codes/A", "boss"},
      {"bad date format",
       with_field("      - {canonical: /sentAt, source: /x, transform: datetime, format: "
                  "dd.QQ.yyyy, offset: Z}\n"),
       "/messages/0/fields/2/format", "Q"},
      {"datetime without offset",
       with_field(
           "      - {canonical: /sentAt, source: /x, transform: datetime, format: yyyyMMdd}\n"),
       "/messages/0/fields/2", "offset"},
      {"money without currency",
       with_field("      - {canonical: /payload/text, source: /x, transform: money-minor}\n"),
       "/messages/0/fields/2", "currency"},
      {"unknown message type",
       "dialect: broken\nencoding: json\ndescription: x\nschema: tiny.schema.json\nmessages:\n"
       "  - {type: dispute.complaint, direction: in, match: {source: /t}, fields: []}\n",
       "/messages/0/type", "not a v1 message type"},
      {"unknown key", base + "colour: red\n", "", "colour"},
      {"schema that does not load",
       "dialect: broken\nencoding: json\ndescription: x\n"
       "schema: broken.schema.json\nmessages:\n"
       "  - {type: negotiation.message, direction: in, match: {source: /t}, fields: []}\n",
       "/schema", "JSON Schema"},
      {"schema file missing",
       "dialect: broken\nencoding: json\ndescription: x\n"
       "schema: nowhere.json\nmessages:\n"
       "  - {type: negotiation.message, direction: in, match: {source: /t}, fields: []}\n",
       "/schema", "cannot read"},
      {"yaml syntax", "dialect: [broken\n", "", "YAML"},
      {"alias cycle", "a: &a [*a]\n", "/a/0/0/0*", "refers to itself"},
      {"alias bomb",
       "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, "
       "*c]\n"
       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, "
       "*e]\n",
       "/e/*", "values"},
      {"deep nesting", "a: " + std::string(100, '[') + std::string(100, ']') + "\n", "/a/0/0*",
       "deep"},
      {"duplicate key", "dialect: a\ndialect: b\n", "/dialect", "twice"},
      {"not a mapping", "- 1\n- 2\n", "", "mapping"},
      {"absurd size", "# " + std::string(2u << 20, 'x') + "\n", "", "limit"},
  };
  for (const auto& c : table) {
    SCOPED_TRACE(c.name);
    temp_dir d;
    d.write("broken/tiny.schema.json", tiny_schema);
    d.write("broken/broken.schema.json", R"({"type": "object", "properties": 5})");
    const fs::path file = d.write("broken/dialect.yaml", c.mapping);
    try {
      adapters::load_mapping_dialect(file, set());
      ADD_FAILURE() << "loaded";
    } catch (const mapping_error& e) {
      EXPECT_EQ(e.file(), file.string());
      if (c.pointer.ends_with('*')) {  // deep places: the start of the pointer
        EXPECT_TRUE(e.pointer().starts_with(c.pointer.substr(0, c.pointer.size() - 1))) << e.what();
      } else {
        EXPECT_EQ(e.pointer(), c.pointer) << e.what();
      }
      EXPECT_NE(std::string(e.what()).find(c.words), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind(file.string(), 0), 0u) << e.what();
    }
  }
}

TEST(MappingDialects, BrokenXmlMappingsGiveAClearLoadError) {
  const std::string xsd =
      R"(<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="m" type="xs:string"/></xs:schema>)";
  const auto mapping = [](const std::string& field) {
    return "dialect: x\nencoding: xml\ndescription: x\nschema: s.xsd\nnamespaces: {q: urn:q}\n"
           "messages:\n  - type: negotiation.message\n    direction: both\n"
           "    match: {source: /m}\n    fields:\n" +
           field;
  };
  const std::vector<broken_case> table = {
      {"bad XPath", mapping("      - {canonical: /payload/text, source: \"/m[\"}\n"),
       "/messages/0/fields/0/source", "XPath"},
      {"undeclared prefix", mapping("      - {canonical: /payload/text, source: /z:m}\n"),
       "/messages/0/fields/0/source", "prefix"},
      {"not writable", mapping("      - {canonical: /payload/text, source: \"/m/q:a[1]\"}\n"),
       "/messages/0/fields/0/source", "writable"},
      {"broken XSD", "dialect: x\nencoding: xml\ndescription: x\nschema: bad.xsd\nmessages: []\n",
       "/messages", "fewer than 1"},
  };
  for (const auto& c : table) {
    SCOPED_TRACE(c.name);
    temp_dir d;
    d.write("x/s.xsd", xsd);
    const fs::path file = d.write("x/dialect.yaml", c.mapping);
    try {
      adapters::load_mapping_dialect(file, set());
      ADD_FAILURE() << "loaded";
    } catch (const mapping_error& e) {
      EXPECT_EQ(e.pointer(), c.pointer) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.words), std::string::npos) << e.what();
    }
  }
  // An XSD that does not compile.
  temp_dir d;
  d.write("x/bad.xsd", "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"><xs:nonsense/>");
  const fs::path file =
      d.write("x/dialect.yaml",
              "dialect: x\nencoding: xml\ndescription: x\nschema: bad.xsd\nmessages:\n"
              "  - {type: negotiation.message, direction: in, match: {source: /m}, fields: []}\n");
  try {
    adapters::load_mapping_dialect(file, set());
    ADD_FAILURE() << "loaded";
  } catch (const mapping_error& e) {
    EXPECT_EQ(e.pointer(), "/schema") << e.what();
    EXPECT_NE(std::string(e.what()).find("XSD"), std::string::npos) << e.what();
  }
}

TEST(MappingDialects, DirectoryRulesDuplicateAndMisnamedDialects) {
  temp_dir d;
  d.write("tiny-v1/tiny.schema.json", tiny_schema);
  d.write("tiny-v1/dialect.yaml", tiny_mapping("other-id"));
  auto reg = adapters::registry::builtin(set());
  const auto builtin = reg.all().size();
  try {
    adapters::load_mapping_dialects(d.path, set(), reg);
    ADD_FAILURE() << "loaded";
  } catch (const mapping_error& e) {
    EXPECT_EQ(e.pointer(), "/dialect");
    EXPECT_NE(std::string(e.what()).find("directory name"), std::string::npos) << e.what();
  }
  EXPECT_EQ(reg.all().size(), builtin);  // nothing added

  temp_dir dup;
  dup.write("canonical-json/tiny.schema.json", tiny_schema);
  dup.write("canonical-json/dialect.yaml", tiny_mapping("canonical-json"));
  try {
    adapters::load_mapping_dialects(dup.path, set(), reg);
    ADD_FAILURE() << "loaded";
  } catch (const mapping_error& e) {
    EXPECT_NE(std::string(e.what()).find("taken"), std::string::npos) << e.what();
  }
  EXPECT_THROW(adapters::load_mapping_dialects(d.path / "nonexistent", set(), reg), mapping_error);
}

TEST(MappingDialects, TheMappingSchemaIsEmbedded) {
  const auto text = adapters::mapping_schema();
  EXPECT_NE(text.find("\"definitions\""), std::string_view::npos);
  EXPECT_EQ(text, slurp(fs::path(ODRGW_SOURCE_DIR) / "adapters/mapping.schema.json"));
}

}  // namespace
