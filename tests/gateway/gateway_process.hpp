#pragma once
// Runs `odrgw serve` as a real process and talks to it over real sockets (plain or TLS).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <openssl/evp.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include "test_files.hpp"

extern char** environ;

namespace odrgw::test {

class gateway_process {
 public:
  // Starts `odrgw serve --config <config>` and waits for its `listening on HOST:PORT` line.
  gateway_process(const std::filesystem::path& config, const std::filesystem::path& log_file)
      : gateway_process(std::vector<std::string>{"serve", "--config", config.string()}, log_file) {}
  // Starts `odrgw ARGS...` (serve, mock-provider: anything that prints `listening on`).
  gateway_process(const std::vector<std::string>& args, const std::filesystem::path& log_file) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    std::vector<char*> argv = {const_cast<char*>(ODRGW_CLI)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, ODRGW_CLI, &fa, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error("spawn failed");
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    out_ = out[0];
    std::string line;
    char c;
    while (read(out_, &c, 1) == 1) {
      if (c != '\n') {
        line += c;
        continue;
      }
      if (line.starts_with("listening on ")) {
        const auto colon = line.rfind(':');
        port_ = static_cast<unsigned short>(std::stoi(line.substr(colon + 1)));
        return;
      }
      line.clear();
    }
    stop(SIGKILL);
    throw std::runtime_error("odrgw " + args.front() + " did not start; log: " + slurp(log_file));
  }
  ~gateway_process() { stop(SIGKILL); }

  unsigned short port() const { return port_; }

  // Sends `sig` and waits; returns the exit status (or 128+signal).
  int stop(int sig = SIGTERM) {
    if (pid_ <= 0) return status_;
    kill(pid_, sig);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
    close(out_);
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  unsigned short port_ = 0;
  int status_ = -1;
};

namespace http = boost::beast::http;

struct reply {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string www_authenticate;
};

struct request_spec {
  http::verb method = http::verb::get;
  std::string target = "/healthz";
  std::string body;
  std::string content_type = "application/json";
  std::string bearer;
};

inline http::request<http::string_body> make_request(const request_spec& r) {
  http::request<http::string_body> req{r.method, r.target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!r.bearer.empty()) req.set(http::field::authorization, "Bearer " + r.bearer);
  if (r.method == http::verb::post) {
    req.set(http::field::content_type, r.content_type);
    req.body() = r.body;
    req.prepare_payload();
  }
  return req;
}

template <class Stream>
reply exchange(Stream& stream, const request_spec& r) {
  http::write(stream, make_request(r));
  boost::beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64u << 20);
  http::read(stream, buf, parser);
  const auto& res = parser.get();
  return {static_cast<int>(res.result_int()), res.body(),
          std::string(res[http::field::content_type]),
          std::string(res[http::field::www_authenticate])};
}

inline reply send(unsigned short port, const request_spec& r) {
  boost::asio::io_context ioc;
  boost::beast::tcp_stream s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  s.expires_after(std::chrono::seconds(30));
  return exchange(s, r);
}

inline reply send_tls(unsigned short port, boost::asio::ssl::context& ctx, const request_spec& r) {
  boost::asio::io_context ioc;
  boost::beast::ssl_stream<boost::beast::tcp_stream> s(ioc, ctx);
  // SNI (SSL_set_tlsext_host_name is a macro with a C cast).
  SSL_ctrl(s.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>("localhost"));
  boost::beast::get_lowest_layer(s).connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::beast::get_lowest_layer(s).expires_after(std::chrono::seconds(30));
  s.handshake(boost::asio::ssl::stream_base::client);
  auto out = exchange(s, r);
  boost::beast::error_code ignore;
  s.shutdown(ignore);
  return out;
}

}  // namespace odrgw::test
