#pragma once
// The gateway's configuration (YAML), checked against its own JSON Schema at start-up: an
// unknown or mistyped key stops start-up naming the key's path.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <odrgw/gateway/provider_routing.hpp>
#include <odrgw/gateway/routing.hpp>

namespace odrgw::adapters {
class registry;
}  // namespace odrgw::adapters
namespace odrgw::schemas {
class schema_set;
}  // namespace odrgw::schemas

namespace odrgw::gateway {

struct partner_config {
  std::string id;
  std::string role;                // merchant | platform | odr-provider | auditor | admin
  std::string dialect;             // adapter id, e.g. canonical-json
  std::string api_key_sha256;      // lower-case hex; empty: no API key
  std::string client_cert_sha256;  // lower-case hex of the DER certificate; empty: no mTLS
  std::string callback_url;        // where the gateway delivers this partner's messages; may be
                                   // empty (the partner then polls GET /v1/cases/{caseId})
  std::string callback_secret;     // HMAC secret for ODR-Signature (callback_secret_file); may
                                   // be empty (deliveries then go unsigned: a warning)
};

// Delivery workers (the outbox, docs/operations.md).
struct delivery_config {
  unsigned workers = 4;
  unsigned max_attempts = 8;  // then the delivery is dead (odrgw outbox retry)
  unsigned backoff_initial_ms = 1000;
  unsigned backoff_max_ms = 300000;
  unsigned per_partner_concurrency = 2;
  unsigned timeout_ms = 10000;
  std::string ca_file;  // PEM bundle for https receivers; empty: the system's
};

struct tls_config {
  std::string cert;       // PEM chain
  std::string key;        // PEM private key
  std::string client_ca;  // PEM CA bundle; empty: client certificates not requested
};

struct limits_config {
  std::size_t max_body_bytes = 1u << 20;
  std::size_t max_header_bytes = 16u << 10;
  unsigned read_timeout_ms = 10000;
  std::size_t max_connections = 10000;
};

struct config {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  std::optional<tls_config> tls;
  std::string sqlite_path = "./var/odrgw.db";
  limits_config limits;
  unsigned threads = 0;  // 0: one per core
  std::vector<partner_config> partners;
  std::string pii_key_file = "./var/pii.key";
  std::string adapter_dir;            // mapping-file dialects; empty: built-in adapters only
  routing_config routing;             // which provider receives an escalation
  routing::policy deadlines;          // deadline durations (routing.deadlines)
  double clock_scale = 1;             // routing.clock_scale: > 1 runs the case clock faster (demos)
  unsigned timer_interval_ms = 1000;  // how often due timers are looked for
  delivery_config delivery;
  std::string source;  // the file it came from, or "(defaults)"
  // Legal but probably unintended (plain HTTP off loopback, an unusable credential): the server
  // prints these at start-up.
  std::vector<std::string> warnings;
};

class config_error : public std::runtime_error {
 public:
  config_error(std::string path, const std::string& what)
      : std::runtime_error(path.empty() ? what : path + ": " + what), path_(std::move(path)) {}
  const std::string& path() const noexcept { return path_; }  // e.g. "/partners/0/role"

 private:
  std::string path_;
};

// Reads and checks a YAML file. Relative paths inside it (tls files, sqlite, pii key) are
// resolved against the file's directory. Throws config_error.
config load_config(const std::string& file);
// Parses YAML text (base_dir resolves relative paths). Throws config_error.
config parse_config(const std::string& yaml_text, const std::string& base_dir);
// The embedded JSON Schema the YAML is checked against.
const std::string& config_schema();

struct listen_address {
  std::string host;  // an IP address, IPv6 without brackets
  std::uint16_t port = 0;
};
// Parses "HOST:PORT" ("127.0.0.1:8080", "[::1]:0"); HOST must be an IP address. Throws
// config_error naming `path` (e.g. "/listen", or "--listen" for the command line).
listen_address parse_listen(std::string_view text, const std::string& path = "/listen");

// Checks that every partner's dialect names an adapter in `reg`. Throws config_error at
// "/partners/N/dialect". (Separate from parsing: the registry needs the compiled schema set.)
void check_dialects(const config& cfg, const adapters::registry& reg);
// The built-in adapters plus the mapping-file dialects of cfg.adapter_dir, with every partner's
// dialect checked. Throws config_error naming /adapters/dir or /partners/N/dialect.
adapters::registry load_adapters(const config& cfg, std::shared_ptr<const schemas::schema_set> set);

}  // namespace odrgw::gateway
