// `odrgw audit verify` and `odrgw audit export`: one streaming pass over the audit table in seq
// order, inside one read transaction (a consistent snapshot even while the gateway writes).
// What is hashed is defined in storage_internal.hpp / docs/audit.md.
#include <memory>
#include <optional>

#include <odrgw/gateway/pii.hpp>
#include <odrgw/gateway/storage.hpp>

#include "storage_internal.hpp"

namespace odrgw::gateway {
namespace {

using namespace detail;

constexpr const char* select_columns =
    "SELECT seq, recorded_at, kind, partner, message_id, case_id, data_json, prev_hash, hash "
    "FROM audit";

// Read transaction for the whole pass, ended on scope exit.
struct read_txn {
  db& d;
  explicit read_txn(db& x) : d(x) { d.exec("BEGIN", "begin read transaction"); }
  ~read_txn() { d.try_exec("COMMIT"); }
  read_txn(const read_txn&) = delete;
  read_txn& operator=(const read_txn&) = delete;
};

bool text_columns(const stmt& s) {
  for (int c = 1; c <= 8; ++c)
    if (s.is_null(c)) return false;
  return true;
}

verify_result bad(std::int64_t records, std::int64_t seq, std::string problem) {
  verify_result r;
  r.intact = false;
  r.records = records;
  r.first_bad_seq = seq;
  r.problem = std::move(problem);
  return r;
}

}  // namespace

verify_result verify_audit(const std::string& sqlite_path) {
  db d = open_for_audit(sqlite_path);
  read_txn txn(d);

  // The newest message's receipt names an audit record (seq and hash): a witness outside the audit
  // table, so that cutting records off the end of the log is noticed too.
  std::optional<std::int64_t> anchor_seq;
  std::string anchor_hash, anchor_message;
  try {
    stmt m(d, "SELECT audit_seq, receipt, message_id FROM messages ORDER BY id DESC LIMIT 1");
    if (m.step()) {
      anchor_seq = m.int64(0);
      anchor_message = m.str(2);
      rapidjson::Document r;
      schemas::json_error err;
      if (schemas::parse_json(m.text(1), r, internal_json_limits(), err) && r.IsObject()) {
        auto h = r.FindMember("auditHash");
        if (h != r.MemberEnd() && h->value.IsString()) anchor_hash = h->value.GetString();
      }
    }
  } catch (const std::exception&) {
    // No messages table (or unreadable): verify the chain alone.
  }

  stmt s(d, (std::string(select_columns) + " ORDER BY seq").c_str());
  digest prev{};  // 32 zero bytes before the first record
  std::int64_t expected = 1;
  std::int64_t records = 0;
  while (s.step()) {
    const std::int64_t seq = s.int64(0);
    if (seq != expected) {
      if (seq < expected)
        return bad(records, seq,
                   "unexpected sequence number " + std::to_string(seq) + " (the log starts at 1)");
      return bad(records, expected,
                 seq == expected + 1
                     ? "deleted: record " + std::to_string(expected) +
                           " is missing (the next record is " + std::to_string(seq) + ")"
                     : "deleted: records " + std::to_string(expected) + " to " +
                           std::to_string(seq - 1) + " are missing");
    }
    if (!text_columns(s)) return bad(records, seq, "altered: a field is NULL");
    digest stored_prev{}, stored_hash{};
    if (!from_hex32(s.text(7), stored_prev))
      return bad(records, seq, "altered: prev_hash is not 64 hex digits");
    if (!from_hex32(s.text(8), stored_hash))
      return bad(records, seq, "altered: hash is not 64 hex digits");
    if (stored_prev != prev)
      return bad(records, seq,
                 seq == 1 ? "altered: the first record's prev_hash is not 64 zeros"
                          : "chain broken: prev_hash is not the hash of record " +
                                std::to_string(seq - 1) +
                                " (records were deleted, inserted or reordered here)");
    rapidjson::Document data;
    schemas::json_error err;
    if (!schemas::parse_json(s.text(6), data, internal_json_limits(), err))
      return bad(records, seq, "altered: data_json is not valid JSON (" + err.message + ")");
    const std::string canonical =
        audit_canonical(seq, s.text(1), s.text(2), s.text(3), s.text(4), s.text(5), data);
    const digest h = chain_hash(prev, canonical);
    if (h != stored_hash)
      return bad(records, seq,
                 "altered: the record's content does not match its hash (seq, recordedAt, kind, "
                 "partner, messageId, caseId or data changed)");
    if (anchor_seq && seq == *anchor_seq && !anchor_hash.empty() && anchor_hash != to_hex(h))
      return bad(records, seq,
                 "rewritten: the hash differs from the receipt given for message " +
                     anchor_message + " (the log was recomputed from here on)");
    prev = h;
    ++expected;
    ++records;
  }
  if (anchor_seq && *anchor_seq > records)
    return bad(records, records + 1,
               "truncated: the log ends at record " + std::to_string(records) + " but message " +
                   anchor_message + "'s receipt names record " + std::to_string(*anchor_seq));
  verify_result r;
  r.intact = true;
  r.records = records;
  return r;
}

void export_audit(const std::string& sqlite_path, const export_options& options,
                  const std::function<void(const std::string& line)>& out,
                  const std::string& pii_key_file) {
  std::string since;
  if (!options.since.empty()) {
    auto n = normalise_rfc3339(options.since);
    if (!n)
      throw std::runtime_error("since: '" + options.since +
                               "' is not an RFC 3339 date-time (e.g. 2026-09-02T09:14:27Z) or "
                               "date (2026-09-02)");
    since = *n;
  }
  std::optional<pii_key> key;
  if (!pii_key_file.empty()) key = pii_key::load(pii_key_file);

  db d = open_for_audit(sqlite_path);
  read_txn txn(d);
  std::string sql = select_columns;
  std::vector<std::string> where;
  if (!options.case_id.empty()) where.emplace_back("case_id = ?");
  if (!since.empty()) where.emplace_back("recorded_at >= ?");
  for (std::size_t i = 0; i < where.size(); ++i) sql += (i == 0 ? " WHERE " : " AND ") + where[i];
  sql += " ORDER BY seq";
  stmt s(d, sql.c_str());
  int param = 1;
  if (!options.case_id.empty()) s.bind(param++, options.case_id);
  if (!since.empty()) s.bind(param++, since);

  while (s.step()) {
    rapidjson::Document line(rapidjson::kObjectType);
    auto& a = line.GetAllocator();
    auto str = [&](int col) {
      const std::string_view v = s.text(col);
      return rapidjson::Value(v.data(), static_cast<rapidjson::SizeType>(v.size()), a);
    };
    line.AddMember("seq", s.int64(0), a);
    line.AddMember("recordedAt", str(1), a);
    line.AddMember("kind", str(2), a);
    line.AddMember("partner", str(3), a);
    line.AddMember("messageId", str(4), a);
    line.AddMember("caseId", str(5), a);
    rapidjson::Document data;
    schemas::json_error err;
    if (schemas::parse_json(s.text(6), data, internal_json_limits(), err)) {
      reveal(data, data.GetAllocator(), key ? &*key : nullptr);
      line.AddMember("data", rapidjson::Value(data, a), a);
    } else {
      line.AddMember("data", rapidjson::Value(rapidjson::kNullType), a);
      line.AddMember("dataError", rapidjson::Value(err.message.c_str(), a), a);
    }
    line.AddMember("prevHash", str(7), a);
    line.AddMember("hash", str(8), a);
    out(compact(line));
  }
}

}  // namespace odrgw::gateway
