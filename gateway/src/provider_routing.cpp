// Routing rules: first match in config order, then the default.
#include <odrgw/gateway/provider_routing.hpp>

#include <algorithm>

namespace odrgw::gateway {
namespace {

using rapidjson::Value;

const Value* find(const Value& v, std::string_view name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(rapidjson::StringRef(name.data(), name.size()));
  return it == v.MemberEnd() ? nullptr : &it->value;
}

std::string text_at(const Value& v, std::initializer_list<std::string_view> path) {
  const Value* cur = &v;
  for (auto p : path) {
    cur = find(*cur, p);
    if (cur == nullptr) return "";
  }
  return cur->IsString() ? std::string(cur->GetString(), cur->GetStringLength()) : "";
}

bool listed(const std::vector<std::string>& list, std::string_view v) {
  return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

// Why `r` does not match, or "" when it does.
std::string mismatch(const routing_rule& r, const routing_facts& f) {
  if (!listed(r.categories, f.category))
    return "category " + f.category + " not in [" + join(r.categories) + "]";
  if (r.amount) {
    if (f.currency != r.amount->currency || !f.amount)
      return "amount in " + (f.currency.empty() ? std::string("no currency") : f.currency) +
             ", the rule's range is in " + r.amount->currency;
    if (r.amount->min && *f.amount < *r.amount->min) return "amount below the rule's minimum";
    if (r.amount->max && *f.amount > *r.amount->max) return "amount above the rule's maximum";
  }
  if (!listed(r.consumer_countries, f.consumer_country))
    return "consumer country " + f.consumer_country + " not in [" + join(r.consumer_countries) +
           "]";
  if (!listed(r.merchant_countries, f.merchant_country))
    return "merchant country " + f.merchant_country + " not in [" + join(r.merchant_countries) +
           "]";
  if (!r.languages.empty() &&
      std::none_of(f.languages.begin(), f.languages.end(),
                   [&](const std::string& l) { return listed(r.languages, l); }))
    return "no language of the case in [" + join(r.languages) + "]";
  if (!listed(r.procedures, f.procedure))
    return "procedure " + f.procedure + " not in [" + join(r.procedures) + "]";
  return "";
}

}  // namespace

std::optional<std::int64_t> parse_amount(std::string_view s) {
  const auto dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  if (whole.empty() || whole.size() > 15 || frac.size() > 4 ||
      (dot != std::string_view::npos && frac.empty()))
    return std::nullopt;
  std::int64_t v = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  for (std::size_t i = 0; i < 4; ++i) {
    const char c = i < frac.size() ? frac[i] : '0';
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string_view procedure_of_tier(std::string_view tier) noexcept {
  if (tier == "T3") return "negotiation";
  if (tier == "T4") return "mediation";
  if (tier == "T5") return "arbitration";
  return "";
}

routing_facts routing_facts::of(const rapidjson::Value& application, std::string_view procedure) {
  routing_facts f;
  const Value* p = find(application, "payload");
  if (p == nullptr) return f;
  f.category = text_at(*p, {"category"});
  f.currency = text_at(*p, {"price", "currency"});
  f.amount = parse_amount(text_at(*p, {"price", "amount"}));
  // Which side is the consumer: the complainant unless the complainant is the merchant.
  const bool consumer_complains = text_at(*p, {"complainantKind"}) != "merchant";
  const std::string complainant = text_at(*p, {"complainant", "address", "country"});
  const std::string respondent = text_at(*p, {"respondent", "address", "country"});
  f.consumer_country = consumer_complains ? complainant : respondent;
  f.merchant_country = consumer_complains ? respondent : complainant;
  if (const Value* langs = find(*p, "languages"); langs != nullptr && langs->IsArray())
    for (const auto& l : langs->GetArray())
      if (l.IsString()) f.languages.emplace_back(l.GetString(), l.GetStringLength());
  f.procedure = std::string(procedure);
  return f;
}

routing_decision choose_provider(const routing_config& cfg, const routing_facts& facts) {
  routing_decision d;
  std::string why;
  for (const auto& r : cfg.rules) {
    const std::string m = mismatch(r, facts);
    if (m.empty()) {
      d.provider = r.provider;
      d.rule = r.name;
      d.explanation = "rule '" + r.name + "' matched" + (why.empty() ? "" : " after " + why);
      return d;
    }
    why += (why.empty() ? "" : "; ") + r.name + ": " + m;
  }
  if (!cfg.default_provider.empty()) {
    d.provider = cfg.default_provider;
    d.rule = "default";
    d.explanation = cfg.rules.empty() ? "no rules: the default provider"
                                      : "no rule matched (" + why + "): the default provider";
    return d;
  }
  d.explanation = cfg.rules.empty() ? "no routing rules and no default provider"
                                    : "no rule matched (" + why + ") and there is no default";
  return d;
}

}  // namespace odrgw::gateway
