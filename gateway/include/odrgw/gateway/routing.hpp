#pragma once
// The case state machine (docs/routing.md): tiers T0-T5, routes by merchant kind, negotiation
// first (ODR-SI 5.4), voluntariness (5.3), deadlines. Pure and synchronous: a case's status and
// a message (or the time) in; the next status, the events the gateway must emit, or a refusal
// listing what the state allows, out. The clock is a parameter, so a test drives a whole case
// through every deadline in milliseconds; the status serialises to JSON so timers survive a
// restart with the case.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <odrgw/schemas/json.hpp>

namespace odrgw::gateway::routing {

using clock = std::chrono::system_clock;

// One transition table row (gateway/routing/transitions.json).
struct rule {
  std::string state;            // v1 CaseState the case is in
  std::string type;             // v1 messageType that may arrive
  std::vector<std::string> by;  // v1 roles, or "party" / "forum"
  std::string effect;           // what it does (routing.cpp)
  std::string clause;           // the clause the row rests on
};

// A timer kept with the case (DeadlineNotice fields).
struct deadline {
  std::string id;    // "<caseId>-D<n>"
  std::string kind;  // acceptance-decision | negotiation | ... (v1 DeadlineNotice.deadlineKind)
  std::string basis_event;  // application-received | acceptance-notified | ...
  std::string basis_at;     // RFC 3339, UTC, ms
  int duration_days = 0;
  std::string due_at;  // RFC 3339, UTC, ms: these strings order as the instants do
  std::string source;  // apec-mpr | design-default | ...
  std::string source_clause;
  int extensions = 0;
};

// The default durations (DESIGN.md §3); each configurable.
struct policy {
  int acceptance_decision_days = 7;       // cn-regulator-practice
  int respondent_response_days = 7;       // uncitral-draft-rules
  int negotiation_days = 10;              // apec-mpr
  int platform_review_days = 10;          // design-default
  int mediation_days = 10;                // apec-mpr, after the neutral's appointment is notified
  int arbitration_submissions_days = 10;  // apec-mpr
  int arbitration_award_days = 10;        // apec-mpr
  int appeal_window_days = 10;            // design-default
};

// Everything the machine needs to know about a case.
struct case_status {
  std::string case_id;
  std::string state = "filed";  // v1 CaseState
  std::string tier;             // the current tier, T0-T5
  std::string merchant_kind;    // independent-website | platform-operator | platform-merchant
  bool complainant_arbitration = false;  // consents.arbitrationAgreement of each side
  bool respondent_arbitration = false;
  int proceeding = 1;        // proceeding number: "<caseId>-P<n>"
  std::string last_outcome;  // of the last outcome notified
  std::string last_outcome_tier;
  std::string appeal_to;            // the tier an appeal may go to now; "" none
  std::vector<deadline> deadlines;  // the active timers, in creation order
  int next_deadline = 1;
  std::int64_t next_event = 1;  // numbers the events the gateway emits for this case

  bool arbitration_eligible() const noexcept {
    return complainant_arbitration && respondent_arbitration;
  }
  std::string proceeding_id() const { return case_id + "-P" + std::to_string(proceeding); }
  std::string to_json() const;
  // Throws std::runtime_error on anything to_json would not have written.
  static case_status from_json(std::string_view json);
};

// Something the gateway emits because of a transition or a timer: a v1 message of the gateway
// (stage.changed, deadline.notice, outcome.notification, case.closure), its payload complete.
struct event {
  std::string message_type;
  std::string event_id;  // "<caseId>-E<n>": stable, so a replayed expiry emits the same ids
  rapidjson::Document payload;
};

struct decision {
  bool allowed = false;
  const rule* row = nullptr;             // the row that allowed it
  std::string refusal;                   // why not (when !allowed)
  std::vector<std::string> allowed_now;  // "type (by roles)" the state allows, for the 409
  case_status next;
  std::vector<event> events;
};

class machine {
 public:
  // The table compiled into the binary.
  static const machine& builtin();
  // A table from JSON text; throws std::runtime_error naming the row.
  explicit machine(std::string_view table_json, policy p = {});

  const std::vector<rule>& rules() const noexcept { return rules_; }
  const routing::policy& policy() const noexcept { return policy_; }

  // A new case from its dispute.application (already valid v1). The result is allowed unless
  // the application breaks a routing rule (an entry tier its merchant kind cannot use).
  decision open(std::string_view case_id, const rapidjson::Value& application,
                clock::time_point now) const;
  // A message on an existing case (already valid v1; its sender is authenticated).
  decision apply(const case_status& current, const rapidjson::Value& message,
                 clock::time_point now) const;
  // Fires every timer due at or before `now`, in due order, applying each one's rule.
  decision expire(const case_status& current, clock::time_point now) const;
  // When the next timer is due (empty: none).
  static std::string next_due(const case_status& c);

  // "type (by roles)" for every row of `state`.
  std::vector<std::string> allowed_in(std::string_view state) const;

 private:
  std::vector<rule> rules_;
  routing::policy policy_;
};

// "T0".."T5" -> 0..5; -1 for anything else.
int tier_number(std::string_view tier) noexcept;

// RFC 3339 helpers on the canonical "YYYY-MM-DDTHH:MM:SS.mmmZ" form.
std::string format_time(clock::time_point t);
// Any RFC 3339 date-time (or date); throws std::invalid_argument.
clock::time_point parse_time(std::string_view s);

}  // namespace odrgw::gateway::routing
