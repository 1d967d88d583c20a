#pragma once
// Durable storage behind an interface: SQLite (WAL) is the embedded default; PostgreSQL can
// implement the same interface later. No SQL leaves the implementation.
//
// Writes are group-committed: concurrent submissions are queued, one writer thread runs a batch in
// one transaction, commits it durably (the WAL fsynced, as synchronous=FULL would, by a syncer
// thread that overlaps the next batch), and only then completes each submission. A 2xx receipt
// is therefore never sent for data that is not on disk.
#include <chrono>
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
  // The message in clear, for the case logic (never stored: canonical/canonical_json are what is
  // stored). May be null when the storage has no case logic.
  std::shared_ptr<const rapidjson::Document> plain;
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
  refused,       // the case logic refused it (the case's state does not allow it): nothing
                 // written; `refusal` says why and what is allowed
  failed,        // storage error: nothing acknowledged (`error` says why)
};

// Why the case logic refused a message, for the 409 problem+json.
struct refusal {
  int status = 409;
  std::string type = "state-conflict";  // problem type slug
  std::string title = "Not allowed in the case's state";
  std::string detail;
  std::string state;                     // the case's state
  std::vector<std::string> allowed_now;  // "type (by roles)"
};

struct store_result {
  store_status status = store_status::failed;
  receipt rec;
  std::string error;
  refusal refused;  // when status == refused
  // Outbox rows the message queued (stored only). The delivery engine is woken only then: a
  // wake-up per stored message kept it re-reading the outbox (~17% of the CPU under load).
  std::size_t queued = 0;
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
  std::string state;                 // the case state (v1 CaseState)
  std::string status_json;           // routing::case_status JSON; empty for a case without one
  std::string originator;            // the partner that filed the case
  std::string provider;              // the external provider the case is routed to, or ""
  std::vector<std::string> parties;  // partner ids that sent or received messages of the case
  std::vector<case_message> messages;
  bool more = false;  // get_case_page: messages follow the ones returned
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
  double write_seconds = 0;          // the writer's time running batches (BEGIN .. COMMIT)
  std::uint64_t syncs = 0;           // fdatasyncs of the WAL that acknowledged batches
  double sync_seconds = 0;           // their total duration
  // Partners' idempotency keys committed but not yet in their table (kept in memory, moved a
  // slice per batch; recovered from the messages at start).
  std::uint64_t idempotency_waiting = 0;
};

// ---- the case logic: the state machine, run inside the writer's transaction
// ----------------------
//
// Storage knows nothing of tiers or routes: it asks the case logic (gateway/src/case_logic.cpp)
// what a message or an expired timer does to a case, in the same transaction that stores the
// message, so two messages on one case are judged one after the other against the state each
// left, and the case change, the messages the gateway emits, the outbox rows and the audit records
// commit together or not at all.

// A case as the logic sees it.
struct case_record {
  std::string case_id;
  std::string status_json;  // routing::case_status JSON ("" for a case stored without logic)
  std::string originator;   // the partner that filed it
  std::string provider;     // the external provider it is routed to, or ""
  std::string facts_json;   // what routing rules look at (routing_facts), kept from the filing
};

// Which message a delivery carries.
struct delivery_ref {
  enum class what : std::uint8_t {
    this_message,  // the inbound message being stored
    emitted,       // emitted[index]
    application,   // the case's first dispute.application (a new provider needs the file)
  } which = what::this_message;
  std::size_t index = 0;
  std::string recipient;  // partner id
};

// A message the gateway itself emits (stage.changed, deadline.notice, outcome.notification of a
// lapse, case.closure): complete v1 JSON with its caseId, personal data already sealed.
struct emitted_message {
  std::string sender_party = "odrgw";  // the gateway's party id
  std::string message_id;
  std::string message_type;
  std::string proceeding_id;
  std::string canonical_json;
  std::string cause_json;  // what caused it, for its audit record (JSON object)
};

struct case_change {
  bool refuse = false;
  refusal why;                // when refuse
  std::string status_json;    // the case's new status
  std::string state;          // its v1 CaseState
  std::string next_due;       // when its next timer is due (RFC 3339 UTC), "" none
  std::string provider;       // the provider it is routed to now ("" none)
  std::string facts_json;     // set on a new case
  std::string proceeding_id;  // the proceeding the message belongs to (for the receipt)
  std::vector<emitted_message> emitted;
  std::vector<delivery_ref> deliveries;  // in delivery order
  std::vector<audit_entry> audits;       // e.g. the routing decision (case_id filled in by storage)
};

class case_logic {
 public:
  virtual ~case_logic() = default;
  // `current` is null for a new case (a dispute.application); `m.plain` is the message in clear.
  // Runs on the writer thread: no I/O, no blocking.
  virtual case_change on_message(const case_record* current, const std::string& case_id,
                                 const inbound_message& m) const = 0;
  // The case's timers that are due, fired.
  virtual case_change on_timers(const case_record& current) const = 0;
  // The clock the logic and the timers use (injectable for tests and demos).
  virtual std::chrono::system_clock::time_point now() const = 0;
};

// ---- the outbox ------------------------------------------------------------------------------

struct outbox_item {
  std::int64_t id = 0;
  std::string case_id;
  std::string recipient;  // partner id
  std::string message_id;
  std::string message_type;
  std::string sender_party;    // who sent the message ("odrgw" for the gateway's own)
  std::string canonical_json;  // the message as stored (personal data sealed)
  std::string created_at;
  std::string status;  // pending | delivered | dead
  int attempts = 0;
  std::string next_attempt_at;
  int last_status = 0;     // the receiver's last HTTP status, 0 none
  std::string last_error;  // the last failure, in words
  std::string done_at;     // when delivered or declared dead
  // The recipient's own reference for the case (the senderCaseRef of its first message on it,
  // e.g. a PayPal dispute id), which its dialect may need; "" when it has none.
  std::string recipient_reference;
};

// The result of one delivery attempt, recorded with its audit record in one transaction.
struct delivery_attempt {
  std::int64_t outbox_id = 0;
  std::string outcome;  // delivered | retry | dead
  int http_status = 0;
  std::string error;
  std::string next_attempt_at;  // when outcome == retry
  std::string audit_json;       // the audit record's data (JSON object)
};

struct outbox_filter {
  std::string status;  // "" all
  std::string case_id;
  std::string recipient;
  std::size_t limit = 100;
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
  // The same without `messages` (state, parties, provider): what the intake checks for every
  // message on an existing case, at a cost that does not grow with the case.
  virtual std::optional<case_view> get_case_header(const std::string& case_id) = 0;
  // The case with at most `limit` of its messages, from position `offset` (0: the first), in
  // the order they were stored; `more` says whether others follow.
  virtual std::optional<case_view> get_case_page(const std::string& case_id, std::size_t offset,
                                                 std::size_t limit) = 0;
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

  // ---- timers and the outbox (need the case logic) ----

  // Fires the timers due at the logic's now(), up to `limit` cases; `done` gets how many cases
  // changed (or -1 when the transaction failed).
  virtual void fire_timers(std::size_t limit, std::function<void(int)> done) = 0;
  int fire_timers_sync(std::size_t limit = 64);
  // The pending deliveries due at `now` (RFC 3339), oldest first, at most one per (recipient,
  // case) at a time: a receiver gets a case's messages in order.
  virtual std::vector<outbox_item> due_deliveries(const std::string& now, std::size_t limit) = 0;
  // Records an attempt's result and its audit record; `done(false)` when it did not commit.
  virtual void record_delivery(delivery_attempt a, std::function<void(bool)> done) = 0;
  bool record_delivery_sync(delivery_attempt a);
  virtual std::vector<outbox_item> list_outbox(const outbox_filter& f) = 0;
  virtual std::optional<outbox_item> get_outbox(std::int64_t id) = 0;
  // A dead delivery back to pending, due now, with its attempt count reset (audited). False when
  // no such item is dead.
  virtual bool retry_outbox(std::int64_t id, const std::string& by) = 0;
};

struct sqlite_options {
  sqlite_options() = default;
  // NOLINTNEXTLINE(google-explicit-constructor): open_sqlite({path}) reads well
  sqlite_options(std::string p, std::size_t batch = 128,
                 std::shared_ptr<const case_logic> l = nullptr)
      : path(std::move(p)), max_batch(batch), logic(std::move(l)) {}
  std::string path;             // created with its directory if missing
  std::size_t max_batch = 128;  // messages per group commit
  // The case logic; null: messages are stored without a state machine (tools and storage tests).
  std::shared_ptr<const case_logic> logic;
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
