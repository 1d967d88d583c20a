#pragma once
// `odrgw mock-provider`: a real HTTP server that behaves like an external ODR provider. It accepts
// canonical v1 messages (JSON or XML) with receipts, de-duplicates by messageId, and after a delay
// sends results back to the gateway as an odr-provider partner: an acceptance for an application
// or appeal, a neutral's appointment and a proposal for an escalation to mediation (T4), an award
// for arbitration (T5). Modes make it misbehave on purpose, for tests and conformance suites.
#include <chrono>
#include <memory>
#include <string>

#include <odrgw/schemas/validator.hpp>

namespace odrgw::conformance {

enum class mock_mode {
  conforming,         // as above
  reject_all,         // every message: 422 problem+json
  slow,               // answers after `slow` (beyond a sender's timeout)
  flaky,              // a share (`fail_rate`) of requests: 503 problem+json, nothing kept
  duplicate_results,  // every result is sent twice with the same messageId
  invalid_results,    // results that break the v1 schema (the gateway must refuse them)
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
};

class mock_provider {
 public:
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
