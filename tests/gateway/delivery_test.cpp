// Escalation, deliveries and results back, end to end: a real `odrgw serve` process, real HTTP
// receivers standing in for the provider's and the platform's endpoints, a real SQLite file, and
// `kill -9` for crash safety.
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include <odrgw/gateway/callback.hpp>
#include <odrgw/schemas/json.hpp>

#include "gateway_process.hpp"
#include "test_receiver.hpp"

namespace odrgw::test {
namespace {

namespace fs = std::filesystem;

const std::string platform_key = "k-platform-0123456789";
const std::string provider_key = "k-provider-0123456789";
const std::string platform_secret = "platform-secret-0123456789abcdef";
const std::string provider_secret = "provider-secret-0123456789abcdef";

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  schemas::json_error err;
  EXPECT_TRUE(schemas::parse_json(s, d, {}, err)) << err.message << "\n" << s;
  return d;
}

std::string example(const std::string& name) {
  return slurp(fs::path(ODRGW_SOURCE_DIR) / "schemas/v1/examples" / name);
}

// An application filed directly with an external provider (T3), with its own messageId.
std::string external_application(int n) {
  auto d = parse(example("valid/dispute.application.json"));
  auto& a = d.GetAllocator();
  char id[40];
  std::snprintf(id, sizeof id, "6f1c2a9e-0000-4000-8000-%012d", n);
  d["messageId"].SetString(id, a);
  d["payload"]["tier"].SetString("T3", a);
  return schemas::to_json_string(d);
}

int run_cli(const std::string& args, std::string* out = nullptr) {
  const std::string file =
      (fs::temp_directory_path() / ("odrgw-cli-" + std::to_string(getpid()))).string();
  const int st = std::system((std::string(ODRGW_CLI) + " " + args + " >" + file + " 2>&1").c_str());
  if (out != nullptr) *out = slurp(file);
  fs::remove(file);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool signed_with(const received& r, const std::string& secret) {
  auto it = r.headers.find("odr-signature");
  if (it == r.headers.end()) return false;
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return gateway::verify_callback(secret, it->second, r.body, now).verdict ==
         gateway::callback_verdict::valid;
}

std::string header(const received& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}

class Delivery : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir.path / "platform.secret") << platform_secret << "\n";
    std::ofstream(dir.path / "provider.secret") << provider_secret << "\n";
  }

  void start() {
    std::ofstream(dir.path / "odrgw.yaml")
        << "listen: 127.0.0.1:0\n"
        << "threads: 2\n"
        << "storage: { sqlite: " << (dir.path / "odrgw.db").string() << " }\n"
        << "audit: { pii_key_file: " << (dir.path / "pii.key").string() << " }\n"
        << "delivery: { backoff_initial_ms: 50, backoff_max_ms: 200, max_attempts: " << max_attempts
        << ", timeout_ms: 2000 }\n"
        << "routing: { default_provider: odr-body }\n"
        << "partners:\n"
        << "  - { id: platform-gb, role: platform, dialect: canonical-json, api_key_sha256: "
        << sha256_hex(platform_key) << ", callback_url: '" << platform.url("/platform")
        << "', callback_secret_file: " << (dir.path / "platform.secret").string() << " }\n"
        << "  - { id: odr-body, role: odr-provider, dialect: canonical-xml, api_key_sha256: "
        << sha256_hex(provider_key) << ", callback_url: '" << provider.url("/odr")
        << "', callback_secret_file: " << (dir.path / "provider.secret").string() << " }\n";
    gw.emplace(dir.path / "odrgw.yaml", dir.path / "odrgw.log");
  }

  reply post(const std::string& body, const std::string& key) {
    request_spec r;
    r.method = http::verb::post;
    r.target = "/v1/messages";
    r.body = body;
    r.bearer = key;
    r.content_type = "application/json";
    return send(gw->port(), r);
  }

  std::string db() const { return (dir.path / "odrgw.db").string(); }

  temp_dir dir{"delivery-" +
               std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())};
  test_receiver platform, provider;
  int max_attempts = 3;
  std::optional<gateway_process> gw;
};

bool has_message(const std::vector<received>& rs, const std::string& message_id) {
  for (const auto& r : rs)
    if (header(r, "odr-message-id") == message_id) return true;
  return false;
}

TEST_F(Delivery, EscalationReachesTheProviderAndItsResultComesBackSigned) {
  start();
  const auto r = post(external_application(1), platform_key);
  ASSERT_EQ(r.status, 202) << r.body;
  const auto receipt = parse(r.body);
  const std::string case_id = receipt["caseId"].GetString();
  const std::string app_id = receipt["messageId"].GetString();
  EXPECT_STREQ(receipt["proceedingId"].GetString(), (case_id + "-P1").c_str());

  // The provider (canonical-xml) gets the application as XML, signed, with its messageId.
  ASSERT_TRUE(provider.wait_for([&](const auto& rs) { return has_message(rs, app_id); }))
      << slurp(dir.path / "odrgw.log");
  for (const auto& got : provider.requests()) {
    EXPECT_EQ(got.target, "/odr");
    EXPECT_TRUE(signed_with(got, provider_secret)) << header(got, "odr-signature");
    EXPECT_FALSE(signed_with(got, platform_secret));
    EXPECT_EQ(header(got, "idempotency-key"), header(got, "odr-message-id"));
    EXPECT_EQ(header(got, "odr-case-id"), case_id);
    EXPECT_EQ(header(got, "content-type"), "application/xml");
    if (header(got, "odr-message-id") == app_id) {
      EXPECT_NE(got.body.find("<messageType>dispute.application</messageType>"), std::string::npos)
          << got.body;
      // The recipient is a party's forum: it gets the personal data in clear.
      EXPECT_NE(got.body.find("Anna Schmidt"), std::string::npos);
    }
  }

  // The case is routed to odr-body; the decision and the rule are in the audit log.
  request_spec g;
  g.target = "/v1/cases/" + case_id;
  g.bearer = platform_key;
  const auto view = parse(send(gw->port(), g).body);
  EXPECT_STREQ(view["provider"].GetString(), "odr-body");
  EXPECT_STREQ(view["tier"].GetString(), "T3");

  // The provider accepts; the acceptance goes back to the platform's callback, signed with the
  // platform's secret, as canonical JSON (the platform's dialect).
  auto acc = parse(example("valid/dispute.acceptance.json"));
  auto& a = acc.GetAllocator();
  acc["caseId"].SetString(case_id.c_str(), a);
  acc["messageId"].SetString("6f1c2a9e-0000-4000-8000-00000000a001", a);
  acc["sender"]["partyId"].SetString("odr-body", a);
  acc["sender"]["role"].SetString("odr-provider", a);
  acc["payload"]["tier"].SetString("T3", a);
  acc["payload"].RemoveMember("proceedingId");
  const auto ar = post(schemas::to_json_string(acc), provider_key);
  ASSERT_EQ(ar.status, 202) << ar.body;
  ASSERT_TRUE(platform.wait_for([&](const auto& rs) {
    return has_message(rs, "6f1c2a9e-0000-4000-8000-00000000a001");
  })) << slurp(dir.path / "odrgw.log");
  for (const auto& got : platform.requests()) {
    EXPECT_TRUE(signed_with(got, platform_secret));
    EXPECT_EQ(header(got, "content-type"), "application/json");
    const auto m = parse(got.body);
    EXPECT_STREQ(m["caseId"].GetString(), case_id.c_str());
  }

  // A message the state no longer allows: 409 naming the state and what it allows.
  acc["messageId"].SetString("6f1c2a9e-0000-4000-8000-00000000a002", a);
  const auto again = post(schemas::to_json_string(acc), provider_key);
  ASSERT_EQ(again.status, 409) << again.body;
  const auto p = parse(again.body);
  EXPECT_STREQ(p["state"].GetString(), "negotiation");
  EXPECT_GT(p["allowed"].Size(), 3u);

  // Every delivery settles; the audit log holds each attempt and still verifies.
  std::string out;
  for (int i = 0; i < 200; ++i) {
    run_cli("outbox list --db " + db() + " --status pending --json", &out);
    if (out.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(out, "");
  ASSERT_EQ(run_cli("outbox list --db " + db() + " --json", &out), 0);
  EXPECT_NE(out.find("\"status\":\"delivered\""), std::string::npos);
  gw->stop();
  ASSERT_EQ(run_cli("audit export --db " + db(), &out), 0);
  EXPECT_NE(out.find("\"kind\":\"delivery\""), std::string::npos);
  EXPECT_NE(out.find("\"kind\":\"routing\""), std::string::npos);
  EXPECT_EQ(run_cli("audit verify --db " + db()), 0);
}

TEST_F(Delivery, FailuresAreRetriedThenDeadThenRetriedByTheOperator) {
  provider.answer(503);
  start();
  const auto r = post(external_application(2), platform_key);
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string app_id = parse(r.body)["messageId"].GetString();
  // Three attempts with backoff, then dead: the outbox says so, with the last error.
  std::string out;
  bool dead = false;
  for (int i = 0; i < 200 && !dead; ++i) {
    run_cli("outbox list --db " + db() + " --status dead --json", &out);
    dead = out.find(app_id) != std::string::npos;
    if (!dead) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(dead) << slurp(dir.path / "odrgw.log");
  const auto item = parse(out.substr(0, out.find('\n')));
  EXPECT_EQ(item["attempts"].GetInt(), 3);
  EXPECT_EQ(item["lastStatus"].GetInt(), 503);
  EXPECT_TRUE(provider.requests().empty());

  // The provider is back; the operator retries the dead delivery and it arrives.
  provider.answer(202);
  const std::string id = std::to_string(item["id"].GetInt64());
  ASSERT_EQ(run_cli("outbox show --db " + db() + " " + id, &out), 0);
  EXPECT_NE(out.find("\"message\""), std::string::npos);
  ASSERT_EQ(run_cli("outbox retry --db " + db() + " --by test " + id, &out), 0) << out;
  EXPECT_EQ(run_cli("outbox retry --db " + db() + " " + id), 1);  // no longer dead
  EXPECT_TRUE(provider.wait_for([&](const auto& rs) { return has_message(rs, app_id); }));
  gw->stop();
  ASSERT_EQ(run_cli("audit export --db " + db(), &out), 0);
  EXPECT_NE(out.find("\"kind\":\"outbox-retry\""), std::string::npos);
  EXPECT_EQ(run_cli("audit verify --db " + db()), 0);
}

TEST_F(Delivery, KillNineLosesNoAcknowledgedDelivery) {
  // The provider is down while messages are acknowledged; the gateway is killed with -9.
  provider.answer(503);
  max_attempts = 1000;  // keep retrying, never dead
  start();
  std::set<std::string> acknowledged;
  for (int i = 0; i < 12; ++i) {
    const auto r = post(external_application(100 + i), platform_key);
    ASSERT_EQ(r.status, 202) << r.body;
    acknowledged.insert(parse(r.body)["messageId"].GetString());
  }
  gw->stop(SIGKILL);
  provider.answer(202);
  gw.emplace(dir.path / "odrgw.yaml", dir.path / "odrgw-2.log");
  // After the restart every acknowledged application reaches the provider.
  ASSERT_TRUE(provider.wait_for([&](const auto& rs) {
    for (const auto& id : acknowledged)
      if (!has_message(rs, id)) return false;
    return true;
  })) << slurp(dir.path / "odrgw-2.log");
  // A repeat carries the same messageId (and so the same body): receivers de-duplicate by it.
  std::map<std::string, std::string> bodies;
  for (const auto& got : provider.requests()) {
    const std::string id = header(got, "odr-message-id");
    auto [it, fresh] = bodies.emplace(id, got.body);
    if (!fresh) {
      EXPECT_EQ(it->second, got.body) << id;
    }
  }
  gw->stop();
  EXPECT_EQ(run_cli("audit verify --db " + (dir.path / "odrgw.db").string()), 0);
}

// A port nothing listens on right now (for a process that must know another's port first).
unsigned short free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

std::string case_state(unsigned short port, const std::string& case_id, const std::string& key) {
  request_spec g;
  g.target = "/v1/cases/" + case_id;
  g.bearer = key;
  const auto r = send(port, g);
  return r.status == 200 ? r.body : "";
}

TEST_F(Delivery, ProvidersRelayTheirPartiesOnlyOnTheirOwnCases) {
  start();
  const auto r = post(external_application(3), platform_key);
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string case_id = parse(r.body)["caseId"].GetString();
  auto acc = parse(example("valid/dispute.acceptance.json"));
  auto& a = acc.GetAllocator();
  acc["caseId"].SetString(case_id.c_str(), a);
  acc["messageId"].SetString("6f1c2a9e-0000-4000-8000-00000000b001", a);
  acc["sender"]["partyId"].SetString("odr-body", a);
  acc["sender"]["role"].SetString("odr-provider", a);
  acc["payload"]["tier"].SetString("T3", a);
  acc["payload"].RemoveMember("proceedingId");
  ASSERT_EQ(post(schemas::to_json_string(acc), provider_key).status, 202);
  // The consumer asks the provider for mediation on its platform; the provider relays it.
  auto esc = parse(example("valid/escalation.request.json"));
  auto& e = esc.GetAllocator();
  esc["caseId"].SetString(case_id.c_str(), e);
  esc["recipient"]["partyId"].SetString("odr-body", e);
  const std::string relayed = schemas::to_json_string(esc);
  const auto ok = post(relayed, provider_key);
  ASSERT_EQ(ok.status, 202) << ok.body;
  EXPECT_NE(case_state(gw->port(), case_id, platform_key).find("\"state\":\"mediation\""),
            std::string::npos);
  // Not on a case that is not routed to it (a platform-internal case at T1), nor for another
  // partner, nor as a filing.
  auto internal = parse(external_application(4));
  internal["payload"]["tier"].SetString("T1", internal.GetAllocator());
  const auto other = post(schemas::to_json_string(internal), platform_key);
  ASSERT_EQ(other.status, 202) << other.body;
  esc["caseId"].SetString(parse(other.body)["caseId"].GetString(), e);
  esc["messageId"].SetString("6f1c2a9e-0000-4000-8000-00000000b002", e);
  EXPECT_EQ(post(schemas::to_json_string(esc), provider_key).status, 403);
  esc["caseId"].SetString(case_id.c_str(), e);
  esc["sender"]["partyId"].SetString("platform-gb", e);
  EXPECT_EQ(post(schemas::to_json_string(esc), provider_key).status, 403);
  auto app = parse(external_application(5));
  EXPECT_EQ(post(schemas::to_json_string(app), provider_key).status, 403);
}

TEST_F(Delivery, WholeRouteToAnArbitrationAwardWithTheMockProvider) {
  // The external provider is `odrgw mock-provider` playing its parties too; the case clock runs
  // 5 days a second, so mediation lapses and the case goes on to arbitration by itself.
  const unsigned short gw_port = free_port();
  gateway_process mock(
      {"mock-provider", "--listen", "127.0.0.1:0", "--gateway",
       "http://127.0.0.1:" + std::to_string(gw_port), "--token", provider_key, "--party-id",
       "odr-body", "--dialect", "canonical-xml", "--relay-parties", "--secret-file",
       (dir.path / "provider.secret").string(), "--delay-ms", "50"},
      dir.path / "mock.log");
  std::ofstream(dir.path / "odrgw.yaml")
      << "listen: 127.0.0.1:" << gw_port << "\n"
      << "storage: { sqlite: " << db() << " }\n"
      << "audit: { pii_key_file: " << (dir.path / "pii.key").string() << " }\n"
      << "delivery: { backoff_initial_ms: 50, backoff_max_ms: 200 }\n"
      << "routing: { default_provider: odr-body, clock_scale: 432000, timer_interval_ms: 50 }\n"
      << "partners:\n"
      << "  - { id: platform-gb, role: platform, dialect: canonical-json, api_key_sha256: "
      << sha256_hex(platform_key) << ", callback_url: '" << platform.url("/platform")
      << "', callback_secret_file: " << (dir.path / "platform.secret").string() << " }\n"
      << "  - { id: odr-body, role: odr-provider, dialect: canonical-xml, api_key_sha256: "
      << sha256_hex(provider_key) << ", callback_url: 'http://127.0.0.1:" << mock.port()
      << "/odr', callback_secret_file: " << (dir.path / "provider.secret").string() << " }\n";
  gw.emplace(dir.path / "odrgw.yaml", dir.path / "odrgw.log");
  const auto r = post(external_application(6), platform_key);
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string case_id = parse(r.body)["caseId"].GetString();
  // The award reaches the platform's callback, signed.
  ASSERT_TRUE(platform.wait_for([](const auto& rs) {
    for (const auto& got : rs)
      if (header(got, "odr-message-type") == "arbitration.award") return true;
    return false;
  })) << slurp(dir.path / "odrgw.log")
      << slurp(dir.path / "mock.log");
  std::vector<std::string> types;
  for (const auto& got : platform.requests()) {
    EXPECT_TRUE(signed_with(got, platform_secret));
    types.push_back(header(got, "odr-message-type"));
  }
  // On the way: the acceptance, the relayed escalation, the neutral, the stage changes.
  for (const char* t :
       {"dispute.acceptance", "escalation.request", "mediation.neutral-appointed", "stage.changed"})
    EXPECT_NE(std::find(types.begin(), types.end(), t), types.end()) << t;
  const std::string view = case_state(gw_port, case_id, platform_key);
  EXPECT_NE(view.find("\"tier\":\"T5\""), std::string::npos) << view;
  gw->stop();
  EXPECT_EQ(run_cli("audit verify --db " + db()), 0);
}

}  // namespace
}  // namespace odrgw::test
