#pragma once
// A real HTTP server on 127.0.0.1 (a port of its own) that stands in for a partner's callback
// endpoint in tests: it records every request and answers with the status the test sets.
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace odrgw::test {

struct received {
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class test_receiver {
 public:
  test_receiver() : acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { loop(); });
  }
  ~test_receiver() {
    stop_ = true;
    boost::system::error_code ec;
    // Wake the blocking accept with a connection of our own.
    boost::asio::ip::tcp::socket s(ioc_);
    s.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  test_receiver(const test_receiver&) = delete;
  test_receiver& operator=(const test_receiver&) = delete;

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }
  void answer(int status) { status_ = status; }
  std::vector<received> requests() {
    std::lock_guard l(mu_);
    return got_;
  }
  // Waits until `pred` holds for the requests so far (false after `timeout`).
  bool wait_for(const std::function<bool(const std::vector<received>&)>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (pred(requests())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred(requests());
  }

 private:
  void loop() {
    namespace http = boost::beast::http;
    while (!stop_) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket s(ioc_);
      acceptor_.accept(s, ec);
      if (ec || stop_) continue;
      boost::beast::flat_buffer buf;
      for (;;) {
        http::request<http::string_body> req;
        http::read(s, buf, req, ec);
        if (ec) break;
        const int status = status_.load();
        if (status >= 200 && status < 300) {
          received r;
          r.target = std::string(req.target());
          for (const auto& f : req) {
            std::string name(f.name_string());
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            r.headers[name] = std::string(f.value());
          }
          r.body = req.body();
          std::lock_guard l(mu_);
          got_.push_back(std::move(r));
        }
        http::response<http::string_body> res{static_cast<http::status>(status), req.version()};
        res.set(http::field::content_type, "application/json");
        res.body() = "{}";
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        http::write(s, res, ec);
        if (ec || !req.keep_alive()) break;
      }
      s.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    }
  }

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> status_{202};
  std::mutex mu_;
  std::vector<received> got_;
};

}  // namespace odrgw::test
