// The mock ODR provider: a Beast server on one I/O thread, and one worker thread that sends the
// results back to the gateway with the blocking client (never on the I/O thread).
#include <odrgw/conformance/mock_provider.hpp>

#include <openssl/rand.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <odrgw/adapters/adapter.hpp>
#include <odrgw/gateway/http_client.hpp>
#include <odrgw/gateway/routing.hpp>
#include <odrgw/schemas/json.hpp>

#include "http_session.hpp"

namespace odrgw::conformance {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using rapidjson::Value;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

constexpr std::array<std::pair<std::string_view, mock_mode>, 6> modes = {{
    {"conforming", mock_mode::conforming},
    {"reject-all", mock_mode::reject_all},
    {"slow", mock_mode::slow},
    {"flaky", mock_mode::flaky},
    {"duplicate-results", mock_mode::duplicate_results},
    {"invalid-results", mock_mode::invalid_results},
}};

std::string now_text() { return gateway::routing::format_time(gateway::routing::clock::now()); }

std::string_view text(const Value& v, std::string_view name) {
  if (!v.IsObject()) return {};
  auto it = v.FindMember(rapidjson::StringRef(name.data(), name.size()));
  return it != v.MemberEnd() && it->value.IsString()
             ? std::string_view(it->value.GetString(), it->value.GetStringLength())
             : std::string_view();
}

const Value& child(const Value& v, std::string_view name) {
  static const Value empty(rapidjson::kObjectType);
  if (!v.IsObject()) return empty;
  auto it = v.FindMember(rapidjson::StringRef(name.data(), name.size()));
  return it != v.MemberEnd() ? it->value : empty;
}

response answer(http::status s, unsigned version, std::string body, std::string_view type) {
  response r{s, version};
  r.set(http::field::content_type, type);
  r.set(http::field::server, "odrgw-mock-provider");
  r.body() = std::move(body);
  r.prepare_payload();
  return r;
}

response problem(http::status s, unsigned version, std::string_view title, std::string detail,
                 std::string_view rule, std::string_view location = "") {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto str = [&](std::string_view v) {
    return Value(v.data(), static_cast<rapidjson::SizeType>(v.size()), a);
  };
  d.AddMember("type", str("urn:odrgw:mock-provider:" + std::string(rule)), a);
  d.AddMember("title", str(title), a);
  d.AddMember("status", static_cast<int>(s), a);
  d.AddMember("detail", str(detail), a);
  Value errors(rapidjson::kArrayType);
  Value e(rapidjson::kObjectType);
  e.AddMember("location", str(location), a);
  e.AddMember("rule", str(rule), a);
  e.AddMember("message", str(detail), a);
  errors.PushBack(e, a);
  d.AddMember("errors", errors, a);
  return answer(s, version, schemas::to_json_string(d) + "\n", "application/problem+json");
}

}  // namespace

mock_mode parse_mock_mode(std::string_view s) {
  for (const auto& [name, m] : modes)
    if (name == s) return m;
  std::string known;
  for (const auto& [name, m] : modes) known += (known.empty() ? "" : ", ") + std::string(name);
  throw std::invalid_argument("unknown mode '" + std::string(s) + "' (modes: " + known + ")");
}

std::string_view to_string(mock_mode m) noexcept {
  for (const auto& [name, mode] : modes)
    if (mode == m) return name;
  return "?";
}

struct mock_provider::impl {
  mock_options opts;
  std::shared_ptr<const schemas::schema_set> set;
  adapters::registry adapters;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  asio::signal_set signals{ioc, SIGINT, SIGTERM};

  // What was received (messageId -> receipt and count) and what was sent back.
  struct received_entry {
    std::string receipt;
    std::string type;
    std::string case_id;
    int count = 0;
  };
  struct sent_entry {
    std::string message_id, type;
    int status = 0;
    std::string error;
  };
  struct job {
    std::chrono::steady_clock::time_point due;
    std::vector<std::string> messages;  // canonical JSON, sent in order
  };
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, received_entry> received;  // key: sender partyId + " " + messageId
  std::vector<std::string> received_order;
  std::vector<sent_entry> sent;
  std::deque<job> jobs;
  bool stopping = false;
  std::jthread sender_thread;

  impl(mock_options o, std::shared_ptr<const schemas::schema_set> s)
      : opts(std::move(o)), set(std::move(s)), adapters(adapters::registry::builtin(set)) {}

  // ---- results ---------------------------------------------------------------------------------

  rapidjson::Document envelope(const Value& in, std::string_view type) {
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    auto str = [&](std::string_view v) {
      return Value(v.data(), static_cast<rapidjson::SizeType>(v.size()), a);
    };
    static thread_local boost::uuids::random_generator uuid;
    d.AddMember("messageId", str(boost::uuids::to_string(uuid())), a);
    d.AddMember("messageType", str(type), a);
    d.AddMember("specVersion", "1.0", a);
    d.AddMember("caseId", str(text(in, "caseId")), a);
    Value sender(rapidjson::kObjectType);
    sender.AddMember("partyId", str(opts.party_id), a);
    sender.AddMember("role", "odr-provider", a);
    d.AddMember("sender", sender, a);
    Value recipient(rapidjson::kObjectType);
    recipient.AddMember("partyId", str(text(child(in, "sender"), "partyId")), a);
    recipient.AddMember("role", str(text(child(in, "sender"), "role")), a);
    d.AddMember("recipient", recipient, a);
    d.AddMember("sentAt", str(now_text()), a);
    d.AddMember("inReplyTo", str(text(in, "messageId")), a);
    d.AddMember("language", "en", a);
    d.AddMember("payload", Value(rapidjson::kObjectType), a);
    return d;
  }

  static void put(rapidjson::Document& d, Value& obj, std::string_view name, std::string_view v) {
    auto& a = d.GetAllocator();
    obj.AddMember(Value(name.data(), static_cast<rapidjson::SizeType>(name.size()), a),
                  Value(v.data(), static_cast<rapidjson::SizeType>(v.size()), a), a);
  }

  std::vector<rapidjson::Document> results_for(const Value& in) {
    std::vector<rapidjson::Document> out;
    const std::string_view type = text(in, "messageType");
    const Value& p = child(in, "payload");
    const auto now = gateway::routing::clock::now();
    const std::string today = now_text().substr(0, 10);
    auto later = [&](int days) {
      return gateway::routing::format_time(now + std::chrono::days(days));
    };
    std::string to_tier;
    if (type == "dispute.application") to_tier = "T3";  // this is an external provider
    if (type == "dispute.appeal") to_tier = std::string(text(p, "toTier"));
    if (type == "escalation.request") to_tier = std::string(text(p, "toTier"));
    if (type == "stage.changed" && text(p, "toState") == "arbitration") to_tier = "T5";

    if (type == "dispute.application" || type == "dispute.appeal") {
      auto d = envelope(in, "dispute.acceptance");
      auto& pl = d["payload"];
      put(d, pl, "decision", "accepted");
      put(d, pl, "tier", to_tier.empty() ? "T3" : to_tier);
      put(d, pl, "decidedAt", now_text());
      out.push_back(std::move(d));
    } else if (to_tier == "T4") {
      auto d = envelope(in, "mediation.neutral-appointed");
      auto& a = d.GetAllocator();
      Value neutral(rapidjson::kObjectType);
      neutral.AddMember("neutralId", "mock-neutral-1", a);
      neutral.AddMember("name", "Mock Neutral", a);
      d["payload"].AddMember("neutral", neutral, a);
      put(d, d["payload"], "appointedAt", now_text());
      put(d, d["payload"], "mediationDueAt", later(10));
      out.push_back(std::move(d));
      auto prop = envelope(in, "mediation.proposal");
      auto& pp = prop["payload"];
      put(prop, pp, "proposalId", "mock-proposal-1");
      put(prop, pp, "remedy", "partial-refund");
      put(prop, pp, "terms",
          "The merchant refunds half of the price; the consumer keeps the goods.");
      put(prop, pp, "respondBy", later(7));
      out.push_back(std::move(prop));
    } else if (to_tier == "T5") {
      auto d = envelope(in, "arbitration.award");
      auto& a = d.GetAllocator();
      auto& pl = d["payload"];
      put(d, pl, "awardId", "mock-award-1");
      put(d, pl, "outcome", "upheld");
      put(d, pl, "awardDate", today);
      Value seat(rapidjson::kObjectType);
      seat.AddMember("country", "SG", a);
      seat.AddMember("city", "Singapore", a);
      pl.AddMember("seat", seat, a);
      put(d, pl, "reasons", "The goods do not conform to the contract; the claim is upheld.");
      Value sig(rapidjson::kObjectType);
      put(d, sig, "neutralId", "mock-neutral-1");
      put(d, sig, "name", "Mock Neutral");
      put(d, sig, "signedAt", now_text());
      put(d, sig, "algorithm", "ecdsa-p256-sha256");
      put(d, sig, "keyId", "mock-neutral-1-2026");
      put(d, sig, "signatureValue",
          "MEUCIQDh1u0s4J8y2l9kCqVb3F0pQm7rT2wZ6nX8eY1aK5o3vAIgTz4N0bR9cW2qL7mH1dS6fJ8xE3uP5kV0yG2"
          "nB4iC7aM=");
      pl.AddMember("signature", sig, a);
      out.push_back(std::move(d));
    }
    if (opts.mode == mock_mode::invalid_results)
      for (auto& d : out) {
        // A tier that does not exist: the gateway must refuse the result (422).
        auto& pl = d["payload"];
        if (pl.HasMember("tier")) pl.RemoveMember("tier");
        put(d, pl, "tier", "T9");
      }
    return out;
  }

  void schedule(const Value& in) {
    if (opts.gateway_url.empty()) return;
    auto results = results_for(in);
    if (results.empty()) return;
    job j;
    j.due = std::chrono::steady_clock::now() + opts.delay;
    for (auto& d : results) {
      if (opts.mode != mock_mode::invalid_results) {
        schemas::report r;
        set->validate_json(d, "", r);
        if (!r.valid())
          std::cerr << "mock-provider: bug: a result fails v1 at "
                    << (r.errors.empty() ? "" : r.errors[0].location) << "\n";
      }
      j.messages.push_back(schemas::to_json_string(d));
      if (opts.mode == mock_mode::duplicate_results) j.messages.push_back(j.messages.back());
    }
    {
      std::lock_guard lock(mu);
      jobs.push_back(std::move(j));
    }
    cv.notify_all();
  }

  void send_loop(std::stop_token stop) {
    const std::string url = opts.gateway_url + "/v1/messages";
    gateway::client_options co;
    co.ca_file = opts.ca_file;
    co.timeout = std::chrono::seconds(10);
    for (;;) {
      job j;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || stop.stop_requested() || !jobs.empty(); });
        if (jobs.empty()) return;
        if (!stopping) {
          cv.wait_until(lock, jobs.front().due, [&] { return stopping; });
        }
        j = std::move(jobs.front());
        jobs.pop_front();
      }
      for (const auto& m : j.messages) {
        const auto ans = gateway::http_post(url, m, "application/json",
                                            {{"Authorization", "Bearer " + opts.token}}, co);
        rapidjson::Document d;
        schemas::json_error err;
        schemas::parse_json(m, d, {}, err);  // our own output: it parses
        sent_entry e{std::string(text(d, "messageId")), std::string(text(d, "messageType")),
                     ans.status, ans.error};
        std::cerr << "mock-provider: sent " << e.type << " " << e.message_id << " -> "
                  << (ans.status != 0 ? std::to_string(ans.status) : ans.error) << "\n";
        std::lock_guard lock(mu);
        sent.push_back(std::move(e));
      }
    }
  }

  // ---- requests -------------------------------------------------------------------------------

  std::string log_json() {
    std::lock_guard lock(mu);
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    auto str = [&](const std::string& v) {
      return Value(v.c_str(), static_cast<rapidjson::SizeType>(v.size()), a);
    };
    Value rec(rapidjson::kArrayType);
    for (const auto& key : received_order) {
      const auto& e = received.at(key);
      Value o(rapidjson::kObjectType);
      o.AddMember("messageId", str(key.substr(key.find(' ') + 1)), a);
      o.AddMember("messageType", str(e.type), a);
      o.AddMember("caseId", str(e.case_id), a);
      o.AddMember("count", e.count, a);
      rec.PushBack(o, a);
    }
    d.AddMember("received", rec, a);
    Value snt(rapidjson::kArrayType);
    for (const auto& e : sent) {
      Value o(rapidjson::kObjectType);
      o.AddMember("messageId", str(e.message_id), a);
      o.AddMember("messageType", str(e.type), a);
      o.AddMember("status", e.status, a);
      if (!e.error.empty()) o.AddMember("error", str(e.error), a);
      snt.PushBack(o, a);
    }
    d.AddMember("sent", snt, a);
    d.AddMember("mode", str(std::string(to_string(opts.mode))), a);
    return schemas::to_json_string(d) + "\n";
  }

  asio::awaitable<response> handle(const request& req) {
    const unsigned v = req.version();
    const std::string target(req.target());
    if (req.method() == http::verb::get && target == "/healthz")
      co_return answer(http::status::ok, v, "{\"status\":\"ok\"}\n", "application/json");
    if (req.method() == http::verb::get && target == "/mock/log")
      co_return answer(http::status::ok, v, log_json(), "application/json");
    if (req.method() != http::verb::post)
      co_return problem(http::status::method_not_allowed, v, "Method not allowed",
                        "POST a v1 message; GET /healthz or /mock/log", "method");
    if (opts.mode == mock_mode::slow) {
      auto ex = co_await asio::this_coro::executor;
      asio::steady_timer t(ex, opts.slow);
      co_await t.async_wait(asio::use_awaitable);
    }
    if (opts.mode == mock_mode::reject_all)
      co_return problem(http::status::unprocessable_entity, v, "Rejected",
                        "this mock provider rejects every message (mode reject-all)",
                        "mock-reject-all");
    if (opts.mode == mock_mode::flaky) {
      unsigned char b = 0;
      RAND_bytes(&b, 1);
      if (b < opts.fail_rate * 256.0)
        co_return problem(http::status::service_unavailable, v, "Unavailable",
                          "a simulated failure (mode flaky); retry later", "mock-flaky");
    }
    const auto enc = schemas::detect_encoding(req.body());
    const adapters::adapter* a =
        adapters.find(enc == schemas::encoding::json ? "canonical-json" : "canonical-xml");
    rapidjson::Document msg;
    schemas::report r;
    if (!a->to_canonical(req.body(), msg, r)) {
      const auto& e = r.errors.empty() ? schemas::issue{} : r.errors.front();
      co_return problem(r.status == schemas::verdict::malformed
                            ? http::status::bad_request
                            : http::status::unprocessable_entity,
                        v, "Invalid message", e.message, e.rule, e.location);
    }
    const std::string key = std::string(text(child(msg, "sender"), "partyId")) + " " +
                            std::string(text(msg, "messageId"));
    bool first = false;
    std::string receipt;
    {
      std::lock_guard lock(mu);
      auto [it, inserted] = received.try_emplace(key);
      auto& e = it->second;
      ++e.count;
      if (inserted) {
        first = true;
        received_order.push_back(key);
        e.type = std::string(text(msg, "messageType"));
        e.case_id = std::string(text(msg, "caseId"));
        static thread_local boost::uuids::random_generator uuid;
        e.receipt = "{\"receiptId\":\"" + boost::uuids::to_string(uuid()) + "\",\"messageId\":\"" +
                    std::string(text(msg, "messageId")) + "\",\"receivedAt\":\"" + now_text() +
                    "\"}\n";
      }
      receipt = e.receipt;
    }
    if (first) schedule(msg);
    co_return answer(first ? http::status::accepted : http::status::ok, v, receipt,
                     "application/json");
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
      asio::co_spawn(
          ioc,
          detail::serve_http(
              std::move(s),
              [this](const request& r) -> asio::awaitable<response> { return handle(r); },
              opts.slow + std::chrono::seconds(10)),
          asio::detached);
    }
  }
};

mock_provider::mock_provider(mock_options opts, std::shared_ptr<const schemas::schema_set> set)
    : impl_(std::make_unique<impl>(std::move(opts), std::move(set))) {}

mock_provider::~mock_provider() { stop(); }

std::string mock_provider::bind() {
  auto& i = *impl_;
  const tcp::endpoint ep(asio::ip::make_address(i.opts.listen_host), i.opts.listen_port);
  i.acceptor.open(ep.protocol());
  i.acceptor.set_option(tcp::acceptor::reuse_address(true));
  i.acceptor.bind(ep);
  i.acceptor.listen();
  const auto local = i.acceptor.local_endpoint();
  const std::string host = local.address().to_string();
  return (local.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(local.port());
}

void mock_provider::run() {
  auto& i = *impl_;
  i.sender_thread = std::jthread([&i](std::stop_token st) { i.send_loop(st); });
  i.signals.async_wait([&i](boost::system::error_code, int) { i.ioc.stop(); });
  asio::co_spawn(i.ioc, i.accept_loop(), asio::detached);
  i.ioc.run();
  stop();
}

void mock_provider::stop() {
  auto& i = *impl_;
  {
    std::lock_guard lock(i.mu);
    i.stopping = true;
  }
  i.cv.notify_all();
  i.ioc.stop();
  if (i.sender_thread.joinable()) i.sender_thread.join();
}

}  // namespace odrgw::conformance
