#pragma once
// The ODR Interchange v1 information model, read from the one source of truth
// (schemas/v1/odr-interchange-v1.json). From it come the per-message-type JSON Schemas, the XSDs,
// the compiled validator and the JSON <-> XML mapping, so the encodings cannot drift apart.
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <odrgw/schemas/formats.hpp>

namespace re2 {
class RE2;
}

namespace odrgw::schemas {

enum class value_type { object, array, string, integer, boolean };
std::string_view to_string(value_type t) noexcept;

struct node;

struct property {
  std::string name;
  const node* schema = nullptr;
  bool required = false;
  bool personal_data = false;  // marked on the property, or on the definition it refers to
  std::string description;
};

struct regex_deleter {
  void operator()(re2::RE2* re) const noexcept;
};

// One schema of the supported subset (see schemas/README.md), with its constraints resolved.
struct node {
  value_type type = value_type::string;
  std::string definition;      // name under #/definitions, or empty for an inline schema
  std::string source_pointer;  // where it was read in the source, for error messages
  std::string description;
  std::string clause;
  bool personal_data = false;

  // object
  std::vector<property> properties;  // schema order; always closed (additionalProperties: false)
  // array
  const node* items = nullptr;
  std::optional<std::uint64_t> min_items, max_items;
  bool unique_items = false;
  std::string xml_item = "item";
  // string
  std::vector<std::string> enum_values;       // schema order
  std::vector<std::string_view> enum_sorted;  // for binary search
  std::optional<std::string> const_value;
  std::optional<std::uint64_t> min_length, max_length;  // in Unicode code points
  std::string pattern;
  std::unique_ptr<re2::RE2, regex_deleter> regex;
  std::optional<formats::format_kind> format;
  // integer
  std::optional<std::int64_t> minimum, maximum;

  const property* find_property(std::string_view name) const noexcept;
  bool enum_contains(std::string_view v) const noexcept;
  bool pattern_matches(std::string_view v) const noexcept;
};

struct message_def {
  std::string type;  // e.g. "dispute.application"
  std::string payload_definition;
  std::string clause;
  std::string description;
  bool case_id_required = true;
  const node* root = nullptr;  // the envelope with this type's payload
};

class model_error : public std::runtime_error {
 public:
  model_error(std::string pointer, const std::string& what)
      : std::runtime_error(pointer.empty() ? what : pointer + ": " + what),
        pointer_(std::move(pointer)) {}
  const std::string& pointer() const noexcept { return pointer_; }

 private:
  std::string pointer_;
};

class model {
 public:
  // Reads and checks the source document; throws model_error naming the offending place.
  static std::unique_ptr<const model> load(std::string_view source_json);

  std::string_view spec_version() const noexcept { return spec_version_; }
  std::string_view xml_namespace() const noexcept { return xml_namespace_; }
  std::string_view id() const noexcept { return id_; }
  const std::vector<message_def>& messages() const noexcept { return messages_; }
  const message_def* find(std::string_view message_type) const noexcept;
  const node* envelope() const noexcept { return envelope_; }

  // The self-contained draft-07 JSON Schema of one message type (envelope + payload, with the
  // definitions it uses), as pretty-printed JSON.
  std::string json_schema(const message_def& m) const;
  // The equivalent XML Schema 1.0 of one message type (root element <message>).
  std::string xsd(const message_def& m) const;

  const std::string& source() const noexcept { return source_; }

 private:
  model() = default;
  friend class model_builder;

  std::string source_;
  std::string spec_version_;
  std::string xml_namespace_;
  std::string id_;
  std::deque<node> nodes_;  // stable addresses: nodes point at each other
  std::vector<message_def> messages_;
  const node* envelope_ = nullptr;
};

// Counts Unicode code points in valid UTF-8 (JSON Schema and XSD lengths count characters).
std::size_t utf8_length(std::string_view s) noexcept;

}  // namespace odrgw::schemas
