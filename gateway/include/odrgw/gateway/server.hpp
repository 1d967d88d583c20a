#pragma once
// `odrgw serve`: the asynchronous HTTP(S) gateway (Boost.Beast, C++20 coroutines).
#include <memory>
#include <string>

#include <odrgw/gateway/config.hpp>
#include <odrgw/schemas/validator.hpp>

namespace odrgw::gateway {

class server {
 public:
  // Opens storage and the personal-data key, prepares TLS. Throws std::runtime_error with a clear
  // message (a file that cannot be read, a database that cannot be opened).
  server(config cfg, std::shared_ptr<const schemas::schema_set> set);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds the listening socket; returns "HOST:PORT" as bound (port 0 becomes the real port).
  std::string bind();
  // Serves until SIGINT/SIGTERM or stop(): then stops accepting, finishes in-flight requests,
  // drains storage and returns.
  void run();
  // Thread-safe request to shut down gracefully.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace odrgw::gateway
