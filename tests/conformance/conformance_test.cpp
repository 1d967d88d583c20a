// The conformance runner as CI runs it: `odrgw conformance run` against a real
// `odrgw mock-provider` process in each mode, its reports read back (JUnit with libxml2), and
// certificates signed, verified and tampered with (keys made with the openssl command).
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include <odrgw/conformance/certificate.hpp>
#include <odrgw/conformance/report.hpp>
#include <odrgw/conformance/suite.hpp>
#include <odrgw/schemas/json.hpp>

#include "../gateway/gateway_process.hpp"

namespace odrgw::test {
namespace {

namespace fs = std::filesystem;

struct cli_result {
  int status = -1;
  std::string out;  // stdout and stderr
};

cli_result run_shell(const std::string& cmd) {
  cli_result r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

cli_result odrgw(const std::string& args) { return run_shell(std::string(ODRGW_CLI) + " " + args); }

rapidjson::Document parse(const std::string& s) {
  rapidjson::Document d;
  schemas::json_error err;
  EXPECT_TRUE(schemas::parse_json(s, d, {}, err)) << err.message << "\n" << s;
  return d;
}

// A port that was free a moment ago: the mock must know the receiver's address before the
// runner (which binds it) starts.
unsigned short free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

struct junit_counts {
  int tests = -1, failures = -1, skipped = -1, testcases = 0, failure_elements = 0;
  std::set<std::string> failed_names;
};

// Parses junit.xml with libxml2 (it must be well-formed) and counts what it says.
junit_counts read_junit(const fs::path& p) {
  junit_counts c;
  const std::string text = slurp(p);
  xmlDocPtr doc = xmlReadMemory(text.data(), static_cast<int>(text.size()), "junit.xml", nullptr,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == nullptr) {
    ADD_FAILURE() << "junit.xml is not well-formed:\n" << text;
    return c;
  }
  auto attr = [](xmlNodePtr n, const char* name) {
    xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
    std::string s = v ? reinterpret_cast<const char*>(v) : "";
    xmlFree(v);
    return s;
  };
  xmlNodePtr root = xmlDocGetRootElement(doc);
  EXPECT_STREQ(reinterpret_cast<const char*>(root->name), "testsuites");
  for (xmlNodePtr s = root->children; s; s = s->next) {
    if (s->type != XML_ELEMENT_NODE) continue;
    EXPECT_STREQ(reinterpret_cast<const char*>(s->name), "testsuite");
    c.tests = std::stoi(attr(s, "tests"));
    c.failures = std::stoi(attr(s, "failures"));
    c.skipped = std::stoi(attr(s, "skipped"));
    for (xmlNodePtr t = s->children; t; t = t->next) {
      if (t->type != XML_ELEMENT_NODE ||
          std::string_view("testcase") != reinterpret_cast<const char*>(t->name))
        continue;
      ++c.testcases;
      for (xmlNodePtr f = t->children; f; f = f->next)
        if (f->type == XML_ELEMENT_NODE &&
            std::string_view("failure") == reinterpret_cast<const char*>(f->name)) {
          ++c.failure_elements;
          const std::string name = attr(t, "name");
          c.failed_names.insert(name.substr(0, name.find(' ')));
        }
    }
  }
  xmlFreeDoc(doc);
  return c;
}

class Conformance : public ::testing::Test {
 protected:
  void start_mock(const std::string& mode, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"mock-provider",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--gateway",
                                     "http://" + receiver_,
                                     "--token",
                                     "k-provider-0123456789",
                                     "--delay-ms",
                                     "20",
                                     "--mode",
                                     mode};
    args.insert(args.end(), extra.begin(), extra.end());
    mock.emplace(args, dir.path / "mock.log");
  }

  std::string target() const {
    return "http://127.0.0.1:" + std::to_string(mock->port()) + "/odr/messages";
  }

  // Runs the provider suite against the mock; `extra` are more options; `signatures`: the
  // claims include verifiesSignatures; `procedures`: the claimed procedures (YAML list).
  cli_result run_suite(const std::string& extra = "", bool results = true, bool signatures = false,
                       const std::string& procedures = "[negotiation, mediation, arbitration]") {
    std::ofstream(dir.path / "claims.yaml")
        << "messageTypes: [dispute.application, dispute.appeal, escalation.request]\n"
        << "procedures: " << procedures << "\n"
        << "sendsResults: " << (results ? "true" : "false") << "\npartyId: mock-provider\n"
        << "verifiesSignatures: " << (signatures ? "true" : "false") << "\n";
    return odrgw("conformance run --suite provider --target " + target() + " --claims " +
                 (dir.path / "claims.yaml").string() + " --report-dir " + report_dir().string() +
                 (results ? " --results-listen " + receiver_ : "") + " " + extra);
  }

  fs::path report_dir() const { return dir.path / "report"; }

  // A callback secret, as the gateway and a partner share it.
  std::string secret_file(const std::string& name = "secret.txt",
                          const std::string& value = "conformance-secret-0123456789") {
    std::ofstream(dir.path / name) << value << "\n";
    return (dir.path / name).string();
  }

  rapidjson::Document report() { return parse(slurp(report_dir() / "report.json")); }

  std::set<std::string> failed_cases(const rapidjson::Document& r) {
    std::set<std::string> out;
    for (const auto& c : r["cases"].GetArray())
      if (std::string_view(c["status"].GetString()) == "failed") out.insert(c["id"].GetString());
    return out;
  }

  // The JUnit file is well-formed and says what the JSON report says.
  void expect_junit_matches_json() {
    const auto r = report();
    const auto j = read_junit(report_dir() / "junit.xml");
    const auto& s = r["summary"];
    EXPECT_EQ(j.tests, static_cast<int>(s["cases"].GetUint()));
    EXPECT_EQ(j.testcases, static_cast<int>(s["cases"].GetUint()));
    EXPECT_EQ(j.failures, static_cast<int>(s["failed"].GetUint()));
    EXPECT_EQ(j.failure_elements, static_cast<int>(s["failed"].GetUint()));
    EXPECT_EQ(j.skipped, static_cast<int>(s["skipped"].GetUint() + s["notApplicable"].GetUint()));
    EXPECT_EQ(j.failed_names, failed_cases(r));
  }

  static std::string test_name() {
    std::string n = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(n.begin(), n.end(), '/', '-');  // parameterised names hold a slash
    return n;
  }
  temp_dir dir{"conf-" + test_name()};
  std::string receiver_ = "127.0.0.1:" + std::to_string(free_port());
  std::optional<gateway_process> mock;
};

// The provider suite's cases that run without a claim of verifiesSignatures.
const std::set<std::string> all_cases = {
    "provider.accepts-valid",      "provider.accepts-xml",  "provider.rejects-invalid",
    "provider.rejects-malformed",  "provider.deduplicates", "provider.time-bound",
    "provider.results-valid",      "provider.results-once", "provider.mediation-results",
    "provider.arbitration-results"};

TEST_F(Conformance, ConformingProviderPassesEveryMandatoryCase) {
  start_mock("conforming");
  const auto run = run_suite();
  ASSERT_EQ(run.status, 0) << run.out;
  EXPECT_NE(run.out.find("[11/11] provider.arbitration-results"), std::string::npos) << run.out;
  const auto r = report();
  EXPECT_EQ(r["summary"]["passed"].GetUint(), 10u) << slurp(report_dir() / "report.json");
  EXPECT_EQ(r["summary"]["notApplicable"].GetUint(), 1u);  // verifiesSignatures not claimed
  EXPECT_TRUE(r["summary"]["mandatoryPassed"].GetBool());
  std::set<std::string> ids;
  for (const auto& c : r["cases"].GetArray())
    if (std::string_view(c["status"].GetString()) == "passed") ids.insert(c["id"].GetString());
  EXPECT_EQ(ids, all_cases);
  // Every claimed type was sent, and the invalid seeds of the claimed types too.
  for (const auto& c : r["cases"].GetArray()) {
    if (std::string_view(c["id"].GetString()) == "provider.accepts-valid" ||
        std::string_view(c["id"].GetString()) == "provider.accepts-xml") {
      EXPECT_EQ(c["exchanges"].Size(), 3u);
      const std::string sent = c["exchanges"][0]["request"].GetString();
      EXPECT_EQ(sent.find("<message") != std::string::npos,
                std::string_view(c["id"].GetString()) == "provider.accepts-xml")
          << sent;
    } else if (std::string_view(c["id"].GetString()) == "provider.rejects-invalid") {
      EXPECT_GT(c["exchanges"].Size(), 20u);
    }
  }
  expect_junit_matches_json();
  const std::string html = slurp(report_dir() / "report.html");
  EXPECT_NE(html.find("Every mandatory case passed."), std::string::npos);
  EXPECT_NE(html.find("<td>ODR-SI 6.2.3</td>"), std::string::npos);
  // Self-contained: no scripts, nothing loaded from elsewhere.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);
}

TEST_F(Conformance, ResultCasesAreNotApplicableWithoutTheClaim) {
  start_mock("conforming");
  const auto run = run_suite("", false);
  ASSERT_EQ(run.status, 0) << run.out;
  const auto r = report();
  EXPECT_EQ(r["summary"]["passed"].GetUint(), 6u);
  EXPECT_EQ(r["summary"]["notApplicable"].GetUint(), 5u);
  expect_junit_matches_json();
}

// The escalation cases apply per claimed procedure: mediation only, then none of the two.
TEST_F(Conformance, EscalationCasesFollowTheClaimedProcedures) {
  start_mock("conforming");
  auto run = run_suite("", true, false, "[negotiation, mediation]");
  ASSERT_EQ(run.status, 0) << run.out;
  auto r = report();
  auto status_of = [&](const rapidjson::Document& rep, std::string_view id) {
    for (const auto& c : rep["cases"].GetArray())
      if (std::string_view(c["id"].GetString()) == id) return std::string(c["status"].GetString());
    return std::string("missing");
  };
  EXPECT_EQ(status_of(r, "provider.mediation-results"), "passed");
  EXPECT_EQ(status_of(r, "provider.arbitration-results"), "not-applicable");
  EXPECT_EQ(r["summary"]["passed"].GetUint(), 9u);
  EXPECT_EQ(r["summary"]["notApplicable"].GetUint(), 2u);
  expect_junit_matches_json();
  // The mediation case's exchanges: the application, its acceptance, the escalation on the same
  // case, then the appointment before the proposal.
  for (const auto& c : r["cases"].GetArray()) {
    if (std::string_view(c["id"].GetString()) != "provider.mediation-results") continue;
    ASSERT_EQ(c["exchanges"].Size(), 4u);
    const std::string esc = c["exchanges"][2]["request"].GetString();
    EXPECT_NE(esc.find("\"toTier\":\"T4\""), std::string::npos) << esc;
    const std::string results = c["exchanges"][3]["response"].GetString();
    const auto appointed = results.find("mediation.neutral-appointed");
    ASSERT_NE(appointed, std::string::npos) << results;
    EXPECT_LT(appointed, results.find("mediation.proposal")) << results;
  }

  run = run_suite("", true, false, "[negotiation]");
  ASSERT_EQ(run.status, 0) << run.out;
  r = report();
  EXPECT_EQ(status_of(r, "provider.mediation-results"), "not-applicable");
  EXPECT_EQ(status_of(r, "provider.arbitration-results"), "not-applicable");
  EXPECT_EQ(r["summary"]["passed"].GetUint(), 8u);
  expect_junit_matches_json();
}

TEST_F(Conformance, ClaimedResultsWithoutAReceiverDoNotPass) {
  start_mock("conforming");
  std::ofstream(dir.path / "claims.json")
      << R"({"messageTypes": ["dispute.application"], "sendsResults": true})";
  const auto run =
      odrgw("conformance run --suite provider --target " + target() + " --claims " +
            (dir.path / "claims.json").string() + " --report-dir " + report_dir().string());
  EXPECT_EQ(run.status, 1) << run.out;
  EXPECT_EQ(report()["summary"]["skipped"].GetUint(), 2u);
}

struct broken_mode {
  std::string mode;
  std::vector<std::string> mock_args;
  std::string run_args;
  std::set<std::string> failing;
  std::string says;  // in the report's failures: the check that caught it
};

void PrintTo(const broken_mode& m, std::ostream* os) { *os << m.mode; }

class BrokenProvider : public Conformance, public ::testing::WithParamInterface<broken_mode> {};

TEST_P(BrokenProvider, TheRightCasesFailAndTheRunExitsOne) {
  const auto& p = GetParam();
  start_mock(p.mode, p.mock_args);
  const auto run = run_suite(p.run_args);
  EXPECT_EQ(run.status, 1) << run.out;
  const auto r = report();
  EXPECT_EQ(failed_cases(r), p.failing) << slurp(report_dir() / "report.json");
  if (!p.says.empty()) {
    EXPECT_NE(slurp(report_dir() / "report.json").find(p.says), std::string::npos)
        << slurp(report_dir() / "report.json");
  }
  EXPECT_FALSE(r["summary"]["mandatoryPassed"].GetBool());
  expect_junit_matches_json();
  // The HTML names each failure with its exchange.
  const std::string html = slurp(report_dir() / "report.html");
  EXPECT_NE(html.find("At least one mandatory case did not pass."), std::string::npos);
  for (const auto& id : p.failing) EXPECT_NE(html.find("id=\"" + id + "\""), std::string::npos);
  EXPECT_NE(html.find("<details><summary>"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Modes, BrokenProvider,
    ::testing::Values(
        broken_mode{"reject-all", {}, "", all_cases, "status 422"},
        broken_mode{"flaky", {"--fail-rate", "1"}, "", all_cases, "status 503"},
        broken_mode{"duplicate-results",
                    {},
                    "",
                    {"provider.results-once"},
                    "although the first delivery got a 2xx receipt"},
        broken_mode{"invalid-results",
                    {},
                    "",
                    {"provider.results-valid", "provider.mediation-results",
                     "provider.arbitration-results"},
                    "breaks v1"},
        // The proposal before the neutral's appointment: only mediation has two results.
        broken_mode{"misordered-results",
                    {},
                    "",
                    {"provider.mediation-results"},
                    "mediation.proposal arrived before mediation.neutral-appointed"},
        // Results on another case: the escalation cases check the case (results-valid does not).
        broken_mode{"other-case-results",
                    {},
                    "",
                    {"provider.mediation-results", "provider.arbitration-results"},
                    "names case 'other-conf-"},
        // Only two cases: every answer takes --slow-ms.
        broken_mode{"slow",
                    {"--slow-ms", "600"},
                    "--case provider.time-bound --case provider.deduplicates --time-bound-ms 250",
                    {"provider.time-bound"},
                    "answered after"}),
    [](const auto& p) {
      std::string n = p.param.mode;
      std::erase(n, '-');
      return n;
    });

// With --secret-file the runner signs every request as the gateway does, so the whole suite passes
// against a mock that checks signatures; without it, that mock refuses everything.
TEST_F(Conformance, ASigningMockPassesASigningRunAndFailsAnUnsignedOne) {
  const auto secret = secret_file();
  start_mock("conforming", {"--secret-file", secret});
  const auto run = run_suite("--secret-file " + secret, true, true);
  ASSERT_EQ(run.status, 0) << run.out;
  auto r = report();
  EXPECT_EQ(r["summary"]["passed"].GetUint(), 11u) << slurp(report_dir() / "report.json");
  for (const auto& c : r["cases"].GetArray()) {
    if (std::string_view(c["id"].GetString()) != "provider.verifies-signature") continue;
    ASSERT_EQ(c["exchanges"].Size(), 4u);
    EXPECT_EQ(c["exchanges"][0]["status"].GetInt(), 401);  // unsigned
    EXPECT_EQ(std::string(c["exchanges"][0]["request"].GetString()).find("ODR-Signature"),
              std::string::npos);
    EXPECT_EQ(c["exchanges"][1]["status"].GetInt(), 401);  // another secret
    EXPECT_EQ(c["exchanges"][2]["status"].GetInt(), 401);  // an hour old
    EXPECT_NE(std::string(c["exchanges"][2]["response"].GetString()).find("outside-window"),
              std::string::npos)
        << c["exchanges"][2]["response"].GetString();
    EXPECT_NE(std::string(c["exchanges"][3]["request"].GetString()).find("ODR-Signature: t="),
              std::string::npos);
  }
  expect_junit_matches_json();

  // The same claims without the secret: every request is refused, the signature case cannot be
  // checked (skipped), and the run fails.
  const auto unsigned_run = run_suite("", true, true);
  EXPECT_EQ(unsigned_run.status, 1) << unsigned_run.out;
  r = report();
  EXPECT_EQ(r["summary"]["passed"].GetUint(), 0u);
  EXPECT_EQ(r["summary"]["skipped"].GetUint(), 1u);
  expect_junit_matches_json();
}

// A provider that claims to verify signatures but takes unsigned messages is caught.
TEST_F(Conformance, AProviderThatTakesUnsignedMessagesFailsTheSignatureCase) {
  start_mock("conforming");  // no --secret-file: it checks nothing
  const auto run = run_suite("--secret-file " + secret_file(), false, true);
  EXPECT_EQ(run.status, 1) << run.out;
  const auto r = report();
  EXPECT_EQ(failed_cases(r), std::set<std::string>{"provider.verifies-signature"});
  EXPECT_EQ(r["summary"]["passed"].GetUint(), 6u);
  expect_junit_matches_json();
}

class Certificate : public Conformance {
 protected:
  void SetUp() override {
    ASSERT_EQ(run_shell("openssl genpkey -algorithm ed25519 -out " + key("key.pem")).status, 0);
    ASSERT_EQ(
        run_shell("openssl pkey -in " + key("key.pem") + " -pubout -out " + key("pub.pem")).status,
        0);
    ASSERT_EQ(run_shell("openssl genpkey -algorithm ed25519 -out " + key("other.pem")).status, 0);
    ASSERT_EQ(
        run_shell("openssl pkey -in " + key("other.pem") + " -pubout -out " + key("other.pub"))
            .status,
        0);
  }
  std::string key(const std::string& name) const { return (dir.path / name).string(); }
  std::string cert() const { return (report_dir() / "certificate.json").string(); }
};

TEST_F(Certificate, APassingRunIsSignedAndEveryChangedByteBreaksIt) {
  // A mock that checks signatures, a run that signs: every case applies and passes.
  const auto secret = secret_file();
  start_mock("conforming", {"--secret-file", secret});
  const auto run =
      run_suite("--sign-key " + key("key.pem") + " --secret-file " + secret, true, true);
  ASSERT_EQ(run.status, 0) << run.out;
  const std::string original = slurp(cert());
  const auto c = parse(original);
  EXPECT_STREQ(c["suite"]["id"].GetString(), "provider");
  EXPECT_STREQ(c["suite"]["version"].GetString(), "1.0.0");
  EXPECT_STREQ(c["specVersion"].GetString(), "1.0");
  EXPECT_EQ(std::string(c["target"].GetString()), target());
  EXPECT_TRUE(c["claims"]["sendsResults"].GetBool());
  EXPECT_TRUE(c["claims"]["verifiesSignatures"].GetBool());
  // ODR-SI 6.2.2, 6.1.1, 5.2, 5.5, 6.2.3, 6.2.5 and R-ENV-1
  EXPECT_EQ(c["requirements"].Size(), 7u);
  for (const auto& req : c["requirements"].GetArray())
    EXPECT_STREQ(req["status"].GetString(), "passed");
  EXPECT_STREQ(c["signature"]["algorithm"].GetString(), "Ed25519");

  auto verify = [&](const std::string& pub) {
    return odrgw("conformance verify-cert " + cert() + " --pubkey " + key(pub));
  };
  const auto good = verify("pub.pem");
  EXPECT_EQ(good.status, 0) << good.out;
  EXPECT_EQ(verify("other.pub").status, 1);  // another key
  // Change one byte at a time across the file, content, structure and signature alike.
  for (std::size_t i = 0; i < original.size(); i += original.size() / 23 + 1) {
    std::string t = original;
    t[i] = static_cast<char>(t[i] == 'a' ? 'b' : t[i] == '0' ? '1' : 'a');
    std::ofstream(cert(), std::ios::binary | std::ios::trunc) << t;
    const auto bad = verify("pub.pem");
    EXPECT_EQ(bad.status, 1) << "byte " << i << " changed, still verifies: " << bad.out;
  }
  // A change that keeps the JSON meaning (extra whitespace) is a changed byte too.
  std::ofstream(cert(), std::ios::binary | std::ios::trunc) << " " + original;
  EXPECT_EQ(verify("pub.pem").status, 1);
  std::ofstream(cert(), std::ios::binary | std::ios::trunc) << original;
  EXPECT_EQ(verify("pub.pem").status, 0);
  EXPECT_EQ(odrgw("conformance verify-cert " + cert()).status, 2);  // --pubkey missing
}

TEST_F(Certificate, AFailingRunGetsNoCertificate) {
  start_mock("reject-all");
  const auto run = run_suite("--sign-key " + key("key.pem"));
  EXPECT_EQ(run.status, 1) << run.out;
  EXPECT_FALSE(fs::exists(cert()));
  EXPECT_TRUE(fs::exists(report_dir() / "junit.xml"));
}

TEST(ConformanceCli, ListsSuitesAndCasesAndRefusesBadUsage) {
  const auto list = odrgw("conformance list --suite provider");
  EXPECT_EQ(list.status, 0) << list.out;
  for (const auto& id : all_cases) EXPECT_NE(list.out.find(id), std::string::npos) << id;
  EXPECT_NE(list.out.find("[R-ENV-1, mandatory]"), std::string::npos) << list.out;
  EXPECT_EQ(odrgw("conformance list --suite nope").status, 2);
  EXPECT_EQ(odrgw("conformance run --suite provider --report-dir /tmp/x").status, 2);  // no target
  temp_dir d("conf-usage");
  const std::string common = " --target http://127.0.0.1:9/ --report-dir " + d.path.string();
  EXPECT_EQ(odrgw("conformance run --suite nope" + common).status, 2);
  EXPECT_EQ(odrgw("conformance run --suite provider --case provider.nope" + common).status, 2);
  EXPECT_EQ(odrgw("conformance run --suite provider --case provider.deduplicates --sign-key k.pem" +
                  common)
                .status,
            2);  // a certificate covers the whole suite
  std::ofstream(d.path / "claims.yaml") << "messageTypes: [dispute.application]\nflavour: x\n";
  const auto bad = odrgw("conformance run --suite provider --claims " +
                         (d.path / "claims.yaml").string() + common);
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.out.find("unknown key 'flavour'"), std::string::npos) << bad.out;
}

TEST(ConformanceCli, AnUnreachableTargetFailsEveryCaseWithExitOne) {
  temp_dir d("conf-unreachable");
  const auto r = odrgw(
      "conformance run --suite provider --timeout-ms 2000 --target "
      "http://127.0.0.1:" +
      std::to_string(free_port()) + "/odr --report-dir " + d.path.string());
  EXPECT_EQ(r.status, 1) << r.out;
  const auto rep = parse(slurp(d.path / "report.json"));
  EXPECT_EQ(rep["summary"]["failed"].GetUint(), 6u);  // result and signature cases: not applicable
}

// The offline messages suite: a directory of samples; each broken file fails exactly its rule.
TEST(MessagesSuite, ValidExamplesPassAndEachBrokenFileFailsItsRule) {
  temp_dir d("conf-messages");
  const fs::path samples = d.path / "samples";
  fs::create_directories(samples);
  const fs::path valid = fs::path(ODRGW_SOURCE_DIR) / "schemas/v1/examples/valid";
  for (const auto& e : fs::directory_iterator(valid))
    fs::copy_file(e.path(), samples / e.path().filename());
  const std::string run = "conformance run --suite messages --target " + samples.string() +
                          " --report-dir " + (d.path / "report").string();
  const auto good = odrgw(run);
  ASSERT_EQ(good.status, 0) << good.out;
  EXPECT_EQ(parse(slurp(d.path / "report/report.json"))["summary"]["passed"].GetUint(), 4u);

  auto write = [&](const std::string& name, const std::string& from,
                   const std::function<void(rapidjson::Document&)>& change) {
    auto doc = parse(slurp(valid / from));
    change(doc);
    std::ofstream(samples / name) << schemas::to_json_string(doc);
  };
  write("x-no-language.json", "dispute.application.json",
        [](rapidjson::Document& m) { m.RemoveMember("language"); });
  write("x-no-reply.json", "dispute.acceptance.json",
        [](rapidjson::Document& m) { m.RemoveMember("inReplyTo"); });
  write("x-control.json", "dispute.application.json", [](rapidjson::Document& m) {
    m["payload"]["description"].SetString("a bell \x07 rings", m.GetAllocator());
  });
  fs::copy_file(fs::path(ODRGW_SOURCE_DIR) /
                    "schemas/v1/examples/invalid/dispute.application--bad-currency.json",
                samples / "x-invalid.json");
  const auto bad = odrgw(run);
  EXPECT_EQ(bad.status, 1) << bad.out;
  const auto r = parse(slurp(d.path / "report/report.json"));
  std::map<std::string, std::vector<std::string>> failures;
  for (const auto& c : r["cases"].GetArray())
    for (const auto& f : c["failures"].GetArray())
      failures[c["id"].GetString()].push_back(f.GetString());
  const std::map<std::string, std::string> expected = {
      {"messages.schema-valid", "x-invalid.json: invalid at '/payload/price/currency' (enum)"},
      {"messages.language-for-free-text", "x-no-language.json: the payload carries free text"},
      {"messages.in-reply-to", "x-no-reply.json: dispute.acceptance is an answer"},
      {"messages.no-control-characters",
       "x-control.json: a control character in the string at '/payload/description'"}};
  ASSERT_EQ(failures.size(), expected.size()) << slurp(d.path / "report/report.json");
  for (const auto& [id, text] : expected) {
    ASSERT_EQ(failures[id].size(), 1u) << id;
    EXPECT_TRUE(failures[id][0].starts_with(text)) << failures[id][0];
  }
  EXPECT_EQ(read_junit(d.path / "report/junit.xml").failed_names,
            (std::set<std::string>{"messages.schema-valid", "messages.language-for-free-text",
                                   "messages.in-reply-to", "messages.no-control-characters"}));
  EXPECT_EQ(
      odrgw("conformance run --suite messages --target " + (samples / "x-control.json").string() +
            " --report-dir " + (d.path / "report").string())
          .status,
      2);  // not a directory
}

// ---- in-process: suite format, claims, canonical form, escaping ---------------------------

TEST(ConformanceSuite, TheEmbeddedSuitesLoadAndBadOnesAreRefused) {
  const auto ids = conformance::suite_ids();
  ASSERT_FALSE(ids.empty());
  for (const auto& id : ids) EXPECT_NO_THROW(conformance::load_suite(id)) << id;
  const auto s = conformance::load_suite("provider");
  EXPECT_EQ(s.cases.size(), all_cases.size() + 1);  // and provider.verifies-signature
  const auto p = conformance::load_suite("platform");
  EXPECT_EQ(p.default_message_types.size(), 6u);
  EXPECT_EQ(conformance::load_suite("messages").target_kind, "directory");
  const std::string base =
      R"({"suite": "x", "version": "1.0.0", "specVersion": "1.0", "title": "t", "cases": [)";
  const std::string good_case =
      R"({"id": "x.a", "title": "t", "requirement": "R-ENV-1", "severity": "mandatory",
          "steps": [{"action": "send-malformed", "body": "{"}]})";
  EXPECT_NO_THROW(conformance::parse_suite(base + good_case + "]}"));
  const auto procedure_case = conformance::parse_suite(
      base +
      R"({"id": "x.b", "title": "t", "requirement": "ODR-SI 6.2.5", "severity": "mandatory",
          "requiresProcedure": "mediation", "steps": [{"action": "wait-results",
          "expect": {"resultTypes": ["mediation.proposal"], "sameCase": true}}]})" +
      "]}");
  EXPECT_EQ(procedure_case.cases.at(0).requires_procedure, "mediation");
  // No requirement; a severity that does not exist; a requirement that cites nothing; a
  // procedure that does not exist.
  for (const std::string bad :
       {R"({"id": "x.a", "title": "t", "severity": "mandatory", "steps": [{"action": "query"}]})",
        R"({"id": "x.a", "title": "t", "requirement": "R-ENV-1", "severity": "nice",
            "steps": [{"action": "query"}]})",
        R"({"id": "x.a", "title": "t", "requirement": "be good", "severity": "mandatory",
            "steps": [{"action": "query"}]})",
        R"({"id": "x.a", "title": "t", "requirement": "R-ENV-1", "severity": "mandatory",
            "requiresProcedure": "haggling", "steps": [{"action": "query"}]})"})
    EXPECT_THROW(conformance::parse_suite(base + bad + "]}"), std::runtime_error) << bad;
  EXPECT_THROW(conformance::parse_suite(base + good_case + "," + good_case + "]}"),
               std::runtime_error);  // the same id twice
  EXPECT_THROW(conformance::load_suite("nope"), std::runtime_error);
}

TEST(ConformanceSuite, ClaimsReadAsYamlOrJson) {
  const auto y = conformance::parse_claims(
      "messageTypes: [dispute.appeal]\nprocedures: [mediation]\nsendsResults: true\n");
  EXPECT_EQ(y.message_types, std::vector<std::string>{"dispute.appeal"});
  EXPECT_TRUE(y.sends_results);
  const auto j = conformance::parse_claims(R"({"messageTypes": ["a", "b"], "partyId": "p"})");
  EXPECT_EQ(j.message_types.size(), 2u);
  EXPECT_EQ(j.party_id, "p");
  EXPECT_FALSE(j.sends_results);
  EXPECT_THROW(conformance::parse_claims("procedures: [haggling]\n"), std::runtime_error);
  EXPECT_THROW(conformance::parse_claims("messageTypes: []\n"), std::runtime_error);
  EXPECT_THROW(conformance::parse_claims("[1, 2]"), std::runtime_error);
}

TEST(ConformanceSuite, ReportsEscapeWhatTheTargetSent) {
  // A hostile target answers with markup: the HTML shows it as text, the JUnit stays well-formed.
  conformance::run_result r;
  r.suite = "provider";
  r.target = "http://x/<b>";
  conformance::case_result c;
  c.def.id = "provider.accepts-valid";
  c.def.requirement = "ODR-SI 6.2.2";
  c.def.severity = "mandatory";
  c.status = conformance::case_status::failed;
  c.failures = {"status 500 <script>alert(1)</script>"};
  c.exchanges.push_back(
      {"send", "POST http://x/\"'&", 500, "<img src=x onerror=alert(2)>]]>\x01", 3});
  r.cases.push_back(c);
  const std::string html = conformance::html_report(r);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("http://x/&lt;b&gt;"), std::string::npos);
  temp_dir d("conf-escape");
  std::ofstream(d.path / "junit.xml") << conformance::junit_report(r);
  const auto j = read_junit(d.path / "junit.xml");
  EXPECT_EQ(j.failures, 1);
  EXPECT_EQ(j.failed_names, std::set<std::string>{"provider.accepts-valid"});
  EXPECT_NE(slurp(d.path / "junit.xml").find("]]&gt;\\x01"), std::string::npos);
  // Bytes that are not UTF-8 would make the JSON report unreadable.
  r.cases[0].exchanges[0].response = "caf\xc3\xa9 \xff\xfe";
  const auto json = parse(conformance::json_report(r));
  EXPECT_FALSE(json["summary"]["mandatoryPassed"].GetBool());
  EXPECT_STREQ(json["cases"][0]["exchanges"][0]["response"].GetString(), "caf\xc3\xa9 \\xff\\xfe");
}

TEST(ConformanceSuite, OnlyMandatoryCasesDecideTheVerdict) {
  conformance::run_result r;
  conformance::case_result c;
  c.def.severity = "recommended";
  c.status = conformance::case_status::failed;
  r.cases.push_back(c);
  c.def.severity = "mandatory";
  c.status = conformance::case_status::not_applicable;
  r.cases.push_back(c);
  EXPECT_TRUE(r.mandatory_passed());
  c.status = conformance::case_status::skipped;  // could not be checked: not passed
  r.cases.push_back(c);
  EXPECT_FALSE(r.mandatory_passed());
  r.cases.back().status = conformance::case_status::passed;
  EXPECT_TRUE(r.mandatory_passed());
  r.cases.back().status = conformance::case_status::failed;
  EXPECT_FALSE(r.mandatory_passed());
}

TEST(ConformanceSuite, CanonicalJsonSortsMembersAndDropsWhitespace) {
  const auto d = parse(R"({ "b": [1, {"z": true, "a": null}], "a": "x\n\"y" })");
  EXPECT_EQ(conformance::canonical_json(d), R"({"a":"x\n\"y","b":[1,{"a":null,"z":true}]})");
  EXPECT_EQ(conformance::html_escape(R"(<a href="x">&'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
}

}  // namespace
}  // namespace odrgw::test

namespace odrgw::test {
namespace {

// The gateway certifies itself: the gateway suite against a real `odrgw serve` (issue 6: "the
// gateway certifies itself in CI").
TEST(GatewaySuite, OdrgwServePassesEveryMandatoryCase) {
  temp_dir dir{"conf-gateway-self"};
  const std::string key = "k-platform-0123456789";
  std::ofstream(dir.path / "odrgw.yaml")
      << "listen: 127.0.0.1:0\nthreads: 1\n"
      << "storage: { sqlite: " << (dir.path / "odrgw.db").string() << " }\n"
      << "audit: { pii_key_file: " << (dir.path / "pii.key").string() << " }\n"
      << "partners:\n  - { id: platform-gb, role: platform, api_key_sha256: " << sha256_hex(key)
      << " }\n";
  gateway_process gw(dir.path / "odrgw.yaml", dir.path / "odrgw.log");
  const auto report = dir.path / "report";
  const auto run = odrgw(
      "conformance run --suite gateway --target http://127.0.0.1:" + std::to_string(gw.port()) +
      "/v1/messages --token " + key + " --report-dir " + report.string());
  ASSERT_EQ(run.status, 0) << run.out;
  const auto r = parse(slurp(report / "report.json"));
  EXPECT_EQ(r["summary"]["failed"].GetUint(), 0u);
  EXPECT_EQ(r["summary"]["passed"].GetUint(), 15u);
  const auto j = read_junit(report / "junit.xml");
  EXPECT_EQ(j.tests, 15);
  EXPECT_EQ(j.failures, 0);
  // Every clause of ODR-SI 6.2 from 6.2.2 to 6.2.9 was checked, and passed.
  std::set<std::string> clauses;
  for (const auto& q : r["requirements"].GetArray())
    if (std::string_view(q["status"].GetString()) == "passed")
      clauses.insert(q["requirement"].GetString());
  for (const char* c :
       {"ODR-SI 6.2.2", "ODR-SI 6.2.3", "ODR-SI 6.2.4", "ODR-SI 6.2.5", "ODR-SI 6.2.6",
        "ODR-SI 6.2.7", "ODR-SI 6.2.8", "ODR-SI 6.2.9", "ODR-SI 5.5"})
    EXPECT_TRUE(clauses.contains(c)) << c;
  // The flow cases saw the state machine refuse (409 naming the state) and then go on.
  for (const auto& c : r["cases"].GetArray()) {
    if (std::string_view(c["id"].GetString()) != "gateway.negotiation") continue;
    std::vector<int> statuses;
    for (const auto& e : c["exchanges"].GetArray()) statuses.push_back(e["status"].GetInt());
    EXPECT_EQ(statuses, (std::vector<int>{202, 200, 409, 202, 202, 200}));
  }
  // Everything it sent is in the gateway's audit log, and the log is intact.
  EXPECT_EQ(odrgw("audit verify --db " + (dir.path / "odrgw.db").string()).status, 0);
  // A gateway that lost its partner's key fails the acceptance cases: the suite can fail.
  const auto wrong = odrgw(
      "conformance run --suite gateway --target http://127.0.0.1:" + std::to_string(gw.port()) +
      "/v1/messages --token wrong-key" + " --report-dir " + (dir.path / "report2").string());
  EXPECT_EQ(wrong.status, 1) << wrong.out;
}

}  // namespace
}  // namespace odrgw::test

namespace odrgw::test {
namespace {

// The platform suite against the real `odrgw callback listen`: the runner delivers as the gateway
// does, signed with the partner's secret.
class PlatformSuite : public Conformance {
 protected:
  void start_listener(const std::string& secret) {
    listener.emplace(std::vector<std::string>{"callback", "listen", "--listen", "127.0.0.1:0",
                                              "--secret-file", secret},
                     dir.path / "listener.log");
  }
  cli_result run_platform(const std::string& extra) {
    std::ofstream(dir.path / "claims.yaml") << "verifiesSignatures: true\n";
    return odrgw("conformance run --suite platform --target http://127.0.0.1:" +
                 std::to_string(listener->port()) + "/odr/callbacks --claims " +
                 (dir.path / "claims.yaml").string() + " --report-dir " + report_dir().string() +
                 " " + extra);
  }
  std::optional<gateway_process> listener;
};

TEST_F(PlatformSuite, TheCallbackListenerPassesEveryMandatoryCase) {
  const auto secret = secret_file();
  start_listener(secret);
  const auto run = run_platform("--secret-file " + secret);
  ASSERT_EQ(run.status, 0) << run.out;
  const auto r = report();
  EXPECT_EQ(r["summary"]["passed"].GetUint(), 4u) << slurp(report_dir() / "report.json");
  std::map<std::string, std::vector<int>> statuses;
  for (const auto& c : r["cases"].GetArray())
    for (const auto& e : c["exchanges"].GetArray())
      statuses[c["id"].GetString()].push_back(e["status"].GetInt());
  // One delivery per default result type, each answered 204; a repeat is answered 204 again.
  EXPECT_EQ(statuses["platform.accepts-results"], std::vector<int>(6, 204));
  EXPECT_EQ(statuses["platform.redelivery-safe"], (std::vector<int>{204, 204, 204}));
  EXPECT_EQ(statuses["platform.rejects-malformed"], std::vector<int>{400});
  EXPECT_EQ(statuses["platform.verifies-signature"], (std::vector<int>{401, 401, 401, 204}));
  // Delivered with the gateway's headers.
  const std::string first = r["cases"][0]["exchanges"][0]["request"].GetString();
  for (const char* h :
       {"Idempotency-Key: ", "ODR-Message-Id: ", "ODR-Message-Type: dispute.acceptance",
        "ODR-Case-Id: ", "ODR-Signature: t="})
    EXPECT_NE(first.find(h), std::string::npos) << h << " in " << first;
  expect_junit_matches_json();
  EXPECT_EQ(r["claims"]["messageTypes"].Size(), 6u);  // the suite's default result types
}

// The listener refuses what is no message (the platform suite's rejects-malformed) but still takes
// an XML dialect's deliveries: markup with an XML content type.
TEST_F(PlatformSuite, TheListenerTakesXmlDeliveriesAndRefusesGarbage) {
  const auto secret = secret_file();
  start_listener(secret);
  auto deliver = [&](const std::string& name, const std::string& body, const std::string& type) {
    std::ofstream(dir.path / name, std::ios::binary) << body;
    const auto sig =
        odrgw("callback sign --secret-file " + secret + " " + (dir.path / name).string());
    EXPECT_EQ(sig.status, 0) << sig.out;
    std::string header = sig.out;
    while (!header.empty() && header.back() == '\n') header.pop_back();
    return run_shell("curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: " + type +
                     "' -H 'ODR-Signature: " + header + "' --data-binary @" +
                     (dir.path / name).string() +
                     " http://127.0.0.1:" + std::to_string(listener->port()) + "/cb")
        .out;
  };
  EXPECT_EQ(deliver("m.xml", "<message xmlns=\"urn:x\"/>", "application/xml"), "204");
  EXPECT_EQ(deliver("m.json", R"({"messageId": "x"})", "application/json"), "204");
  EXPECT_EQ(deliver("bad.xml", "not markup", "application/xml"), "400");
  EXPECT_EQ(deliver("bad.json", "[1, 2]", "application/json"), "400");  // not an object
}

TEST_F(PlatformSuite, AListenerWithAnotherSecretFailsAndTheRunExitsOne) {
  start_listener(secret_file("other.txt", "not-the-partners-secret"));
  const auto run = run_platform("--secret-file " + secret_file());
  EXPECT_EQ(run.status, 1) << run.out;
  const auto r = report();
  // Every well signed delivery is refused: nothing that needs a 2xx passes, and the malformed
  // body gets 401 where 400 or 422 was expected.
  EXPECT_EQ(failed_cases(r),
            (std::set<std::string>{"platform.accepts-results", "platform.redelivery-safe",
                                   "platform.rejects-malformed", "platform.verifies-signature"}));
  expect_junit_matches_json();
}

TEST_F(PlatformSuite, UnsignedDeliveriesToACheckingListenerFail) {
  start_listener(secret_file());
  std::ofstream(dir.path / "claims.yaml") << "messageTypes: [outcome.notification]\n";
  // Unsigned deliveries to a listener that checks: refused; the signature case is not claimed.
  const auto run =
      odrgw("conformance run --suite platform --target http://127.0.0.1:" +
            std::to_string(listener->port()) + "/cb --claims " +
            (dir.path / "claims.yaml").string() + " --report-dir " + report_dir().string());
  EXPECT_EQ(run.status, 1) << run.out;
  const auto r = report();
  EXPECT_EQ(r["summary"]["notApplicable"].GetUint(), 1u);
  EXPECT_EQ(r["claims"]["messageTypes"].Size(), 1u);
  EXPECT_EQ(failed_cases(r).count("platform.accepts-results"), 1u);
}

}  // namespace
}  // namespace odrgw::test
