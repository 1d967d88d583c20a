// odrgw callback sign|verify: the signed-callback scheme (docs/callbacks.md) as commands, so a
// partner can check what the gateway sends it, and test its own verifier against ours.
#include <csignal>
#include <ctime>
#include <iostream>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <odrgw/gateway/callback.hpp>
#include <odrgw/gateway/config.hpp>
#include <odrgw/schemas/json.hpp>

#include "cli_common.hpp"

namespace odrgw::tools {
namespace {

struct callback_args {
  std::string listen = "127.0.0.1:0";
  std::string secret_file;
  std::string header;
  std::string input = "-";
  std::int64_t tolerance = 300;
  std::int64_t now = -1;
  std::int64_t timestamp = -1;
};

std::optional<std::string> secret_of(const callback_args& a) {
  return read_secret(a.secret_file, "odrgw callback", "secret file");
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

constexpr auto json_str = &schemas::json_quoted;

int listen_for_callbacks(const callback_args& a, const std::string& secret) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  using tcp = asio::ip::tcp;
  gateway::listen_address where;
  try {
    where = gateway::parse_listen(a.listen, "--listen");
  } catch (const std::exception& e) {
    std::cerr << "odrgw callback listen: " << e.what() << "\n";
    return exit_usage;
  }
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc);
  try {
    acceptor = tcp::acceptor(ioc, {asio::ip::make_address(where.host), where.port});
  } catch (const std::exception& e) {
    std::cerr << "odrgw callback listen: cannot listen on " << a.listen << ": " << e.what() << "\n";
    return exit_usage;
  }
  std::cout << "listening on " << where.host << ":" << acceptor.local_endpoint().port()
            << std::endl;
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { acceptor.close(); });
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      // One request at a time: a tool for trying things, not a server for load.
      boost::beast::flat_buffer buf;
      http::request_parser<http::string_body> parser;
      parser.body_limit(16u << 20);
      s.set_option(asio::socket_base::linger(true, 1));
      boost::system::error_code rec;
      http::read(s, buf, parser, rec);
      if (!rec) {
        auto& req = parser.get();
        const auto now = static_cast<std::int64_t>(std::time(nullptr));
        const auto c = gateway::verify_callback(
            secret, header_value(req[gateway::signature_header]), req.body(), now, a.tolerance);
        const bool ok = c.verdict == gateway::callback_verdict::valid;
        // A signed body that is no message gets 400, never "stored" (a receiver that answered 2xx
        // would tell the gateway it has it): JSON must be an object; an XML dialect's body
        // (application/xml, text/xml) must at least start with markup.
        const std::string_view ctype = req[http::field::content_type];
        const bool xml_body = ctype.starts_with("application/xml") || ctype.starts_with("text/xml");
        rapidjson::Document msg;
        schemas::json_error perr;
        bool is_message = false;
        if (xml_body) {
          const auto first = req.body().find_first_not_of(" \t\r\n");
          is_message = first != std::string::npos && req.body()[first] == '<';
          if (!is_message) perr.message = "an XML body must start with '<'";
        } else {
          is_message = schemas::parse_json(req.body(), msg, {}, perr) && msg.IsObject();
        }
        std::cout << "{\"verdict\":" << json_str(gateway::to_string(c.verdict))
                  << ",\"target\":" << json_str(req.target())
                  << ",\"messageId\":" << json_str(req["ODR-Message-Id"])
                  << ",\"messageType\":" << json_str(req["ODR-Message-Type"])
                  << ",\"caseId\":" << json_str(req["ODR-Case-Id"])
                  << ",\"contentType\":" << json_str(req[http::field::content_type])
                  << ",\"body\":" << json_str(req.body()) << "}" << std::endl;
        http::response<http::string_body> res{!ok          ? http::status::unauthorized
                                              : is_message ? http::status::no_content
                                                           : http::status::bad_request,
                                              req.version()};
        if (!ok) {
          res.set(http::field::content_type, "application/problem+json");
          res.body() =
              "{\"type\":\"urn:odrgw:problem:signature\",\"title\":\"Bad "
              "signature\",\"status\":401,\"detail\":" +
              json_str(c.detail) + "}";
        } else if (!is_message) {
          res.set(http::field::content_type, "application/problem+json");
          res.body() =
              "{\"type\":\"urn:odrgw:problem:malformed\",\"title\":\"Not a "
              "message\",\"status\":400,\"detail\":" +
              json_str(perr.message.empty() ? "the body is not a JSON object" : perr.message) +
              ",\"errors\":[{\"location\":\"\",\"rule\":\"malformed\",\"message\":" +
              json_str(perr.message.empty() ? "not a JSON object" : perr.message) + "}]}";
        }
        res.keep_alive(false);
        res.prepare_payload();
        http::write(s, res, rec);
      }
      s.shutdown(tcp::socket::shutdown_both, rec);
      accept();
    });
  };
  accept();
  ioc.run();
  return exit_ok;
}

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

  CLI::App* listen = app->add_subcommand(
      "listen",
      "A callback endpoint for trying the gateway: prints one JSON line per request received\n"
      "(verdict of its ODR-Signature, messageId, type, case, body) and answers 204 when the\n"
      "signature is valid and the body a message (a JSON object; with an XML content type,\n"
      "markup), 400 when it is not, 401 when the signature is not valid. Prints 'listening on "
      "HOST:PORT' first; runs until\n"
      "SIGINT/SIGTERM.");
  listen->add_option("--listen", args->listen, "HOST:PORT (port 0: any free port)");
  listen->add_option("--secret-file", args->secret_file, "The shared secret")->required();
  listen->add_option("--tolerance", args->tolerance, "Replay window in seconds (default 300)")
      ->check(CLI::NonNegativeNumber);

  return {app, [args, sign, listen] {
            const auto secret = secret_of(*args);
            if (!secret) return exit_usage;
            if (listen->parsed()) return listen_for_callbacks(*args, *secret);
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
