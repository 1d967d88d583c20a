#include <cmath>
#include <fstream>
#include <mutex>
#include <sstream>

#include <libxml/tree.h>

#include <odrgw/embedded.hpp>
#include <odrgw/schemas/validator.hpp>

namespace odrgw::schemas {
namespace {

void add(report& r, std::string location, std::string rule, std::string message,
         std::size_t line = 0) {
  if (r.status == verdict::valid) r.status = verdict::invalid;
  if (r.errors.size() >= max_report_errors) {
    r.truncated = true;
    return;
  }
  r.errors.push_back({std::move(location), std::move(rule), std::move(message), line});
}

std::string quoted(std::string_view s) {
  constexpr std::size_t max = 64;  // echo enough of a bad value to recognise it, never all of it
  std::string out = "'";
  out += s.size() > max ? std::string(s.substr(0, max)) + "..." : std::string(s);
  return out + "'";
}

bool is_integer(const rapidjson::Value& v) {
  if (v.IsInt64() || v.IsUint64()) return true;
  // JSON Schema counts 1.0 as an integer.
  return v.IsDouble() && std::isfinite(v.GetDouble()) && std::floor(v.GetDouble()) == v.GetDouble();
}

std::string_view json_type_name(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "boolean";
    case rapidjson::kObjectType:
      return "object";
    case rapidjson::kArrayType:
      return "array";
    case rapidjson::kStringType:
      return "string";
    case rapidjson::kNumberType:
      return is_integer(v) ? "integer" : "number";
  }
  return "null";
}

bool type_matches(value_type t, const rapidjson::Value& v) {
  switch (t) {
    case value_type::object:
      return v.IsObject();
    case value_type::array:
      return v.IsArray();
    case value_type::string:
      return v.IsString();
    case value_type::integer:
      return v.IsNumber() && is_integer(v);
    case value_type::boolean:
      return v.IsBool();
  }
  return false;
}

void check_string(const node& n, std::string_view s, const std::string& pointer, report& r) {
  // Characters never outnumber bytes: count code points only when the byte length leaves doubt.
  const bool count = (n.max_length && s.size() > *n.max_length) ||
                     (n.min_length && s.size() >= *n.min_length && s.size() < 4 * *n.min_length);
  const std::size_t len = count ? utf8_length(s) : s.size();
  if (n.max_length && len > *n.max_length) {
    add(r, pointer, "maxLength",
        "string is " + std::to_string(len) + " characters; at most " +
            std::to_string(*n.max_length) + " allowed");
    return;  // the length guard comes first: no pattern or format work on oversized input
  }
  if (n.min_length && len < *n.min_length)
    add(r, pointer, "minLength",
        "string is " + std::to_string(utf8_length(s)) + " characters; at least " +
            std::to_string(*n.min_length) + " required");
  if (n.const_value && s != *n.const_value)
    add(r, pointer, "const", quoted(s) + " is not the required value " + quoted(*n.const_value));
  if (!n.enum_values.empty() && !n.enum_contains(s))
    add(r, pointer, "enum", quoted(s) + " is not one of the allowed values");
  if (n.regex && !n.pattern_matches(s))
    add(r, pointer, "pattern", quoted(s) + " does not match " + n.pattern);
  if (n.format && !formats::check(*n.format, s))
    add(r, pointer, "format",
        quoted(s) + " is not a valid " + std::string(formats::format_name(*n.format)));
}

void check_object(const node& n, const rapidjson::Value& v, std::string& pointer, report& r) {
  // Which declared properties were seen: a bit mask on the stack (no allocation per object);
  // the model keeps objects small, and larger ones fall back to a vector.
  const std::size_t count = n.properties.size();
  std::uint64_t seen_bits = 0;
  std::vector<bool> seen_vec(count > 64 ? count : 0, false);
  const std::size_t base = pointer.size();
  std::size_t next = 0;  // members usually come in schema order: try the next property first
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    std::string_view name(it->name.GetString(), it->name.GetStringLength());
    const property* p = next < count && n.properties[next].name == name ? &n.properties[next]
                                                                        : n.find_property(name);
    if (p == nullptr) {
      add(r, pointer, "additionalProperties", "property " + quoted(name) + " is not allowed here");
      continue;
    }
    const auto i = static_cast<std::size_t>(p - n.properties.data());
    next = i + 1;
    if (count > 64) {
      seen_vec[i] = true;
    } else {
      seen_bits |= std::uint64_t{1} << i;
    }
    append_pointer_token(pointer, name);
    validate_node(*p->schema, it->value, pointer, r);
    pointer.resize(base);
  }
  for (std::size_t i = 0; i < count; ++i) {
    const bool seen = count > 64 ? seen_vec[i] : ((seen_bits >> i) & 1) != 0;
    if (n.properties[i].required && !seen)
      add(r, pointer, "required", "missing required property '" + n.properties[i].name + "'");
  }
}

void check_array(const node& n, const rapidjson::Value& v, std::string& pointer, report& r) {
  const std::size_t size = v.Size();
  if (n.min_items && size < *n.min_items)
    add(r, pointer, "minItems",
        "array has " + std::to_string(size) + " items; at least " + std::to_string(*n.min_items) +
            " required");
  if (n.max_items && size > *n.max_items) {
    add(r, pointer, "maxItems",
        "array has " + std::to_string(size) + " items; at most " + std::to_string(*n.max_items) +
            " allowed");
    return;
  }
  if (n.unique_items) {
    for (rapidjson::SizeType i = 1; i < size; ++i)
      for (rapidjson::SizeType j = 0; j < i; ++j)
        if (v[i] == v[j]) {
          add(r, pointer, "uniqueItems",
              "items " + std::to_string(j) + " and " + std::to_string(i) + " are equal");
          i = static_cast<rapidjson::SizeType>(size);
          break;
        }
  }
  const std::size_t base = pointer.size();
  for (rapidjson::SizeType i = 0; i < size; ++i) {
    pointer += '/';
    pointer += std::to_string(i);
    validate_node(*n.items, v[i], pointer, r);
    pointer.resize(base);
  }
}

std::string file_contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const xmlNode* child_element(const xmlNode* parent, const char* name) {
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next)
    if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, reinterpret_cast<const xmlChar*>(name)))
      return c;
  return nullptr;
}

}  // namespace

void validate_node(const node& n, const rapidjson::Value& v, std::string& pointer, report& r) {
  if (!type_matches(n.type, v)) {
    add(r, pointer, "type",
        std::string(json_type_name(v)) + " found where " + std::string(to_string(n.type)) +
            " is required");
    return;
  }
  switch (n.type) {
    case value_type::object:
      check_object(n, v, pointer, r);
      break;
    case value_type::array:
      check_array(n, v, pointer, r);
      break;
    case value_type::string:
      check_string(n, {v.GetString(), v.GetStringLength()}, pointer, r);
      break;
    case value_type::integer: {
      // Compare as long double so that uint64 and fractional-looking integers stay exact enough.
      const long double x = v.IsInt64()    ? static_cast<long double>(v.GetInt64())
                            : v.IsUint64() ? static_cast<long double>(v.GetUint64())
                                           : static_cast<long double>(v.GetDouble());
      if (n.minimum && x < static_cast<long double>(*n.minimum))
        add(r, pointer, "minimum", "value is below the minimum " + std::to_string(*n.minimum));
      if (n.maximum && x > static_cast<long double>(*n.maximum))
        add(r, pointer, "maximum", "value is above the maximum " + std::to_string(*n.maximum));
      break;
    }
    case value_type::boolean:
      break;
  }
}

schema_set::schema_set(std::unique_ptr<const schemas::model> m) : model_(std::move(m)) {
  for (const auto& md : model_->messages()) {
    entry e;
    e.def = &md;
    e.json_schema = model_->json_schema(md);
    e.xsd_text = model_->xsd(md);
    std::string error;
    e.xsd = xsd_schema::compile(e.xsd_text, error);
    if (!e.xsd) throw model_error(md.type, "generated XSD does not compile: " + error);
    entries_.push_back(std::move(e));
  }
}

std::shared_ptr<const schema_set> schema_set::builtin() {
  static std::once_flag once;
  static std::shared_ptr<const schema_set> set;
  std::call_once(once, [] {
    for (const auto& f : embedded::schemas::files())
      if (f.path == "v1/odr-interchange-v1.json") set = from_source(f.data);
    if (!set) throw std::runtime_error("the embedded v1 schema source is missing");
  });
  return set;
}

std::shared_ptr<const schema_set> schema_set::from_source(std::string_view source_json) {
  return std::shared_ptr<const schema_set>(new schema_set(model::load(source_json)));
}

std::shared_ptr<const schema_set> schema_set::from_directory(const std::string& dir) {
  return from_source(file_contents(dir + "/odr-interchange-v1.json"));
}

const schema_set::entry* schema_set::find(std::string_view type) const noexcept {
  for (const auto& e : entries_)
    if (e.def->type == type) return &e;
  return nullptr;
}

const std::string* schema_set::json_schema_text(std::string_view type) const noexcept {
  const entry* e = find(type);
  return e ? &e->json_schema : nullptr;
}

const std::string* schema_set::xsd_text(std::string_view type) const noexcept {
  const entry* e = find(type);
  return e ? &e->xsd_text : nullptr;
}

void schema_set::validate_json(const rapidjson::Value& message, std::string_view type,
                               report& r) const {
  r.enc = encoding::json;
  std::string chosen(type);
  if (chosen.empty()) {
    if (!message.IsObject()) {
      add(r, "", "type",
          std::string(json_type_name(message)) +
              " found where a message object "
              "is required");
      return;
    }
    auto mt = message.FindMember("messageType");
    if (mt == message.MemberEnd()) {
      add(r, "", "required", "missing required property 'messageType' (it selects the schema)");
      return;
    }
    if (!mt->value.IsString()) {
      add(r, "/messageType", "type", "messageType must be a string");
      return;
    }
    chosen.assign(mt->value.GetString(), mt->value.GetStringLength());
  }
  r.message_type = chosen;
  const entry* e = find(chosen);
  if (e == nullptr) {
    add(r, type.empty() ? "/messageType" : "", "enum",
        quoted(chosen) + " is not an ODR Interchange v" + std::string(model_->spec_version()) +
            " message type");
    return;
  }
  std::string pointer;
  validate_node(*e->def->root, message, pointer, r);
}

void schema_set::validate_xml(_xmlDoc* doc, std::string_view type, report& r) const {
  r.enc = encoding::xml;
  const xmlNode* root = xmlDocGetRootElement(doc);
  if (root == nullptr) {
    add(r, "", "cvc-elt.1", "the document has no root element");
    return;
  }
  const bool ours =
      root->ns != nullptr &&
      std::string_view(reinterpret_cast<const char*>(root->ns->href)) == model_->xml_namespace();
  if (!ours || !xmlStrEqual(root->name, reinterpret_cast<const xmlChar*>("message"))) {
    add(r, xml_path(root), "cvc-elt.1",
        "the root element must be <message> in namespace " + std::string(model_->xml_namespace()),
        static_cast<std::size_t>(xmlGetLineNo(root)));
    return;
  }
  std::string chosen(type);
  if (chosen.empty()) {
    const xmlNode* mt = child_element(root, "messageType");
    if (mt == nullptr) {
      add(r, "/message", "cvc-complex-type.2.4.b",
          "missing child element messageType (it selects the schema)",
          static_cast<std::size_t>(xmlGetLineNo(root)));
      return;
    }
    xmlChar* text = xmlNodeGetContent(mt);
    chosen = text ? reinterpret_cast<const char*>(text) : "";
    xmlFree(text);
  }
  r.message_type = chosen;
  const entry* e = find(chosen);
  if (e == nullptr) {
    add(r, "/message/messageType", "cvc-enumeration-valid",
        quoted(chosen) + " is not an ODR Interchange v" + std::string(model_->spec_version()) +
            " message type");
    return;
  }
  if (!e->xsd->validate(doc, r.errors, r.truncated) && r.status == verdict::valid)
    r.status = verdict::invalid;
}

report schema_set::validate(std::string_view bytes, const validate_options& opts) const {
  report r;
  r.enc = detect_encoding(bytes);
  if (r.enc == encoding::json) {
    rapidjson::Document doc;
    json_error err;
    if (!parse_json(bytes, doc, opts.json, err)) {
      r.status = verdict::malformed;
      r.errors.push_back({err.location, err.rule, err.message, err.line});
      return r;
    }
    validate_json(doc, opts.message_type, r);
    return r;
  }
  issue err;
  xml_doc_ptr doc = parse_xml(bytes, opts.xml, err);
  if (!doc) {
    r.status = verdict::malformed;
    r.errors.push_back(std::move(err));
    return r;
  }
  validate_xml(doc.get(), opts.message_type, r);
  return r;
}

}  // namespace odrgw::schemas
