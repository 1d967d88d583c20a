#pragma once
// Internal helpers shared by the SQLite storage, the audit tools and the PII code: SQLite RAII
// wrappers, hex/SHA-256/UUID/time helpers and the audit chain's canonical serialisation (the one
// definition that both the writer and `verify_audit` use, documented in docs/audit.md).
#include <sqlite3.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <odrgw/schemas/json.hpp>

#include "util.hpp"

namespace odrgw::gateway::detail {

// ---- the audit chain -------------------------------------------------------------------------

// The canonical serialisation that is hashed: compact JSON, keys in this fixed order, strings
// escaped as RapidJSON's Writer does, `data` written by RapidJSON's Writer from the parsed data.
std::string audit_canonical(std::int64_t seq, std::string_view recorded_at, std::string_view kind,
                            std::string_view partner, std::string_view message_id,
                            std::string_view case_id, const rapidjson::Value& data);

// Limits for re-reading JSON the gateway produced itself (stored messages, audit data): the
// input limits would refuse a valid 1 MiB message once its personal data is sealed (base64).
inline schemas::json_limits internal_json_limits() {
  schemas::json_limits l;
  l.max_bytes = 256u << 20;
  l.max_string_bytes = 256u << 20;
  l.max_depth = 128;
  return l;
}

// Compact serialisation of a parsed JSON value (RapidJSON Writer).
std::string compact(const rapidjson::Value& v);

// ---- SQLite ----------------------------------------------------------------------------------

class sqlite_error : public std::runtime_error {
 public:
  sqlite_error(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
  int code() const noexcept { return code_; }

 private:
  int code_;
};

class db {
 public:
  db() = default;
  // Throws sqlite_error naming the path and sqlite3_errmsg.
  db(const std::string& path, int flags);
  ~db();
  db(db&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  db& operator=(db&& o) noexcept;
  db(const db&) = delete;
  db& operator=(const db&) = delete;

  sqlite3* get() const noexcept { return h_; }
  explicit operator bool() const noexcept { return h_ != nullptr; }
  std::string errmsg() const { return h_ ? sqlite3_errmsg(h_) : "no database"; }
  // Runs one or more statements; throws sqlite_error "<context>: <errmsg>".
  void exec(const char* sql, const char* context = nullptr);
  // Like exec but returns false instead of throwing.
  bool try_exec(const char* sql) noexcept;
  void close() noexcept;

 private:
  sqlite3* h_ = nullptr;
};

class stmt {
 public:
  stmt() = default;
  stmt(const db& d, const char* sql);
  ~stmt();
  stmt(stmt&& o) noexcept : s_(o.s_), db_(o.db_) { o.s_ = nullptr; }
  stmt& operator=(stmt&& o) noexcept;
  stmt(const stmt&) = delete;
  stmt& operator=(const stmt&) = delete;

  stmt& bind(int i, std::string_view text);
  stmt& bind(int i, std::int64_t v);
  stmt& bind_null(int i);
  // true: a row is available; false: done. Throws sqlite_error on failure.
  bool step();
  // Runs a statement that returns no rows, then resets it.
  void run();
  void reset() noexcept;

  std::int64_t int64(int col) const noexcept { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const noexcept { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string_view text(int col) const noexcept;
  std::string str(int col) const { return std::string(text(col)); }

 private:
  sqlite3_stmt* s_ = nullptr;
  sqlite3* db_ = nullptr;
};

// Opens an existing odrgw database for the audit tools (verify/export): read-only, busy timeout,
// checks that the audit table exists. Throws std::runtime_error with the path and the reason.
db open_for_audit(const std::string& path);

}  // namespace odrgw::gateway::detail
