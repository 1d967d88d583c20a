#pragma once
// paypal-disputes-v1: PayPal's Customer Disputes API v1 (dispute objects, CUSTOMER.DISPUTE.*
// webhook events and the request bodies of make-offer, accept-offer, deny-offer, send-message,
// provide-evidence, escalate, appeal, accept-claim) <-> ODR Interchange v1. The mapping table is
// docs/adapters/paypal.md; the dialect's JSON Schema is
// adapters/dialects/paypal-disputes-v1/paypal-disputes-v1.schema.json, embedded in the binary.
#include <array>
#include <memory>
#include <string>
#include <string_view>

#include <odrgw/adapters/adapter.hpp>

namespace odrgw::adapters {

// Deployment facts PayPal does not carry but v1 requires; each use is written into the
// message's free text so the reader sees that it is a default, not PayPal's data.
struct paypal_options {
  std::string default_country = "US";   // Address.country of a party PayPal gives none for
  std::string default_language = "en";  // DisputeApplication.languages
};

class paypal_disputes_v1 final : public adapter {
 public:
  // The operations `context.operation` may name. "dispute" is a dispute object (GET
  // /v1/customer/disputes/{id}), "webhook" a CUSTOMER.DISPUTE.* event; the others are request
  // bodies POSTed to /v1/customer/disputes/{id}/<operation>. An empty operation is read from
  // the document: a webhook event or a dispute object.
  static constexpr std::array<std::string_view, 10> operations = {
      "dispute",      "webhook",          "make-offer", "accept-offer", "deny-offer",
      "send-message", "provide-evidence", "escalate",   "appeal",       "accept-claim"};

  // Throws std::runtime_error at start-up when the embedded dialect schema does not load.
  explicit paypal_disputes_v1(std::shared_ptr<const schemas::schema_set> set,
                              paypal_options options = {});
  ~paypal_disputes_v1() override;

  std::string_view id() const noexcept override { return "paypal-disputes-v1"; }
  schemas::encoding encoding() const noexcept override { return schemas::encoding::json; }
  std::string_view description() const noexcept override {
    return "PayPal Customer Disputes API v1: disputes, webhooks and request bodies";
  }
  std::span<const std::string> inbound_types() const noexcept override;
  std::span<const std::string> outbound_types() const noexcept override;

  using adapter::from_canonical;
  using adapter::to_canonical;
  bool to_canonical(std::string_view bytes, const context& ctx, rapidjson::Document& out,
                    schemas::report& r) const override;
  bool from_canonical(const rapidjson::Value& message, const context& ctx, std::string& out,
                      schemas::report& r) const override;

  // The dialect's JSON Schema (draft-07) as embedded.
  static std::string_view schema_text() noexcept;
  // Checks `doc` against the dialect definition for `operation` (see `operations`, plus
  // "dispute-out": the dispute object from_canonical writes, which need not name a reason);
  // appends issues to `r`. Returns false, with a report entry, for an unknown operation.
  bool validate_dialect(std::string_view operation, const rapidjson::Value& doc,
                        schemas::report& r) const;
  // The fixed namespace of the derived messageIds (Boost.UUID name_generator_sha1).
  static constexpr std::string_view message_id_namespace = "e7abc15b-3307-47d1-a69c-c10755817bad";

  struct impl;

 private:
  std::unique_ptr<const impl> impl_;
};

}  // namespace odrgw::adapters
