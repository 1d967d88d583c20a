#pragma once
// Which external ODR provider receives an escalation (docs/routing.md, "Routing rules"). Rules
// are evaluated in the order the config lists them; the first whose every condition holds wins;
// a condition left out holds for any case; with no match, the default provider; with no default,
// no provider (the escalation cannot be routed and is refused). The decision names the rule that
// matched, for the audit log.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <odrgw/schemas/json.hpp>

namespace odrgw::schemas {
class schema_set;
}  // namespace odrgw::schemas

namespace odrgw::gateway {

struct amount_range {
  std::string currency;             // ISO 4217; the range applies to amounts in this currency
  std::optional<std::int64_t> min;  // in 1/10000 of the currency unit, inclusive
  std::optional<std::int64_t> max;  // inclusive
};

struct routing_rule {
  std::string name;
  std::vector<std::string> categories;          // v1 ComplaintCategory
  std::optional<amount_range> amount;           // the application's price
  std::vector<std::string> consumer_countries;  // ISO 3166-1 alpha-2 of the consumer's address
  std::vector<std::string> merchant_countries;  // ... of the merchant's address
  std::vector<std::string> languages;           // any of the application's languages
  std::vector<std::string> procedures;          // negotiation | mediation | arbitration
  std::string provider;                         // partner id (role odr-provider)
};

struct routing_config {
  std::vector<routing_rule> rules;
  std::string default_provider;  // empty: none
};

// The facts of a case the rules look at, read from its dispute.application.
struct routing_facts {
  std::string category;
  std::string currency;
  std::optional<std::int64_t> amount;  // 1/10000 units
  std::string consumer_country;
  std::string merchant_country;
  std::vector<std::string> languages;
  std::string procedure;  // what the escalation needs

  static routing_facts of(const rapidjson::Value& application, std::string_view procedure);
};

struct routing_decision {
  std::string provider;  // empty: no provider
  std::string rule;      // the rule's name, "default", or "" when none matched and no default
  std::string explanation;
};

routing_decision choose_provider(const routing_config& cfg, const routing_facts& facts);

// "289.00" -> 2890000 (four decimals, the most ISO 4217 needs plus one); nullopt if not a
// non-negative decimal with at most four fraction digits and fifteen integer digits.
std::optional<std::int64_t> parse_amount(std::string_view decimal);

// The procedure a target tier means: T3 negotiation, T4 mediation, T5 arbitration; "" otherwise.
std::string_view procedure_of_tier(std::string_view tier) noexcept;

}  // namespace odrgw::gateway
