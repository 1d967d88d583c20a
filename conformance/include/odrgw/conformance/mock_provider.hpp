#pragma once
// `odrgw mock-provider`: a real HTTP server that behaves like an external ODR provider. It accepts
// v1 messages in its dialect (canonical JSON or XML by default, or any adapter: a mapping-file
// dialect such as provider-xml-v1) with receipts, de-duplicates by messageId, optionally checks
// the gateway's ODR-Signature, and after a delay sends results back to the gateway as an
// odr-provider partner, rendered in the same dialect, in order and retried until the gateway
// answers: an acceptance for an application or appeal, a neutral's appointment and a proposal for
// an escalation to mediation (T4), an award for arbitration (T5: an escalation or appeal to T5, or
// stage.changed into arbitration). Modes make it misbehave on purpose, for tests and suites.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <odrgw/schemas/validator.hpp>

namespace odrgw::conformance {

enum class mock_mode {
  conforming,          // as above
  reject_all,          // every message: 422 problem+json
  slow,                // answers after `slow` (beyond a sender's timeout)
  flaky,               // a share (`fail_rate`) of requests: 503 problem+json, nothing kept
  duplicate_results,   // every result is sent twice with the same messageId
  invalid_results,     // results that break the v1 schema (the gateway must refuse them)
  misordered_results,  // the results for one message in reverse order (proposal before neutral)
  other_case_results,  // results that name another caseId than the message they answer
};

// "conforming", "reject-all", ...; throws std::invalid_argument naming the modes.
mock_mode parse_mock_mode(std::string_view s);
std::string_view to_string(mock_mode m) noexcept;

struct mock_options {
  std::string listen_host = "127.0.0.1";
  unsigned short listen_port = 0;
  std::string gateway_url;  // e.g. http://127.0.0.1:8080 ; empty: results are not sent
  std::string token;        // the provider's API key at the gateway
  std::string party_id = "mock-provider";  // its partyId (as registered at the gateway)
  mock_mode mode = mock_mode::conforming;
  std::chrono::milliseconds delay{200};  // before results are sent
  std::chrono::milliseconds slow{5000};  // mode slow: before answering
  double fail_rate = 0.3;                // mode flaky
  std::string ca_file;                   // for an https gateway; empty: system CAs
  // Plays the parties on the provider's own platform too: after accepting a case at T3 it relays
  // the respondent's response agreeing to arbitration and the complainant's request for mediation
  // (T4, agreeing to arbitration), then appoints a neutral. For demos of the whole route.
  bool relay_parties = false;
  // The dialect it speaks (an adapter id). canonical-json and canonical-xml both accept either
  // canonical encoding; results go out in the dialect's own encoding.
  std::string dialect = "canonical-json";
  std::string adapter_dir;  // mapping-file dialects (DIR/<id>/dialect.yaml); empty: none
  // The gateway's callback secret: when set, every POST needs a valid ODR-Signature (else 401).
  std::string secret;
  std::int64_t signature_window_s = 300;
  // Posting a result: transport errors and 5xx are retried (same messageId) with a doubling
  // backoff, at most `retry_attempts` attempts in all.
  int retry_attempts = 12;
  std::chrono::milliseconds retry_backoff{100};
  std::chrono::milliseconds retry_backoff_max{5000};
};

class mock_provider {
 public:
  // Throws std::invalid_argument for an unknown dialect (naming the known ones) and
  // adapters::mapping_error for a broken adapter directory.
  mock_provider(mock_options opts, std::shared_ptr<const schemas::schema_set> set);
  ~mock_provider();
  mock_provider(const mock_provider&) = delete;
  mock_provider& operator=(const mock_provider&) = delete;

  // Binds the listening socket; returns "HOST:PORT" (the port it got when 0 was asked).
  std::string bind();
  // Serves until SIGINT/SIGTERM or stop(); sends pending results first when it can.
  void run();
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace odrgw::conformance
