// The odrgw command line as a user runs it: a real process, real files, exit statuses and output.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include <odrgw/schemas/json.hpp>

namespace {

struct result {
  int status = -1;
  std::string out;  // stdout and stderr, interleaved
};

std::string examples() { return std::string(ODRGW_SOURCE_DIR) + "/schemas/v1/examples"; }

result run(const std::string& args) {
  const std::string cmd = std::string(ODRGW_CLI) + " " + args + " 2>&1";
  result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

std::filesystem::path temp_file(const std::string& name, const std::string& content) {
  const auto p = std::filesystem::temp_directory_path() / ("odrgw-cli-" + name);
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

TEST(Cli, ValidFilesExitZero) {
  const auto r = run("validate " + examples() + "/valid/dispute.application.json " + examples() +
                     "/valid/dispute.application.xml");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("dispute.application.json: valid (dispute.application, json)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("dispute.application.xml: valid (dispute.application, xml)"),
            std::string::npos);
}

TEST(Cli, InvalidFileExitsOneWithOneLinePerError) {
  const std::string f = examples() + "/invalid/dispute.application--bad-currency.json";
  const auto r = run("validate " + f);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_EQ(r.out,
            f + ": /payload/price/currency: 'XYZ' is not one of the allowed values [enum]\n");
}

TEST(Cli, XmlErrorsCarryPathAndLine) {
  const auto r =
      run("validate " + examples() + "/invalid/dispute.application--xml-missing-currency.xml");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find(": /message/payload/price (line "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[cvc-complex-type.2.4.b]"), std::string::npos) << r.out;
}

TEST(Cli, MissingFileOrBadUsageExitsTwo) {
  EXPECT_EQ(run("validate /nonexistent/x.json").status, 2);
  EXPECT_EQ(run("validate").status, 2);
  EXPECT_EQ(run("validate --format yaml x.json").status, 2);
  EXPECT_EQ(run("validate --type no.such.type " + examples() + "/valid/case.closure.json").status,
            2);
  EXPECT_EQ(run("frobnicate").status, 2);
  const auto both = run("validate --type case.closure --schema x.json y.json");
  EXPECT_EQ(both.status, 2) << both.out;
  // One bad file among good ones is still an I/O error for the run.
  EXPECT_EQ(run("validate " + examples() + "/valid/case.closure.json /nonexistent").status, 2);
}

TEST(Cli, StdinAndJsonOutput) {
  const auto r = run("validate --format json - < " + examples() +
                     "/invalid/dispute.application--bad-currency.json");
  EXPECT_EQ(r.status, 1) << r.out;
  rapidjson::Document d;
  odrgw::schemas::json_error err;
  ASSERT_TRUE(odrgw::schemas::parse_json(r.out, d, {}, err)) << r.out;
  EXPECT_FALSE(d["valid"].GetBool());
  const auto& f = d["files"][0];
  EXPECT_STREQ(f["file"].GetString(), "<stdin>");
  EXPECT_STREQ(f["status"].GetString(), "invalid");
  EXPECT_STREQ(f["errors"][0]["location"].GetString(), "/payload/price/currency");
  EXPECT_STREQ(f["errors"][0]["rule"].GetString(), "enum");
}

TEST(Cli, TypeOverridesTheDocumentsOwnType) {
  const auto r =
      run("validate --type case.closure " + examples() + "/valid/dispute.application.json");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("/messageType: 'dispute.application' is not the required value"),
            std::string::npos)
      << r.out;
}

TEST(Cli, UserSchemaJsonAndXsd) {
  const auto schema =
      temp_file("schema.json", R"({"$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object", "required": ["ticket"], "properties": {"ticket": {"type": "string",
    "pattern": "^T-[0-9]+$"}, "email": {"type": "string", "format": "email"}}})");
  const auto good = temp_file("good.json", R"({"ticket": "T-42", "email": "a@b.example"})");
  const auto bad = temp_file("bad.json", R"({"ticket": "X", "email": "nope"})");
  EXPECT_EQ(run("validate --schema " + schema.string() + " " + good.string()).status, 0);
  const auto r = run("validate --schema " + schema.string() + " " + bad.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("/ticket: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[pattern]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/email: "), std::string::npos) << r.out;
  const auto xsd = temp_file("s.xsd", R"(<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
    <xs:element name="n" type="xs:int"/></xs:schema>)");
  const auto four = temp_file("four.xml", "<n>4</n>");
  const auto word = temp_file("word.xml", "<n>four</n>");
  EXPECT_EQ(run("validate --schema " + xsd.string() + " - < " + four.string()).status, 0);
  EXPECT_EQ(run("validate --schema " + xsd.string() + " " + word.string()).status, 1);
  // A schema odrgw cannot use is a usage error with a reason, never a crash.
  const auto remote = temp_file("remote.json", R"({"$ref": "http://example.com/s.json"})");
  const auto rr = run("validate --schema " + remote.string() + " " + good.string());
  EXPECT_EQ(rr.status, 2);
  EXPECT_NE(rr.out.find("$ref"), std::string::npos) << rr.out;
}

TEST(Cli, TranslateRoundTrip) {
  const auto xml = run("translate --from canonical-json --to canonical-xml " + examples() +
                       "/valid/negotiation.offer.json");
  ASSERT_EQ(xml.status, 0) << xml.out;
  const auto f = temp_file("offer.xml", xml.out);
  const auto back = run("translate --from canonical-xml --to canonical-json " + f.string());
  ASSERT_EQ(back.status, 0) << back.out;
  rapidjson::Document a, b;
  odrgw::schemas::json_error err;
  std::ifstream in(examples() + "/valid/negotiation.offer.json");
  std::string original((std::istreambuf_iterator<char>(in)), {});
  ASSERT_TRUE(odrgw::schemas::parse_json(original, a, {}, err));
  ASSERT_TRUE(odrgw::schemas::parse_json(back.out, b, {}, err));
  EXPECT_TRUE(a == b);
}

TEST(Cli, TranslateRefusesInvalidInputAndUnknownDialects) {
  const auto r = run("translate --from canonical-json --to canonical-xml " + examples() +
                     "/invalid/dispute.application--bad-currency.json");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("/payload/price/currency"), std::string::npos) << r.out;
  EXPECT_EQ(run("translate --from klingon --to canonical-xml x").status, 2);
}

TEST(Cli, HelpExplainsExitStatusesAndFormats) {
  const auto top = run("--help");
  EXPECT_EQ(top.status, 0);
  for (const char* cmd : {"validate", "translate", "schemas", "adapters"})
    EXPECT_NE(top.out.find(cmd), std::string::npos) << cmd;
  const auto v = run("validate --help");
  EXPECT_EQ(v.status, 0);
  for (const char* s : {"--type", "--schema", "--format", "0 all valid, 1 some invalid, 2 usage",
                        "FILE: LOCATION: message [rule]", "standard input"})
    EXPECT_NE(v.out.find(s), std::string::npos) << s;
}

TEST(Cli, SchemasListShowExport) {
  const auto list = run("schemas list");
  EXPECT_EQ(list.status, 0);
  EXPECT_NE(list.out.find("dispute.application\tODR-SI 6.2.2"), std::string::npos) << list.out;
  const auto xsd = run("schemas show case.closure --xsd");
  EXPECT_NE(xsd.out.find("<xs:schema"), std::string::npos);
  const auto dir = std::filesystem::temp_directory_path() / "odrgw-cli-export";
  std::filesystem::remove_all(dir);
  EXPECT_EQ(run("schemas export --out " + dir.string()).status, 0);
  EXPECT_TRUE(std::filesystem::exists(dir / "json/case.closure.schema.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "xsd/case.closure.xsd"));
  std::filesystem::remove_all(dir);
}

TEST(Cli, BrokenSchemaDirIsAClearUsageError) {
  const auto r =
      run("--schema-dir /nonexistent validate " + examples() + "/valid/case.closure.json");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("cannot"), std::string::npos) << r.out;
}

// ---- mapping-file dialects (--adapter-dir) ---------------------------------------------------

std::string shipped_dialects() { return std::string(ODRGW_SOURCE_DIR) + "/adapters/dialects"; }

// A fresh directory holding one dialect written now: the binary has never seen it.
std::filesystem::path write_dialect(const std::string& name, const std::string& mapping) {
  const auto dir = std::filesystem::temp_directory_path() / ("odrgw-cli-dialects-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "note-v1");
  std::ofstream(dir / "note-v1" / "note.schema.json")
      << R"({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
             "required": ["note"], "properties": {"note": {"type": "string", "maxLength": 100}}})";
  std::ofstream(dir / "note-v1" / "dialect.yaml") << mapping;
  return dir;
}

const char* note_mapping = R"(dialect: note-v1
encoding: json
description: One-line notes between the parties
schema: note.schema.json
envelope:
  - {canonical: /messageId, context: message_id}
  - {canonical: /specVersion, const: "1.0"}
  - {canonical: /caseId, source: /case, context: case_id, required: true}
  - {canonical: /sender/partyId, context: partner_id, required: true}
  - {canonical: /sender/role, context: partner_role, required: true}
  - {canonical: /recipient/partyId, context: gateway_party_id}
  - {canonical: /recipient/role, context: gateway_party_role}
  - {canonical: /sentAt, context: received_at}
messages:
  - type: negotiation.message
    direction: both
    match: {source: /note}
    fields:
      - {canonical: /payload/text, source: /note, required: true}
)";

TEST(Cli, TranslateWithADialectWrittenAtRunTime) {
  const auto dir = write_dialect("runtime", note_mapping);
  const auto f = temp_file("note.json", R"({"note": "Please call me back."})");
  const auto r = run("translate --from note-v1 --to canonical-json --adapter-dir " + dir.string() +
                     " --partner consumer-4711 --partner-role consumer --case-id ODR-1"
                     " --request-id key-1 " +
                     f.string());
  ASSERT_EQ(r.status, 0) << r.out;
  rapidjson::Document d;
  odrgw::schemas::json_error err;
  ASSERT_TRUE(odrgw::schemas::parse_json(r.out, d, {}, err)) << r.out;
  EXPECT_STREQ(d["payload"]["text"].GetString(), "Please call me back.");
  EXPECT_STREQ(d["sender"]["partyId"].GetString(), "consumer-4711");
  EXPECT_STREQ(d["caseId"].GetString(), "ODR-1");
  // The same request id gives the same messageId (a retry is recognised).
  const auto again = run("translate --from note-v1 --to canonical-json --adapter-dir " +
                         dir.string() + " --partner consumer-4711 --partner-role consumer" +
                         " --case-id ODR-1 --request-id key-1 " + f.string());
  rapidjson::Document d2;
  ASSERT_TRUE(odrgw::schemas::parse_json(again.out, d2, {}, err)) << again.out;
  EXPECT_STREQ(d["messageId"].GetString(), d2["messageId"].GetString());

  // Without the context the mapping needs, the missing field and its rule are named.
  const auto bare = run("translate --from note-v1 --to canonical-json --adapter-dir " +
                        dir.string() + " " + f.string());
  EXPECT_EQ(bare.status, 1) << bare.out;
  EXPECT_NE(bare.out.find(": /case: required source field is missing"), std::string::npos)
      << bare.out;
  EXPECT_NE(bare.out.find("[mapping:/envelope/2 (required)]"), std::string::npos) << bare.out;

  // Dialect to dialect: the note goes out as a help-desk reply ticket.
  const auto both =
      run("translate --from note-v1 --to helpdesk-ticket-v1 --adapter-dir " + dir.string() +
          " --partner consumer-4711 --partner-role consumer" + " --case-id ODR-1 " + f.string());
  EXPECT_EQ(both.status, 2) << both.out;  // one --adapter-dir: helpdesk is not in it
  std::filesystem::remove_all(dir);
}

TEST(Cli, TranslateShippedDialectsAndReportMappingRules) {
  const std::string d = shipped_dialects();
  const auto xml = run("translate --from helpdesk-ticket-v1 --to provider-xml-v1 --adapter-dir " +
                       d + " --partner helpdesk --partner-role merchant " + d +
                       "/helpdesk-ticket-v1/examples/complaint.json");
  ASSERT_EQ(xml.status, 0) << xml.out;
  EXPECT_NE(xml.out.find("<p:category>C04</p:category>"), std::string::npos) << xml.out;
  EXPECT_NE(xml.out.find("<p:price currency=\"EUR\">289.00</p:price>"), std::string::npos);
  const std::string bad = d + "/helpdesk-ticket-v1/examples/invalid-unknown-category.json";
  const auto r =
      run("translate --from helpdesk-ticket-v1 --to canonical-json --adapter-dir " + d + " " + bad);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, bad +
                       ": /ticket/category: the code 'BROKEN_SCREEN' has no canonical "
                       "counterpart [mapping:/messages/0/fields/27 (codes)]\n");
}

TEST(Cli, AdaptersListShowsTypesInAndOut) {
  const auto r = run("adapters list --adapter-dir " + shipped_dialects());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("canonical-json\tjson\tin: dispute.application,"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("helpdesk-ticket-v1\tjson\tin: dispute.application,dispute.withdrawal,"
                       "negotiation.message,negotiation.offer,negotiation.offer-response\t"
                       "out: dispute.acceptance,negotiation.message,negotiation.offer,"
                       "negotiation.offer-response,outcome.notification\tMerchant help-desk"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("provider-xml-v1\txml\tin: dispute.application,"), std::string::npos);
  const auto builtin = run("adapters list");
  EXPECT_EQ(builtin.out.find("helpdesk"), std::string::npos);
}

TEST(Cli, BrokenAdapterDirIsAClearUsageError) {
  const auto dir = write_dialect("broken", std::string(note_mapping) +
                                               "      - {canonical: /payload/text, source: /x, "
                                               "transform: rot13}\n");
  const auto r = run("adapters list --adapter-dir " + dir.string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("note-v1/dialect.yaml: /messages/0/fields/1/transform:"), std::string::npos)
      << r.out;
  const auto t =
      run("translate --from note-v1 --to canonical-json --adapter-dir " + dir.string() + " x.json");
  EXPECT_EQ(t.status, 2);
  EXPECT_EQ(run("adapters list --adapter-dir /nonexistent").status, 2);
  std::filesystem::remove_all(dir);
}

TEST(Cli, TranslateHelpDocumentsTheContextOptions) {
  const auto h = run("translate --help");
  EXPECT_EQ(h.status, 0);
  for (const char* s : {"--adapter-dir", "--partner", "--partner-role", "--operation",
                        "--reference", "--case-id", "--request-id"})
    EXPECT_NE(h.out.find(s), std::string::npos) << s;
}

}  // namespace

namespace {

TEST(Cli, CallbackSignThenVerifyAndRefuseTamperingAndReplays) {
  const auto secret = temp_file("cb-secret", "whsec-test\n");
  const auto body = temp_file("cb-body", "{\"a\":1}");
  const auto signed_ = run("callback sign --secret-file " + secret.string() +
                           " --timestamp 1700000000 " + body.string());
  ASSERT_EQ(signed_.status, 0) << signed_.out;
  EXPECT_EQ(signed_.out,
            "t=1700000000,v1=fed7a1a6c799a6367d73724d76bc70c16678908a32a879cd1ded6565ac05cece\n");
  const std::string header =
      "'ODR-Signature: " + signed_.out.substr(0, signed_.out.size() - 1) + "'";
  const std::string verify =
      "callback verify --secret-file " + secret.string() + " --signature " + header + " ";
  auto r = run(verify + "--now 1700000010 " + body.string());
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("valid"), std::string::npos);
  r = run(verify + "--now 1700009999 " + body.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("outside-window"), std::string::npos) << r.out;
  r = run(verify + "--now 1700000010 " + temp_file("cb-other", "{\"a\":2}").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("bad-signature"), std::string::npos) << r.out;
  EXPECT_EQ(run("callback verify --signature x " + body.string()).status, 2);  // no secret
}

}  // namespace
