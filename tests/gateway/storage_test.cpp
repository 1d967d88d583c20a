// The SQLite storage and the audit chain on real database files in temporary directories: receipts,
// idempotency, group commit under concurrency, durability (including SIGKILL mid-run), tamper
// detection by verify_audit, and export.
#include <openssl/evp.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "test_files.hpp"

#include <odrgw/gateway/pii.hpp>
#include <odrgw/gateway/storage.hpp>
#include <odrgw/schemas/json.hpp>

namespace odrgw::gateway {
namespace {

namespace fs = std::filesystem;
using test::sha256_hex;
using test::slurp;
struct temp_dir : test::temp_dir {
  temp_dir() : test::temp_dir("storage") {}
};

const std::string& application_example() {
  static const std::string s =
      slurp(fs::path(ODRGW_SOURCE_DIR) / "schemas/v1/examples/valid/dispute.application.json");
  return s;
}

std::string message_uuid(int n) {
  char id[40];
  std::snprintf(id, sizeof id, "6f1c2a9e-0000-4000-8000-%012d", n);
  return id;
}

rapidjson::Document parse(std::string_view s) {
  rapidjson::Document d;
  schemas::json_error err;
  EXPECT_TRUE(schemas::parse_json(s, d, {}, err)) << err.message << "\n" << s;
  return d;
}

// An inbound dispute.application (new case) or, with `case_id`, a message of that case. The
// body as received is the canonical JSON itself; `variant` changes the body (and its hash).
inbound_message make_message(const std::string& sender, int n, const std::string& case_id = {},
                             const std::string& variant = {}) {
  auto d = parse(application_example());
  auto& a = d.GetAllocator();
  d["messageId"].SetString(message_uuid(n), a);
  if (!case_id.empty()) d.AddMember("caseId", rapidjson::Value(case_id, a), a);
  if (!variant.empty()) d["payload"]["description"].SetString(variant, a);
  inbound_message m;
  m.sender_party = sender;
  m.message_id = message_uuid(n);
  m.message_type = "dispute.application";
  m.case_id = case_id;
  m.canonical_json = schemas::to_json_string(d);
  m.body_sha256 = sha256_hex(m.canonical_json);
  m.audit_json = R"({"method":"POST","target":"/v1/messages","verdict":"accepted"})";
  return m;
}

// Raw SQLite access, as an auditor or an attacker with the file would have it.
class raw_db {
 public:
  explicit raw_db(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK)
      throw std::runtime_error("open " + path);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~raw_db() { sqlite3_close_v2(db_); }
  raw_db(const raw_db&) = delete;
  raw_db& operator=(const raw_db&) = delete;

  // Returns the error message, empty on success.
  std::string exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) == SQLITE_OK) return {};
    std::string e = err ? err : "error";
    sqlite3_free(err);
    return e;
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error(std::string("prepare: ") + sqlite3_errmsg(db_));
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != nullptr)
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
  }
  std::int64_t integer(const std::string& sql) { return std::stoll("0" + text(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

const std::regex uuid_v4_re(
    "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
const std::regex case_id_re("^ODR-[0-9]{4}-[0-9]{6}$");
const std::regex utc_ms_re("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$");
const std::regex hex64_re("^[0-9a-f]{64}$");

// ---- receipts and idempotency -------------------------------------------------------------

TEST(Storage, DirectoriesItCreatesAreTheOwnersOnly) {
  temp_dir dir;
  const auto nested = dir.path / "a" / "b" / "odrgw.db";
  auto st = open_sqlite({nested.string()});
  struct stat sa {};
  struct stat sb {};
  ASSERT_EQ(::stat((dir.path / "a").c_str(), &sa), 0);
  ASSERT_EQ(::stat((dir.path / "a" / "b").c_str(), &sb), 0);
  EXPECT_EQ(sa.st_mode & 0777, 0700u);
  EXPECT_EQ(sb.st_mode & 0777, 0700u);
}

TEST(Storage, NewApplicationGetsCaseAndReceipt) {
  temp_dir dir;
  auto st = open_sqlite({dir.db()});
  const auto r = st->store_message_sync(make_message("platform-gb", 1));
  ASSERT_EQ(r.status, store_status::stored) << r.error;
  EXPECT_TRUE(std::regex_match(r.rec.receipt_id, uuid_v4_re)) << r.rec.receipt_id;
  EXPECT_EQ(r.rec.message_id, message_uuid(1));
  EXPECT_TRUE(std::regex_match(r.rec.case_id, case_id_re)) << r.rec.case_id;
  EXPECT_EQ(r.rec.proceeding_id, r.rec.case_id + "-P1");
  EXPECT_TRUE(std::regex_match(r.rec.received_at, utc_ms_re)) << r.rec.received_at;
  EXPECT_EQ(r.rec.audit_seq, 1);
  EXPECT_TRUE(std::regex_match(r.rec.audit_hash, hex64_re)) << r.rec.audit_hash;

  // Sequential per year.
  const auto r2 = st->store_message_sync(make_message("platform-gb", 2));
  ASSERT_EQ(r2.status, store_status::stored) << r2.error;
  EXPECT_EQ(std::stoi(r2.rec.case_id.substr(9)), std::stoi(r.rec.case_id.substr(9)) + 1);
  EXPECT_EQ(r2.rec.audit_seq, 2);

  // The stored message carries the assigned ids, in envelope order, and nothing else changed.
  auto view = st->get_case(r.rec.case_id);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->state, "filed");
  EXPECT_TRUE(std::regex_match(view->created_at, utc_ms_re));
  ASSERT_EQ(view->messages.size(), 1u);
  const auto& cm = view->messages[0];
  EXPECT_EQ(cm.message_id, message_uuid(1));
  EXPECT_EQ(cm.sender_party, "platform-gb");
  EXPECT_EQ(cm.message_type, "dispute.application");
  EXPECT_EQ(cm.received_at, r.rec.received_at);
  auto stored = parse(cm.canonical_json);
  EXPECT_EQ(std::string(stored["caseId"].GetString()), r.rec.case_id);
  EXPECT_EQ(std::string(stored["proceedingId"].GetString()), r.rec.proceeding_id);
  std::vector<std::string> names;
  for (auto it = stored.MemberBegin(); it != stored.MemberEnd(); ++it)
    names.emplace_back(it->name.GetString());
  ASSERT_GE(names.size(), 6u);
  EXPECT_EQ(names[2], "specVersion");
  EXPECT_EQ(names[3], "caseId");
  EXPECT_EQ(names[4], "proceedingId");
  stored.RemoveMember("caseId");
  stored.RemoveMember("proceedingId");
  EXPECT_EQ(stored, parse(make_message("platform-gb", 1).canonical_json));
  // Parties: the authenticated partner, the envelope's sender and recipient.
  // (here the recipient, platform-gb, is also the authenticated sender)
  EXPECT_EQ(view->parties, (std::vector<std::string>{"platform-gb", "consumer-4711"}));
  EXPECT_FALSE(st->get_case("ODR-1999-000001"));
  // The header: the same case without its messages.
  auto header = st->get_case_header(r.rec.case_id);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->state, view->state);
  EXPECT_EQ(header->created_at, view->created_at);
  EXPECT_EQ(header->parties, view->parties);
  EXPECT_TRUE(header->messages.empty());
  EXPECT_FALSE(st->get_case_header("ODR-1999-000001"));
  // Pages: one message, so a page of one has no more; past the end, none.
  auto page = st->get_case_page(r.rec.case_id, 0, 1);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->messages.size(), 1u);
  EXPECT_FALSE(page->more);
  page = st->get_case_page(r.rec.case_id, 1, 1);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->messages.empty());
}

TEST(Storage, SplitCanonicalAssemblesTheWritersBytes) {
  // Every example, with its ids where it has them, or set: the assembled text is byte for byte
  // RapidJSON Writer's output of the message with those ids, in the same member order.
  int n = 0;
  for (const auto& e :
       fs::directory_iterator(fs::path(ODRGW_SOURCE_DIR) / "schemas/v1/examples/valid")) {
    if (e.path().extension() != ".json") continue;
    auto d = parse(slurp(e.path()));
    canonical_parts parts;
    ASSERT_TRUE(split_canonical(d, parts)) << e.path();
    const std::string case_id = d.HasMember("caseId") ? d["caseId"].GetString() : "";
    const std::string proc = d.HasMember("proceedingId") ? d["proceedingId"].GetString() : "";
    if (!case_id.empty() && !proc.empty()) {
      EXPECT_EQ(parts.assemble(case_id, proc), schemas::to_json_string(d)) << e.path();
      EXPECT_EQ(parts.proceeding_id, proc);
    }
    // Other ids, with quotes to escape, parse back to the message with those ids.
    const auto assembled = parse(parts.assemble("ODR-\"x\"", "P\\1"));
    EXPECT_EQ(std::string(assembled["caseId"].GetString()), "ODR-\"x\"") << e.path();
    EXPECT_EQ(std::string(assembled["proceedingId"].GetString()), "P\\1") << e.path();
    // Empty ids leave the members out.
    auto without = parse(parts.assemble("", ""));
    d.RemoveMember("caseId");
    d.RemoveMember("proceedingId");
    EXPECT_FALSE(without.HasMember("caseId"));
    EXPECT_EQ(without.MemberCount(), d.MemberCount()) << e.path();
    ++n;
  }
  EXPECT_GT(n, 20);
  rapidjson::Document arr(rapidjson::kArrayType);
  canonical_parts parts;
  EXPECT_FALSE(split_canonical(arr, parts));
}

TEST(Storage, PreparedCanonicalStoresTheSameAsText) {
  // The intake hands over split parts instead of text: the stored message is the same.
  temp_dir dir;
  auto st = open_sqlite({dir.db()});
  auto a = make_message("platform-gb", 1);
  auto b = make_message("platform-gb", 2);
  auto doc = parse(b.canonical_json);
  b.canonical.emplace();
  ASSERT_TRUE(split_canonical(doc, *b.canonical));
  b.canonical_json.clear();
  const auto ra = st->store_message_sync(a);
  const auto rb = st->store_message_sync(b);
  ASSERT_EQ(ra.status, store_status::stored) << ra.error;
  ASSERT_EQ(rb.status, store_status::stored) << rb.error;
  auto va = st->get_case(ra.rec.case_id);
  auto vb = st->get_case(rb.rec.case_id);
  ASSERT_TRUE(va && vb);
  auto sa = parse(va->messages.at(0).canonical_json);
  auto sb = parse(vb->messages.at(0).canonical_json);
  EXPECT_EQ(std::string(sb["caseId"].GetString()), rb.rec.case_id);
  for (auto* d : {&sa, &sb})
    for (const char* m : {"caseId", "proceedingId", "messageId"}) d->RemoveMember(m);
  EXPECT_EQ(sa, sb);
  EXPECT_EQ(vb->parties, va->parties);
  // Replay through the prepared path answers the original receipt.
  auto again = make_message("platform-gb", 2);
  const auto rr = st->store_message_sync(again);
  EXPECT_EQ(rr.status, store_status::replay);
  EXPECT_EQ(rr.rec.receipt_id, rb.rec.receipt_id);
}

TEST(Storage, ReplayConflictAndUnknownCase) {
  temp_dir dir;
  auto st = open_sqlite({dir.db()});
  const auto first = st->store_message_sync(make_message("shop-1", 7));
  ASSERT_EQ(first.status, store_status::stored) << first.error;
  raw_db raw(dir.db());
  const auto count = [&] {
    return std::to_string(raw.integer("SELECT count(*) FROM messages")) + "/" +
           std::to_string(raw.integer("SELECT count(*) FROM audit")) + "/" +
           std::to_string(raw.integer("SELECT count(*) FROM cases"));
  };
  EXPECT_EQ(count(), "1/1/1");

  // Same sender, messageId and body: the original receipt, nothing written.
  const auto again = st->store_message_sync(make_message("shop-1", 7));
  ASSERT_EQ(again.status, store_status::replay) << again.error;
  EXPECT_EQ(again.rec.receipt_id, first.rec.receipt_id);
  EXPECT_EQ(again.rec.message_id, first.rec.message_id);
  EXPECT_EQ(again.rec.case_id, first.rec.case_id);
  EXPECT_EQ(again.rec.proceeding_id, first.rec.proceeding_id);
  EXPECT_EQ(again.rec.received_at, first.rec.received_at);
  EXPECT_EQ(again.rec.audit_seq, first.rec.audit_seq);
  EXPECT_EQ(again.rec.audit_hash, first.rec.audit_hash);
  EXPECT_EQ(count(), "1/1/1");

  // Same messageId, different body: conflict, nothing written.
  const auto conflict = st->store_message_sync(make_message("shop-1", 7, {}, "different"));
  EXPECT_EQ(conflict.status, store_status::conflict);
  EXPECT_EQ(count(), "1/1/1");

  // The same messageId from another sender is another message.
  const auto other = st->store_message_sync(make_message("platform-gb", 7));
  EXPECT_EQ(other.status, store_status::stored) << other.error;
  EXPECT_EQ(count(), "2/2/2");

  // An unknown case: nothing written.
  const auto unknown = st->store_message_sync(make_message("shop-1", 8, "ODR-2026-999999"));
  EXPECT_EQ(unknown.status, store_status::unknown_case);
  EXPECT_EQ(count(), "2/2/2");

  // A known case: stored in it, no new case, proceeding as the message gave it (none here).
  const auto in_case = st->store_message_sync(make_message("shop-1", 9, first.rec.case_id));
  ASSERT_EQ(in_case.status, store_status::stored) << in_case.error;
  EXPECT_EQ(in_case.rec.case_id, first.rec.case_id);
  EXPECT_EQ(in_case.rec.proceeding_id, "");
  EXPECT_EQ(count(), "3/3/2");
  EXPECT_EQ(st->get_case(first.rec.case_id)->messages.size(), 2u);
}

TEST(Storage, ReplayInsideOneBatchWaitsForTheCommit) {
  // Two identical submissions in flight at once: one stored, one replay of the same receipt.
  temp_dir dir;
  auto st = open_sqlite({dir.db()});
  std::mutex mu;
  std::condition_variable cv;
  std::vector<store_result> results;
  for (int i = 0; i < 2; ++i)
    st->store_message(make_message("shop-1", 1), [&](store_result r) {
      std::lock_guard l(mu);
      results.push_back(std::move(r));
      cv.notify_all();
    });
  std::unique_lock l(mu);
  cv.wait(l, [&] { return results.size() == 2; });
  EXPECT_EQ(results[0].status, store_status::stored);
  EXPECT_EQ(results[1].status, store_status::replay);
  EXPECT_EQ(results[0].rec.receipt_id, results[1].rec.receipt_id);
}

// Partners' idempotency keys wait in memory and move into their table a slice per batch: a key
// must be found wherever it is (waiting, in the table, after a close, after migrating a version 2
// database), and never let a message be stored twice.
TEST(Storage, IdempotencyKeysAreFoundWaitingInTheTableAfterCloseAndAfterMigration) {
  temp_dir dir;
  constexpr int total = 300;
  std::map<int, std::string> receipts;
  const auto replay_all = [&](storage& st, const char* when) {
    for (const auto& [n, receipt_id] : receipts) {
      const auto r = st.store_message_sync(make_message("shop-1", n));
      ASSERT_EQ(r.status, store_status::replay) << when << ": message " << n << " " << r.error;
      EXPECT_EQ(r.rec.receipt_id, receipt_id) << when;
      EXPECT_EQ(st.store_message_sync(make_message("shop-1", n, {}, "other body")).status,
                store_status::conflict)
          << when << ": message " << n;
    }
  };
  {
    auto st = open_sqlite({dir.db()});
    // At once, while the key waits in memory (a batch moves a 64th of the key space at first).
    for (int n = 1; n <= 20; ++n) {
      const auto first = st->store_message_sync(make_message("shop-3", n));
      ASSERT_EQ(first.status, store_status::stored) << first.error;
      const auto again = st->store_message_sync(make_message("shop-3", n));
      ASSERT_EQ(again.status, store_status::replay) << "message " << n << " " << again.error;
      EXPECT_EQ(again.rec.receipt_id, first.rec.receipt_id);
      EXPECT_EQ(st->store_message_sync(make_message("shop-3", n, {}, "other body")).status,
                store_status::conflict);
    }
    EXPECT_GT(st->stats().idempotency_waiting, 0u);
    std::mutex mu;
    std::condition_variable cv;
    int done = 0;
    for (int n = 1; n <= total; ++n)  // concurrently: batches of several
      st->store_message(make_message("shop-1", n), [&, n](store_result r) {
        std::lock_guard l(mu);
        if (r.status == store_status::stored) receipts[n] = r.rec.receipt_id;
        ++done;
        cv.notify_all();
      });
    {
      std::unique_lock l(mu);
      ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(60), [&] { return done == total; }));
    }
    ASSERT_EQ(receipts.size(), static_cast<std::size_t>(total));
    for (int n = total + 1; n <= total + 64; ++n)  // a batch each: a sweep of the key space
      ASSERT_EQ(st->store_message_sync(make_message("shop-2", n)).status, store_status::stored);
    raw_db raw(dir.db());
    const auto waiting = st->stats().idempotency_waiting;
    EXPECT_LT(waiting, static_cast<std::uint64_t>(total + 84)) << "no slice was moved";
    EXPECT_EQ(raw.integer("SELECT count(*) FROM idempotency") + static_cast<std::int64_t>(waiting),
              total + 84);
    replay_all(*st, "running");
    // A key in memory and a key in the table under the same hash are both checked against the
    // message itself: another sender's message with the same messageId is another message.
    EXPECT_EQ(st->store_message_sync(make_message("platform-gb", 1)).status, store_status::stored);
    st->close();
    EXPECT_EQ(st->stats().idempotency_waiting, 0u);
  }
  {
    raw_db raw(dir.db());
    EXPECT_EQ(raw.integer("SELECT count(*) FROM idempotency"), total + 85);
    EXPECT_EQ(raw.integer("SELECT value FROM meta WHERE key = 'idempotency_low'"),
              raw.integer("SELECT max(id) FROM messages") + 1);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM sqlite_schema WHERE name = 'messages_by_sender'"),
              0);
  }
  {
    auto st = open_sqlite({dir.db()});
    EXPECT_EQ(st->stats().idempotency_waiting, 0u);  // nothing to recover after a clean close
    replay_all(*st, "reopened");
  }
  {
    // Back to version 2 as that version left it: keys in a unique index on messages.
    raw_db raw(dir.db());
    ASSERT_EQ(raw.exec("DROP TABLE idempotency; DELETE FROM meta WHERE key = 'idempotency_low'; "
                       "CREATE UNIQUE INDEX messages_by_sender ON messages(sender_party, "
                       "message_id) WHERE sender_party <> 'odrgw'; "
                       "UPDATE meta SET value = '2' WHERE key = 'schema_version'"),
              "");
  }
  {
    auto st = open_sqlite({dir.db()});
    raw_db raw(dir.db());
    EXPECT_EQ(raw.text("SELECT value FROM meta WHERE key = 'schema_version'"), "3");
    EXPECT_EQ(raw.integer("SELECT count(*) FROM idempotency"), total + 85);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM sqlite_schema WHERE name = 'messages_by_sender'"),
              0);
    EXPECT_EQ(st->stats().idempotency_waiting, 0u);
    replay_all(*st, "migrated");
    EXPECT_EQ(st->store_message_sync(make_message("shop-1", total + 1000)).status,
              store_status::stored);
  }
  EXPECT_TRUE(verify_audit(dir.db()).intact);
}

TEST(Storage, BadInputFailsAloneWithoutCrashing) {
  temp_dir dir;
  auto st = open_sqlite({dir.db()});
  std::mutex mu;
  std::condition_variable cv;
  int pending = 4;
  std::vector<store_result> results(4);
  auto submit = [&](int i, inbound_message m) {
    st->store_message(std::move(m), [&, i](store_result r) {
      std::lock_guard l(mu);
      results[static_cast<std::size_t>(i)] = std::move(r);
      --pending;
      cv.notify_all();
    });
  };
  auto bad_json = make_message("shop-1", 1);
  bad_json.canonical_json = "{\"messageId\": ";
  auto bad_audit = make_message("shop-1", 2);
  bad_audit.audit_json = "[1,2]";
  auto not_object = make_message("shop-1", 3);
  not_object.canonical_json = "\"a string\"";
  submit(0, bad_json);
  submit(1, make_message("shop-1", 4));
  submit(2, bad_audit);
  submit(3, not_object);
  std::unique_lock l(mu);
  cv.wait(l, [&] { return pending == 0; });
  EXPECT_EQ(results[0].status, store_status::failed);
  EXPECT_NE(results[0].error.find("canonical_json"), std::string::npos) << results[0].error;
  EXPECT_EQ(results[1].status, store_status::stored) << results[1].error;
  EXPECT_EQ(results[1].rec.audit_seq, 1);
  EXPECT_EQ(results[2].status, store_status::failed);
  EXPECT_NE(results[2].error.find("audit_json"), std::string::npos) << results[2].error;
  EXPECT_EQ(results[3].status, store_status::failed);
  l.unlock();
  EXPECT_FALSE(st->append_audit_sync({"response", "", "", "", "not json"}));
  EXPECT_TRUE(verify_audit(dir.db()).intact);
}

TEST(Storage, AppendAuditChainsRecords) {
  temp_dir dir;
  auto st = open_sqlite({dir.db()});
  auto a = st->append_audit_sync({"rejected", "", "", "", R"({"status":401,"b":[1,2.5,"x"]})"});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->seq, 1);
  EXPECT_EQ(a->prev_hash, std::string(64, '0'));
  EXPECT_TRUE(std::regex_match(a->hash, hex64_re));
  EXPECT_TRUE(std::regex_match(a->recorded_at, utc_ms_re));
  auto b = st->append_audit_sync({"response", "shop-1", message_uuid(1), "ODR-2026-000001", ""});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->seq, 2);
  EXPECT_EQ(b->prev_hash, a->hash);
  EXPECT_EQ(b->entry.data_json, "{}");
  EXPECT_EQ(b->entry.partner, "shop-1");
  const auto m = st->store_message_sync(make_message("shop-1", 2));
  EXPECT_EQ(m.rec.audit_seq, 3);
  st->close();
  const auto v = verify_audit(dir.db());
  EXPECT_TRUE(v.intact) << v.problem;
  EXPECT_EQ(v.records, 3);
}

TEST(Storage, InboundAuditDataIsTheIntakesObjectPlusTheReceipt) {
  temp_dir dir;
  auto st = open_sqlite({dir.db()});
  auto m = make_message("shop-1", 1);
  m.audit_json = R"({"a":1, "receipt":"forged", "b":{"x":[true,null]}, "c":"\u00e9"})";
  const auto r = st->store_message_sync(m);
  ASSERT_EQ(r.status, store_status::stored) << r.error;
  raw_db raw(dir.db());
  const std::string data = raw.text("SELECT data_json FROM audit WHERE seq = 1");
  const std::string receipt = R"({"receiptId":")" + r.rec.receipt_id + R"(","messageId":")" +
                              r.rec.message_id + R"(","caseId":")" + r.rec.case_id +
                              R"(","proceedingId":")" + r.rec.proceeding_id +
                              R"(","receivedAt":")" + r.rec.received_at + R"(","auditSeq":1})";
  EXPECT_EQ(data, R"({"a":1,"b":{"x":[true,null]},"c":"é","receipt":)" + receipt + "}");
  // The message's stored receipt adds the record's hash.
  EXPECT_EQ(raw.text("SELECT receipt FROM messages"),
            receipt.substr(0, receipt.size() - 1) + R"(,"auditHash":")" + r.rec.audit_hash + "\"}");
}

// ---- database setup -----------------------------------------------------------------------

TEST(Storage, DatabaseSettingsAndAppendOnlyTriggers) {
  temp_dir dir;
  auto st = open_sqlite({dir.db()});  // creates var/ too
  ASSERT_EQ(st->store_message_sync(make_message("shop-1", 1)).status, store_status::stored);
  EXPECT_TRUE(st->ready());
  raw_db raw(dir.db());
  EXPECT_EQ(raw.integer("PRAGMA page_size"), 16384);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.text("SELECT value FROM meta WHERE key = 'schema_version'"), "3");
  EXPECT_NE(raw.exec("UPDATE audit SET kind = 'x' WHERE seq = 1").find("append-only"),
            std::string::npos);
  EXPECT_NE(raw.exec("DELETE FROM audit WHERE seq = 1").find("append-only"), std::string::npos);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM audit"), 1);
  st->close();
  EXPECT_FALSE(st->ready());
  // After close, submissions fail at once instead of hanging.
  EXPECT_EQ(st->store_message_sync(make_message("shop-1", 2)).status, store_status::failed);
  EXPECT_FALSE(st->append_audit_sync({"x", "", "", "", "{}"}));
}

TEST(Storage, ReopenContinuesTheChain) {
  temp_dir dir;
  std::string case_id;
  {
    auto st = open_sqlite({dir.db()});
    case_id = st->store_message_sync(make_message("shop-1", 1)).rec.case_id;
  }
  auto st = open_sqlite({dir.db()});
  const auto r = st->store_message_sync(make_message("shop-1", 2, case_id));
  ASSERT_EQ(r.status, store_status::stored) << r.error;
  EXPECT_EQ(r.rec.audit_seq, 2);
  EXPECT_EQ(st->store_message_sync(make_message("shop-1", 1)).status, store_status::replay);
  st->close();
  const auto v = verify_audit(dir.db());
  EXPECT_TRUE(v.intact) << v.problem;
  EXPECT_EQ(v.records, 2);
}

TEST(Storage, ReadinessProbeIsARealWriteAndSaysWhyNot) {
  temp_dir dir;
  auto st = open_sqlite({dir.db()});
  std::string problem;
  ASSERT_TRUE(st->check_ready(problem)) << problem;
  raw_db raw(dir.db());
  // The probe writes (and so would fail on a full disk): its row is there.
  EXPECT_FALSE(raw.text("SELECT value FROM meta WHERE key = 'ready_probe'").empty());
  // Every write now fails, while an empty transaction still would commit: not ready, and why.
  ASSERT_EQ(raw.exec("CREATE TRIGGER no_space_i BEFORE INSERT ON meta BEGIN "
                     "SELECT RAISE(ABORT, 'simulated: database or disk is full'); END; "
                     "CREATE TRIGGER no_space_u BEFORE UPDATE ON meta BEGIN "
                     "SELECT RAISE(ABORT, 'simulated: database or disk is full'); END;"),
            "");
  EXPECT_FALSE(st->check_ready(problem));
  EXPECT_NE(problem.find("simulated: database or disk is full"), std::string::npos) << problem;
  // Stores still work meanwhile (only the probe's row is refused here).
  EXPECT_EQ(st->store_message_sync(make_message("shop-1", 1)).status, store_status::stored);
  ASSERT_EQ(raw.exec("DROP TRIGGER no_space_i; DROP TRIGGER no_space_u;"), "");
  EXPECT_TRUE(st->check_ready(problem)) << problem;
  st->close();
  EXPECT_FALSE(st->check_ready(problem));
  EXPECT_EQ(problem, "storage is closed");
}

TEST(Storage, RefusesForeignOrNewerDatabases) {
  temp_dir dir;
  const std::string foreign = (dir.path / "foreign.db").string();
  {
    sqlite3* d = nullptr;
    sqlite3_open(foreign.c_str(), &d);
    sqlite3_exec(d, "CREATE TABLE t(x)", nullptr, nullptr, nullptr);
    sqlite3_close(d);
  }
  try {
    open_sqlite({foreign});
    FAIL() << "a foreign database was opened";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not an odrgw database"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(foreign), std::string::npos) << e.what();
  }
  { auto st = open_sqlite({dir.db()}); }
  {
    raw_db raw(dir.db());
    raw.exec("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  }
  EXPECT_THROW(open_sqlite({dir.db()}), std::runtime_error);
  EXPECT_THROW(open_sqlite({"/proc/odrgw-cannot-create/x.db"}), std::runtime_error);
  EXPECT_THROW(verify_audit((dir.path / "missing.db").string()), std::runtime_error);
  EXPECT_THROW(verify_audit(foreign), std::runtime_error);
}

// ---- group commit and durability ------------------------------------------------------------

TEST(Storage, ConcurrentStoresAreGroupCommitted) {
  temp_dir dir;
  auto st = open_sqlite({dir.db()});
  const auto base = st->store_message_sync(make_message("shop-0", 0));
  ASSERT_EQ(base.status, store_status::stored);
  const auto before = st->stats();

  constexpr int threads = 8, per_thread = 200, total = threads * per_thread;
  std::atomic<int> acked{0}, stored{0};
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::int64_t> seqs;
  std::set<std::string> receipt_ids;  // drawn on the 8 calling threads
  std::vector<std::string> errors;
  // Messages made up front, so that the timing is the storage's.
  std::vector<std::vector<inbound_message>> inputs(threads);
  for (int t = 0; t < threads; ++t)
    for (int i = 0; i < per_thread; ++i)  // half file new cases, half add to an existing one
      inputs[static_cast<std::size_t>(t)].push_back(make_message(
          "shop-" + std::to_string(t + 1), t * 1000 + i + 1, i % 2 ? base.rec.case_id : ""));
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (auto& m : inputs[static_cast<std::size_t>(t)]) {
        st->store_message(std::move(m), [&](store_result r) {
          std::lock_guard l(mu);
          if (r.status == store_status::stored) {
            ++stored;
            seqs.insert(r.rec.audit_seq);
            if (std::regex_match(r.rec.receipt_id, uuid_v4_re))
              receipt_ids.insert(r.rec.receipt_id);
          } else {
            errors.push_back(r.error);
          }
          if (++acked == total) cv.notify_all();
        });
      }
    });
  for (auto& th : pool) th.join();
  EXPECT_TRUE(st->ready());  // under load
  {
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(120), [&] { return acked == total; }));
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto after = st->stats();
  const auto commits = after.commits - before.commits;
  std::cout << "[ perf ] " << total << " messages in " << secs << " s = " << total / secs
            << " msg/s; " << commits << " commits, largest batch " << after.largest_batch
            << std::endl;
  RecordProperty("messages_per_second", static_cast<int>(total / secs));
  RecordProperty("commits", static_cast<int>(commits));

  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(stored, total);
  EXPECT_LT(commits, static_cast<std::uint64_t>(total));
  EXPECT_GT(after.largest_batch, 1u);
  EXPECT_EQ(after.jobs - before.jobs, static_cast<std::uint64_t>(total));
  // Sequence numbers contiguous: 2 .. total + 1.
  ASSERT_EQ(seqs.size(), static_cast<std::size_t>(total));
  EXPECT_EQ(*seqs.begin(), 2);
  EXPECT_EQ(*seqs.rbegin(), total + 1);
  // Every receipt id a well-formed version 4 UUID, none drawn twice.
  EXPECT_EQ(receipt_ids.size(), static_cast<std::size_t>(total));

  raw_db raw(dir.db());
  EXPECT_EQ(raw.integer("SELECT count(*) FROM messages"), total + 1);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM audit"), total + 1);
  EXPECT_EQ(raw.integer("SELECT max(seq) FROM audit"), total + 1);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM cases"), total / 2 + 1);
  EXPECT_EQ(raw.integer("SELECT count(DISTINCT case_id) FROM cases"), total / 2 + 1);
  EXPECT_EQ(st->get_case(base.rec.case_id)->messages.size(),
            static_cast<std::size_t>(total / 2 + 1));
  const auto v = verify_audit(dir.db());  // while the storage is still open
  EXPECT_TRUE(v.intact) << v.first_bad_seq << ": " << v.problem;
  EXPECT_EQ(v.records, total + 1);
}

TEST(Storage, WalRestartsUnderSteadyLoad) {
  // Clients that each wait for their receipt, as over HTTP: the background checkpoint alone never
  // catches up with such a writer, and the WAL would grow to the hard limit (8000 pages, 128 MB)
  // with every commit appending to it. The writer finishes each checkpoint pass, so the WAL
  // restarts and stays near the 1000-page (16 MB) threshold.
  temp_dir dir;
  auto st = open_sqlite({dir.db()});
  constexpr int threads = 8, per_thread = 500;
  std::atomic<int> stored{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i)
        if (st->store_message_sync(make_message("shop-" + std::to_string(t), t * 10000 + i))
                .status == store_status::stored)
          ++stored;
    });
  for (auto& th : pool) th.join();
  EXPECT_EQ(stored.load(), threads * per_thread);
  EXPECT_GE(st->stats().checkpoints, 1u);
  const auto wal = fs::file_size(dir.db() + "-wal");
  EXPECT_LT(wal, 48u << 20) << "the WAL grew to " << wal << " bytes";
  std::cout << "[ perf ] WAL high-water mark " << (wal >> 20) << " MiB after "
            << threads * per_thread << " messages" << std::endl;
  st->close();
  EXPECT_TRUE(verify_audit(dir.db()).intact);
}

TEST(Storage, AcknowledgedMeansVisibleToAnotherConnection) {
  temp_dir dir;
  auto st = open_sqlite({dir.db()});
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  std::vector<std::string> problems;
  for (int i = 1; i <= 20; ++i)
    st->store_message(make_message("shop-1", i), [&, i](store_result r) {
      // Runs on the writer thread after COMMIT: another connection must already see the row.
      raw_db other(dir.db());
      const auto n = other.integer("SELECT count(*) FROM messages WHERE message_id = '" +
                                   message_uuid(i) + "'");
      std::lock_guard l(mu);
      if (r.status != store_status::stored || n != 1)
        problems.push_back(message_uuid(i) + ": " + r.error);
      ++done;
      cv.notify_all();
    });
  std::unique_lock l(mu);
  cv.wait(l, [&] { return done == 20; });
  EXPECT_TRUE(problems.empty()) << problems.front();
}

TEST(Storage, CloseDrainsQueuedWork) {
  temp_dir dir;
  auto st = open_sqlite({dir.db(), 16});
  std::atomic<int> stored{0}, called{0};
  for (int i = 1; i <= 300; ++i)
    st->store_message(make_message("shop-1", i), [&](store_result r) {
      if (r.status == store_status::stored) ++stored;
      ++called;
    });
  st->close();
  EXPECT_EQ(called, 300);
  EXPECT_EQ(stored, 300);
  EXPECT_GE(st->stats().commits, 300u / 16);
  // A clean close checkpoints: the -wal is gone or empty.
  std::error_code ec;
  const auto wal = fs::file_size(dir.db() + "-wal", ec);
  EXPECT_TRUE(ec || wal == 0);
  EXPECT_TRUE(verify_audit(dir.db()).intact);
}

// Forks a child that runs `body` with the write end of a pipe, for lines the parent reads. The
// child exits 0 when `body` returns and 2 on an exception. Returns its pid and the read end.
struct child_process {
  pid_t pid = -1;
  int out = -1;
};
child_process fork_with_pipe(const std::function<void(int)>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    try {
      body(fds[1]);
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

// Writes one line to the parent, or ends the child (exit 3) if the pipe is gone.
void report_line(int fd, const std::string& line) {
  const std::string l = line + "\n";
  if (::write(fd, l.data(), l.size()) < 0) ::_exit(3);
}

// A child process stores messages and reports each acknowledged messageId through a pipe; it is
// killed with SIGKILL mid-run. Every acknowledged message must be in the database afterwards.
TEST(Storage, NothingAcknowledgedIsLostOnSigkill) {
  temp_dir dir;
  const std::string path = dir.db();
  { open_sqlite({path}); }  // create the schema before forking
  constexpr int total = 4000;
  const auto [pid, out] = fork_with_pipe([&](int fd) {
    auto st = open_sqlite({path});
    for (int i = 1; i <= total; ++i)
      st->store_message(make_message("shop-1", i), [fd](store_result r) {
        if (r.status == store_status::stored) report_line(fd, r.rec.message_id);
      });
    for (;;) ::pause();
  });
  ASSERT_GE(pid, 0);
  std::vector<std::string> acked;
  std::string buf;
  char chunk[4096];
  bool killed = false;
  for (;;) {
    const ssize_t n = ::read(out, chunk, sizeof chunk);
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      acked.push_back(buf.substr(0, nl));
      buf.erase(0, nl + 1);
    }
    if (!killed && acked.size() >= 500) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
  }
  ::close(out);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(killed) << "the child stopped before 500 acknowledgements";
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  std::cout << "[ info ] acknowledged before SIGKILL: " << acked.size() << " of " << total
            << std::endl;

  // The read-only audit tool first, on the files exactly as the killed process left them.
  const auto v = verify_audit(path);
  EXPECT_TRUE(v.intact) << v.first_bad_seq << ": " << v.problem;
  EXPECT_GE(v.records, static_cast<std::int64_t>(acked.size()));
  {
    raw_db raw(path);
    std::int64_t present = 0;
    for (const auto& id : acked)
      present += raw.integer("SELECT count(*) FROM messages WHERE message_id = '" + id + "'");
    EXPECT_EQ(present, static_cast<std::int64_t>(acked.size()));
    EXPECT_GE(raw.integer("SELECT count(*) FROM messages"),
              static_cast<std::int64_t>(acked.size()));
    // The low mark's promise, on the file as the killed process left it: every partner message
    // below it has its key in the idempotency table (the rest are recovered at start).
    EXPECT_EQ(raw.integer("SELECT count(*) FROM messages m, meta WHERE meta.key = "
                          "'idempotency_low' AND m.id < CAST(meta.value AS INTEGER) AND "
                          "m.sender_party <> 'odrgw' AND NOT EXISTS (SELECT 1 FROM idempotency i "
                          "WHERE i.message_row = m.id)"),
              0);
    EXPECT_GT(raw.integer("SELECT count(*) FROM meta WHERE key = 'idempotency_low'"), 0);
  }
  // And the gateway can carry on where the killed one stopped. The keys that waited in memory
  // when it was killed are recovered: every acknowledged message is a replay, not stored again.
  auto st = open_sqlite({path});
  std::map<std::string, int> number_of;
  for (int i = 1; i <= total; ++i) number_of[message_uuid(i)] = i;
  for (const auto& id : acked) {
    const auto r = st->store_message_sync(make_message("shop-1", number_of.at(id)));
    EXPECT_EQ(r.status, store_status::replay) << id << " " << r.error;
  }
  EXPECT_EQ(st->store_message_sync(make_message("shop-2", 1)).status, store_status::stored);
  st->close();
  EXPECT_TRUE(verify_audit(path).intact);
}

// Batches that fail as a whole after their slice of idempotency keys was taken (here a trigger
// refuses the keys' inserts, as a full disk would), end to end: the failed messages are not
// stored, the child then dies without closing, and every message it stored must replay. (The
// rollback's exact bookkeeping is pinned by idempotency_buffer_test.cpp: the window in which a
// mistake there loses a key is too narrow for a test of this size to hit reliably.)
TEST(Storage, ABatchThatFailsAfterTakingASliceGivesBackOnlyWhatItTook) {
  temp_dir dir;
  const std::string path = dir.db();
  { open_sqlite({path}); }
  const auto [pid, pipe_out] = fork_with_pipe([&](int fd) {
    auto st = open_sqlite({path});
    raw_db raw(path);
    const auto store = [&](int n) {
      const auto r = st->store_message_sync(make_message("shop-1", n));
      report_line(fd, r.status == store_status::stored ? std::to_string(n) : "failed");
    };
    // Rounds of failing and working batches; the child stops before a whole sweep of the key
    // space (64 batches) after the last failure, so that lingering keys would still matter.
    int n = 0;
    for (int round = 0; round < 8; ++round) {
      for (int i = 0; i < 10; ++i) store(++n);
      if (!raw.exec("CREATE TRIGGER injected BEFORE INSERT ON idempotency "
                    "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
               .empty())
        ::_exit(4);
      for (int i = 0; i < 10; ++i) store(++n);
      if (!raw.exec("DROP TRIGGER injected").empty()) ::_exit(5);
    }
    for (int i = 0; i < 20; ++i) store(++n);
    ::_exit(0);  // no close(): the keys in memory are lost, as in a crash
  });
  ASSERT_GE(pid, 0);
  std::string out;
  char chunk[4096];
  for (ssize_t n; (n = ::read(pipe_out, chunk, sizeof chunk)) > 0;)
    out.append(chunk, static_cast<std::size_t>(n));
  ::close(pipe_out);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  std::vector<int> stored;
  int failed = 0;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line == "failed")
      ++failed;
    else
      stored.push_back(std::stoi(line));
  }
  EXPECT_GT(failed, 0) << "the injected failure never struck";
  EXPECT_GT(stored.size(), 80u);

  auto st = open_sqlite({path});
  for (const int n : stored) {
    const auto r = st->store_message_sync(make_message("shop-1", n));
    EXPECT_EQ(r.status, store_status::replay) << "message " << n << " " << r.error;
  }
  raw_db raw(path);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM messages WHERE sender_party = 'shop-1'"),
            static_cast<std::int64_t>(stored.size()));
  st->close();
  EXPECT_TRUE(verify_audit(path).intact);
}

// ---- verify ---------------------------------------------------------------------------------

class Verify : public ::testing::Test {
 protected:
  void SetUp() override {
    auto st = open_sqlite({dir.db()});
    for (int i = 1; i <= 10; ++i)
      ASSERT_EQ(st->store_message_sync(make_message("shop-1", i)).status, store_status::stored);
    ASSERT_TRUE(st->append_audit_sync({"response", "shop-1", message_uuid(10), "", "{}"}));
    st->close();
    const auto v = verify_audit(dir.db());
    ASSERT_TRUE(v.intact) << v.problem;
    ASSERT_EQ(v.records, 11);
  }
  // What an attacker with the file does first.
  void tamper(const std::string& sql) {
    raw_db raw(dir.db());
    ASSERT_EQ(raw.exec("DROP TRIGGER IF EXISTS audit_no_update; "
                       "DROP TRIGGER IF EXISTS audit_no_delete;"),
              "");
    ASSERT_EQ(raw.exec(sql), "");
  }
  temp_dir dir;
};

TEST_F(Verify, IntactAfterARun) {
  const auto v = verify_audit(dir.db());
  EXPECT_TRUE(v.intact);
  EXPECT_EQ(v.records, 11);
  EXPECT_EQ(v.problem, "");
}

TEST_F(Verify, DetectsAnAlteredRecord) {
  tamper("UPDATE audit SET data_json = replace(data_json, 'accepted', 'rejected') WHERE seq = 4");
  const auto v = verify_audit(dir.db());
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_seq, 4);
  EXPECT_NE(v.problem.find("altered"), std::string::npos) << v.problem;
}

TEST_F(Verify, DetectsAlteredFieldsOtherThanData) {
  tamper("UPDATE audit SET partner = 'shop-2' WHERE seq = 6");
  auto v = verify_audit(dir.db());
  EXPECT_EQ(v.first_bad_seq, 6);
  tamper("UPDATE audit SET partner = 'shop-1' WHERE seq = 6");
  EXPECT_TRUE(verify_audit(dir.db()).intact);  // put back: intact again
  raw_db(dir.db()).exec("UPDATE audit SET recorded_at = '2020-01-01T00:00:00.000Z' WHERE seq = 2");
  v = verify_audit(dir.db());
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_seq, 2);
}

TEST_F(Verify, DetectsAnAlteredHashAsBrokenLinkOrAlteration) {
  // Recomputing one record's hash after altering it breaks the next record's link.
  tamper("UPDATE audit SET hash = '" + std::string(64, 'a') + "' WHERE seq = 5");
  const auto v = verify_audit(dir.db());
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_seq, 5);
}

TEST_F(Verify, DetectsADeletedRecord) {
  tamper("DELETE FROM audit WHERE seq = 7");
  const auto v = verify_audit(dir.db());
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_seq, 7);
  EXPECT_NE(v.problem.find("deleted"), std::string::npos) << v.problem;
  EXPECT_EQ(v.records, 6);
}

TEST_F(Verify, DetectsADeletedRecordWithRenumbering) {
  tamper("DELETE FROM audit WHERE seq = 3; UPDATE audit SET seq = seq - 1 WHERE seq > 3");
  const auto v = verify_audit(dir.db());
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_seq, 3);
}

TEST_F(Verify, DetectsTwoRecordsSwapped) {
  tamper(
      "UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 8; "
      "UPDATE audit SET seq = 8 WHERE seq = -1");
  const auto v = verify_audit(dir.db());
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_seq, 3);
  EXPECT_NE(v.problem.find("reordered"), std::string::npos) << v.problem;
}

TEST_F(Verify, DetectsTheFirstRecordDeleted) {
  tamper("DELETE FROM audit WHERE seq = 1");
  const auto v = verify_audit(dir.db());
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_seq, 1);
}

TEST_F(Verify, DetectsTruncationThroughTheReceipts) {
  // The last message's record (10) and the response after it (11) are cut off: the chain that
  // is left is consistent, but message 10's stored receipt names audit record 10.
  tamper("DELETE FROM audit WHERE seq >= 10");
  const auto v = verify_audit(dir.db());
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.first_bad_seq, 10);
  EXPECT_NE(v.problem.find("truncated"), std::string::npos) << v.problem;
}

TEST_F(Verify, DetectsGarbage) {
  tamper("UPDATE audit SET data_json = '{not json' WHERE seq = 9");
  auto v = verify_audit(dir.db());
  EXPECT_EQ(v.first_bad_seq, 9);
  tamper("UPDATE audit SET kind = 42 WHERE seq = 2");  // TEXT affinity: stored as '42'
  v = verify_audit(dir.db());
  EXPECT_EQ(v.first_bad_seq, 2);
  tamper("UPDATE audit SET prev_hash = 'zz' WHERE seq = 1");
  v = verify_audit(dir.db());
  EXPECT_EQ(v.first_bad_seq, 1);
}

// ---- export ---------------------------------------------------------------------------------

TEST(Export, RedactsWithoutKeyDecryptsWithKeyAndFilters) {
  temp_dir dir;
  const std::string key_file = (dir.path / "keys" / "pii.key").string();
  const auto key = pii_key::load_or_create(key_file);
  auto st = open_sqlite({dir.db()});
  auto m1 = make_message("shop-1", 1);
  m1.audit_json = R"({"verdict":"accepted","contact":")" + key.seal("anna.schmidt@example.de") +
                  R"(","address":")" + key.seal_json(R"({"city":"Berlin"})") + R"("})";
  const auto r1 = st->store_message_sync(m1);
  ASSERT_EQ(r1.status, store_status::stored) << r1.error;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a later millisecond for `since`
  const auto r2 = st->store_message_sync(make_message("shop-1", 2));
  ASSERT_EQ(r2.status, store_status::stored);
  ASSERT_TRUE(st->append_audit_sync({"response", "shop-1", message_uuid(1), r1.rec.case_id, ""}));
  st->close();

  auto lines = [&](const export_options& o, const std::string& key_path) {
    std::vector<std::string> out;
    export_audit(
        dir.db(), o, [&](const std::string& l) { out.push_back(l); }, key_path);
    return out;
  };
  const auto all = lines({}, {});
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].find("anna.schmidt"), std::string::npos);
  auto first = parse(all[0]);
  EXPECT_EQ(first["seq"].GetInt64(), 1);
  EXPECT_EQ(std::string(first["kind"].GetString()), "inbound");
  EXPECT_EQ(std::string(first["caseId"].GetString()), r1.rec.case_id);
  EXPECT_EQ(std::string(first["hash"].GetString()), r1.rec.audit_hash);
  EXPECT_EQ(std::string(first["data"]["contact"].GetString()), "[redacted]");
  EXPECT_EQ(std::string(first["data"]["address"].GetString()), "[redacted]");
  EXPECT_EQ(std::string(first["data"]["verdict"].GetString()), "accepted");
  EXPECT_EQ(std::string(first["data"]["receipt"]["receiptId"].GetString()), r1.rec.receipt_id);

  const auto with_key = lines({}, key_file);
  auto dec = parse(with_key[0]);
  EXPECT_EQ(std::string(dec["data"]["contact"].GetString()), "anna.schmidt@example.de");
  ASSERT_TRUE(dec["data"]["address"].IsObject());
  EXPECT_EQ(std::string(dec["data"]["address"]["city"].GetString()), "Berlin");

  // Case filter: the first case has its inbound record and the response.
  const auto case1 = lines({r1.rec.case_id, {}}, {});
  ASSERT_EQ(case1.size(), 2u);
  EXPECT_EQ(parse(case1[1])["kind"].GetString(), std::string("response"));
  EXPECT_EQ(lines({r2.rec.case_id, {}}, {}).size(), 1u);
  EXPECT_TRUE(lines({"ODR-1999-000001", {}}, {}).empty());

  // Since: RFC 3339 with any offset; the future excludes all, the past includes all.
  EXPECT_EQ(lines({{}, "2000-01-01T00:00:00+02:00"}, {}).size(), 3u);
  EXPECT_EQ(lines({{}, "2000-01-01"}, {}).size(), 3u);
  EXPECT_TRUE(lines({{}, "2999-01-01T00:00:00Z"}, {}).empty());
  EXPECT_EQ(lines({{}, r2.rec.received_at}, {}).size(), 2u);
  EXPECT_THROW(lines({{}, "yesterday"}, {}), std::runtime_error);
  EXPECT_THROW(lines({}, (dir.path / "no-such.key").string()), std::runtime_error);
  // Another key: redacted, not an error.
  const std::string other_key = (dir.path / "other.key").string();
  pii_key::load_or_create(other_key);
  EXPECT_EQ(std::string(parse(lines({}, other_key)[0])["data"]["contact"].GetString()),
            "[redacted]");
}

}  // namespace
}  // namespace odrgw::gateway
