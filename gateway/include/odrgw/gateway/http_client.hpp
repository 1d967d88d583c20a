#pragma once
// A small blocking HTTP(S) client for deliveries and callbacks (Boost.Beast): one request per
// connection, an overall deadline, TLS with certificate and host-name verification and SNI, and a
// bounded answer. Blocking by design: callers are worker threads (the outbox, the mock
// provider's result sender), never an I/O thread of the server.
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace odrgw::gateway {

struct client_options {
  std::chrono::milliseconds timeout{10000};  // connect + TLS + write + read, in all
  std::string ca_file;                       // PEM bundle; empty: the system's default paths
  std::size_t max_answer_bytes = 1u << 20;
};

struct http_answer {
  int status = 0;     // 0: no HTTP answer (see error)
  std::string error;  // transport failure: refused, timeout, TLS verification, bad URL
  std::string body;
  std::string content_type;
};

// POSTs `body` to an http:// or https:// URL. Never throws for network failures: they come back
// in `error` with status 0.
http_answer http_post(std::string_view url, std::string_view body, std::string_view content_type,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      const client_options& opts = {});

// GET, same rules.
http_answer http_get(std::string_view url,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     const client_options& opts = {});

}  // namespace odrgw::gateway
