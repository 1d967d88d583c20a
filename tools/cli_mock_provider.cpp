// odrgw mock-provider: a real HTTP server behaving like an external ODR provider.
#include <iostream>
#include <optional>

#include <odrgw/conformance/mock_provider.hpp>
#include <odrgw/gateway/config.hpp>

#include "cli_common.hpp"

namespace odrgw::tools {
namespace {

struct mock_args {
  std::string listen = "127.0.0.1:0";
  std::string gateway;
  std::string token;
  std::string token_file;
  std::string party_id = "mock-provider";
  std::string mode = "conforming";
  unsigned delay_ms = 200;
  bool relay_parties = false;
  unsigned slow_ms = 5000;
  double fail_rate = 0.3;
  std::string ca_file;
  std::string dialect = "canonical-json";
  std::string adapter_dir;
  std::string secret_file;
};

int run_mock(const mock_args& args, const global_options& g) {
  schemas::xml_init();
  conformance::mock_options o;
  try {
    const auto l = gateway::parse_listen(args.listen, "--listen");
    o.listen_host = l.host;
    o.listen_port = l.port;
    o.mode = conformance::parse_mock_mode(args.mode);
  } catch (const std::exception& e) {
    std::cerr << "odrgw mock-provider: " << e.what() << "\n";
    return exit_usage;
  }
  o.gateway_url = args.gateway;
  while (!o.gateway_url.empty() && o.gateway_url.back() == '/') o.gateway_url.pop_back();
  o.token = args.token;
  if (!args.token_file.empty()) {
    auto t = read_input(args.token_file, 4096);
    if (!t) return exit_usage;
    o.token = *t;
    while (!o.token.empty() && (o.token.back() == '\n' || o.token.back() == '\r'))
      o.token.pop_back();
  }
  if (!o.gateway_url.empty() && o.token.empty()) {
    std::cerr << "odrgw mock-provider: --gateway needs --token or --token-file (the provider's "
                 "API key at the gateway)\n";
    return exit_usage;
  }
  o.party_id = args.party_id;
  o.delay = std::chrono::milliseconds(args.delay_ms);
  o.relay_parties = args.relay_parties;
  o.slow = std::chrono::milliseconds(args.slow_ms);
  o.fail_rate = args.fail_rate;
  o.ca_file = args.ca_file;
  o.dialect = args.dialect;
  o.adapter_dir = args.adapter_dir;
  if (!args.secret_file.empty()) {
    auto s = read_secret(args.secret_file, "odrgw mock-provider", "secret file");
    if (!s) return exit_usage;
    o.secret = *s;
  }
  std::optional<conformance::mock_provider> mock;
  try {
    mock.emplace(o, load_schema_set(g));
  } catch (const std::exception& e) {  // an unknown dialect, a broken --adapter-dir
    std::cerr << "odrgw mock-provider: " << e.what() << "\n";
    return exit_usage;
  }
  try {
    const std::string where = mock->bind();
    std::cerr << "odrgw mock-provider: mode " << args.mode << ", dialect " << o.dialect
              << (o.secret.empty() ? "" : ", signatures required")
              << (o.gateway_url.empty() ? ", results are not sent (no --gateway)"
                                        : ", results go to " + o.gateway_url)
              << "\n";
    std::cout << "listening on " << where << std::endl;
    mock->run();
    return exit_ok;
  } catch (const std::exception& e) {
    std::cerr << "odrgw mock-provider: " << e.what() << "\n";
    return exit_usage;
  }
}

}  // namespace

command add_mock_provider(CLI::App& root, const global_options& g) {
  auto args = std::make_shared<mock_args>();
  CLI::App* app = root.add_subcommand(
      "mock-provider",
      "Run a mock external ODR provider: a real HTTP server that accepts canonical v1 messages\n"
      "(JSON or XML, POST to any path) with receipts (202; a repeated messageId: 200 with the\n"
      "same receipt; invalid: 422 problem+json) and, after --delay-ms, posts results to the\n"
      "gateway's /v1/messages as an odr-provider: an acceptance for an application or appeal,\n"
      "a neutral's appointment and a proposal for an escalation to T4, an award for T5.\n"
      "With --dialect it reads and answers in any adapter's dialect (mapping dialects from\n"
      "--adapter-dir); with --secret-file every POST needs a valid ODR-Signature (else 401).\n"
      "GET /mock/log shows what it received and sent. Prints `listening on HOST:PORT`.");
  app->add_option("--listen", args->listen, "HOST:PORT (default 127.0.0.1:0, any free port)");
  app->add_option("--gateway", args->gateway, "The gateway's base URL, e.g. http://127.0.0.1:8080");
  app->add_option("--token", args->token, "The provider's API key at the gateway");
  app->add_option("--token-file", args->token_file, "Read the API key from this file");
  app->add_option("--party-id", args->party_id,
                  "The provider's partner id at the gateway (default mock-provider)");
  app->add_option("--mode", args->mode,
                  "conforming | reject-all (422 to everything) | slow (answers after --slow-ms)\n"
                  "| flaky (--fail-rate of requests get 503) | duplicate-results (each result\n"
                  "sent twice, same messageId) | invalid-results (results that break v1)\n"
                  "| misordered-results (a message's results in reverse order)\n"
                  "| other-case-results (results name another caseId)");
  app->add_option("--delay-ms", args->delay_ms, "Wait before sending results (default 200)");
  app->add_option("--slow-ms", args->slow_ms, "Mode slow: answer after this long (default 5000)");
  app->add_option("--fail-rate", args->fail_rate, "Mode flaky: share of failures (default 0.3)")
      ->check(CLI::Range(0.0, 1.0));
  app->add_option("--ca-file", args->ca_file, "CA bundle for an https gateway (default: system)");
  app->add_option("--dialect", args->dialect,
                  "The dialect it speaks: an adapter id (default canonical-json; canonical-json\n"
                  "and canonical-xml both read either encoding). Results go out in it too.");
  app->add_option("--adapter-dir", args->adapter_dir,
                  "Mapping-file dialects: DIR/<id>/dialect.yaml (e.g. adapters/dialects)");
  app->add_option("--secret-file", args->secret_file,
                  "The gateway's callback secret: every POST must carry a valid ODR-Signature\n"
                  "(300 s window), else 401 problem+json naming the verdict");
  app->add_flag(
      "--relay-parties", args->relay_parties,
      "Also play the parties on the provider's platform: after accepting a case at T3,\n"
      "relay the respondent's response and the complainant's request for mediation\n"
      "(both agreeing to arbitration), then appoint a neutral (demos of the whole route)");
  return {app, [args, &g] { return run_mock(*args, g); }};
}

}  // namespace odrgw::tools
