// odrgw callback sign|verify: the signed-callback scheme (docs/callbacks.md) as commands, so a
// partner can check what the gateway sends it, and test its own verifier against ours.
#include <ctime>
#include <iostream>

#include <odrgw/gateway/callback.hpp>

#include "cli_common.hpp"

namespace odrgw::tools {
namespace {

struct callback_args {
  std::string secret_file;
  std::string header;
  std::string input = "-";
  std::int64_t tolerance = 300;
  std::int64_t now = -1;
  std::int64_t timestamp = -1;
};

std::optional<std::string> secret_of(const callback_args& a) {
  auto s = read_input(a.secret_file, 4096);
  if (!s) return std::nullopt;
  while (!s->empty() && (s->back() == '\n' || s->back() == '\r')) s->pop_back();
  if (s->empty()) {
    std::cerr << "odrgw callback: the secret file " << a.secret_file << " is empty\n";
    return std::nullopt;
  }
  return s;
}

std::string_view header_value(std::string_view h) {
  // Accepts the bare value or the whole header line "ODR-Signature: t=...".
  if (h.size() > gateway::signature_header.size() &&
      h.substr(0, gateway::signature_header.size()) == gateway::signature_header &&
      h[gateway::signature_header.size()] == ':')
    h.remove_prefix(gateway::signature_header.size() + 1);
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  return h;
}

}  // namespace

command add_callback(CLI::App& root, const global_options&) {
  auto args = std::make_shared<callback_args>();
  CLI::App* app = root.add_subcommand(
      "callback", "Sign and verify callbacks (ODR-Signature: t=<unix s>,v1=<HMAC-SHA256 hex>)");
  app->require_subcommand(1);
  CLI::App* verify = app->add_subcommand(
      "verify",
      "Verify a received callback: the signature over the exact body bytes, and the timestamp\n"
      "within --tolerance seconds of now (older is a replay). Exit status: 0 valid, 1 not valid\n"
      "(the reason on stderr), 2 usage or I/O error.");
  verify->add_option("--secret-file", args->secret_file, "The shared secret")->required();
  verify
      ->add_option("--signature", args->header,
                   "The ODR-Signature header (its value, or the whole line)")
      ->required();
  verify->add_option("--tolerance", args->tolerance, "Replay window in seconds (default 300)")
      ->check(CLI::NonNegativeNumber);
  verify->add_option("--now", args->now, "Check as of this unix time (default: the clock)");
  verify->add_option("body", args->input, "The body as received; - reads standard input");
  CLI::App* sign = app->add_subcommand(
      "sign", "Print the ODR-Signature header value for a body (what the gateway sends)");
  sign->add_option("--secret-file", args->secret_file, "The shared secret")->required();
  sign->add_option("--timestamp", args->timestamp, "Unix time to sign at (default: now)");
  sign->add_option("body", args->input, "The body; - reads standard input");

  return {app, [args, sign] {
            const auto secret = secret_of(*args);
            if (!secret) return exit_usage;
            const auto body = read_input(args->input, 16u << 20);
            if (!body) return exit_usage;
            const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
            if (sign->parsed()) {
              std::cout << gateway::sign_callback(
                               *secret, args->timestamp >= 0 ? args->timestamp : now, *body)
                        << "\n";
              return exit_ok;
            }
            const auto c =
                gateway::verify_callback(*secret, header_value(args->header), *body,
                                         args->now >= 0 ? args->now : now, args->tolerance);
            (c.verdict == gateway::callback_verdict::valid ? std::cout : std::cerr)
                << gateway::to_string(c.verdict) << ": " << c.detail << "\n";
            return c.verdict == gateway::callback_verdict::valid ? exit_ok : exit_invalid;
          }};
}

}  // namespace odrgw::tools
