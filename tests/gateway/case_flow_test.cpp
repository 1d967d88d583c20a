// Whole cases through the gateway's case logic and a real SQLite file, in process, with a fake
// clock: every tier (T1 -> T2 -> T3 -> T4 -> T5), every deadline the route meets, the provider
// routing with its audit record and outbox rows, refusals that write nothing, timers that survive
// a restart, and every message the gateway emits checked against the v1 schemas.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "test_files.hpp"

#include <odrgw/adapters/adapter.hpp>
#include <odrgw/gateway/case_logic.hpp>
#include <odrgw/gateway/config.hpp>
#include <odrgw/gateway/pii.hpp>
#include <odrgw/gateway/routing.hpp>
#include <odrgw/gateway/storage.hpp>
#include <odrgw/schemas/json.hpp>
#include <odrgw/schemas/validator.hpp>

namespace odrgw::gateway {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sys_clock = std::chrono::system_clock;

// A platform that files and runs T1/T2, the merchant on it (no callback: it polls), and the
// default external provider (T3-T5).
const std::string config_yaml =
    "partners:\n"
    "  - id: platform-gb\n"
    "    role: platform\n"
    "    api_key_sha256: " +
    std::string(64, 'a') +
    "\n"
    "    callback_url: https://platform-gb.example/odr\n"
    "  - id: shop-1\n"
    "    role: merchant\n"
    "    api_key_sha256: " +
    std::string(64, 'b') +
    "\n"
    "  - id: odr-body-1\n"
    "    role: odr-provider\n"
    "    api_key_sha256: " +
    std::string(64, 'c') +
    "\n"
    "    callback_url: https://odr-body-1.example/odr\n"
    "routing:\n"
    "  default_provider: odr-body-1\n";

const std::string platform = "platform-gb";
const std::string merchant = "shop-1";
const std::string provider = "odr-body-1";

rapidjson::Document parse(std::string_view s) {
  rapidjson::Document d;
  schemas::json_error err;
  EXPECT_TRUE(schemas::parse_json(s, d, {}, err)) << err.message << "\n" << s;
  return d;
}

rapidjson::Document example(const std::string& type) {
  return parse(
      test::slurp(fs::path(ODRGW_SOURCE_DIR) / "schemas/v1/examples/valid" / (type + ".json")));
}

void set_text(rapidjson::Document& d, rapidjson::Value& obj, const char* name,
              const std::string& v) {
  auto& a = d.GetAllocator();
  if (auto it = obj.FindMember(name); it != obj.MemberEnd()) {
    it->value.SetString(v.c_str(), static_cast<rapidjson::SizeType>(v.size()), a);
    return;
  }
  obj.AddMember(rapidjson::Value(name, a), rapidjson::Value(v.c_str(), a), a);
}

std::string text_of(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(name);
  return it != obj.MemberEnd() && it->value.IsString()
             ? std::string(it->value.GetString(), it->value.GetStringLength())
             : std::string();
}

std::string message_uuid(int n) {
  char id[40];
  std::snprintf(id, sizeof id, "6f1c2a9e-0000-4000-8000-%012d", n);
  return id;
}

// Raw reads of the database file, as an auditor with the file would make them.
class raw_db {
 public:
  explicit raw_db(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
      throw std::runtime_error("open " + path);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~raw_db() { sqlite3_close_v2(db_); }
  raw_db(const raw_db&) = delete;
  raw_db& operator=(const raw_db&) = delete;

  // The first column of every row.
  std::vector<std::string> column(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("prepare: ") + sqlite3_errmsg(db_));
    std::vector<std::string> out;
    while (sqlite3_step(s) == SQLITE_ROW)
      out.emplace_back(sqlite3_column_text(s, 0) != nullptr
                           ? reinterpret_cast<const char*>(sqlite3_column_text(s, 0))
                           : "");
    sqlite3_finalize(s);
    return out;
  }
  std::int64_t integer(const std::string& sql) {
    const auto rows = column(sql);
    return rows.empty() || rows[0].empty() ? 0 : std::stoll(rows[0]);
  }

 private:
  sqlite3* db_ = nullptr;
};

// What the gateway emitted (or decided) at one step.
struct gateway_message {
  std::string message_id;
  std::string type;
  rapidjson::Document doc;  // personal data revealed
};

class CaseFlow : public ::testing::Test {
 protected:
  test::temp_dir dir{"flow"};
  config cfg = parse_config(config_yaml, dir.path.string());
  std::shared_ptr<const schemas::schema_set> set = schemas::schema_set::builtin();
  adapters::registry reg = load_adapters(cfg, set);
  pii_key key = pii_key::load_or_create((dir.path / "keys" / "pii.key").string());
  const sys_clock::time_point t0 = routing::parse_time("2026-09-02T08:00:00Z");
  // The case clock: milliseconds since t0, advanced by the test, read on the writer thread.
  std::atomic<std::int64_t> offset_ms{0};
  std::unique_ptr<storage> st;
  int next_message = 1;

  void SetUp() override { open(dir.db()); }
  void TearDown() override {
    if (st) st->close();
  }

  sys_clock::time_point now() const { return t0 + std::chrono::milliseconds(offset_ms.load()); }
  void advance(std::chrono::milliseconds by) { offset_ms += by.count(); }

  // A new case logic each time: what a restarted gateway would make.
  void open(const std::string& path) {
    case_logic_options o;
    o.cfg = &cfg;
    o.set = set;
    o.adapters = &reg;
    o.key = &key;
    o.clock = [this] { return now(); };
    st = open_sqlite({path, 128, make_case_logic(std::move(o))});
  }
  void reopen(const std::string& path) {
    st->close();
    st.reset();
    open(path);
  }

  // An example message of `type` on `case_id`, from `sender_id` as `role`.
  rapidjson::Document message(const std::string& type, const std::string& case_id,
                              const std::string& sender_id, const std::string& role) {
    auto d = example(type);
    set_text(d, d["sender"], "partyId", sender_id);
    set_text(d, d["sender"], "role", role);
    if (!case_id.empty()) set_text(d, d, "caseId", case_id);
    d.RemoveMember("proceedingId");
    return d;
  }

  // Stores `msg` as posted by partner `by`: in clear for the logic, sealed for storage.
  store_result post(const std::string& by, rapidjson::Document msg) {
    set_text(msg, msg, "messageId", message_uuid(next_message++));
    inbound_message m;
    m.sender_party = by;
    m.message_id = text_of(msg, "messageId");
    m.message_type = text_of(msg, "messageType");
    m.case_id = text_of(msg, "caseId");
    auto plain = std::make_shared<rapidjson::Document>();
    plain->CopyFrom(msg, plain->GetAllocator());
    m.plain = std::move(plain);
    const auto* def = set->model().find(m.message_type);
    EXPECT_NE(def, nullptr) << m.message_type;
    if (def != nullptr) protect(*def->root, msg, msg.GetAllocator(), key);
    m.canonical_json = schemas::to_json_string(msg);
    m.body_sha256 = test::sha256_hex(m.canonical_json);
    m.audit_json = R"({"method":"POST","target":"/v1/messages","verdict":"accepted"})";
    return st->store_message_sync(std::move(m));
  }

  // Posts and expects it stored.
  void accept(const std::string& by, rapidjson::Document msg) {
    const std::string type = text_of(msg, "messageType");
    const auto r = post(by, std::move(msg));
    ASSERT_EQ(r.status, store_status::stored) << type << ": " << r.error << " " << r.refused.detail
                                              << " (state " << r.refused.state << ")";
  }

  case_view view(const std::string& case_id) {
    auto v = st->get_case(case_id);
    EXPECT_TRUE(v.has_value()) << case_id;
    return v ? std::move(*v) : case_view{};
  }
  routing::case_status status(const std::string& case_id) {
    return routing::case_status::from_json(view(case_id).status_json);
  }
  std::vector<std::string> timer_kinds(const std::string& case_id) {
    std::vector<std::string> out;
    for (const auto& t : status(case_id).deadlines) out.push_back(t.kind);
    return out;
  }
  std::size_t message_count(const std::string& case_id) { return view(case_id).messages.size(); }

  // The gateway's messages (sender "odrgw") stored for the case from index `from` on, revealed.
  std::vector<gateway_message> emitted(const std::string& case_id, std::size_t from = 0) {
    std::vector<gateway_message> out;
    const auto v = view(case_id);
    for (std::size_t i = from; i < v.messages.size(); ++i) {
      const auto& m = v.messages[i];
      if (m.sender_party != gateway_party_id) continue;
      gateway_message g;
      g.message_id = m.message_id;
      g.type = m.message_type;
      g.doc = parse(m.canonical_json);
      reveal(g.doc, g.doc.GetAllocator(), &key);
      out.push_back(std::move(g));
    }
    return out;
  }
  static std::vector<std::string> types(const std::vector<gateway_message>& ms) {
    std::vector<std::string> out;
    for (const auto& m : ms) out.push_back(m.type);
    return out;
  }
  static const gateway_message* find(const std::vector<gateway_message>& ms,
                                     const std::string& type) {
    for (const auto& m : ms)
      if (m.type == type) return &m;
    return nullptr;
  }
  static std::string payload(const gateway_message& m, const char* name) {
    auto it = m.doc.FindMember("payload");
    return it == m.doc.MemberEnd() ? std::string() : text_of(it->value, name);
  }

  // T1, platform-merchant, filed by the platform as itself: the platform's desk accepts by
  // filing. Returns the case id.
  std::string file_at_platform() {
    auto app = message("dispute.application", "", platform, "platform");
    set_text(app, app["recipient"], "partyId", merchant);
    set_text(app, app["recipient"], "role", "merchant");
    const auto r = post(platform, std::move(app));
    EXPECT_EQ(r.status, store_status::stored) << r.refused.detail;
    return r.rec.case_id;
  }

  // The whole platform-merchant case of ODR-SI 6.2.5: T1 -> T2 -> T3 -> T4 -> T5 -> closed.
  void run_platform_case(std::string& case_id);
};

void CaseFlow::run_platform_case(std::string& id) {
  // ---- T1: filed by the platform, which runs T1: accepted by filing --------------------------
  id = file_at_platform();
  ASSERT_FALSE(id.empty());
  {
    const auto v = view(id);
    EXPECT_EQ(v.state, "negotiation");
    EXPECT_EQ(v.originator, platform);
    EXPECT_EQ(v.provider, "");
    const auto st1 = status(id);
    EXPECT_EQ(st1.tier, "T1");
    const auto gw = emitted(id);
    const auto* acc = find(gw, "dispute.acceptance");
    ASSERT_NE(acc, nullptr) << "no automatic acceptance";
    EXPECT_EQ(payload(*acc, "decision"), "accepted");
    EXPECT_EQ(payload(*acc, "tier"), "T1");
    EXPECT_EQ(text_of(acc->doc["sender"], "partyId"), platform);
    EXPECT_EQ(text_of(acc->doc, "caseId"), id);
    // Filing, the acceptance-decision timer set and cancelled, negotiation's two timers set.
    EXPECT_NE(find(gw, "stage.changed"), nullptr);
    EXPECT_NE(find(gw, "deadline.notice"), nullptr);
    EXPECT_EQ(timer_kinds(id), (std::vector<std::string>{"negotiation", "respondent-response"}));
  }

  // Nothing is due before the respondent's 7 days.
  advance(7 * 24h - 1min);
  EXPECT_EQ(st->fire_timers_sync(), 0);
  EXPECT_EQ(view(id).state, "negotiation");

  // ---- negotiation lapses (10 days): outcome.notification lapsed, appeal window to T2 --------
  std::size_t mark = message_count(id);
  advance(3 * 24h + 2min);
  EXPECT_EQ(st->fire_timers_sync(), 1);
  {
    EXPECT_EQ(view(id).state, "outcome-notified");
    const auto gw = emitted(id, mark);
    const auto* outcome = find(gw, "outcome.notification");
    ASSERT_NE(outcome, nullptr) << ::testing::PrintToString(types(gw));
    EXPECT_EQ(payload(*outcome, "outcome"), "lapsed");
    EXPECT_EQ(payload(*outcome, "appealTo"), "T2");
    EXPECT_EQ(timer_kinds(id), std::vector<std::string>{"appeal-window"});
    // The originator gets the gateway's messages (it has a callback); the merchant polls.
    bool queued = false;
    for (const auto& o : st->list_outbox({"", id, platform, 1000}))
      queued = queued || o.message_id == outcome->message_id;
    EXPECT_TRUE(queued);
    EXPECT_TRUE(st->list_outbox({"", id, merchant, 1000}).empty());
  }
  EXPECT_EQ(st->fire_timers_sync(), 0);  // fired once only

  // ---- appeal to T2: the platform's review (filed there, the platform accepts) ---------------
  {
    auto appeal = message("dispute.appeal", id, "consumer-4711", "consumer");
    set_text(appeal, appeal["payload"], "previousTier", "T1");
    set_text(appeal, appeal["payload"], "toTier", "T2");
    accept(platform, std::move(appeal));
    EXPECT_EQ(status(id).tier, "T2");
    EXPECT_EQ(status(id).proceeding_id(), id + "-P2");
    EXPECT_EQ(view(id).provider, "");  // T2 is the platform's own
    auto acc = message("dispute.acceptance", id, platform, "platform");
    set_text(acc, acc["payload"], "tier", "T2");
    accept(platform, std::move(acc));
    EXPECT_EQ(view(id).state, "platform-review");
    const auto kinds = timer_kinds(id);
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), "platform-review"), kinds.end())
        << ::testing::PrintToString(kinds);
  }

  // ---- the platform review lapses: outcome lapsed, appeal to T3 ------------------------------
  mark = message_count(id);
  advance(10 * 24h + 1min);
  EXPECT_EQ(st->fire_timers_sync(), 1);
  {
    EXPECT_EQ(view(id).state, "outcome-notified");
    const auto gw = emitted(id, mark);
    const auto* outcome = find(gw, "outcome.notification");
    ASSERT_NE(outcome, nullptr) << ::testing::PrintToString(types(gw));
    EXPECT_EQ(payload(*outcome, "outcome"), "lapsed");
    EXPECT_EQ(payload(*outcome, "appealTo"), "T3");
  }

  // ---- appeal to T3: routed to the default provider, which gets the file first ---------------
  std::string appeal_id;
  {
    auto appeal = message("dispute.appeal", id, "consumer-4711", "consumer");
    set_text(appeal, appeal["payload"], "previousTier", "T2");
    set_text(appeal, appeal["payload"], "toTier", "T3");
    set_text(appeal, appeal["payload"]["forum"], "forumId", provider);
    const auto queued_before = st->list_outbox({"", id, "", 1000}).size();
    const auto r = post(platform, std::move(appeal));
    ASSERT_EQ(r.status, store_status::stored) << r.refused.detail;
    appeal_id = r.rec.message_id;
    // The result counts the outbox rows it queued: the service wakes the deliveries only then.
    EXPECT_GE(r.queued, 2u);
    EXPECT_EQ(queued_before + r.queued, st->list_outbox({"", id, "", 1000}).size());
    const auto v = view(id);
    EXPECT_EQ(v.provider, provider);
    EXPECT_EQ(v.state, "filed");
    EXPECT_EQ(status(id).tier, "T3");
    EXPECT_NE(std::find(v.parties.begin(), v.parties.end(), provider), v.parties.end());

    raw_db raw(dir.db());
    const auto routing_records =
        raw.column("SELECT data_json FROM audit WHERE kind = 'routing' AND case_id = '" + id +
                   "' ORDER BY seq");
    ASSERT_EQ(routing_records.size(), 1u);
    const auto rec = parse(routing_records[0]);
    EXPECT_EQ(text_of(rec, "rule"), "default");
    EXPECT_EQ(text_of(rec, "provider"), provider);
    EXPECT_EQ(text_of(rec, "tier"), "T3");
    EXPECT_EQ(text_of(rec, "procedure"), "negotiation");
    EXPECT_FALSE(text_of(rec, "explanation").empty());

    // The provider's outbox: the case's dispute.application, then the appeal.
    const auto box = st->list_outbox({"", id, provider, 1000});
    ASSERT_GE(box.size(), 2u);
    EXPECT_EQ(box[0].message_type, "dispute.application");
    EXPECT_EQ(box[0].message_id, v.messages.front().message_id);
    EXPECT_EQ(box[0].sender_party, platform);
    std::size_t appeal_at = box.size();
    for (std::size_t i = 0; i < box.size(); ++i)
      if (box[i].message_id == appeal_id) appeal_at = i;
    ASSERT_LT(appeal_at, box.size()) << "the appeal is not queued for the provider";
    EXPECT_GT(appeal_at, 0u);
    EXPECT_EQ(box[appeal_at].message_type, "dispute.appeal");
    // One at a time per (recipient, case): the provider's first due delivery is the file.
    const auto due = st->due_deliveries(routing::format_time(sys_clock::now() + 1h), 1000);
    const auto first = std::find_if(due.begin(), due.end(), [&](const outbox_item& o) {
      return o.recipient == provider && o.case_id == id;
    });
    ASSERT_NE(first, due.end());
    EXPECT_EQ(first->message_type, "dispute.application");
  }

  // ---- the provider accepts: negotiation at T3 -----------------------------------------------
  {
    auto acc = message("dispute.acceptance", id, provider, "odr-provider");
    set_text(acc, acc["payload"], "tier", "T3");
    const auto r = post(provider, std::move(acc));
    ASSERT_EQ(r.status, store_status::stored) << r.refused.detail;
    EXPECT_EQ(view(id).state, "negotiation");
    EXPECT_EQ(status(id).tier, "T3");
    // A provider's result goes to the partner that filed the case.
    bool to_platform = false;
    for (const auto& o : st->list_outbox({"", id, platform, 1000}))
      to_platform = to_platform || o.message_id == r.rec.message_id;
    EXPECT_TRUE(to_platform);
  }
  // The merchant answers and agrees to arbitration: both parties now have.
  {
    auto response = message("dispute.response", id, merchant, "merchant");
    response["payload"]["consents"]["arbitrationAgreement"].SetBool(true);
    accept(merchant, std::move(response));
    EXPECT_TRUE(status(id).arbitration_eligible());
  }

  // ---- escalation to T4: mediation at the same provider --------------------------------------
  {
    auto esc = message("escalation.request", id, "consumer-4711", "consumer");
    set_text(esc, esc["payload"], "fromTier", "T3");
    set_text(esc, esc["payload"], "toTier", "T4");
    accept(platform, std::move(esc));
    EXPECT_EQ(view(id).state, "mediation");
    EXPECT_EQ(status(id).tier, "T4");
    EXPECT_EQ(view(id).provider, provider);
    EXPECT_TRUE(timer_kinds(id).empty());  // the clock starts at the appointment
    auto appointed = message("mediation.neutral-appointed", id, provider, "odr-provider");
    set_text(appointed, appointed["payload"], "appointedAt", routing::format_time(now()));
    accept(provider, std::move(appointed));
    EXPECT_EQ(timer_kinds(id), std::vector<std::string>{"mediation"});
  }

  // ---- mediation lapses, both agreed to arbitration: on to T5 --------------------------------
  mark = message_count(id);
  advance(10 * 24h + 1min);
  EXPECT_EQ(st->fire_timers_sync(), 1);
  {
    EXPECT_EQ(view(id).state, "arbitration");
    EXPECT_EQ(status(id).tier, "T5");
    EXPECT_EQ(view(id).provider, provider);
    const auto gw = emitted(id, mark);
    const auto* stage = find(gw, "stage.changed");
    ASSERT_NE(stage, nullptr) << ::testing::PrintToString(types(gw));
    EXPECT_EQ(timer_kinds(id), std::vector<std::string>{"arbitration-final-submissions"});
    // The gateway's messages go to the provider too once the case is external.
    bool to_provider = false;
    for (const auto& o : st->list_outbox({"", id, provider, 1000}))
      to_provider = to_provider || o.message_id == stage->message_id;
    EXPECT_TRUE(to_provider);
  }

  // ---- the award: outcome notified, no appeal within ODR ------------------------------------
  {
    accept(provider, message("arbitration.award", id, provider, "odr-provider"));
    EXPECT_EQ(view(id).state, "outcome-notified");
    EXPECT_TRUE(status(id).appeal_to.empty());
    EXPECT_EQ(timer_kinds(id), std::vector<std::string>{"appeal-window"});
  }

  // ---- the appeal window lapses: case.closure, closed, nothing left to fire -----------------
  mark = message_count(id);
  advance(10 * 24h + 1min);
  EXPECT_EQ(st->fire_timers_sync(), 1);
  {
    EXPECT_EQ(view(id).state, "closed");
    const auto gw = emitted(id, mark);
    const auto* closure = find(gw, "case.closure");
    ASSERT_NE(closure, nullptr) << ::testing::PrintToString(types(gw));
    EXPECT_EQ(payload(*closure, "outcome"), "upheld");
    EXPECT_EQ(payload(*closure, "finalTier"), "T5");
    EXPECT_TRUE(timer_kinds(id).empty());
    raw_db raw(dir.db());
    EXPECT_EQ(raw.column("SELECT next_due FROM cases WHERE case_id = '" + id + "'"),
              std::vector<std::string>{""});
  }
  advance(365 * 24h);
  EXPECT_EQ(st->fire_timers_sync(), 0);
}

// ---- 1. the platform route through every tier and deadline -----------------------------------

TEST_F(CaseFlow, PlatformMerchantCaseThroughEveryTierAndDeadline) {
  std::string id;
  run_platform_case(id);
  if (HasFatalFailure()) return;
  // The audit chain the whole run wrote is intact.
  st->close();
  const auto v = verify_audit(dir.db());
  EXPECT_TRUE(v.intact) << v.problem << " at " << v.first_bad_seq;
}

// ---- 2. refusals write nothing -------------------------------------------------------------

TEST_F(CaseFlow, MessagesTheStateDoesNotAllowAreRefusedAndWriteNothing) {
  const std::string id = file_at_platform();
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(view(id).state, "negotiation");
  raw_db raw(dir.db());
  const auto messages = raw.integer("SELECT count(*) FROM messages");
  const auto audits = raw.integer("SELECT count(*) FROM audit");
  const auto outbox = raw.integer("SELECT count(*) FROM outbox");
  const auto status_before = view(id).status_json;

  // An award in negotiation: no such row.
  auto r = post(provider, message("arbitration.award", id, provider, "odr-provider"));
  EXPECT_EQ(r.status, store_status::refused);
  EXPECT_EQ(r.refused.status, 409);
  EXPECT_EQ(r.refused.state, "negotiation");
  EXPECT_FALSE(r.refused.allowed_now.empty());
  EXPECT_NE(std::find(r.refused.allowed_now.begin(), r.refused.allowed_now.end(),
                      "escalation.request (by party)"),
            r.refused.allowed_now.end())
      << ::testing::PrintToString(r.refused.allowed_now);
  EXPECT_FALSE(r.refused.detail.empty());

  // An escalation off the route (T1 goes to T2 on a platform-merchant's route).
  auto esc = message("escalation.request", id, "consumer-4711", "consumer");
  set_text(esc, esc["payload"], "fromTier", "T1");
  set_text(esc, esc["payload"], "toTier", "T3");
  r = post(platform, std::move(esc));
  EXPECT_EQ(r.status, store_status::refused);
  EXPECT_FALSE(r.refused.allowed_now.empty());

  // Acceptance by a party, not the forum.
  r = post(merchant, message("dispute.acceptance", id, merchant, "merchant"));
  EXPECT_EQ(r.status, store_status::refused);

  EXPECT_EQ(raw.integer("SELECT count(*) FROM messages"), messages);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM audit"), audits);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM outbox"), outbox);
  EXPECT_EQ(view(id).status_json, status_before);
  // Nothing of the refused merchant's was stored.
  EXPECT_EQ(raw.integer("SELECT count(*) FROM messages WHERE sender_party = 'shop-1'"), 0);
}

// ---- 3. timers survive a restart ------------------------------------------------------------

struct fired {
  std::vector<std::pair<std::string, std::string>> events;  // (messageId, type)
  std::string status_json;
  std::string state;
};

TEST_F(CaseFlow, TimersSurviveARestartAndFireTheSameEvents) {
  // `restart`: the storage is closed after the timers are set and reopened with a new logic.
  auto run = [&](const std::string& path, bool restart) {
    offset_ms = 0;
    reopen(path);
    auto app = message("dispute.application", "", platform, "platform");
    set_text(app, app["recipient"], "partyId", merchant);
    set_text(app, app["recipient"], "role", "merchant");
    next_message = 1;
    const auto r = post(platform, std::move(app));
    EXPECT_EQ(r.status, store_status::stored) << r.refused.detail;
    const std::string id = r.rec.case_id;
    const std::size_t mark = message_count(id);
    if (restart) reopen(path);
    advance(10 * 24h + 1min);  // respondent-response, then negotiation
    EXPECT_EQ(st->fire_timers_sync(), 1);
    fired f;
    for (const auto& e : emitted(id, mark)) f.events.emplace_back(e.message_id, e.type);
    const auto v = view(id);
    f.status_json = v.status_json;
    f.state = v.state;
    EXPECT_EQ(st->fire_timers_sync(), 0);
    return f;
  };
  const fired straight = run((dir.path / "straight" / "odrgw.db").string(), false);
  const fired restarted = run((dir.path / "restarted" / "odrgw.db").string(), true);
  EXPECT_EQ(straight.state, "outcome-notified");
  ASSERT_FALSE(straight.events.empty());
  EXPECT_EQ(restarted.events, straight.events);
  EXPECT_EQ(restarted.status_json, straight.status_json);
  EXPECT_EQ(restarted.state, straight.state);
}

// ---- 4. everything the gateway emits is valid v1 ---------------------------------------------

TEST_F(CaseFlow, EveryMessageTheGatewayEmitsValidates) {
  std::string id;
  run_platform_case(id);
  if (HasFatalFailure()) return;
  std::set<std::string> seen;
  for (const auto& m : emitted(id)) {
    seen.insert(m.type);
    schemas::report r;
    set->validate_json(m.doc, "", r);
    EXPECT_TRUE(r.valid()) << m.type << " " << schemas::to_json_string(m.doc) << "\n"
                           << (r.errors.empty() ? std::string()
                                                : r.errors[0].location + " " + r.errors[0].rule +
                                                      " " + r.errors[0].message);
    // Revealed: no sealed token is left in what a recipient reads.
    EXPECT_EQ(schemas::to_json_string(m.doc).find("odrgw-pii:"), std::string::npos) << m.type;
  }
  EXPECT_EQ(seen, (std::set<std::string>{"case.closure", "deadline.notice", "dispute.acceptance",
                                         "outcome.notification", "stage.changed"}));
}

}  // namespace
}  // namespace odrgw::gateway
