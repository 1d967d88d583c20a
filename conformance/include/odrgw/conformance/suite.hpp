#pragma once
// Conformance suites (conformance/suites/<suite>/suite.json, embedded in the binary), the runner
// that plays them against a target, and the run's results. Report writers: report.hpp; signed
// certificates: certificate.hpp. The format is described in docs/conformance.md.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <odrgw/embedded.hpp>
#include <odrgw/schemas/validator.hpp>

namespace odrgw::embedded::conformance {
std::span<const file> files() noexcept;  // conformance/suites/** and the v1 example seeds
}  // namespace odrgw::embedded::conformance

namespace odrgw::conformance {

struct case_def {
  std::string id, title, requirement, severity;  // severity: mandatory | recommended
  std::string for_each;                          // "", claimed-type, invalid-seed, sample-file
  std::string requires_claim;                    // "", sendsResults, verifiesSignatures
  std::string requires_procedure;                // "", negotiation, mediation, arbitration
  std::string steps_json;                        // the case's steps, as written in the suite
};

struct suite_def {
  std::string id, version, spec_version, title, description;
  std::string target_kind = "http";  // http: --target is a URL; directory: a folder of messages
  std::chrono::milliseconds time_bound{2000};
  // The message types a run uses when the claims name none (platform: the results it receives).
  std::vector<std::string> default_message_types;
  std::vector<case_def> cases;
};

// The embedded suites' ids, sorted.
std::vector<std::string> suite_ids();
// Loads an embedded suite and checks it against the suite schema; throws std::runtime_error
// (unknown suite, or a suite that breaks its schema, naming the place).
suite_def load_suite(std::string_view id);
// Loads a suite from its JSON text (tests); same checks.
suite_def parse_suite(std::string_view json);

// What the target claims to support (a YAML or JSON file; see docs/conformance.md).
struct claims {
  std::vector<std::string> message_types = {"dispute.application"};
  std::vector<std::string> procedures;  // negotiation, mediation, arbitration
  bool sends_results = false;
  bool verifies_signatures = false;  // refuses requests without a valid ODR-Signature (401)
  std::string party_id = "provider-under-test";  // its partyId, written into forwarded messages
  bool types_claimed = false;  // messageTypes was in the file (else a suite's default applies)
  std::string to_json() const;
};
// Reads a claims file's text (YAML or JSON, detected by content); throws std::runtime_error.
claims parse_claims(std::string_view text);

struct run_options {
  std::string target;  // the endpoint URL messages are POSTed to (or the directory of samples)
  std::string token;   // bearer token for the target; empty: none
  claims claimed;
  std::vector<std::string> only_cases;                  // --case; empty: all
  std::optional<std::chrono::milliseconds> time_bound;  // overrides the suite's
  std::chrono::milliseconds request_timeout{10000};
  std::string results_listen;  // HOST:PORT of the in-process results receiver; empty: none
  std::string ca_file;
  // The partner's callback secret: every POST carries ODR-Signature (docs/callbacks.md) made
  // with it; empty: requests are unsigned.
  std::string secret;
  std::function<void(const std::string&)> progress;  // one line per event; may be empty
};

struct exchange_log {
  std::string step;     // action and, for expanded cases, the item (type or seed file)
  std::string request;  // excerpt
  int status = 0;
  std::string response;  // excerpt (or the transport error)
  long long elapsed_ms = 0;
};

enum class case_status { passed, failed, skipped, not_applicable };
std::string_view to_string(case_status s) noexcept;

struct case_result {
  case_def def;
  case_status status = case_status::passed;
  std::string reason;                 // skipped / not applicable: why
  std::vector<std::string> failures;  // one line per failed expectation
  std::vector<exchange_log> exchanges;
  long long elapsed_ms = 0;
};

struct run_result {
  std::string suite, suite_version, spec_version, target, started_at, finished_at;
  claims claimed;
  long long time_bound_ms = 0;
  std::vector<case_result> cases;

  std::size_t count(case_status s) const noexcept;
  // Every mandatory case passed (a mandatory case skipped for want of a receiver is not passed;
  // one not applicable to the claims does not count).
  bool mandatory_passed() const noexcept;
};

// Plays the suite against opts.target. Never throws for target failures: they are case failures.
// Throws std::runtime_error for setup errors (a receiver that cannot bind, an unknown --case, a
// directory target that is not a directory).
run_result run_suite(const suite_def& suite, const run_options& opts,
                     std::shared_ptr<const schemas::schema_set> set);

}  // namespace odrgw::conformance
