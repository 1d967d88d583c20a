// The gateway's Prometheus metrics: names, types, text format 0.0.4, escaping, exact counts under
// concurrency, and bounded label sets.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <odrgw/gateway/metrics.hpp>
#include <odrgw/gateway/storage.hpp>

namespace odrgw::gateway {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

std::size_t count_prefix(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::size_t n = 0;
  for (std::string l; std::getline(in, l);)
    if (l.rfind(prefix, 0) == 0) ++n;
  return n;
}

TEST(Metrics, EveryFamilyHasHelpAndType) {
  metrics m;
  m.count_request("/v1/messages", 202);
  m.observe_request("/v1/messages", 0.002);
  m.count_validation_failure("dispute.application", "required");
  m.observe_audit_append(0.001);
  m.set_open_connections(3);
  const std::string text = m.render();
  for (const auto& [name, type] : std::vector<std::pair<std::string, std::string>>{
           {"odrgw_http_requests_total", "counter"},
           {"odrgw_http_request_duration_seconds", "histogram"},
           {"odrgw_validation_failures_total", "counter"},
           {"odrgw_audit_append_duration_seconds", "histogram"},
           {"odrgw_open_connections", "gauge"}}) {
    EXPECT_EQ(count_prefix(text, "# HELP " + name + " "), 1u) << name << "\n" << text;
    EXPECT_TRUE(has_line(text, "# TYPE " + name + " " + type)) << name << "\n" << text;
  }
  EXPECT_TRUE(has_line(text, "odrgw_open_connections 3")) << text;
  EXPECT_EQ(metrics::content_type, "text/plain; version=0.0.4; charset=utf-8");
}

TEST(Metrics, CountersByLabel) {
  metrics m;
  for (int i = 0; i < 3; ++i) m.count_request("/v1/messages", 202);
  m.count_request("/v1/messages", 422);
  m.count_validation_failure("dispute.application", "required");
  m.count_validation_failure("dispute.application", "required");
  m.count_validation_failure("", "json-syntax");
  const std::string text = m.render();
  EXPECT_TRUE(has_line(text, R"(odrgw_http_requests_total{route="/v1/messages",status="202"} 3)"))
      << text;
  EXPECT_TRUE(has_line(text, R"(odrgw_http_requests_total{route="/v1/messages",status="422"} 1)"))
      << text;
  EXPECT_TRUE(has_line(
      text,
      R"(odrgw_validation_failures_total{message_type="dispute.application",rule="required"} 2)"))
      << text;
  EXPECT_TRUE(has_line(
      text, R"(odrgw_validation_failures_total{message_type="unknown",rule="json-syntax"} 1)"))
      << text;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  metrics m;
  m.observe_request("/healthz", 0.0003);
  m.observe_request("/healthz", 0.0007);
  m.observe_request("/healthz", 0.003);
  m.observe_request("/healthz", 10);
  const std::string text = m.render();
  const std::string b = R"(odrgw_http_request_duration_seconds_bucket{route="/healthz",le=")";
  EXPECT_TRUE(has_line(text, b + R"(0.0005"} 1)")) << text;
  EXPECT_TRUE(has_line(text, b + R"(0.001"} 2)")) << text;
  EXPECT_TRUE(has_line(text, b + R"(0.005"} 3)")) << text;
  EXPECT_TRUE(has_line(text, b + R"(5"} 3)")) << text;
  EXPECT_TRUE(has_line(text, b + R"(+Inf"} 4)")) << text;
  EXPECT_TRUE(has_line(text, R"(odrgw_http_request_duration_seconds_count{route="/healthz"} 4)"))
      << text;
  EXPECT_EQ(
      count_prefix(text, R"(odrgw_http_request_duration_seconds_sum{route="/healthz"} 10.00)"), 1u)
      << text;
  // 13 finite buckets from 0.5 ms to 5 s, and +Inf.
  EXPECT_EQ(count_prefix(text, b), 14u) << text;
  m.observe_audit_append(0.002);
  EXPECT_TRUE(has_line(m.render(), R"(odrgw_audit_append_duration_seconds_bucket{le="0.0025"} 1)"));
}

TEST(Metrics, LabelValuesAreEscaped) {
  metrics m;
  m.count_request("a\"b\\c\nd", 400);
  const std::string text = m.render();
  EXPECT_TRUE(has_line(text, R"(odrgw_http_requests_total{route="a\"b\\c\nd",status="400"} 1)"))
      << text;
}

TEST(Metrics, StorageFiguresFollowTheStoragesCumulativeStats) {
  metrics m;
  storage_stats s;
  s.commits = 3;
  s.jobs = 10;
  s.syncs = 2;
  s.sync_seconds = 0.5;
  s.write_seconds = 0.25;
  s.largest_batch = 7;
  s.idempotency_waiting = 40;
  m.set_storage(s);
  m.set_storage(s);  // the same figures again: no double counting
  auto text = m.render();
  EXPECT_TRUE(has_line(text, "# TYPE odrgw_storage_commits_total counter")) << text;
  EXPECT_TRUE(has_line(text, "odrgw_storage_commits_total 3")) << text;
  EXPECT_TRUE(has_line(text, "odrgw_storage_jobs_total 10")) << text;
  EXPECT_TRUE(has_line(text, "odrgw_storage_sync_seconds_total 0.5")) << text;
  EXPECT_TRUE(has_line(text, "odrgw_storage_write_seconds_total 0.25")) << text;
  EXPECT_TRUE(has_line(text, "odrgw_storage_largest_batch 7")) << text;
  EXPECT_TRUE(has_line(text, "odrgw_storage_idempotency_waiting 40")) << text;
  s.commits = 5;
  s.jobs = 14;
  s.idempotency_waiting = 3;  // a gauge: it goes down too
  m.set_storage(s);
  text = m.render();
  EXPECT_TRUE(has_line(text, "odrgw_storage_commits_total 5")) << text;
  EXPECT_TRUE(has_line(text, "odrgw_storage_jobs_total 14")) << text;
  EXPECT_TRUE(has_line(text, "odrgw_storage_idempotency_waiting 3")) << text;
}

TEST(Metrics, GaugeMovesBothWays) {
  metrics m;
  m.connection_opened();
  m.connection_opened();
  m.connection_closed();
  EXPECT_TRUE(has_line(m.render(), "odrgw_open_connections 1"));
  m.set_open_connections(0);
  EXPECT_TRUE(has_line(m.render(), "odrgw_open_connections 0"));
}

TEST(Metrics, ExactUnderConcurrency) {
  metrics m;
  constexpr int threads = 4, per_thread = 20000;
  const char* routes[] = {"/v1/messages", "/healthz", "/v1/cases/{caseId}"};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const char* r = routes[(i + t) % 3];
        m.count_request(r, 200);
        m.observe_request(r, 0.001);
        m.count_validation_failure("t" + std::to_string(i % 7), "enum");
        m.connection_opened();
        m.connection_closed();
        if (i % 5000 == 0) (void)m.render();  // scrapes while recording
      }
    });
  for (auto& th : pool) th.join();
  const std::string text = m.render();
  // 80000 requests spread evenly over 3 routes: 26667 + 26667 + 26666.
  std::size_t total = 0;
  for (const char* r : routes) {
    const std::string prefix =
        std::string("odrgw_http_requests_total{route=\"") + r + "\",status=\"200\"} ";
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
      if (l.rfind(prefix, 0) == 0) total += std::stoul(l.substr(prefix.size()));
  }
  EXPECT_EQ(total, static_cast<std::size_t>(threads * per_thread));
  EXPECT_TRUE(has_line(text, "odrgw_open_connections 0")) << text;
  EXPECT_EQ(count_prefix(text, "odrgw_validation_failures_total{"), 7u);
}

TEST(Metrics, LabelSetsAreBounded) {
  metrics m;
  const std::size_t n = metrics::max_series + 100;
  for (std::size_t i = 0; i < n; ++i) m.count_validation_failure("type-" + std::to_string(i), "x");
  const std::string text = m.render();
  EXPECT_EQ(count_prefix(text, "odrgw_validation_failures_total{"), metrics::max_series + 1);
  EXPECT_TRUE(
      has_line(text, R"(odrgw_validation_failures_total{message_type="other",rule="other"} 100)"))
      << text;
}

TEST(Metrics, LongLabelValuesAreCut) {
  metrics m;
  // Multi-byte characters: the cut never splits one.
  std::string type;
  while (type.size() < 1000) type += "\xC3\xA9";  // é
  m.count_validation_failure(type, "enum");
  m.count_validation_failure(type + "more", "enum");  // the same series once cut
  const std::string text = m.render();
  const std::string expected = "odrgw_validation_failures_total{message_type=\"" +
                               type.substr(0, metrics::max_label_bytes) + "\",rule=\"enum\"} 2";
  EXPECT_TRUE(has_line(text, expected)) << text;
}

}  // namespace
}  // namespace odrgw::gateway
