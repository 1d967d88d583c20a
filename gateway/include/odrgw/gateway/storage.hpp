#pragma once
// Durable storage behind an interface: SQLite (WAL) is the embedded default; PostgreSQL can
// implement the same interface later. No SQL leaves the implementation.
//
// Writes are group-committed: concurrent submissions are queued, one writer thread runs a batch in
// one transaction, commits it durably (the WAL fsynced, as synchronous=FULL would, by a syncer
// thread that overlaps the next batch), and only then completes each submission. A 2xx receipt
// is therefore never sent for data that is not on disk.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <odrgw/schemas/json.hpp>

namespace odrgw::gateway {

// The canonical message serialised once, on the intake's thread, with gaps where the caseId and
// proceedingId members go (storage fills them in when it knows the case): storage neither
// re-serialises nor re-parses the message. Made by split_canonical(); assembling it with the ids
// gives exactly RapidJSON Writer's compact output of the message with those members.
struct canonical_parts {
  // RapidJSON Writer's compact output of the message without its caseId/proceedingId members.
  std::string text;
  // The members in order: [begin, end) of each member's "name":value in `text`, or a slot.
  struct span {
    std::uint32_t begin = 0, end = 0;
    enum class kind : std::uint8_t { member, case_slot, proceeding_slot } what = kind::member;
  };
  std::vector<span> members;
  std::string proceeding_id;                        // proceedingId as the message carries it
  std::string envelope_sender, envelope_recipient;  // sender.partyId, recipient.partyId

  // The stored text: `text` with "caseId"/"proceedingId" members where the slots are (left out
  // when the id is empty).
  std::string assemble(std::string_view case_id, std::string_view proceeding_id_value) const;
};

// Splits a canonical message (a JSON object; anything else gives a part list that is not an
// object and `false`). The caseId slot is where the message has it, else after specVersion
// (or messageType, messageId); proceedingId where it is, else right after caseId.
bool split_canonical(const rapidjson::Value& message, canonical_parts& out);

// One accepted inbound message, as the intake hands it to storage.
struct inbound_message {
  std::string sender_party;    // the authenticated partner id: the idempotency scope
  std::string message_id;      // envelope messageId
  std::string message_type;    // envelope messageType
  std::string case_id;         // envelope caseId; empty for a new dispute.application
  std::string proceeding_id;   // envelope proceedingId, may be empty
  std::string body_sha256;     // hex SHA-256 of the request body as received
  std::string canonical_json;  // the canonical message, personal data already encrypted
  // Or, faster, the same message already split by split_canonical(): then canonical_json is not
  // read (the intake fills this one; tools and tests may use either).
  std::optional<canonical_parts> canonical;
  std::string audit_json;  // what the audit record holds about the request (JSON object):
                           // method, target, partner, headers without secrets, verdict
};

struct receipt {
  std::string receipt_id;  // UUID
  std::string message_id;
  std::string case_id;
  std::string proceeding_id;
  std::string received_at;  // RFC 3339 UTC, millisecond precision
  std::int64_t audit_seq = 0;
  std::string audit_hash;  // hex
};

enum class store_status {
  stored,        // new: message, case and audit record committed together
  replay,        // same sender + messageId + body: `rec` is the original receipt, nothing written
  conflict,      // same sender + messageId, different body: nothing written
  unknown_case,  // caseId given but no such case: nothing written
  failed,        // storage error: nothing acknowledged (`error` says why)
};

struct store_result {
  store_status status = store_status::failed;
  receipt rec;
  std::string error;
};

// One audit record to append outside a message store (a rejected request, a response, later a
// delivery attempt).
struct audit_entry {
  std::string kind;        // inbound | rejected | response | delivery | ...
  std::string partner;     // may be empty (unauthenticated)
  std::string message_id;  // may be empty
  std::string case_id;     // may be empty
  std::string data_json;   // a JSON object; personal data already encrypted
};

struct audit_record {
  std::int64_t seq = 0;
  std::string recorded_at;
  audit_entry entry;
  std::string prev_hash;  // hex; 64 zeros for the first record
  std::string hash;       // hex SHA-256(prev_hash bytes || canonical serialisation)
};

struct case_message {
  std::string message_id;
  std::string sender_party;
  std::string message_type;
  std::string received_at;
  std::string canonical_json;  // as stored (personal data encrypted)
};

struct case_view {
  std::string case_id;
  std::string created_at;
  std::string state;                 // "filed" until routing (later issue) moves it
  std::vector<std::string> parties;  // partner ids that sent or received messages of the case
  std::vector<case_message> messages;
};

struct verify_result {
  bool intact = false;
  std::int64_t records = 0;
  std::int64_t first_bad_seq = 0;  // when !intact
  std::string problem;             // when !intact: altered, deleted, reordered...
};

// Group-commit counters (for tests and metrics).
struct storage_stats {
  std::uint64_t commits = 0;         // batches committed durably
  std::uint64_t jobs = 0;            // stores and audit appends completed by those commits
  std::uint64_t failed_batches = 0;  // batches whose transaction failed (every job got `failed`)
  std::uint64_t largest_batch = 0;   // most jobs seen in one commit
  std::uint64_t checkpoints = 0;     // WAL checkpoint passes run (background and tail)
};

class storage {
 public:
  virtual ~storage() = default;
  // Queues a store; `done` runs on a storage thread after the durable commit (or failure).
  virtual void store_message(inbound_message m, std::function<void(store_result)> done) = 0;
  virtual void append_audit(audit_entry e,
                            std::function<void(std::optional<audit_record>)> done) = 0;
  // Blocking conveniences (CLI, tests). Never call them from a `done` callback (the writer
  // thread would wait for itself).
  store_result store_message_sync(inbound_message m);
  std::optional<audit_record> append_audit_sync(audit_entry e);

  // nullopt when the case is unknown (or the database cannot be read: ready() then says false).
  virtual std::optional<case_view> get_case(const std::string& case_id) = 0;
  // The database answers and accepts writes: a small real write (one `meta` row) goes through the
  // writer and is committed durably (batched with queued work, so it can block for one commit;
  // false after 5 s), and a read succeeds. `problem` says why not.
  virtual bool check_ready(std::string& problem) = 0;
  bool ready() {
    std::string problem;
    return check_ready(problem);
  }
  // Stops accepting work, drains the queue, closes the database. Later submissions complete at
  // once (on the caller's thread) as `failed` / nullopt.
  virtual void close() = 0;
  virtual storage_stats stats() const { return {}; }
};

struct sqlite_options {
  std::string path;             // created with its directory if missing
  std::size_t max_batch = 128;  // messages per group commit
};

// Opens (and migrates) the SQLite database. Throws std::runtime_error with a clear message.
std::unique_ptr<storage> open_sqlite(const sqlite_options& options);

// Audit tools (odrgw audit verify / export), reading the database directly (read-only, one
// streaming pass). Both throw std::runtime_error when the file cannot be opened or is not an odrgw
// database; export also for an invalid `since` or an unreadable key file. docs/audit.md.
verify_result verify_audit(const std::string& sqlite_path);
struct export_options {
  std::string case_id;  // empty: all
  std::string since;    // RFC 3339; empty: all
};
// Writes one JSON object per line; encrypted personal data shown as "[redacted]" unless a key
// is given, in which case it is decrypted.
void export_audit(const std::string& sqlite_path, const export_options& options,
                  const std::function<void(const std::string& line)>& out,
                  const std::string& pii_key_file = {});

}  // namespace odrgw::gateway
