#pragma once
// The gateway's case logic (docs/routing.md, "In the gateway"): the state machine, the provider
// routing rules and the delivery plan, run by storage inside the transaction that stores a message
// or fires a case's timers. It decides
//   - whether the case's state allows the message (else a 409 listing what it allows);
//   - the case's next status and timers, and the gateway's own messages (stage.changed,
//     deadline.notice, outcome.notification of a lapse, case.closure), as complete v1 messages;
//   - which external provider the case goes to when it reaches T3-T5 (audited with the rule);
//   - who receives what: a party's message goes to the case's provider once the case is external,
//     a provider's result to the partner that filed the case, the gateway's messages to both;
//     only to partners with a callback_url whose dialect can express the message.
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <odrgw/gateway/routing.hpp>
#include <odrgw/gateway/storage.hpp>

namespace odrgw::adapters {
class registry;
}  // namespace odrgw::adapters
namespace odrgw::schemas {
class schema_set;
}  // namespace odrgw::schemas

namespace odrgw::gateway {

struct config;
class pii_key;

inline constexpr std::string_view gateway_party_id = "odrgw";

struct case_logic_options {
  const config* cfg = nullptr;                     // partners, routing rules, deadlines
  std::shared_ptr<const schemas::schema_set> set;  // to seal the gateway's messages
  const adapters::registry* adapters = nullptr;    // what each recipient's dialect expresses
  const pii_key* key = nullptr;
  // The clock the state machine runs on; default the system clock.
  std::function<std::chrono::system_clock::time_point()> clock;
};

// Everything in `opts` must outlive the logic.
std::shared_ptr<const case_logic> make_case_logic(case_logic_options opts);

// A clock that runs `scale` times faster than the system clock from the moment it is made
// (routing.clock_scale: demos and tests run days of deadlines in seconds). scale 1: the system
// clock itself.
std::function<std::chrono::system_clock::time_point()> scaled_clock(double scale);

}  // namespace odrgw::gateway
