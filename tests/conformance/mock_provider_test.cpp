// `odrgw mock-provider` as the gateway and the suites meet it: a real process on a real port,
// posting its results to a real `odrgw serve` process.
#include <gtest/gtest.h>

#include <ctime>
#include <mutex>
#include <thread>

#include <odrgw/adapters/mapping.hpp>
#include <odrgw/gateway/callback.hpp>
#include <odrgw/schemas/json.hpp>
#include <odrgw/schemas/xml.hpp>

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
        << "routing: { default_provider: mock-provider }\n"
        << "partners:\n"
        << "  - { id: platform-gb, role: platform, api_key_sha256: " << sha256_hex(platform_key)
        << " }\n"
        << "  - { id: mock-provider, role: odr-provider, api_key_sha256: "
        << sha256_hex(provider_key) << " }\n";
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
    // Filed directly with the external provider (T3): the gateway routes the case to the mock,
    // whose acceptance the state machine then expects.
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
  EXPECT_STREQ(view["state"].GetString(), "negotiation");
  EXPECT_STREQ(view["provider"].GetString(), "mock-provider");
  std::vector<std::string> from_partners;
  for (const auto& m : view["messages"].GetArray())
    if (std::string_view(m["sender"].GetString()) != "odrgw")
      from_partners.push_back(std::string(m["messageType"].GetString()) + " from " +
                              m["sender"].GetString());
  ASSERT_EQ(from_partners.size(), 2u);
  EXPECT_EQ(from_partners[1], "dispute.acceptance from mock-provider");
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

// ---- dialects, signatures, retries: the mock against a small results receiver ------------------

// A results receiver standing in for the gateway: a real HTTP server on its own thread that
// records every request and answers with the next of `statuses` (then 202), one per connection.
class receiver {
 public:
  struct got {
    std::string content_type, idempotency_key, authorization, body;
  };

  explicit receiver(std::vector<int> statuses = {}) : statuses_(std::move(statuses)) {
    const boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { run(); });
  }
  ~receiver() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    try {  // wakes the blocking accept
      boost::asio::io_context ioc;
      boost::asio::ip::tcp::socket s(ioc);
      s.connect({boost::asio::ip::make_address("127.0.0.1"), port_});
    } catch (const std::exception&) {
    }
    thread_.join();
  }
  receiver(const receiver&) = delete;
  receiver& operator=(const receiver&) = delete;

  unsigned short port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // What arrived once at least `n` requests did (or after 10 s).
  std::vector<got> wait_for(std::size_t n) {
    for (int i = 0; i < 400; ++i) {
      {
        std::lock_guard lock(mu_);
        if (got_.size() >= n) return got_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  void run() {
    for (;;) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket s(ioc_);
      acceptor_.accept(s, ec);
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      if (ec) continue;
      boost::beast::flat_buffer buf;
      http::request<http::string_body> req;
      http::read(s, buf, req, ec);
      if (ec) continue;
      int status = 202;
      {
        std::lock_guard lock(mu_);
        got_.push_back({std::string(req[http::field::content_type]),
                        std::string(req["Idempotency-Key"]),
                        std::string(req[http::field::authorization]), req.body()});
        if (next_ < statuses_.size()) status = statuses_[next_++];
      }
      http::response<http::string_body> res{static_cast<http::status>(status), 11};
      res.set(http::field::content_type, "application/json");
      res.keep_alive(false);
      res.body() = "{}";
      res.prepare_payload();
      http::write(s, res, ec);
      s.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    }
  }

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  unsigned short port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  bool stopping_ = false;
  std::vector<int> statuses_;
  std::size_t next_ = 0;
  std::vector<got> got_;
};

// POSTs `body` as a gateway delivery with extra headers.
reply deliver(unsigned short port, const std::string& body, const std::string& content_type,
              const std::vector<std::pair<std::string, std::string>>& headers) {
  request_spec rs;
  rs.method = http::verb::post;
  rs.target = "/odr/messages";
  rs.body = body;
  rs.content_type = content_type;
  auto req = make_request(rs);
  for (const auto& [name, value] : headers) req.set(name, value);
  boost::asio::io_context ioc;
  boost::beast::tcp_stream s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  s.expires_after(std::chrono::seconds(30));
  http::write(s, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  return {static_cast<int>(res.result_int()), res.body(),
          std::string(res[http::field::content_type]), ""};
}

class MockProviderDialect : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { schemas::xml_init(); }

  void start_mock(std::vector<std::string> extra) {
    std::vector<std::string> args = {"mock-provider", "--listen",   "127.0.0.1:0",
                                     "--gateway",     rcv->url(),   "--token",
                                     provider_key,    "--delay-ms", "20"};
    args.insert(args.end(), extra.begin(), extra.end());
    mock.emplace(args, dir.path / "mock.log");
  }

  // A v1 example as the gateway delivers it to the provider: on case `case_id`, from
  // platform-gb (or the gateway itself), to mock-provider.
  rapidjson::Document delivery(const std::string& example, int n, bool from_gateway = false) {
    auto d = parse(slurp(fs::path(ODRGW_SOURCE_DIR) / "schemas/v1/examples/valid" / example));
    auto& a = d.GetAllocator();
    char id[40];
    std::snprintf(id, sizeof id, "7a2d3b8f-0000-4000-8000-%012d", n);
    d["messageId"].SetString(id, a);
    if (d.HasMember("caseId")) d.RemoveMember("caseId");
    d.AddMember("caseId", rapidjson::Value(case_id.c_str(), a), a);
    d["sender"]["partyId"].SetString(from_gateway ? "odrgw" : "platform-gb", a);
    d["sender"]["role"].SetString(from_gateway ? "gateway" : "platform", a);
    d["recipient"]["partyId"].SetString("mock-provider", a);
    d["recipient"]["role"].SetString("odr-provider", a);
    return d;
  }

  std::vector<std::pair<std::string, std::string>> delivery_headers(const rapidjson::Value& d) {
    const std::string id = d["messageId"].GetString();
    return {{"Idempotency-Key", id}, {"ODR-Message-Id", id}, {"ODR-Case-Id", case_id}};
  }

  const adapters::adapter& provider_xml() {
    if (!reg) {
      reg.emplace(adapters::registry::builtin(set));
      adapters::load_mapping_dialects(dialects_dir(), set, *reg);
    }
    return *reg->find("provider-xml-v1");
  }

  static std::string dialects_dir() {
    return (fs::path(ODRGW_SOURCE_DIR) / "adapters/dialects").string();
  }

  rapidjson::Document mock_log() { return parse(get_from(mock->port(), "/mock/log").body); }

  temp_dir dir{"mockd-" +
               std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())};
  std::shared_ptr<const schemas::schema_set> set = schemas::schema_set::builtin();
  std::optional<adapters::registry> reg;
  std::optional<receiver> rcv{std::in_place};
  std::optional<gateway_process> mock;
  std::string case_id = "ODR-2026-000900";
};

TEST_F(MockProviderDialect, ReadsProviderXmlAndAnswersInIt) {
  start_mock({"--dialect", "provider-xml-v1", "--adapter-dir", dialects_dir()});
  const auto app = delivery("dispute.application.json", 1);
  adapters::context ctx;
  ctx.partner_id = "mock-provider";
  ctx.partner_role = "odr-provider";
  std::string xml;
  schemas::report r;
  ASSERT_TRUE(provider_xml().from_canonical(app, ctx, xml, r))
      << (r.errors.empty() ? "" : r.errors[0].location + ": " + r.errors[0].message);
  const auto first = deliver(mock->port(), xml, "application/xml", delivery_headers(app));
  ASSERT_EQ(first.status, 202) << first.body;
  EXPECT_STREQ(parse(first.body)["messageId"].GetString(), app["messageId"].GetString());
  // The gateway redelivers (at least once): the same receipt, no second acceptance.
  const auto again = deliver(mock->port(), xml, "application/xml", delivery_headers(app));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body);

  ASSERT_EQ(rcv->wait_for(1).size(), 1u) << slurp(dir.path / "mock.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // > --delay-ms
  const auto got = rcv->wait_for(1);
  ASSERT_EQ(got.size(), 1u) << slurp(dir.path / "mock.log");
  EXPECT_EQ(got[0].content_type, "application/xml");
  EXPECT_EQ(got[0].authorization, "Bearer " + provider_key);
  // The result is provider-xml-v1: the adapter reads it back as the acceptance of the case.
  rapidjson::Document result;
  adapters::context in;
  in.partner_id = "mock-provider";
  in.partner_role = "odr-provider";
  ASSERT_TRUE(provider_xml().to_canonical(got[0].body, in, result, r))
      << got[0].body << "\n"
      << (r.errors.empty() ? "" : r.errors[0].location + ": " + r.errors[0].message);
  EXPECT_STREQ(result["messageType"].GetString(), "dispute.acceptance");
  EXPECT_EQ(got[0].idempotency_key, result["messageId"].GetString());
  EXPECT_STREQ(result["payload"]["decision"].GetString(), "accepted");
  EXPECT_STREQ(result["payload"]["tier"].GetString(), "T3");
  EXPECT_EQ(result["caseId"].GetString(), case_id);
  EXPECT_STREQ(result["inReplyTo"].GetString(), app["messageId"].GetString());
  EXPECT_STREQ(result["recipient"]["partyId"].GetString(), "platform-gb");
  EXPECT_STREQ(result["sender"]["partyId"].GetString(), "mock-provider");
}

TEST_F(MockProviderDialect, RepeatedDeliveryIsAnsweredWithTheReceiptAndNoNewResults) {
  start_mock({"--dialect", "canonical-json"});
  const auto app = delivery("dispute.application.json", 2);
  const std::string body = schemas::to_json_string(app);
  const auto first = deliver(mock->port(), body, "application/json", delivery_headers(app));
  ASSERT_EQ(first.status, 202) << first.body;
  ASSERT_EQ(rcv->wait_for(1).size(), 1u);
  for (int i = 0; i < 2; ++i) {  // at-least-once: the gateway redelivers, same messageId
    const auto again = deliver(mock->port(), body, "application/json", delivery_headers(app));
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.body, first.body);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // > --delay-ms
  EXPECT_EQ(rcv->wait_for(1).size(), 1u);
  const auto log = mock_log();
  ASSERT_EQ(log["received"].Size(), 1u);
  EXPECT_EQ(log["received"][0]["count"].GetInt(), 3);
  ASSERT_EQ(log["received"][0]["idempotencyKeys"].Size(), 1u);
  EXPECT_STREQ(log["received"][0]["idempotencyKeys"][0].GetString(), app["messageId"].GetString());
  EXPECT_EQ(log["sent"].Size(), 1u);
}

TEST_F(MockProviderDialect, RequiresAValidSignatureWithASecret) {
  const std::string secret = "whsec-0123456789abcdef";
  std::ofstream(dir.path / "secret") << secret << "\n";
  start_mock({"--secret-file", (dir.path / "secret").string()});
  const auto app = delivery("dispute.application.json", 3);
  const std::string body = schemas::to_json_string(app);
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto with = [&](const std::string& sig) {
    auto h = delivery_headers(app);
    if (!sig.empty()) h.emplace_back("ODR-Signature", sig);
    return deliver(mock->port(), body, "application/json", h);
  };
  const auto unsigned_ = with("");
  EXPECT_EQ(unsigned_.status, 401);
  EXPECT_EQ(unsigned_.content_type, "application/problem+json");
  EXPECT_STREQ(parse(unsigned_.body)["errors"][0]["rule"].GetString(), "malformed");
  const auto bad = with(gateway::sign_callback("another-secret", now, body));
  EXPECT_EQ(bad.status, 401);
  EXPECT_STREQ(parse(bad.body)["errors"][0]["rule"].GetString(), "bad-signature");
  const auto old = with(gateway::sign_callback(secret, now - 3600, body));
  EXPECT_EQ(old.status, 401);
  EXPECT_STREQ(parse(old.body)["errors"][0]["rule"].GetString(), "outside-window");
  const auto tampered = with(gateway::sign_callback(secret, now, body + " "));
  EXPECT_EQ(tampered.status, 401);
  const auto good = with(gateway::sign_callback(secret, now, body));
  EXPECT_EQ(good.status, 202) << good.body;

  const auto log = mock_log();
  ASSERT_EQ(log["rejected"].Size(), 4u);
  EXPECT_STREQ(log["rejected"][0]["verdict"].GetString(), "malformed");
  EXPECT_STREQ(log["rejected"][1]["verdict"].GetString(), "bad-signature");
  EXPECT_STREQ(log["rejected"][2]["verdict"].GetString(), "outside-window");
  EXPECT_STREQ(log["rejected"][3]["verdict"].GetString(), "bad-signature");
  ASSERT_EQ(log["received"].Size(), 1u);  // only the signed delivery counts
  EXPECT_EQ(log["received"][0]["count"].GetInt(), 1);
  EXPECT_STREQ(log["received"][0]["signature"].GetString(), "valid");
}

TEST_F(MockProviderDialect, RetriesResultsUntilTheGatewayAnswers) {
  rcv.reset();
  rcv.emplace(std::vector<int>{503, 502});
  start_mock({"--dialect", "canonical-xml"});
  const auto app = delivery("dispute.application.json", 4);
  ASSERT_EQ(
      deliver(mock->port(), schemas::to_json_string(app), "application/json", delivery_headers(app))
          .status,
      202);
  const auto got = rcv->wait_for(3);
  ASSERT_EQ(got.size(), 3u) << slurp(dir.path / "mock.log");
  for (const auto& g : got) {  // the same result each time: the same messageId
    EXPECT_EQ(g.idempotency_key, got[0].idempotency_key);
    EXPECT_EQ(g.body, got[0].body);
    EXPECT_EQ(g.content_type, "application/xml");
  }
  rapidjson::Document d;
  for (int i = 0; i < 100; ++i) {
    d = mock_log();
    if (d["sent"].Size() >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_EQ(d["sent"].Size(), 1u);
  EXPECT_EQ(d["sent"][0]["status"].GetInt(), 202);
  EXPECT_EQ(d["sent"][0]["attempts"].GetInt(), 3);
}

TEST_F(MockProviderDialect, FollowsTheCaseStateMachine) {
  start_mock({});
  const auto app = delivery("dispute.application.json", 5);
  ASSERT_EQ(
      deliver(mock->port(), schemas::to_json_string(app), "application/json", delivery_headers(app))
          .status,
      202);
  ASSERT_EQ(rcv->wait_for(1).size(), 1u);
  // Escalation to T4: the neutral's appointment, then a proposal, in that order.
  auto esc = delivery("escalation.request.json", 6);
  esc["payload"]["toTier"].SetString("T4");
  ASSERT_EQ(
      deliver(mock->port(), schemas::to_json_string(esc), "application/json", delivery_headers(esc))
          .status,
      202)
      << slurp(dir.path / "mock.log");
  // The gateway's own stage.changed into arbitration: an award for the complainant side.
  auto stage = delivery("stage.changed.json", 7, true);
  stage["payload"]["fromTier"].SetString("T4");
  stage["payload"]["toTier"].SetString("T5");
  stage["payload"]["fromState"].SetString("mediation");
  stage["payload"]["toState"].SetString("arbitration");
  ASSERT_EQ(deliver(mock->port(), schemas::to_json_string(stage), "application/json",
                    delivery_headers(stage))
                .status,
            202)
      << slurp(dir.path / "mock.log");
  // An escalation straight to T5 (both parties agreed to arbitration): the award.
  auto esc5 = delivery("escalation.request.json", 8);
  esc5["payload"]["toTier"].SetString("T5");
  ASSERT_EQ(deliver(mock->port(), schemas::to_json_string(esc5), "application/json",
                    delivery_headers(esc5))
                .status,
            202)
      << slurp(dir.path / "mock.log");

  const auto got = rcv->wait_for(5);
  ASSERT_EQ(got.size(), 5u) << slurp(dir.path / "mock.log");
  std::vector<std::string> types;
  std::vector<std::string> recipients;
  for (const auto& g : got) {
    const auto d = parse(g.body);
    types.emplace_back(d["messageType"].GetString());
    recipients.emplace_back(d["recipient"]["partyId"].GetString());
    EXPECT_EQ(g.idempotency_key, d["messageId"].GetString());
  }
  EXPECT_EQ(types, (std::vector<std::string>{"dispute.acceptance", "mediation.neutral-appointed",
                                             "mediation.proposal", "arbitration.award",
                                             "arbitration.award"}));
  EXPECT_EQ(recipients[3], "platform-gb");  // not the gateway: the application's sender
  EXPECT_EQ(recipients[4], "platform-gb");  // the escalation's sender
}

TEST_F(MockProviderDialect, SkipsResultsTheDialectCannotCarry) {
  // A mapping dialect written here: it reads escalations (the caseId from the delivery's
  // ODR-Case-Id header) and can carry none of the results an escalation to T4 gets.
  const auto dialects = dir.path / "dialects";
  fs::create_directories(dialects / "escalation-only-v1");
  std::ofstream(dialects / "escalation-only-v1/esc.schema.json")
      << R"({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
             "required": ["t"], "properties": {"t": {"type": "string"}}})";
  std::ofstream(dialects / "escalation-only-v1/dialect.yaml") << R"(dialect: escalation-only-v1
encoding: json
description: reads escalations only (a mock-provider test)
schema: esc.schema.json
envelope:
  - {canonical: /messageId, source: /id, context: message_id}
  - {canonical: /specVersion, const: "1.0"}
  - {canonical: /caseId, source: /case, context: case_id}
  - {canonical: /sender/partyId, source: /from, required: true}
  - {canonical: /sender/role, source: /role, required: true}
  - {canonical: /recipient/partyId, context: partner_id}
  - {canonical: /recipient/role, context: partner_role}
  - {canonical: /sentAt, source: /sent, context: received_at, required: true}
messages:
  - type: escalation.request
    direction: in
    match: {source: /t, value: escalate}
    fields:
      - {canonical: /payload/requestedBy, source: /by, required: true}
      - {canonical: /payload/fromTier, source: /fromTier, required: true}
      - {canonical: /payload/toTier, source: /toTier, required: true}
      - {canonical: /payload/reasonCode, source: /code, required: true}
      - {canonical: /payload/reason, source: /why}
)";
  start_mock({"--dialect", "escalation-only-v1", "--adapter-dir", dialects.string()});
  const std::string id = "7a2d3b8f-0000-4000-8000-000000000010";
  const std::string body =
      R"({"t": "escalate", "id": ")" + id +
      R"(", "from": "consumer-4711", "role": "consumer", "sent": "2026-10-09T20:11:37Z",
          "by": "consumer", "fromTier": "T3", "toTier": "T4", "code": "negotiation-failed",
          "why": "No agreement."})";
  const auto r =
      deliver(mock->port(), body, "application/json",
              {{"Idempotency-Key", id}, {"ODR-Message-Id", id}, {"ODR-Case-Id", case_id}});
  ASSERT_EQ(r.status, 202) << r.body;
  rapidjson::Document log;
  for (int i = 0; i < 200; ++i) {
    log = mock_log();
    if (log["skipped"].Size() >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_EQ(log["skipped"].Size(), 2u) << slurp(dir.path / "mock.log");
  EXPECT_STREQ(log["skipped"][0]["messageType"].GetString(), "mediation.neutral-appointed");
  EXPECT_STREQ(log["skipped"][1]["messageType"].GetString(), "mediation.proposal");
  EXPECT_STREQ(log["skipped"][0]["inReplyTo"].GetString(), id.c_str());
  EXPECT_NE(std::string(log["skipped"][0]["reason"].GetString()).find("cannot carry"),
            std::string::npos);
  ASSERT_EQ(log["received"].Size(), 1u);
  EXPECT_EQ(log["received"][0]["caseId"].GetString(), case_id);  // from ODR-Case-Id
  std::this_thread::sleep_for(std::chrono::milliseconds(200));   // > --delay-ms
  EXPECT_EQ(mock_log()["sent"].Size(), 0u);
  EXPECT_TRUE(rcv->wait_for(0).empty());
}

TEST_F(MockProviderDialect, UnknownDialectIsAUsageErrorNamingTheKnownOnes) {
  const auto out = dir.path / "err.txt";
  const int st = std::system((std::string(ODRGW_CLI) + " mock-provider --dialect nope-v9 2>" +
                              out.string() + " >/dev/null")
                                 .c_str());
  EXPECT_EQ(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 2);
  const std::string err = slurp(out);
  EXPECT_NE(err.find("unknown dialect 'nope-v9'"), std::string::npos) << err;
  EXPECT_NE(err.find("canonical-json"), std::string::npos) << err;
  EXPECT_NE(err.find("canonical-xml"), std::string::npos) << err;
}

}  // namespace
}  // namespace odrgw::test
