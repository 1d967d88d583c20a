// prometheus-cpp keeps the values and writes the text format; this file adds what the request
// path needs on top: a read-mostly cache from label values to series (prometheus-cpp's
// Family::Add allocates a series object on every call, even for one that exists) and bounds on
// label values that come from outside.
#include <odrgw/gateway/metrics.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <odrgw/gateway/storage.hpp>

namespace odrgw::gateway {
namespace {

// Request latency and audit appends: 0.5 ms (a lean request) to 5 s (something is wrong).
const prometheus::Histogram::BucketBoundaries latency_buckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

// Cut to `max` bytes without splitting a UTF-8 sequence.
std::string_view bounded(std::string_view v) {
  if (v.size() <= metrics::max_label_bytes) return v;
  std::size_t n = metrics::max_label_bytes;
  while (n > 0 && (static_cast<unsigned char>(v[n]) & 0xC0) == 0x80) --n;
  return v.substr(0, n);
}

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

// One family's series by label values. Lookups share a lock; only a new label set takes it
// exclusively, and series live as long as the registry, so the returned reference stays valid.
template <typename T>
class series_cache {
 public:
  using make_fn = std::function<T&(const prometheus::Labels&)>;
  series_cache(std::vector<std::string> names, make_fn make)
      : names_(std::move(names)), make_(std::move(make)) {}

  template <std::size_t N>
  T& get(const std::array<std::string_view, N>& values) const {
    thread_local std::string key;
    key.clear();
    for (const auto v : values) {
      key.append(bounded(v));
      key.push_back('\x1f');  // a separator no route or rule contains
    }
    {
      std::shared_lock lock(mutex_);
      if (auto it = series_.find(std::string_view(key)); it != series_.end()) return *it->second;
    }
    std::unique_lock lock(mutex_);
    if (auto it = series_.find(std::string_view(key)); it != series_.end()) return *it->second;
    prometheus::Labels labels;
    if (series_.size() >= metrics::max_series) {
      key.clear();
      for (std::size_t i = 0; i < N; ++i) {
        key.append("other\x1f");
        labels.emplace(names_[i], "other");
      }
      if (auto it = series_.find(std::string_view(key)); it != series_.end()) return *it->second;
    } else {
      for (std::size_t i = 0; i < N; ++i)
        labels.emplace(names_[i], std::string(bounded(values[i])));
    }
    T& s = make_(labels);
    series_.emplace(key, &s);
    return s;
  }

 private:
  std::vector<std::string> names_;
  make_fn make_;
  mutable std::shared_mutex mutex_;
  mutable std::unordered_map<std::string, T*, string_hash, std::equal_to<>> series_;
};

}  // namespace

struct metrics::impl {
  prometheus::Registry registry;
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("odrgw_http_requests_total")
          .Help("HTTP requests answered, by route template and status code.")
          .Register(registry);
  prometheus::Family<prometheus::Histogram>& request_duration =
      prometheus::BuildHistogram()
          .Name("odrgw_http_request_duration_seconds")
          .Help("Time from a complete request to its response, by route template.")
          .Register(registry);
  prometheus::Family<prometheus::Counter>& validation_failures =
      prometheus::BuildCounter()
          .Name("odrgw_validation_failures_total")
          .Help("Errors found in rejected messages, by message type and schema rule.")
          .Register(registry);
  prometheus::Histogram& audit_append =
      prometheus::BuildHistogram()
          .Name("odrgw_audit_append_duration_seconds")
          .Help("Time to append to the audit log durably (including the wait for group commit).")
          .Register(registry)
          .Add({}, latency_buckets);
  prometheus::Gauge& open_connections = prometheus::BuildGauge()
                                            .Name("odrgw_open_connections")
                                            .Help("Client connections open now.")
                                            .Register(registry)
                                            .Add({});

  prometheus::Counter& storage_counter(const char* name, const char* help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
  }
  prometheus::Counter& commits = storage_counter(
      "odrgw_storage_commits_total", "Batches the storage writer committed (group commit).");
  prometheus::Counter& jobs = storage_counter(
      "odrgw_storage_jobs_total", "Stores and audit appends completed by those commits.");
  prometheus::Counter& failed_batches = storage_counter(
      "odrgw_storage_failed_batches_total", "Batches whose transaction or fsync failed.");
  prometheus::Counter& checkpoints =
      storage_counter("odrgw_storage_checkpoints_total", "WAL checkpoint passes.");
  prometheus::Counter& syncs = storage_counter(
      "odrgw_storage_syncs_total", "fdatasyncs of the WAL that acknowledged committed batches.");
  prometheus::Counter& write_seconds =
      storage_counter("odrgw_storage_write_seconds_total",
                      "Time the storage writer spent running batches (BEGIN to COMMIT).");
  prometheus::Counter& sync_seconds =
      storage_counter("odrgw_storage_sync_seconds_total", "Time spent in fdatasync of the WAL.");
  prometheus::Gauge& idempotency_waiting =
      prometheus::BuildGauge()
          .Name("odrgw_storage_idempotency_waiting")
          .Help("Partners' idempotency keys committed and held in memory, not yet in their table.")
          .Register(registry)
          .Add({});
  prometheus::Gauge& largest_batch = prometheus::BuildGauge()
                                         .Name("odrgw_storage_largest_batch")
                                         .Help("Most jobs committed in one batch so far.")
                                         .Register(registry)
                                         .Add({});
  std::mutex storage_mu;
  storage_stats storage_seen;  // what the counters hold

  series_cache<prometheus::Counter> requests_by{
      {"route", "status"},
      [this](const prometheus::Labels& l) -> prometheus::Counter& { return requests.Add(l); }};
  series_cache<prometheus::Histogram> duration_by{
      {"route"}, [this](const prometheus::Labels& l) -> prometheus::Histogram& {
        return request_duration.Add(l, latency_buckets);
      }};
  series_cache<prometheus::Counter> failures_by{
      {"message_type", "rule"}, [this](const prometheus::Labels& l) -> prometheus::Counter& {
        return validation_failures.Add(l);
      }};
};

metrics::metrics() : impl_(std::make_unique<impl>()) {}
metrics::~metrics() = default;

void metrics::count_request(std::string_view route, int status) const {
  char buf[16];
  const int n = std::snprintf(buf, sizeof buf, "%d", status);
  impl_->requests_by.get(std::array{route, std::string_view(buf, static_cast<std::size_t>(n))})
      .Increment();
}

void metrics::observe_request(std::string_view route, double seconds) const {
  impl_->duration_by.get(std::array{route}).Observe(seconds);
}

void metrics::count_validation_failure(std::string_view message_type, std::string_view rule) const {
  // A document too broken to name its type still counts.
  if (message_type.empty()) message_type = "unknown";
  impl_->failures_by.get(std::array{message_type, rule}).Increment();
}

void metrics::observe_audit_append(double seconds) const { impl_->audit_append.Observe(seconds); }

void metrics::set_open_connections(double n) const { impl_->open_connections.Set(n); }
void metrics::connection_opened() const { impl_->open_connections.Increment(); }
void metrics::connection_closed() const { impl_->open_connections.Decrement(); }

void metrics::set_storage(const storage_stats& s) const {
  auto& m = *impl_;
  std::lock_guard lock(m.storage_mu);
  auto& seen = m.storage_seen;
  auto up = [](prometheus::Counter& c, auto now, auto& before) {
    if (now > before) c.Increment(static_cast<double>(now - before));
    before = std::max(before, now);
  };
  up(m.commits, s.commits, seen.commits);
  up(m.jobs, s.jobs, seen.jobs);
  up(m.failed_batches, s.failed_batches, seen.failed_batches);
  up(m.checkpoints, s.checkpoints, seen.checkpoints);
  up(m.syncs, s.syncs, seen.syncs);
  up(m.write_seconds, s.write_seconds, seen.write_seconds);
  up(m.sync_seconds, s.sync_seconds, seen.sync_seconds);
  m.largest_batch.Set(static_cast<double>(s.largest_batch));
  m.idempotency_waiting.Set(static_cast<double>(s.idempotency_waiting));
}

std::string metrics::render() const {
  return prometheus::TextSerializer().Serialize(impl_->registry.Collect());
}

}  // namespace odrgw::gateway
