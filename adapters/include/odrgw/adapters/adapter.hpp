#pragma once
// Adapters translate between a partner's dialect and the canonical ODR Interchange v1 message.
// They are pure and synchronous (bytes in, value or report out), immutable and shared by all
// threads; nothing here opens a socket or a file.
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <odrgw/schemas/json.hpp>
#include <odrgw/schemas/report.hpp>
#include <odrgw/schemas/validator.hpp>

namespace odrgw::adapters {

// What a translation may need that the dialect's bytes do not say. The canonical dialects need
// none of it; a platform dialect such as PayPal's builds the v1 envelope from it. Views: the
// caller keeps the strings alive for the call.
struct context {
  // The partner the message comes from (to_canonical) or goes to (from_canonical), as registered
  // at the gateway, and its role (v1 Role: "merchant", "platform", "odr-provider", ...).
  std::string_view partner_id;
  std::string_view partner_role;
  // The other end of an inbound message when the dialect names none: the gateway's own party.
  std::string_view gateway_party_id = "odrgw";
  std::string_view gateway_party_role = "gateway";
  // The dialect operation when the body alone does not say what it is (PayPal: "make-offer",
  // "accept-offer", ...; in the gateway the `operation` query parameter).
  std::string_view operation;
  // The dialect's own reference for the case when the body lacks it (PayPal: the dispute id of
  // the URL the body was posted to; query parameter `reference`).
  std::string_view reference;
  // The canonical caseId, when the caller knows it (query parameter `caseId`).
  std::string_view case_id;
  // The sender's idempotency key (header Idempotency-Key or PayPal-Request-Id): an adapter that
  // must invent a messageId derives it from this, so a retry maps to the same messageId.
  std::string_view request_id;
  // When the message arrived (RFC 3339); sentAt for dialects that carry no time of their own.
  std::string_view received_at;
};

class adapter {
 public:
  virtual ~adapter() = default;
  virtual std::string_view id() const noexcept = 0;  // the dialect id, e.g. "canonical-xml"
  virtual schemas::encoding encoding() const noexcept = 0;
  virtual std::string_view description() const noexcept = 0;
  // The v1 message types this dialect can deliver to the gateway (to_canonical) and receive from
  // it (from_canonical), in v1 order.
  virtual std::span<const std::string> inbound_types() const noexcept = 0;
  virtual std::span<const std::string> outbound_types() const noexcept = 0;

  // Dialect bytes -> canonical message. The input is checked against the dialect's own schema
  // first and the result against the canonical schema; on failure `r` says where and why.
  virtual bool to_canonical(std::string_view bytes, const context& ctx, rapidjson::Document& out,
                            schemas::report& r) const = 0;
  // Canonical message (already valid) -> dialect bytes, checked against the dialect's schema.
  virtual bool from_canonical(const rapidjson::Value& message, const context& ctx, std::string& out,
                              schemas::report& r) const = 0;

  // The same without context, for dialects that need none.
  bool to_canonical(std::string_view bytes, rapidjson::Document& out, schemas::report& r) const {
    return to_canonical(bytes, context{}, out, r);
  }
  bool from_canonical(const rapidjson::Value& message, std::string& out, schemas::report& r) const {
    return from_canonical(message, context{}, out, r);
  }
};

// The adapters a process uses: the built-in ones, listed explicitly (no static
// self-registration), plus any added at start-up (mapping-file dialects).
class registry {
 public:
  static registry builtin(std::shared_ptr<const schemas::schema_set> set);
  // Adds an adapter; throws std::invalid_argument when its id is taken.
  void add(std::unique_ptr<adapter> a);
  const adapter* find(std::string_view id) const noexcept;
  const std::vector<std::unique_ptr<adapter>>& all() const noexcept { return adapters_; }

 private:
  std::vector<std::unique_ptr<adapter>> adapters_;
};

// Dialect -> canonical -> dialect. Returns false with the report of the stage that failed.
bool translate(const adapter& from, const adapter& to, std::string_view input,
               const context& from_ctx, const context& to_ctx, std::string& output,
               schemas::report& r);
inline bool translate(const adapter& from, const adapter& to, std::string_view input,
                      std::string& output, schemas::report& r) {
  return translate(from, to, input, context{}, context{}, output, r);
}

}  // namespace odrgw::adapters
