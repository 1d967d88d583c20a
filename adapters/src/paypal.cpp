// paypal-disputes-v1 <-> ODR Interchange v1. The mapping table and its reasons are in
// docs/adapters/paypal.md; keep the two in step.
#include <odrgw/adapters/paypal.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <stdexcept>

#include <openssl/evp.h>
#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/string_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <odrgw/embedded.hpp>
#include <odrgw/schemas/formats.hpp>

namespace odrgw::embedded::paypal {
std::span<const file> files() noexcept;  // adapters/dialects/paypal-disputes-v1/*.schema.json
}  // namespace odrgw::embedded::paypal

namespace odrgw::adapters {
namespace {

using rapidjson::Value;
using schemas::report;
using alloc_t = rapidjson::Document::AllocatorType;

constexpr std::string_view schema_file = "paypal-disputes-v1.schema.json";
// PayPal gives no contact for the buyer (and sometimes none for the seller): the party is reached
// through PayPal. A reserved .invalid domain (RFC 2606) can never be mistaken for a real address.
constexpr std::string_view buyer_relay_email = "paypal-buyer@relay.paypal.invalid";
constexpr std::string_view seller_relay_email = "paypal-seller@relay.paypal.invalid";
constexpr std::size_t free_text_max = 10000;   // v1 FreeText, in code points
constexpr std::size_t paypal_note_max = 2000;  // PayPal note/message/content
constexpr int offer_validity_days = 10;        // APEC negotiation stage (DESIGN.md §3)

void fail(report& r, std::string location, std::string rule, std::string message) {
  r.status = schemas::verdict::invalid;
  if (r.errors.size() < schemas::max_report_errors)
    r.errors.push_back({std::move(location), std::move(rule), std::move(message), 0});
  else
    r.truncated = true;
}

// ---- reading RapidJSON values that may be absent or of any type --------------------------------

const Value* get(const Value* o, std::string_view k) {
  if (o == nullptr || !o->IsObject()) return nullptr;
  const auto it =
      o->FindMember(rapidjson::StringRef(k.data(), static_cast<rapidjson::SizeType>(k.size())));
  return it == o->MemberEnd() ? nullptr : &it->value;
}

std::string_view str(const Value* v) {
  return v != nullptr && v->IsString() ? std::string_view(v->GetString(), v->GetStringLength())
                                       : std::string_view{};
}

const Value* at(const Value* a, std::size_t i) {
  return a != nullptr && a->IsArray() && i < a->Size() ? &(*a)[static_cast<rapidjson::SizeType>(i)]
                                                       : nullptr;
}

std::size_t size_of(const Value* a) { return a != nullptr && a->IsArray() ? a->Size() : 0; }

// ---- text --------------------------------------------------------------------------------------

bool cont_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Byte length of the first `max_cp` code points of valid UTF-8.
std::size_t utf8_prefix(std::string_view s, std::size_t max_cp) {
  std::size_t cp = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (cont_byte(s[i])) continue;
    if (cp == max_cp) return i;
    ++cp;
  }
  return s.size();
}

std::string clip(std::string_view s, std::size_t max_cp) {
  const std::size_t n = utf8_prefix(s, max_cp);
  if (n == s.size()) return std::string(s);
  // Say that something was cut rather than cut silently.
  const std::string_view mark = " [...]";
  return std::string(s.substr(0, utf8_prefix(s, max_cp - mark.size()))) + std::string(mark);
}

// Splits into pieces of at most `max_cp` code points.
std::vector<std::string> chunks(std::string_view s, std::size_t max_cp) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const std::size_t n = utf8_prefix(s, max_cp);
    out.emplace_back(s.substr(0, n));
    s.remove_prefix(n);
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string pct(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// ---- dates
// ---------------------------------------------------------------------------------------

// Howard Hinnant's days_from_civil / civil_from_days.
long days_from_civil(long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long>(doe) - 719468;
}

void civil_from_days(long z, long& y, unsigned& m, unsigned& d) {
  z += 719468;
  const long era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<long>(yoe) + era * 400 + (m <= 2);
}

// PayPal date_time -> v1 DateTime: 't'/'z' upper-cased, fractions beyond nanoseconds cut (v1
// allows 9 digits). nullopt when the result is no RFC 3339 date-time (PayPal's pattern also lets
// ',' separate date and time).
std::optional<std::string> v1_date_time(std::string_view in) {
  std::string s(in);
  if (s.size() < 20) return std::nullopt;
  if (s[10] == 't') s[10] = 'T';
  if (s.back() == 'z') s.back() = 'Z';
  if (s.size() > 20 && s[19] == '.') {
    std::size_t end = 20;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
    if (end - 20 > 9) s.erase(29, end - 29);
  }
  if (s.size() > 35 || !schemas::formats::is_date_time(s)) return std::nullopt;
  return s;
}

std::optional<std::string> v1_date(std::string_view date_time) {
  const auto dt = v1_date_time(date_time);
  if (!dt) return std::nullopt;
  return dt->substr(0, 10);
}

// `dt` (a valid v1 DateTime) plus `days` calendar days, keeping time and offset.
std::optional<std::string> add_days(std::string_view dt, int days) {
  const auto num = [&](std::size_t pos, std::size_t n) {
    long v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) v = v * 10 + (dt[i] - '0');
    return v;
  };
  if (dt.size() < 20) return std::nullopt;
  long y = num(0, 4);
  unsigned m = static_cast<unsigned>(num(5, 2)), d = static_cast<unsigned>(num(8, 2));
  civil_from_days(days_from_civil(y, m, d) + days, y, m, d);
  if (y < 0 || y > 9999) return std::nullopt;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04ld-%02u-%02u", y, m, d);
  std::string out = std::string(buf) + std::string(dt.substr(10));
  if (out.size() > 19 && out.compare(17, 2, "60") == 0) out.replace(17, 2, "59");
  if (!schemas::formats::is_date_time(out)) return std::nullopt;
  return out;
}

// ---- code tables (docs/adapters/paypal.md) -----------------------------------------------------

using table = std::map<std::string_view, std::string_view, std::less<>>;

std::string_view lookup(const table& t, std::string_view key, std::string_view fallback) {
  const auto it = t.find(key);
  return it == t.end() ? fallback : it->second;
}

const table& reason_to_category() {
  static const table t = {
      {"MERCHANDISE_OR_SERVICE_NOT_RECEIVED", "not-received"},
      {"MERCHANDISE_OR_SERVICE_NOT_AS_DESCRIBED", "not-as-described"},
      {"UNAUTHORISED", "unauthorised-payment"},
      {"CREDIT_NOT_PROCESSED", "refund-not-given"},
      {"DUPLICATE_TRANSACTION", "other"},
      {"INCORRECT_AMOUNT", "other"},
      {"PAYMENT_BY_OTHER_MEANS", "other"},
      {"CANCELED_RECURRING_BILLING", "other"},
      {"PROBLEM_WITH_REMITTANCE", "other"},
      {"OTHER", "other"},
  };
  return t;
}

const table& item_type_to_subject() {
  static const table t = {{"PRODUCT", "goods"},
                          {"SERVICE", "service"},
                          {"BOOKING", "service"},
                          {"DIGITAL_DOWNLOAD", "digital-content"}};
  return t;
}

const table& outcome_code_to_outcome() {
  static const table t = {{"RESOLVED_BUYER_FAVOUR", "upheld"},
                          {"RESOLVED_SELLER_FAVOUR", "rejected"},
                          {"RESOLVED_WITH_PAYOUT", "upheld"},
                          {"CANCELED_BY_BUYER", "withdrawn"},
                          {"ACCEPTED", "settled"},
                          {"DENIED", "rejected"},
                          {"NONE", "lapsed"}};
  return t;
}

const table& outcome_to_outcome_code() {
  static const table t = {{"settled", "ACCEPTED"},
                          {"upheld", "RESOLVED_BUYER_FAVOUR"},
                          {"partly-upheld", "RESOLVED_BUYER_FAVOUR"},
                          {"rejected", "RESOLVED_SELLER_FAVOUR"},
                          {"withdrawn", "CANCELED_BY_BUYER"},
                          {"lapsed", "NONE"}};
  return t;
}

const table& adjudication_to_outcome() {
  static const table t = {{"PAYOUT_TO_BUYER", "upheld"},
                          {"RECOVER_FROM_SELLER", "upheld"},
                          {"DENY_BUYER", "rejected"},
                          {"PAYOUT_TO_SELLER", "rejected"}};
  return t;
}

const table& outcome_to_adjudication() {
  static const table t = {{"upheld", "PAYOUT_TO_BUYER"},
                          {"partly-upheld", "PAYOUT_TO_BUYER"},
                          {"rejected", "DENY_BUYER"}};
  return t;
}

const table& offer_type_to_remedy() {
  static const table t = {{"REFUND", "refund"},
                          {"REFUND_WITH_RETURN", "refund"},
                          {"REFUND_WITH_REPLACEMENT", "replacement"},
                          {"REPLACEMENT_WITHOUT_REFUND", "replacement"}};
  return t;
}

const table& evidence_type_to_kind() {
  static const table t = {
      {"PROOF_OF_FULFILLMENT", "tracking"},
      {"PROOF_OF_REFUND", "payment-record"},
      {"PROOF_OF_DELIVERY_SIGNATURE", "tracking"},
      {"PROOF_OF_RECEIPT_COPY", "receipt"},
      {"RETURN_POLICY", "contract"},
      {"BILLING_AGREEMENT", "contract"},
      {"PROOF_OF_RESHIPMENT", "tracking"},
      {"PAID_WITH_OTHER_METHOD", "payment-record"},
      {"COPY_OF_CONTRACT", "contract"},
      {"TERMINAL_ATM_RECEIPT", "receipt"},
      {"BANK_STATEMENT", "payment-record"},
      {"PROOF_OF_RETURN", "tracking"},
      {"PROOF_OF_REFUND_OUTSIDE_PAYPAL", "payment-record"},
      {"RECEIPT_OF_MERCHANDISE", "receipt"},
      {"CUSTOMS_FEE_RECEIPT", "receipt"},
      {"PROOF_OF_DAMAGE", "photo"},
      {"THIRDPARTY_PROOF_FOR_DAMAGE_OR_SIGNIFICANT_DIFFERENCE", "expert-report"},
      {"RETURN_TRACKING_INFORMATION", "tracking"},
      {"DELIVERY_RECEIPT", "receipt"},
      {"PROOF_OF_INSTORE_RECEIPT", "receipt"},
      {"ADDITIONAL_TRACKING_INFORMATION", "tracking"},
      {"PROOF_OF_SHIPMENT_POSTAGE", "receipt"},
      {"ONLINE_TRACKING_INFORMATION", "tracking"},
      {"PROOF_OF_INSTORE_REFUND", "payment-record"},
      {"COPY_OF_THE_EPARCEL_MANIFEST", "tracking"},
      {"COPY_OF_SHIPPING_MANIFEST", "tracking"},
      {"ADDITIONAL_PROOF_OF_SHIPMENT", "tracking"},
      {"ADDITIONAL_PROOF_OF_RETURN", "tracking"},
      {"MERCHANT_RESPONSE", "correspondence"},
      {"BUYER_RESPONSE", "correspondence"},
      {"CONFIRMATION_OF_RESOLUTION", "correspondence"},
      {"LISTING_URL", "screenshot"},
      {"ORDER_DETAILS", "receipt"},
      {"DETAILS_OF_PURCHASE", "receipt"},
      {"PHOTOS_OF_SHIPPED_ITEM", "photo"},
      {"RECEIPT_OF_REPLACEMENT", "receipt"},
  };
  return t;
}

const table& extension_media_type() {
  static const table t = {{"pdf", "application/pdf"}, {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"},
                          {"png", "image/png"},       {"gif", "image/gif"},  {"txt", "text/plain"},
                          {"csv", "text/csv"}};
  return t;
}

// INQUIRY 0 < CHARGEBACK 1 < PRE_ARBITRATION 2 < ARBITRATION 3; -1 when absent or unknown.
int stage_order(std::string_view stage) {
  if (stage == "INQUIRY") return 0;
  if (stage == "CHARGEBACK") return 1;
  if (stage == "PRE_ARBITRATION") return 2;
  if (stage == "ARBITRATION") return 3;
  return -1;
}

// The v1 tier of a PayPal stage: the inquiry is negotiation on the platform (T1); PayPal's own
// claim review and appeals are platform review (T2); a card issuer's chargeback (channel
// EXTERNAL) and the card network's arbitration are external (T3).
std::string_view tier_of(std::string_view stage, std::string_view channel) {
  if (stage == "INQUIRY" || stage_order(stage) < 0) return "T1";
  return channel == "EXTERNAL" ? "T3" : "T2";
}

// ---- the JSON we build -------------------------------------------------------------------------

struct builder {
  alloc_t& a;
  Value s(std::string_view v) const {
    return Value(v.data(), static_cast<rapidjson::SizeType>(v.size()), a);
  }
  void add(Value& o, std::string_view k, Value v) const { o.AddMember(s(k), v, a); }
  void add_str(Value& o, std::string_view k, std::string_view v) const { add(o, k, s(v)); }
  void add_bool(Value& o, std::string_view k, bool v) const { add(o, k, Value(v)); }
  void add_int(Value& o, std::string_view k, std::int64_t v) const {
    add(o, k, Value(static_cast<int64_t>(v)));
  }
  static Value obj() { return Value(rapidjson::kObjectType); }
  static Value arr() { return Value(rapidjson::kArrayType); }
};

}  // namespace

// ---- the adapter's state
// -------------------------------------------------------------------------

struct paypal_disputes_v1::impl {
  std::shared_ptr<const schemas::schema_set> set;
  paypal_options options;
  std::map<std::string, std::unique_ptr<schemas::json_schema_validator>, std::less<>> validators;
  std::vector<std::string> inbound, outbound;
  const schemas::node* currency = nullptr;  // v1 CurrencyCode

  const schemas::json_schema_validator* validator(std::string_view kind) const {
    const auto it = validators.find(kind);
    return it == validators.end() ? nullptr : it->second.get();
  }
  bool iso_currency(std::string_view c) const {
    return currency == nullptr || currency->enum_contains(c);
  }
};

namespace {

using impl = paypal_disputes_v1::impl;

// One translation: the pieces every mapping step needs, and where in the PayPal document we are.
struct mapping {
  const impl& im;
  const context& ctx;
  report& r;
  builder b;
  std::string base;  // pointer prefix of the dispute inside the document ("/resource")
  std::vector<std::string> notes;  // defaults used, written into the free text

  void note(std::string n) {
    if (std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(std::move(n));
  }

  void error(std::string_view loc, std::string rule, std::string message) {
    fail(r, base + std::string(loc), std::move(rule), std::move(message));
  }

  // PayPal money -> v1 Money. v1 amounts are non-negative decimals with at most 15 integer and 4
  // fraction digits, in an ISO 4217 currency.
  std::optional<Value> money(const Value* m, std::string_view loc) {
    const std::string_view cur = str(get(m, "currency_code"));
    const std::string_view val = str(get(m, "value"));
    if (m == nullptr || cur.empty() || val.empty()) {
      error(loc, "required", "money needs currency_code and value");
      return std::nullopt;
    }
    if (!im.iso_currency(cur)) {
      error(std::string(loc) + "/currency_code", "currency",
            "'" + std::string(cur) + "' is not an ISO 4217 currency that v1 accepts");
      return std::nullopt;
    }
    auto amount = v1_amount(val);
    if (!amount) {
      error(std::string(loc) + "/value", "amount",
            "'" + clip(val, 40) +
                "' has no v1 counterpart (v1 amounts are >= 0 with at most 15 integer and 4 "
                "fraction digits)");
      return std::nullopt;
    }
    Value out = builder::obj();
    b.add_str(out, "amount", *amount);
    b.add_str(out, "currency", cur);
    return out;
  }

  static std::optional<std::string> v1_amount(std::string_view v) {
    if (v.empty() || v.front() == '-') return std::nullopt;
    const std::size_t dot = v.find('.');
    std::string_view ip = v.substr(0, dot);
    std::string_view fp = dot == std::string_view::npos ? std::string_view{} : v.substr(dot + 1);
    while (ip.size() > 1 && ip.front() == '0') ip.remove_prefix(1);
    if (fp.size() > 4)
      while (!fp.empty() && fp.back() == '0') fp.remove_suffix(1);  // 1.500000 is 1.5
    if (fp.size() > 4 || ip.size() > 15) return std::nullopt;
    std::string out = ip.empty() ? "0" : std::string(ip);
    if (ip.size() > 1 && ip.front() == '0') return std::nullopt;
    if (!fp.empty()) out += "." + std::string(fp);
    return out;
  }

  std::optional<std::string> date_time(const Value* v, std::string_view loc) {
    const auto dt = v1_date_time(str(v));
    if (!dt) error(loc, "date-time", "'" + clip(str(v), 64) + "' is not an RFC 3339 date-time");
    return dt;
  }

  // A v1 Identifier/ExternalReference from a PayPal id (PayPal allows 255 characters, v1 128).
  bool short_ref(std::string_view v, std::string_view loc) {
    if (v.size() <= 128) return true;
    error(loc, "maxLength", "v1 references hold at most 128 characters");
    return false;
  }
};

// ---- messageId and envelope
// ----------------------------------------------------------------------

std::string derive_message_id(std::string_view partner, std::string_view request_id,
                              std::string_view dispute_id, std::string_view update_time,
                              std::string_view operation, std::string_view body) {
  static const boost::uuids::uuid ns =
      boost::uuids::string_generator()(std::string(paypal_disputes_v1::message_id_namespace));
  std::string name = "paypal-disputes-v1\n";
  name += partner;
  if (!request_id.empty()) {
    // PayPal-Request-Id semantics: the key alone names the request, whatever the body says, so
    // a reused key with another body reaches the gateway as the same messageId (409 there).
    name += "\nrequest-id\n";
    name += request_id;
  } else {
    name += "\ncontent\n";
    name += dispute_id;
    name += '\n';
    name += update_time;
    name += '\n';
    name += operation;
    name += '\n';
    name += sha256_hex(body);
  }
  return boost::uuids::to_string(boost::uuids::name_generator_sha1(ns)(name));
}

bool check_context(mapping& m, bool needs_case, bool needs_reference) {
  bool ok = true;
  const auto need = [&](std::string_view v, const char* what, const char* why) {
    if (!v.empty()) return;
    fail(m.r, "", "context-required", std::string("context.") + what + " is required: " + why);
    ok = false;
  };
  need(m.ctx.partner_id, "partner_id", "it is the v1 sender.partyId");
  need(m.ctx.partner_role, "partner_role", "it is the v1 sender.role");
  need(m.ctx.gateway_party_id, "gateway_party_id", "it is the v1 recipient.partyId");
  need(m.ctx.gateway_party_role, "gateway_party_role", "it is the v1 recipient.role");
  if (needs_case)
    need(m.ctx.case_id, "case_id", "v1 requires caseId on every message but dispute.application");
  if (needs_reference)
    need(m.ctx.reference, "reference",
         "the PayPal dispute id of the URL; the request body does not name its dispute");
  return ok;
}

Value envelope(mapping& m, std::string_view type, std::string_view message_id,
               std::string_view sender_ref, std::string_view sent_at, Value payload) {
  const builder& b = m.b;
  Value e = builder::obj();
  b.add_str(e, "messageId", message_id);
  b.add_str(e, "messageType", type);
  b.add_str(e, "specVersion", "1.0");
  if (!m.ctx.case_id.empty()) b.add_str(e, "caseId", m.ctx.case_id);
  if (!sender_ref.empty()) b.add_str(e, "senderCaseRef", sender_ref);
  Value sender = builder::obj();
  b.add_str(sender, "partyId", m.ctx.partner_id);
  b.add_str(sender, "role", m.ctx.partner_role);
  b.add(e, "sender", std::move(sender));
  Value recipient = builder::obj();
  b.add_str(recipient, "partyId", m.ctx.gateway_party_id);
  b.add_str(recipient, "role", m.ctx.gateway_party_role);
  b.add(e, "recipient", std::move(recipient));
  b.add_str(e, "sentAt", sent_at);
  b.add(e, "payload", std::move(payload));
  return e;
}

// sentAt of a request body: it has no time of its own.
std::optional<std::string> received_at(mapping& m) {
  if (m.ctx.received_at.empty()) {
    fail(m.r, "", "context-required",
         "context.received_at is required: the request body carries no time for v1 sentAt");
    return std::nullopt;
  }
  auto dt = v1_date_time(m.ctx.received_at);
  if (!dt) fail(m.r, "", "context-required", "context.received_at is not an RFC 3339 date-time");
  return dt;
}

// The offer_type v1 can tell from remedy and amount alone; others ride in the marker.
std::string_view default_offer_type(std::string_view remedy, bool has_amount) {
  if (remedy == "replacement")
    return has_amount ? "REFUND_WITH_REPLACEMENT" : "REPLACEMENT_WITHOUT_REFUND";
  if (remedy == "refund" || remedy == "partial-refund" || remedy == "compensation") return "REFUND";
  return {};
}

// ---- dispute object -> dispute.application / dispute.appeal -------------------------------------

struct dispute_view {
  const Value* d = nullptr;
  std::string_view id, reason, stage, channel, status, state;
  const Value* tx = nullptr;  // the first disputed transaction
};

Value party(mapping& m, bool buyer, const dispute_view& dv, bool& ok) {
  const builder& b = m.b;
  Value p = builder::obj();
  const Value* who = get(dv.tx, buyer ? "buyer" : "seller");
  const std::string who_loc =
      std::string("/disputed_transactions/0/") + (buyer ? "buyer" : "seller");
  std::string_view merchant_id = buyer ? std::string_view{} : str(get(who, "merchant_id"));
  if (!merchant_id.empty() && !m.short_ref(merchant_id, who_loc + "/merchant_id")) ok = false;
  const std::string id = buyer                 ? "paypal-buyer:" + std::string(dv.id)
                         : merchant_id.empty() ? "paypal-seller:" + std::string(dv.id)
                                               : "paypal-merchant:" + std::string(merchant_id);
  if (id.size() > 128) {
    m.error("/dispute_id", "maxLength", "v1 party ids hold at most 128 characters");
    ok = false;
  }
  b.add_str(p, "partyId", id);
  b.add_str(p, "kind", buyer ? "consumer" : "merchant");
  if (!buyer) b.add_str(p, "merchantKind", "platform-merchant");
  std::string_view name = str(get(who, "name"));
  std::string fallback_name;
  if (name.empty()) {
    fallback_name = buyer                 ? "PayPal buyer (name not disclosed)"
                    : merchant_id.empty() ? std::string("PayPal seller (name not disclosed)")
                                          : "PayPal merchant " + std::string(merchant_id);
    name = fallback_name;
  } else if (schemas::utf8_length(name) > 200) {
    m.error(who_loc + "/name", "maxLength", "v1 names hold at most 200 characters");
    ok = false;
  }
  b.add_str(p, "name", name);
  if (!merchant_id.empty()) b.add_str(p, "accountId", merchant_id);
  Value contact = builder::obj();
  std::string_view email = str(get(who, "email"));
  if (!buyer && email.empty()) email = str(get(get(dv.d, "communication_details"), "email"));
  if (!email.empty() && !schemas::formats::is_email(email)) {
    m.note("the seller's e-mail '" + clip(email, 254) +
           "' is not an address v1 accepts; the relay placeholder stands in");
    email = {};
  }
  if (email.empty()) email = buyer ? buyer_relay_email : seller_relay_email;
  b.add_str(contact, "email", email);
  b.add(p, "contact", std::move(contact));
  Value address = builder::obj();
  std::string_view country;
  if (!buyer) {
    // The seller's return address is the only address a dispute carries (merchandise disputes).
    country = str(get(get(get(get(dv.d, "extensions"), "merchandize_dispute_properties"),
                          "return_shipping_address"),
                      "country_code"));
    if (country == "C2") country = "CN";  // PayPal's code for China worldwide
  }
  if (country.empty()) {
    country = m.im.options.default_country;
    m.note(std::string(buyer ? "buyer" : "seller") +
           ": PayPal gives no country; the address country is the deployment default " +
           std::string(country));
  }
  b.add_str(address, "country", country);
  b.add(p, "address", std::move(address));
  return p;
}

Value consents(mapping& m, std::string_view at) {
  Value c = builder::obj();
  m.b.add_bool(c, "participation", true);             // the buyer filed with PayPal
  m.b.add_bool(c, "crossBorderDataTransfer", false);  // never asked through PayPal
  m.b.add_str(c, "consentedAt", at);
  return c;
}

Value forum(mapping& m, std::string_view channel) {
  Value f = builder::obj();
  if (channel == "EXTERNAL") {
    m.b.add_str(f, "forumId", "card-network");
    m.b.add_str(f, "name", "Card issuer and card network chargeback process (via PayPal)");
  } else {
    m.b.add_str(f, "forumId", "paypal");
    m.b.add_str(f, "name", "PayPal Resolution Center");
  }
  return f;
}

// Attachments from PayPal documents that the gateway's multipart intake annotated with the file's
// digest (odrgw_file). A document without it has no v1 counterpart: v1 names files by SHA-256.
// `require_file`: a request body's document without odrgw_file is an error; a dispute object's
// (PayPal's record of earlier evidence) is described in the text instead.
bool evidence_attachments(mapping& m, const Value* ev, std::size_t i, const std::string& ev_loc,
                          std::string_view dispute_id, Value& out, std::string& text,
                          bool require_file = true) {
  bool ok = true;
  {
    const std::string_view type = str(get(ev, "evidence_type"));
    const std::string_view notes = str(get(ev, "notes"));
    text += "Evidence " + std::to_string(i + 1);
    if (!type.empty()) text += " (" + std::string(type) + ")";
    text += ":";
    if (!notes.empty()) text += " " + std::string(notes);
    const Value* info = get(ev, "evidence_info");
    for (std::size_t k = 0; k < size_of(get(info, "tracking_info")); ++k) {
      const Value* t = at(get(info, "tracking_info"), k);
      text += " [tracking " + std::string(str(get(t, "carrier_name")));
      if (!str(get(t, "carrier_name_other")).empty())
        text += " " + std::string(str(get(t, "carrier_name_other")));
      text += " " + std::string(str(get(t, "tracking_number")));
      if (!str(get(t, "tracking_url")).empty())
        text += " " + std::string(str(get(t, "tracking_url")));
      text += "]";
    }
    for (std::size_t k = 0; k < size_of(get(info, "refund_ids")); ++k)
      text += " [refund id " + std::string(str(at(get(info, "refund_ids"), k))) + "]";
    if (!str(get(ev, "item_id")).empty())
      text += " [item " + std::string(str(get(ev, "item_id"))) + "]";
    text += "\n";
    const Value* docs = get(ev, "documents");
    for (std::size_t j = 0; j < size_of(docs); ++j) {
      const Value* doc = at(docs, j);
      const std::string doc_loc = ev_loc + "/documents/" + std::to_string(j);
      const Value* file = get(doc, "odrgw_file");
      const std::string_view name = str(get(doc, "name"));
      if (file == nullptr && !require_file) {
        text += "Document held at PayPal: " + std::string(name) + "\n";
        continue;
      }
      if (file == nullptr) {
        m.error(doc_loc, "no-counterpart",
                "v1 attachments are named by SHA-256 and size, which PayPal's JSON does not carry: "
                "the gateway's multipart intake adds them as odrgw_file");
        ok = false;
        continue;
      }
      const std::string_view sha = str(get(file, "sha256"));
      Value a = builder::obj();
      m.b.add_str(a, "attachmentId",
                  "sha256-" + std::string(sha.substr(0, 16)) + "-" + std::to_string(i) + "-" +
                      std::to_string(j));
      if (name.empty() || schemas::utf8_length(name) > 200) {
        m.error(doc_loc + "/name", name.empty() ? "required" : "maxLength",
                "v1 attachment titles are 1 to 200 characters");
        ok = false;
        continue;
      }
      m.b.add_str(a, "title", name);
      m.b.add_str(a, "evidenceKind", lookup(evidence_type_to_kind(), type, "other"));
      std::string_view media = str(get(file, "media_type"));
      if (media.empty()) {
        const std::size_t dot = name.rfind('.');
        media =
            lookup(extension_media_type(),
                   dot == std::string_view::npos ? std::string_view{}
                                                 : std::string_view(lower(name.substr(dot + 1))),
                   "application/octet-stream");
      }
      m.b.add_str(a, "mediaType", media);
      const Value* size = get(file, "size");
      m.b.add_int(a, "size", size != nullptr && size->IsInt64() ? size->GetInt64() : 0);
      m.b.add_str(a, "sha256", sha);
      std::string_view url = str(get(doc, "url"));
      std::string uri;
      if (!url.empty() && url.size() <= 2048 && schemas::formats::is_uri(url)) {
        uri = url;
      } else {
        uri = "urn:paypal:dispute:" + pct(dispute_id) + ":document:" + pct(name);
        if (uri.size() > 2048) {
          m.error(doc_loc + "/name", "maxLength",
                  "the document's URN exceeds v1's 2048 characters");
          ok = false;
          continue;
        }
      }
      m.b.add_str(a, "uri", uri);
      if (out.Size() >= 50) {
        m.error(doc_loc, "maxItems", "v1 carries at most 50 attachments per message");
        return false;
      }
      out.PushBack(a, m.b.a);
    }
  }
  return ok;
}

bool attachments(mapping& m, const Value* evidences, std::string_view loc,
                 std::string_view dispute_id, Value& out, std::string& text) {
  bool ok = true;
  for (std::size_t i = 0; i < size_of(evidences); ++i)
    if (!evidence_attachments(m, at(evidences, i), i, std::string(loc) + "/" + std::to_string(i),
                              dispute_id, out, text))
      ok = false;
  return ok;
}

std::string describe_dispute(mapping& m, const dispute_view& dv) {
  std::string t = "PayPal dispute " + std::string(dv.id) + ": reason " + std::string(dv.reason);
  if (!dv.stage.empty()) t += ", stage " + std::string(dv.stage);
  if (!dv.channel.empty()) t += ", channel " + std::string(dv.channel);
  if (!dv.status.empty()) t += ", status " + std::string(dv.status);
  if (!dv.state.empty()) t += ", state " + std::string(dv.state);
  t += ".\n";
  const auto line = [&](std::string_view label, std::string_view v) {
    if (!v.empty()) t += std::string(label) + ": " + std::string(v) + "\n";
  };
  line("External reason code", str(get(dv.d, "external_reason_code")));
  const Value* items = get(dv.tx, "items");
  for (std::size_t i = 0; i < size_of(items); ++i) {
    const Value* it = at(items, i);
    t += "Item " + std::to_string(i + 1) + ":";
    for (const char* k : {"item_id", "item_name", "item_description", "item_quantity", "reason",
                          "notes", "item_type"})
      if (!str(get(it, k)).empty()) t += std::string(" ") + k + "=" + std::string(str(get(it, k)));
    t += "\n";
  }
  const Value* ext = get(dv.d, "extensions");
  const Value* mdp = get(ext, "merchandize_dispute_properties");
  const Value* product = get(mdp, "product_details");
  const Value* service = get(mdp, "service_details");
  line("Product", str(get(product, "description")));
  line("Product received", str(get(product, "product_received")));
  for (std::size_t i = 0; i < size_of(get(product, "sub_reasons")); ++i)
    line("Product sub-reason", str(at(get(product, "sub_reasons"), i)));
  line("Service", str(get(service, "description")));
  line("Service note", str(get(service, "note")));
  line("Merchant contacted outcome", str(get(ext, "merchant_contacted_outcome")));
  line("Merchant contacted mode", str(get(ext, "merchant_contacted_mode")));
  const Value* out = get(dv.d, "dispute_outcome");
  if (!str(get(out, "outcome_code")).empty())
    t += "Outcome so far: " + std::string(str(get(out, "outcome_code"))) + " (v1 " +
         std::string(lookup(outcome_code_to_outcome(), str(get(out, "outcome_code")), "?")) + ")\n";
  const Value* adj = get(dv.d, "adjudications");
  for (std::size_t i = 0; i < size_of(adj); ++i)
    t += "Adjudication: " + std::string(str(get(at(adj, i), "type"))) + " " +
         std::string(str(get(at(adj, i), "reason"))) + " at " +
         std::string(str(get(at(adj, i), "dispute_life_cycle_stage"))) + " on " +
         std::string(str(get(at(adj, i), "adjudication_time"))) + "\n";
  const Value* offer = get(dv.d, "offer");
  if (const Value* so = get(offer, "seller_offered_amount"))
    t += "Seller offered: " + std::string(str(get(so, "value"))) + " " +
         std::string(str(get(so, "currency_code"))) + " " +
         std::string(str(get(offer, "offer_type"))) + "\n";
  for (std::size_t i = 0; i < size_of(get(offer, "history")); ++i) {
    const Value* h = at(get(offer, "history"), i);
    t += "Offer history: " + std::string(str(get(h, "offer_time"))) + " " +
         std::string(str(get(h, "actor"))) + " " + std::string(str(get(h, "event_type"))) + " " +
         std::string(str(get(h, "offer_type"))) + " " +
         std::string(str(get(get(h, "offer_amount"), "value"))) + " " +
         std::string(str(get(get(h, "offer_amount"), "currency_code"))) + "\n";
  }
  for (std::size_t i = 0; i < size_of(get(dv.d, "money_movements")); ++i) {
    const Value* mm = at(get(dv.d, "money_movements"), i);
    t += "Money movement: " + std::string(str(get(mm, "type"))) + " " +
         std::string(str(get(mm, "affected_party"))) + " " +
         std::string(str(get(get(mm, "amount"), "value"))) + " " +
         std::string(str(get(get(mm, "amount"), "currency_code"))) + " " +
         std::string(str(get(mm, "reason"))) + "\n";
  }
  line("Seller response due", str(get(dv.d, "seller_response_due_date")));
  line("Buyer response due", str(get(dv.d, "buyer_response_due_date")));
  const Value* txs = get(dv.d, "disputed_transactions");
  for (std::size_t i = 1; i < size_of(txs); ++i)
    t += "Also disputed: transaction " +
         std::string(str(get(at(txs, i), "seller_transaction_id"))) + " " +
         std::string(str(get(get(at(txs, i), "gross_amount"), "value"))) + " " +
         std::string(str(get(get(at(txs, i), "gross_amount"), "currency_code"))) + "\n";
  const Value* msgs = get(dv.d, "messages");
  for (std::size_t i = 0; i < size_of(msgs); ++i) {
    const Value* msg = at(msgs, i);
    if (str(get(msg, "content")).empty()) continue;
    t += "Message from " + std::string(str(get(msg, "posted_by"))) + " " +
         std::string(str(get(msg, "time_posted"))) + ": " + std::string(str(get(msg, "content"))) +
         "\n";
  }
  for (std::size_t i = 0; i < size_of(get(dv.d, "evidences")); ++i) {
    const Value* ev = at(get(dv.d, "evidences"), i);
    t += "Evidence at PayPal: " + std::string(str(get(ev, "evidence_type"))) + " " +
         std::string(str(get(ev, "notes"))) + " (" + std::to_string(size_of(get(ev, "documents"))) +
         " documents)\n";
  }
  for (const auto& n : m.notes) t += "odrgw: " + n + "\n";
  return clip(t, free_text_max);
}

// DisputeApplication payload; `entry_tier` is the v1 entry tier (T1 or T3).
std::optional<Value> application_payload(mapping& m, const dispute_view& dv,
                                         std::string_view entry_tier, std::string_view consented) {
  const builder& b = m.b;
  bool ok = true;
  Value complainant = party(m, true, dv, ok);
  Value respondent = party(m, false, dv, ok);
  Value p = builder::obj();
  b.add_str(p, "complainantKind", "consumer");
  b.add(p, "complainant", std::move(complainant));
  b.add(p, "respondent", std::move(respondent));
  b.add_str(p, "merchantKind", "platform-merchant");
  Value langs = builder::arr();
  langs.PushBack(b.s(m.im.options.default_language), b.a);
  b.add(p, "languages", std::move(langs));

  const Value* items = get(dv.tx, "items");
  const Value* item = at(items, 0);
  const Value* mdp = get(get(dv.d, "extensions"), "merchandize_dispute_properties");
  Value goods = builder::obj();
  std::string_view subject = lookup(item_type_to_subject(), str(get(item, "item_type")), "");
  if (subject.empty()) subject = str(get(mdp, "issue_type")) == "SERVICE" ? "service" : "goods";
  b.add_str(goods, "subjectKind", subject);
  std::string what(str(get(item, "item_name")));
  if (what.empty()) what = str(get(item, "item_description"));
  if (what.empty()) what = str(get(get(mdp, "product_details"), "description"));
  if (what.empty()) what = str(get(get(mdp, "service_details"), "description"));
  if (what.empty())
    what = "PayPal transaction " + std::string(str(get(dv.tx, "seller_transaction_id")).empty()
                                                   ? std::string_view(dv.id)
                                                   : str(get(dv.tx, "seller_transaction_id")));
  b.add_str(goods, "description", clip(what, 1000));
  const std::string_view qty = str(get(item, "item_quantity"));
  if (!qty.empty() && qty.size() <= 7) {
    const long q = std::strtol(std::string(qty).c_str(), nullptr, 10);
    if (q >= 1 && q <= 1000000) b.add_int(goods, "quantity", q);
  }
  b.add(p, "goodsOrService", std::move(goods));
  b.add_bool(p, "orderedOnline", true);  // a PayPal payment is an online order

  Value order = builder::obj();
  std::string_view order_id = str(get(dv.tx, "invoice_number"));
  std::string_view tx_id = str(get(dv.tx, "seller_transaction_id"));
  if (tx_id.empty()) tx_id = str(get(dv.tx, "buyer_transaction_id"));
  if (order_id.empty()) order_id = tx_id;
  if (order_id.empty()) order_id = dv.id;
  if (!m.short_ref(order_id, "/disputed_transactions/0")) ok = false;
  b.add_str(order, "orderId", order_id);
  b.add_str(order, "platformId", "paypal");
  b.add_str(order, "platformName", "PayPal");
  if (!tx_id.empty() && m.short_ref(tx_id, "/disputed_transactions/0"))
    b.add_str(order, "transactionId", tx_id);
  b.add(p, "orderReference", std::move(order));

  const Value* price_src = get(dv.tx, "gross_amount");
  std::string price_loc = "/disputed_transactions/0/gross_amount";
  if (price_src == nullptr) {
    price_src = get(dv.d, "dispute_amount");
    price_loc = "/dispute_amount";
  }
  if (price_src == nullptr) {
    m.error("", "no-counterpart",
            "v1 needs a price: the dispute has neither a transaction gross_amount nor a "
            "dispute_amount (crypto assets have no v1 counterpart)");
    return std::nullopt;
  }
  auto price = m.money(price_src, price_loc);
  if (!price) return std::nullopt;
  b.add(p, "price", std::move(*price));

  std::optional<std::string> purchase;
  if (get(dv.tx, "create_time") != nullptr) purchase = v1_date(str(get(dv.tx, "create_time")));
  if (!purchase) purchase = v1_date(str(get(dv.d, "create_time")));
  if (!purchase) {
    m.error("/disputed_transactions/0/create_time", "no-counterpart",
            "v1 needs a purchase date: neither the transaction nor the dispute has a create_time");
    return std::nullopt;
  }
  b.add_str(p, "purchaseDate", *purchase);
  const Value* product = get(mdp, "product_details");
  if (auto delivered = v1_date(str(get(product, "product_received_time"))))
    b.add_str(p, "deliveryDate", *delivered);

  const Value* ext = get(dv.d, "extensions");
  const Value* contacted = get(ext, "merchant_contacted");
  const bool was_contacted = contacted != nullptr && contacted->IsBool() && contacted->GetBool();
  if (contacted == nullptr) m.note("PayPal does not say whether the merchant was contacted");
  b.add_bool(p, "merchantContacted", was_contacted);
  if (auto on = v1_date(str(get(ext, "merchant_contacted_time"))); on && was_contacted)
    b.add_str(p, "merchantContactedOn", *on);

  std::string_view category = lookup(reason_to_category(), dv.reason, "other");
  // A damaged item is its own v1 category (ODR-SI complaint categories).
  for (std::size_t i = 0; i < size_of(get(product, "sub_reasons")); ++i)
    if (str(at(get(product, "sub_reasons"), i)) == "DAMAGED" && category == "not-as-described")
      category = "damaged-in-delivery";
  b.add_str(p, "category", category);

  const Value* requested_src = get(get(dv.d, "offer"), "buyer_requested_amount");
  std::string requested_loc = "/offer/buyer_requested_amount";
  if (requested_src == nullptr) {
    requested_src = get(dv.d, "dispute_amount");
    requested_loc = "/dispute_amount";
  }
  std::optional<Value> requested;
  if (requested_src != nullptr) {
    requested = m.money(requested_src, requested_loc);
    if (!requested) return std::nullopt;
  }
  const bool partial =
      requested && str(get(&*requested, "amount")) != str(get(get(&p, "price"), "amount"));
  b.add_str(p, "description", describe_dispute(m, dv));
  b.add_str(p, "requestedRemedy", partial ? "partial-refund" : "refund");
  if (requested) b.add(p, "requestedAmount", std::move(*requested));
  b.add(p, "consents", consents(m, consented));
  b.add(p, "forum", forum(m, dv.channel));
  b.add_str(p, "tier", entry_tier);
  Value evidence = builder::arr();
  std::string ignored;
  // Only documents that carry odrgw_file become attachments here; the rest stay in the text.
  const Value* evs = get(dv.d, "evidences");
  for (std::size_t i = 0; i < size_of(evs); ++i)
    if (!evidence_attachments(m, at(evs, i), i, "/evidences/" + std::to_string(i), dv.id, evidence,
                              ignored, false))
      ok = false;
  if (evidence.Size() > 0) b.add(p, "evidence", std::move(evidence));
  if (!ok) return std::nullopt;
  return p;
}

bool dispute_to_canonical(mapping& m, const Value& d, std::string_view op, std::string_view body,
                          rapidjson::Document& out) {
  dispute_view dv;
  dv.d = &d;
  dv.id = str(get(&d, "dispute_id"));
  dv.reason = str(get(&d, "reason"));
  dv.stage = str(get(&d, "dispute_life_cycle_stage"));
  dv.channel = str(get(&d, "dispute_channel"));
  dv.status = str(get(&d, "status"));
  dv.state = str(get(&d, "dispute_state"));
  dv.tx = at(get(&d, "disputed_transactions"), 0);
  if (!m.short_ref(dv.id, "/dispute_id")) return false;
  if (!m.ctx.reference.empty() && m.ctx.reference != dv.id) {
    m.error("/dispute_id", "context-mismatch",
            "context.reference names dispute '" + clip(m.ctx.reference, 128) + "'");
    return false;
  }

  // sentAt: the dispute's own last change, else its creation, else arrival.
  std::optional<std::string> sent;
  std::string_view update_time = str(get(&d, "update_time"));
  if (!update_time.empty()) {
    sent = m.date_time(get(&d, "update_time"), "/update_time");
    if (!sent) return false;
  } else if (get(&d, "create_time") != nullptr) {
    sent = m.date_time(get(&d, "create_time"), "/create_time");
    if (!sent) return false;
  } else {
    sent = received_at(m);
    if (!sent) return false;
  }
  std::string consented = *sent;
  if (auto created = v1_date_time(str(get(&d, "create_time")))) consented = *created;

  // Decided at an earlier stage? Then this is an appeal (ODR-SI 6.2.2).
  const int current = stage_order(dv.stage);
  const Value* prior = nullptr;
  const Value* adj = get(&d, "adjudications");
  for (std::size_t i = 0; i < size_of(adj); ++i) {
    const int s = stage_order(str(get(at(adj, i), "dispute_life_cycle_stage")));
    if (s >= 0 && s < current) prior = at(adj, i);
  }
  const bool appeal = prior != nullptr || current >= 2;
  const std::string message_id =
      derive_message_id(m.ctx.partner_id, m.ctx.request_id, dv.id, update_time, op, body);

  if (!appeal) {
    // v1 entry tiers are T0, T1, T3: PayPal's claim review (T2) is reached by escalation, so a
    // claim filed directly enters at T1, with PayPal's stage in the description.
    const std::string_view entry = tier_of(dv.stage, dv.channel) == "T3" ? "T3" : "T1";
    if (dv.stage == "CHARGEBACK" && entry == "T1")
      m.note("PayPal reviews this claim itself (v1 T2); v1 files it at T1");
    auto payload = application_payload(m, dv, entry, consented);
    if (!payload) return false;
    Value e = envelope(m, "dispute.application", message_id, dv.id, *sent, std::move(*payload));
    static_cast<Value&>(out) = e;
    return true;
  }

  if (!check_context(m, true, false)) return false;
  const std::string_view prior_stage = prior != nullptr
                                           ? str(get(prior, "dispute_life_cycle_stage"))
                                           : std::string_view("CHARGEBACK");
  std::string_view prev_outcome = "rejected";
  if (prior != nullptr) {
    prev_outcome = lookup(adjudication_to_outcome(), str(get(prior, "type")), "rejected");
  } else {
    m.note(
        "PayPal does not say how the chargeback stage ended; v1 previousOutcome "
        "'rejected' (pre-arbitration follows a contested chargeback decision)");
  }
  const std::string_view appellant = prev_outcome == "upheld" ? "merchant" : "consumer";
  // The original filing, as v1 would have received it first (its description keeps PayPal's
  // real stage: only the entry tier is the first forum's).
  auto original_payload =
      application_payload(m, dv, dv.channel == "EXTERNAL" ? "T3" : "T1", consented);
  if (!original_payload) return false;

  const builder& b = m.b;
  Value p = builder::obj();
  b.add_str(p, "appellant", appellant);
  b.add_str(p, "previousProceedingId", "paypal:" + std::string(dv.id) + ":" + lower(prior_stage));
  b.add_str(p, "previousTier", tier_of(prior_stage, dv.channel));
  b.add_str(p, "previousOutcome", prev_outcome);
  b.add_str(p, "toTier", dv.channel == "EXTERNAL" ? "T3" : "T2");
  b.add(p, "forum", forum(m, dv.channel));
  b.add_str(p, "grounds",
            clip("Appeal at PayPal stage " + std::string(dv.stage) + " after the " +
                     std::string(prior_stage) + " decision.\n" + describe_dispute(m, dv),
                 free_text_max));
  b.add_str(p, "requestedRemedy", "refund");
  if (const Value* amount = get(&d, "dispute_amount")) {
    auto money = m.money(amount, "/dispute_amount");
    if (!money) return false;
    b.add(p, "requestedAmount", std::move(*money));
  }
  b.add(p, "consents", consents(m, consented));
  b.add(p, "originalApplication", std::move(*original_payload));
  Value e = envelope(m, "dispute.appeal", message_id, dv.id, *sent, std::move(p));
  static_cast<Value&>(out) = e;
  return true;
}

// ---- request bodies -> negotiation, evidence, escalation, appeal --------------------------------

// Text PayPal cannot hold in v1 fields of its own rides at the end of the free text, so the way
// back restores it: "\n\n[paypal {json}]".
constexpr std::string_view marker_open = "\n\n[paypal ";

std::string with_marker(std::string text, const Value& extra) {
  if (extra.ObjectEmpty()) return text;
  return text + std::string(marker_open) + schemas::to_json_string(extra) + "]";
}

// Splits `text` into the free text and the marker's object (empty when none or unreadable).
std::string without_marker(std::string_view text, rapidjson::Document& extra) {
  extra.SetObject();
  if (text.empty() || text.back() != ']') return std::string(text);
  const std::size_t at_pos = text.rfind(marker_open);
  if (at_pos == std::string_view::npos) return std::string(text);
  const std::string_view json =
      text.substr(at_pos + marker_open.size(), text.size() - at_pos - marker_open.size() - 1);
  schemas::json_error err;
  rapidjson::Document d;
  if (!schemas::parse_json(
          json, d, {.max_bytes = 1u << 16, .max_depth = 8, .max_string_bytes = 1u << 12}, err) ||
      !d.IsObject())
    return std::string(text);
  extra.Swap(d);
  return std::string(text.substr(0, at_pos));
}

bool body_to_canonical(mapping& m, const Value& body_doc, std::string_view op,
                       std::string_view body, rapidjson::Document& out) {
  if (!check_context(m, true, true)) return false;
  auto sent = received_at(m);
  if (!sent) return false;
  for (const char c : m.ctx.reference)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      fail(m.r, "", "context-required",
           "context.reference is not a PayPal dispute id ([A-Za-z0-9-]+)");
      return false;
    }
  if (!m.short_ref(m.ctx.reference, "")) return false;
  const std::string message_id =
      derive_message_id(m.ctx.partner_id, m.ctx.request_id, m.ctx.reference, "", op, body);
  const builder& b = m.b;
  const std::string offer_id = "paypal:" + std::string(m.ctx.reference) + ":offer";
  const std::string_view note = str(get(&body_doc, "note"));
  Value p = builder::obj();
  std::string_view type;

  if (op == "make-offer") {
    type = "negotiation.offer";
    if (offer_id.size() > 128) {
      fail(m.r, "", "context-required", "context.reference is too long for a v1 offerId");
      return false;
    }
    b.add_str(p, "offerId", offer_id);
    b.add_str(p, "offeredBy", "merchant");  // PayPal: only sellers make offers
    const std::string_view offer_type = str(get(&body_doc, "offer_type"));
    b.add_str(p, "remedy", lookup(offer_type_to_remedy(), offer_type, "refund"));
    if (const Value* amount = get(&body_doc, "offer_amount")) {
      auto money = m.money(amount, "/offer_amount");
      if (!money) return false;
      b.add(p, "amount", std::move(*money));
    }
    rapidjson::Document extra(&b.a);
    extra.SetObject();
    const std::string_view remedy = lookup(offer_type_to_remedy(), offer_type, "refund");
    if (default_offer_type(remedy, get(&body_doc, "offer_amount") != nullptr) != offer_type)
      b.add_str(extra, "offer_type", offer_type);
    if (const Value* inv = get(&body_doc, "invoice_id"))
      b.add(extra, "invoice_id", Value(*inv, b.a));
    if (const Value* addr = get(&body_doc, "return_shipping_address"))
      b.add(extra, "return_shipping_address", Value(*addr, b.a));
    b.add_str(p, "terms", clip(with_marker(std::string(note), extra), free_text_max));
    auto until = add_days(*sent, offer_validity_days);
    if (!until) {
      fail(m.r, "", "context-required", "context.received_at leaves no valid offer expiry");
      return false;
    }
    b.add_str(p, "validUntil", *until);
  } else if (op == "accept-offer" || op == "deny-offer") {
    type = "negotiation.offer-response";
    b.add_str(p, "offerId", offer_id);
    b.add_str(p, "decision", op == "accept-offer" ? "accepted" : "rejected");
    if (!note.empty()) b.add_str(p, "reason", note);
  } else if (op == "accept-claim") {
    // The seller accepts the buyer's claim: the respondent's answer (ODR-SI 6.2.3).
    type = "dispute.response";
    const std::string_view claim_type = str(get(&body_doc, "accept_claim_type"));
    const bool partial = claim_type == "PARTIAL_REFUND";
    b.add_str(p, "respondent", "merchant");
    b.add_str(p, "position", partial ? "partly-accepts" : "accepts-claim");
    rapidjson::Document extra(&b.a);
    extra.SetObject();
    for (const char* k :
         {"accept_claim_type", "accept_claim_reason", "invoice_id", "return_shipping_address"})
      if (const Value* v = get(&body_doc, k)) b.add(extra, k, Value(*v, b.a));
    b.add_str(p, "statement", clip(with_marker(std::string(note), extra), free_text_max));
    b.add_str(p, "proposedRemedy", partial ? "partial-refund" : "refund");
    if (const Value* amount = get(&body_doc, "refund_amount")) {
      auto money = m.money(amount, "/refund_amount");
      if (!money) return false;
      b.add(p, "proposedAmount", std::move(*money));
    }
    b.add(p, "consents", consents(m, *sent));
  } else if (op == "send-message") {
    type = "negotiation.message";
    b.add_str(p, "text", str(get(&body_doc, "message")));
  } else if (op == "escalate") {
    type = "escalation.request";
    b.add_str(p, "requestedBy", "consumer");  // PayPal: only buyers escalate
    b.add_str(p, "fromTier", "T1");
    b.add_str(p, "toTier", "T2");
    b.add_str(p, "reasonCode", "negotiation-failed");
    rapidjson::Document extra(&b.a);
    extra.SetObject();
    if (const Value* why = get(&body_doc, "buyer_escalation_reason"))
      b.add(extra, "buyer_escalation_reason", Value(*why, b.a));
    b.add_str(p, "reason", clip(with_marker(std::string(note), extra), free_text_max));
    Value target = builder::obj();
    b.add_str(target, "forumId", "paypal");
    b.add_str(target, "name", "PayPal Resolution Center");
    b.add(p, "targetForum", std::move(target));
  } else {  // provide-evidence, appeal
    Value atts = builder::arr();
    std::string text;
    if (!attachments(m, get(&body_doc, "evidences"), "/evidences", m.ctx.reference, atts, text))
      return false;
    text = clip(text.empty() ? std::string("Evidence provided on PayPal.") : text, free_text_max);
    if (op == "appeal") {
      type = "dispute.appeal";
      // PayPal lets the seller appeal a claim decided in the buyer's favour.
      b.add_str(p, "appellant", "merchant");
      b.add_str(p, "previousProceedingId",
                "paypal:" + std::string(m.ctx.reference) + ":chargeback");
      b.add_str(p, "previousTier", "T2");
      b.add_str(p, "previousOutcome", "upheld");
      b.add_str(p, "toTier", "T2");
      b.add(p, "forum", forum(m, "INTERNAL"));
      b.add_str(p, "grounds", text);
      b.add_str(p, "requestedRemedy", "refund");
      b.add(p, "consents", consents(m, *sent));
      if (atts.Size() > 0) b.add(p, "evidence", std::move(atts));
    } else if (atts.Size() == 0) {
      // Tracking numbers and notes alone: v1 evidence needs a file, a message carries them.
      type = "negotiation.message";
      b.add_str(p, "text", text);
    } else {
      type = "evidence.submission";
      b.add_str(p, "submittedBy", m.ctx.partner_role);
      b.add(p, "attachments", std::move(atts));
      b.add_str(p, "statement", text);
    }
  }
  Value e = envelope(m, type, message_id, m.ctx.reference, *sent, std::move(p));
  static_cast<Value&>(out) = e;
  return true;
}

// ---- canonical -> PayPal
// -------------------------------------------------------------------------

struct out_mapping {
  const impl& im;
  const context& ctx;
  report& r;
  builder b;
};

// PayPal notes hold 2000 characters; longer v1 text is an error, not a silent cut.
bool note_fits(out_mapping& m, std::string_view text, std::string_view loc) {
  if (schemas::utf8_length(text) <= paypal_note_max) return true;
  fail(m.r, std::string(loc), "maxLength",
       "PayPal notes hold at most 2000 characters; this text has " +
           std::to_string(schemas::utf8_length(text)));
  return false;
}

Value money_out(out_mapping& m, const Value* money) {
  Value o = builder::obj();
  m.b.add_str(o, "currency_code", str(get(money, "currency")));
  m.b.add_str(o, "value", str(get(money, "amount")));
  return o;
}

// A dispute object carrying a decision: outcome.notification and arbitration.award.
bool decision_out(out_mapping& m, const Value& msg, std::string_view type, Value& out) {
  const Value* p = get(&msg, "payload");
  if (m.ctx.reference.empty()) {
    fail(m.r, "", "context-required",
         "context.reference is required: the PayPal dispute id the decision belongs to");
    return false;
  }
  const bool award = type == "arbitration.award";
  const std::string_view outcome = str(get(p, "outcome"));
  const std::string_view when =
      award ? str(get(get(p, "signature"), "signedAt")) : str(get(p, "decidedAt"));
  std::string_view stage;
  if (award) {
    stage = "ARBITRATION";
  } else {
    const std::string_view tier = str(get(p, "tier"));
    stage = tier == "T1" ? "INQUIRY" : tier == "T2" ? "CHARGEBACK" : std::string_view{};
  }
  out = builder::obj();
  m.b.add_str(out, "dispute_id", m.ctx.reference);
  m.b.add_str(out, "update_time", when);
  m.b.add_str(out, "status", "RESOLVED");
  m.b.add_str(out, "dispute_state", "RESOLVED");
  if (!stage.empty()) m.b.add_str(out, "dispute_life_cycle_stage", stage);
  Value result = builder::obj();
  m.b.add_str(result, "outcome_code", lookup(outcome_to_outcome_code(), outcome, "NONE"));
  // The refund: the first amount the merchant owes under the decision.
  const Value* list = get(p, award ? "amountsAwarded" : "obligations");
  for (std::size_t i = 0; i < size_of(list); ++i) {
    const Value* o = at(list, i);
    if (str(get(o, award ? "payer" : "obligor")) != "merchant" || get(o, "amount") == nullptr)
      continue;
    m.b.add(result, "amount_refunded", money_out(m, get(o, "amount")));
    break;
  }
  m.b.add(out, "dispute_outcome", std::move(result));
  const std::string_view adj = lookup(outcome_to_adjudication(), outcome, "");
  if (!adj.empty()) {
    Value a = builder::obj();
    m.b.add_str(a, "type", adj);
    m.b.add_str(a, "adjudication_time", when);
    if (!stage.empty()) m.b.add_str(a, "dispute_life_cycle_stage", stage);
    Value arr = builder::arr();
    arr.PushBack(a, m.b.a);
    m.b.add(out, "adjudications", std::move(arr));
  }
  // Reasons (and terms) as the arbiter's messages, split at PayPal's 2000 characters.
  Value messages = builder::arr();
  std::string text(str(get(p, "reasons")));
  if (!str(get(p, "terms")).empty()) text += "\n\nTerms: " + std::string(str(get(p, "terms")));
  if (award && !str(get(p, "applicableLaw")).empty())
    text += "\n\nApplicable law: " + std::string(str(get(p, "applicableLaw")));
  for (auto& piece : chunks(text, paypal_note_max)) {
    Value msg_v = builder::obj();
    m.b.add_str(msg_v, "posted_by", "ARBITER");
    m.b.add_str(msg_v, "time_posted", when);
    m.b.add_str(msg_v, "content", piece);
    if (messages.Size() < 1000) messages.PushBack(msg_v, m.b.a);
  }
  if (messages.Size() > 0) m.b.add(out, "messages", std::move(messages));
  return true;
}

// The forum's acceptance as the dispute's state: accepted opens it (the seller must answer),
// rejected resolves it as DENIED with the reason as the arbiter's message.
bool acceptance_out(out_mapping& m, const Value& msg, Value& out) {
  const Value* p = get(&msg, "payload");
  if (m.ctx.reference.empty()) {
    fail(m.r, "", "context-required",
         "context.reference is required: the PayPal dispute id the acceptance belongs to");
    return false;
  }
  const bool accepted = str(get(p, "decision")) == "accepted";
  const std::string_view when = str(get(p, "decidedAt"));
  const std::string_view tier = str(get(p, "tier"));
  out = builder::obj();
  m.b.add_str(out, "dispute_id", m.ctx.reference);
  m.b.add_str(out, "update_time", when);
  const bool seller_due = accepted && get(p, "responseDueAt") != nullptr;
  m.b.add_str(out, "status",
              !accepted    ? "RESOLVED"
              : seller_due ? "WAITING_FOR_SELLER_RESPONSE"
                           : "OPEN");
  if (!accepted) m.b.add_str(out, "dispute_state", "RESOLVED");
  if (tier == "T1") m.b.add_str(out, "dispute_life_cycle_stage", "INQUIRY");
  if (tier == "T2") m.b.add_str(out, "dispute_life_cycle_stage", "CHARGEBACK");
  if (!accepted) {
    Value result = builder::obj();
    m.b.add_str(result, "outcome_code", "DENIED");
    m.b.add(out, "dispute_outcome", std::move(result));
  }
  if (seller_due) m.b.add_str(out, "seller_response_due_date", str(get(p, "responseDueAt")));
  std::string text =
      accepted ? "Accepted at tier " + std::string(tier) : "Rejected at tier " + std::string(tier);
  if (!str(get(p, "proceedingId")).empty())
    text += ", proceeding " + std::string(str(get(p, "proceedingId")));
  if (!str(get(p, "reasonCode")).empty())
    text += ", reason " + std::string(str(get(p, "reasonCode")));
  if (!str(get(p, "negotiationDueAt")).empty())
    text += ", negotiation due " + std::string(str(get(p, "negotiationDueAt")));
  text += ".";
  const Value* missing = get(p, "missingItems");
  for (std::size_t i = 0; i < size_of(missing); ++i)
    text += "\nMissing: " + std::string(str(at(missing, i)));
  if (!str(get(p, "reason")).empty()) text += "\n" + std::string(str(get(p, "reason")));
  Value messages = builder::arr();
  for (auto& piece : chunks(text, paypal_note_max)) {
    Value msg_v = builder::obj();
    m.b.add_str(msg_v, "posted_by", "ARBITER");
    m.b.add_str(msg_v, "time_posted", when);
    m.b.add_str(msg_v, "content", piece);
    if (messages.Size() < 1000) messages.PushBack(msg_v, m.b.a);
  }
  m.b.add(out, "messages", std::move(messages));
  return true;
}

bool canonical_out(out_mapping& m, const Value& msg, std::string_view type, Value& out,
                   std::string& kind) {
  const Value* p = get(&msg, "payload");
  out = builder::obj();
  if (type == "negotiation.offer") {
    kind = "make-offer";
    rapidjson::Document extra;
    const std::string note = without_marker(str(get(p, "terms")), extra);
    if (!note_fits(m, note, "/payload/terms")) return false;
    m.b.add_str(out, "note", note);
    if (get(p, "amount") != nullptr) m.b.add(out, "offer_amount", money_out(m, get(p, "amount")));
    if (const Value* addr = get(&extra, "return_shipping_address"); addr && addr->IsObject())
      m.b.add(out, "return_shipping_address", Value(*addr, m.b.a));
    if (const Value* inv = get(&extra, "invoice_id"); inv && inv->IsString())
      m.b.add(out, "invoice_id", Value(*inv, m.b.a));
    std::string_view offer_type = str(get(&extra, "offer_type"));
    const std::string_view remedy = str(get(p, "remedy"));
    if (lookup(offer_type_to_remedy(), offer_type, "") != remedy) offer_type = {};
    if (offer_type.empty()) offer_type = default_offer_type(remedy, get(p, "amount") != nullptr);
    if (offer_type.empty()) {
      fail(m.r, "/payload/remedy", "no-counterpart",
           "PayPal offers are refunds and replacements; '" + std::string(remedy) +
               "' has no offer_type");
      return false;
    }
    m.b.add_str(out, "offer_type", offer_type);
    return true;
  }
  if (type == "negotiation.offer-response") {
    const std::string_view decision = str(get(p, "decision"));
    std::string note(str(get(p, "reason")));
    if (!note_fits(m, note, "/payload/reason")) return false;
    if (decision == "accepted") {
      kind = "accept-offer";
      if (!note.empty()) m.b.add_str(out, "note", note);
      return true;
    }
    kind = "deny-offer";  // rejected, or countered (the counter-offer follows as make-offer)
    if (note.empty())
      note = decision == "countered"
                 ? "Offer countered" +
                       (str(get(p, "counterOfferId")).empty()
                            ? std::string(".")
                            : " by offer " + std::string(str(get(p, "counterOfferId"))) + ".")
                 : std::string("Offer rejected.");
    m.b.add_str(out, "note", note);
    return true;
  }
  if (type == "negotiation.message") {
    kind = "send-message";
    const std::string_view text = str(get(p, "text"));
    if (!note_fits(m, text, "/payload/text")) return false;
    m.b.add_str(out, "message", text);
    return true;
  }
  if (type == "escalation.request") {
    kind = "escalate";
    rapidjson::Document extra;
    std::string note = without_marker(str(get(p, "reason")), extra);
    if (note.empty()) note = "Escalation requested: " + std::string(str(get(p, "reasonCode")));
    if (!note_fits(m, note, "/payload/reason")) return false;
    m.b.add_str(out, "note", note);
    if (const Value* why = get(&extra, "buyer_escalation_reason"); why && why->IsString())
      m.b.add(out, "buyer_escalation_reason", Value(*why, m.b.a));
    return true;
  }
  kind = "dispute-out";
  if (type == "dispute.acceptance") return acceptance_out(m, msg, out);
  return decision_out(m, msg, type, out);
}

}  // namespace

// ---- the adapter
// -----------------------------------------------------------------------------------

std::string_view paypal_disputes_v1::schema_text() noexcept {
  for (const auto& f : embedded::paypal::files())
    if (f.path == schema_file) return f.data;
  return {};
}

paypal_disputes_v1::paypal_disputes_v1(std::shared_ptr<const schemas::schema_set> set,
                                       paypal_options options) {
  auto im = std::make_unique<impl>();
  im->set = std::move(set);
  im->options = std::move(options);
  const std::string_view text = schema_text();
  rapidjson::Document source;
  schemas::json_error err;
  if (text.empty() || !schemas::parse_json(text, source, {}, err) || !source.IsObject())
    throw std::runtime_error("paypal-disputes-v1: the embedded dialect schema does not load");
  // One validator per kind: the whole schema with a root $ref to the kind's definition.
  const Value* kinds = get(&source, "x-odrgw-kinds");
  if (kinds == nullptr || !kinds->IsObject())
    throw std::runtime_error("paypal-disputes-v1: the dialect schema has no x-odrgw-kinds");
  std::vector<std::pair<std::string, std::string>> by_kind;
  for (auto it = kinds->MemberBegin(); it != kinds->MemberEnd(); ++it)
    if (it->value.IsString()) by_kind.emplace_back(it->name.GetString(), it->value.GetString());
  by_kind.emplace_back("dispute-out", "dispute");  // what from_canonical writes
  for (const auto& [kind, def] : by_kind) {
    rapidjson::Document one;
    one.CopyFrom(source, one.GetAllocator());
    one.RemoveMember("x-odrgw-kinds");
    const std::string ref = "#/definitions/" + def;
    one.AddMember("$ref", Value(ref.c_str(), one.GetAllocator()), one.GetAllocator());
    std::string error;
    auto v = schemas::json_schema_validator::load(schemas::to_json_string(one), error);
    if (!v) throw std::runtime_error("paypal-disputes-v1: definition " + def + ": " + error);
    im->validators[kind] = std::move(v);
  }
  if (const auto* app = im->set->model().find("dispute.application")) {
    const auto* payload = app->root->find_property("payload");
    const auto* price = payload ? payload->schema->find_property("price") : nullptr;
    const auto* cur = price ? price->schema->find_property("currency") : nullptr;
    if (cur != nullptr) im->currency = cur->schema;
  }
  // v1 order.
  const std::vector<std::string_view> in = {"dispute.application", "dispute.appeal",
                                            "dispute.response",    "negotiation.message",
                                            "negotiation.offer",   "negotiation.offer-response",
                                            "escalation.request",  "evidence.submission"};
  const std::vector<std::string_view> out = {"dispute.acceptance",  "negotiation.message",
                                             "negotiation.offer",   "negotiation.offer-response",
                                             "escalation.request",  "arbitration.award",
                                             "outcome.notification"};
  for (const auto& m : im->set->model().messages()) {
    if (std::find(in.begin(), in.end(), m.type) != in.end()) im->inbound.push_back(m.type);
    if (std::find(out.begin(), out.end(), m.type) != out.end()) im->outbound.push_back(m.type);
  }
  impl_ = std::move(im);
}

paypal_disputes_v1::~paypal_disputes_v1() = default;

std::span<const std::string> paypal_disputes_v1::inbound_types() const noexcept {
  return impl_->inbound;
}
std::span<const std::string> paypal_disputes_v1::outbound_types() const noexcept {
  return impl_->outbound;
}

bool paypal_disputes_v1::validate_dialect(std::string_view operation, const rapidjson::Value& doc,
                                          schemas::report& r) const {
  const auto* v = impl_->validator(operation);
  if (v == nullptr) {
    fail(r, "", "operation", "unknown PayPal operation '" + clip(operation, 64) + "'");
    return false;
  }
  const std::size_t before = r.errors.size();
  v->validate(doc, r);
  return r.errors.size() == before && r.valid();
}

bool paypal_disputes_v1::to_canonical(std::string_view bytes, const context& ctx,
                                      rapidjson::Document& out, schemas::report& r) const {
  r = {};
  r.enc = schemas::encoding::json;
  rapidjson::Document doc;
  schemas::json_error err;
  if (!schemas::parse_json(bytes, doc, {}, err)) {
    r.status = schemas::verdict::malformed;
    r.errors.push_back({err.location, err.rule, err.message, err.line});
    return false;
  }
  // Which PayPal document is this? The context says so for request bodies; a dispute object and
  // a webhook event name themselves.
  std::string op(ctx.operation);
  if (op.empty()) {
    if (doc.IsObject() && doc.HasMember("event_type") && doc.HasMember("resource")) {
      op = "webhook";
    } else if (doc.IsObject() && doc.HasMember("dispute_id")) {
      op = "dispute";
    } else {
      fail(r, "", "context-required",
           "context.operation is required: the document is neither a dispute nor a webhook event");
      return false;
    }
  }
  if (std::find(operations.begin(), operations.end(), op) == operations.end()) {
    fail(r, "", "operation",
         "unknown PayPal operation '" + clip(op, 64) +
             "' (dispute, webhook, make-offer, accept-offer, deny-offer, send-message, "
             "provide-evidence, escalate, appeal, accept-claim)");
    return false;
  }
  if (!validate_dialect(op, doc, r)) return false;

  out.SetObject();
  mapping m{*impl_, ctx, r, builder{out.GetAllocator()}, {}, {}};
  bool ok = false;
  if (op == "webhook" || op == "dispute") {
    if (!check_context(m, false, false)) return false;
    const Value* d = &doc;
    if (op == "webhook") {
      d = get(&doc, "resource");
      m.base = "/resource";
    }
    // A webhook and a GET of the same dispute state are one message: same messageId.
    ok = dispute_to_canonical(m, *d, "dispute", schemas::to_json_string(*d), out);
  } else {
    ok = body_to_canonical(m, doc, op, bytes, out);
  }
  if (!ok) {
    if (r.errors.empty()) fail(r, "", "mapping", "the document could not be mapped");
    r.status = schemas::verdict::invalid;
    return false;
  }
  // The result must be a valid v1 message; anything else is a mapping bug, reported, not sent.
  schemas::report canonical;
  impl_->set->validate_json(out, "", canonical);
  if (!canonical.valid()) {
    for (auto& e : canonical.errors)
      fail(r, "", "canonical:" + e.rule,
           "the v1 result is invalid at " + (e.location.empty() ? std::string("/") : e.location) +
               ": " + e.message);
    return false;
  }
  r.message_type = str(get(&out, "messageType"));
  return true;
}

bool paypal_disputes_v1::from_canonical(const rapidjson::Value& message, const context& ctx,
                                        std::string& out, schemas::report& r) const {
  r = {};
  r.enc = schemas::encoding::json;
  impl_->set->validate_json(message, "", r);
  if (!r.valid()) return false;
  const std::string type(str(get(&message, "messageType")));
  if (std::find(impl_->outbound.begin(), impl_->outbound.end(), type) == impl_->outbound.end()) {
    fail(r, "/messageType", "no-counterpart",
         "paypal-disputes-v1 does not receive " + type + " (see docs/adapters/paypal.md)");
    return false;
  }
  rapidjson::Document doc;
  out_mapping m{*impl_, ctx, r, builder{doc.GetAllocator()}};
  Value v;
  std::string kind;
  if (!canonical_out(m, message, type, v, kind)) return false;
  static_cast<Value&>(doc) = v;
  // What we send must be what PayPal accepts.
  schemas::report check;
  if (!validate_dialect(kind, doc, check)) {
    for (auto& e : check.errors)
      fail(r, "", "dialect:" + e.rule,
           "the PayPal result is invalid at " +
               (e.location.empty() ? std::string("/") : e.location) + ": " + e.message);
    return false;
  }
  out = schemas::to_json_string(doc, true);
  out += '\n';
  return true;
}

}  // namespace odrgw::adapters
