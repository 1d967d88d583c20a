#pragma once
// One HTTP/1.1 connection of the conformance tools' small servers (the mock provider and the
// runner's results receiver): bounded reads, a read timeout, keep-alive, and a handler that turns
// a request into a response. Any error ends the connection, nothing else.
#include <chrono>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace odrgw::conformance::detail {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

// `handle(const http_request&)` returns boost::asio::awaitable<http_response>. `write_timeout`
// bounds writing an answer (a slow handler's answer included).
template <class Handler>
boost::asio::awaitable<void> serve_http(boost::asio::ip::tcp::socket socket, Handler handle,
                                        std::chrono::steady_clock::duration write_timeout) {
  namespace http = boost::beast::http;
  boost::beast::tcp_stream stream(std::move(socket));
  boost::beast::flat_buffer buf;
  try {
    for (;;) {
      stream.expires_after(std::chrono::seconds(10));
      http::request_parser<http::string_body> parser;
      parser.body_limit(1u << 20);
      parser.header_limit(16u << 10);
      co_await http::async_read(stream, buf, parser, boost::asio::use_awaitable);
      http_request req = parser.release();
      http_response res = co_await handle(req);
      res.keep_alive(req.keep_alive());
      stream.expires_after(write_timeout);
      co_await http::async_write(stream, res, boost::asio::use_awaitable);
      if (!req.keep_alive()) break;
    }
  } catch (const std::exception&) {
    // The client went away, timed out or sent garbage: the connection ends, nothing else.
  }
  boost::beast::error_code ignored;
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
}

}  // namespace odrgw::conformance::detail
