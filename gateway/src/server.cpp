// The transport: one acceptor, each connection a coroutine on its own strand; a timeout before
// every read, write, handshake and shutdown; a fresh parser per request with limits from config;
// graceful shutdown on SIGINT/SIGTERM (after the Beast server-flex-awaitable example).
#include <odrgw/gateway/server.hpp>

#include <array>
#include <atomic>
#include <iostream>
#include <list>
#include <mutex>
#include <thread>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "service.hpp"
#include "util.hpp"

namespace odrgw::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

std::string cert_fingerprint(SSL* ssl_handle) {
  X509* cert = SSL_get_peer_certificate(ssl_handle);
  if (cert == nullptr) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  X509_free(cert);
  return detail::to_hex(md, len);
}

}  // namespace

// What shutdown needs to know about a live connection. Touched only on the session's strand.
struct session_state {
  asio::any_io_executor executor;
  beast::tcp_stream* lowest = nullptr;
  bool handling = false;  // a request is being answered: let it finish
  bool alive = true;
};

struct server::impl {
  config cfg;
  std::shared_ptr<const schemas::schema_set> set;
  asio::io_context ioc;
  std::optional<ssl::context> tls;
  std::unique_ptr<service> svc;
  tcp::acceptor acceptor{ioc};
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> connections{0};
  asio::signal_set signals{ioc, SIGINT, SIGTERM};
  std::mutex sessions_mu;
  std::list<std::shared_ptr<session_state>> sessions;

  // After an answer to a request whose body was left unread: reads and discards what the client
  // still sends, briefly and bounded, so that closing the socket does not reset the connection
  // (unread data makes the kernel send RST, and the client may lose the answer with it).
  template <class Stream>
  asio::awaitable<void> drain(Stream& stream) {
    std::array<char, 16 * 1024> scratch;
    std::size_t total = 0;
    beast::get_lowest_layer(stream).expires_after(200ms);
    while (total < 256 * 1024) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), tuple_awaitable);
      if (ec) break;
      total += n;
    }
  }

  // One request/response exchange loop on any stream (plain or TLS).
  template <class Stream>
  asio::awaitable<void> exchange(Stream& stream, const peer_info& peer, session_state& st) {
    // Capped: Beast 1.81 does not limit chunk extensions or trailers, which would otherwise grow
    // this buffer until the timeout (2 GB in 5 s seen). Bodies go to the parser, not here.
    beast::flat_buffer buffer(cfg.limits.max_header_bytes + 64 * 1024);
    // One read per request instead of several small ones (measured: +50% req/s).
    buffer.reserve(16 * 1024);
    const auto timeout = std::chrono::milliseconds(cfg.limits.read_timeout_ms);
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(cfg.limits.max_header_bytes));
      parser.body_limit(cfg.limits.max_body_bytes);
      // The timer covers the whole request: a client trickling bytes is cut off.
      beast::get_lowest_layer(stream).expires_after(timeout);
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, tuple_awaitable);
      (void)n;
      // An unauthenticated POST is answered on its header: its body (up to max_body_bytes) is
      // never read, and the connection closes after the 401 since the body is still unread.
      std::optional<peer_info> unread;
      if (!ec && !parser.is_done() && svc->refuse_before_body(parser.get(), peer)) {
        unread = peer;
        unread->body_unread = true;
      }
      const peer_info& who = unread ? *unread : peer;
      if (!ec && !unread && !parser.is_done() &&
          beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        // The client waits for this before it sends the body (RFC 9110 10.1.1).
        http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
        auto [cec, cn] = co_await http::async_write(stream, cont, tuple_awaitable);
        (void)cn;
        ec = cec;
      }
      if (!ec && !unread && !parser.is_done()) {
        auto [bec, bn] = co_await http::async_read(stream, buffer, parser, tuple_awaitable);
        (void)bn;
        ec = bec;
      }
      if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted || ec == asio::error::eof ||
          ec == asio::ssl::error::stream_truncated || ec == asio::error::connection_reset)
        co_return;
      std::optional<response> res;
      st.handling = true;
      if (ec) {
        // Unreadable requests are exchanges too: audited (no partner, no body), then answered.
        int status = 400;
        unsigned version = 11;
        std::string detail = ec.message();
        if (ec == http::error::body_limit) {
          status = 413;
          version = parser.get().version();
          detail = "the body exceeds " + std::to_string(cfg.limits.max_body_bytes) + " bytes";
        } else if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
          status = 431;
          detail = "the header exceeds the limit";
        }
        co_await svc->audit_transport(status, detail, peer);
        res = svc->transport_error(status, detail, version, false);
      } else {
        bool failed = false;
        try {
          res = co_await svc->handle(parser.release(), who);
        } catch (const std::exception&) {
          failed = true;  // a bug or out of memory: answer, never leave the client hanging
        }
        if (failed) res = svc->transport_error(500, "internal error", 11, false);
        if (stopping || unread) res->keep_alive(false);  // finish this request, then close
      }
      beast::get_lowest_layer(stream).expires_after(timeout);
      auto [wec, wn] = co_await http::async_write(stream, *res, tuple_awaitable);
      (void)wn;
      st.handling = false;
      if (unread && !wec) co_await drain(stream);
      if (wec || !res->keep_alive() || stopping) co_return;
    }
  }

  std::shared_ptr<session_state> track(beast::tcp_stream& lowest) {
    auto st = std::make_shared<session_state>();
    st->executor = lowest.get_executor();
    st->lowest = &lowest;
    std::lock_guard lock(sessions_mu);
    sessions.push_back(st);
    return st;
  }

  void untrack(const std::shared_ptr<session_state>& st) {
    st->alive = false;
    std::lock_guard lock(sessions_mu);
    sessions.remove(st);
  }

  // Untracks on every way out of a session, exceptions included.
  struct tracked {
    impl* self;
    std::shared_ptr<session_state> st;
    ~tracked() { self->untrack(st); }
  };

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    peer_info peer;
    beast::error_code ignore;
    peer.address = stream.socket().remote_endpoint(ignore).address().to_string();
    const auto timeout = std::chrono::milliseconds(cfg.limits.read_timeout_ms);
    if (!tls) {
      tracked t{this, track(stream)};
      if (!stopping) co_await exchange(stream, peer, *t.st);
      stream.socket().shutdown(tcp::socket::shutdown_send, ignore);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> s(std::move(stream), *tls);
    tracked t{this, track(beast::get_lowest_layer(s))};
    auto& st = t.st;
    beast::get_lowest_layer(s).expires_after(timeout);
    auto [hec] = co_await s.async_handshake(ssl::stream_base::server, tuple_awaitable);
    if (!hec && !stopping) {  // a failed handshake includes a certificate our CA does not vouch for
      peer.client_cert_sha256 = cert_fingerprint(s.native_handle());
      co_await exchange(s, peer, *st);
      beast::get_lowest_layer(s).expires_after(timeout);
      co_await s.async_shutdown(tuple_awaitable);
    }
  }

  asio::awaitable<void> listen() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), tuple_awaitable);
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) co_return;
        // e.g. EMFILE: keep serving the connections we have, and do not spin on the error.
        asio::steady_timer pause(ioc, 50ms);
        co_await pause.async_wait(tuple_awaitable);
        continue;
      }
      if (connections.load() >= cfg.limits.max_connections) {
        beast::error_code ignore;
        socket.close(ignore);  // over the limit: refuse rather than degrade everyone
        continue;
      }
      ++connections;
      // Increment/decrement, never set from a load: two threads setting the gauge could write
      // their counts in the wrong order and leave it stale.
      svc->stats().connection_opened();
      auto ex = socket.get_executor();
      asio::co_spawn(ex, session(std::move(socket)), [this](std::exception_ptr) {
        --connections;
        svc->stats().connection_closed();
      });
    }
  }

  void shutdown() {
    if (stopping.exchange(true)) return;
    asio::post(ioc, [this] {
      beast::error_code ignore;
      acceptor.close(ignore);
      signals.cancel(ignore);
    });
    // Idle connections (waiting for a next request) are closed now; busy ones finish first.
    std::lock_guard lock(sessions_mu);
    for (const auto& st : sessions)
      asio::post(st->executor, [st] {
        if (st->alive && !st->handling) st->lowest->cancel();
      });
  }
};

server::server(config cfg, std::shared_ptr<const schemas::schema_set> set)
    : impl_(std::make_unique<impl>()) {
  impl_->cfg = std::move(cfg);
  impl_->set = std::move(set);
  if (impl_->cfg.tls) {
    const auto& t = *impl_->cfg.tls;
    impl_->tls.emplace(ssl::context::tls_server);
    auto& ctx = *impl_->tls;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                    ssl::context::single_dh_use);
    // TLS 1.2 only with forward-secret AEAD suites (Mozilla's "intermediate" list without DHE);
    // OpenSSL's default would also offer CBC and RSA key exchange. TLS 1.3 keeps its defaults.
    if (SSL_CTX_set_cipher_list(ctx.native_handle(),
                                "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1)
      throw std::runtime_error("tls: cannot set the TLS 1.2 cipher list");
    beast::error_code ec;
    ctx.use_certificate_chain_file(t.cert, ec);
    if (ec) throw std::runtime_error("tls.cert " + t.cert + ": " + ec.message());
    ctx.use_private_key_file(t.key, ssl::context::pem, ec);
    if (ec) throw std::runtime_error("tls.key " + t.key + ": " + ec.message());
    if (!t.client_ca.empty()) {
      ctx.load_verify_file(t.client_ca, ec);
      if (ec) throw std::runtime_error("tls.client_ca " + t.client_ca + ": " + ec.message());
      // Ask for a certificate and refuse a bad one; partners with API keys may still come without.
      ctx.set_verify_mode(ssl::verify_peer);
      // Without a session id context OpenSSL fails every resumed handshake once peers are
      // verified (curl's second connection got "internal error").
      static constexpr unsigned char sid[] = "odrgw";
      SSL_CTX_set_session_id_context(ctx.native_handle(), sid, sizeof sid - 1);
    }
  }
  auto key = pii_key::load_or_create(impl_->cfg.pii_key_file);
  const std::string path = impl_->cfg.sqlite_path;
  impl_->svc = std::make_unique<service>(impl_->cfg, impl_->set, std::move(key),
                                         [&path](std::shared_ptr<const case_logic> logic) {
                                           sqlite_options o;
                                           o.path = path;
                                           o.logic = std::move(logic);
                                           return open_sqlite(o);
                                         });
}

server::~server() = default;

std::string server::bind() {
  auto& a = impl_->acceptor;
  const auto address = asio::ip::make_address(impl_->cfg.listen_host);
  const tcp::endpoint ep(address, impl_->cfg.listen_port);
  a.open(ep.protocol());
  a.set_option(asio::socket_base::reuse_address(true));
  a.bind(ep);
  a.listen(asio::socket_base::max_listen_connections);
  const auto bound = a.local_endpoint();
  const std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                                   : bound.address().to_string();
  return host + ":" + std::to_string(bound.port());
}

void server::run() {
  auto& m = *impl_;
  m.signals.async_wait([this](const beast::error_code& ec, int) {
    if (!ec) impl_->shutdown();
  });
  asio::co_spawn(m.ioc, m.listen(), asio::detached);
  unsigned n = m.cfg.threads ? m.cfg.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> threads;
  for (unsigned i = 1; i < n; ++i) threads.emplace_back([&m] { m.ioc.run(); });
  m.ioc.run();  // returns when the acceptor is closed and every session has finished
  for (auto& t : threads) t.join();
  m.svc->stop_background();  // timers and deliveries in flight finish first
  m.svc->store().close();    // drain pending writes, close the database
}

void server::stop() { impl_->shutdown(); }

}  // namespace odrgw::gateway
