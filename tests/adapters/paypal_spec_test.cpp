// The dialect schema against PayPal's OpenAPI file: same field names, enums, lengths, patterns
// and required lists wherever the schema takes a definition from the spec. Built only where the
// spec file exists (tests/CMakeLists.txt); the repository does not ship the spec.
#include <set>

#include <gtest/gtest.h>

#include <odrgw/adapters/paypal.hpp>

#include "../schemas/test_support.hpp"

namespace odrgw::adapters {
namespace {

// schemas::parse_json, not Document::Parse: RapidJSON's SSE2 scanner reads past the end of an
// unpadded buffer (ASan), and the adapter's own parser is the one under test anyway.
inline bool parse(rapidjson::Document& d, std::string_view text) {
  schemas::json_error err;
  schemas::json_limits limits;
  limits.max_depth = 256;
  return schemas::parse_json(text, d, limits, err);
}

using rapidjson::Value;

const Value* member(const Value& o, const char* k) {
  if (!o.IsObject()) return nullptr;
  auto it = o.FindMember(k);
  return it == o.MemberEnd() ? nullptr : &it->value;
}

std::string json(const Value* v) { return v ? schemas::to_json_string(*v) : "<absent>"; }

struct PaypalSpec : ::testing::Test {
  void SetUp() override {
    ASSERT_TRUE(parse(spec, test::read_file(ODRGW_PAYPAL_SPEC)));
    ASSERT_TRUE(parse(mine, paypal_disputes_v1::schema_text()));
  }
  const Value& spec_schemas() { return spec["components"]["schemas"]; }
  const Value& my_defs() { return mine["definitions"]; }
  rapidjson::Document spec, mine;
};

// Facts the dialect keeps from the spec, for a schema and each of its inline properties.
void same_facts(const std::string& where, const Value& theirs, const Value& ours) {
  for (const char* k :
       {"enum", "maxLength", "minLength", "pattern", "minItems", "maxItems", "type"}) {
    if (where == "tracking_info/carrier_name" && std::string(k) == "enum") {
      // 1,257 carriers PayPal adds to often: kept as the spec's pattern (docs/adapters/paypal.md).
      EXPECT_EQ(member(ours, "enum"), nullptr);
      continue;
    }
    EXPECT_EQ(json(member(theirs, k)), json(member(ours, k))) << where << " " << k;
  }
  if (const Value* ref = member(theirs, "$ref")) {
    std::string r = ref->GetString();
    r.replace(0, std::string("#/components/schemas/").size(), "#/definitions/");
    EXPECT_EQ(json(member(ours, "$ref")), "\"" + r + "\"") << where;
  }
}

TEST_F(PaypalSpec, DefinitionsKeepTheSpecsNamesEnumsAndLimits) {
  const std::set<std::string> our_extras = {"document/odrgw_file"};
  std::size_t compared = 0;
  for (auto it = my_defs().MemberBegin(); it != my_defs().MemberEnd(); ++it) {
    const std::string name = it->name.GetString();
    const Value* theirs = member(spec_schemas(), name.c_str());
    if (theirs == nullptr) continue;  // ours alone: documented in the dialect README
    ++compared;
    const Value& ours = it->value;
    if (name != "buyer_escalation_reason") same_facts(name, *theirs, ours);  // empty in the spec
    EXPECT_EQ(json(member(*theirs, "required")), json(member(ours, "required"))) << name;
    const Value* tp = member(*theirs, "properties");
    const Value* op = member(ours, "properties");
    if (tp == nullptr) continue;
    ASSERT_NE(op, nullptr) << name;
    std::set<std::string> spec_names, our_names;
    for (auto p = tp->MemberBegin(); p != tp->MemberEnd(); ++p)
      spec_names.insert(p->name.GetString());
    for (auto p = op->MemberBegin(); p != op->MemberEnd(); ++p) {
      const std::string pn = p->name.GetString();
      if (!spec_names.count(pn)) {
        EXPECT_TRUE(our_extras.count(name + "/" + pn)) << name << "/" << pn;
      }
      our_names.insert(pn);
    }
    for (const auto& pn : spec_names) {
      EXPECT_TRUE(our_names.count(pn)) << name << "/" << pn << " missing";
      if (!our_names.count(pn)) continue;
      const Value& t = (*tp)[pn.c_str()];
      const Value& o = (*op)[pn.c_str()];
      same_facts(name + "/" + pn, t, o);
      if (const Value* items = member(t, "items"))
        same_facts(name + "/" + pn + "[]", *items, o["items"]);
    }
  }
  EXPECT_GT(compared, 60u);
}

TEST_F(PaypalSpec, EveryRequestBodyOperationIsASpecPath) {
  for (auto it = mine["x-odrgw-kinds"].MemberBegin(); it != mine["x-odrgw-kinds"].MemberEnd();
       ++it) {
    const std::string op = it->name.GetString();
    if (op == "dispute" || op == "webhook") {
      EXPECT_NE(member(spec["paths"], "/v1/customer/disputes/{id}"), nullptr);
      continue;
    }
    const std::string path = "/v1/customer/disputes/{id}/" + op;
    const Value* p = member(spec["paths"], path.c_str());
    ASSERT_NE(p, nullptr) << path;
    EXPECT_NE(member(*p, "post"), nullptr) << path;
  }
}

TEST_F(PaypalSpec, ReadOnlyEnumsOfTheDisputeAreAllMapped) {
  // Every reason and stage PayPal names is in the dialect (and so in the mapping tables).
  for (const char* def : {"dispute_reason", "dispute_lifecycle_stage", "dispute_channel", "status",
                          "offer_type", "adjudication_type"})
    EXPECT_EQ(json(member(spec_schemas()[def], "enum")), json(member(my_defs()[def], "enum")))
        << def;
}

}  // namespace
}  // namespace odrgw::adapters
