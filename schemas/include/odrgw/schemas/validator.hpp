#pragma once
// Validation of ODR Interchange v1 messages (the built-in schema set) and of any user-supplied
// JSON Schema (draft-04/07) or XSD. Results are reports; nothing here throws on bad input.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <odrgw/schemas/json.hpp>
#include <odrgw/schemas/model.hpp>
#include <odrgw/schemas/report.hpp>
#include <odrgw/schemas/xml.hpp>

namespace odrgw::schemas {

struct validate_options {
  std::string message_type;  // empty: the document's own messageType picks the schema
  json_limits json;
  xml_limits xml;
};

// The ODR Interchange v1 schemas: each composed, compiled and parsed once, then shared read-only
// by every thread.
class schema_set {
 public:
  // The set embedded in the binary at build time (built on first use, then cached).
  static std::shared_ptr<const schema_set> builtin();
  // A set from another source document (the override directory); throws model_error.
  static std::shared_ptr<const schema_set> from_source(std::string_view source_json);
  // Loads `dir`/odr-interchange-v1.json; throws model_error or std::runtime_error.
  static std::shared_ptr<const schema_set> from_directory(const std::string& dir);

  const schemas::model& model() const noexcept { return *model_; }

  // Detects the encoding, parses under limits and validates against the message type's schema.
  report validate(std::string_view bytes, const validate_options& opts = {}) const;

  // On an already parsed JSON message; `type` empty: read messageType. Appends to `r`.
  void validate_json(const rapidjson::Value& message, std::string_view type, report& r) const;
  // On an already parsed XML message; `type` empty: read the messageType element.
  void validate_xml(_xmlDoc* doc, std::string_view type, report& r) const;

  // Published texts (for `odrgw schemas export` and GET /v1/schemas/...); nullptr if unknown.
  const std::string* json_schema_text(std::string_view type) const noexcept;
  const std::string* xsd_text(std::string_view type) const noexcept;

 private:
  struct entry {
    const message_def* def = nullptr;
    std::string json_schema;
    std::string xsd_text;
    std::unique_ptr<xsd_schema> xsd;
  };
  explicit schema_set(std::unique_ptr<const schemas::model> m);
  const entry* find(std::string_view type) const noexcept;

  std::unique_ptr<const schemas::model> model_;
  std::vector<entry> entries_;
};

// Validates `value` against one model node (the compiled fast path), appending issues whose
// locations are JSON pointers below `pointer`.
void validate_node(const node& schema, const rapidjson::Value& value, std::string& pointer,
                   report& r);

// A JSON Schema (draft-04 or draft-07) run through valijson, with its two traps removed: `format`
// and `pattern` are checked by odrgw's own checkers and RE2 (no std::regex, no abort).
class json_schema_validator {
 public:
  // Returns nullptr and a clear `error` for schemas valijson cannot handle (they never abort).
  static std::unique_ptr<json_schema_validator> load(std::string_view schema_json,
                                                     std::string& error);
  ~json_schema_validator();
  json_schema_validator(const json_schema_validator&) = delete;
  json_schema_validator& operator=(const json_schema_validator&) = delete;

  // Thread-safe. Appends issues with JSON pointer locations and keyword rules.
  void validate(const rapidjson::Value& instance, report& r) const;

 private:
  json_schema_validator();
  struct impl;
  std::unique_ptr<impl> impl_;
};

// A schema a user hands to `odrgw validate --schema`: JSON Schema or XSD, detected from content.
class user_schema {
 public:
  static std::unique_ptr<user_schema> load(std::string_view text, const std::string& path,
                                           std::string& error);
  report validate(std::string_view bytes, const validate_options& opts = {}) const;
  encoding kind() const noexcept { return kind_; }

 private:
  encoding kind_ = encoding::json;
  std::unique_ptr<json_schema_validator> json_;
  std::unique_ptr<xsd_schema> xsd_;
};

}  // namespace odrgw::schemas
