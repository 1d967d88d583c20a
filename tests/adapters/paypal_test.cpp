// paypal-disputes-v1: examples, round trips, a property test generated from the dialect schema,
// context errors and hostile input through both directions.
#include <functional>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <odrgw/adapters/paypal.hpp>
#include <odrgw/schemas/validator.hpp>

#include "../schemas/test_support.hpp"

namespace odrgw::adapters {
namespace {

// schemas::parse_json, not Document::Parse: RapidJSON's SSE2 scanner reads past the end of an
// unpadded buffer (ASan), and the adapter's own parser is the one under test anyway.
inline bool parse(rapidjson::Document& d, std::string_view text) {
  schemas::json_error err;
  schemas::json_limits limits;
  limits.max_depth = 256;
  return schemas::parse_json(text, d, limits, err);
}

using rapidjson::Value;
using schemas::report;
using test::read_file;

std::shared_ptr<const schemas::schema_set> set() { return schemas::schema_set::builtin(); }

const paypal_disputes_v1& pp() {
  static const paypal_disputes_v1 a(set());
  return a;
}

std::filesystem::path examples() {
  return test::source_dir() / "adapters/dialects/paypal-disputes-v1/examples";
}

std::string describe(const report& r) {
  std::string s = std::string(schemas::to_string(r.status)) + ":";
  for (const auto& e : r.errors) s += "\n  '" + e.location + "' [" + e.rule + "] " + e.message;
  return s;
}

context base_context() {
  context c;
  c.partner_id = "paypal";
  c.partner_role = "platform";
  c.case_id = "ODR-2026-000731";
  c.received_at = "2026-09-18T10:00:00Z";
  return c;
}

std::string s(const Value* v) {
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

// JSON pointer lookup ("" is the document).
const Value* ptr(const Value& doc, const std::string& pointer) {
  const Value* v = &doc;
  std::size_t pos = 0;
  while (v != nullptr && pos < pointer.size()) {
    const std::size_t next = pointer.find('/', pos + 1);
    const std::string tok =
        pointer.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    if (v->IsObject()) {
      auto it = v->FindMember(tok.c_str());
      v = it == v->MemberEnd() ? nullptr : &it->value;
    } else if (v->IsArray()) {
      const auto i = static_cast<rapidjson::SizeType>(std::stoul(tok));
      v = i < v->Size() ? &(*v)[i] : nullptr;
    } else {
      v = nullptr;
    }
    pos = next == std::string::npos ? pointer.size() : next;
  }
  return v;
}

// Every report entry names a place (a JSON pointer) and a rule.
void expect_clear(const report& r, const std::string& what) {
  EXPECT_FALSE(r.valid()) << what;
  ASSERT_FALSE(r.errors.empty()) << what;
  for (const auto& e : r.errors) {
    EXPECT_FALSE(e.rule.empty()) << what << ": " << e.message;
    EXPECT_TRUE(e.location.empty() || e.location[0] == '/') << what << ": " << e.location;
    EXPECT_FALSE(e.message.empty()) << what;
  }
}

// Translates and checks the result is a valid v1 message.
bool translate_ok(std::string_view bytes, const context& ctx, rapidjson::Document& out, report& r) {
  if (!pp().to_canonical(bytes, ctx, out, r)) return false;
  report check;
  set()->validate_json(out, "", check);
  EXPECT_TRUE(check.valid()) << describe(check) << "\n" << schemas::to_json_string(out, true);
  return check.valid();
}

// ---- examples --------------------------------------------------------------------------------

struct example_case {
  std::string file;
  std::string operation;  // "" lets the adapter read it from the document
  std::string reference;
  std::map<std::string, std::string> expect;  // JSON pointer -> value in the canonical message
};

const std::vector<example_case>& cases() {
  static const std::vector<example_case> c = {
      {"dispute-inquiry.json",
       "",
       "",
       {{"/messageType", "dispute.application"},
        {"/senderCaseRef", "PP-D-27803"},
        {"/sentAt", "2026-09-03T10:01:12.000Z"},
        {"/payload/tier", "T1"},
        {"/payload/category", "not-received"},
        {"/payload/price/amount", "289.00"},
        {"/payload/price/currency", "EUR"},
        {"/payload/purchaseDate", "2026-08-18"},
        {"/payload/merchantContactedOn", "2026-08-29"},
        {"/payload/complainant/name", "Anna Schmidt"},
        {"/payload/respondent/partyId", "paypal-merchant:8N7ZQ4UKGJ2LS"},
        {"/payload/respondent/contact/email", "disputes@brightway.example.cn"},
        {"/payload/complainant/contact/email", "paypal-buyer@relay.paypal.invalid"},
        {"/payload/orderReference/orderId", "GB-20260818-5521907"},
        {"/payload/orderReference/transactionId", "4FT22393XJ9076219"},
        {"/payload/goodsOrService/subjectKind", "goods"},
        {"/payload/forum/forumId", "paypal"},
        {"/payload/requestedRemedy", "refund"}}},
      {"dispute-chargeback-external.json",
       "dispute",
       "PP-R-NMW-10060094",
       {{"/messageType", "dispute.application"},
        {"/payload/tier", "T3"},
        {"/payload/category", "unauthorised-payment"},
        {"/payload/forum/forumId", "card-network"},
        {"/payload/price/currency", "USD"},
        {"/payload/merchantContacted", "false"}}},
      {"dispute-claim-damaged.json",
       "",
       "",
       {{"/messageType", "dispute.application"},
        {"/payload/tier", "T1"},
        {"/payload/category", "damaged-in-delivery"},
        {"/payload/price/amount", "75.5"},
        {"/payload/requestedRemedy", "partial-refund"},
        {"/payload/requestedAmount/amount", "40.00"},
        {"/payload/deliveryDate", "2026-08-25"},
        {"/payload/respondent/address/country", "GB"},
        {"/payload/goodsOrService/quantity", "2"},
        {"/sentAt", "2026-09-12T09:30:00.123456789Z"}}},
      {"dispute-pre-arbitration.json",
       "",
       "",
       {{"/messageType", "dispute.appeal"},
        {"/caseId", "ODR-2026-000731"},
        {"/sentAt", "2026-09-14T05:55:12+02:00"},
        {"/payload/appellant", "merchant"},
        {"/payload/previousTier", "T2"},
        {"/payload/previousOutcome", "upheld"},
        {"/payload/previousProceedingId", "paypal:PP-D-40001:chargeback"},
        {"/payload/toTier", "T2"},
        {"/payload/requestedAmount/amount", "560.00"},
        {"/payload/originalApplication/tier", "T1"},
        {"/payload/originalApplication/category", "not-as-described"}}},
      {"webhook-created.json",
       "",
       "",
       {{"/messageType", "dispute.application"},
        {"/senderCaseRef", "PP-D-27804"},
        {"/payload/tier", "T1"},
        {"/payload/price/currency", "JPY"},
        {"/payload/price/amount", "4500"},
        {"/payload/goodsOrService/subjectKind", "digital-content"}}},
      {"webhook-resolved.json",
       "webhook",
       "",
       {{"/messageType", "dispute.application"}, {"/sentAt", "2026-09-20T11:00:00.000Z"}}},
      {"make-offer.json",
       "make-offer",
       "PP-D-27803",
       {{"/messageType", "negotiation.offer"},
        {"/senderCaseRef", "PP-D-27803"},
        {"/caseId", "ODR-2026-000731"},
        {"/sentAt", "2026-09-18T10:00:00Z"},
        {"/payload/offerId", "paypal:PP-D-27803:offer"},
        {"/payload/remedy", "replacement"},
        {"/payload/amount/amount", "23"},
        {"/payload/amount/currency", "USD"},
        {"/payload/validUntil", "2026-09-28T10:00:00Z"}}},
      {"make-offer-return.json",
       "make-offer",
       "PP-D-27803",
       {{"/messageType", "negotiation.offer"}, {"/payload/remedy", "refund"}}},
      {"accept-offer.json",
       "accept-offer",
       "PP-D-27803",
       {{"/messageType", "negotiation.offer-response"},
        {"/payload/decision", "accepted"},
        {"/payload/offerId", "paypal:PP-D-27803:offer"},
        {"/payload/reason", "I am ok with the refund offered."}}},
      {"deny-offer.json",
       "deny-offer",
       "PP-D-27803",
       {{"/messageType", "negotiation.offer-response"}, {"/payload/decision", "rejected"}}},
      {"accept-claim.json",
       "accept-claim",
       "PP-D-31544",
       {{"/messageType", "dispute.response"},
        {"/payload/respondent", "merchant"},
        {"/payload/position", "partly-accepts"},
        {"/payload/proposedRemedy", "partial-refund"},
        {"/payload/proposedAmount/amount", "37.75"},
        {"/payload/proposedAmount/currency", "GBP"},
        {"/payload/consents/consentedAt", "2026-09-18T10:00:00Z"}}},
      {"send-message.json",
       "send-message",
       "PP-D-31544",
       {{"/messageType", "negotiation.message"},
        {"/payload/text", "Could you send a photo of the damaged lid, please?"}}},
      {"escalate.json",
       "escalate",
       "PP-D-27803",
       {{"/messageType", "escalation.request"},
        {"/payload/fromTier", "T1"},
        {"/payload/toTier", "T2"},
        {"/payload/reasonCode", "negotiation-failed"}}},
      {"provide-evidence.json",
       "provide-evidence",
       "PP-D-27803",
       {{"/messageType", "evidence.submission"},
        {"/payload/attachments/0/mediaType", "application/pdf"},
        {"/payload/attachments/0/size", "48213"},
        {"/payload/attachments/0/evidenceKind", "tracking"},
        {"/payload/attachments/0/uri",
         "urn:paypal:dispute:PP-D-27803:document:delivery_receipt.pdf"},
        {"/payload/attachments/0/sha256",
         "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}}},
      {"provide-evidence-tracking.json",
       "provide-evidence",
       "PP-D-27803",
       {{"/messageType", "negotiation.message"}}},
      {"appeal.json",
       "appeal",
       "PP-D-40001",
       {{"/messageType", "dispute.appeal"},
        {"/payload/appellant", "merchant"},
        {"/payload/toTier", "T2"},
        {"/payload/evidence/0/mediaType", "image/png"},
        {"/payload/evidence/0/uri",
         "https://files.example.com/disputes/PP-D-40001/signed_pod.png"}}},
  };
  return c;
}

std::string as_text(const Value* v) {
  if (v == nullptr) return "<absent>";
  if (v->IsString()) return s(v);
  return schemas::to_json_string(*v);
}

TEST(PaypalExamples, EveryExampleFileIsInTheTable) {
  std::set<std::string> listed;
  for (const auto& c : cases()) listed.insert(c.file);
  for (const auto& f : test::files_in(examples(), ".json"))
    EXPECT_TRUE(listed.count(f.filename().string())) << f.filename();
}

TEST(PaypalExamples, EachTranslatesToAValidCanonicalMessage) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.file);
    context ctx = base_context();
    ctx.operation = c.operation;
    ctx.reference = c.reference;
    rapidjson::Document out;
    report r;
    ASSERT_TRUE(translate_ok(read_file(examples() / c.file), ctx, out, r)) << describe(r);
    EXPECT_EQ(r.message_type, c.expect.at("/messageType"));
    for (const auto& [pointer, value] : c.expect)
      EXPECT_EQ(as_text(ptr(out, pointer)), value) << pointer;
    // Envelope from the context.
    EXPECT_EQ(s(ptr(out, "/sender/partyId")), "paypal");
    EXPECT_EQ(s(ptr(out, "/sender/role")), "platform");
    EXPECT_EQ(s(ptr(out, "/recipient/partyId")), "odrgw");
    EXPECT_EQ(s(ptr(out, "/specVersion")), "1.0");
    // Every example is valid against the dialect schema on its own.
    rapidjson::Document doc;
    parse(doc, read_file(examples() / c.file));
    report dr;
    std::string op = c.operation;
    if (op.empty()) op = doc.HasMember("event_type") ? "webhook" : "dispute";
    EXPECT_TRUE(pp().validate_dialect(op, doc, dr)) << describe(dr);
  }
}

TEST(PaypalExamples, DescriptionCarriesWhatHasNoFieldOfItsOwn) {
  rapidjson::Document out;
  report r;
  ASSERT_TRUE(translate_ok(read_file(examples() / "dispute-chargeback-external.json"),
                           base_context(), out, r))
      << describe(r);
  const std::string d = s(ptr(out, "/payload/description"));
  EXPECT_NE(d.find("10.4 Other Fraud - Card Absent Environment"), std::string::npos) << d;
  EXPECT_NE(d.find("reason UNAUTHORISED"), std::string::npos) << d;
  EXPECT_NE(d.find("deployment default US"), std::string::npos) << d;
  EXPECT_NE(d.find("whether the merchant was contacted"), std::string::npos) << d;
  EXPECT_EQ(s(ptr(out, "/payload/complainant/address/country")), "US");

  ASSERT_TRUE(translate_ok(read_file(examples() / "dispute-inquiry.json"), base_context(), out, r));
  const std::string d2 = s(ptr(out, "/payload/description"));
  EXPECT_NE(d2.find("tracking stops in Leipzig"), std::string::npos) << d2;
}

TEST(PaypalExamples, TypesListedAreExactlyTheOnesProduced) {
  std::vector<std::string> in(pp().inbound_types().begin(), pp().inbound_types().end());
  EXPECT_EQ(in, (std::vector<std::string>{"dispute.application", "dispute.appeal",
                                          "dispute.response", "negotiation.message",
                                          "negotiation.offer", "negotiation.offer-response",
                                          "escalation.request", "evidence.submission"}));
  std::set<std::string> produced;
  for (const auto& c : cases()) produced.insert(c.expect.at("/messageType"));
  EXPECT_EQ(produced, std::set<std::string>(in.begin(), in.end()));
  std::vector<std::string> out(pp().outbound_types().begin(), pp().outbound_types().end());
  EXPECT_EQ(out, (std::vector<std::string>{"dispute.acceptance", "negotiation.message",
                                           "negotiation.offer", "negotiation.offer-response",
                                           "escalation.request", "arbitration.award",
                                           "outcome.notification"}));
}

TEST(PaypalExamples, RegisteredAsBuiltin) {
  const auto reg = registry::builtin(set());
  ASSERT_NE(reg.find("paypal-disputes-v1"), nullptr);
  EXPECT_FALSE(paypal_disputes_v1::schema_text().empty());
}

// The documented tables (docs/adapters/paypal.md), every PayPal code of each.
rapidjson::Document translate_variant(const std::function<void(rapidjson::Document&)>& change,
                                      report& r) {
  rapidjson::Document d;
  EXPECT_TRUE(parse(d, read_file(examples() / "dispute-inquiry.json")));
  change(d);
  rapidjson::Document out;
  EXPECT_TRUE(translate_ok(schemas::to_json_string(d), base_context(), out, r)) << describe(r);
  return out;
}

TEST(PaypalTables, EveryReasonHasItsCategory) {
  const std::map<std::string, std::string> table = {
      {"MERCHANDISE_OR_SERVICE_NOT_RECEIVED", "not-received"},
      {"MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED", "not-as-described"},
      {"UNAUTHORISED", "unauthorised-payment"},
      {"CREDIT_NOT_PROCESSED", "refund-not-given"},
      {"DUPLICATE_TRANSACTION", "other"},
      {"INCORRECT_AMOUNT", "other"},
      {"PAYMENT_BY_OTHER_MEANS", "other"},
      {"CANCELED_RECURRING_BILLING", "other"},
      {"PROBLEM_WITH_REMITTANCE", "other"},
      {"OTHER", "other"}};
  rapidjson::Document schema;
  ASSERT_TRUE(parse(schema, paypal_disputes_v1::schema_text()));
  const Value& reasons = schema["definitions"]["dispute_reason"]["enum"];
  ASSERT_EQ(reasons.Size(), table.size());
  for (auto& reason : reasons.GetArray()) {
    const std::string code = reason.GetString();
    report r;
    const auto out = translate_variant(
        [&](rapidjson::Document& d) { d["reason"].SetString(code.c_str(), d.GetAllocator()); }, r);
    EXPECT_EQ(s(ptr(out, "/payload/category")), table.at(code)) << code;
    EXPECT_NE(s(ptr(out, "/payload/description")).find("reason " + code), std::string::npos);
  }
}

TEST(PaypalTables, StageAndChannelPickTypeAndTier) {
  struct row {
    const char *stage, *channel;
    bool earlier_decision;
    const char *type, *tier;  // tier: application tier or appeal toTier
  };
  const std::vector<row> rows = {
      {"INQUIRY", "INTERNAL", false, "dispute.application", "T1"},
      {"INQUIRY", "EXTERNAL", false, "dispute.application", "T1"},
      {"CHARGEBACK", "INTERNAL", false, "dispute.application", "T1"},
      {"CHARGEBACK", "ALERT", false, "dispute.application", "T1"},
      {"CHARGEBACK", "EXTERNAL", false, "dispute.application", "T3"},
      {"CHARGEBACK", "INTERNAL", true, "dispute.appeal", "T2"},
      {"PRE_ARBITRATION", "INTERNAL", false, "dispute.appeal", "T2"},
      {"PRE_ARBITRATION", "EXTERNAL", false, "dispute.appeal", "T3"},
      {"ARBITRATION", "EXTERNAL", true, "dispute.appeal", "T3"},
  };
  for (const auto& w : rows) {
    SCOPED_TRACE(std::string(w.stage) + " " + w.channel);
    report r;
    const auto out = translate_variant(
        [&](rapidjson::Document& d) {
          auto& a = d.GetAllocator();
          d["dispute_life_cycle_stage"].SetString(w.stage, a);
          d["dispute_channel"].SetString(w.channel, a);
          if (w.earlier_decision) {
            rapidjson::Document adj;
            ASSERT_TRUE(parse(adj, R"([{"type":"DENY_BUYER","adjudication_time":
              "2026-09-01T00:00:00Z","dispute_life_cycle_stage":"INQUIRY"}])"));
            d.AddMember("adjudications", Value(adj, a), a);
          }
        },
        r);
    EXPECT_EQ(s(ptr(out, "/messageType")), w.type);
    EXPECT_EQ(s(ptr(out, std::string(w.type) == "dispute.application" ? "/payload/tier"
                                                                      : "/payload/toTier")),
              w.tier);
    if (w.earlier_decision) {
      EXPECT_EQ(s(ptr(out, "/payload/previousOutcome")), "rejected");
      EXPECT_EQ(s(ptr(out, "/payload/appellant")), "consumer");
      EXPECT_EQ(s(ptr(out, "/payload/previousTier")), "T1");
    }
  }
}

// ---- messageId ---------------------------------------------------------------------------------

std::string message_id(std::string_view bytes, const context& ctx) {
  rapidjson::Document out;
  report r;
  if (!pp().to_canonical(bytes, ctx, out, r)) return "<failed: " + describe(r) + ">";
  return s(ptr(out, "/messageId"));
}

TEST(PaypalMessageId, RetriedWebhookMapsToTheSameMessageId) {
  const std::string webhook = read_file(examples() / "webhook-created.json");
  const std::string a = message_id(webhook, base_context());
  EXPECT_TRUE(schemas::formats::is_uuid(a)) << a;
  EXPECT_EQ(a, message_id(webhook, base_context()));
  // The same dispute state fetched with GET is the same message.
  rapidjson::Document doc;
  parse(doc, webhook);
  EXPECT_EQ(a, message_id(schemas::to_json_string(doc["resource"]), base_context()));
  // Another partner, another message.
  context other = base_context();
  other.partner_id = "paypal-eu";
  EXPECT_NE(a, message_id(webhook, other));
  // A later update of the dispute is a new message.
  std::string later = webhook;
  later.replace(later.find("\"update_time\": \"2026-09-02T07:14:27.000Z\""), 42,
                "\"update_time\": \"2026-09-02T08:00:00.000Z\"");
  EXPECT_NE(a, message_id(later, base_context()));
}

TEST(PaypalMessageId, RequestIdNamesTheRequestWhateverTheBody) {
  context ctx = base_context();
  ctx.operation = "send-message";
  ctx.reference = "PP-D-27803";
  const std::string without = message_id(R"({"message":"one"})", ctx);
  EXPECT_EQ(without, message_id(R"({"message":"one"})", ctx));
  EXPECT_NE(without, message_id(R"({"message":"two"})", ctx));
  ctx.request_id = "7a1d6a0e-req";
  const std::string keyed = message_id(R"({"message":"one"})", ctx);
  EXPECT_EQ(keyed, message_id(R"({"message":"two"})", ctx));  // the gateway answers 409
  EXPECT_NE(keyed, without);
}

// ---- round trips -------------------------------------------------------------------------------

std::string back(const Value& canonical, const context& ctx, report& r) {
  std::string out;
  if (!pp().from_canonical(canonical, ctx, out, r)) return "<failed>";
  return out;
}

bool same_json(std::string_view a, std::string_view b) {
  rapidjson::Document x, y;
  return parse(x, a) && parse(y, b) && x == y;
}

TEST(PaypalRoundTrip, RequestBodiesSurviveTheWayThroughV1) {
  for (const auto& c : cases()) {
    if (c.operation.empty() || c.operation == "dispute" || c.operation == "webhook" ||
        c.operation == "provide-evidence" || c.operation == "appeal" ||
        c.operation == "accept-claim")  // inbound only
      continue;
    SCOPED_TRACE(c.file);
    context ctx = base_context();
    ctx.operation = c.operation;
    ctx.reference = c.reference;
    const std::string body = read_file(examples() / c.file);
    rapidjson::Document canonical;
    report r;
    ASSERT_TRUE(translate_ok(body, ctx, canonical, r)) << describe(r);
    const std::string again = back(canonical, ctx, r);
    EXPECT_TRUE(same_json(body, again)) << body << "\n->\n" << again << describe(r);
  }
}

TEST(PaypalRoundTrip, CanonicalOfferThroughMakeOfferKeepsRemedyAmountAndTerms) {
  rapidjson::Document offer;
  parse(offer, read_file(test::examples_dir() / "valid/negotiation.offer.json"));
  context ctx = base_context();
  ctx.reference = "PP-D-27803";
  report r;
  const std::string body = back(offer, ctx, r);
  ASSERT_TRUE(r.valid()) << describe(r);
  rapidjson::Document b;
  parse(b, body);
  EXPECT_EQ(s(ptr(b, "/note")), s(ptr(offer, "/payload/terms")));
  ctx.operation = "make-offer";
  rapidjson::Document again;
  ASSERT_TRUE(translate_ok(body, ctx, again, r)) << describe(r);
  for (const char* p : {"/payload/amount/amount", "/payload/amount/currency", "/payload/offeredBy",
                        "/payload/terms"})
    EXPECT_EQ(as_text(ptr(again, p)), as_text(ptr(offer, p))) << p << "\n" << body;
  // PayPal has no partial refund: a REFUND of less than the dispute (docs/adapters/paypal.md).
  ASSERT_EQ(s(ptr(offer, "/payload/remedy")), "partial-refund");
  EXPECT_EQ(s(ptr(again, "/payload/remedy")), "refund");
}

TEST(PaypalRoundTrip, DecisionsBecomeResolvedDisputes) {
  context ctx = base_context();
  ctx.reference = "PP-D-27803";
  for (const char* f :
       {"outcome.notification.json", "outcome.notification.2.json", "arbitration.award.json"}) {
    SCOPED_TRACE(f);
    rapidjson::Document msg;
    parse(msg, read_file(test::examples_dir() / "valid" / f));
    report r;
    const std::string out = back(msg, ctx, r);
    ASSERT_TRUE(r.valid()) << describe(r);
    rapidjson::Document d;
    parse(d, out);
    EXPECT_EQ(s(ptr(d, "/dispute_id")), "PP-D-27803");
    EXPECT_EQ(s(ptr(d, "/status")), "RESOLVED");
    const std::string outcome = s(ptr(msg, "/payload/outcome"));
    const std::string code = s(ptr(d, "/dispute_outcome/outcome_code"));
    const std::map<std::string, std::string> expected = {
        {"upheld", "RESOLVED_BUYER_FAVOUR"},    {"partly-upheld", "RESOLVED_BUYER_FAVOUR"},
        {"rejected", "RESOLVED_SELLER_FAVOUR"}, {"settled", "ACCEPTED"},
        {"withdrawn", "CANCELED_BY_BUYER"},     {"lapsed", "NONE"}};
    EXPECT_EQ(code, expected.at(outcome));
    // The reasons survive, in PayPal-sized messages.
    std::string joined;
    for (auto& m : d["messages"].GetArray()) joined += s(ptr(m, "/content"));
    EXPECT_EQ(joined.rfind(s(ptr(msg, "/payload/reasons")), 0), 0u);
    report dr;
    EXPECT_TRUE(pp().validate_dialect("dispute-out", d, dr)) << describe(dr);
    // Inbound, a dispute must name its reason; an outcome sent to PayPal does not.
    report in;
    EXPECT_FALSE(pp().validate_dialect("dispute", d, in));
  }
}

TEST(PaypalRoundTrip, AcceptanceOpensOrDeniesTheDispute) {
  context ctx = base_context();
  ctx.reference = "PP-D-27803";
  for (const char* f : {"dispute.acceptance.json", "dispute.acceptance.2.json"}) {
    SCOPED_TRACE(f);
    rapidjson::Document msg;
    ASSERT_TRUE(parse(msg, read_file(test::examples_dir() / "valid" / f)));
    report r;
    const std::string out = back(msg, ctx, r);
    ASSERT_TRUE(r.valid()) << describe(r);
    rapidjson::Document d;
    ASSERT_TRUE(parse(d, out));
    EXPECT_EQ(s(ptr(d, "/dispute_id")), "PP-D-27803");
    EXPECT_EQ(s(ptr(d, "/update_time")), s(ptr(msg, "/payload/decidedAt")));
    if (s(ptr(msg, "/payload/decision")) == "accepted") {
      EXPECT_NE(s(ptr(d, "/status")), "RESOLVED");
      EXPECT_EQ(s(ptr(d, "/seller_response_due_date")), s(ptr(msg, "/payload/responseDueAt")));
    } else {
      EXPECT_EQ(s(ptr(d, "/status")), "RESOLVED");
      EXPECT_EQ(s(ptr(d, "/dispute_outcome/outcome_code")), "DENIED");
      EXPECT_NE(s(ptr(d, "/messages/0/content")).find(s(ptr(msg, "/payload/reasonCode"))),
                std::string::npos);
    }
  }
  ctx.reference = {};
  rapidjson::Document msg;
  ASSERT_TRUE(parse(msg, read_file(test::examples_dir() / "valid/dispute.acceptance.json")));
  report r;
  std::string out;
  EXPECT_FALSE(pp().from_canonical(msg, ctx, out, r));
  EXPECT_TRUE(!r.errors.empty() && r.errors[0].rule == "context-required") << describe(r);
}

TEST(PaypalRoundTrip, TypesWithoutACounterpartAreReported) {
  std::set<std::string> outbound(pp().outbound_types().begin(), pp().outbound_types().end());
  context ctx = base_context();
  ctx.reference = "PP-D-27803";
  for (const auto& f : test::files_in(test::examples_dir() / "valid", ".json")) {
    rapidjson::Document msg;
    parse(msg, read_file(f));
    report r;
    std::string out;
    const bool ok = pp().from_canonical(msg, ctx, out, r);
    const std::string type = s(ptr(msg, "/messageType"));
    if (outbound.count(type)) {
      EXPECT_TRUE(ok) << f.filename() << describe(r);
    } else {
      EXPECT_FALSE(ok) << f.filename();
      ASSERT_FALSE(r.errors.empty());
      EXPECT_EQ(r.errors[0].rule, "no-counterpart");
      EXPECT_EQ(r.errors[0].location, "/messageType");
    }
  }
}

TEST(PaypalRoundTrip, TooLongForPaypalIsReportedNotCut) {
  rapidjson::Document msg;
  parse(msg, read_file(test::examples_dir() / "valid/negotiation.message.json"));
  const std::string text(2500, 'x');
  msg["payload"]["text"].SetString(text.c_str(), msg.GetAllocator());
  report r;
  std::string out;
  EXPECT_FALSE(pp().from_canonical(msg, base_context(), out, r));
  ASSERT_EQ(r.errors.size(), 1u) << describe(r);
  EXPECT_EQ(r.errors[0].location, "/payload/text");
  EXPECT_EQ(r.errors[0].rule, "maxLength");
}

// ---- context and dialect errors ----------------------------------------------------------------

report fails(std::string_view bytes, const context& ctx) {
  rapidjson::Document out;
  report r;
  EXPECT_FALSE(pp().to_canonical(bytes, ctx, out, r)) << schemas::to_json_string(out);
  expect_clear(r, std::string(bytes.substr(0, 80)));
  return r;
}

bool has(const report& r, const std::string& location, const std::string& rule) {
  for (const auto& e : r.errors)
    if (e.location == location && e.rule == rule) return true;
  return false;
}

TEST(PaypalContext, MissingContextIsAClearReport) {
  const std::string offer = read_file(examples() / "make-offer.json");
  context ctx = base_context();
  ctx.operation = "make-offer";
  ctx.reference = "PP-D-27803";
  {
    context c = ctx;
    c.case_id = {};
    const report r = fails(offer, c);
    EXPECT_TRUE(has(r, "", "context-required")) << describe(r);
    EXPECT_NE(r.errors[0].message.find("case_id"), std::string::npos);
  }
  {
    context c = ctx;
    c.reference = {};
    EXPECT_TRUE(has(fails(offer, c), "", "context-required"));
  }
  {
    context c = ctx;
    c.received_at = {};
    EXPECT_TRUE(has(fails(offer, c), "", "context-required"));
  }
  {
    context c = ctx;
    c.partner_id = {};
    EXPECT_TRUE(has(fails(offer, c), "", "context-required"));
  }
  {
    context c = ctx;
    c.operation = {};  // a bare body does not say what it is
    EXPECT_TRUE(has(fails(offer, c), "", "context-required"));
  }
  {
    context c = ctx;
    c.reference = "PP D 1/../x";
    EXPECT_TRUE(has(fails(offer, c), "", "context-required"));
  }
  {
    // An appeal needs the case it belongs to.
    context c = base_context();
    c.case_id = {};
    EXPECT_TRUE(has(fails(read_file(examples() / "dispute-pre-arbitration.json"), c), "",
                    "context-required"));
    // A first filing does not.
    rapidjson::Document out;
    report r;
    EXPECT_TRUE(translate_ok(read_file(examples() / "dispute-inquiry.json"), c, out, r))
        << describe(r);
    EXPECT_FALSE(out.HasMember("caseId"));
  }
  {
    context c = base_context();
    c.reference = "PP-D-99999";  // not the dispute the document is about
    EXPECT_TRUE(has(fails(read_file(examples() / "dispute-inquiry.json"), c), "/dispute_id",
                    "context-mismatch"));
  }
}

TEST(PaypalContext, WrongOperationNamesAreReported) {
  context ctx = base_context();
  ctx.reference = "PP-D-27803";
  for (const char* op :
       {"make_offer", "MAKE-OFFER", "acknowledge-return-item", "adjudicate", "x"}) {
    ctx.operation = op;
    const report r = fails(read_file(examples() / "make-offer.json"), ctx);
    EXPECT_TRUE(has(r, "", "operation")) << op << describe(r);
  }
  // A body posted as the wrong operation breaks that operation's schema.
  ctx.operation = "send-message";
  EXPECT_TRUE(has(fails(read_file(examples() / "make-offer.json"), ctx), "", "required"));
}

TEST(PaypalContext, UnknownCodesAreReportedAtTheirPlace) {
  std::string d = read_file(examples() / "dispute-inquiry.json");
  d.replace(d.find("\"MERCHANDISE_OR_SERVICE_NOT_RECEIVED\""), 37, "\"ITEM_NEVER_CAME\"");
  EXPECT_TRUE(has(fails(d, base_context()), "/reason", "enum"));

  context ctx = base_context();
  ctx.operation = "make-offer";
  ctx.reference = "PP-D-27803";
  EXPECT_TRUE(
      has(fails(R"({"note":"n","offer_type":"STORE_CREDIT"})", ctx), "/offer_type", "enum"));
  // Currencies v1 does not know, negative and over-precise amounts: the mapping says so.
  EXPECT_TRUE(has(
      fails(
          R"({"note":"n","offer_type":"REFUND","offer_amount":{"currency_code":"ZZZ","value":"1"}})",
          ctx),
      "/offer_amount/currency_code", "currency"));
  EXPECT_TRUE(has(
      fails(
          R"({"note":"n","offer_type":"REFUND","offer_amount":{"currency_code":"USD","value":"-1"}})",
          ctx),
      "/offer_amount/value", "amount"));
  EXPECT_TRUE(has(
      fails(
          R"({"note":"n","offer_type":"REFUND","offer_amount":{"currency_code":"USD","value":"1.23456"}})",
          ctx),
      "/offer_amount/value", "amount"));
  // Unknown fields in a request body are a typo, not silently ignored.
  EXPECT_TRUE(has(fails(R"({"note":"n","offer_type":"REFUND","amount":"1"})", ctx), "",
                  "additionalProperties"));
  // A date PayPal's pattern lets through but RFC 3339 does not.
  std::string comma = read_file(examples() / "dispute-inquiry.json");
  comma.replace(comma.find("2026-09-03T10:01:12"), 19, "2026-09-03,10:01:12");
  EXPECT_TRUE(has(fails(comma, base_context()), "/update_time", "date-time"));
}

TEST(PaypalContext, WebhookErrorsPointIntoTheEvent) {
  std::string w = read_file(examples() / "webhook-created.json");
  w.replace(w.find("\"JPY\", \"value\": \"4500\" },\n        \"buyer\""), 5, "\"ZZZ\"");
  const report r = fails(w, base_context());
  EXPECT_TRUE(has(r, "/resource/disputed_transactions/0/gross_amount/currency_code", "currency"))
      << describe(r);
  std::string e = read_file(examples() / "webhook-created.json");
  e.replace(e.find("CUSTOMER.DISPUTE.CREATED"), 24, "PAYMENT.SALE.COMPLETED");
  EXPECT_TRUE(has(fails(e, base_context()), "/event_type", "enum"));
}

TEST(PaypalExamples, DisputeEvidenceWithoutDigestIsDescribedAndWithDigestAttached) {
  rapidjson::Document d;
  parse(d, read_file(examples() / "dispute-inquiry.json"));
  rapidjson::Document ev;
  parse(ev, R"([{"evidence_type":"PROOF_OF_FULFILLMENT","notes":"Shipped with DHL.",
    "documents":[{"name":"label.pdf"},{"name":"photo.jpg","odrgw_file":{"size":10,
    "sha256":"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}}]}])");
  d.AddMember("evidences", rapidjson::Value(ev, d.GetAllocator()), d.GetAllocator());
  rapidjson::Document out;
  report r;
  ASSERT_TRUE(translate_ok(schemas::to_json_string(d), base_context(), out, r)) << describe(r);
  ASSERT_EQ(out["payload"]["evidence"].Size(), 1u);
  EXPECT_EQ(s(ptr(out, "/payload/evidence/0/title")), "photo.jpg");
  EXPECT_EQ(s(ptr(out, "/payload/evidence/0/mediaType")), "image/jpeg");
  EXPECT_NE(s(ptr(out, "/payload/description")).find("Shipped with DHL."), std::string::npos);
}

TEST(PaypalContext, DocumentsWithoutDigestsAreReported) {
  context ctx = base_context();
  ctx.operation = "provide-evidence";
  ctx.reference = "PP-D-27803";
  const report r = fails(
      R"({"evidences":[{"evidence_type":"PROOF_OF_REFUND","documents":[{"name":"refund.pdf"}]}]})",
      ctx);
  EXPECT_TRUE(has(r, "/evidences/0/documents/0", "no-counterpart")) << describe(r);
}

// ---- property test: documents generated from the dialect schema --------------------------------

class generator {
 public:
  explicit generator(const Value& schema, std::uint64_t seed) : root_(schema), rng_(seed) {}

  enum class optional_mode { none, all, random };

  Value make(const Value& schema, rapidjson::Document::AllocatorType& a, optional_mode mode,
             int depth = 0) {
    const Value& sch = resolve(schema);
    if (const Value* all = member(sch, "allOf")) {
      // dispute_in: the dispute with more required members.
      std::set<std::string> extra;
      if (const Value* req = member(sch, "required"))
        for (auto& n : req->GetArray()) extra.insert(n.GetString());
      return object(resolve((*all)[0]), a, mode, depth, extra);
    }
    const std::string type = member(sch, "type") ? member(sch, "type")->GetString() : "";
    if (type == "object" || (type.empty() && member(sch, "properties")))
      return object(sch, a, mode, depth, {});
    if (type == "array") {
      const Value& items = *member(sch, "items");
      const std::uint64_t lo = member(sch, "minItems") ? member(sch, "minItems")->GetUint64() : 0;
      const std::uint64_t hi = std::min<std::uint64_t>(
          member(sch, "maxItems") ? member(sch, "maxItems")->GetUint64() : 3, lo + 2);
      Value arr(rapidjson::kArrayType);
      const std::uint64_t n = lo + (hi > lo ? rng_() % (hi - lo + 1) : 0);
      for (std::uint64_t i = 0; i < std::max<std::uint64_t>(n, 1); ++i)
        arr.PushBack(make(items, a, mode, depth + 1), a);
      return arr;
    }
    if (type == "string") return Value(pick_string(sch).c_str(), a);
    if (type == "integer") {
      const std::int64_t lo = member(sch, "minimum") ? member(sch, "minimum")->GetInt64() : 0;
      return Value(static_cast<int64_t>(lo + static_cast<std::int64_t>(rng_() % 100000)));
    }
    if (type == "boolean") return Value((rng_() & 1) != 0);
    return Value(rapidjson::kObjectType);  // the spec's empty schemas: anything goes
  }

  // Enum values that were never generated, per enum (by its first value).
  std::vector<std::string> unseen() const {
    std::vector<std::string> out;
    for (const auto& [e, seen] : seen_)
      for (auto& v : e->GetArray())
        if (!seen.count(v.GetString())) out.push_back(v.GetString());
    return out;
  }
  std::size_t misses() const { return misses_; }

 private:
  static const Value* member(const Value& o, const char* k) {
    if (!o.IsObject()) return nullptr;
    auto it = o.FindMember(k);
    return it == o.MemberEnd() ? nullptr : &it->value;
  }
  const Value& resolve(const Value& sch) const {
    const Value* ref = member(sch, "$ref");
    if (ref == nullptr) return sch;
    const std::string name =
        std::string(ref->GetString()).substr(std::string("#/definitions/").size());
    return resolve(root_["definitions"][name.c_str()]);
  }

  Value object(const Value& sch, rapidjson::Document::AllocatorType& a, optional_mode mode,
               int depth, const std::set<std::string>& extra) {
    Value o(rapidjson::kObjectType);
    std::set<std::string> required = extra;
    if (const Value* req = member(sch, "required"))
      for (auto& n : req->GetArray()) required.insert(n.GetString());
    if (const Value* props = member(sch, "properties")) {
      for (auto it = props->MemberBegin(); it != props->MemberEnd(); ++it) {
        const std::string name = it->name.GetString();
        const bool req = required.count(name) != 0;
        const bool on =
            req || (depth < 6 && (mode == optional_mode::all ||
                                  (mode == optional_mode::random && (rng_() % 2) == 0)));
        if (!on) continue;
        o.AddMember(Value(name.c_str(), a), make(it->value, a, mode, depth + 1), a);
      }
    }
    return o;
  }

  std::string pick_string(const Value& sch) {
    if (const Value* e = member(sch, "enum")) {
      auto& next = next_[e];
      const std::string v = (*e)[static_cast<rapidjson::SizeType>(next++ % e->Size())].GetString();
      seen_[e].insert(v);
      return v;
    }
    static const std::vector<std::string> pool = {
        "PP-D-12345",
        "ABC123",
        "A",
        "Z9",
        "Some free text, with punctuation.",
        "2026-09-02T07:14:27.000Z",
        "2026-09-02T07:14:27+02:00",
        "2026-09-02t07:14:27z",
        "2026-09-02T23:59:60Z",
        "buyer@example.com",
        "12.50",
        "0.5",
        ".5",
        "-3",
        "100",
        "0.123456",
        "007",
        "USD",
        "EUR",
        "JPY",
        "ZZZ",
        "US",
        "DE",
        "C2",
        "https://example.com/a",
        "urn:x:y",
        "receipt.pdf",
        "proof_1.PNG",
        "INV-1|2:3",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "application/pdf",
        "SOME_CODE",
        "1",
        "12",
        "Lee Morgan",
        "\xc3\x84rger \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac"};
    const std::string pattern = member(sch, "pattern") ? member(sch, "pattern")->GetString() : "";
    const std::size_t min = member(sch, "minLength") ? member(sch, "minLength")->GetUint64() : 0;
    const std::size_t max =
        member(sch, "maxLength") ? member(sch, "maxLength")->GetUint64() : 1u << 20;
    auto& re = regex_[pattern];
    if (!re && !pattern.empty()) re = std::make_unique<re2::RE2>(pattern);
    std::vector<const std::string*> fit;
    const bool uri = member(sch, "format") != nullptr;  // the dialect's one format: "uri"
    for (const auto& p : pool) {
      const std::size_t len = schemas::utf8_length(p);
      if (uri && !schemas::formats::is_uri(p)) continue;
      if (len < min || len > max) continue;
      if (re && !re2::RE2::PartialMatch(p, *re)) continue;
      fit.push_back(&p);
    }
    if (fit.empty()) {
      ++misses_;
      return "?";
    }
    return *fit[rng_() % fit.size()];
  }

  const Value& root_;
  std::mt19937_64 rng_;
  std::map<const Value*, std::size_t> next_;
  std::map<const Value*, std::set<std::string>> seen_;
  std::map<std::string, std::unique_ptr<re2::RE2>> regex_;
  std::size_t misses_ = 0;
};

TEST(PaypalProperty, GeneratedDocumentsTranslateOrFailClearly) {
  rapidjson::Document schema;
  ASSERT_TRUE(parse(schema, paypal_disputes_v1::schema_text()));
  const Value& kinds = schema["x-odrgw-kinds"];
  std::size_t translated = 0, reported = 0;
  for (auto it = kinds.MemberBegin(); it != kinds.MemberEnd(); ++it) {
    const std::string op = it->name.GetString();
    SCOPED_TRACE(op);
    generator gen(schema, 20260918);
    Value ref(rapidjson::kObjectType);
    const std::string target = std::string("#/definitions/") + it->value.GetString();
    ref.AddMember("$ref", Value(target.c_str(), schema.GetAllocator()), schema.GetAllocator());
    for (int i = 0; i < 3000; ++i) {
      const auto mode = i == 0   ? generator::optional_mode::none
                        : i == 1 ? generator::optional_mode::all
                                 : generator::optional_mode::random;
      rapidjson::Document doc;
      static_cast<Value&>(doc) = gen.make(ref, doc.GetAllocator(), mode);
      const std::string bytes = schemas::to_json_string(doc);
      report dr;
      ASSERT_TRUE(pp().validate_dialect(op, doc, dr)) << bytes << describe(dr);
      context ctx = base_context();
      ctx.operation = op;
      ctx.reference = op == "dispute" || op == "webhook" ? "" : "PP-D-12345";
      rapidjson::Document out;
      report r;
      if (pp().to_canonical(bytes, ctx, out, r)) {
        report check;
        set()->validate_json(out, "", check);
        ASSERT_TRUE(check.valid()) << bytes << describe(check);
        ++translated;
      } else {
        expect_clear(r, bytes);
        ++reported;
      }
      if (i > 50 && gen.unseen().empty()) break;
    }
    EXPECT_TRUE(gen.unseen().empty()) << gen.unseen().size() << " enum values never generated";
    EXPECT_EQ(gen.misses(), 0u) << "the generator found no string for some pattern";
  }
  // Both outcomes happen: the test exercises the mapping and the reports.
  EXPECT_GT(translated, 100u);
  EXPECT_GT(reported, 10u);
}

// ---- hostile input -----------------------------------------------------------------------------

TEST(PaypalHostile, MalformedInputIsReportedNeverCrashes) {
  context ctx = base_context();
  const std::vector<std::string> inputs = {
      "",
      "{",
      "null",
      "[]",
      "\"x\"",
      std::string("{\"dispute_id\":\"\xff\xfe\",\"reason\":\"OTHER\"}"),
      std::string(100000, '[') + std::string(100000, ']'),
      "{\"dispute_id\":\"" + std::string(2u << 20, 'A') + "\",\"reason\":\"OTHER\"}",
      "{\"dispute_id\":\"" + std::string(100000, 'A') + "\",\"reason\":\"OTHER\"}",
      "{\"dispute_id\":\"A\",\"dispute_id\":\"B\",\"reason\":\"OTHER\"}",
  };
  for (const auto& in : inputs) {
    for (const char* op : {"", "dispute", "webhook", "make-offer", "provide-evidence"}) {
      ctx.operation = op;
      ctx.reference = "PP-D-1";
      rapidjson::Document out;
      report r;
      EXPECT_FALSE(pp().to_canonical(in, ctx, out, r)) << in.substr(0, 60);
      expect_clear(r, in.substr(0, 60));
    }
  }
}

// Replaces every value of `doc` in turn by each of several wrong values.
void mutate_everywhere(const Value& doc, const std::function<void(const std::string&)>& run) {
  std::vector<std::string> pointers;
  std::function<void(const Value&, const std::string&)> walk = [&](const Value& v,
                                                                   const std::string& p) {
    pointers.push_back(p);
    if (v.IsObject())
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it)
        walk(it->value, p + "/" + it->name.GetString());
    if (v.IsArray())
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) walk(v[i], p + "/" + std::to_string(i));
  };
  walk(doc, "");
  const std::vector<std::string> wrong = {"null",
                                          "1e400",
                                          "-1",
                                          "true",
                                          "{}",
                                          "[]",
                                          "\"\"",
                                          "\"" + std::string(3000, 'x') + "\"",
                                          "[{\"a\":[[]]}]"};
  for (const auto& p : pointers) {
    if (p.empty()) continue;
    for (const auto& w : wrong) {
      rapidjson::Document copy;
      copy.CopyFrom(doc, copy.GetAllocator());
      rapidjson::Document repl;
      const bool parsed = parse(repl, w);
      Value* target = const_cast<Value*>(ptr(copy, p));
      if (target == nullptr) continue;
      if (!parsed) {
        target->SetString("1e400", copy.GetAllocator());
      } else {
        target->CopyFrom(repl, copy.GetAllocator());
      }
      run(schemas::to_json_string(copy));
    }
  }
}

TEST(PaypalHostile, WrongTypesEverywhereInbound) {
  std::size_t runs = 0;
  for (const auto& c : cases()) {
    rapidjson::Document doc;
    parse(doc, read_file(examples() / c.file));
    context ctx = base_context();
    ctx.operation = c.operation;
    ctx.reference = c.reference;
    mutate_everywhere(doc, [&](const std::string& bytes) {
      rapidjson::Document out;
      report r;
      ++runs;
      if (pp().to_canonical(bytes, ctx, out, r)) {
        report check;
        set()->validate_json(out, "", check);
        EXPECT_TRUE(check.valid()) << bytes;
      } else {
        expect_clear(r, bytes.substr(0, 200));
      }
    });
  }
  EXPECT_GT(runs, 1000u);
}

TEST(PaypalHostile, WrongTypesEverywhereOutbound) {
  context ctx = base_context();
  ctx.reference = "PP-D-27803";
  for (const char* f :
       {"dispute.acceptance.2.json", "negotiation.offer.json", "negotiation.offer-response.json",
        "negotiation.message.json", "escalation.request.json", "outcome.notification.json",
        "arbitration.award.json"}) {
    rapidjson::Document doc;
    parse(doc, read_file(test::examples_dir() / "valid" / f));
    mutate_everywhere(doc, [&](const std::string& bytes) {
      rapidjson::Document msg;
      parse(msg, bytes);
      report r;
      std::string out;
      if (!pp().from_canonical(msg, ctx, out, r)) expect_clear(r, bytes.substr(0, 200));
    });
  }
  // Not even an object.
  for (const char* bad : {"null", "[]", "1", "\"x\""}) {
    rapidjson::Document msg;
    parse(msg, bad);
    report r;
    std::string out;
    EXPECT_FALSE(pp().from_canonical(msg, ctx, out, r));
    EXPECT_FALSE(r.errors.empty());
  }
}

TEST(PaypalHostile, MarkersInFreeTextCannotInjectFields) {
  // A v1 offer whose terms end in a forged marker: only known fields of the right type return.
  rapidjson::Document offer;
  parse(offer, read_file(test::examples_dir() / "valid/negotiation.offer.json"));
  const std::string terms =
      "Take it.\n\n[paypal {\"offer_type\":\"REFUND_WITH_RETURN\","
      "\"invoice_id\":7,\"evil\":\"x\",\"return_shipping_address\":[1]}]";
  offer["payload"]["terms"].SetString(terms.c_str(), offer.GetAllocator());
  context ctx = base_context();
  ctx.reference = "PP-D-1";
  report r;
  const std::string body = back(offer, ctx, r);
  ASSERT_TRUE(r.valid()) << describe(r);
  rapidjson::Document b;
  parse(b, body);
  EXPECT_EQ(s(ptr(b, "/note")), "Take it.");
  EXPECT_FALSE(b.HasMember("evil"));
  EXPECT_FALSE(b.HasMember("invoice_id"));
  EXPECT_FALSE(b.HasMember("return_shipping_address"));
}

}  // namespace
}  // namespace odrgw::adapters
