// odrgw conformance run | list | verify-cert: the conformance suites' front end.
#include <filesystem>
#include <fstream>
#include <iostream>

#include <odrgw/conformance/certificate.hpp>
#include <odrgw/conformance/report.hpp>
#include <odrgw/conformance/suite.hpp>
#include <odrgw/gateway/routing.hpp>

#include "cli_common.hpp"

namespace odrgw::tools {
namespace {

namespace fs = std::filesystem;

struct conformance_args {
  CLI::App* run = nullptr;
  CLI::App* list = nullptr;
  CLI::App* verify = nullptr;
  // run
  std::string suite, target, token, token_file, claims_file, report_dir, results_listen, sign_key,
      ca_file, secret_file;
  std::vector<std::string> cases;
  unsigned time_bound_ms = 0;
  unsigned timeout_ms = 10000;
  // list
  std::string list_suite;
  // verify-cert
  std::string cert_file, pubkey;
};

std::optional<std::string> read_text(const std::string& path, const char* what) {
  auto t = read_input(path, 1u << 20);
  if (t && t->size() > (1u << 20)) {
    std::cerr << "odrgw conformance: " << what << " " << path << " is too big\n";
    return std::nullopt;
  }
  return t;
}

bool write_file(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
  out.close();
  if (!out) std::cerr << "odrgw conformance: cannot write " << p.string() << "\n";
  return static_cast<bool>(out);
}

int run_run(const conformance_args& a, const global_options& g) {
  conformance::run_options o;
  conformance::suite_def suite;
  try {
    suite = conformance::load_suite(a.suite);
    if (!a.claims_file.empty()) {
      auto text = read_text(a.claims_file, "claims file");
      if (!text) return exit_usage;
      o.claimed = conformance::parse_claims(*text);
    }
  } catch (const std::exception& e) {
    std::cerr << "odrgw conformance run: " << e.what() << "\n";
    return exit_usage;
  }
  if (!a.sign_key.empty() && !a.cases.empty()) {
    // A certificate speaks for the whole suite, never for a chosen subset of it.
    std::cerr << "odrgw conformance run: --sign-key needs the whole suite (no --case)\n";
    return exit_usage;
  }
  o.target = a.target;
  o.token = a.token;
  if (!a.token_file.empty()) {
    auto t = read_secret(a.token_file, "odrgw conformance run", "token file");
    if (!t) return exit_usage;
    o.token = *t;
  }
  if (!a.secret_file.empty()) {
    auto t = read_secret(a.secret_file, "odrgw conformance run", "secret file");
    if (!t) return exit_usage;
    o.secret = *t;
  }
  o.only_cases = a.cases;
  if (a.time_bound_ms) o.time_bound = std::chrono::milliseconds(a.time_bound_ms);
  o.request_timeout = std::chrono::milliseconds(a.timeout_ms);
  o.results_listen = a.results_listen;
  o.ca_file = a.ca_file;
  o.progress = [](const std::string& line) { std::cerr << line << std::endl; };
  std::string key_pem;
  if (!a.sign_key.empty()) {
    auto k = read_text(a.sign_key, "key file");
    if (!k) return exit_usage;
    key_pem = *k;
  }
  std::error_code ec;
  fs::create_directories(a.report_dir, ec);
  if (ec) {
    std::cerr << "odrgw conformance run: cannot create " << a.report_dir << ": " << ec.message()
              << "\n";
    return exit_usage;
  }
  std::cerr << "odrgw conformance: suite " << suite.id << " " << suite.version << " against "
            << o.target << "\n";
  conformance::run_result r;
  try {
    r = conformance::run_suite(suite, o, load_schema_set(g));
  } catch (const std::exception& e) {
    std::cerr << "odrgw conformance run: " << e.what() << "\n";
    return exit_usage;
  }
  const fs::path dir(a.report_dir);
  if (!write_file(dir / "report.json", conformance::json_report(r)) ||
      !write_file(dir / "junit.xml", conformance::junit_report(r)) ||
      !write_file(dir / "report.html", conformance::html_report(r)))
    return exit_usage;
  const bool ok = r.mandatory_passed();
  std::cerr << "odrgw conformance: " << r.count(conformance::case_status::passed) << " passed, "
            << r.count(conformance::case_status::failed) << " failed, "
            << r.count(conformance::case_status::skipped) << " skipped, "
            << r.count(conformance::case_status::not_applicable) << " not applicable; "
            << (ok ? "every mandatory case passed" : "NOT conforming") << "; reports in "
            << dir.string() << "\n";
  if (!key_pem.empty()) {
    if (!ok) {
      std::cerr << "odrgw conformance: no certificate (a mandatory case did not pass)\n";
    } else {
      try {
        const auto cert = conformance::make_certificate(
            r, key_pem, gateway::routing::format_time(gateway::routing::clock::now()),
            ODRGW_VERSION);
        if (!write_file(dir / "certificate.json", cert)) return exit_usage;
        std::cerr << "odrgw conformance: certificate " << (dir / "certificate.json").string()
                  << "\n";
      } catch (const std::exception& e) {
        std::cerr << "odrgw conformance run: " << e.what() << "\n";
        return exit_usage;
      }
    }
  }
  return ok ? exit_ok : exit_invalid;
}

int run_list(const conformance_args& a) {
  try {
    for (const auto& id : conformance::suite_ids()) {
      if (!a.list_suite.empty() && a.list_suite != id) continue;
      const auto s = conformance::load_suite(id);
      std::cout << s.id << " " << s.version << " (v1 spec " << s.spec_version << "): " << s.title
                << "\n";
      for (const auto& c : s.cases)
        std::cout << "  " << c.id << "  [" << c.requirement << ", " << c.severity << "]  "
                  << c.title << "\n";
    }
    if (!a.list_suite.empty()) (void)conformance::load_suite(a.list_suite);  // unknown: say so
  } catch (const std::exception& e) {
    std::cerr << "odrgw conformance list: " << e.what() << "\n";
    return exit_usage;
  }
  return exit_ok;
}

int run_verify(const conformance_args& a) {
  auto cert = read_text(a.cert_file, "certificate");
  auto key = read_text(a.pubkey, "public key");
  if (!cert || !key) return exit_usage;
  const auto v = conformance::verify_certificate(*cert, *key);
  if (!v.ok) {
    std::cerr << "odrgw conformance verify-cert: " << a.cert_file << ": INVALID: " << v.reason
              << "\n";
    return exit_invalid;
  }
  std::cout << a.cert_file << ": valid signature\n";
  return exit_ok;
}

}  // namespace

command add_conformance(CLI::App& root, const global_options& g) {
  auto args = std::make_shared<conformance_args>();
  CLI::App* app = root.add_subcommand(
      "conformance",
      "Conformance suites: run one against a target (JUnit XML, JSON and HTML reports, and with\n"
      "--sign-key a signed certificate when every mandatory case passed), list the suites and\n"
      "their cases, verify a certificate. See docs/conformance.md.");
  app->require_subcommand(1);
  auto* run = app->add_subcommand(
      "run",
      "Run a suite against a target. Exit 0: every mandatory case passed; 1: not; 2: usage.");
  run->add_option("--suite", args->suite, "The suite (odrgw conformance list)")->required();
  run->add_option("--target", args->target,
                  "The endpoint URL messages are POSTed to (platform: the callback URL; messages: "
                  "a directory)")
      ->required();
  run->add_option("--token", args->token, "Bearer token for the target");
  run->add_option("--token-file", args->token_file, "Read the bearer token from this file");
  run->add_option("--claims", args->claims_file,
                  "YAML or JSON: messageTypes, procedures, sendsResults, verifiesSignatures, "
                  "partyId");
  run->add_option("--secret-file", args->secret_file,
                  "The partner's callback secret: sign every POST with ODR-Signature "
                  "(docs/callbacks.md); needed by the verifies-signature cases");
  run->add_option("--report-dir", args->report_dir,
                  "Write junit.xml, report.json, report.html (and certificate.json) here")
      ->required();
  run->add_option("--case", args->cases, "Run only this case (repeatable)");
  run->add_option("--time-bound-ms", args->time_bound_ms, "Override the suite's time bound");
  run->add_option("--timeout-ms", args->timeout_ms, "Per-request timeout (default 10000)");
  run->add_option("--results-listen", args->results_listen,
                  "HOST:PORT where the target posts its results (the in-process receiver)");
  run->add_option("--sign-key", args->sign_key,
                  "Ed25519 private key (PEM): sign a certificate when the run passes");
  run->add_option("--ca-file", args->ca_file, "CA bundle for an https target (default: system)");
  auto* list = app->add_subcommand("list", "List the suites and their cases");
  list->add_option("--suite", args->list_suite, "Only this suite");
  auto* verify = app->add_subcommand(
      "verify-cert", "Verify a certificate's signature. Exit 0: valid; 1: invalid; 2: usage.");
  verify->add_option("file", args->cert_file, "certificate.json")->required();
  verify->add_option("--pubkey", args->pubkey, "Ed25519 public key (PEM)")->required();
  args->run = run;
  args->list = list;
  args->verify = verify;
  return {app, [args, &g] {
            if (args->run->parsed()) return run_run(*args, g);
            if (args->list->parsed()) return run_list(*args);
            return run_verify(*args);
          }};
}

}  // namespace odrgw::tools
