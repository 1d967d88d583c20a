// The gateway as partners and auditors meet it: a real `odrgw serve` process on 127.0.0.1 port 0,
// real HTTP and TLS clients, a real SQLite file, certificates made by the test.
#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include <odrgw/schemas/json.hpp>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "gateway_process.hpp"

namespace odrgw::test {
namespace {

namespace fs = std::filesystem;

const std::string platform_key = "k-platform-0123456789";
const std::string shop_key = "k-shop-0123456789";
const std::string auditor_key = "k-auditor-0123456789";

std::string example(const std::string& name) {
  return slurp(fs::path(ODRGW_SOURCE_DIR) / "schemas/v1/examples" / name);
}

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  schemas::json_error err;
  EXPECT_TRUE(schemas::parse_json(s, d, {}, err)) << err.message << "\n" << s;
  return d;
}

// The application example with a fresh messageId, so each test files its own case.
std::string application(int n) {
  auto d = parse(example("valid/dispute.application.json"));
  char id[40];
  std::snprintf(id, sizeof id, "6f1c2a9e-0000-4000-8000-%012d", n);
  d["messageId"].SetString(id, d.GetAllocator());
  return schemas::to_json_string(d);
}

// Leaves only the messages partners sent in a case view (the gateway's own events, sender
// "odrgw", removed); returns the gateway's message types in order.
std::vector<std::string> drop_gateway_messages(rapidjson::Document& view) {
  std::vector<std::string> types;
  auto& ms = view["messages"];
  for (auto it = ms.Begin(); it != ms.End();) {
    if (std::string_view((*it)["sender"].GetString()) == "odrgw") {
      types.emplace_back((*it)["messageType"].GetString());
      it = ms.Erase(it);
    } else {
      ++it;
    }
  }
  return types;
}

int run_cli(const std::string& args) {
  const int st = std::system((std::string(ODRGW_CLI) + " " + args + " >/dev/null 2>&1").c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

class Gateway : public ::testing::Test {
 protected:
  void SetUp() override { start(""); }

  void start(const std::string& extra, const std::string& limits = "") {
    std::ofstream(dir.path / "odrgw.yaml")
        << "listen: 127.0.0.1:0\n"
        << "threads: 2\n"
        << "storage: { sqlite: " << (dir.path / "odrgw.db").string() << " }\n"
        << "audit: { pii_key_file: " << (dir.path / "pii.key").string() << " }\n"
        << "limits: { max_body_bytes: 65536, read_timeout_ms: 1500"
        << (limits.empty() ? "" : ", " + limits) << " }\n"
        << extra << "partners:\n"
        << "  - { id: platform-gb, role: platform, dialect: canonical-json, api_key_sha256: "
        << sha256_hex(platform_key) << " }\n"
        << "  - { id: shop-1, role: merchant, dialect: canonical-json, api_key_sha256: "
        << sha256_hex(shop_key) << " }\n"
        << "  - { id: auditor-1, role: auditor, dialect: canonical-json, api_key_sha256: "
        << sha256_hex(auditor_key) << " }\n"
        << partners_extra;
    gw.emplace(dir.path / "odrgw.yaml", dir.path / "odrgw.log");
  }

  reply post(const std::string& body, const std::string& key = platform_key,
             const std::string& type = "application/json") {
    request_spec r;
    r.method = http::verb::post;
    r.target = "/v1/messages";
    r.body = body;
    r.bearer = key;
    r.content_type = type;
    return send(gw->port(), r);
  }

  reply get(const std::string& target, const std::string& key = "") {
    request_spec r;
    r.target = target;
    r.bearer = key;
    return send(gw->port(), r);
  }

  temp_dir dir{"gateway-" +
               std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())};
  std::string partners_extra;
  std::optional<gateway_process> gw;
};

TEST_F(Gateway, HealthReadyMetricsOpenApiAndSchemas) {
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(get("/readyz").status, 200);
  const auto openapi = get("/openapi.json");
  EXPECT_EQ(openapi.status, 200);
  EXPECT_EQ(parse(openapi.body)["openapi"].GetString(), std::string("3.1.0"));
  const auto list = get("/v1/schemas");
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(parse(list.body).Size(), 22u);
  EXPECT_EQ(get("/v1/schemas/dispute.application.json").status, 200);
  const auto xsd = get("/v1/schemas/case.closure.xsd");
  EXPECT_EQ(xsd.status, 200);
  EXPECT_NE(xsd.body.find("<xs:schema"), std::string::npos);
  EXPECT_EQ(get("/v1/schemas/nope.json").status, 404);
  EXPECT_EQ(get("/nowhere").status, 404);
  post(application(1));
  const auto m = get("/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("odrgw_http_requests_total"), std::string::npos) << m.body;
  // The storage's group-commit figures: at least the application's commit and its WAL sync.
  for (const char* name : {"odrgw_storage_commits_total ", "odrgw_storage_syncs_total "}) {
    const auto at = m.body.find(std::string("\n") + name);
    ASSERT_NE(at, std::string::npos) << name << m.body;
    EXPECT_GE(std::stod(m.body.substr(at + 1 + std::strlen(name))), 1.0) << name;
  }
}

TEST_F(Gateway, ReadOnlyRoutesAnswerGetAndHeadOnly) {
  // HEAD: the GET answer's head, no body, and the connection stays usable.
  boost::asio::io_context ioc;
  boost::beast::tcp_stream s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), gw->port()});
  s.expires_after(std::chrono::seconds(30));
  http::request<http::empty_body> head{http::verb::head, "/openapi.json", 11};
  head.set(http::field::host, "127.0.0.1");
  http::write(s, head);
  boost::beast::flat_buffer buf;
  http::response_parser<http::string_body> p;
  p.skip(true);  // a response to HEAD has no body, whatever its Content-Length says
  http::read(s, buf, p);
  EXPECT_EQ(p.get().result_int(), 200u);
  EXPECT_TRUE(p.get().body().empty());
  const auto full = exchange(s, request_spec{http::verb::get, "/openapi.json", "", "", ""});
  EXPECT_EQ(full.status, 200);
  EXPECT_EQ(std::to_string(full.body.size()), std::string(p.get()[http::field::content_length]));
  // Anything else on a read-only route: 405 naming what is allowed.
  for (const std::string target : {"/metrics", "/healthz", "/v1/schemas", "/v1/cases/ODR-1"}) {
    request_spec post_to{http::verb::post, target, "{}", "application/json", auditor_key};
    EXPECT_EQ(send(gw->port(), post_to).status, 405) << target;
  }
}

TEST_F(Gateway, ValidApplicationGetsAReceiptAndReplayIsIdempotent) {
  const std::string body = application(2);
  const auto r = post(body);
  ASSERT_EQ(r.status, 202) << r.body;
  auto receipt = parse(r.body);
  for (const char* f :
       {"receiptId", "messageId", "caseId", "proceedingId", "receivedAt", "auditSeq", "auditHash"})
    EXPECT_TRUE(receipt.HasMember(f)) << f << " in " << r.body;
  const auto again = post(body);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.body, r.body);  // the original receipt, stored once
  // Same messageId, different body: a conflict, nothing stored.
  auto changed = parse(body);
  changed["payload"]["description"].SetString("changed", changed.GetAllocator());
  const auto conflict = post(schemas::to_json_string(changed));
  EXPECT_EQ(conflict.status, 409) << conflict.body;
  EXPECT_EQ(conflict.content_type, "application/problem+json");
  // A second application is a second case.
  const auto other = post(application(3));
  ASSERT_EQ(other.status, 202);
  EXPECT_NE(std::string(parse(other.body)["caseId"].GetString()), receipt["caseId"].GetString());
}

TEST_F(Gateway, XmlIsAcceptedToo) {
  auto d = parse(example("valid/dispute.application.json"));
  const auto r =
      post(slurp(fs::path(ODRGW_SOURCE_DIR) / "schemas/v1/examples/valid/dispute.application.xml"),
           platform_key, "application/xml");
  EXPECT_EQ(r.status, 202) << r.body;
}

std::string sql(const fs::path& db, const std::string& query);  // below

TEST_F(Gateway, EveryErrorIsProblemJsonWithTheRightStatus) {
  // 401: no key, wrong key.
  auto r = post(application(4), "");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.www_authenticate.find("Bearer"), std::string::npos);
  EXPECT_EQ(post(application(4), "wrong-key").status, 401);
  // 403: an auditor does not file disputes; a merchant may not speak as another merchant.
  EXPECT_EQ(post(application(4), auditor_key).status, 403);
  auto as_other = parse(application(5));
  as_other["sender"]["partyId"].SetString("shop-2", as_other.GetAllocator());
  as_other["sender"]["role"].SetString("merchant", as_other.GetAllocator());
  EXPECT_EQ(post(schemas::to_json_string(as_other), shop_key).status, 403);
  // A merchant speaking as itself, but in the platform's role: it could act as the T1 forum.
  auto as_platform = parse(application(6));
  as_platform["sender"]["partyId"].SetString("shop-1", as_platform.GetAllocator());
  as_platform["sender"]["role"].SetString("platform", as_platform.GetAllocator());
  const auto wrong_role = post(schemas::to_json_string(as_platform), shop_key);
  EXPECT_EQ(wrong_role.status, 403);
  EXPECT_NE(wrong_role.body.find("sender.role must be your configured role 'merchant'"),
            std::string::npos)
      << wrong_role.body;
  // 415
  EXPECT_EQ(post(application(6), platform_key, "text/plain").status, 415);
  // 413, and its log line although no route was reached
  EXPECT_EQ(post(std::string(70000, ' ') + application(7)).status, 413);
  EXPECT_NE(slurp(dir.path / "odrgw.log").find("\"route\":\"transport\",\"status\":413"),
            std::string::npos);
  // ... and its audit record: an exchange, although no partner or body could be read.
  EXPECT_EQ(sql(dir.path / "odrgw.db",
                "SELECT partner || ' ' || json_extract(data_json, '$.status') || ' ' || "
                "json_extract(data_json, '$.peer') FROM audit WHERE kind = 'rejected' AND "
                "json_extract(data_json, '$.route') = 'transport'"),
            " 413 127.0.0.1");
  // 400: not JSON at all
  r = post("{\"messageType\": ");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(parse(r.body)["errors"][0]["rule"].GetString(), std::string("json-syntax"));
  // 422 with the place and the rule
  auto bad = parse(application(8));
  bad["payload"]["price"]["currency"].SetString("XYZ", bad.GetAllocator());
  r = post(schemas::to_json_string(bad));
  ASSERT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(r.content_type, "application/problem+json");
  const auto p = parse(r.body);
  EXPECT_EQ(p["status"].GetInt(), 422);
  EXPECT_EQ(p["errors"][0]["location"].GetString(), std::string("/payload/price/currency"));
  EXPECT_EQ(p["errors"][0]["rule"].GetString(), std::string("enum"));
  // 400: a query parameter the adapters do not know, or a repeated one, is refused, not ignored.
  for (const std::string target :
       {"/v1/messages?oepration=make-offer", "/v1/messages?caseId=a&caseId=b"}) {
    request_spec q;
    q.method = http::verb::post;
    q.target = target;
    q.body = application(9);
    q.bearer = platform_key;
    q.content_type = "application/json";
    r = send(gw->port(), q);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_NE(r.body.find("query parameter"), std::string::npos) << r.body;
  }
  // 405
  request_spec put;
  put.method = http::verb::put;
  put.target = "/v1/messages";
  EXPECT_EQ(send(gw->port(), put).status, 405);
}

TEST_F(Gateway, CasesAreVisibleToPartiesAndAuditorsOnly) {
  const auto r = post(application(9));
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string case_id = parse(r.body)["caseId"].GetString();
  const auto mine = get("/v1/cases/" + case_id, platform_key);
  ASSERT_EQ(mine.status, 200) << mine.body;
  auto view = parse(mine.body);
  // The state machine filed the case at T1: the gateway announced the stage and the acceptance
  // deadline; the platform has not accepted yet.
  EXPECT_STREQ(view["state"].GetString(), "filed");
  const auto events = drop_gateway_messages(view);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], "stage.changed");
  EXPECT_EQ(events[1], "deadline.notice");
  EXPECT_EQ(view["messages"].Size(), 1u);
  const std::string name =
      parse(example("valid/dispute.application.json"))["payload"]["complainant"]["name"]
          .GetString();
  EXPECT_NE(mine.body.find(name), std::string::npos);  // a party sees personal data
  const auto audit = get("/v1/cases/" + case_id, auditor_key);
  ASSERT_EQ(audit.status, 200);
  EXPECT_EQ(audit.body.find(name), std::string::npos);  // an auditor sees it redacted
  EXPECT_NE(audit.body.find("[redacted]"), std::string::npos);
  EXPECT_EQ(get("/v1/cases/" + case_id, shop_key).status, 404);  // not a party
  EXPECT_EQ(get("/v1/cases/" + case_id).status, 401);
  EXPECT_EQ(get("/v1/cases/ODR-0000-000000", platform_key).status, 404);
  // A follow-up on the case from a party is accepted; from a stranger it is refused.
  auto msg = parse(example("valid/negotiation.message.json"));
  msg["caseId"].SetString(case_id.c_str(), msg.GetAllocator());
  msg["recipient"]["partyId"].SetString("platform-gb", msg.GetAllocator());
  msg["recipient"]["role"].SetString("platform", msg.GetAllocator());
  msg.RemoveMember("proceedingId");
  EXPECT_EQ(post(schemas::to_json_string(msg)).status, 202);
  msg["messageId"].SetString("6f1c2a9e-0000-4000-8000-000000000999", msg.GetAllocator());
  EXPECT_EQ(post(schemas::to_json_string(msg), shop_key).status, 403);
}

TEST_F(Gateway, AuditChainVerifiesAndDetectsTampering) {
  for (int i = 0; i < 5; ++i) ASSERT_EQ(post(application(100 + i)).status, 202);
  EXPECT_EQ(post(application(100), "wrong").status, 401);  // rejected requests are audited too
  gw->stop();
  const std::string db = (dir.path / "odrgw.db").string();
  EXPECT_EQ(run_cli("audit verify --db " + db), 0);
  // No personal data in clear anywhere in the database files.
  const auto app = parse(example("valid/dispute.application.json"));
  const std::string email = app["payload"]["complainant"]["contact"]["email"].GetString();
  std::string bytes;
  for (const char* suffix : {"", "-wal"})
    if (fs::exists(db + suffix)) bytes += slurp(db + suffix);
  EXPECT_EQ(bytes.find(email), std::string::npos);
  EXPECT_EQ(bytes.find(platform_key), std::string::npos);
  // Alter one record behind the gateway's back: verify names it.
  ASSERT_EQ(std::system(("sqlite3 " + db +
                         " \"DROP TRIGGER IF EXISTS audit_no_update; UPDATE audit SET kind='x' "
                         "WHERE seq=3;\"")
                            .c_str()),
            0);
  EXPECT_EQ(run_cli("audit verify --db " + db), 1);
}

TEST_F(Gateway, LogsHaveOneJsonLinePerRequestAndNoSecrets) {
  ASSERT_EQ(post(application(200)).status, 202);
  EXPECT_EQ(post(application(201), "wrong-secret-key").status, 401);
  gw->stop();
  const std::string log = slurp(dir.path / "odrgw.log");
  EXPECT_EQ(log.find(platform_key), std::string::npos);
  EXPECT_EQ(log.find("wrong-secret-key"), std::string::npos);
  int lines = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() != '{') continue;
    const auto d = parse(line);
    EXPECT_TRUE(d.HasMember("status") && d.HasMember("route") && d.HasMember("latencyMs"));
    ++lines;
  }
  EXPECT_EQ(lines, 2);
}

std::string sql(const fs::path& db, const std::string& query) {
  const std::string out = db.string() + ".out";
  std::system(("sqlite3 " + db.string() + " \"" + query + "\" > " + out).c_str());
  auto s = slurp(out);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

TEST_F(Gateway, MappingDialectPartnersPostInTheirOwnShape) {
  // A help desk speaking its ticket JSON, through the shipped mapping dialect (no C++).
  gw.reset();
  const std::string desk_key = "k-desk-0123456789";
  partners_extra =
      "  - { id: brightway-helpdesk, role: merchant, dialect: helpdesk-ticket-v1, "
      "api_key_sha256: " +
      sha256_hex(desk_key) + " }\n";
  start("adapters: { dir: " + (fs::path(ODRGW_SOURCE_DIR) / "adapters/dialects").string() + " }\n");
  const fs::path examples =
      fs::path(ODRGW_SOURCE_DIR) / "adapters/dialects/helpdesk-ticket-v1/examples";
  auto r = post(slurp(examples / "complaint.json"), desk_key);
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string case_id = parse(r.body)["caseId"].GetString();
  auto view = parse(get("/v1/cases/" + case_id, desk_key).body);
  drop_gateway_messages(view);
  ASSERT_EQ(view["messages"].Size(), 1u);
  EXPECT_STREQ(view["messages"][0]["message"]["senderCaseRef"].GetString(), "HD-2026-00417");
  // A code the mapping cannot carry: 422 naming the ticket's field and the mapping rule.
  r = post(slurp(examples / "invalid-unknown-category.json"), desk_key);
  ASSERT_EQ(r.status, 422) << r.body;
  const auto p = parse(r.body);
  EXPECT_STREQ(p["errors"][0]["location"].GetString(), "/ticket/category");
  EXPECT_NE(std::string(p["errors"][0]["rule"].GetString()).find("(codes)"), std::string::npos);
  // XML is not this partner's encoding.
  EXPECT_EQ(post("<ticket/>", desk_key, "application/xml").status, 415);
}

TEST_F(Gateway, PayPalPartnerFilesAndReadsResultsInItsOwnShape) {
  gw.reset();
  const std::string paypal_key = "k-paypal-0123456789";
  partners_extra =
      "  - { id: paypal, role: platform, dialect: paypal-disputes-v1, "
      "api_key_sha256: " +
      sha256_hex(paypal_key) + " }\n";
  start("");
  const fs::path examples =
      fs::path(ODRGW_SOURCE_DIR) / "adapters/dialects/paypal-disputes-v1/examples";
  // A dispute as PayPal's API and webhooks deliver it becomes a case.
  auto r = post(slurp(examples / "dispute-inquiry.json"), paypal_key);
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string case_id = parse(r.body)["caseId"].GetString();
  const std::string dispute_id =
      parse(slurp(examples / "dispute-inquiry.json"))["dispute_id"].GetString();
  // A make-offer request body: the URL's dispute id, operation and caseId come as parameters,
  // PayPal-Request-Id makes the retry idempotent and a changed body with it a conflict.
  auto make_offer = [&](const std::string& file, const std::string& query,
                        const std::string& request_id) {
    request_spec q;
    q.method = http::verb::post;
    q.target = "/v1/messages" + query;
    q.body = slurp(examples / file);
    q.bearer = paypal_key;
    q.content_type = "application/json";
    auto req = make_request(q);
    if (!request_id.empty()) req.set("PayPal-Request-Id", request_id);
    boost::asio::io_context ioc;
    boost::beast::tcp_stream s(ioc);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), gw->port()});
    http::write(s, req);
    boost::beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return std::pair<int, std::string>(res.result_int(), res.body());
  };
  const std::string query = "?operation=make-offer&reference=" + dispute_id + "&caseId=" + case_id;
  auto [st, body] = make_offer("make-offer.json", query, "req-1");
  ASSERT_EQ(st, 202) << body;
  const std::string offer_id = parse(body)["messageId"].GetString();
  std::tie(st, body) = make_offer("make-offer.json", query, "req-1");
  EXPECT_EQ(st, 200) << body;
  EXPECT_EQ(std::string(parse(body)["messageId"].GetString()), offer_id);
  EXPECT_EQ(make_offer("make-offer-return.json", query, "req-1").first, 409);
  // Without the dispute and case it names no case: 422 naming the missing context.
  std::tie(st, body) = make_offer("make-offer.json", "?operation=make-offer", "req-2");
  ASSERT_EQ(st, 422) << body;
  EXPECT_STREQ(parse(body)["errors"][0]["rule"].GetString(), "context-required");
  auto view = parse(get("/v1/cases/" + case_id, paypal_key).body);
  // PayPal filed at its own desk (T1): filing was its acceptance, so the offer was allowed.
  EXPECT_STREQ(view["state"].GetString(), "negotiation");
  const auto events = drop_gateway_messages(view);
  EXPECT_NE(std::find(events.begin(), events.end(), "dispute.acceptance"), events.end());
  ASSERT_EQ(view["messages"].Size(), 2u);
  EXPECT_STREQ(view["messages"][1]["message"]["messageType"].GetString(), "negotiation.offer");
  // The offer goes back to PayPal as a make-offer body, in its own shape.
  const auto& back = view["messages"][1]["inDialect"];
  EXPECT_STREQ(back["dialect"].GetString(), "paypal-disputes-v1");
  ASSERT_TRUE(back.HasMember("body")) << schemas::to_json_string(back);
  EXPECT_STREQ(back["body"]["offer_type"].GetString(), "REFUND_WITH_REPLACEMENT");

  // A platform files on behalf of a consumer against PayPal's side and notifies the outcome:
  // PayPal, a party, reads the outcome as a resolved PayPal dispute.
  auto app = parse(application(30));
  auto& a = app.GetAllocator();
  app["recipient"]["partyId"].SetString("paypal", a);
  app["recipient"]["role"].SetString("platform", a);
  app.RemoveMember("senderCaseRef");
  app.AddMember("senderCaseRef", "PP-D-7F9A1", a);
  r = post(schemas::to_json_string(app));
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string case2 = parse(r.body)["caseId"].GetString();
  // The platform runs T1: it accepts the case, then notifies its outcome.
  auto acc = parse(example("valid/dispute.acceptance.json"));
  acc["caseId"].SetString(case2.c_str(), acc.GetAllocator());
  acc["payload"].RemoveMember("proceedingId");
  r = post(schemas::to_json_string(acc));
  ASSERT_EQ(r.status, 202) << r.body;
  auto outcome = parse(example("valid/outcome.notification.json"));
  outcome["caseId"].SetString(case2.c_str(), outcome.GetAllocator());
  outcome["recipient"]["partyId"].SetString("paypal", outcome.GetAllocator());
  outcome["recipient"]["role"].SetString("platform", outcome.GetAllocator());
  outcome["payload"]["tier"].SetString("T1", outcome.GetAllocator());
  outcome["payload"]["appealTo"].SetString("T2", outcome.GetAllocator());  // the route from T1
  outcome.RemoveMember("proceedingId");
  r = post(schemas::to_json_string(outcome));
  ASSERT_EQ(r.status, 202) << r.body;
  auto view2 = parse(get("/v1/cases/" + case2, paypal_key).body);
  EXPECT_STREQ(view2["state"].GetString(), "outcome-notified");
  drop_gateway_messages(view2);
  ASSERT_EQ(view2["messages"].Size(), 3u);
  EXPECT_TRUE(view2["messages"][0]["inDialect"].HasMember("unavailable"));  // an application
  const auto& resolved = view2["messages"][2]["inDialect"];
  ASSERT_TRUE(resolved.HasMember("body")) << schemas::to_json_string(resolved);
  EXPECT_STREQ(resolved["body"]["dispute_id"].GetString(), "PP-D-7F9A1");
  EXPECT_STREQ(resolved["body"]["status"].GetString(), "RESOLVED");
  // Canonical partners see no dialect rendering.
  EXPECT_FALSE(
      parse(get("/v1/cases/" + case2, platform_key).body)["messages"][2].HasMember("inDialect"));
}

TEST_F(Gateway, RefusedMessagesAreAuditedUnderTheirIds) {
  const auto r = post(application(11));
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string case_id = parse(r.body)["caseId"].GetString();
  auto msg = parse(example("valid/negotiation.message.json"));
  msg["caseId"].SetString(case_id.c_str(), msg.GetAllocator());
  msg["messageId"].SetString("6f1c2a9e-0000-4000-8000-000000000777", msg.GetAllocator());
  ASSERT_EQ(post(schemas::to_json_string(msg), shop_key).status, 403);  // not a party
  EXPECT_EQ(sql(dir.path / "odrgw.db",
                "SELECT message_id || ' ' || case_id FROM audit WHERE kind = 'rejected'"),
            "6f1c2a9e-0000-4000-8000-000000000777 " + case_id);
}

TEST_F(Gateway, ExpectContinueGetsAHundredBeforeTheBody) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), gw->port()});
  const std::string body = application(12);
  const std::string head = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                           platform_key +
                           "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                           "Content-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n";
  boost::asio::write(s, boost::asio::buffer(head));
  // The interim answer comes before any body byte is sent.
  std::string interim(25, '\0');  // "HTTP/1.1 100 Continue\r\n\r\n"
  boost::asio::read(s, boost::asio::buffer(interim));
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  boost::asio::write(s, boost::asio::buffer(body));
  boost::beast::flat_buffer fb;
  http::response<http::string_body> res;
  http::read(s, fb, res);
  EXPECT_EQ(res.result_int(), 202u) << res.body();
  // Too large announced: 413 at once, no 100.
  boost::asio::ip::tcp::socket s2(ioc);
  s2.connect({boost::asio::ip::make_address("127.0.0.1"), gw->port()});
  const std::string big = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                          platform_key +
                          "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
                          "Content-Length: 99999999\r\n\r\n";
  boost::asio::write(s2, boost::asio::buffer(big));
  boost::beast::flat_buffer fb2;
  http::response<http::string_body> res2;
  http::read(s2, fb2, res2);
  EXPECT_EQ(res2.result_int(), 413u);
}

TEST_F(Gateway, UnauthenticatedPostIsRefusedBeforeItsBodyIsRead) {
  // The header announces 60000 bytes and none follow: the 401 comes at once (not after the
  // 1.5 s read timeout), the connection closes, and the audit records what was announced.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), gw->port()});
  const std::string head =
      "POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer not-a-key\r\n"
      "Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n";
  const auto t0 = std::chrono::steady_clock::now();
  boost::asio::write(s, boost::asio::buffer(head));
  boost::beast::flat_buffer fb;
  http::response<http::string_body> res;
  http::read(s, fb, res);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1000));
  EXPECT_EQ(res.result_int(), 401u) << res.body();
  EXPECT_FALSE(res.keep_alive());
  EXPECT_NE(res[http::field::www_authenticate].find("Bearer"), std::string_view::npos);
  // A client that sends its whole body anyway still gets the answer, not a reset.
  boost::asio::ip::tcp::socket s2(ioc);
  s2.connect({boost::asio::ip::make_address("127.0.0.1"), gw->port()});
  const std::string body = application(13);
  const std::string req =
      "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  boost::asio::write(s2, boost::asio::buffer(req));
  boost::beast::flat_buffer fb2;
  http::response<http::string_body> res2;
  http::read(s2, fb2, res2);
  EXPECT_EQ(res2.result_int(), 401u);
  const auto db = dir.path / "odrgw.db";
  EXPECT_EQ(sql(db,
                "SELECT json_extract(data_json, '$.contentLength') || ' ' || "
                "json_extract(data_json, '$.bodyRead') || ' ' || "
                "json_extract(data_json, '$.status') FROM audit WHERE kind = 'rejected' "
                "ORDER BY seq"),
            "60000 0 401\n" + std::to_string(body.size()) + " 0 401");
}

TEST_F(Gateway, CaseViewComesInPages) {
  const auto r = post(application(14));
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string case_id = parse(r.body)["caseId"].GetString();
  const auto all = parse(get("/v1/cases/" + case_id + "?limit=1000", platform_key).body);
  const auto n = all["messages"].Size();
  ASSERT_GE(n, 2u);  // the application and the gateway's own stage.changed at least
  EXPECT_EQ(all["page"]["count"].GetUint(), n);
  EXPECT_FALSE(all["page"].HasMember("next"));
  // Pages of one, followed by their `next` links, give the same messages in the same order.
  std::vector<std::string> seen;
  std::string target = "/v1/cases/" + case_id + "?limit=1";
  for (int guard = 0; !target.empty() && guard < 50; ++guard) {
    const auto res = get(target, platform_key);
    ASSERT_EQ(res.status, 200) << target << res.body;
    const auto page = parse(res.body);
    ASSERT_EQ(page["messages"].Size(), 1u) << target;
    seen.emplace_back(page["messages"][0]["messageId"].GetString());
    target = page["page"].HasMember("next") ? page["page"]["next"].GetString() : "";
  }
  ASSERT_EQ(seen.size(), n);
  for (rapidjson::SizeType i = 0; i < n; ++i)
    EXPECT_EQ(seen[i], all["messages"][i]["messageId"].GetString());
  EXPECT_EQ(parse(get("/v1/cases/" + case_id + "?offset=" + std::to_string(n), platform_key)
                      .body)["messages"]
                .Size(),
            0u);
  // Bad paging is a 400 naming the parameter; without a key it is still a 401.
  for (const std::string q :
       {"?limit=0", "?limit=1001", "?limit=x", "?offset=-1", "?limit=1&limit=2", "?page=2"}) {
    const auto res = get("/v1/cases/" + case_id + q, platform_key);
    EXPECT_EQ(res.status, 400) << q;
    EXPECT_EQ(res.content_type, "application/problem+json") << q;
  }
  EXPECT_EQ(get("/v1/cases/" + case_id + "?limit=0").status, 401);
}

TEST_F(Gateway, CaseReadsAreAudited) {
  const auto r = post(application(10));
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string case_id = parse(r.body)["caseId"].GetString();
  ASSERT_EQ(get("/v1/cases/" + case_id, auditor_key).status, 200);
  ASSERT_EQ(get("/v1/cases/" + case_id, shop_key).status, 404);
  const auto db = dir.path / "odrgw.db";
  EXPECT_EQ(sql(db,
                "SELECT partner || ' ' || case_id FROM audit WHERE kind = 'case-read' "
                "ORDER BY seq"),
            "auditor-1 " + case_id + "\nshop-1 ");
  EXPECT_EQ(sql(db,
                "SELECT json_extract(data_json, '$.status') FROM audit WHERE kind = "
                "'case-read' ORDER BY seq"),
            "200\n404");
  EXPECT_EQ(run_cli("audit verify --db " + db.string()), 0);
}

TEST_F(Gateway, ChunkExtensionFloodIsBoundedAndAnswered) {
  // Beast does not limit chunk extensions; the capped read buffer does. The gateway answers (or
  // closes) long before the 1.5 s timeout and keeps serving.
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), gw->port()});
  std::string req = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;";
  req += std::string(4u << 20, 'x');
  const auto start = std::chrono::steady_clock::now();
  boost::system::error_code ec;
  boost::asio::write(s, boost::asio::buffer(req), ec);  // may fail once the server closes
  std::string answer(512, '\0');
  const auto n = s.read_some(boost::asio::buffer(answer), ec);
  answer.resize(n);
  // Refused as soon as the buffer cap is hit; unbounded, the server would hold the connection
  // (and the megabytes) until the 1.5 s read timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1200)) << answer;
  EXPECT_TRUE(answer.empty() || answer.starts_with("HTTP/1.1 4")) << answer;
  EXPECT_EQ(get("/healthz").status, 200);
}

TEST_F(Gateway, AConsumerIdMayNotBeAnotherPartnersId) {
  auto d = parse(application(400));
  d["sender"]["partyId"].SetString("platform-gb", d.GetAllocator());
  EXPECT_EQ(post(schemas::to_json_string(d), shop_key).status, 403);
}

TEST_F(Gateway, HostileHeaderBytesAreStillAuditedAndUnauthenticatedBodiesAreNotKept) {
  const fs::path db = dir.path / "odrgw.db";
  request_spec r;
  r.method = http::verb::post;
  r.target = "/v1/messages?\xff";
  r.content_type = "application/json\xff";
  r.body = std::string(30000, 'z');  // under max_body_bytes: read, then refused
  EXPECT_EQ(send(gw->port(), r).status, 401);
  ASSERT_EQ(post(application(401)).status, 202);  // the writer has committed what came before
  EXPECT_EQ(sql(db, "SELECT count(*) FROM audit WHERE kind='rejected'"), "1");
  const std::string data = sql(db, "SELECT data_json FROM audit WHERE kind='rejected'");
  EXPECT_NE(data.find("\\\\xff"), std::string::npos) << data;
  EXPECT_EQ(data.find("bodySealed"), std::string::npos) << data;
}

TEST_F(Gateway, ReadinessNeverBlocksTheServer) {
  // Another process holds the database's write lock for 3 s: probes must still answer at once.
  const fs::path db = dir.path / "odrgw.db";
  ASSERT_EQ(std::system(("(sqlite3 " + db.string() +
                         " 'BEGIN IMMEDIATE;' '.shell sleep 3' 'COMMIT;' >/dev/null 2>&1 &)")
                            .c_str()),
            0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 4; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto r = get("/readyz");
    EXPECT_TRUE(r.status == 200 || r.status == 503) << r.status;
    EXPECT_EQ(get("/healthz").status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  }
}

TEST_F(Gateway, SlowClientIsCutOff) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), gw->port()});
  const std::string req = "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";
  const auto start = std::chrono::steady_clock::now();
  boost::system::error_code ec;
  // One byte every 100 ms: the 1.5 s read timeout covers the whole request, so it ends first.
  for (std::size_t i = 0; i < req.size() + 1000 && !ec; ++i) {
    boost::asio::write(s, boost::asio::buffer(i < req.size() ? &req[i] : "x", 1), ec);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(ec) << "the server never closed the connection";
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_EQ(get("/healthz").status, 200);  // and it still serves others
}

TEST_F(Gateway, SigtermUnderLoadLosesNoAcknowledgedMessage) {
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<bool> go{true};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t)
    clients.emplace_back([&, t] {
      for (int i = 0; go && i < 2000; ++i) {
        try {
          const auto body = application(10000 * (t + 1) + i);
          const auto r = post(body);
          if (r.status == 202) {
            std::lock_guard lock(mu);
            acknowledged.insert(parse(r.body)["messageId"].GetString());
          }
        } catch (const std::exception&) {
          break;  // the server went away: fine, as long as nothing acknowledged is lost
        }
      }
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(gw->stop(SIGTERM), 0);  // graceful: exit status 0
  go = false;
  for (auto& c : clients) c.join();
  ASSERT_GT(acknowledged.size(), 10u);
  const std::string db = (dir.path / "odrgw.db").string();
  const std::string out = (dir.path / "ids.txt").string();
  ASSERT_EQ(std::system(("sqlite3 " + db + " 'SELECT message_id FROM messages' > " + out).c_str()),
            0);
  std::set<std::string> stored;
  std::istringstream in(slurp(out));
  for (std::string line; std::getline(in, line);) stored.insert(line);
  for (const auto& id : acknowledged) EXPECT_TRUE(stored.contains(id)) << id;
  EXPECT_EQ(run_cli("audit verify --db " + db), 0);
}

// --- TLS --------------------------------------------------------------------------------------

// Makes a CA, a server certificate for localhost/127.0.0.1 and a client certificate.
void make_pki(const fs::path& d, const std::string& prefix) {
  const std::string p = (d / prefix).string();
  const std::string cmds =
      "set -e; cd " + d.string() +
      "; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
      "-subj /CN=" +
      prefix + "-ca -keyout " + p + "-ca.key -out " + p +
      "-ca.pem 2>/dev/null"
      "; openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost "
      "-keyout " +
      p + "-server.key -out " + p +
      "-server.csr 2>/dev/null"
      "; printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > " +
      p +
      "-san.ext"
      "; openssl x509 -req -in " +
      p + "-server.csr -CA " + p + "-ca.pem -CAkey " + p +
      "-ca.key -CAcreateserial -days 2 -extfile " + p + "-san.ext -out " + p +
      "-server.pem 2>/dev/null"
      "; openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=provider-x "
      "-keyout " +
      p + "-client.key -out " + p +
      "-client.csr 2>/dev/null"
      "; openssl x509 -req -in " +
      p + "-client.csr -CA " + p + "-ca.pem -CAkey " + p + "-ca.key -CAcreateserial -days 2 -out " +
      p + "-client.pem 2>/dev/null";
  ASSERT_EQ(std::system(("bash -c '" + cmds + "'").c_str()), 0);
}

std::string der_fingerprint(const fs::path& pem) {
  const std::string out = pem.string() + ".fp";
  std::system(
      ("openssl x509 -in " + pem.string() + " -outform DER | sha256sum | cut -c1-64 > " + out)
          .c_str());
  auto s = slurp(out);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

class GatewayTls : public Gateway {
 protected:
  void SetUp() override {
    make_pki(dir.path, "good");
    make_pki(dir.path, "evil");
    partners_extra =
        "  - { id: provider-x, role: odr-provider, dialect: canonical-json, "
        "client_cert_sha256: " +
        der_fingerprint(dir.path / "good-client.pem") + " }\n";
    const auto p = dir.path.string();
    start("tls: { cert: " + p + "/good-server.pem, key: " + p +
          "/good-server.key, client_ca: " + p + "/good-ca.pem }\n");
  }

  boost::asio::ssl::context client(const std::string& cert_prefix) {
    boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
    ctx.load_verify_file((dir.path / "good-ca.pem").string());
    ctx.set_verify_mode(boost::asio::ssl::verify_peer);
    ctx.set_verify_callback(boost::asio::ssl::host_name_verification("localhost"));
    if (!cert_prefix.empty()) {
      ctx.use_certificate_chain_file((dir.path / (cert_prefix + "-client.pem")).string());
      ctx.use_private_key_file((dir.path / (cert_prefix + "-client.key")).string(),
                               boost::asio::ssl::context::pem);
    }
    return ctx;
  }
};

TEST_F(GatewayTls, ApiKeyOverTls) {
  auto ctx = client("");
  request_spec r;
  r.method = http::verb::post;
  r.target = "/v1/messages";
  r.body = application(300);
  r.bearer = platform_key;
  const auto res = send_tls(gw->port(), ctx, r);
  EXPECT_EQ(res.status, 202) << res.body;
  // Plain HTTP to a TLS port gets nowhere.
  EXPECT_ANY_THROW(send(gw->port(), request_spec{}));
}

TEST_F(GatewayTls, Tls12OnlyWithForwardSecretAeadSuites) {
  request_spec r;
  r.target = "/healthz";
  auto tls12 = [&](const char* ciphers) {
    auto ctx = client("");
    SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx.native_handle(), ciphers);
    return send_tls(gw->port(), ctx, r).status;
  };
  EXPECT_EQ(tls12("ECDHE-ECDSA-AES128-GCM-SHA256"), 200);
  EXPECT_EQ(tls12("ECDHE-ECDSA-CHACHA20-POLY1305"), 200);
  EXPECT_ANY_THROW(tls12("ECDHE-ECDSA-AES128-SHA"));  // CBC
  EXPECT_ANY_THROW(tls12("AES128-GCM-SHA256"));       // no forward secrecy
  // TLS 1.1 is refused outright.
  auto old = client("");
  SSL_CTX_set_min_proto_version(old.native_handle(), TLS1_1_VERSION);
  SSL_CTX_set_max_proto_version(old.native_handle(), TLS1_1_VERSION);
  EXPECT_ANY_THROW(send_tls(gw->port(), old, r));
}

TEST_F(GatewayTls, MutualTlsIdentifiesThePartnerAndRefusesStrangers) {
  auto good = client("good");
  request_spec r;
  r.target = "/v1/cases/ODR-0000-000000";  // any authenticated call: 404 means "you are known"
  EXPECT_EQ(send_tls(gw->port(), good, r).status, 404);
  auto anonymous = client("");
  EXPECT_EQ(send_tls(gw->port(), anonymous, r).status, 401);
  // A certificate from a CA the gateway does not trust fails the handshake.
  auto evil = client("evil");
  EXPECT_ANY_THROW(send_tls(gw->port(), evil, r));
}

}  // namespace
}  // namespace odrgw::test
