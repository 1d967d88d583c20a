// Routing rules: first match in order, each condition, the default, and the config checks.
#include <gtest/gtest.h>

#include <odrgw/gateway/config.hpp>
#include <odrgw/gateway/embedded.hpp>
#include <odrgw/gateway/provider_routing.hpp>
#include <odrgw/schemas/validator.hpp>

#include "../schemas/test_support.hpp"

namespace odrgw::gateway {
namespace {

routing_facts facts(const std::string& procedure = "mediation") {
  rapidjson::Document app;
  schemas::json_error err;
  EXPECT_TRUE(schemas::parse_json(
      test::read_file(test::examples_dir() / "valid/dispute.application.json"), app, {}, err));
  // The example: defective, EUR 289.00, consumer in DE, merchant in CN, languages de and en.
  return routing_facts::of(app, procedure);
}

TEST(ProviderRouting, FactsComeFromTheApplication) {
  const auto f = facts();
  EXPECT_EQ(f.category, "defective");
  EXPECT_EQ(f.currency, "EUR");
  EXPECT_EQ(f.amount, 2890000);
  EXPECT_EQ(f.consumer_country, "DE");
  EXPECT_EQ(f.merchant_country, "CN");
  EXPECT_EQ(f.languages, (std::vector<std::string>{"de", "en"}));
}

TEST(ProviderRouting, FirstMatchingRuleWinsElseTheDefault) {
  routing_config cfg;
  routing_rule big;
  big.name = "big-claims";
  big.amount = amount_range{"EUR", parse_amount("1000"), std::nullopt};
  big.provider = "arb-1";
  routing_rule cn;
  cn.name = "cn-merchants";
  cn.merchant_countries = {"CN", "HK"};
  cn.procedures = {"mediation"};
  cn.provider = "med-cn";
  routing_rule catch_all;
  catch_all.name = "any";
  catch_all.provider = "med-any";
  cfg.rules = {big, cn, catch_all};
  auto d = choose_provider(cfg, facts());
  EXPECT_EQ(d.provider, "med-cn");
  EXPECT_EQ(d.rule, "cn-merchants");
  EXPECT_NE(d.explanation.find("big-claims: amount below"), std::string::npos) << d.explanation;
  // Arbitration is not in cn-merchants' procedures: the next rule.
  EXPECT_EQ(choose_provider(cfg, facts("arbitration")).rule, "any");
  // Without the catch-all and a default: no provider, and why.
  cfg.rules.pop_back();
  d = choose_provider(cfg, facts("arbitration"));
  EXPECT_TRUE(d.provider.empty());
  EXPECT_NE(d.explanation.find("no default"), std::string::npos);
  cfg.default_provider = "fallback";
  d = choose_provider(cfg, facts("arbitration"));
  EXPECT_EQ(d.provider, "fallback");
  EXPECT_EQ(d.rule, "default");
}

TEST(ProviderRouting, EachConditionCanExclude) {
  auto only = [](routing_rule r) {
    r.name = "r";
    r.provider = "p";
    routing_config c;
    c.rules = {r};
    return choose_provider(c, facts()).rule == "r";
  };
  routing_rule r;
  r.categories = {"not-received"};
  EXPECT_FALSE(only(r));
  r.categories = {"defective", "not-received"};
  EXPECT_TRUE(only(r));
  routing_rule usd;
  usd.amount = amount_range{"USD", std::nullopt, std::nullopt};
  EXPECT_FALSE(only(usd));  // another currency never matches
  routing_rule range;
  range.amount = amount_range{"EUR", parse_amount("289"), parse_amount("289.00")};
  EXPECT_TRUE(only(range));  // inclusive at both ends
  routing_rule consumer;
  consumer.consumer_countries = {"FR"};
  EXPECT_FALSE(only(consumer));
  routing_rule lang;
  lang.languages = {"fr", "en"};
  EXPECT_TRUE(only(lang));  // any of the case's languages
  lang.languages = {"fr"};
  EXPECT_FALSE(only(lang));
}

TEST(ProviderRouting, AmountsAreExactDecimals) {
  EXPECT_EQ(parse_amount("0"), 0);
  EXPECT_EQ(parse_amount("289.5"), 2895000);
  EXPECT_EQ(parse_amount("0.0001"), 1);
  for (const char* bad : {"", "-1", "1.", ".5", "1.23456", "1e3", "12x", "1234567890123456"})
    EXPECT_FALSE(parse_amount(bad)) << bad;
}

const std::string partners =
    "partners:\n"
    "  - {id: med-1, role: odr-provider, api_key_sha256: " +
    std::string(64, 'a') +
    "}\n  - {id: shop-1, role: merchant, api_key_sha256: " + std::string(64, 'b') + "}\n";

TEST(ProviderRouting, ConfigIsCheckedNamingThePlace) {
  const auto c = parse_config(partners +
                                  "routing:\n  default_provider: med-1\n  rules:\n"
                                  "    - {name: small, provider: med-1, categories: [defective], "
                                  "amount: {currency: EUR, max: '500'}, procedures: [mediation]}\n",
                              "/etc/odrgw");
  ASSERT_EQ(c.routing.rules.size(), 1u);
  EXPECT_EQ(c.routing.rules[0].amount->max, 5000000);
  EXPECT_EQ(choose_provider(c.routing, facts()).rule, "small");
  auto error_at = [](const std::string& yaml) {
    try {
      parse_config(yaml, "/etc/odrgw");
    } catch (const config_error& e) {
      return e.path();
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(error_at(partners + "routing: {default_provider: shop-1}\n"),
            "/routing/default_provider");  // not an odr-provider
  EXPECT_EQ(error_at(partners + "routing: {rules: [{name: a, provider: nobody}]}\n"),
            "/routing/rules/0/provider");
  EXPECT_EQ(error_at(partners + "routing: {rules: [{name: a, provider: med-1}, "
                                "{name: a, provider: med-1}]}\n"),
            "/routing/rules/1/name");
  EXPECT_EQ(error_at(partners + "routing: {rules: [{name: a, provider: med-1, "
                                "categories: [broken]}]}\n"),
            "/routing/rules/0/categories/0");
  EXPECT_EQ(error_at(partners + "routing: {rules: [{name: a, provider: med-1, "
                                "amount: {currency: EUR, min: '5', max: '1'}}]}\n"),
            "/routing/rules/0/amount");
}

TEST(ProviderRouting, DeadlineDurationsAreConfigurable) {
  const auto c = parse_config(partners +
                                  "routing: {deadlines: {negotiation_days: 20, "
                                  "appeal_window_days: 14}}\n",
                              "/etc/odrgw");
  EXPECT_EQ(c.deadlines.negotiation_days, 20);
  EXPECT_EQ(c.deadlines.appeal_window_days, 14);
  EXPECT_EQ(c.deadlines.mediation_days, 10);  // the default stays
  try {
    parse_config(partners + "routing: {deadlines: {negotiation_days: 0}}\n", "/etc/odrgw");
    FAIL();
  } catch (const config_error& e) {
    EXPECT_EQ(e.path(), "/routing/deadlines/negotiation_days");
  }
}

TEST(ProviderRouting, ConfigCategoriesAreTheV1Categories) {
  // The config schema lists the categories for its error messages; they must not drift.
  rapidjson::Document cfg, v1;
  schemas::json_error err;
  ASSERT_TRUE(schemas::parse_json(config_schema(), cfg, {}, err));
  ASSERT_TRUE(schemas::parse_json(
      test::read_file(test::source_dir() / "schemas/v1/odr-interchange-v1.json"), v1, {}, err));
  const auto& a = cfg["properties"]["routing"]["properties"]["rules"]["items"]["properties"]
                     ["categories"]["items"]["enum"];
  const auto& b = v1["definitions"]["ComplaintCategory"]["enum"];
  EXPECT_EQ(schemas::to_json_string(a), schemas::to_json_string(b));
}

}  // namespace
}  // namespace odrgw::gateway
