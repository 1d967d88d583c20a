#pragma once
// Canonical ODR Interchange v1 in its two encodings. The XML mapping is derived from the model
// (schemas/README.md): root <message> in the v1 namespace, one element per property in schema
// order, arrays as a wrapper element holding one x-odr-xml-item element per item. Lossless: a
// round trip returns an equal document.
#include <memory>

#include <odrgw/adapters/adapter.hpp>

namespace odrgw::adapters {

class canonical_json final : public adapter {
 public:
  explicit canonical_json(std::shared_ptr<const schemas::schema_set> set) : set_(std::move(set)) {}
  std::string_view id() const noexcept override { return "canonical-json"; }
  schemas::encoding encoding() const noexcept override { return schemas::encoding::json; }
  std::string_view description() const noexcept override {
    return "ODR Interchange v1, JSON encoding (the canonical form)";
  }
  bool to_canonical(std::string_view bytes, rapidjson::Document& out,
                    schemas::report& r) const override;
  bool from_canonical(const rapidjson::Value& message, std::string& out,
                      schemas::report& r) const override;

 private:
  std::shared_ptr<const schemas::schema_set> set_;
};

class canonical_xml final : public adapter {
 public:
  explicit canonical_xml(std::shared_ptr<const schemas::schema_set> set) : set_(std::move(set)) {}
  std::string_view id() const noexcept override { return "canonical-xml"; }
  schemas::encoding encoding() const noexcept override { return schemas::encoding::xml; }
  std::string_view description() const noexcept override {
    return "ODR Interchange v1, XML encoding (XSD generated from the same model)";
  }
  bool to_canonical(std::string_view bytes, rapidjson::Document& out,
                    schemas::report& r) const override;
  bool from_canonical(const rapidjson::Value& message, std::string& out,
                      schemas::report& r) const override;

  // The mapping alone, without validation: for callers that validated already.
  bool json_to_xml(const rapidjson::Value& message, const schemas::message_def& m, std::string& out,
                   schemas::report& r) const;
  bool xml_to_json(_xmlDoc* doc, const schemas::message_def& m, rapidjson::Document& out,
                   schemas::report& r) const;

 private:
  std::shared_ptr<const schemas::schema_set> set_;
};

}  // namespace odrgw::adapters
