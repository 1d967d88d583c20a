#pragma once
// The outbox's delivery workers (docs/routing.md "Deliveries", docs/operations.md). Rows of the
// outbox are written by storage in the transaction that changes the case; these workers deliver
// them at least once:
//   - each message rendered in the recipient's dialect from the stored canonical message
//     (personal data opened for the recipient), checked by the adapter before it is sent;
//   - POSTed to the partner's callback_url with Idempotency-Key / ODR-Message-Id = messageId (the
//     receiver de-duplicates), ODR-Case-Id, ODR-Message-Type and ODR-Signature (HMAC-SHA256 over
//     timestamp + body, docs/callbacks.md) when the partner has a callback secret;
//   - 2xx: delivered. Transport failure, 408, 425, 429, 5xx: retried after an exponential backoff
//     with jitter. Any other 4xx, or a message the dialect cannot express: dead at once (sending
//     the same bytes again cannot help). After max_attempts: dead. `odrgw outbox retry` revives.
//   - at most per_partner_concurrency deliveries in flight per partner; one case's messages to
//     one partner in order (storage hands out the next only after the previous is settled);
//   - every attempt and its answer in the audit log (kind "delivery"), in one transaction with
//     the outbox row's new state.
#include <memory>

#include <odrgw/gateway/config.hpp>
#include <odrgw/gateway/storage.hpp>

namespace odrgw::adapters {
class registry;
}  // namespace odrgw::adapters
namespace odrgw::schemas {
class schema_set;
}  // namespace odrgw::schemas

namespace odrgw::gateway {

class pii_key;

class delivery_engine {
 public:
  // Everything referenced must outlive the engine. Starts its threads.
  delivery_engine(const config& cfg, storage& store, const adapters::registry& adapters,
                  std::shared_ptr<const schemas::schema_set> set, const pii_key& key);
  ~delivery_engine();  // stop()
  delivery_engine(const delivery_engine&) = delete;
  delivery_engine& operator=(const delivery_engine&) = delete;

  // New work may be due (after a commit that queued deliveries): look now, not at the next poll.
  void poke();
  // Stops taking work, lets attempts in flight finish (bounded by the attempt timeout), joins.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace odrgw::gateway
