#pragma once
// The gateway's Prometheus metrics (prometheus-cpp behind a small facade): thread-safe, recorded
// on the request path, rendered for GET /metrics in the text exposition format 0.0.4.
//
//   odrgw_http_requests_total{route,status}               counter
//   odrgw_http_request_duration_seconds{route}            histogram, 0.0005 s .. 5 s
//   odrgw_validation_failures_total{message_type,rule}    counter
//   odrgw_audit_append_duration_seconds                   histogram, 0.0005 s .. 5 s
//   odrgw_open_connections                                gauge
//   odrgw_storage_commits_total, _jobs_total, _failed_batches_total, _checkpoints_total,
//   odrgw_storage_syncs_total                             counters (group commit, WAL fsyncs)
//   odrgw_storage_write_seconds_total                     counter: the writer's time in batches
//   odrgw_storage_sync_seconds_total                      counter: time in WAL fdatasync
//   odrgw_storage_largest_batch                           gauge
//   (the storage_* series are taken from storage::stats() when /metrics is rendered)
//
// Label values should come from small sets (route templates such as "/v1/cases/{caseId}", never
// raw paths). Values from the outside (a document's messageType) are bounded here anyway: each is
// cut to max_label_bytes, and once a family holds max_series label sets, further new ones are
// counted under the single label set where every value is "other".
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace odrgw::gateway {

struct storage_stats;

class metrics {
 public:
  static constexpr std::size_t max_series = 500;       // per family
  static constexpr std::size_t max_label_bytes = 128;  // per label value
  // The Content-Type of render()'s output.
  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

  metrics();
  ~metrics();
  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  // Every recording function is thread-safe and const: counting does not change what the owner
  // observes, so a const service can count.
  void count_request(std::string_view route, int status) const;
  void observe_request(std::string_view route, double seconds) const;
  void count_validation_failure(std::string_view message_type, std::string_view rule) const;
  void observe_audit_append(double seconds) const;
  void set_open_connections(double n) const;
  void connection_opened() const;
  void connection_closed() const;
  // Brings the storage_* series up to `s` (cumulative figures: counters move by the difference).
  void set_storage(const storage_stats& s) const;

  // A consistent-enough snapshot (each series is read atomically) in text format 0.0.4.
  std::string render() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace odrgw::gateway
