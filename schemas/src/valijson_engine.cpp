// valijson 1.0 behind a safe front: the schema is rewritten so that `format` and `pattern` are
// checked by odrgw (hand-written format checkers, RE2) instead of valijson's per-call std::regex,
// which costs ~1 ms, recurses (stack overflow on long strings) and aborts on non-string values.
// Exceptions are on in this file only, so a schema valijson cannot handle is an error, not abort().
#include <odrgw/schemas/json.hpp>  // must come first: our RAPIDJSON_ASSERT

#define VALIJSON_USE_EXCEPTIONS 1
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#include <valijson/adapters/rapidjson_adapter.hpp>
#include <valijson/constraint_builder.hpp>
#include <valijson/constraints/concrete_constraints.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
#pragma GCC diagnostic pop

#include <re2/re2.h>

#include <odrgw/schemas/formats.hpp>
#include <odrgw/schemas/validator.hpp>

namespace odrgw::schemas {
namespace {

constexpr const char* format_key = "x-odrgw-format";
constexpr const char* pattern_key = "x-odrgw-pattern";

class format_constraint : public valijson::constraints::PolyConstraint {
 public:
  explicit format_constraint(std::optional<formats::format_kind> kind) : kind_(kind) {}

  bool validate(const valijson::adapters::Adapter& target, const std::vector<std::string>& context,
                valijson::ValidationResults* results) const override {
    // Formats apply to strings only; unknown formats are annotations (draft-07 7.2).
    if (!kind_ || !target.isString()) return true;
    const std::string s = target.getString();
    if (formats::check(*kind_, s)) return true;
    if (results)
      results->pushError(context,
                         "format: not a valid " + std::string(formats::format_name(*kind_)));
    return false;
  }

 private:
  Constraint* cloneInto(void* mem) const override { return new (mem) format_constraint(*this); }
  size_t sizeOf() const override { return sizeof(format_constraint); }
  std::optional<formats::format_kind> kind_;
};

class pattern_constraint : public valijson::constraints::PolyConstraint {
 public:
  pattern_constraint(std::shared_ptr<const re2::RE2> re, std::string source)
      : re_(std::move(re)), source_(std::move(source)) {}

  bool validate(const valijson::adapters::Adapter& target, const std::vector<std::string>& context,
                valijson::ValidationResults* results) const override {
    if (!target.isString()) return true;
    const std::string s = target.getString();
    if (re2::RE2::PartialMatch(s, *re_)) return true;
    if (results) results->pushError(context, "pattern: does not match " + source_);
    return false;
  }

 private:
  Constraint* cloneInto(void* mem) const override { return new (mem) pattern_constraint(*this); }
  size_t sizeOf() const override { return sizeof(pattern_constraint); }
  std::shared_ptr<const re2::RE2> re_;
  std::string source_;
};

struct format_builder : valijson::ConstraintBuilder {
  valijson::constraints::Constraint* make(const valijson::adapters::Adapter& value) const override {
    if (!value.isString()) throw std::runtime_error("'format' must be a string");
    return new format_constraint(formats::parse_format_name(value.getString()));
  }
};

struct pattern_builder : valijson::ConstraintBuilder {
  valijson::constraints::Constraint* make(const valijson::adapters::Adapter& value) const override {
    if (!value.isString()) throw std::runtime_error("'pattern' must be a string");
    const std::string p = value.getString();
    re2::RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_shared<const re2::RE2>(p, opts);
    if (!re->ok())
      throw std::runtime_error("pattern '" + p +
                               "' is outside the linear-time regex syntax odrgw "
                               "accepts (no lookaround or backreferences): " +
                               re->error());
    return new pattern_constraint(std::move(re), p);
  }
};

// patternProperties stays with valijson's std::regex, which recurses per character of the member
// name: names are bounded instead where it applies (far below what overflows a thread's stack).
constexpr std::size_t max_pattern_key_bytes = 1024;

// Renames format/pattern in schema positions only: a property *named* "pattern" stays. Sets
// `pattern_properties` when the schema uses patternProperties anywhere.
void rewrite(rapidjson::Value& s, rapidjson::Document::AllocatorType& a, int depth,
             bool& pattern_properties) {
  if (depth > 200) throw std::runtime_error("schema nesting is too deep");
  if (!s.IsObject()) return;
  for (auto it = s.MemberBegin(); it != s.MemberEnd(); ++it) {
    std::string_view k(it->name.GetString(), it->name.GetStringLength());
    rapidjson::Value& v = it->value;
    if (k == "format") {
      it->name.SetString(format_key, a);
    } else if (k == "pattern") {
      it->name.SetString(pattern_key, a);
    } else if (k == "properties" || k == "patternProperties" || k == "definitions" ||
               k == "dependencies") {
      if (k == "patternProperties") pattern_properties = true;
      if (v.IsObject())
        for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m)
          rewrite(m->value, a, depth + 1, pattern_properties);
    } else if (k == "allOf" || k == "anyOf" || k == "oneOf" || k == "items") {
      if (v.IsArray()) {
        for (auto& e : v.GetArray()) rewrite(e, a, depth + 1, pattern_properties);
      } else {
        rewrite(v, a, depth + 1, pattern_properties);
      }
    } else if (k == "additionalItems" || k == "additionalProperties" || k == "not" ||
               k == "contains" || k == "propertyNames" || k == "if" || k == "then" || k == "else") {
      rewrite(v, a, depth + 1, pattern_properties);
    }
  }
}

// Resolves a local JSON pointer fragment ("#", "#/definitions/a") against the document.
const rapidjson::Value* resolve_fragment(const rapidjson::Value& root, std::string_view ref) {
  if (ref == "#") return &root;
  if (!ref.starts_with("#/")) return nullptr;
  const rapidjson::Value* cur = &root;
  std::size_t pos = 2;
  while (cur != nullptr) {
    const std::size_t end = std::min(ref.find('/', pos), ref.size());
    std::string token;
    for (std::size_t i = pos; i < end; ++i) {
      if (ref[i] == '~' && i + 1 < end && (ref[i + 1] == '0' || ref[i + 1] == '1')) {
        token += ref[++i] == '0' ? '~' : '/';
      } else if (ref[i] == '%') {
        return nullptr;  // percent-encoded pointers: rare, and valijson decodes them differently
      } else {
        token += ref[i];
      }
    }
    if (cur->IsObject()) {
      auto m = cur->FindMember(rapidjson::StringRef(token.data(), token.size()));
      cur = m == cur->MemberEnd() ? nullptr : &m->value;
    } else if (cur->IsArray()) {
      char* stop = nullptr;
      const unsigned long i = std::strtoul(token.c_str(), &stop, 10);
      cur = token.empty() || *stop != '\0' || i >= cur->Size()
                ? nullptr
                : &(*cur)[static_cast<rapidjson::SizeType>(i)];
    } else {
      cur = nullptr;
    }
    if (end == ref.size()) break;
    pos = end + 1;
  }
  return cur;
}

// valijson 1.0 recurses without end on some references it cannot resolve (an $id-scoped
// "a.json", a chain of $refs that loops) and needs a fetcher for remote ones. Only local
// JSON-pointer references that lead somewhere are handed to it.
void check_refs(const rapidjson::Value& root, const rapidjson::Value& v, int depth) {
  if (depth > 200) throw std::runtime_error("schema nesting is too deep");
  if (v.IsObject()) {
    if (auto r = v.FindMember("$ref"); r != v.MemberEnd() && r->value.IsString()) {
      const std::string ref(r->value.GetString(), r->value.GetStringLength());
      const rapidjson::Value* target = resolve_fragment(root, ref);
      if (target == nullptr)
        throw std::runtime_error("$ref '" + ref +
                                 "' is not a local JSON pointer (#/...) into "
                                 "this schema; remote and $id-scoped references are not supported");
      // Follow pure $ref chains: a loop of references never reaches a schema.
      for (int hops = 0; target->IsObject() && target->HasMember("$ref"); ++hops) {
        const auto& next = (*target)["$ref"];
        if (!next.IsString() || hops > 64) throw std::runtime_error("$ref '" + ref + "' loops");
        target = resolve_fragment(root, {next.GetString(), next.GetStringLength()});
        if (target == nullptr || target == &v)
          throw std::runtime_error("$ref '" + ref + "' loops or leads nowhere");
      }
    }
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it)
      if (it->name != "enum" && it->name != "const" && it->name != "examples" &&
          it->name != "default")
        check_refs(root, it->value, depth + 1);
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) check_refs(root, e, depth + 1);
  }
}

std::string rule_of(std::string_view d) {
  struct prefix {
    std::string_view text;
    const char* rule;
  };
  static constexpr prefix table[] = {
      {"format:", "format"},
      {"pattern:", "pattern"},
      {"Missing required property", "required"},
      {"Object contains a property that could not be validated", "additionalProperties"},
      {"Value type not permitted", "type"},
      {"Failed to match against any enum values", "enum"},
      {"Failed to match expected value set by 'const'", "const"},
      {"String should be no fewer than", "minLength"},
      {"String should be no more than", "maxLength"},
      {"Array should contain no fewer than", "minItems"},
      {"Array should contain no more than", "maxItems"},
      {"Elements at indexes", "uniqueItems"},
      {"Expected number greater than or equal to", "minimum"},
      {"Expected number greater than", "exclusiveMinimum"},
      {"Expected number less than or equal to", "maximum"},
      {"Expected number less than", "exclusiveMaximum"},
      {"Value should be a multiple of", "multipleOf"},
      {"Value could not be converted", "multipleOf"},
      {"Object should have no fewer than", "minProperties"},
      {"Object should have no more than", "maxProperties"},
      {"Failed to validate against any schemas allowed by anyOf", "anyOf"},
      {"Failed to validate against exactly one child schema", "oneOf"},
      {"Failed to validate against any child schemas allowed by oneOf", "oneOf"},
      {"Target should not validate", "not"},
      {"Missing dependency", "dependencies"},
      {"Failed to validate against dependent schema", "dependencies"},
      {"Failed to validate against a conditional schema", "if"},
      {"Failed to any values against subschema in 'contains'", "contains"},
      {"Array contains more items than allowed", "additionalItems"},
      {"Target value and comparison value are not equal", "const"},
  };
  for (const auto& p : table)
    if (d.starts_with(p.text)) return p.rule;
  return "schema";
}

// valijson reports a failing child again on every ancestor; the child's entry says it all.
bool is_wrapper(std::string_view d) {
  return d.starts_with("Failed to validate against schema associated with property name") ||
         d.starts_with("Failed to validate item #") ||
         d.starts_with("Failed to validate against child schema #") ||
         d.starts_with("Failed to validate against additional properties schema") ||
         d.starts_with("Failed to validate against schema associated with pattern") ||
         d.starts_with("Cannot validate item #");
}

// valijson's path is ["<root>", "[payload]", "[2]"]: the instance decides whether "2" is an
// index or a property name.
std::string to_pointer(const std::vector<std::string>& context, const rapidjson::Value& root) {
  std::string p;
  const rapidjson::Value* cur = &root;
  for (std::size_t i = 1; i < context.size(); ++i) {
    std::string_view seg = context[i];
    if (seg.size() >= 2 && seg.front() == '[' && seg.back() == ']')
      seg = seg.substr(1, seg.size() - 2);
    const rapidjson::Value* next = nullptr;
    if (cur != nullptr && cur->IsArray()) {
      char* end = nullptr;
      const std::string s(seg);
      const unsigned long idx = std::strtoul(s.c_str(), &end, 10);
      if (!s.empty() && *end == '\0' && idx < cur->Size())
        next = &(*cur)[static_cast<rapidjson::SizeType>(idx)];
    } else if (cur != nullptr && cur->IsObject()) {
      auto m = cur->FindMember(rapidjson::Value(rapidjson::StringRef(seg.data(), seg.size())));
      if (m != cur->MemberEnd()) next = &m->value;
    }
    append_pointer_token(p, seg);
    cur = next;
  }
  return p;
}

// Finds a member name longer than `max` bytes; returns its object's pointer. The depth is bounded
// by the parse limits, so plain recursion is fine here.
bool find_long_key(const rapidjson::Value& v, std::size_t max, std::string& pointer) {
  if (v.IsObject()) {
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it)
      if (it->name.GetStringLength() > max) return true;
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      const std::size_t base = pointer.size();
      append_pointer_token(pointer, {it->name.GetString(), it->name.GetStringLength()});
      if (find_long_key(it->value, max, pointer)) return true;
      pointer.resize(base);
    }
  } else if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      const std::size_t base = pointer.size();
      pointer += "/" + std::to_string(i);
      if (find_long_key(v[i], max, pointer)) return true;
      pointer.resize(base);
    }
  }
  return false;
}

}  // namespace

struct json_schema_validator::impl {
  rapidjson::Document doc;
  valijson::Schema schema;
  bool pattern_properties = false;
};

json_schema_validator::json_schema_validator() : impl_(std::make_unique<impl>()) {}
json_schema_validator::~json_schema_validator() = default;

std::unique_ptr<json_schema_validator> json_schema_validator::load(std::string_view text,
                                                                   std::string& error) {
  std::unique_ptr<json_schema_validator> v(new json_schema_validator());
  json_limits limits;
  limits.max_depth = 200;
  json_error jerr;
  if (!parse_json(text, v->impl_->doc, limits, jerr)) {
    error = "the schema is not valid JSON: " + jerr.message;
    return nullptr;
  }
  auto& doc = v->impl_->doc;
  if (!doc.IsObject() && !doc.IsBool()) {
    error = "a JSON Schema must be an object (or a boolean)";
    return nullptr;
  }
  auto version = valijson::SchemaParser::kDraft7;
  if (doc.IsObject()) {
    if (auto s = doc.FindMember("$schema"); s != doc.MemberEnd() && s->value.IsString()) {
      const std::string_view uri(s->value.GetString(), s->value.GetStringLength());
      if (uri.find("draft-04") != std::string_view::npos) {
        version = valijson::SchemaParser::kDraft4;
      } else if (uri.find("draft-07") == std::string_view::npos) {
        error = "unsupported $schema '" + std::string(uri) + "': draft-04 and draft-07 only";
        return nullptr;
      }
    }
  }
  try {
    check_refs(doc, doc, 0);
    rewrite(doc, doc.GetAllocator(), 0, v->impl_->pattern_properties);
    valijson::SchemaParser parser(version);
    // The parser owns (and deletes) its builders.
    parser.addConstraintBuilder(format_key, new format_builder());
    parser.addConstraintBuilder(pattern_key, new pattern_builder());
    valijson::adapters::RapidJsonAdapter adapter(doc);
    parser.populateSchema(adapter, v->impl_->schema);
  } catch (const std::exception& e) {
    error = std::string("valijson cannot use this schema: ") + e.what();
    return nullptr;
  }
  return v;
}

void json_schema_validator::validate(const rapidjson::Value& instance, report& r) const {
  if (impl_->pattern_properties) {
    std::string at;
    if (find_long_key(instance, max_pattern_key_bytes, at)) {
      r.status = verdict::invalid;
      r.errors.push_back({at, "patternProperties",
                          "a member name here is longer than the " +
                              std::to_string(max_pattern_key_bytes) +
                              " bytes odrgw matches against patternProperties",
                          0});
      return;
    }
  }
  // A Validator caches regexes while validating, so each call has its own.
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::RapidJsonAdapter target(instance);
  bool ok = false;
  try {
    ok = validator.validate(impl_->schema, target, &results);
  } catch (const std::exception& e) {
    r.status = verdict::invalid;
    r.errors.push_back({"", "schema", std::string("validation stopped: ") + e.what(), 0});
    return;
  }
  if (ok) return;
  if (r.status == verdict::valid) r.status = verdict::invalid;
  valijson::ValidationResults::Error e;
  std::size_t kept = 0;
  while (results.popError(e)) {
    if (is_wrapper(e.description)) continue;
    if (kept++ >= max_report_errors) {
      r.truncated = true;
      break;
    }
    r.errors.push_back({to_pointer(e.context, instance), rule_of(e.description), e.description, 0});
  }
  if (kept == 0) r.errors.push_back({"", "schema", "the instance does not match the schema", 0});
}

std::unique_ptr<user_schema> user_schema::load(std::string_view text, const std::string& path,
                                               std::string& error) {
  std::unique_ptr<user_schema> s(new user_schema());
  s->kind_ = detect_encoding(text);
  if (s->kind_ == encoding::xml) {
    s->xsd_ = xsd_schema::compile(text, error, path);
    if (!s->xsd_) return nullptr;
  } else {
    s->json_ = json_schema_validator::load(text, error);
    if (!s->json_) return nullptr;
  }
  return s;
}

report user_schema::validate(std::string_view bytes, const validate_options& opts) const {
  report r;
  r.enc = detect_encoding(bytes);
  if (r.enc != kind_) {
    r.status = verdict::malformed;
    r.errors.push_back({"", "encoding",
                        "the document is " + std::string(to_string(r.enc)) + " but the schema is " +
                            (kind_ == encoding::json ? "a JSON Schema" : "an XSD"),
                        0});
    return r;
  }
  if (kind_ == encoding::json) {
    rapidjson::Document doc;
    json_error err;
    if (!parse_json(bytes, doc, opts.json, err)) {
      r.status = verdict::malformed;
      r.errors.push_back({err.location, err.rule, err.message, err.line});
      return r;
    }
    json_->validate(doc, r);
    return r;
  }
  issue err;
  xml_doc_ptr doc = parse_xml(bytes, opts.xml, err);
  if (!doc) {
    r.status = verdict::malformed;
    r.errors.push_back(std::move(err));
    return r;
  }
  if (!xsd_->validate(doc.get(), r.errors, r.truncated)) r.status = verdict::invalid;
  return r;
}

}  // namespace odrgw::schemas
