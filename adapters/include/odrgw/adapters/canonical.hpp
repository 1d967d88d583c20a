#pragma once
// Canonical ODR Interchange v1 in its two encodings. The XML mapping is derived from the model
// (schemas/README.md): root <message> in the v1 namespace, one element per property in schema
// order, arrays as a wrapper element holding one x-odr-xml-item element per item. Lossless: a
// round trip returns an equal document.
#include <memory>

#include <odrgw/adapters/adapter.hpp>

namespace odrgw::adapters {

// Every message type of the set's model, in model order.
std::vector<std::string> all_types(const schemas::schema_set& set);

class canonical_json final : public adapter {
 public:
  explicit canonical_json(std::shared_ptr<const schemas::schema_set> set)
      : set_(std::move(set)), types_(all_types(*set_)) {}
  std::string_view id() const noexcept override { return "canonical-json"; }
  schemas::encoding encoding() const noexcept override { return schemas::encoding::json; }
  std::string_view description() const noexcept override {
    return "ODR Interchange v1, JSON encoding (the canonical form)";
  }
  std::span<const std::string> inbound_types() const noexcept override { return types_; }
  std::span<const std::string> outbound_types() const noexcept override { return types_; }
  using adapter::from_canonical;
  using adapter::to_canonical;
  bool to_canonical(std::string_view bytes, const context& ctx, rapidjson::Document& out,
                    schemas::report& r) const override;
  bool from_canonical(const rapidjson::Value& message, const context& ctx, std::string& out,
                      schemas::report& r) const override;

 private:
  std::shared_ptr<const schemas::schema_set> set_;
  std::vector<std::string> types_;
};

class canonical_xml final : public adapter {
 public:
  explicit canonical_xml(std::shared_ptr<const schemas::schema_set> set)
      : set_(std::move(set)), types_(all_types(*set_)) {}
  std::string_view id() const noexcept override { return "canonical-xml"; }
  schemas::encoding encoding() const noexcept override { return schemas::encoding::xml; }
  std::string_view description() const noexcept override {
    return "ODR Interchange v1, XML encoding (XSD generated from the same model)";
  }
  std::span<const std::string> inbound_types() const noexcept override { return types_; }
  std::span<const std::string> outbound_types() const noexcept override { return types_; }
  using adapter::from_canonical;
  using adapter::to_canonical;
  bool to_canonical(std::string_view bytes, const context& ctx, rapidjson::Document& out,
                    schemas::report& r) const override;
  bool from_canonical(const rapidjson::Value& message, const context& ctx, std::string& out,
                      schemas::report& r) const override;

  // The mapping alone, without validation: for callers that validated already.
  bool json_to_xml(const rapidjson::Value& message, const schemas::message_def& m, std::string& out,
                   schemas::report& r) const;
  bool xml_to_json(_xmlDoc* doc, const schemas::message_def& m, rapidjson::Document& out,
                   schemas::report& r) const;

 private:
  std::shared_ptr<const schemas::schema_set> set_;
  std::vector<std::string> types_;
};

}  // namespace odrgw::adapters
