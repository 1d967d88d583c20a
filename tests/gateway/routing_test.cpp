// The case state machine, driven through whole cases with a synthetic clock: every tier, every
// deadline, the refusals. Every event the machine emits is wrapped in a v1 envelope and checked
// against the v1 schema.
#include <gtest/gtest.h>

#include <odrgw/gateway/embedded.hpp>
#include <odrgw/gateway/routing.hpp>
#include <odrgw/schemas/validator.hpp>

#include "../schemas/test_support.hpp"

namespace odrgw::gateway::routing {
namespace {

using namespace std::chrono_literals;

const std::string case_id = "ODR-2026-000731";

rapidjson::Document example(const std::string& type) {
  rapidjson::Document d;
  schemas::json_error err;
  EXPECT_TRUE(schemas::parse_json(
      test::read_file(test::examples_dir() / "valid" / (type + ".json")), d, {}, err))
      << type;
  return d;
}

void set(rapidjson::Document& d, rapidjson::Value& obj, const char* name, const std::string& v) {
  auto& a = d.GetAllocator();
  if (obj.HasMember(name)) obj.RemoveMember(name);
  obj.AddMember(rapidjson::Value(name, a), rapidjson::Value(v.c_str(), a), a);
}

// A message of `type` from `role`, payload fields overridden.
rapidjson::Document message(
    const std::string& type, const std::string& role,
    std::initializer_list<std::pair<const char*, std::string>> fields = {}) {
  auto d = example(type);
  set(d, d["sender"], "role", role);
  set(d, d, "caseId", case_id);
  for (const auto& [k, v] : fields) set(d, d["payload"], k, v);
  return d;
}

// The machine's events must be valid v1 messages once the gateway puts an envelope on them.
void expect_valid_events(const decision& dec) {
  static const auto set = schemas::schema_set::builtin();
  for (const auto& e : dec.events) {
    rapidjson::Document m(rapidjson::kObjectType);
    auto& a = m.GetAllocator();
    m.AddMember("messageId", "6f1c2a9e-0000-4000-8000-000000000001", a);
    m.AddMember("messageType", rapidjson::Value(e.message_type.c_str(), a), a);
    m.AddMember("specVersion", "1.0", a);
    m.AddMember("caseId", rapidjson::Value(dec.next.case_id.c_str(), a), a);
    rapidjson::Value sender(rapidjson::kObjectType), recipient(rapidjson::kObjectType);
    sender.AddMember("partyId", "odrgw", a).AddMember("role", "gateway", a);
    recipient.AddMember("partyId", "platform-gb", a).AddMember("role", "platform", a);
    m.AddMember("sender", sender, a);
    m.AddMember("recipient", recipient, a);
    m.AddMember("sentAt", "2026-09-02T09:12:05Z", a);
    m.AddMember("payload", rapidjson::Value(e.payload, a), a);
    schemas::report r;
    set->validate_json(m, "", r);
    EXPECT_TRUE(r.valid()) << e.message_type << " " << schemas::to_json_string(m) << "\n"
                           << (r.errors.empty() ? ""
                                                : r.errors[0].location + " " + r.errors[0].rule +
                                                      " " + r.errors[0].message);
  }
}

std::vector<std::string> types(const decision& d) {
  std::vector<std::string> out;
  for (const auto& e : d.events) out.push_back(e.message_type);
  return out;
}

std::string member(const event& e, const char* name) {
  auto it = e.payload.FindMember(name);
  return it != e.payload.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

const event* find_event(const decision& d, const std::string& type) {
  for (const auto& e : d.events)
    if (e.message_type == type) return &e;
  return nullptr;
}

std::vector<std::string> timer_kinds(const case_status& c) {
  std::vector<std::string> out;
  for (const auto& t : c.deadlines) out.push_back(t.kind);
  return out;
}

class Routing : public ::testing::Test {
 protected:
  const machine& m = machine::builtin();
  clock::time_point t0 = parse_time("2026-09-02T08:00:00Z");
  clock::time_point now = t0;
  case_status c;

  decision step(const rapidjson::Document& msg) {
    auto d = m.apply(c, msg, now);
    expect_valid_events(d);
    if (d.allowed) c = d.next;
    return d;
  }
  decision advance(clock::duration by) {
    now += by;
    auto d = m.expire(c, now);
    expect_valid_events(d);
    c = d.next;
    return d;
  }
  void open(const std::string& tier, const std::string& merchant_kind, bool arbitration = true) {
    auto app = example("dispute.application");
    set(app, app["payload"], "tier", tier);
    set(app, app["payload"], "merchantKind", merchant_kind);
    app["payload"]["consents"]["arbitrationAgreement"].SetBool(arbitration);
    auto d = m.open(case_id, app, now);
    ASSERT_TRUE(d.allowed) << d.refusal;
    expect_valid_events(d);
    c = d.next;
  }
};

TEST(RoutingTable, EveryRowIsWellFormedAndCitesAClause) {
  const auto& rules = machine::builtin().rules();
  ASSERT_GT(rules.size(), 30u);
  const auto set = schemas::schema_set::builtin();
  for (const auto& r : rules) {
    EXPECT_NE(set->model().find(r.type), nullptr) << r.type;
    EXPECT_FALSE(r.clause.empty()) << r.state << " " << r.type;
    // Gateway events are never accepted from partners.
    EXPECT_NE(r.type, "stage.changed");
    EXPECT_NE(r.type, "deadline.notice");
    EXPECT_NE(r.type, "dispute.application");  // only opens a case
  }
  // Voluntariness (ODR-SI 5.3): a party may withdraw in every state before closure.
  for (const char* s : {"filed", "negotiation", "platform-review", "mediation", "arbitration",
                        "outcome-notified"}) {
    const bool withdrawable = std::any_of(rules.begin(), rules.end(), [&](const rule& r) {
      return r.state == s && r.type == "dispute.withdrawal";
    });
    EXPECT_TRUE(withdrawable) << s;
  }
}

TEST(RoutingTable, BrokenTablesAreRefusedNamingTheRow) {
  auto error = [](const std::string& json) {
    try {
      machine bad(json);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error("{\"rows\":[{\"state\":\"limbo\",\"type\":\"x\",\"by\":[\"party\"],"
                  "\"effect\":\"none\",\"clause\":\"c\"}]}")
                .find("/rows/0: unknown state"),
            std::string::npos);
  EXPECT_NE(error("{\"rows\":[{\"state\":\"filed\",\"type\":\"x\",\"by\":[\"party\"],"
                  "\"effect\":\"teleport\",\"clause\":\"c\"}]}")
                .find("unknown effect"),
            std::string::npos);
  EXPECT_NE(error("{\"rows\":[{\"state\":\"filed\",\"type\":\"x\",\"by\":[\"party\"],"
                  "\"effect\":\"none\"}]}")
                .find("cites a clause"),
            std::string::npos);
  EXPECT_NE(error("not json").find("transition table"), std::string::npos);
}

// A merchant on a platform (DESIGN.md §3): T1 -> T2 -> T3 -> T4 -> T5, through every deadline.
TEST_F(Routing, PlatformMerchantCaseThroughEveryTierAndDeadline) {
  open("T1", "platform-merchant");
  EXPECT_EQ(c.state, "filed");
  EXPECT_EQ(timer_kinds(c), std::vector<std::string>{"acceptance-decision"});

  // T1: the platform accepts; negotiation and the respondent's response run.
  auto d = step(message("dispute.acceptance", "platform", {{"decision", "accepted"}}));
  ASSERT_TRUE(d.allowed) << d.refusal;
  EXPECT_EQ(c.state, "negotiation");
  EXPECT_EQ(timer_kinds(c), (std::vector<std::string>{"negotiation", "respondent-response"}));
  // Negotiation lapses after 10 days: an outcome with an appeal window to T2.
  d = advance(7 * 24h);  // the respondent's 7 days first
  EXPECT_EQ(types(d), std::vector<std::string>{"deadline.notice"});
  EXPECT_EQ(c.state, "negotiation");
  d = advance(3 * 24h);
  EXPECT_EQ(c.state, "outcome-notified");
  const event* outcome = find_event(d, "outcome.notification");
  ASSERT_NE(outcome, nullptr);
  EXPECT_EQ(member(*outcome, "outcome"), "lapsed");
  EXPECT_EQ(member(*outcome, "appealTo"), "T2");
  EXPECT_EQ(timer_kinds(c), std::vector<std::string>{"appeal-window"});

  // The consumer appeals to the platform's review (T2): filed, accepted, platform-review.
  d = step(message("dispute.appeal", "consumer", {{"previousTier", "T1"}, {"toTier", "T2"}}));
  ASSERT_TRUE(d.allowed) << d.refusal;
  EXPECT_EQ(c.state, "filed");
  EXPECT_EQ(c.tier, "T2");
  EXPECT_EQ(c.proceeding_id(), case_id + "-P2");
  d = step(message("dispute.acceptance", "platform", {{"decision", "accepted"}, {"tier", "T2"}}));
  ASSERT_TRUE(d.allowed) << d.refusal;
  EXPECT_EQ(c.state, "platform-review");
  // The review lapses: outcome, appeal to T3.
  d = advance(10 * 24h);
  EXPECT_EQ(c.state, "outcome-notified");
  EXPECT_EQ(c.appeal_to, "T3");

  // Appeal to an external provider (T3), accepted, negotiation there.
  d = step(message("dispute.appeal", "consumer", {{"previousTier", "T2"}, {"toTier", "T3"}}));
  ASSERT_TRUE(d.allowed) << d.refusal;
  d = step(
      message("dispute.acceptance", "odr-provider", {{"decision", "accepted"}, {"tier", "T3"}}));
  ASSERT_TRUE(d.allowed) << d.refusal;
  EXPECT_EQ(c.state, "negotiation");
  EXPECT_EQ(c.tier, "T3");
  // The respondent answers, agreeing to arbitration: the case becomes eligible for T5.
  auto response = message("dispute.response", "merchant");
  response["payload"]["consents"]["arbitrationAgreement"].SetBool(true);
  d = step(response);
  ASSERT_TRUE(d.allowed) << d.refusal;
  EXPECT_TRUE(c.arbitration_eligible());
  EXPECT_EQ(timer_kinds(c), std::vector<std::string>{"negotiation"});  // response timer cancelled

  // The consumer asks for mediation (T4); the clock starts at the neutral's appointment.
  d = step(message("escalation.request", "consumer", {{"fromTier", "T3"}, {"toTier", "T4"}}));
  ASSERT_TRUE(d.allowed) << d.refusal;
  EXPECT_EQ(c.state, "mediation");
  EXPECT_TRUE(c.deadlines.empty());
  d = step(
      message("mediation.neutral-appointed", "odr-provider", {{"appointedAt", format_time(now)}}));
  ASSERT_TRUE(d.allowed) << d.refusal;
  EXPECT_EQ(timer_kinds(c), std::vector<std::string>{"mediation"});
  // Mediation lapses and both agreed to arbitration: on to T5 without anyone asking.
  d = advance(10 * 24h + 1ms);
  EXPECT_EQ(c.state, "arbitration");
  EXPECT_EQ(c.tier, "T5");
  EXPECT_EQ(timer_kinds(c), std::vector<std::string>{"arbitration-final-submissions"});
  d = advance(10 * 24h);
  EXPECT_EQ(timer_kinds(c), std::vector<std::string>{"arbitration-award"});
  // The award: outcome notified, no further ODR appeal; the window lapses and the case closes.
  d = step(message("arbitration.award", "neutral"));
  ASSERT_TRUE(d.allowed) << d.refusal;
  EXPECT_EQ(c.state, "outcome-notified");
  EXPECT_EQ(c.last_outcome, "upheld");
  EXPECT_TRUE(c.appeal_to.empty());
  EXPECT_FALSE(m.apply(c, message("dispute.appeal", "consumer", {{"toTier", "T3"}}), now).allowed);
  d = advance(10 * 24h);
  EXPECT_EQ(c.state, "closed");
  const event* closure = find_event(d, "case.closure");
  ASSERT_NE(closure, nullptr);
  EXPECT_EQ(member(*closure, "outcome"), "upheld");
  EXPECT_EQ(member(*closure, "finalTier"), "T5");
  EXPECT_TRUE(c.deadlines.empty());
  // After closure: execution feedback and evaluation, nothing else.
  EXPECT_TRUE(step(message("evaluation.submission", "consumer")).allowed);
  EXPECT_FALSE(step(message("dispute.withdrawal", "consumer")).allowed);
}

TEST_F(Routing, IndependentWebsiteGoesFromItsOwnDeskToAnExternalProvider) {
  open("T0", "independent-website");
  ASSERT_TRUE(step(message("dispute.acceptance", "merchant", {{"tier", "T0"}})).allowed);
  // T0 -> T3 directly; T2 is not on this route.
  auto d = step(message("escalation.request", "consumer", {{"fromTier", "T0"}, {"toTier", "T2"}}));
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.refusal.find("goes to T3"), std::string::npos) << d.refusal;
  d = step(message("escalation.request", "consumer", {{"fromTier", "T0"}, {"toTier", "T3"}}));
  ASSERT_TRUE(d.allowed) << d.refusal;
  EXPECT_EQ(c.state, "filed");  // a new forum must accept it
  EXPECT_EQ(c.tier, "T3");
}

TEST_F(Routing, APlatformOperatorDoesNotJudgeItsOwnCase) {
  open("T1", "platform-operator");
  ASSERT_TRUE(step(message("dispute.acceptance", "platform")).allowed);
  advance(10 * 24h);
  EXPECT_EQ(c.state, "outcome-notified");
  EXPECT_EQ(c.appeal_to, "T3");  // not T2
  EXPECT_FALSE(
      step(message("dispute.appeal", "consumer", {{"previousTier", "T1"}, {"toTier", "T2"}}))
          .allowed);
}

TEST_F(Routing, RefusalsSayWhatTheStateAllows) {
  open("T1", "platform-merchant", false);
  // Negotiation before acceptance.
  auto d = step(message("negotiation.offer", "merchant"));
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.refusal.find("not allowed while the case is filed"), std::string::npos);
  EXPECT_NE(std::find(d.allowed_now.begin(), d.allowed_now.end(), "dispute.acceptance (by forum)"),
            d.allowed_now.end());
  EXPECT_EQ(c.state, "filed");  // unchanged
  // Only the forum accepts.
  d = step(message("dispute.acceptance", "consumer"));
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.refusal.find("comes from forum"), std::string::npos) << d.refusal;
  EXPECT_TRUE(d.events.empty());
  ASSERT_TRUE(step(message("dispute.acceptance", "platform")).allowed);
  // Escalation only on a party's request, and only along the route.
  d = step(message("escalation.request", "consumer", {{"fromTier", "T1"}, {"toTier", "T3"}}));
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.refusal.find("goes to T2"), std::string::npos) << d.refusal;
  EXPECT_FALSE(
      step(message("escalation.request", "odr-provider", {{"fromTier", "T1"}, {"toTier", "T2"}}))
          .allowed);  // a forum does not escalate for the parties (ODR-SI 5.3)
  // Arbitration needs both parties' agreement (here the complainant did not agree).
  c.tier = "T4";
  c.state = "mediation";
  d = step(message("escalation.request", "merchant",
                   {{"fromTier", "T4"}, {"toTier", "T5"}, {"requestedBy", "merchant"}}));
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.refusal.find("both parties"), std::string::npos) << d.refusal;
  // Without eligibility a lapsed mediation ends in an outcome, not in arbitration.
  ASSERT_TRUE(step(message("mediation.neutral-appointed", "odr-provider",
                           {{"appointedAt", format_time(now)}}))
                  .allowed);
  d = advance(11 * 24h);
  EXPECT_EQ(c.state, "outcome-notified");
  EXPECT_EQ(c.last_outcome, "lapsed");
}

TEST_F(Routing, WithdrawalEndsTheCaseAndCancelsItsTimers) {
  open("T3", "platform-merchant");
  ASSERT_TRUE(step(message("dispute.acceptance", "odr-provider", {{"tier", "T3"}})).allowed);
  auto d = step(message("dispute.withdrawal", "consumer"));
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(c.state, "withdrawn");
  EXPECT_TRUE(c.deadlines.empty());
  int cancelled = 0;
  for (const auto& e : d.events)
    if (e.message_type == "deadline.notice" && member(e, "noticeKind") == "cancelled") ++cancelled;
  EXPECT_EQ(cancelled, 2);
  EXPECT_TRUE(advance(365 * 24h).events.empty());  // nothing left to fire
}

TEST_F(Routing, EntryTierMustFitTheMerchantKind) {
  auto app = example("dispute.application");
  set(app, app["payload"], "tier", "T0");
  set(app, app["payload"], "merchantKind", "platform-merchant");
  auto d = m.open(case_id, app, now);
  EXPECT_FALSE(d.allowed);
  EXPECT_NE(d.refusal.find("independent-website"), std::string::npos);
}

TEST_F(Routing, TimersSurviveARestartAndFireTheSameEvents) {
  open("T1", "platform-merchant");
  ASSERT_TRUE(step(message("dispute.acceptance", "platform")).allowed);
  const auto restored = case_status::from_json(c.to_json());
  EXPECT_EQ(restored.to_json(), c.to_json());
  const auto later = now + 30 * 24h;
  const auto a = m.expire(c, later);
  const auto b = m.expire(restored, later);
  ASSERT_EQ(types(a), types(b));
  for (std::size_t i = 0; i < a.events.size(); ++i) {
    EXPECT_EQ(a.events[i].event_id, b.events[i].event_id);
    EXPECT_EQ(schemas::to_json_string(a.events[i].payload),
              schemas::to_json_string(b.events[i].payload));
  }
  // 30 days on: respondent (7d), negotiation (10d) -> outcome, appeal window (10d) -> closed.
  EXPECT_EQ(a.next.state, "closed");
  EXPECT_THROW(case_status::from_json("{\"caseId\":1}"), std::runtime_error);
  EXPECT_THROW(case_status::from_json("[]"), std::runtime_error);
}

TEST_F(Routing, DueTimersFireInDueOrderAndNotBefore) {
  open("T1", "platform-merchant");
  ASSERT_TRUE(step(message("dispute.acceptance", "platform")).allowed);
  EXPECT_TRUE(advance(7 * 24h - 1ms).events.empty());
  EXPECT_EQ(m.next_due(c), format_time(t0 + 7 * 24h));
  const auto d = advance(1ms);
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(member(d.events[0], "deadlineKind"), "respondent-response");
  EXPECT_EQ(member(d.events[0], "noticeKind"), "expired");
}

TEST(RoutingTime, ParsesOffsetsAndFormatsUtc) {
  EXPECT_EQ(format_time(parse_time("2026-10-12T09:05:00+08:00")), "2026-10-12T01:05:00.000Z");
  EXPECT_EQ(format_time(parse_time("2026-02-28T23:59:59.5Z") + std::chrono::days(1)),
            "2026-03-01T23:59:59.500Z");
  EXPECT_THROW(parse_time("yesterday"), std::invalid_argument);
}

}  // namespace
}  // namespace odrgw::gateway::routing

namespace odrgw::gateway::routing {
namespace {

TEST(RoutingPolicy, DeploymentDurationsReplaceTheDefaultsAndSaySo) {
  policy p;
  p.negotiation_days = 3;
  const machine m(embedded::gateway::find("transitions.json"), p);
  rapidjson::Document app;
  schemas::json_error err;
  ASSERT_TRUE(schemas::parse_json(
      test::read_file(test::examples_dir() / "valid/dispute.application.json"), app, {}, err));
  const auto now = parse_time("2026-09-02T08:00:00Z");
  auto c = m.open("ODR-2026-000001", app, now).next;
  rapidjson::Document acc;
  ASSERT_TRUE(schemas::parse_json(
      test::read_file(test::examples_dir() / "valid/dispute.acceptance.json"), acc, {}, err));
  acc["caseId"].SetString("ODR-2026-000001", acc.GetAllocator());
  const auto d = m.apply(c, acc, now);
  ASSERT_TRUE(d.allowed) << d.refusal;
  bool seen = false;
  for (const auto& t : d.next.deadlines) {
    if (t.kind == "negotiation") {
      seen = true;
      EXPECT_EQ(t.due_at, "2026-09-05T08:00:00.000Z");
      EXPECT_EQ(t.source, "deployment-config");
    }
    if (t.kind == "respondent-response") {
      EXPECT_EQ(t.source, "uncitral-draft-rules");  // left at its default
    }
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace odrgw::gateway::routing
