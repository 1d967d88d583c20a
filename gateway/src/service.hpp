#pragma once
// The gateway's request handling, independent of the transport (plain or TLS).
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http.hpp>

#include <odrgw/adapters/adapter.hpp>
#include <odrgw/gateway/case_logic.hpp>
#include <odrgw/gateway/config.hpp>
#include <odrgw/gateway/delivery.hpp>
#include <odrgw/gateway/metrics.hpp>
#include <odrgw/gateway/pii.hpp>
#include <odrgw/gateway/storage.hpp>
#include <odrgw/schemas/validator.hpp>

namespace odrgw::gateway {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

// What the transport knows about the connection.
struct peer_info {
  std::string address;             // remote IP
  std::string client_cert_sha256;  // hex of the DER client certificate (TLS with client_ca), or ""
  // Set for one request whose body the transport left unread (refused on its header alone).
  bool body_unread = false;
};

class service {
 public:
  // Opens storage through `open_store`, handing it the case logic it must run.
  using store_opener = std::function<std::unique_ptr<storage>(std::shared_ptr<const case_logic>)>;
  service(const config& cfg, std::shared_ptr<const schemas::schema_set> set, pii_key key,
          const store_opener& open_store);
  ~service();

  boost::asio::awaitable<response> handle(request req, const peer_info& peer);
  // True for a request that is refused on its header alone, before its body is read: a
  // `POST /v1/messages` that identifies no partner. The transport then hands handle() the header
  // with peer.body_unread set and closes the connection after the answer (401).
  bool refuse_before_body(const http::request_header<>& header, const peer_info& peer) const;
  // Appends the audit record of a request the transport could not read (kind `rejected`, route
  // `transport`: the peer, the status and why; no partner, nothing of the body). Never throws.
  boost::asio::awaitable<void> audit_transport(int status, std::string detail, peer_info peer);
  // A response for a request the transport could not read (413, 431, 400).
  response transport_error(int status, std::string_view detail, unsigned version, bool keep_alive);

  metrics& stats() noexcept { return metrics_; }
  storage& store() noexcept { return *store_; }

 private:
  struct outcome;
  const partner_config* authenticate(const http::request_header<>& req,
                                     const peer_info& peer) const;
  boost::asio::awaitable<response> post_message(const request& req, const peer_info& peer,
                                                outcome& out);
  boost::asio::awaitable<response> get_case(const request& req, const peer_info& peer,
                                            std::string_view case_id, outcome& out);
  // The case view itself, without the audit record get_case appends; `view` as read from
  // storage (nullopt: unknown, or the partner was not authenticated).
  // `first`: the case's first messages when `view` is a later page (a dialect partner's
  // reference is read from them), else nullptr.
  // `partner`: the authenticated partner, or nullptr (401).
  response read_case(const request& req, const partner_config* partner, std::string_view case_id,
                     const std::optional<case_view>& view, const case_view* first,
                     std::size_t offset, std::size_t limit, outcome& out);
  // Appends an audit record through the writer and waits for its commit; times it
  // (audit append latency) and logs a failure. nullopt: not recorded.
  boost::asio::awaitable<std::optional<audit_record>> append_audit(audit_entry e);
  // Reads a case on the reader pool (header: no messages; else the page offset/limit); the
  // coroutine resumes on its own executor.
  boost::asio::awaitable<std::optional<case_view>> fetch_case(std::string case_id, bool header,
                                                              std::size_t offset = 0,
                                                              std::size_t limit = 0);
  response get_schema(const request& req, std::string_view name);
  void log(const request& req, const response& res, const outcome& out,
           std::chrono::steady_clock::time_point start) const;
  // Runs the storage probe, updates ready_ and logs a change of readiness with its cause.
  void probe_ready(bool first);

  const config& cfg_;
  std::shared_ptr<const schemas::schema_set> set_;
  adapters::registry adapters_;
  pii_key key_;
  std::shared_ptr<const case_logic> logic_;
  std::unique_ptr<storage> store_;
  metrics metrics_;
  std::map<std::string, const partner_config*> by_key_;   // api_key_sha256 -> partner
  std::map<std::string, const partner_config*> by_cert_;  // client_cert_sha256 -> partner
  std::string openapi_;
  // /readyz answers from here: the storage probe can take as long as a commit (seconds when the
  // database is locked), so it runs on its own thread, never on an I/O thread.
  std::atomic<bool> ready_{false};
  std::jthread probe_;  // joined before the storage it probes is destroyed
  // Fires due timers (routing.timer_interval_ms) through storage and the case logic.
  std::jthread timers_;
  // Case reads (SQLite, blocking: up to the busy timeout when the database is locked) run here,
  // never on an I/O thread, where they would stall every connection the thread serves.
  boost::asio::thread_pool readers_{2};
  std::unique_ptr<delivery_engine> delivery_;  // last: stopped first

 public:
  // Stops the timers and the delivery workers (before storage closes).
  void stop_background();
};

}  // namespace odrgw::gateway
