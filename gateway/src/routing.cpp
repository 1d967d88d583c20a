// The case state machine: the table (gateway/routing/transitions.json) says what may happen;
// the effects below say what it does. docs/routing.md describes both.
#include <odrgw/gateway/routing.hpp>

#include <algorithm>
#include <array>
#include <stdexcept>

#include <odrgw/gateway/embedded.hpp>

#include "util.hpp"

namespace odrgw::gateway::routing {

int tier_number(std::string_view t) noexcept {
  return t.size() == 2 && t[0] == 'T' && t[1] >= '0' && t[1] <= '5' ? t[1] - '0' : -1;
}

namespace {

using rapidjson::Value;

// ---- reading messages ---------------------------------------------------------------------------

const Value* find(const Value& v, std::string_view name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(rapidjson::StringRef(name.data(), name.size()));
  return it == v.MemberEnd() ? nullptr : &it->value;
}

constexpr auto text = &schemas::string_member;

bool flag(const Value* v, std::string_view name) {
  if (v == nullptr) return false;
  const Value* m = find(*v, name);
  return m != nullptr && m->IsBool() && m->GetBool();
}

const Value& payload_of(const Value& message) {
  static const Value empty(rapidjson::kObjectType);
  const Value* p = find(message, "payload");
  return p != nullptr && p->IsObject() ? *p : empty;
}

// ---- tiers and roles ------------------------------------------------------------------------

bool is_forum(std::string_view tier, std::string_view role) {
  switch (tier_number(tier)) {
    case 0:
      return role == "merchant";
    case 1:
    case 2:
      return role == "platform";
    case 3:
      return role == "odr-provider";
    case 4:
    case 5:
      return role == "odr-provider" || role == "neutral";
    default:
      return false;
  }
}

bool is_party(std::string_view role) {
  return role == "consumer" || role == "merchant" || role == "platform";
}

bool may_send(const rule& r, std::string_view tier, std::string_view role) {
  return std::any_of(r.by.begin(), r.by.end(), [&](const std::string& b) {
    return b == role || (b == "party" && is_party(role)) || (b == "forum" && is_forum(tier, role));
  });
}

// The state a proceeding at `tier` starts its work in, once accepted.
std::string working_state(std::string_view tier) {
  switch (tier_number(tier)) {
    case 2:
      return "platform-review";
    case 4:
      return "mediation";
    case 5:
      return "arbitration";
    default:
      return "negotiation";
  }
}

// Where a party may escalate from `tier` (ODR-SI 6.2.5; DESIGN.md §3 routes). T2 is skipped
// when the platform operator is itself the respondent: it cannot judge its own case.
std::vector<std::string> escalation_targets(const case_status& c, std::string_view tier) {
  switch (tier_number(tier)) {
    case 0:
      return {"T3"};
    case 1:
      return c.merchant_kind == "platform-operator" ? std::vector<std::string>{"T3"}
                                                    : std::vector<std::string>{"T2"};
    case 2:
      return {"T3"};
    case 3:
      return {"T4"};
    case 4:
      return {"T5"};
    default:
      return {};
  }
}

// Where an appeal after an outcome at `tier` goes (v1 AppealTier: T2 or T3).
std::string appeal_target(const case_status& c, std::string_view tier) {
  switch (tier_number(tier)) {
    case 0:
      return "T3";
    case 1:
      return c.merchant_kind == "platform-operator" ? "T3" : "T2";
    case 2:
      return "T3";
    default:
      return "";  // external outcomes are not appealed within ODR
  }
}

// ---- building events ------------------------------------------------------------------------

class builder {
 public:
  builder(case_status& c, std::vector<event>& out) : c_(c), out_(out) {}

  Value str(std::string_view s, rapidjson::Document& d) {
    return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), d.GetAllocator());
  }

  rapidjson::Document& start(std::string_view type) {
    event e;
    e.message_type = std::string(type);
    e.event_id = c_.case_id + "-E" + std::to_string(c_.next_event++);
    e.payload.SetObject();
    out_.push_back(std::move(e));
    return out_.back().payload;
  }

  void stage_changed(std::string_view from_tier, std::string_view from_state,
                     std::string_view reason, std::string_view at,
                     std::string_view triggered_by = {}) {
    auto& d = start("stage.changed");
    auto& a = d.GetAllocator();
    if (!from_tier.empty()) d.AddMember("fromTier", str(from_tier, d), a);
    d.AddMember("toTier", str(c_.tier, d), a);
    if (!from_state.empty()) d.AddMember("fromState", str(from_state, d), a);
    d.AddMember("toState", str(c_.state, d), a);
    d.AddMember("reason", str(reason, d), a);
    d.AddMember("toProceedingId", str(c_.proceeding_id(), d), a);
    if (!triggered_by.empty()) d.AddMember("triggeredBy", str(triggered_by, d), a);
    d.AddMember("changedAt", str(at, d), a);
  }

  void notice(const deadline& t, std::string_view notice_kind, std::string_view action) {
    auto& d = start("deadline.notice");
    auto& a = d.GetAllocator();
    d.AddMember("deadlineId", str(t.id, d), a);
    d.AddMember("deadlineKind", str(t.kind, d), a);
    d.AddMember("noticeKind", str(notice_kind, d), a);
    d.AddMember("basisEvent", str(t.basis_event, d), a);
    d.AddMember("basisAt", str(t.basis_at, d), a);
    d.AddMember("durationDays", t.duration_days, a);
    d.AddMember("dueAt", str(t.due_at, d), a);
    d.AddMember("source", str(t.source, d), a);
    if (!t.source_clause.empty()) d.AddMember("sourceClause", str(t.source_clause, d), a);
    if (t.extensions > 0) d.AddMember("extensionCount", t.extensions, a);
    d.AddMember("actionTaken", str(action, d), a);
  }

  // Sets a timer and announces it.
  void set(std::string_view kind, std::string_view basis_event, clock::time_point basis, int days,
           std::string_view source, std::string_view clause) {
    deadline t;
    t.id = c_.case_id + "-D" + std::to_string(c_.next_deadline++);
    t.kind = std::string(kind);
    t.basis_event = std::string(basis_event);
    t.basis_at = format_time(basis);
    t.duration_days = days;
    t.due_at = format_time(basis + std::chrono::days(days));
    t.source = std::string(source);
    t.source_clause = std::string(clause);
    c_.deadlines.push_back(t);
    notice(t, "set", "none");
  }

  // Cancels the timers whose kind is in `kinds` (all when empty) and announces each.
  void cancel(std::initializer_list<std::string_view> kinds = {}) {
    auto& ds = c_.deadlines;
    for (auto it = ds.begin(); it != ds.end();) {
      const bool match =
          kinds.size() == 0 || std::find(kinds.begin(), kinds.end(), it->kind) != kinds.end();
      if (match) {
        notice(*it, "cancelled", "none");
        it = ds.erase(it);
      } else {
        ++it;
      }
    }
  }

  void outcome_notification(std::string_view outcome, std::string_view at, std::string_view reasons,
                            std::string_view window_closes) {
    auto& d = start("outcome.notification");
    auto& a = d.GetAllocator();
    d.AddMember("outcome", str(outcome, d), a);
    d.AddMember("tier", str(c_.tier, d), a);
    d.AddMember("decidedAt", str(at, d), a);
    d.AddMember("reasons", str(reasons, d), a);
    d.AddMember("sourceId", str(c_.proceeding_id(), d), a);
    Value w(rapidjson::kObjectType);
    w.AddMember("opensAt", str(at, d), a);
    w.AddMember("closesAt", str(window_closes, d), a);
    d.AddMember("appealWindow", w, a);
    if (!c_.appeal_to.empty()) d.AddMember("appealTo", str(c_.appeal_to, d), a);
  }

  void closure(std::string_view at) {
    auto& d = start("case.closure");
    auto& a = d.GetAllocator();
    d.AddMember("closedAt", str(at, d), a);
    d.AddMember("outcome", str(c_.last_outcome.empty() ? "lapsed" : c_.last_outcome, d), a);
    d.AddMember("finalTier", str(c_.last_outcome_tier.empty() ? c_.tier : c_.last_outcome_tier, d),
                a);
    d.AddMember("archiveRef", str(c_.case_id, d), a);
  }

 private:
  case_status& c_;
  std::vector<event>& out_;
};

// The default's source, or deployment-config where the deployment changed the duration.
std::string_view source_for(int days, int default_days, std::string_view source) {
  return days == default_days ? source : "deployment-config";
}
const policy defaults{};

// The timers a working state starts with (DESIGN.md §3).
void start_stage_timers(builder& b, const case_status& c, const policy& p, clock::time_point at) {
  if (c.state == "negotiation") {
    b.set("negotiation", "acceptance-notified", at, p.negotiation_days,
          source_for(p.negotiation_days, defaults.negotiation_days, "apec-mpr"),
          "APEC ODR framework: 10 days, one extension to 20");
    b.set("respondent-response", "acceptance-notified", at, p.respondent_response_days,
          source_for(p.respondent_response_days, defaults.respondent_response_days,
                     "uncitral-draft-rules"),
          "UNCITRAL draft procedural rules");
  } else if (c.state == "platform-review") {
    b.set("platform-review", "review-started", at, p.platform_review_days,
          source_for(p.platform_review_days, defaults.platform_review_days, "design-default"),
          "DESIGN.md §3");
  } else if (c.state == "arbitration") {
    b.set("arbitration-final-submissions", "mediation-expired", at, p.arbitration_submissions_days,
          source_for(p.arbitration_submissions_days, defaults.arbitration_submissions_days,
                     "apec-mpr"),
          "APEC MPR art. 8(1)");
  }
  // mediation: the clock starts when the neutral's appointment is notified (APEC MPR art. 7(1)).
}

constexpr std::array stage_timer_kinds = {std::string_view("negotiation"),
                                          std::string_view("respondent-response"),
                                          std::string_view("platform-review"),
                                          std::string_view("mediation"),
                                          std::string_view("arbitration-final-submissions"),
                                          std::string_view("arbitration-award"),
                                          std::string_view("acceptance-decision")};

void cancel_stage_timers(builder& b) {
  b.cancel({stage_timer_kinds[0], stage_timer_kinds[1], stage_timer_kinds[2], stage_timer_kinds[3],
            stage_timer_kinds[4], stage_timer_kinds[5], stage_timer_kinds[6]});
}

// A proceeding at a new tier: filed at a new forum (awaiting its acceptance), or straight into
// the working state where the same forum continues (T1 -> T2, T3 -> T4 -> T5).
void move_to_tier(builder& b, case_status& c, const policy& p, std::string_view to,
                  std::string_view reason, clock::time_point now, std::string_view trigger,
                  bool new_forum) {
  const std::string from_tier = c.tier, from_state = c.state;
  cancel_stage_timers(b);
  b.cancel({"appeal-window"});
  c.tier = std::string(to);
  ++c.proceeding;
  c.appeal_to.clear();
  c.state = new_forum ? "filed" : working_state(to);
  const auto at = format_time(now);
  b.stage_changed(from_tier, from_state, reason, at, trigger);
  if (new_forum)
    b.set("acceptance-decision", "application-received", now, p.acceptance_decision_days,
          source_for(p.acceptance_decision_days, defaults.acceptance_decision_days,
                     "cn-regulator-practice"),
          "market-regulator practice: 7 days");
  else
    start_stage_timers(b, c, p, now);
}

// The stage lapsed or was decided: outcome notified, the appeal window opens.
void notify_outcome(builder& b, case_status& c, const policy& p, std::string_view outcome,
                    std::string_view appeal_to, clock::time_point at,
                    clock::time_point window_closes, bool emit_notification,
                    std::string_view reason, std::string_view trigger) {
  const std::string from_state = c.state;
  cancel_stage_timers(b);
  c.last_outcome = std::string(outcome);
  c.last_outcome_tier = c.tier;
  c.appeal_to = std::string(appeal_to);
  c.state = "outcome-notified";
  if (emit_notification)
    b.outcome_notification(outcome, format_time(at),
                           "The " + std::string(from_state) +
                               " stage ended at its deadline without an agreement or a decision.",
                           format_time(window_closes));
  b.stage_changed(c.tier, from_state, reason, format_time(at), trigger);
  const int days =
      static_cast<int>(std::chrono::ceil<std::chrono::days>(window_closes - at).count());
  b.set("appeal-window", "outcome-notified", at, std::max(days, 0), "design-default",
        "DESIGN.md §3");
  c.deadlines.back().due_at = format_time(window_closes);
  (void)p;
}

}  // namespace

// ---- time -------------------------------------------------------------------------------------

std::string format_time(clock::time_point t) { return detail::format_utc_ms(t); }

clock::time_point parse_time(std::string_view s) {
  const auto n = detail::normalise_rfc3339(s);
  if (!n) throw std::invalid_argument("not an RFC 3339 date-time: " + std::string(s));
  // "YYYY-MM-DDTHH:MM:SS.mmmZ"
  const std::string& v = *n;
  auto num = [&](std::size_t pos, std::size_t len) { return std::stoi(v.substr(pos, len)); };
  const std::chrono::year_month_day ymd{std::chrono::year(num(0, 4)),
                                        std::chrono::month(static_cast<unsigned>(num(5, 2))),
                                        std::chrono::day(static_cast<unsigned>(num(8, 2)))};
  return std::chrono::sys_days(ymd) + std::chrono::hours(num(11, 2)) +
         std::chrono::minutes(num(14, 2)) + std::chrono::seconds(num(17, 2)) +
         std::chrono::milliseconds(num(20, 3));
}

// ---- the table ------------------------------------------------------------------------------

machine::machine(std::string_view table_json, routing::policy p) : policy_(p) {
  rapidjson::Document d;
  schemas::json_error err;
  if (!schemas::parse_json(table_json, d, {}, err))
    throw std::runtime_error("transition table: " + err.message);
  const Value* rows = find(d, "rows");
  if (rows == nullptr || !rows->IsArray()) throw std::runtime_error("transition table: no rows");
  static constexpr std::array states = {
      "filed",       "rejected",         "negotiation", "platform-review", "mediation",
      "arbitration", "outcome-notified", "closed",      "withdrawn",       "archived"};
  static constexpr std::array effects = {"none",    "acceptance", "response", "settle",
                                         "outcome", "award",      "escalate", "appeal",
                                         "confirm", "close",      "withdraw", "appointment"};
  for (rapidjson::SizeType i = 0; i < rows->Size(); ++i) {
    const Value& row = (*rows)[i];
    const std::string where = "transition table /rows/" + std::to_string(i);
    rule r;
    r.state = std::string(text(row, "state"));
    r.type = std::string(text(row, "type"));
    r.effect = std::string(text(row, "effect"));
    r.clause = std::string(text(row, "clause"));
    if (std::find(states.begin(), states.end(), r.state) == states.end())
      throw std::runtime_error(where + ": unknown state '" + r.state + "'");
    if (std::find(effects.begin(), effects.end(), r.effect) == effects.end())
      throw std::runtime_error(where + ": unknown effect '" + r.effect + "'");
    if (r.type.empty() || r.clause.empty())
      throw std::runtime_error(where + ": every row names a type and cites a clause");
    const Value* by = find(row, "by");
    if (by == nullptr || !by->IsArray() || by->Empty())
      throw std::runtime_error(where + ": 'by' lists the roles that may send it");
    for (const auto& b : by->GetArray()) {
      if (!b.IsString()) throw std::runtime_error(where + ": roles are strings");
      r.by.emplace_back(b.GetString());
    }
    for (const auto& other : rules_)
      if (other.state == r.state && other.type == r.type)
        throw std::runtime_error(where + ": a second row for " + r.state + " / " + r.type);
    rules_.push_back(std::move(r));
  }
}

const machine& machine::builtin() {
  static const machine m(embedded::gateway::find("transitions.json"));
  return m;
}

std::vector<std::string> machine::allowed_in(std::string_view state) const {
  std::vector<std::string> out;
  for (const auto& r : rules_) {
    if (r.state != state) continue;
    std::string by;
    for (const auto& b : r.by) by += (by.empty() ? "" : ", ") + b;
    out.push_back(r.type + " (by " + by + ")");
  }
  return out;
}

std::string machine::next_due(const case_status& c) {
  std::string due;
  for (const auto& d : c.deadlines)
    if (due.empty() || d.due_at < due) due = d.due_at;
  return due;
}

// ---- transitions ------------------------------------------------------------------------------

decision machine::open(std::string_view case_id, const rapidjson::Value& application,
                       clock::time_point now) const {
  decision out;
  out.next.case_id = std::string(case_id);
  case_status& c = out.next;
  const Value& p = payload_of(application);
  c.tier = std::string(text(p, "tier"));
  c.merchant_kind = std::string(text(p, "merchantKind"));
  c.complainant_arbitration = flag(find(p, "consents"), "arbitrationAgreement");
  // Routes (ODR-SI 6.2.5): T0 is an independent website's own desk, T1 a platform's.
  if (c.tier == "T0" && c.merchant_kind != "independent-website") {
    out.refusal =
        "tier T0 (merchant-internal) is for independent-website merchants; this "
        "merchant is " +
        c.merchant_kind + " (file at T1 or T3)";
    return out;
  }
  if (c.tier == "T1" && c.merchant_kind == "independent-website") {
    out.refusal =
        "tier T1 (platform-internal) needs a platform; an independent-website merchant "
        "is heard at T0 or T3";
    return out;
  }
  if (tier_number(c.tier) < 0) {
    out.refusal = "the application names no entry tier";
    return out;
  }
  out.allowed = true;
  c.state = "filed";
  builder b(c, out.events);
  b.stage_changed("", "", "case-filed", format_time(now), text(application, "messageId"));
  b.set("acceptance-decision", "application-received", now, policy_.acceptance_decision_days,
        source_for(policy_.acceptance_decision_days, defaults.acceptance_decision_days,
                   "cn-regulator-practice"),
        "market-regulator practice: 7 days");
  return out;
}

decision machine::apply(const case_status& current, const rapidjson::Value& message,
                        clock::time_point now) const {
  decision out;
  out.next = current;
  case_status& c = out.next;
  const std::string_view type = text(message, "messageType");
  const Value* sender = find(message, "sender");
  const std::string_view role = sender != nullptr ? text(*sender, "role") : std::string_view();
  const std::string_view message_id = text(message, "messageId");
  const Value& p = payload_of(message);

  const rule* row = nullptr;
  for (const auto& r : rules_)
    if (r.state == c.state && r.type == type) row = &r;
  auto refuse = [&](std::string why) {
    out.allowed = false;
    out.refusal = std::move(why);
    out.allowed_now = allowed_in(current.state);
    out.next = current;
    out.events.clear();
    return std::move(out);
  };
  if (row == nullptr)
    return refuse(std::string(type) + " is not allowed while the case is " + current.state);
  if (!may_send(*row, c.tier, role)) {
    std::string by;
    for (const auto& r : row->by) by += (by.empty() ? "" : " or ") + r;
    return refuse(std::string(type) + " in state " + current.state + " comes from " + by +
                  ", not from a " + std::string(role) + " at tier " + c.tier + " (" + row->clause +
                  ")");
  }
  out.row = row;
  builder b(c, out.events);
  const std::string at = format_time(now);

  if (row->effect == "none" || row->effect == "confirm") {
    // Recorded with the case; the state does not change.
  } else if (row->effect == "acceptance") {
    const std::string from = c.state;
    b.cancel({"acceptance-decision"});
    if (text(p, "decision") == "accepted") {
      c.state = working_state(c.tier);
      b.stage_changed(c.tier, from, "accepted", at, message_id);
      start_stage_timers(b, c, policy_, now);
    } else {
      c.state = "rejected";
      c.last_outcome = "rejected";
      c.last_outcome_tier = c.tier;
      b.stage_changed(c.tier, from, "rejected", at, message_id);
    }
  } else if (row->effect == "response") {
    c.respondent_arbitration =
        c.respondent_arbitration || flag(find(p, "consents"), "arbitrationAgreement");
    b.cancel({"respondent-response"});
  } else if (row->effect == "settle") {
    // The stage's clock stops; the forum notifies the settled outcome.
    b.cancel({"negotiation", "respondent-response", "platform-review", "mediation",
              "arbitration-final-submissions", "arbitration-award"});
  } else if (row->effect == "outcome" || row->effect == "award") {
    const bool award = row->effect == "award";
    std::string appeal_to = award ? "" : std::string(text(p, "appealTo"));
    const std::string route_appeal = appeal_target(c, c.tier);
    if (!appeal_to.empty() && appeal_to != route_appeal)
      return refuse("appealTo " + appeal_to + " is not on this case's route (an appeal from " +
                    c.tier + " goes to " + (route_appeal.empty() ? "no ODR tier" : route_appeal) +
                    "; ODR-SI 6.2.5)");
    if (!award && appeal_to.empty()) appeal_to = route_appeal;
    auto closes = now + std::chrono::days(policy_.appeal_window_days);
    if (const Value* w = find(p, "appealWindow"); w != nullptr && !text(*w, "closesAt").empty())
      closes = parse_time(text(*w, "closesAt"));
    notify_outcome(b, c, policy_, text(p, "outcome"), appeal_to, now, closes, false,
                   "outcome-notified", message_id);
  } else if (row->effect == "escalate") {
    const std::string from_tier(text(p, "fromTier")), to_tier(text(p, "toTier"));
    const std::string here = c.state == "outcome-notified" ? c.last_outcome_tier : c.tier;
    if (from_tier != here)
      return refuse("fromTier " + from_tier + " is not the case's tier " + here);
    const auto targets = escalation_targets(c, here);
    if (std::find(targets.begin(), targets.end(), to_tier) == targets.end())
      return refuse("escalation from " + here + " goes to " +
                    (targets.empty() ? std::string("no further tier") : targets.front()) +
                    ", not " + to_tier + " (ODR-SI 6.2.5)");
    if (flag(&p, "arbitrationAgreement")) {
      // The requester's own consent to arbitration (ODR-SI 5.3).
      (text(p, "requestedBy") == "consumer" ? c.complainant_arbitration
                                            : c.respondent_arbitration) = true;
    }
    if (to_tier == "T5" && !c.arbitration_eligible())
      return refuse(
          "arbitration (T5) needs both parties' arbitration agreement (ODR-SI 5.3; "
          "v1 Consents.arbitrationAgreement)");
    // T0/T1/T2 -> T3 changes forum; T1 -> T2 and T3 -> T4 -> T5 stay with the same forum.
    const bool new_forum = to_tier == "T3";
    move_to_tier(b, c, policy_, to_tier, "escalation-requested", now, message_id, new_forum);
  } else if (row->effect == "appeal") {
    const std::string to_tier(text(p, "toTier"));
    const std::string allowed = current.state == "rejected"
                                    ? appeal_target(c, c.tier)
                                    : (c.appeal_to.empty() ? std::string() : c.appeal_to);
    if (allowed.empty())
      return refuse("no appeal lies from this outcome at " + c.last_outcome_tier +
                    " within ODR (ODR-SI 6.2.5)");
    if (to_tier != allowed)
      return refuse("an appeal from " + c.tier + " goes to " + allowed + ", not " + to_tier +
                    " (ODR-SI 6.2.5)");
    if (flag(find(p, "consents"), "arbitrationAgreement")) {
      (text(p, "appellant") == "consumer" ? c.complainant_arbitration : c.respondent_arbitration) =
          true;
    }
    move_to_tier(b, c, policy_, to_tier, "appeal-filed", now, message_id, true);
  } else if (row->effect == "appointment") {
    b.cancel({"mediation"});
    clock::time_point basis = now;
    if (!text(p, "appointedAt").empty()) basis = parse_time(text(p, "appointedAt"));
    b.set("mediation", "appointment-notified", basis, policy_.mediation_days,
          source_for(policy_.mediation_days, defaults.mediation_days, "apec-mpr"),
          "APEC MPR art. 7(1): 10 days after the appointment is notified");
  } else if (row->effect == "close" || row->effect == "withdraw") {
    const std::string from = c.state;
    b.cancel();
    c.state = row->effect == "close" ? "closed" : "withdrawn";
    if (row->effect == "withdraw") {
      c.last_outcome = "withdrawn";
      c.last_outcome_tier = c.tier;
    }
    b.stage_changed(c.tier, from, row->effect == "close" ? "closed" : "withdrawn", at, message_id);
  }
  out.allowed = true;
  return out;
}

decision machine::expire(const case_status& current, clock::time_point now) const {
  decision out;
  out.allowed = true;
  out.next = current;
  case_status& c = out.next;
  builder b(c, out.events);
  const std::string now_text = format_time(now);
  for (;;) {
    auto due =
        std::min_element(c.deadlines.begin(), c.deadlines.end(),
                         [](const deadline& x, const deadline& y) { return x.due_at < y.due_at; });
    if (due == c.deadlines.end() || due->due_at > now_text) break;
    const deadline t = *due;
    c.deadlines.erase(due);
    const auto at = parse_time(t.due_at);
    if (t.kind == "negotiation" || t.kind == "platform-review" ||
        (t.kind == "mediation" && !c.arbitration_eligible())) {
      // The stage lapsed: an outcome notification with an appeal window (ODR-SI 6.2.5).
      b.notice(t, "expired", "outcome-lapsed");
      notify_outcome(b, c, policy_, "lapsed", appeal_target(c, c.tier), at,
                     at + std::chrono::days(policy_.appeal_window_days), true, "deadline-expired",
                     {});
    } else if (t.kind == "mediation") {
      // Mediation lapsed and both parties agreed to arbitration: on to T5 (APEC MPR art. 7(3)).
      b.notice(t, "expired", "escalated");
      move_to_tier(b, c, policy_, "T5", "deadline-expired", at, {}, false);
    } else if (t.kind == "arbitration-final-submissions") {
      b.notice(t, "expired", "none");
      b.set("arbitration-award", "final-submissions-closed", at, policy_.arbitration_award_days,
            source_for(policy_.arbitration_award_days, defaults.arbitration_award_days, "apec-mpr"),
            "APEC MPR art. 8(7)");
    } else if (t.kind == "appeal-window") {
      // No appeal: the outcome stands, the case is closed (ODR-SI 6.2.6).
      b.notice(t, "expired", "case-closed");
      const std::string from = c.state;
      b.cancel();
      c.state = "closed";
      b.closure(t.due_at);
      b.stage_changed(c.tier, from, "appeal-window-closed", t.due_at);
    } else {
      // acceptance-decision, respondent-response, arbitration-award: the late side is told; the
      // parties keep their rights (withdrawal, escalation where the route allows).
      b.notice(t, "expired", "none");
    }
  }
  return out;
}

// ---- persistence ------------------------------------------------------------------------------

std::string case_status::to_json() const {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto str = [&](const std::string& s) {
    return Value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a);
  };
  d.AddMember("caseId", str(case_id), a);
  d.AddMember("state", str(state), a);
  d.AddMember("tier", str(tier), a);
  d.AddMember("merchantKind", str(merchant_kind), a);
  d.AddMember("complainantArbitration", complainant_arbitration, a);
  d.AddMember("respondentArbitration", respondent_arbitration, a);
  d.AddMember("proceeding", proceeding, a);
  d.AddMember("lastOutcome", str(last_outcome), a);
  d.AddMember("lastOutcomeTier", str(last_outcome_tier), a);
  d.AddMember("appealTo", str(appeal_to), a);
  Value ds(rapidjson::kArrayType);
  for (const auto& t : deadlines) {
    Value o(rapidjson::kObjectType);
    o.AddMember("id", str(t.id), a);
    o.AddMember("kind", str(t.kind), a);
    o.AddMember("basisEvent", str(t.basis_event), a);
    o.AddMember("basisAt", str(t.basis_at), a);
    o.AddMember("durationDays", t.duration_days, a);
    o.AddMember("dueAt", str(t.due_at), a);
    o.AddMember("source", str(t.source), a);
    o.AddMember("sourceClause", str(t.source_clause), a);
    o.AddMember("extensions", t.extensions, a);
    ds.PushBack(o, a);
  }
  d.AddMember("deadlines", ds, a);
  d.AddMember("nextDeadline", next_deadline, a);
  d.AddMember("nextEvent", next_event, a);
  return schemas::to_json_string(d);
}

case_status case_status::from_json(std::string_view json) {
  rapidjson::Document d;
  schemas::json_error err;
  if (!schemas::parse_json(json, d, {}, err) || !d.IsObject())
    throw std::runtime_error("case status: not a JSON object");
  auto s = [&](const Value& v, std::string_view name) {
    const Value* m = find(v, name);
    if (m == nullptr || !m->IsString())
      throw std::runtime_error("case status: " + std::string(name) + " missing");
    return std::string(m->GetString(), m->GetStringLength());
  };
  auto i = [&](const Value& v, std::string_view name) -> std::int64_t {
    const Value* m = find(v, name);
    if (m == nullptr || !m->IsInt64())
      throw std::runtime_error("case status: " + std::string(name) + " missing");
    return m->GetInt64();
  };
  auto b = [&](std::string_view name) {
    const Value* m = find(d, name);
    if (m == nullptr || !m->IsBool())
      throw std::runtime_error("case status: " + std::string(name) + " missing");
    return m->GetBool();
  };
  case_status c;
  c.case_id = s(d, "caseId");
  c.state = s(d, "state");
  c.tier = s(d, "tier");
  c.merchant_kind = s(d, "merchantKind");
  c.complainant_arbitration = b("complainantArbitration");
  c.respondent_arbitration = b("respondentArbitration");
  c.proceeding = static_cast<int>(i(d, "proceeding"));
  c.last_outcome = s(d, "lastOutcome");
  c.last_outcome_tier = s(d, "lastOutcomeTier");
  c.appeal_to = s(d, "appealTo");
  const Value* ds = find(d, "deadlines");
  if (ds == nullptr || !ds->IsArray()) throw std::runtime_error("case status: deadlines missing");
  for (const auto& o : ds->GetArray()) {
    deadline t;
    t.id = s(o, "id");
    t.kind = s(o, "kind");
    t.basis_event = s(o, "basisEvent");
    t.basis_at = s(o, "basisAt");
    t.duration_days = static_cast<int>(i(o, "durationDays"));
    t.due_at = s(o, "dueAt");
    t.source = s(o, "source");
    t.source_clause = s(o, "sourceClause");
    t.extensions = static_cast<int>(i(o, "extensions"));
    c.deadlines.push_back(std::move(t));
  }
  c.next_deadline = static_cast<int>(i(d, "nextDeadline"));
  c.next_event = i(d, "nextEvent");
  return c;
}

}  // namespace odrgw::gateway::routing
