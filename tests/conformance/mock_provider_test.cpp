// `odrgw mock-provider` as the gateway and the suites meet it: a real process on a real port,
// posting its results to a real `odrgw serve` process.
#include <string_view>

#include <gtest/gtest.h>

#include <odrgw/schemas/json.hpp>

#include "../gateway/gateway_process.hpp"

namespace odrgw::test {
namespace {

namespace fs = std::filesystem;
const std::string platform_key = "k-platform-0123456789";
const std::string provider_key = "k-provider-0123456789";

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  schemas::json_error err;
  EXPECT_TRUE(schemas::parse_json(s, d, {}, err)) << err.message << "\n" << s;
  return d;
}

reply post_to(unsigned short port, const std::string& body, const std::string& key,
              const std::string& target = "/v1/messages") {
  request_spec r;
  r.method = http::verb::post;
  r.target = target;
  r.body = body;
  r.bearer = key;
  return send(port, r);
}

reply get_from(unsigned short port, const std::string& target, const std::string& key = "") {
  request_spec r;
  r.target = target;
  r.bearer = key;
  return send(port, r);
}

class MockProvider : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir.path / "odrgw.yaml")
        << "listen: 127.0.0.1:0\nthreads: 1\n"
        << "storage: { sqlite: " << (dir.path / "odrgw.db").string() << " }\n"
        << "audit: { pii_key_file: " << (dir.path / "pii.key").string() << " }\n"
        << "partners:\n"
        << "  - { id: platform-gb, role: platform, api_key_sha256: " << sha256_hex(platform_key)
        << " }\n"
        << "  - { id: mock-provider, role: odr-provider, api_key_sha256: "
        << sha256_hex(provider_key) << " }\n"
        << "routing: { default_provider: mock-provider }\n";
    gw.emplace(dir.path / "odrgw.yaml", dir.path / "odrgw.log");
  }

  void start_mock(const std::string& mode, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"mock-provider",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--gateway",
                                     "http://127.0.0.1:" + std::to_string(gw->port()),
                                     "--token",
                                     provider_key,
                                     "--delay-ms",
                                     "50",
                                     "--mode",
                                     mode};
    args.insert(args.end(), extra.begin(), extra.end());
    mock.emplace(args, dir.path / "mock.log");
  }

  // Files an application at the gateway (addressed to the provider) and returns it with the
  // caseId the gateway assigned: what the outbox will deliver.
  std::string filed_application(int n) {
    auto d = parse(
        slurp(fs::path(ODRGW_SOURCE_DIR) / "schemas/v1/examples/valid/dispute.application.json"));
    auto& a = d.GetAllocator();
    char id[40];
    std::snprintf(id, sizeof id, "6f1c2a9e-0000-4000-8000-%012d", n);
    d["messageId"].SetString(id, a);
    d["recipient"]["partyId"].SetString("mock-provider", a);
    d["recipient"]["role"].SetString("odr-provider", a);
    d["sender"]["partyId"].SetString("platform-gb", a);
    d["sender"]["role"].SetString("platform", a);
    // Filed at the provider's tier (T3): at T1 the platform's own desk would take it.
    d["payload"]["tier"].SetString("T3", a);
    const auto r = post_to(gw->port(), schemas::to_json_string(d), platform_key);
    EXPECT_EQ(r.status, 202) << r.body;
    const auto receipt = parse(r.body);
    d.AddMember("caseId", rapidjson::Value(receipt["caseId"].GetString(), a), a);
    case_id = receipt["caseId"].GetString();
    return schemas::to_json_string(d);
  }

  // Polls the mock's log until `pred` holds (results are sent asynchronously).
  rapidjson::Document wait_for_log(const std::function<bool(const rapidjson::Document&)>& pred) {
    for (int i = 0; i < 200; ++i) {
      auto log = parse(get_from(mock->port(), "/mock/log").body);
      if (pred(log)) return log;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    auto log = parse(get_from(mock->port(), "/mock/log").body);
    ADD_FAILURE() << "timed out; log: " << schemas::to_json_string(log)
                  << "\nmock: " << slurp(dir.path / "mock.log");
    return log;
  }

  temp_dir dir{"mock-" +
               std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())};
  std::optional<gateway_process> gw;
  std::optional<gateway_process> mock;
  std::string case_id;
};

TEST_F(MockProvider, AcceptsDeduplicatesAndSendsTheAcceptanceToTheGateway) {
  start_mock("conforming");
  const std::string app = filed_application(1);
  const auto first = post_to(mock->port(), app, "", "/odr/messages");
  ASSERT_EQ(first.status, 202) << first.body;
  const auto receipt = parse(first.body);
  EXPECT_STREQ(receipt["messageId"].GetString(), "6f1c2a9e-0000-4000-8000-000000000001");
  // A repeat is a duplicate: the same receipt, and no second set of results.
  const auto again = post_to(mock->port(), app, "", "/odr/messages");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body);

  const auto log = wait_for_log([](const rapidjson::Document& l) { return l["sent"].Size() >= 1; });
  ASSERT_EQ(log["received"].Size(), 1u);
  EXPECT_EQ(log["received"][0]["count"].GetInt(), 2);
  ASSERT_EQ(log["sent"].Size(), 1u);
  EXPECT_STREQ(log["sent"][0]["messageType"].GetString(), "dispute.acceptance");
  EXPECT_EQ(log["sent"][0]["status"].GetInt(), 202);
  // The gateway stored it on the case: the platform sees the provider's acceptance.
  const auto view = parse(get_from(gw->port(), "/v1/cases/" + case_id, platform_key).body);
  // (Besides the gateway's own stage.changed and deadline.notice messages.)
  int acceptances = 0;
  for (const auto& m : view["messages"].GetArray()) {
    if (std::string_view(m["messageType"].GetString()) != "dispute.acceptance") continue;
    ++acceptances;
    EXPECT_STREQ(m["sender"].GetString(), "mock-provider");
  }
  EXPECT_EQ(acceptances, 1);
}

TEST_F(MockProvider, RefusesBadMessagesWithProblemJson) {
  start_mock("conforming");
  auto r = post_to(mock->port(), "{\"messageType\": ", "");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/problem+json");
  auto bad = parse(filed_application(2));
  bad["payload"]["price"]["currency"].SetString("XYZ", bad.GetAllocator());
  r = post_to(mock->port(), schemas::to_json_string(bad), "");
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_STREQ(parse(r.body)["errors"][0]["location"].GetString(), "/payload/price/currency");
  EXPECT_EQ(get_from(mock->port(), "/healthz").status, 200);
}

TEST_F(MockProvider, RejectAllAndFlakyFailOnPurpose) {
  start_mock("reject-all");
  auto r = post_to(mock->port(), filed_application(3), "");
  EXPECT_EQ(r.status, 422);
  EXPECT_STREQ(parse(r.body)["errors"][0]["rule"].GetString(), "mock-reject-all");
  mock.reset();
  start_mock("flaky", {"--fail-rate", "1"});
  EXPECT_EQ(post_to(mock->port(), filed_application(4), "").status, 503);
}

TEST_F(MockProvider, SlowAnswersLate) {
  start_mock("slow", {"--slow-ms", "400"});
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(post_to(mock->port(), filed_application(5), "").status, 202);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(400));
}

TEST_F(MockProvider, DuplicateResultsAreReplaysAtTheGateway) {
  start_mock("duplicate-results");
  ASSERT_EQ(post_to(mock->port(), filed_application(6), "").status, 202);
  const auto log = wait_for_log([](const rapidjson::Document& l) { return l["sent"].Size() >= 2; });
  ASSERT_EQ(log["sent"].Size(), 2u);
  EXPECT_STREQ(log["sent"][0]["messageId"].GetString(), log["sent"][1]["messageId"].GetString());
  EXPECT_EQ(log["sent"][0]["status"].GetInt(), 202);
  EXPECT_EQ(log["sent"][1]["status"].GetInt(), 200);  // the gateway's idempotent replay
}

TEST_F(MockProvider, InvalidResultsAreRefusedByTheGateway) {
  start_mock("invalid-results");
  ASSERT_EQ(post_to(mock->port(), filed_application(7), "").status, 202);
  const auto log = wait_for_log([](const rapidjson::Document& l) { return l["sent"].Size() >= 1; });
  EXPECT_EQ(log["sent"][0]["status"].GetInt(), 422);
}

TEST_F(MockProvider, UnknownModeIsAUsageError) {
  const int st = std::system(
      (std::string(ODRGW_CLI) + " mock-provider --mode sometimes >/dev/null 2>&1").c_str());
  EXPECT_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 2);
}

}  // namespace
}  // namespace odrgw::test
