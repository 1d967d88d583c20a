#include <odrgw/gateway/case_logic.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>

#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/string_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <odrgw/adapters/adapter.hpp>
#include <odrgw/gateway/config.hpp>
#include <odrgw/gateway/pii.hpp>
#include <odrgw/gateway/provider_routing.hpp>
#include <odrgw/schemas/validator.hpp>

namespace odrgw::gateway {

namespace {

using rapidjson::Value;
using clock_t_ = std::chrono::system_clock;

constexpr auto text = &schemas::string_member;
constexpr auto child = &schemas::member_or_empty;

using routing::tier_number;

// The forum of an entry tier a partner of this role runs itself (ODR-SI 3.4-3.7): a platform's
// internal desk (T1) or an independent merchant's own desk (T0).
bool runs_tier(std::string_view role, std::string_view tier) {
  return (tier == "T0" && role == "merchant") || (tier == "T1" && role == "platform");
}

Value str(std::string_view s, rapidjson::Document::AllocatorType& a) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

// The routing facts kept with the case (countries only, no other personal data).
std::string facts_to_json(const routing_facts& f) {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("category", str(f.category, a), a);
  d.AddMember("currency", str(f.currency, a), a);
  if (f.amount) d.AddMember("amount", static_cast<std::int64_t>(*f.amount), a);
  d.AddMember("consumerCountry", str(f.consumer_country, a), a);
  d.AddMember("merchantCountry", str(f.merchant_country, a), a);
  Value langs(rapidjson::kArrayType);
  for (const auto& l : f.languages) langs.PushBack(str(l, a), a);
  d.AddMember("languages", langs, a);
  return schemas::to_json_string(d);
}

routing_facts facts_from_json(std::string_view json, std::string_view procedure) {
  routing_facts f;
  f.procedure = std::string(procedure);
  rapidjson::Document d;
  schemas::json_error err;
  if (json.empty() || !schemas::parse_json(json, d, schemas::json_limits{}, err) || !d.IsObject())
    return f;
  f.category = std::string(text(d, "category"));
  f.currency = std::string(text(d, "currency"));
  if (auto it = d.FindMember("amount"); it != d.MemberEnd() && it->value.IsInt64())
    f.amount = it->value.GetInt64();
  f.consumer_country = std::string(text(d, "consumerCountry"));
  f.merchant_country = std::string(text(d, "merchantCountry"));
  if (auto it = d.FindMember("languages"); it != d.MemberEnd() && it->value.IsArray())
    for (const auto& l : it->value.GetArray())
      if (l.IsString()) f.languages.emplace_back(l.GetString(), l.GetStringLength());
  return f;
}

class gateway_logic final : public case_logic {
 public:
  explicit gateway_logic(case_logic_options o)
      : o_(std::move(o)),
        machine_(embedded_table(), o_.cfg->deadlines),
        ns_(boost::uuids::string_generator()("6f1d3c52-8e0b-5d4a-9a57-0d7e3b1c2a90")) {
    if (!o_.clock) o_.clock = [] { return clock_t_::now(); };
    for (const auto& p : o_.cfg->partners) partners_.emplace(p.id, &p);
  }

  clock_t_::time_point now() const override { return o_.clock(); }

  case_change on_message(const case_record* current, const std::string& case_id,
                         const inbound_message& m) const override {
    case_change ch;
    if (!m.plain || !m.plain->IsObject()) {
      ch.refuse = true;
      ch.why.status = 500;
      ch.why.type = "internal";
      ch.why.title = "Case logic without the message";
      ch.why.detail = "the intake did not hand the message to the case logic";
      return ch;
    }
    const Value& msg = *m.plain;
    const auto t = now();
    routing::decision d;
    routing::case_status before;
    std::string provider, originator;
    if (current == nullptr) {
      d = machine_.open(case_id, msg, t);
      originator = m.sender_party;
      ch.facts_json = facts_to_json(routing_facts::of(msg, ""));
    } else {
      try {
        before = routing::case_status::from_json(current->status_json);
      } catch (const std::exception& e) {
        ch.refuse = true;
        ch.why.status = 500;
        ch.why.type = "internal";
        ch.why.title = "Case status unreadable";
        ch.why.detail =
            std::string("the stored status of ") + case_id + " is unreadable: " + e.what();
        return ch;
      }
      d = machine_.apply(before, msg, t);
      provider = current->provider;
      originator = current->originator;
      ch.facts_json = current->facts_json;
    }
    if (!d.allowed) {
      ch.refuse = true;
      ch.why.state = current ? before.state : "";
      ch.why.allowed_now = d.allowed_now;
      ch.why.detail = d.refusal;
      if (current == nullptr) {
        ch.why.type = "route";
        ch.why.title = "Not a route of the standard";
      }
      return ch;
    }
    std::vector<routing::event> events = std::move(d.events);
    routing::case_status next = std::move(d.next);

    // A forum that files at its own tier has accepted the case by filing it.
    std::optional<std::size_t> auto_acceptance;
    if (current == nullptr) {
      const auto* filer = partner(m.sender_party);
      if (filer != nullptr && runs_tier(filer->role, next.tier) &&
          text(child(msg, "sender"), "role") == filer->role) {
        rapidjson::Document acc = envelope("dispute.acceptance", case_id, next.proceeding_id(), t,
                                           originator, "acceptance-" + case_id);
        auto& a = acc.GetAllocator();
        // Addressed to whom the application was addressed: the forum accepts it for them.
        if (auto r = msg.FindMember("recipient"); r != msg.MemberEnd() && r->value.IsObject())
          acc["recipient"].CopyFrom(r->value, a);
        acc["sender"]["partyId"].SetString(
            m.sender_party.c_str(), static_cast<rapidjson::SizeType>(m.sender_party.size()), a);
        acc["sender"]["role"].SetString(filer->role.c_str(),
                                        static_cast<rapidjson::SizeType>(filer->role.size()), a);
        Value& p = acc["payload"];
        p.AddMember("decision", "accepted", a);
        p.AddMember("tier", str(next.tier, a), a);
        const std::string at = routing::format_time(t);
        p.AddMember("decidedAt", str(at, a), a);
        routing::decision d2 = machine_.apply(next, acc, t);
        if (d2.allowed) {
          auto_acceptance = ch.emitted.size();
          emit(ch, std::move(acc), "{\"rule\":\"filed by the forum of its entry tier\"}");
          for (auto& e : d2.events) events.push_back(std::move(e));
          next = std::move(d2.next);
        }
      }
    }

    const std::string tier_before = current ? before.tier : "";
    if (!route_provider(ch, next, tier_before, provider, m.message_id,
                        current == nullptr ? nullptr : current)) {
      return ch;
    }
    const std::string& sender = m.sender_party;
    // The message itself.
    if (!provider.empty() && sender == provider) {
      deliver(ch, delivery_ref::what::this_message, 0, originator, m.message_type);
    } else if (!provider.empty() && tier_number(next.tier) >= 3) {
      deliver(ch, delivery_ref::what::this_message, 0, provider, m.message_type);
    } else {
      const std::string to(text(child(msg, "recipient"), "partyId"));
      if (to != sender) deliver(ch, delivery_ref::what::this_message, 0, to, m.message_type);
    }
    if (auto_acceptance) {
      // The filer made the acceptance itself; any other partner addressed gets it.
      const std::string to(text(child(msg, "recipient"), "partyId"));
      if (to != sender)
        deliver(ch, delivery_ref::what::emitted, *auto_acceptance, to, "dispute.acceptance");
    }
    add_events(ch, next, std::move(events), originator, provider,
               std::string("{\"messageId\":\"") + m.message_id + "\"}", t);
    finish(ch, next, provider);
    return ch;
  }

  case_change on_timers(const case_record& current) const override {
    case_change ch;
    routing::case_status before;
    try {
      before = routing::case_status::from_json(current.status_json);
    } catch (const std::exception&) {
      ch.refuse = true;
      return ch;
    }
    const auto t = now();
    routing::decision d = machine_.expire(before, t);
    routing::case_status next = std::move(d.next);
    std::string provider = current.provider;
    ch.facts_json = current.facts_json;
    if (!route_provider(ch, next, before.tier, provider, "", &current)) {
      // No provider for the tier the timer moved the case to: the change stands (the deadline
      // rule is the standard's), the case waits at its tier without deliveries to a provider.
      ch.refuse = false;
      ch.why = {};
    }
    add_events(ch, next, std::move(d.events), current.originator, provider, "{\"timer\":true}", t);
    finish(ch, next, provider);
    return ch;
  }

 private:
  static std::string_view embedded_table();

  const partner_config* partner(const std::string& id) const {
    auto it = partners_.find(id);
    return it == partners_.end() ? nullptr : it->second;
  }

  // Picks the provider when the case enters an external tier (T3-T5) from another tier, writes
  // the decision to the audit log and, for a provider new to the case, queues the case's
  // application to it first. False (with the refusal set) when no provider can take the case.
  bool route_provider(case_change& ch, const routing::case_status& next,
                      const std::string& tier_before, std::string& provider,
                      const std::string& message_id, const case_record* current) const {
    if (tier_number(next.tier) < 3) return true;
    if (!provider.empty() && next.tier == tier_before) return true;
    const auto procedure = procedure_of_tier(next.tier);
    const routing_facts facts = facts_from_json(ch.facts_json, procedure);
    const routing_decision dec = choose_provider(o_.cfg->routing, facts);
    rapidjson::Document data(rapidjson::kObjectType);
    auto& a = data.GetAllocator();
    data.AddMember("tier", str(next.tier, a), a);
    data.AddMember("procedure", str(procedure, a), a);
    data.AddMember("provider", str(dec.provider, a), a);
    data.AddMember("rule", str(dec.rule, a), a);
    data.AddMember("explanation", str(dec.explanation, a), a);
    if (dec.provider.empty()) {
      if (!provider.empty()) return true;  // keeps the provider it has
      ch.refuse = true;
      ch.why.status = 409;
      ch.why.type = "no-provider";
      ch.why.title = "No external provider for this case";
      ch.why.detail =
          "the case would move to " + next.tier + " (" + std::string(procedure) +
          ") but no routing rule matches and there is no default provider: " + dec.explanation;
      ch.why.state = next.state;
      return false;
    }
    audit_entry e;
    e.kind = "routing";
    e.partner = dec.provider;
    e.message_id = message_id;
    e.data_json = schemas::to_json_string(data);
    ch.audits.push_back(std::move(e));
    if (dec.provider != provider) {
      provider = dec.provider;
      // A new forum needs the file. (A case filed directly at T3 carries the application as the
      // message itself: it is delivered as that.)
      if (current != nullptr)
        deliver(ch, delivery_ref::what::application, 0, provider, "dispute.application");
    }
    return true;
  }

  void deliver(case_change& ch, delivery_ref::what which, std::size_t index, const std::string& to,
               std::string_view type) const {
    if (to.empty() || to == gateway_party_id) return;
    const auto* p = partner(to);
    if (p == nullptr || p->callback_url.empty()) return;  // it polls GET /v1/cases
    if (p->role == "auditor" || p->role == "admin") return;
    const std::string dialect =
        p->dialect == "canonical-xml" || p->dialect == "canonical-json" ? "" : p->dialect;
    if (!dialect.empty() && o_.adapters != nullptr) {
      const auto* ad = o_.adapters->find(dialect);
      if (ad == nullptr) return;
      const auto types = ad->outbound_types();
      if (std::find(types.begin(), types.end(), type) == types.end()) return;
    }
    for (const auto& d : ch.deliveries)
      if (d.which == which && d.index == index && d.recipient == to) return;
    ch.deliveries.push_back({which, index, to});
  }

  rapidjson::Document envelope(std::string_view type, const std::string& case_id,
                               const std::string& proceeding_id, clock_t_::time_point t,
                               const std::string& to, const std::string& name) const {
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    const std::string id = boost::uuids::to_string(boost::uuids::name_generator_sha1(ns_)(name));
    d.AddMember("messageId", str(id, a), a);
    d.AddMember("messageType", str(type, a), a);
    d.AddMember("specVersion", "1.0", a);
    d.AddMember("caseId", str(case_id, a), a);
    d.AddMember("proceedingId", str(proceeding_id, a), a);
    Value s(rapidjson::kObjectType);
    s.AddMember("partyId", str(gateway_party_id, a), a);
    s.AddMember("role", "gateway", a);
    d.AddMember("sender", s, a);
    Value r(rapidjson::kObjectType);
    const auto* p = partner(to);
    const std::string role = p != nullptr ? p->role : "gateway";
    r.AddMember("partyId", str(p != nullptr ? to : std::string(gateway_party_id), a), a);
    r.AddMember("role", str(role, a), a);
    d.AddMember("recipient", r, a);
    const std::string at = routing::format_time(t);
    d.AddMember("sentAt", str(at, a), a);
    d.AddMember("payload", Value(rapidjson::kObjectType), a);
    return d;
  }

  void emit(case_change& ch, rapidjson::Document msg, std::string cause) const {
    emitted_message em;
    em.message_id = std::string(text(msg, "messageId"));
    em.message_type = std::string(text(msg, "messageType"));
    em.proceeding_id = std::string(text(msg, "proceedingId"));
    if (o_.set && o_.key != nullptr) {
      if (const auto* def = o_.set->model().find(em.message_type); def != nullptr)
        protect(*def->root, msg, msg.GetAllocator(), *o_.key);
    }
    em.canonical_json = schemas::to_json_string(msg);
    em.cause_json = std::move(cause);
    ch.emitted.push_back(std::move(em));
  }

  void add_events(case_change& ch, const routing::case_status& next,
                  std::vector<routing::event> events, const std::string& originator,
                  const std::string& provider, const std::string& cause,
                  clock_t_::time_point t) const {
    for (auto& e : events) {
      rapidjson::Document msg =
          envelope(e.message_type, next.case_id, next.proceeding_id(), t, originator, e.event_id);
      auto& a = msg.GetAllocator();
      msg["payload"].CopyFrom(e.payload, a);
      const std::size_t index = ch.emitted.size();
      const std::string type = e.message_type;
      emit(ch, std::move(msg), cause);
      deliver(ch, delivery_ref::what::emitted, index, originator, type);
      deliver(ch, delivery_ref::what::emitted, index, provider, type);
    }
  }

  static void finish(case_change& ch, const routing::case_status& next,
                     const std::string& provider) {
    ch.status_json = next.to_json();
    ch.state = next.state;
    ch.next_due = routing::machine::next_due(next);
    ch.provider = provider;
    ch.proceeding_id = next.proceeding_id();
  }

  case_logic_options o_;
  routing::machine machine_;
  boost::uuids::uuid ns_;
  std::map<std::string, const partner_config*, std::less<>> partners_;
};

}  // namespace

}  // namespace odrgw::gateway

#include <odrgw/gateway/embedded.hpp>

namespace odrgw::gateway {
namespace {
std::string_view gateway_logic::embedded_table() {
  return embedded::gateway::find("transitions.json");
}
}  // namespace

std::shared_ptr<const case_logic> make_case_logic(case_logic_options opts) {
  if (opts.cfg == nullptr) throw std::invalid_argument("make_case_logic: no config");
  return std::make_shared<gateway_logic>(std::move(opts));
}

std::function<std::chrono::system_clock::time_point()> scaled_clock(double scale) {
  if (!(scale > 1.0)) return [] { return std::chrono::system_clock::now(); };
  const auto start = std::chrono::system_clock::now();
  const auto steady_start = std::chrono::steady_clock::now();
  return [start, steady_start, scale] {
    const auto elapsed = std::chrono::steady_clock::now() - steady_start;
    return start + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                       std::chrono::duration<double, std::nano>(
                           std::chrono::duration<double, std::nano>(elapsed).count() * scale));
  };
}

}  // namespace odrgw::gateway
