// SQLite (WAL) storage with group commit and the tamper-evident audit chain.
//
// One writer thread owns the write connection. store_message/append_audit parse and pre-serialise
// their input on the caller's thread, then queue a job. The writer takes up to max_batch jobs, runs
// them in one BEGIN IMMEDIATE ... COMMIT (a job that fails on its own data is dropped and the batch
// run again without it) and hands the committed batch to the syncer thread, which fdatasyncs the
// WAL and only then completes every job (see sync_loop). If the commit or the sync fails, every
// job of the batch completes as `failed`.
// Reads (get_case, ready) use a small pool of separate connections. See docs/audit.md.
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <future>
#include <initializer_list>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <variant>
#include <vector>

#include <odrgw/gateway/storage.hpp>

#include "idempotency_buffer.hpp"
#include "storage_internal.hpp"

namespace odrgw::gateway {
namespace detail {

// ---- bytes and time -------------------------------------------------------------------------

std::string to_hex(const std::uint8_t* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = digits[p[i] >> 4];
    s[2 * i + 1] = digits[p[i] & 0xF];
  }
  return s;
}

namespace {
int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool from_hex32(std::string_view hex, digest& out) noexcept {
  if (hex.size() != 64) return false;
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

namespace {
struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
using md_ctx = std::unique_ptr<EVP_MD_CTX, md_ctx_deleter>;

// Fetched once: with OpenSSL 3, EVP_sha256() makes every EVP_DigestInit_ex look the algorithm up
// in the provider store again (measured: more than the hash of a 2.6 KB body).
const EVP_MD* sha256_md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md != nullptr ? md : EVP_sha256();
}

digest sha256_parts(std::string_view a, std::string_view b) {
  // One context per thread, reused: EVP_MD_CTX_new + fetch per call costs more than the hash.
  thread_local md_ctx ctx(EVP_MD_CTX_new());
  digest d{};
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), sha256_md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), a.data(), a.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), b.data(), b.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), d.data(), &len) != 1 || len != d.size())
    throw std::runtime_error("OpenSSL SHA-256 failed");
  return d;
}
}  // namespace

digest sha256(std::string_view data) { return sha256_parts({}, data); }

digest chain_hash(const digest& prev, std::string_view data) {
  return sha256_parts(std::string_view(reinterpret_cast<const char*>(prev.data()), prev.size()),
                      data);
}

std::string uuid_v4() {
  // RAND_bytes per UUID was ~2.4% of an I/O thread's CPU under load (its per-call locking and
  // DRBG set-up): each thread draws 16 UUIDs' worth of bytes at a time. Still OpenSSL's CSPRNG;
  // a fork would share the pool, and odrgw does not fork.
  thread_local std::array<std::uint8_t, 256> pool;
  thread_local std::size_t used = pool.size();
  if (used == pool.size()) {
    if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1)
      throw std::runtime_error("OpenSSL RAND_bytes failed");
    used = 0;
  }
  std::uint8_t* b = pool.data() + used;
  used += 16;
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  const std::string h = to_hex(b, 16);
  std::fill(b, b + 16, std::uint8_t{0});  // drawn bytes are not kept
  std::string out;
  out.reserve(36);
  out.append(h, 0, 8).append(1, '-').append(h, 8, 4).append(1, '-').append(h, 12, 4);
  out.append(1, '-').append(h, 16, 4).append(1, '-').append(h, 20, 12);
  return out;
}

std::string format_utc_ms(clock::time_point t) {
  return format_utc_ms(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

std::string format_utc_ms(std::int64_t unix_ms) {
  std::int64_t secs = unix_ms / 1000;
  std::int64_t rem = unix_ms % 1000;
  if (rem < 0) {
    rem += 1000;
    --secs;
  }
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(rem));
  return buf;
}

int utc_year(clock::time_point t) {
  const std::time_t tt = clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm.tm_year + 1900;
}

namespace {
// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) noexcept {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}
}  // namespace

std::optional<std::string> normalise_rfc3339(std::string_view s) {
  int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1) return std::nullopt;
  static constexpr int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return std::nullopt;
  std::int64_t offset_min = 0;
  if (s.size() > 10) {
    const char t = s[10];
    if (t != 'T' && t != 't' && t != ' ') return std::nullopt;
    if (!digits(s, 11, 2, h) || s.size() < 19 || s[13] != ':' || !digits(s, 14, 2, mi) ||
        s[16] != ':' || !digits(s, 17, 2, sec))
      return std::nullopt;
    if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
    if (sec == 60) {  // a leap second: the last millisecond of the minute
      sec = 59;
      ms = 999;
    }
    std::size_t p = 19;
    if (p < s.size() && s[p] == '.') {
      ++p;
      const std::size_t start = p;
      int scale = 100;
      int frac = 0;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
        frac += (s[p] - '0') * scale;
        scale /= 10;
        ++p;
      }
      if (p == start) return std::nullopt;
      if (ms == 0) ms = frac;
    }
    if (p >= s.size()) return std::nullopt;
    if (s[p] == 'Z' || s[p] == 'z') {
      if (p + 1 != s.size()) return std::nullopt;
    } else if (s[p] == '+' || s[p] == '-') {
      int oh, om;
      if (p + 6 != s.size() || !digits(s, p + 1, 2, oh) || s[p + 3] != ':' ||
          !digits(s, p + 4, 2, om) || oh > 23 || om > 59)
        return std::nullopt;
      offset_min = (s[p] == '+' ? 1 : -1) * (oh * 60 + om);
    } else {
      return std::nullopt;
    }
  }
  const std::int64_t secs =
      days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
      mi * 60 + sec - offset_min * 60;
  return format_utc_ms(secs * 1000 + ms);
}

// ---- the audit chain -------------------------------------------------------------------------

std::string compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

namespace {
void write_string(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// The canonical serialisation with `data` given as its compact RapidJSON text.
std::string audit_canonical_text(std::int64_t seq, std::string_view recorded_at,
                                 std::string_view kind, std::string_view partner,
                                 std::string_view message_id, std::string_view case_id,
                                 std::string_view data_compact) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("seq");
  w.Int64(seq);
  w.Key("recordedAt");
  write_string(w, recorded_at);
  w.Key("kind");
  write_string(w, kind);
  w.Key("partner");
  write_string(w, partner);
  w.Key("messageId");
  write_string(w, message_id);
  w.Key("caseId");
  write_string(w, case_id);
  w.EndObject();
  std::string out(sb.GetString(), sb.GetSize() - 1);  // without the closing brace
  out.reserve(out.size() + data_compact.size() + 10);
  out += ",\"data\":";
  out += data_compact;
  out += '}';
  return out;
}
}  // namespace

std::string audit_canonical(std::int64_t seq, std::string_view recorded_at, std::string_view kind,
                            std::string_view partner, std::string_view message_id,
                            std::string_view case_id, const rapidjson::Value& data) {
  return audit_canonical_text(seq, recorded_at, kind, partner, message_id, case_id, compact(data));
}

// ---- SQLite ----------------------------------------------------------------------------------

db::db(const std::string& path, int flags) {
  sqlite3* h = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &h, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = h ? sqlite3_errmsg(h) : sqlite3_errstr(rc);
    sqlite3_close_v2(h);
    throw sqlite_error("cannot open SQLite database " + path + ": " + msg, rc);
  }
  sqlite3_extended_result_codes(h, 1);
  h_ = h;
}

db::~db() { close(); }

db& db::operator=(db&& o) noexcept {
  if (this != &o) {
    close();
    h_ = o.h_;
    o.h_ = nullptr;
  }
  return *this;
}

void db::close() noexcept {
  if (h_) {
    sqlite3_close_v2(h_);
    h_ = nullptr;
  }
}

void db::exec(const char* sql, const char* context) {
  char* err = nullptr;
  const int rc = sqlite3_exec(h_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw sqlite_error(std::string(context ? context : sql) + ": " + msg, rc);
  }
}

bool db::try_exec(const char* sql) noexcept {
  return sqlite3_exec(h_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

stmt::stmt(const db& d, const char* sql) : db_(d.get()) {
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr);
  if (rc != SQLITE_OK)
    throw sqlite_error(std::string("prepare \"") + sql + "\": " + sqlite3_errmsg(db_), rc);
}

stmt::~stmt() { sqlite3_finalize(s_); }

stmt& stmt::operator=(stmt&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(s_);
    s_ = o.s_;
    db_ = o.db_;
    o.s_ = nullptr;
  }
  return *this;
}

stmt& stmt::bind(int i, std::string_view text) {
  const int rc =
      sqlite3_bind_text64(s_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) throw sqlite_error(std::string("bind: ") + sqlite3_errmsg(db_), rc);
  return *this;
}

stmt& stmt::bind(int i, std::int64_t v) {
  const int rc = sqlite3_bind_int64(s_, i, v);
  if (rc != SQLITE_OK) throw sqlite_error(std::string("bind: ") + sqlite3_errmsg(db_), rc);
  return *this;
}

stmt& stmt::bind_null(int i) {
  const int rc = sqlite3_bind_null(s_, i);
  if (rc != SQLITE_OK) throw sqlite_error(std::string("bind: ") + sqlite3_errmsg(db_), rc);
  return *this;
}

bool stmt::step() {
  const int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string msg = sqlite3_errmsg(db_);
  const char* sql = sqlite3_sql(s_);
  sqlite3_reset(s_);
  throw sqlite_error(std::string(sql ? sql : "statement") + ": " + msg, rc);
}

void stmt::run() {
  step();
  reset();
}

void stmt::reset() noexcept {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

std::string_view stmt::text(int col) const noexcept {
  const auto* p = sqlite3_column_text(s_, col);
  const int n = sqlite3_column_bytes(s_, col);
  if (p == nullptr) return {};
  return std::string_view(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

db open_for_audit(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw std::runtime_error("cannot open audit database " + path + ": no such file");
  db d(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
  sqlite3_busy_timeout(d.get(), 10000);
  try {
    stmt s(d, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'audit'");
    if (!s.step() || s.int64(0) != 1)
      throw std::runtime_error("not an odrgw database (no audit table)");
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot read audit database " + path + ": " + e.what());
  }
  return d;
}

}  // namespace detail

// ---- the storage -----------------------------------------------------------------------------

store_result storage::store_message_sync(inbound_message m) {
  std::promise<store_result> p;
  auto f = p.get_future();
  store_message(std::move(m), [&p](store_result r) { p.set_value(std::move(r)); });
  return f.get();
}

std::optional<audit_record> storage::append_audit_sync(audit_entry e) {
  std::promise<std::optional<audit_record>> p;
  auto f = p.get_future();
  append_audit(std::move(e), [&p](std::optional<audit_record> r) { p.set_value(std::move(r)); });
  return f.get();
}

int storage::fire_timers_sync(std::size_t limit) {
  std::promise<int> p;
  auto f = p.get_future();
  fire_timers(limit, [&p](int n) { p.set_value(n); });
  return f.get();
}

bool storage::record_delivery_sync(delivery_attempt a) {
  std::promise<bool> p;
  auto f = p.get_future();
  record_delivery(std::move(a), [&p](bool ok) { p.set_value(ok); });
  return f.get();
}

namespace {

using namespace detail;
constexpr int schema_version = 3;

constexpr const char* schema_sql = R"sql(
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE cases(
  case_id    TEXT PRIMARY KEY,
  year       INTEGER NOT NULL,
  number     INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  state      TEXT NOT NULL DEFAULT 'filed',
  UNIQUE(year, number)
);
CREATE TABLE audit(
  seq         INTEGER PRIMARY KEY,
  recorded_at TEXT NOT NULL,
  kind        TEXT NOT NULL,
  partner     TEXT NOT NULL,
  message_id  TEXT NOT NULL,
  case_id     TEXT NOT NULL,
  data_json   TEXT NOT NULL,
  prev_hash   TEXT NOT NULL,
  hash        TEXT NOT NULL
);
CREATE INDEX audit_by_case ON audit(case_id, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE messages(
  id             INTEGER PRIMARY KEY,
  sender_party   TEXT NOT NULL,
  message_id     TEXT NOT NULL,
  message_type   TEXT NOT NULL,
  case_id        TEXT NOT NULL REFERENCES cases(case_id),
  proceeding_id  TEXT NOT NULL,
  body_sha256    TEXT NOT NULL,
  canonical_json TEXT NOT NULL,
  received_at    TEXT NOT NULL,
  audit_seq      INTEGER NOT NULL,
  receipt        TEXT NOT NULL
);
-- Partners' idempotency key. The gateway's own events ('odrgw' = gateway_party_id, a reserved
-- partner id) have name-based ids, unique by construction, and stay out: their random keys
-- dirtied two more index pages per filing (+30% msgs/s without them).
CREATE UNIQUE INDEX messages_by_sender ON messages(sender_party, message_id)
  WHERE sender_party <> 'odrgw';
CREATE INDEX messages_by_case ON messages(case_id, id);
CREATE TABLE case_parties(
  id      INTEGER PRIMARY KEY,
  case_id TEXT NOT NULL REFERENCES cases(case_id),
  party   TEXT NOT NULL,
  UNIQUE(case_id, party)
);
)sql";

// Version 2: the case's routing status and timers, and the outbox. A version 1 database is
// migrated in place (its cases have no status: the state machine leaves them alone).
constexpr const char* schema_v2_sql = R"sql(
ALTER TABLE cases ADD COLUMN status_json TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN next_due TEXT;
ALTER TABLE cases ADD COLUMN originator TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN provider TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN facts_json TEXT NOT NULL DEFAULT '';
CREATE INDEX cases_due ON cases(next_due) WHERE next_due IS NOT NULL;
CREATE TABLE outbox(
  id              INTEGER PRIMARY KEY,
  case_id         TEXT NOT NULL REFERENCES cases(case_id),
  recipient       TEXT NOT NULL,
  message_row     INTEGER NOT NULL REFERENCES messages(id),
  message_id      TEXT NOT NULL,
  message_type    TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  status          TEXT NOT NULL DEFAULT 'pending',
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  last_status     INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT NOT NULL DEFAULT '',
  done_at         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON outbox(status, next_attempt_at);
CREATE INDEX outbox_by_case ON outbox(recipient, case_id, status, id);
)sql";

// Version 3: partners' idempotency keys move from an index on `messages` to their own table, which
// the writer fills a slice of the key space at a time (see the idempotency index below). The rows
// of existing messages are added by migrate(). Databases whose `messages` table has a table-wide
// UNIQUE(sender_party, message_id) (created before the partial index) keep it: it cannot be
// dropped without rebuilding the table, and it stays correct.
constexpr const char* schema_v3_sql = R"sql(
CREATE TABLE idempotency(
  key_hash    INTEGER NOT NULL,
  message_row INTEGER NOT NULL,
  PRIMARY KEY(key_hash, message_row)
) WITHOUT ROWID;
)sql";
constexpr const char* drop_v2_index_sql = "DROP INDEX IF EXISTS messages_by_sender";

void configure_connection(db& d) {
  sqlite3_busy_timeout(d.get(), 5000);
  d.exec("PRAGMA foreign_keys = ON", "enable foreign keys");
  d.exec("PRAGMA synchronous = FULL", "set synchronous=FULL");
}

// The idempotency table's key: the first 8 bytes of SHA-256(sender_party NUL message_id), as a
// signed integer (SQLite's). Uniform, so the writer can flush it by ranges; a match is confirmed
// against the message row itself, so a collision costs a lookup, never a wrong answer.
std::int64_t idempotency_hash(std::string_view sender, std::string_view message_id) {
  const digest d = sha256_parts(std::string(sender) + '\0', message_id);
  std::uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | d[static_cast<std::size_t>(i)];
  return static_cast<std::int64_t>(u);
}

// "\"name\":\"value\"" exactly as RapidJSON's Writer writes that member.
std::string member_fragment(std::string_view name, std::string_view value) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  w.EndObject();
  return std::string(sb.GetString() + 1, sb.GetSize() - 2);
}

std::string string_member(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

struct store_job {
  inbound_message m;
  std::function<void(store_result)> done;
  std::string input_error;    // found while preparing: the job fails without touching the db
  canonical_parts canonical;  // the canonical message, ready for its caseId/proceedingId
  std::string audit_prefix;   // audit_json compact without its closing brace ("{" when empty)
  std::string receipt_id;     // drawn while preparing: no RAND_bytes on the writer thread
  store_result result;
};

struct audit_job {
  audit_entry e;
  std::function<void(std::optional<audit_record>)> done;
  std::string input_error;
  std::optional<audit_record> result;
};

// ready()'s probe: a small real write through the writer (one row of `meta`), batched with
// whatever else is queued. It proves what a store needs: the writer runs, gets the write lock,
// writes a page and commits it durably. (An empty transaction writes nothing, so a full disk or
// a failing device looked ready.)
struct probe_job {
  std::function<void(std::string)> done;  // "" when the write went through, else the cause
  std::string input_error;                // always empty
  std::string result = "the probe did not run";
};

// Fires due timers through the case logic.
struct timer_job {
  std::size_t limit = 64;
  std::function<void(int)> done;
  std::string input_error;
  int result = -1;
};

// Records a delivery attempt (outbox row + audit record).
struct delivery_job {
  delivery_attempt a;
  std::function<void(bool)> done;
  std::string input_error;
  bool result = false;
};

// Puts a dead delivery back in the queue (`odrgw outbox retry`).
struct retry_job {
  std::int64_t id = 0;
  std::string by;
  std::function<void(bool)> done;
  std::string input_error;
  bool result = false;
};

using job = std::variant<store_job, audit_job, probe_job, timer_job, delivery_job, retry_job>;

// The head of the chain as the current transaction sees it, and the next case number (read once
// per transaction, then counted on: the writer is the only one that inserts cases).
struct chain_head {
  std::int64_t seq = 0;
  digest hash{};
  int case_year = 0;  // 0: next_case not read yet in this transaction
  std::int64_t next_case = 0;
};

class sqlite_storage final : public storage {
 public:
  explicit sqlite_storage(const sqlite_options& o) : opts_(o) {
    if (opts_.max_batch == 0) opts_.max_batch = 1;
    namespace fs = std::filesystem;
    if (opts_.path.empty()) throw std::runtime_error("storage: no SQLite path configured");
    const fs::path p(opts_.path);
    if (p.has_parent_path()) {
      // Directories we create are the owner's only (0700): the database holds the audit log
      // and sealed personal data. Existing directories keep their mode.
      fs::path cur;
      for (const auto& part : p.parent_path()) {
        cur /= part;
        if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
          throw std::runtime_error("storage: cannot create directory " + cur.string() + ": " +
                                   std::strerror(errno));
      }
    }
    try {
      wdb_ = db(opts_.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
      sqlite3_busy_timeout(wdb_.get(), 5000);
      // page_size only takes effect before the first table exists (and before WAL is enabled).
      wdb_.exec("PRAGMA page_size = 16384", "set page_size");
      stmt jm(wdb_, "PRAGMA journal_mode = WAL");
      if (!jm.step() || jm.text(0) != "wal")
        throw std::runtime_error("storage: " + opts_.path + ": cannot switch to WAL mode (got " +
                                 jm.str(0) + ")");
      jm = stmt();
      configure_connection(wdb_);
      // Checkpoints run on their own thread and connection (below), not inside a commit.
      wdb_.exec("PRAGMA wal_autocheckpoint = 0", "disable auto-checkpoint");
      wdb_.exec("PRAGMA journal_size_limit = 67108864", "set journal_size_limit");
      // SQLite's default page cache (2 MiB) is smaller than the working set of one batch's index
      // and table pages: under load the writer re-read evicted pages with pread (8% of the
      // gateway's CPU in a perf profile). 64 MiB for the one writer connection removes those reads.
      wdb_.exec("PRAGMA cache_size = -65536", "set cache_size");
      migrate();
      prepare();
      recover_idempotency();
    } catch (const std::exception& e) {
      wdb_.close();
      const std::string what = e.what();
      throw std::runtime_error(what.find(opts_.path) == std::string::npos
                                   ? "storage: " + opts_.path + ": " + what
                                   : what);
    }
    sqlite3_wal_hook(wdb_.get(), &sqlite_storage::wal_hook, this);
    // Durability moves to the syncer (see sync_loop): the writer's COMMIT only writes the WAL,
    // the syncer fdatasyncs it before anything is acknowledged. If the WAL file cannot be opened
    // here, the writer keeps synchronous=FULL and completes batches itself, as before.
    wal_fd_ = ::open((opts_.path + "-wal").c_str(), O_RDONLY | O_CLOEXEC);
    if (wal_fd_ >= 0 && !wdb_.try_exec("PRAGMA synchronous = NORMAL")) {
      ::close(wal_fd_);
      wal_fd_ = -1;
    }
    if (wal_fd_ >= 0) syncer_ = std::thread([this] { sync_loop(); });
    checkpointer_ = std::thread([this] { checkpoint_loop(); });
    writer_ = std::thread([this] { run(); });
  }

  ~sqlite_storage() override { close(); }

  void store_message(inbound_message m, std::function<void(store_result)> done) override {
    store_job j;
    j.m = std::move(m);
    j.done = std::move(done);
    prepare_store(j);
    enqueue(job(std::move(j)));
  }

  void append_audit(audit_entry e, std::function<void(std::optional<audit_record>)> done) override {
    audit_job j;
    j.e = std::move(e);
    j.done = std::move(done);
    prepare_audit(j);
    enqueue(job(std::move(j)));
  }

  std::optional<case_view> get_case(const std::string& case_id) override {
    return read_case(case_id, true, 0, -1);
  }

  std::optional<case_view> get_case_header(const std::string& case_id) override {
    return read_case(case_id, false, 0, 0);
  }

  std::optional<case_view> get_case_page(const std::string& case_id, std::size_t offset,
                                         std::size_t limit) override {
    return read_case(case_id, true, static_cast<std::int64_t>(offset),
                     static_cast<std::int64_t>(limit));
  }

  // limit < 0: all messages from offset.
  std::optional<case_view> read_case(const std::string& case_id, bool with_messages,
                                     std::int64_t offset, std::int64_t limit) {
    if (closed_flag_.load()) return std::nullopt;
    try {
      reader r(*this);
      db& d = r.get();
      d.exec("BEGIN", "begin read");
      struct end_read {
        db& d;
        ~end_read() { d.try_exec("COMMIT"); }
      } guard{d};
      stmt c(d,
             "SELECT created_at, state, status_json, originator, provider FROM cases "
             "WHERE case_id = ?");
      c.bind(1, case_id);
      if (!c.step()) return std::nullopt;
      case_view v;
      v.case_id = case_id;
      v.created_at = c.str(0);
      v.state = c.str(1);
      v.status_json = c.str(2);
      v.originator = c.str(3);
      v.provider = c.str(4);
      stmt p(d, "SELECT party FROM case_parties WHERE case_id = ? ORDER BY id");
      p.bind(1, case_id);
      while (p.step()) v.parties.push_back(p.str(0));
      if (!with_messages) return v;
      stmt m(d,
             "SELECT message_id, sender_party, message_type, received_at, canonical_json "
             "FROM messages WHERE case_id = ? ORDER BY id LIMIT ? OFFSET ?");
      // One more than asked for tells whether more follow.
      m.bind(1, case_id).bind(2, limit < 0 ? std::int64_t{-1} : limit + 1).bind(3, offset);
      while (m.step()) {
        if (limit >= 0 && static_cast<std::int64_t>(v.messages.size()) == limit) {
          v.more = true;
          break;
        }
        v.messages.push_back({m.str(0), m.str(1), m.str(2), m.str(3), m.str(4)});
      }
      return v;
    } catch (const std::exception&) {
      // A database error reads as "not found"; ready() reports the database state.
      return std::nullopt;
    }
  }

  void fire_timers(std::size_t limit, std::function<void(int)> done) override {
    timer_job j;
    j.limit = limit == 0 ? 1 : limit;
    j.done = std::move(done);
    enqueue(job(std::move(j)));
  }

  void record_delivery(delivery_attempt a, std::function<void(bool)> done) override {
    delivery_job j;
    j.a = std::move(a);
    j.done = std::move(done);
    if (j.a.audit_json.empty()) j.a.audit_json = "{}";
    try {
      rapidjson::Document doc;
      schemas::json_error err;
      if (!schemas::parse_json(j.a.audit_json, doc, internal_json_limits(), err) || !doc.IsObject())
        j.input_error = "audit_json: not a JSON object";
      else
        j.a.audit_json = compact(doc);
    } catch (const std::exception& e) {
      j.input_error = e.what();
    }
    enqueue(job(std::move(j)));
  }

  bool retry_outbox(std::int64_t id, const std::string& by) override {
    std::promise<bool> p;
    auto f = p.get_future();
    retry_job j;
    j.id = id;
    j.by = by;
    j.done = [&p](bool ok) { p.set_value(ok); };
    enqueue(job(std::move(j)));
    return f.get();
  }

  static constexpr const char* outbox_columns =
      "SELECT o.id, o.case_id, o.recipient, o.message_id, o.message_type, m.sender_party, "
      "m.canonical_json, o.created_at, o.status, o.attempts, o.next_attempt_at, o.last_status, "
      "o.last_error, o.done_at, (SELECT json_extract(r.canonical_json, '$.senderCaseRef') "
      "FROM messages r WHERE r.case_id = o.case_id AND r.sender_party = o.recipient AND "
      "json_valid(r.canonical_json) ORDER BY r.id LIMIT 1) "
      "FROM outbox o JOIN messages m ON m.id = o.message_row ";

  static outbox_item outbox_from(const stmt& q) {
    outbox_item it;
    it.id = q.int64(0);
    it.case_id = q.str(1);
    it.recipient = q.str(2);
    it.message_id = q.str(3);
    it.message_type = q.str(4);
    it.sender_party = q.str(5);
    it.canonical_json = q.str(6);
    it.created_at = q.str(7);
    it.status = q.str(8);
    it.attempts = static_cast<int>(q.int64(9));
    it.next_attempt_at = q.str(10);
    it.last_status = static_cast<int>(q.int64(11));
    it.last_error = q.str(12);
    it.done_at = q.str(13);
    if (!q.is_null(14)) it.recipient_reference = q.str(14);
    return it;
  }

  std::vector<outbox_item> due_deliveries(const std::string& now, std::size_t limit) override {
    std::vector<outbox_item> out;
    if (closed_flag_.load()) return out;
    reader r(*this);
    const std::string sql = std::string(outbox_columns) +
                            "WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND NOT EXISTS "
                            "(SELECT 1 FROM outbox p WHERE p.recipient = o.recipient AND "
                            "p.case_id = o.case_id AND p.status = 'pending' AND p.id < o.id) "
                            "ORDER BY o.next_attempt_at, o.id LIMIT ?";
    stmt q(r.get(), sql.c_str());
    q.bind(1, now).bind(2, static_cast<std::int64_t>(limit));
    while (q.step()) out.push_back(outbox_from(q));
    return out;
  }

  std::vector<outbox_item> list_outbox(const outbox_filter& f) override {
    std::vector<outbox_item> out;
    if (closed_flag_.load()) return out;
    reader r(*this);
    const std::string sql = std::string(outbox_columns) +
                            "WHERE (?1 = '' OR o.status = ?1) AND (?2 = '' OR o.case_id = ?2) AND "
                            "(?3 = '' OR o.recipient = ?3) ORDER BY o.id LIMIT ?4";
    stmt q(r.get(), sql.c_str());
    q.bind(1, f.status).bind(2, f.case_id).bind(3, f.recipient);
    q.bind(4, static_cast<std::int64_t>(f.limit == 0 ? 100 : f.limit));
    while (q.step()) out.push_back(outbox_from(q));
    return out;
  }

  std::optional<outbox_item> get_outbox(std::int64_t id) override {
    if (closed_flag_.load()) return std::nullopt;
    reader r(*this);
    const std::string sql = std::string(outbox_columns) + "WHERE o.id = ?";
    stmt q(r.get(), sql.c_str());
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    return outbox_from(q);
  }

  bool check_ready(std::string& problem) override {
    {
      std::lock_guard l(mu_);
      if (stopping_) {
        problem = "storage is closed";
        return false;
      }
    }
    auto p = std::make_shared<std::promise<std::string>>();
    auto f = p->get_future();
    probe_job j;
    j.done = [p](std::string r) { p->set_value(std::move(r)); };
    enqueue(job(std::move(j)));
    if (f.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
      problem = "the probe write did not commit within 5 s (database locked or disk stalled)";
      return false;
    }
    problem = f.get();
    if (!problem.empty()) {
      problem = "the probe write failed: " + problem;
      return false;
    }
    try {
      reader r(*this);
      stmt q(r.get(), "SELECT value FROM meta WHERE key = 'schema_version'");
      if (q.step()) return true;
      problem = "the database has no schema_version";
    } catch (const std::exception& e) {
      problem = std::string("the probe read failed: ") + e.what();
    }
    return false;
  }

  void close() override {
    // Concurrent callers wait until the first one has finished closing.
    std::call_once(close_once_, [this] { shut_down(); });
  }

  void shut_down() {
    {
      std::lock_guard l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    if (syncer_.joinable()) syncer_.join();  // the writer told it to stop after its last batch
    if (wal_fd_ >= 0) {
      ::close(wal_fd_);
      wal_fd_ = -1;
    }
    {
      std::lock_guard cl(ckpt_mu_);
      ckpt_stop_ = true;
    }
    ckpt_cv_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
    closed_flag_ = true;
    // After a failed fdatasync nothing more is written; the next start recovers the keys.
    if (wdb_ && !sync_broken_.load() && !idem_broken_.load()) flush_all_idempotency();
    st_ = {};
    if (wdb_) {
      // A clean close checkpoints the WAL into the database and removes it.
      wdb_.try_exec("PRAGMA wal_checkpoint(TRUNCATE)");
      wdb_.close();
    }
    std::lock_guard rl(readers_mu_);
    readers_.clear();
  }

  storage_stats stats() const override {
    storage_stats s;
    s.commits = commits_.load();
    s.jobs = jobs_.load();
    s.failed_batches = failed_batches_.load();
    s.largest_batch = largest_batch_.load();
    s.checkpoints = checkpoints_.load() + tail_checkpoints_.load();
    s.write_seconds = static_cast<double>(write_ns_.load()) / 1e9;
    s.syncs = syncs_.load();
    s.sync_seconds = static_cast<double>(sync_ns_.load()) / 1e9;
    s.idempotency_waiting = idem_pending_.load();
    return s;
  }

 private:
  // ---- preparation on the caller's thread ----

  static void prepare_store(store_job& j) {
    try {
      if (j.m.canonical) {
        j.canonical = std::move(*j.m.canonical);
        j.m.canonical.reset();
        if (j.canonical.text.empty() || j.canonical.text.front() != '{') {
          j.input_error = "canonical: not a JSON object";
          return;
        }
      } else {
        rapidjson::Document doc;
        schemas::json_error err;
        if (!schemas::parse_json(j.m.canonical_json, doc, internal_json_limits(), err)) {
          j.input_error = "canonical_json: " + err.message;
          return;
        }
        if (!split_canonical(doc, j.canonical)) {
          j.input_error = "canonical_json: not a JSON object";
          return;
        }
      }
      j.audit_prefix = audit_prefix(j.m.audit_json, j.input_error);
      j.receipt_id = uuid_v4();
    } catch (const std::exception& e) {
      j.input_error = std::string("invalid input: ") + e.what();
    }
  }

  // audit_json re-serialised compactly without a "receipt" member, minus its closing brace.
  static std::string audit_prefix(const std::string& audit_json, std::string& error) {
    if (audit_json.empty()) return "{";
    rapidjson::Document doc;
    schemas::json_error err;
    if (!schemas::parse_json(audit_json, doc, internal_json_limits(), err)) {
      error = "audit_json: " + err.message;
      return {};
    }
    if (!doc.IsObject()) {
      error = "audit_json: not a JSON object";
      return {};
    }
    // EraseMember keeps the order of the others (RemoveMember would move the last one up).
    if (auto it = doc.FindMember("receipt"); it != doc.MemberEnd()) doc.EraseMember(it);
    std::string s = compact(doc);
    s.pop_back();
    return s;
  }

  static void prepare_audit(audit_job& j) {
    try {
      if (j.e.data_json.empty()) {
        j.e.data_json = "{}";
        return;
      }
      rapidjson::Document doc;
      schemas::json_error err;
      if (!schemas::parse_json(j.e.data_json, doc, internal_json_limits(), err)) {
        j.input_error = "data_json: " + err.message;
        return;
      }
      if (!doc.IsObject()) {
        j.input_error = "data_json: not a JSON object";
        return;
      }
      j.e.data_json = compact(doc);  // stored exactly as it is hashed
    } catch (const std::exception& e) {
      j.input_error = std::string("invalid input: ") + e.what();
    }
  }

  void enqueue(job j) {
    {
      std::unique_lock l(mu_);
      if (!stopping_) {
        queue_.push_back(std::move(j));
        l.unlock();
        cv_.notify_one();
        return;
      }
    }
    // Closed: nothing can be stored. Complete at once, on the caller's thread.
    std::visit(
        [](auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, store_job>) {
            store_result r;
            r.error = "storage is closed";
            if (x.done) x.done(std::move(r));
          } else if constexpr (std::is_same_v<T, audit_job>) {
            if (x.done) x.done(std::nullopt);
          } else if constexpr (std::is_same_v<T, probe_job>) {
            if (x.done) x.done("storage is closed");
          } else if constexpr (std::is_same_v<T, timer_job>) {
            if (x.done) x.done(-1);
          } else {
            if (x.done) x.done(false);
          }
        },
        j);
  }

  // ---- the writer thread ----

  void migrate() {
    wdb_.exec("BEGIN IMMEDIATE", "begin migration");
    try {
      stmt t(wdb_, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'");
      t.step();
      const bool fresh = t.int64(0) == 0;
      t = stmt();
      if (fresh) {
        stmt any(wdb_, "SELECT count(*) FROM sqlite_schema");
        any.step();
        if (any.int64(0) != 0)
          throw std::runtime_error(
              "the file holds tables but no odrgw meta table: not an odrgw "
              "database");
        any = stmt();
        wdb_.exec(schema_sql, "create schema");
        wdb_.exec(schema_v2_sql, "create schema version 2");
        wdb_.exec(schema_v3_sql, "create schema version 3");
        wdb_.exec(drop_v2_index_sql, "drop the version 2 idempotency index");
        stmt ins(wdb_, "INSERT INTO meta(key, value) VALUES (?, ?)");
        ins.bind(1, std::string_view("schema_version")).bind(2, std::to_string(schema_version));
        ins.run();
        ins.bind(1, std::string_view("created_at")).bind(2, format_utc_ms(clock::now()));
        ins.run();
        ins.bind(1, std::string_view("audit_chain")).bind(2, std::string_view("sha256-v1"));
        ins.run();
      } else {
        stmt v(wdb_, "SELECT value FROM meta WHERE key = 'schema_version'");
        if (!v.step()) throw std::runtime_error("meta table has no schema_version");
        const std::string ver = v.str(0);
        v = stmt();
        if (ver == "1") {
          wdb_.exec(schema_v2_sql, "migrate to schema version 2");
          wdb_.exec("UPDATE meta SET value = '2' WHERE key = 'schema_version'",
                    "record schema version 2");
        }
        if (ver == "1" || ver == "2") {
          wdb_.exec(schema_v3_sql, "migrate to schema version 3");
          stmt rows(wdb_,
                    "SELECT id, sender_party, message_id FROM messages "
                    "WHERE sender_party <> 'odrgw'");
          stmt ins(wdb_, "INSERT INTO idempotency(key_hash, message_row) VALUES (?, ?)");
          while (rows.step()) {
            ins.bind(1, idempotency_hash(rows.text(1), rows.text(2))).bind(2, rows.int64(0));
            ins.run();
          }
          rows = stmt();
          ins = stmt();
          // Read through the version 2 index (it covers the query), then dropped: reading the
          // messages table instead took 19 s for a 1.8 GB database here.
          wdb_.exec(drop_v2_index_sql, "drop the version 2 idempotency index");
          wdb_.exec(
              "INSERT OR REPLACE INTO meta(key, value) SELECT 'idempotency_low', "
              "coalesce(max(id), 0) + 1 FROM messages",
              "record the rows the idempotency table covers");
          wdb_.exec("UPDATE meta SET value = '3' WHERE key = 'schema_version'",
                    "record schema version 3");
        } else if (ver != std::to_string(schema_version))
          throw std::runtime_error("database schema version " + ver +
                                   " is not supported (this odrgw uses version " +
                                   std::to_string(schema_version) + ")");
      }
      wdb_.exec("COMMIT", "commit migration");
    } catch (...) {
      wdb_.try_exec("ROLLBACK");
      throw;
    }
  }

  struct statements {
    stmt begin, commit, rollback;
    stmt head, idem_find, idem_message, idem_insert, set_meta, case_exists, next_case_number,
        insert_case, insert_audit, insert_message, insert_party, read_case, set_originator,
        update_case, first_application, insert_outbox, due_cases, outbox_row, update_outbox,
        retry_outbox;
  };

  void prepare() {
    st_.begin = stmt(wdb_, "BEGIN IMMEDIATE");
    st_.commit = stmt(wdb_, "COMMIT");
    st_.rollback = stmt(wdb_, "ROLLBACK");
    st_.head = stmt(wdb_, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
    st_.idem_find = stmt(wdb_, "SELECT message_row FROM idempotency WHERE key_hash = ?");
    st_.idem_message = stmt(wdb_,
                            "SELECT sender_party, message_id, body_sha256, receipt FROM messages "
                            "WHERE id = ?");
    st_.idem_insert =
        stmt(wdb_, "INSERT OR IGNORE INTO idempotency(key_hash, message_row) VALUES (?, ?)");
    st_.set_meta = stmt(wdb_,
                        "INSERT INTO meta(key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    st_.case_exists = stmt(wdb_, "SELECT 1 FROM cases WHERE case_id = ?");
    st_.next_case_number =
        stmt(wdb_, "SELECT coalesce(max(number), 0) + 1 FROM cases WHERE year = ?");
    st_.insert_case = stmt(wdb_,
                           "INSERT INTO cases(case_id, year, number, created_at, state) "
                           "VALUES (?, ?, ?, ?, 'filed')");
    st_.insert_audit = stmt(wdb_,
                            "INSERT INTO audit(seq, recorded_at, kind, partner, message_id, "
                            "case_id, data_json, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?)");
    st_.insert_message =
        stmt(wdb_,
             "INSERT INTO messages(sender_party, message_id, message_type, case_id, "
             "proceeding_id, body_sha256, canonical_json, received_at, audit_seq, receipt) "
             "VALUES (?,?,?,?,?,?,?,?,?,?)");
    st_.insert_party =
        stmt(wdb_, "INSERT OR IGNORE INTO case_parties(case_id, party) VALUES (?, ?)");
    st_.read_case = stmt(wdb_,
                         "SELECT status_json, originator, provider, facts_json FROM cases "
                         "WHERE case_id = ?");
    st_.set_originator =
        stmt(wdb_, "UPDATE cases SET originator = ?, facts_json = ? WHERE case_id = ?");
    st_.update_case = stmt(wdb_,
                           "UPDATE cases SET state = ?, status_json = ?, next_due = ?, "
                           "provider = ? WHERE case_id = ?");
    st_.first_application = stmt(wdb_,
                                 "SELECT id, message_id, message_type FROM messages "
                                 "WHERE case_id = ? AND message_type = 'dispute.application' "
                                 "ORDER BY id LIMIT 1");
    st_.insert_outbox = stmt(wdb_,
                             "INSERT INTO outbox(case_id, recipient, message_row, message_id, "
                             "message_type, created_at, next_attempt_at) VALUES (?,?,?,?,?,?,?)");
    st_.due_cases = stmt(wdb_,
                         "SELECT case_id, status_json, originator, provider, facts_json FROM cases "
                         "WHERE next_due IS NOT NULL AND next_due <= ? ORDER BY next_due LIMIT ?");
    st_.outbox_row = stmt(wdb_,
                          "SELECT case_id, recipient, message_id, message_type, status "
                          "FROM outbox WHERE id = ?");
    st_.update_outbox = stmt(wdb_,
                             "UPDATE outbox SET status = ?, attempts = attempts + 1, "
                             "next_attempt_at = ?, last_status = ?, last_error = ?, done_at = ? "
                             "WHERE id = ? AND status = 'pending'");
    st_.retry_outbox = stmt(wdb_,
                            "UPDATE outbox SET status = 'pending', attempts = 0, "
                            "next_attempt_at = ?, last_status = 0, last_error = '', done_at = '' "
                            "WHERE id = ? AND status = 'dead'");
  }

  void run() {
    std::vector<job> batch;
    batch.reserve(opts_.max_batch);
    for (;;) {
      {
        std::unique_lock l(mu_);
        cv_.wait(l, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) break;  // stopping and drained
        const std::size_t n = std::min(opts_.max_batch, queue_.size());
        for (std::size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      std::vector<bool> excluded;
      const auto t0 = std::chrono::steady_clock::now();
      const bool committed = process(batch, excluded);
      write_ns_ += static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                  std::chrono::steady_clock::now() - t0)
                                                  .count());
      if (committed && wal_fd_ >= 0) {
        // Committed to the WAL, not yet on disk: the syncer completes the batch after an
        // fdatasync that starts after this point, while this thread runs the next batch.
        {
          std::lock_guard l(sync_mu_);
          sync_queue_.push_back({std::move(batch), std::move(excluded)});
        }
        sync_cv_.notify_one();
        batch = std::vector<job>();
        batch.reserve(opts_.max_batch);
        continue;
      }
      for (auto& j : batch) complete(j);
      batch.clear();
    }
    {
      std::lock_guard l(sync_mu_);
      sync_stop_ = true;
    }
    sync_cv_.notify_one();
  }

  // ---- the syncer thread: durability of committed batches ----
  //
  // The writer connection runs with synchronous=NORMAL: COMMIT writes the batch's WAL frames
  // without an fsync. This thread then fdatasyncs the WAL file and only afterwards completes the
  // batch's jobs, so a 2xx still means "on disk" exactly as with synchronous=FULL (which syncs the
  // same file at the same point), but the writer builds and commits batch k+1 while batch k is
  // being synced. One fdatasync covers every batch committed before it started. A failed
  // fdatasync fails its batches (nothing acknowledged) and, since Linux may drop the failed pages'
  // error state, marks the storage broken: every later write fails until restart.
  struct pending_batch {
    std::vector<job> jobs;
    std::vector<bool> excluded;  // jobs that already failed on their own
  };

  void sync_loop() {
    std::vector<pending_batch> todo;
    for (;;) {
      {
        std::unique_lock l(sync_mu_);
        sync_cv_.wait(l, [this] { return sync_stop_ || !sync_queue_.empty(); });
        if (sync_queue_.empty()) return;  // stopping and drained
        todo.swap(sync_queue_);
      }
      std::string error;
      if (sync_broken_.load()) {
        error = "storage: an earlier fdatasync of the WAL failed; restart odrgw";
      } else {
        const auto t0 = std::chrono::steady_clock::now();
        if (::fdatasync(wal_fd_) != 0) {
          error = std::string("storage: fdatasync of the WAL failed: ") + std::strerror(errno);
          sync_broken_ = true;
        }
        sync_ns_ += static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                   std::chrono::steady_clock::now() - t0)
                                                   .count());
        syncs_++;
      }
      for (auto& b : todo) {
        if (!error.empty()) {
          for (std::size_t i = 0; i < b.jobs.size(); ++i)
            if (!b.excluded[i]) fail(b.jobs[i], error);
          failed_batches_++;
        }
        for (auto& j : b.jobs) complete(j);
      }
      todo.clear();
    }
  }

  static void fail(job& j, const std::string& error) {
    std::visit(
        [&](auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, store_job>) {
            x.result = store_result{};
            x.result.status = store_status::failed;
            x.result.error = error;
          } else if constexpr (std::is_same_v<T, audit_job>) {
            x.result.reset();
          } else if constexpr (std::is_same_v<T, probe_job>) {
            x.result = error;
          } else if constexpr (std::is_same_v<T, timer_job>) {
            x.result = -1;
          } else {
            x.result = false;
          }
        },
        j);
  }

  static void complete(job& j) {
    std::visit(
        [](auto& x) {
          try {
            if (x.done) x.done(std::move(x.result));
          } catch (...) {
            // A callback's exception must not stop the writer (and nobody could handle it here).
          }
        },
        j);
  }

  bool in_transaction() const noexcept { return sqlite3_get_autocommit(wdb_.get()) == 0; }

  static bool job_specific(const std::exception& e) {
    // Errors caused by one job's data; anything else (I/O, disk full, locked, corrupt...) is the
    // database's and fails the whole batch.
    const auto* se = dynamic_cast<const sqlite_error*>(&e);
    if (se == nullptr) return true;
    switch (se->code() & 0xFF) {
      case SQLITE_CONSTRAINT:
      case SQLITE_TOOBIG:
      case SQLITE_MISMATCH:
      case SQLITE_RANGE:
        return true;
      default:
        return false;
    }
  }

  void fail_batch(std::vector<job>& batch, const std::vector<bool>& done, const std::string& why) {
    if (in_transaction()) {
      try {
        st_.rollback.run();
      } catch (...) {
      }
    }
    try {
      idem_.rolled_back();
    } catch (...) {
      // Out of memory: the keys in memory cannot be trusted. Refuse writes until a restart,
      // which recovers them from the messages.
      idem_broken_ = true;
    }
    idem_low_written_ = -1;  // the rolled-back write may have been the last one
    idem_pending_ = idem_.size();
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (!done[i]) fail(batch[i], why);
    failed_batches_++;
  }

  // Runs the batch in one transaction. A job that fails on its own data is completed as failed,
  // the transaction rolled back and the batch run again without it (no per-job savepoints: a
  // SAVEPOINT makes SQLite copy every page a job touches to a sub-journal, which cost more than
  // the commit). Only after COMMIT returns are the results handed out.
  // Returns true when the batch was committed; `excluded` then marks the jobs that failed alone.
  bool process(std::vector<job>& batch, std::vector<bool>& excluded) {
    excluded.assign(batch.size(), false);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const std::string& err =
          std::visit([](auto& x) -> const std::string& { return x.input_error; }, batch[i]);
      if (!err.empty()) {
        fail(batch[i], "storage: " + err);
        excluded[i] = true;
      }
    }
    if (sync_broken_.load()) {
      fail_batch(batch, excluded, "storage: an earlier fdatasync of the WAL failed; restart odrgw");
      return false;
    }
    if (idem_broken_.load()) {
      fail_batch(
          batch, excluded,
          "storage: the idempotency keys in memory were lost (out of memory); restart odrgw");
      return false;
    }
    for (;;) {
      try {
        st_.begin.run();
      } catch (const std::exception& e) {
        fail_batch(batch, excluded, std::string("storage: ") + e.what());
        return false;
      }
      bool restart = false;
      try {
        chain_head head = read_head();
        for (std::size_t i = 0; i < batch.size() && !restart; ++i) {
          if (excluded[i]) continue;
          try {
            std::visit([&](auto& x) { execute(x, head); }, batch[i]);
          } catch (const std::exception& e) {
            if (!job_specific(e)) throw;
            fail(batch[i], std::string("storage: ") + e.what());
            excluded[i] = true;
            restart = true;
          }
        }
        if (restart) {
          st_.rollback.run();
          idem_.rolled_back();
          continue;
        }
        flush_idempotency(idem_.take_for_batch());
        st_.commit.run();
        idem_.committed();
      } catch (const std::exception& e) {
        fail_batch(batch, excluded, std::string("storage: transaction failed: ") + e.what());
        return false;
      }
      break;
    }
    idem_pending_ = idem_.size();
    commits_++;
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (!excluded[i] && !std::holds_alternative<probe_job>(batch[i])) jobs_++;
    std::uint64_t prev = largest_batch_.load();
    while (prev < batch.size() && !largest_batch_.compare_exchange_weak(prev, batch.size())) {
    }
    return true;
  }

  chain_head read_head() {
    chain_head h;
    if (st_.head.step()) {
      h.seq = st_.head.int64(0);
      const bool ok = from_hex32(st_.head.text(1), h.hash);
      st_.head.reset();
      if (!ok)
        throw std::runtime_error("the last audit record (seq " + std::to_string(h.seq) +
                                 ") has a malformed hash; run `odrgw audit verify`");
    } else {
      st_.head.reset();
    }
    return h;
  }

  // Appends one audit record at head.seq + 1 and advances head.
  void insert_audit(chain_head& head, const std::string& recorded_at, std::string_view kind,
                    std::string_view partner, std::string_view message_id, std::string_view case_id,
                    std::string_view data_json) {
    const std::int64_t seq = head.seq + 1;
    const std::string canonical =
        audit_canonical_text(seq, recorded_at, kind, partner, message_id, case_id, data_json);
    const digest h = chain_hash(head.hash, canonical);
    st_.insert_audit.bind(1, seq)
        .bind(2, recorded_at)
        .bind(3, kind)
        .bind(4, partner)
        .bind(5, message_id)
        .bind(6, case_id)
        .bind(7, data_json)
        .bind(8, to_hex(head.hash))
        .bind(9, to_hex(h));
    st_.insert_audit.run();
    head.seq = seq;
    head.hash = h;
  }

  void execute(audit_job& j, chain_head& head) {
    audit_record r;
    r.recorded_at = format_utc_ms(clock::now());
    r.prev_hash = to_hex(head.hash);
    insert_audit(head, r.recorded_at, j.e.kind, j.e.partner, j.e.message_id, j.e.case_id,
                 j.e.data_json);
    r.seq = head.seq;
    r.hash = to_hex(head.hash);
    r.entry = j.e;  // copied: the batch may run again after another job's failure
    j.result = std::move(r);
  }

  void execute(probe_job& j, chain_head&) {
    st_.set_meta.bind(1, std::string_view("ready_probe")).bind(2, format_utc_ms(clock::now()));
    st_.set_meta.run();
    j.result.clear();
  }

  static std::string receipt_json(const receipt& r, bool with_hash) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("receiptId");
    write_string(w, r.receipt_id);
    w.Key("messageId");
    write_string(w, r.message_id);
    w.Key("caseId");
    write_string(w, r.case_id);
    w.Key("proceedingId");
    write_string(w, r.proceeding_id);
    w.Key("receivedAt");
    write_string(w, r.received_at);
    w.Key("auditSeq");
    w.Int64(r.audit_seq);
    if (with_hash) {
      w.Key("auditHash");
      write_string(w, r.audit_hash);
    }
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
  }

  static receipt parse_receipt(std::string_view text) {
    rapidjson::Document d;
    schemas::json_error err;
    if (!schemas::parse_json(text, d, internal_json_limits(), err) || !d.IsObject())
      throw std::runtime_error("stored receipt is not valid JSON");
    receipt r;
    r.receipt_id = string_member(d, "receiptId");
    r.message_id = string_member(d, "messageId");
    r.case_id = string_member(d, "caseId");
    r.proceeding_id = string_member(d, "proceedingId");
    r.received_at = string_member(d, "receivedAt");
    if (auto s = d.FindMember("auditSeq"); s != d.MemberEnd() && s->value.IsInt64())
      r.audit_seq = s->value.GetInt64();
    r.audit_hash = string_member(d, "auditHash");
    return r;
  }

  // The stored message under (sender, messageId): its body hash and receipt, if any.
  std::optional<std::pair<std::string, std::string>> find_stored(std::int64_t key,
                                                                 const std::string& sender,
                                                                 const std::string& message_id) {
    std::vector<std::int64_t> rows;
    idem_.rows_of(key, [&](std::int64_t row) { rows.push_back(row); });
    st_.idem_find.bind(1, key);
    while (st_.idem_find.step()) rows.push_back(st_.idem_find.int64(0));
    st_.idem_find.reset();
    for (const std::int64_t row : rows) {
      st_.idem_message.bind(1, row);
      std::optional<std::pair<std::string, std::string>> found;
      if (st_.idem_message.step() && st_.idem_message.text(0) == sender &&
          st_.idem_message.text(1) == message_id)
        found.emplace(st_.idem_message.str(2), st_.idem_message.str(3));
      st_.idem_message.reset();
      if (found) return found;
    }
    return std::nullopt;
  }

  // Moves waiting keys into the table, in the current transaction, and records the new low mark.
  void flush_idempotency(const std::vector<idempotency_buffer::entry>& keys) {
    for (const auto& [key, row] : keys) {
      st_.idem_insert.bind(1, key).bind(2, row);
      st_.idem_insert.run();
    }
    const std::int64_t low = idem_.low();
    if (low != idem_low_written_) {
      st_.set_meta.bind(1, std::string_view("idempotency_low")).bind(2, std::to_string(low));
      st_.set_meta.run();
      idem_low_written_ = low;
    }
  }

  // At start: the keys of message rows from the low mark on that the table lacks wait again.
  void recover_idempotency() {
    stmt high(wdb_, "SELECT coalesce(max(id), 0) FROM messages");
    high.step();
    idem_.saw_row(high.int64(0));
    high = stmt();
    stmt low(wdb_, "SELECT value FROM meta WHERE key = 'idempotency_low'");
    std::int64_t from = 0;
    if (low.step()) {
      const std::string v = low.str(0);
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), from);
      if (ec != std::errc() || end != v.data() + v.size() || from < 0)
        from = 0;  // unreadable: every message row is checked (slower start, same result)
    }
    low = stmt();
    idem_low_written_ = from;
    stmt rows(wdb_,
              "SELECT id, sender_party, message_id FROM messages "
              "WHERE id >= ? AND sender_party <> 'odrgw' ORDER BY id");
    stmt present(wdb_, "SELECT 1 FROM idempotency WHERE key_hash = ? AND message_row = ?");
    rows.bind(1, from);
    while (rows.step()) {
      const std::int64_t key = idempotency_hash(rows.text(1), rows.text(2));
      present.bind(1, key).bind(2, rows.int64(0));
      const bool in_table = present.step();
      present.reset();
      if (!in_table) idem_.restore(key, rows.int64(0));
    }
    idem_pending_ = idem_.size();
  }

  // At close: every waiting key into the table (if this fails, the next start recovers them).
  void flush_all_idempotency() {
    if (idem_.size() == 0) return;
    try {
      st_.begin.run();
      flush_idempotency(idem_.take_all());
      st_.commit.run();
      idem_.committed();
    } catch (const std::exception&) {
      if (in_transaction()) wdb_.try_exec("ROLLBACK");
      try {
        idem_.rolled_back();
      } catch (...) {  // closing anyway: the next start recovers the keys
      }
    }
    idem_pending_ = idem_.size();
  }

  void execute(store_job& j, chain_head& head) {
    const inbound_message& m = j.m;
    store_result res;

    // Idempotency: (sender, messageId) seen before?
    const std::int64_t key = idempotency_hash(m.sender_party, m.message_id);
    if (auto seen = find_stored(key, m.sender_party, m.message_id)) {
      if (seen->first == m.body_sha256) {
        res.status = store_status::replay;
        res.rec = parse_receipt(seen->second);
      } else {
        res.status = store_status::conflict;
      }
      j.result = std::move(res);
      return;
    }

    const auto now = clock::now();
    const std::string received_at = format_utc_ms(now);
    receipt& rec = res.rec;
    case_record current;
    case_change change;
    bool routed = false;
    rec.message_id = m.message_id;
    rec.proceeding_id = m.proceeding_id.empty() ? j.canonical.proceeding_id : m.proceeding_id;
    if (m.case_id.empty()) {
      const int year = utc_year(now);
      if (head.case_year != year) {
        st_.next_case_number.bind(1, std::int64_t{year});
        st_.next_case_number.step();
        head.next_case = st_.next_case_number.int64(0);
        st_.next_case_number.reset();
        head.case_year = year;
      }
      const std::int64_t number = head.next_case;
      char id[48];
      std::snprintf(id, sizeof id, "ODR-%04d-%06lld", year, static_cast<long long>(number));
      rec.case_id = id;
      if (opts_.logic) {
        change = opts_.logic->on_message(nullptr, rec.case_id, m);
        if (change.refuse) {
          res.status = store_status::refused;
          res.refused = std::move(change.why);
          j.result = std::move(res);
          return;  // nothing inserted: the case number is not used
        }
        routed = true;
      }
      st_.insert_case.bind(1, rec.case_id)
          .bind(2, std::int64_t{year})
          .bind(3, number)
          .bind(4, received_at);
      st_.insert_case.run();
      head.next_case = number + 1;
      if (routed) {
        st_.set_originator.bind(1, m.sender_party).bind(2, change.facts_json).bind(3, rec.case_id);
        st_.set_originator.run();
      }
      if (rec.proceeding_id.empty()) rec.proceeding_id = rec.case_id + "-P1";
    } else {
      st_.read_case.bind(1, m.case_id);
      const bool known = st_.read_case.step();
      if (known) {
        current.case_id = m.case_id;
        current.status_json = st_.read_case.str(0);
        current.originator = st_.read_case.str(1);
        current.provider = st_.read_case.str(2);
        current.facts_json = st_.read_case.str(3);
      }
      st_.read_case.reset();
      if (!known) {
        res.status = store_status::unknown_case;
        j.result = std::move(res);
        return;
      }
      rec.case_id = m.case_id;
      // A case stored before the state machine (or by a storage without one) is left alone.
      if (opts_.logic && !current.status_json.empty()) {
        change = opts_.logic->on_message(&current, rec.case_id, m);
        if (change.refuse) {
          res.status = store_status::refused;
          res.refused = std::move(change.why);
          j.result = std::move(res);
          return;
        }
        routed = true;
      }
    }
    if (routed && !change.proceeding_id.empty()) rec.proceeding_id = change.proceeding_id;
    rec.receipt_id = j.receipt_id;
    rec.received_at = received_at;
    rec.audit_seq = head.seq + 1;

    std::string data = j.audit_prefix;
    if (data.size() > 1) data += ',';
    data += "\"receipt\":";
    data += receipt_json(rec, false);
    data += '}';
    insert_audit(head, received_at, "inbound", m.sender_party, m.message_id, rec.case_id, data);
    rec.audit_hash = to_hex(head.hash);

    st_.insert_message.bind(1, m.sender_party)
        .bind(2, m.message_id)
        .bind(3, m.message_type)
        .bind(4, rec.case_id)
        .bind(5, rec.proceeding_id)
        .bind(6, m.body_sha256)
        .bind(7, j.canonical.assemble(rec.case_id, rec.proceeding_id))
        .bind(8, received_at)
        .bind(9, rec.audit_seq)
        .bind(10, receipt_json(rec, true));
    st_.insert_message.run();
    const std::int64_t row = sqlite3_last_insert_rowid(wdb_.get());
    idem_.add(key, row);

    for (const std::string* party : std::initializer_list<const std::string*>{
             &m.sender_party, &j.canonical.envelope_sender, &j.canonical.envelope_recipient}) {
      if (party->empty()) continue;
      st_.insert_party.bind(1, rec.case_id).bind(2, *party);
      st_.insert_party.run();
    }
    if (routed)
      res.queued = apply_change(head, rec.case_id, change, row, m.message_id, m.message_type, now);
    res.status = store_status::stored;
    j.result = std::move(res);
  }

  // Writes what the case logic decided: the gateway's own messages (each with its audit record),
  // the audit records it asked for, the outbox rows and the case's new status. `row`,
  // `message_id` and `message_type` are the inbound message's (row 0 for a timer). Returns the
  // number of outbox rows queued.
  std::size_t apply_change(chain_head& head, const std::string& case_id, case_change& change,
                           std::int64_t row, const std::string& message_id,
                           const std::string& message_type, clock::time_point now) {
    const std::string at = format_utc_ms(now);
    for (auto& e : change.audits)
      insert_audit(head, at, e.kind, e.partner, e.message_id, case_id,
                   e.data_json.empty() ? std::string_view("{}") : std::string_view(e.data_json));
    std::size_t queued = 0;
    std::vector<std::int64_t> emitted_rows;
    for (const auto& em : change.emitted) {
      std::string data = "{\"messageType\":";
      data += member_fragment("x", em.message_type).substr(4);
      if (!em.cause_json.empty()) {
        data += ",\"cause\":";
        data += em.cause_json;
      }
      data += '}';
      insert_audit(head, at, "emitted", em.sender_party, em.message_id, case_id, data);
      receipt r;
      r.message_id = em.message_id;
      r.case_id = case_id;
      r.proceeding_id = em.proceeding_id;
      r.received_at = at;
      r.audit_seq = head.seq;
      r.audit_hash = to_hex(head.hash);
      const digest body = sha256(em.canonical_json);
      st_.insert_message.bind(1, em.sender_party)
          .bind(2, em.message_id)
          .bind(3, em.message_type)
          .bind(4, case_id)
          .bind(5, em.proceeding_id)
          .bind(6, to_hex(body))
          .bind(7, em.canonical_json)
          .bind(8, at)
          .bind(9, head.seq)
          .bind(10, receipt_json(r, true));
      st_.insert_message.run();
      emitted_rows.push_back(sqlite3_last_insert_rowid(wdb_.get()));
    }
    if (!change.provider.empty()) {
      st_.insert_party.bind(1, case_id).bind(2, change.provider);
      st_.insert_party.run();
    }
    for (const auto& d : change.deliveries) {
      std::int64_t r = row;
      std::string mid = message_id, type = message_type;
      if (d.which == delivery_ref::what::emitted) {
        if (d.index >= change.emitted.size()) continue;
        r = emitted_rows[d.index];
        mid = change.emitted[d.index].message_id;
        type = change.emitted[d.index].message_type;
      } else if (d.which == delivery_ref::what::application) {
        st_.first_application.bind(1, case_id);
        const bool found = st_.first_application.step();
        if (found) {
          r = st_.first_application.int64(0);
          mid = st_.first_application.str(1);
          type = st_.first_application.str(2);
        }
        st_.first_application.reset();
        if (!found) continue;
      }
      if (r == 0) continue;
      st_.insert_outbox.bind(1, case_id)
          .bind(2, d.recipient)
          .bind(3, r)
          .bind(4, mid)
          .bind(5, type)
          .bind(6, at)
          .bind(7, at);
      st_.insert_outbox.run();
      queued++;
    }
    st_.update_case.bind(1, change.state).bind(2, change.status_json);
    if (change.next_due.empty())
      st_.update_case.bind_null(3);
    else
      st_.update_case.bind(3, change.next_due);
    st_.update_case.bind(4, change.provider).bind(5, case_id);
    st_.update_case.run();
    return queued;
  }

  void execute(timer_job& j, chain_head& head) {
    j.result = 0;
    if (!opts_.logic) return;
    const auto now = opts_.logic->now();
    std::vector<case_record> due;
    st_.due_cases.bind(1, format_utc_ms(now)).bind(2, static_cast<std::int64_t>(j.limit));
    while (st_.due_cases.step())
      due.push_back({st_.due_cases.str(0), st_.due_cases.str(1), st_.due_cases.str(2),
                     st_.due_cases.str(3), st_.due_cases.str(4)});
    st_.due_cases.reset();
    for (const auto& c : due) {
      if (c.status_json.empty()) continue;
      case_change change = opts_.logic->on_timers(c);
      if (change.refuse) continue;
      // Records and outbox rows carry real time (the case clock may run faster).
      apply_change(head, c.case_id, change, 0, {}, {}, clock::now());
      j.result++;
    }
  }

  void execute(delivery_job& j, chain_head& head) {
    j.result = false;
    st_.outbox_row.bind(1, j.a.outbox_id);
    if (!st_.outbox_row.step()) {
      st_.outbox_row.reset();
      return;
    }
    const std::string case_id = st_.outbox_row.str(0), recipient = st_.outbox_row.str(1),
                      message_id = st_.outbox_row.str(2);
    st_.outbox_row.reset();
    const std::string at = format_utc_ms(clock::now());
    const std::string status = j.a.outcome == "retry" ? "pending" : j.a.outcome;
    st_.update_outbox.bind(1, status)
        .bind(2, j.a.outcome == "retry" ? j.a.next_attempt_at : at)
        .bind(3, std::int64_t{j.a.http_status})
        .bind(4, j.a.error)
        .bind(5, j.a.outcome == "retry" ? std::string() : at)
        .bind(6, j.a.outbox_id);
    st_.update_outbox.run();
    if (sqlite3_changes(wdb_.get()) == 0) return;  // not pending any more (retried elsewhere)
    insert_audit(head, at, "delivery", recipient, message_id, case_id, j.a.audit_json);
    j.result = true;
  }

  void execute(retry_job& j, chain_head& head) {
    j.result = false;
    const std::string at = format_utc_ms(clock::now());
    st_.retry_outbox.bind(1, at).bind(2, j.id);
    st_.retry_outbox.run();
    if (sqlite3_changes(wdb_.get()) == 0) return;
    st_.outbox_row.bind(1, j.id);
    st_.outbox_row.step();
    const std::string case_id = st_.outbox_row.str(0), recipient = st_.outbox_row.str(1),
                      message_id = st_.outbox_row.str(2);
    st_.outbox_row.reset();
    std::string data = "{\"outboxId\":" + std::to_string(j.id) + ",\"by\":";
    data += member_fragment("x", j.by).substr(4);
    data += '}';
    insert_audit(head, at, "outbox-retry", recipient, message_id, case_id, data);
    j.result = true;
  }

  // ---- readers ----

  class reader {
   public:
    explicit reader(sqlite_storage& s) : s_(s) {
      {
        std::lock_guard l(s_.readers_mu_);
        if (!s_.readers_.empty()) {
          d_ = std::move(s_.readers_.back());
          s_.readers_.pop_back();
          return;
        }
      }
      d_ = db(s_.opts_.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
      configure_connection(d_);
    }
    ~reader() {
      if (!d_) return;
      if (sqlite3_get_autocommit(d_.get()) == 0) d_.try_exec("ROLLBACK");
      std::lock_guard l(s_.readers_mu_);
      if (!s_.closed_flag_.load() && s_.readers_.size() < 8) s_.readers_.push_back(std::move(d_));
    }
    reader(const reader&) = delete;
    reader& operator=(const reader&) = delete;
    db& get() { return d_; }

   private:
    sqlite_storage& s_;
    db d_;
  };

  sqlite_options opts_;
  db wdb_;
  statements st_;
  std::thread writer_;

  // WAL checkpoints. Left to SQLite (wal_autocheckpoint), every 1000th page would make one commit
  // copy the WAL into the database and fsync it while its batch waits: a latency spike for every
  // request in it. Instead the writer's WAL hook wakes a checkpointer thread with its own
  // connection (a PASSIVE checkpoint runs concurrently with commits).
  //
  // A concurrent checkpoint never catches up with a busy writer, so the WAL would never restart
  // and every commit would append to a growing file: then each fdatasync also commits the file's
  // new size to the ext4 journal, ~7 ms instead of ~0.3-1.5 ms for overwriting blocks the file
  // already has (measured on this machine). So once the checkpointer has copied the bulk, the
  // writer checkpoints the short remainder itself between two batches: the WAL is then fully
  // copied, the next write transaction restarts it at its beginning, and the commits overwrite
  // the same file again (journal_size_limit keeps that file bounded). Past the hard limit (the
  // checkpointer is stuck or too slow) the writer checkpoints in full itself.
  static constexpr int soft_checkpoint_frames = 1000;  // 16 MB of 16 KiB pages
  static constexpr int hard_checkpoint_frames = 8000;  // 128 MB
  static int wal_hook(void* self, sqlite3* d, const char*, int frames) {
    auto* s = static_cast<sqlite_storage*>(self);
    if (frames >= hard_checkpoint_frames) {
      sqlite3_wal_checkpoint_v2(d, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      return SQLITE_OK;
    }
    if (frames < soft_checkpoint_frames) return SQLITE_OK;
    bool tail = false;
    {
      std::lock_guard l(s->ckpt_mu_);
      if (s->ckpt_busy_) return SQLITE_OK;  // the checkpointer is copying: commits go on
      if (s->ckpt_passes_ != s->ckpt_passes_seen_) {
        // It has copied the bulk since the last restart: the writer finishes the job.
        s->ckpt_passes_seen_ = s->ckpt_passes_;
        tail = true;
      } else {
        s->ckpt_wanted_ = true;
      }
    }
    if (tail) {
      sqlite3_wal_checkpoint_v2(d, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      s->tail_checkpoints_++;
    } else {
      s->ckpt_cv_.notify_one();
    }
    return SQLITE_OK;
  }
  void checkpoint_loop() {
    db c;
    for (;;) {
      {
        std::unique_lock l(ckpt_mu_);
        ckpt_cv_.wait(l, [this] { return ckpt_wanted_ || ckpt_stop_; });
        if (ckpt_stop_) return;
        ckpt_wanted_ = false;
        ckpt_busy_ = true;
      }
      try {
        if (!c) {
          c = db(opts_.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
          configure_connection(c);
        }
        sqlite3_wal_checkpoint_v2(c.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        checkpoints_++;
      } catch (const std::exception&) {
        // Retried on the next wake-up; the hard limit in the writer is the backstop.
      }
      std::lock_guard l(ckpt_mu_);
      ckpt_busy_ = false;
      ckpt_passes_++;
    }
  }
  std::thread checkpointer_;
  int wal_fd_ = -1;  // the WAL file, for the syncer's fdatasync; -1: the writer syncs (FULL)
  std::thread syncer_;
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::vector<pending_batch> sync_queue_;
  bool sync_stop_ = false;
  std::atomic<bool> sync_broken_{false};
  std::atomic<bool> idem_broken_{false};
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_wanted_ = false, ckpt_stop_ = false, ckpt_busy_ = false;
  std::uint64_t ckpt_passes_ = 0, ckpt_passes_seen_ = 0;  // under ckpt_mu_
  std::atomic<std::uint64_t> tail_checkpoints_{0};
  std::atomic<std::uint64_t> checkpoints_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<job> queue_;
  bool stopping_ = false;
  std::once_flag close_once_;

  std::mutex readers_mu_;
  std::vector<db> readers_;
  std::atomic<bool> closed_flag_{false};

  idempotency_buffer idem_;            // the writer's
  std::int64_t idem_low_written_ = 0;  // the low mark as the database has it (-1: unsure)
  std::atomic<std::uint64_t> idem_pending_{0};
  std::atomic<std::uint64_t> commits_{0}, jobs_{0}, failed_batches_{0}, largest_batch_{0};
  std::atomic<std::uint64_t> write_ns_{0}, syncs_{0}, sync_ns_{0};
};

}  // namespace

std::string canonical_parts::assemble(std::string_view case_id,
                                      std::string_view proceeding_id_value) const {
  std::string out;
  out.reserve(text.size() + case_id.size() + proceeding_id_value.size() + 40);
  out += '{';
  bool first = true;
  for (const span& m : members) {
    if (m.what == span::kind::member) {
      if (!first) out += ',';
      out.append(text, m.begin, m.end - m.begin);
    } else {
      const bool is_case = m.what == span::kind::case_slot;
      const std::string_view v = is_case ? case_id : proceeding_id_value;
      if (v.empty()) continue;
      if (!first) out += ',';
      out += member_fragment(is_case ? "caseId" : "proceedingId", v);
    }
    first = false;
  }
  out += '}';
  return out;
}

bool split_canonical(const rapidjson::Value& doc, canonical_parts& out) {
  out = canonical_parts{};
  if (!doc.IsObject()) return false;
  using kind = canonical_parts::span::kind;
  constexpr std::size_t none = std::string::npos;
  std::size_t case_slot = none, proceeding_slot = none;
  std::size_t at_spec = none, at_type = none, at_id = none;
  // One Writer over the whole object (minus the two ids): each member's bytes are what a Writer
  // of that member alone would write, so the spans can be joined in any selection.
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  bool first = true;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    const std::string_view name(it->name.GetString(), it->name.GetStringLength());
    if (name == "caseId" && case_slot == none) {
      case_slot = out.members.size();
      out.members.push_back({0, 0, kind::case_slot});
      continue;
    }
    if (name == "proceedingId" && proceeding_slot == none) {
      proceeding_slot = out.members.size();
      out.members.push_back({0, 0, kind::proceeding_slot});
      if (it->value.IsString())
        out.proceeding_id.assign(it->value.GetString(), it->value.GetStringLength());
      continue;
    }
    if (name == "specVersion") at_spec = out.members.size();
    if (name == "messageType") at_type = out.members.size();
    if (name == "messageId") at_id = out.members.size();
    const std::size_t begin = sb.GetSize() + (first ? 0 : 1);  // after the Writer's comma
    w.Key(it->name.GetString(), it->name.GetStringLength());
    it->value.Accept(w);
    if (sb.GetSize() > UINT32_MAX) throw std::length_error("canonical message too large");
    out.members.push_back({static_cast<std::uint32_t>(begin),
                           static_cast<std::uint32_t>(sb.GetSize()), kind::member});
    first = false;
  }
  w.EndObject();
  out.text.assign(sb.GetString(), sb.GetSize());
  // Missing slots go where the envelope puts them: caseId after specVersion (or messageType,
  // messageId), proceedingId right after caseId.
  auto insert_slot = [&out](std::size_t at, kind k) {
    out.members.insert(out.members.begin() + static_cast<std::ptrdiff_t>(at), {0, 0, k});
    return at;
  };
  const std::size_t anchor = at_spec != none ? at_spec : at_type != none ? at_type : at_id;
  if (case_slot == none) {
    case_slot = insert_slot(anchor == none ? 0 : anchor + 1, kind::case_slot);
    if (proceeding_slot != none && proceeding_slot >= case_slot) ++proceeding_slot;
  }
  if (proceeding_slot == none) insert_slot(case_slot + 1, kind::proceeding_slot);
  if (auto s = doc.FindMember("sender"); s != doc.MemberEnd())
    out.envelope_sender = string_member(s->value, "partyId");
  if (auto r = doc.FindMember("recipient"); r != doc.MemberEnd())
    out.envelope_recipient = string_member(r->value, "partyId");
  return true;
}

std::unique_ptr<storage> open_sqlite(const sqlite_options& options) {
  return std::make_unique<sqlite_storage>(options);
}

}  // namespace odrgw::gateway
