#include <odrgw/gateway/delivery.hpp>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <odrgw/adapters/adapter.hpp>
#include <odrgw/gateway/callback.hpp>
#include <odrgw/gateway/http_client.hpp>
#include <odrgw/gateway/pii.hpp>
#include <odrgw/schemas/validator.hpp>

#include "storage_internal.hpp"

namespace odrgw::gateway {

namespace {

using namespace detail;

constexpr auto json_string = &schemas::json_quoted;

// What one attempt produced, before it is recorded.
struct rendered {
  std::string body, content_type, error;  // error: cannot be rendered (dead at once)
};

}  // namespace

struct delivery_engine::impl {
  impl(const config& c, storage& s, const adapters::registry& a,
       std::shared_ptr<const schemas::schema_set> ss, const pii_key& k)
      : cfg(c), store(s), reg(a), set(std::move(ss)), key(k) {
    for (const auto& p : cfg.partners) partners.emplace(p.id, &p);
  }

  const config& cfg;
  storage& store;
  const adapters::registry& reg;
  std::shared_ptr<const schemas::schema_set> set;
  const pii_key& key;
  std::map<std::string, const partner_config*, std::less<>> partners;

  std::mutex mu;
  std::condition_variable cv;       // scheduler: poke / stop
  std::condition_variable work_cv;  // workers: work / stop
  bool poked = false, stopping = false;
  std::deque<outbox_item> work;
  std::set<std::int64_t> in_flight;
  std::map<std::string, unsigned> per_partner;
  std::thread scheduler;
  std::vector<std::thread> workers;

  void start() {
    scheduler = std::thread([this] { schedule(); });
    const unsigned n = std::max(1u, cfg.delivery.workers);
    for (unsigned i = 0; i < n; ++i) workers.emplace_back([this] { work_loop(); });
  }

  void schedule() {
    std::unique_lock l(mu);
    while (!stopping) {
      cv.wait_for(l, std::chrono::milliseconds(250), [this] { return poked || stopping; });
      if (stopping) break;
      poked = false;
      l.unlock();
      std::vector<outbox_item> due;
      try {
        due = store.due_deliveries(format_utc_ms(clock::now()), 64);
      } catch (const std::exception& e) {
        log_line("error", "outbox read failed", e.what());
      }
      l.lock();
      for (auto& it : due) {
        if (in_flight.count(it.id) != 0) continue;
        unsigned& n = per_partner[it.recipient];
        if (n >= std::max(1u, cfg.delivery.per_partner_concurrency)) continue;
        n++;
        in_flight.insert(it.id);
        work.push_back(std::move(it));
      }
      if (!work.empty()) work_cv.notify_all();
    }
  }

  void work_loop() {
    for (;;) {
      outbox_item it;
      {
        std::unique_lock l(mu);
        work_cv.wait(l, [this] { return stopping || !work.empty(); });
        if (stopping) return;  // queued items stay pending in the database
        it = std::move(work.front());
        work.pop_front();
      }
      attempt(it);
      {
        std::lock_guard l(mu);
        in_flight.erase(it.id);
        per_partner[it.recipient]--;
        poked = true;  // the case's next message to this partner may be due now
      }
      cv.notify_one();
    }
  }

  rendered render(const outbox_item& it, const partner_config& p) {
    rendered r;
    rapidjson::Document doc;
    schemas::json_error err;
    if (!schemas::parse_json(it.canonical_json, doc, internal_json_limits(), err) ||
        !doc.IsObject()) {
      r.error = "the stored message does not parse: " + err.message;
      return r;
    }
    // The recipient is a party to the case (or its forum): it gets the personal data.
    reveal(doc, doc.GetAllocator(), &key);
    if (p.dialect == "canonical-json") {
      schemas::report rep;
      set->validate_json(doc, "", rep);
      if (!rep.valid()) {
        r.error = "not valid v1: " + (rep.errors.empty() ? std::string("?")
                                                         : rep.errors.front().location + " " +
                                                               rep.errors.front().rule + " " +
                                                               rep.errors.front().message);
        return r;
      }
      r.body = schemas::to_json_string(doc);
      r.content_type = "application/json";
      return r;
    }
    const adapters::adapter* ad = reg.find(p.dialect);
    if (ad == nullptr) {
      r.error = "unknown dialect " + p.dialect;
      return r;
    }
    adapters::context ctx;
    ctx.partner_id = p.id;
    ctx.partner_role = p.role;
    ctx.case_id = it.case_id;
    ctx.request_id = it.message_id;
    ctx.reference = it.recipient_reference;
    schemas::report rep;
    if (!ad->from_canonical(doc, ctx, r.body, rep)) {
      r.error = "cannot render in " + p.dialect + ": " +
                (rep.errors.empty() ? std::string("?")
                                    : rep.errors.front().location + " " + rep.errors.front().rule +
                                          " " + rep.errors.front().message);
      r.body.clear();
      return r;
    }
    r.content_type =
        ad->encoding() == schemas::encoding::xml ? "application/xml" : "application/json";
    return r;
  }

  std::chrono::milliseconds backoff(int attempts) {
    // attempts: the number made so far (>= 1). initial * 2^(attempts-1), capped, x [0.5, 1.5).
    const double base = std::min<double>(
        cfg.delivery.backoff_max_ms,
        cfg.delivery.backoff_initial_ms * std::pow(2.0, std::min(attempts - 1, 30)));
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    return std::chrono::milliseconds(static_cast<std::int64_t>(base * jitter(rng)));
  }

  void attempt(const outbox_item& it) {
    delivery_attempt a;
    a.outbox_id = it.id;
    const int attempt_no = it.attempts + 1;
    auto pit = partners.find(it.recipient);
    std::string url;
    http_answer ans;
    if (pit == partners.end() || pit->second->callback_url.empty()) {
      a.outcome = "dead";
      a.error = "partner " + it.recipient + " is not configured with a callback_url";
    } else {
      const partner_config& p = *pit->second;
      url = p.callback_url;
      rendered r = render(it, p);
      if (!r.error.empty()) {
        a.outcome = "dead";
        a.error = r.error;
      } else {
        std::vector<std::pair<std::string, std::string>> headers = {
            {"Idempotency-Key", it.message_id},
            {"ODR-Message-Id", it.message_id},
            {"ODR-Message-Type", it.message_type},
            {"ODR-Case-Id", it.case_id},
        };
        if (!p.callback_secret.empty()) {
          const auto t =
              std::chrono::duration_cast<std::chrono::seconds>(clock::now().time_since_epoch())
                  .count();
          headers.emplace_back(std::string(signature_header),
                               sign_callback(p.callback_secret, t, r.body));
        }
        client_options co;
        co.timeout = std::chrono::milliseconds(cfg.delivery.timeout_ms);
        co.ca_file = cfg.delivery.ca_file;
        co.max_answer_bytes = 64 * 1024;
        ans = http_post(url, r.body, r.content_type, headers, co);
        a.http_status = ans.status;
        if (ans.status >= 200 && ans.status < 300) {
          a.outcome = "delivered";
        } else {
          const bool transient = ans.status == 0 || ans.status == 408 || ans.status == 425 ||
                                 ans.status == 429 || ans.status >= 500;
          a.error = ans.status == 0 ? ans.error : "HTTP " + std::to_string(ans.status);
          if (!transient) {
            a.outcome = "dead";
            a.error += " (the receiver refused the message; not retried)";
          } else if (attempt_no >= static_cast<int>(std::max(1u, cfg.delivery.max_attempts))) {
            a.outcome = "dead";
            a.error += " (attempt " + std::to_string(attempt_no) + " of " +
                       std::to_string(cfg.delivery.max_attempts) + ")";
          } else {
            a.outcome = "retry";
            a.next_attempt_at = format_utc_ms(clock::now() + backoff(attempt_no));
          }
        }
      }
    }
    std::string data =
        "{\"outboxId\":" + std::to_string(it.id) + ",\"attempt\":" + std::to_string(attempt_no) +
        ",\"messageType\":" + json_string(it.message_type) + ",\"url\":" + json_string(url) +
        ",\"outcome\":" + json_string(a.outcome) + ",\"status\":" + std::to_string(a.http_status);
    if (!a.error.empty()) data += ",\"error\":" + json_string(a.error);
    if (!a.next_attempt_at.empty()) data += ",\"nextAttemptAt\":" + json_string(a.next_attempt_at);
    if (ans.status != 0) {
      // The answer: its hash and size in clear, an excerpt sealed (it may carry personal data).
      data += ",\"answerSha256\":" + json_string(to_hex(sha256(ans.body))) +
              ",\"answerBytes\":" + std::to_string(ans.body.size()) +
              ",\"answerSealed\":" + json_string(key.seal(ans.body.substr(0, 2048)));
    }
    data += '}';
    a.audit_json = std::move(data);
    const std::string outcome = a.outcome, error = a.error;
    if (!store.record_delivery_sync(std::move(a))) {
      // Not recorded: the row stays pending and is attempted again (at least once).
      log_line("error", "delivery not recorded", "outbox " + std::to_string(it.id));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return;
    }
    if (outcome != "delivered")
      log_line(outcome == "dead" ? "error" : "warn",
               outcome == "dead" ? "delivery dead" : "delivery failed",
               "outbox " + std::to_string(it.id) + " to " + it.recipient + ": " + error);
  }

  static void log_line(std::string_view level, std::string_view event, std::string_view detail) {
    const std::string line = "{\"time\":" + json_string(format_utc_ms(clock::now())) +
                             ",\"level\":" + json_string(level) +
                             ",\"event\":" + json_string(event) +
                             ",\"detail\":" + json_string(detail) + "}\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  }

  void stop() {
    {
      std::lock_guard l(mu);
      if (stopping) return;
      stopping = true;
    }
    cv.notify_all();
    work_cv.notify_all();
    if (scheduler.joinable()) scheduler.join();
    for (auto& t : workers)
      if (t.joinable()) t.join();
  }
};

delivery_engine::delivery_engine(const config& cfg, storage& store,
                                 const adapters::registry& adapters,
                                 std::shared_ptr<const schemas::schema_set> set, const pii_key& key)
    : impl_(std::make_unique<impl>(cfg, store, adapters, std::move(set), key)) {
  impl_->start();
}

delivery_engine::~delivery_engine() { stop(); }

void delivery_engine::poke() {
  {
    std::lock_guard l(impl_->mu);
    impl_->poked = true;
  }
  impl_->cv.notify_one();
}

void delivery_engine::stop() { impl_->stop(); }

}  // namespace odrgw::gateway
