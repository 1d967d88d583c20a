// The blocking HTTP(S) client: each call runs its own io_context with one coroutine, so every
// step shares one deadline (Beast's timeouts apply to asynchronous operations only).
#include <odrgw/gateway/http_client.hpp>

#include <openssl/ssl.h>

#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <boost/url/parse.hpp>

namespace odrgw::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string path;
};

std::optional<target> parse_target(std::string_view url, std::string& error) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) {
    error = "not an absolute URL";
    return std::nullopt;
  }
  target t;
  if (u->scheme() == "https") {
    t.tls = true;
  } else if (u->scheme() != "http") {
    error = "scheme must be http or https";
    return std::nullopt;
  }
  t.host = u->host_address();
  if (t.host.empty()) {
    error = "the URL has no host";
    return std::nullopt;
  }
  t.port = u->has_port() ? std::string(u->port()) : (t.tls ? "443" : "80");
  t.path = std::string(u->encoded_target());
  if (t.path.empty()) t.path = "/";
  return t;
}

template <class Stream>
asio::awaitable<void> exchange(Stream& stream, http::request<http::string_body>& req,
                               http_answer& out, std::size_t limit) {
  co_await http::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(limit);
  co_await http::async_read(stream, buf, parser, asio::use_awaitable);
  const auto& res = parser.get();
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  out.content_type = std::string(res[http::field::content_type]);
}

http_answer request(http::verb method, std::string_view url, std::string_view body,
                    std::string_view content_type,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    const client_options& opts) {
  http_answer out;
  const auto t = parse_target(url, out.error);
  if (!t) return out;

  http::request<http::string_body> req{method, t->path, 11};
  req.set(http::field::host, t->host);
  req.set(http::field::user_agent, "odrgw");
  for (const auto& [k, v] : headers) req.set(k, v);
  if (method == http::verb::post) {
    req.set(http::field::content_type, content_type);
    req.body() = std::string(body);
  }
  req.prepare_payload();

  asio::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  if (t->tls) {
    ctx.set_options(ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (opts.ca_file.empty())
      ctx.set_default_verify_paths(ec);
    else
      ctx.load_verify_file(opts.ca_file, ec);
    if (ec) {
      out.error = "cannot load CA certificates: " + ec.message();
      return out;
    }
    ctx.set_verify_mode(ssl::verify_peer);
  }
  auto run = [&]() -> asio::awaitable<void> {
    tcp::resolver resolver(ioc);
    const auto endpoints = co_await resolver.async_resolve(t->host, t->port, asio::use_awaitable);
    if (!t->tls) {
      beast::tcp_stream stream(ioc);
      stream.expires_after(opts.timeout);
      co_await stream.async_connect(endpoints, asio::use_awaitable);
      co_await exchange(stream, req, out, opts.max_answer_bytes);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    // SNI, and the name the certificate must carry (RFC 6125 host-name verification).
    // SSL_set_tlsext_host_name without its C cast.
    if (SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(t->host.c_str())) != 1)
      throw std::runtime_error("cannot set SNI");
    stream.set_verify_callback(ssl::host_name_verification(t->host));
    beast::get_lowest_layer(stream).expires_after(opts.timeout);
    co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
    co_await stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);
    co_await exchange(stream, req, out, opts.max_answer_bytes);
    beast::error_code ignored;
    stream.shutdown(ignored);  // the peer may just close; the answer is already read
  };
  // The resolver has no Beast timeout: the overall deadline also bounds it.
  asio::steady_timer deadline(ioc, opts.timeout);
  bool done = false;
  deadline.async_wait([&](boost::system::error_code ec) {
    if (!ec && !done) ioc.stop();
  });
  asio::co_spawn(ioc, run(), [&](std::exception_ptr e) {
    done = true;
    deadline.cancel();
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const boost::system::system_error& se) {
      out.error = se.code() == beast::error::timeout ? "timed out" : se.code().message();
    } catch (const std::exception& ex) {
      out.error = ex.what();
    }
    out.status = 0;
  });
  ioc.run();
  if (!done) {
    out.status = 0;
    out.error = "timed out";
  }
  return out;
}

}  // namespace

http_answer http_post(std::string_view url, std::string_view body, std::string_view content_type,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      const client_options& opts) {
  return request(http::verb::post, url, body, content_type, headers, opts);
}

http_answer http_get(std::string_view url,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     const client_options& opts) {
  return request(http::verb::get, url, {}, {}, headers, opts);
}

}  // namespace odrgw::gateway
