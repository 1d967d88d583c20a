#include <odrgw/schemas/model.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include <re2/re2.h>

#include <odrgw/schemas/json.hpp>

namespace odrgw::schemas {

std::string_view to_string(value_type t) noexcept {
  switch (t) {
    case value_type::object:
      return "object";
    case value_type::array:
      return "array";
    case value_type::string:
      return "string";
    case value_type::integer:
      return "integer";
    case value_type::boolean:
      return "boolean";
  }
  return "string";
}

void regex_deleter::operator()(re2::RE2* re) const noexcept { delete re; }

const property* node::find_property(std::string_view name) const noexcept {
  for (const auto& p : properties)
    if (p.name == name) return &p;
  return nullptr;
}

bool node::enum_contains(std::string_view v) const noexcept {
  return std::binary_search(enum_sorted.begin(), enum_sorted.end(), v);
}

bool node::pattern_matches(std::string_view v) const noexcept {
  // JSON Schema patterns are unanchored searches; RE2 runs in linear time with no recursion.
  return !regex || re2::RE2::PartialMatch(re2::StringPiece(v.data(), v.size()), *regex);
}

std::size_t utf8_length(std::string_view s) noexcept {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

const message_def* model::find(std::string_view message_type) const noexcept {
  for (const auto& m : messages_)
    if (m.type == message_type) return &m;
  return nullptr;
}

class model_builder {
 public:
  explicit model_builder(model& m) : m_(m) {}

  void build(std::string_view source) {
    m_.source_ = std::string(source);
    json_limits limits;
    limits.max_depth = 256;
    json_error err;
    if (!parse_json(m_.source_, doc_, limits, err))
      throw model_error(err.location, "source is not valid JSON: " + err.message);
    if (!doc_.IsObject()) throw model_error("", "source must be a JSON object");
    const std::string schema = string_member(doc_, "$schema", "");
    if (schema != "http://json-schema.org/draft-07/schema#")
      throw model_error("/$schema", "must be \"http://json-schema.org/draft-07/schema#\"");
    m_.spec_version_ = string_member(doc_, "x-odr-spec-version", "");
    m_.xml_namespace_ = string_member(doc_, "x-odr-xml-namespace", "");
    m_.id_ = string_member(doc_, "$id", "");
    if (m_.spec_version_.empty()) throw model_error("/x-odr-spec-version", "required string");
    if (m_.xml_namespace_.empty()) throw model_error("/x-odr-xml-namespace", "required string");

    const rapidjson::Value& defs = object_member(doc_, "definitions", "");
    // Every definition gets its node first, so $refs (even forward ones) resolve to addresses.
    for (auto it = defs.MemberBegin(); it != defs.MemberEnd(); ++it) {
      std::string name(it->name.GetString(), it->name.GetStringLength());
      node& n = m_.nodes_.emplace_back();
      n.definition = name;
      n.source_pointer = "/definitions/" + pointer_token(name);
      definitions_.emplace(name, &n);
    }
    for (auto it = defs.MemberBegin(); it != defs.MemberEnd(); ++it) {
      node* n = definitions_.at(std::string(it->name.GetString(), it->name.GetStringLength()));
      if (it->value.IsObject() && it->value.HasMember("$ref"))
        throw model_error(n->source_pointer, "a definition may not be a bare $ref");
      fill(*n, it->value, n->source_pointer);
    }

    auto env = definitions_.find("Envelope");
    if (env == definitions_.end() || env->second->type != value_type::object)
      throw model_error("/definitions/Envelope", "an object definition named Envelope is required");
    m_.envelope_ = env->second;
    for (const char* required : {"messageId", "messageType", "specVersion", "caseId", "sender",
                                 "recipient", "sentAt", "payload"})
      if (!m_.envelope_->find_property(required))
        throw model_error("/definitions/Envelope/properties",
                          std::string("missing envelope field ") + required);

    const rapidjson::Value& msgs = object_member(doc_, "x-odr-messages", "");
    for (auto it = msgs.MemberBegin(); it != msgs.MemberEnd(); ++it) {
      const std::string type(it->name.GetString(), it->name.GetStringLength());
      const std::string ptr = "/x-odr-messages/" + pointer_token(type);
      if (!it->value.IsObject()) throw model_error(ptr, "must be an object");
      message_def md;
      md.type = type;
      md.payload_definition = string_member(it->value, "payload", ptr);
      md.clause = string_member(it->value, "clause", ptr);
      md.description = string_member(it->value, "description", ptr);
      auto cr = it->value.FindMember("caseIdRequired");
      if (cr == it->value.MemberEnd() || !cr->value.IsBool())
        throw model_error(ptr + "/caseIdRequired", "required boolean");
      md.case_id_required = cr->value.GetBool();
      auto payload = definitions_.find(md.payload_definition);
      if (payload == definitions_.end() || payload->second->type != value_type::object)
        throw model_error(ptr + "/payload", "no object definition named " + md.payload_definition);
      md.root = make_root(md, payload->second);
      m_.messages_.push_back(std::move(md));
    }
    if (m_.messages_.empty()) throw model_error("/x-odr-messages", "lists no message types");
  }

 private:
  static std::string string_member(const rapidjson::Value& obj, const char* key,
                                   const std::string& ptr) {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd()) return {};
    if (!it->value.IsString()) throw model_error(ptr + "/" + key, "must be a string");
    return {it->value.GetString(), it->value.GetStringLength()};
  }

  static const rapidjson::Value& object_member(const rapidjson::Value& obj, const char* key,
                                               const std::string& ptr) {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || !it->value.IsObject())
      throw model_error(ptr + "/" + key, "required object");
    return it->value;
  }

  static std::uint64_t count_member(const rapidjson::Value& v, const std::string& ptr) {
    if (!v.IsUint64()) throw model_error(ptr, "must be a non-negative integer");
    return v.GetUint64();
  }

  const node* resolve_ref(const rapidjson::Value& ref, const std::string& ptr) {
    if (!ref.IsString()) throw model_error(ptr, "$ref must be a string");
    std::string_view r(ref.GetString(), ref.GetStringLength());
    constexpr std::string_view prefix = "#/definitions/";
    if (!r.starts_with(prefix))
      throw model_error(ptr, "only local #/definitions/Name references are supported");
    auto it = definitions_.find(std::string(r.substr(prefix.size())));
    if (it == definitions_.end()) throw model_error(ptr, "unresolved reference " + std::string(r));
    return it->second;
  }

  static bool is_annotation(std::string_view k) {
    return k == "title" || k == "description" || k == "$comment" || k == "examples" ||
           k == "x-odr-clause" || k == "x-odr-personal-data";
  }

  // A property's schema: a reference to a definition (annotations allowed beside it) or inline.
  const node* subschema(const rapidjson::Value& v, const std::string& ptr, bool& personal) {
    if (!v.IsObject()) throw model_error(ptr, "a schema must be an object");
    personal = false;
    if (auto pd = v.FindMember("x-odr-personal-data"); pd != v.MemberEnd()) {
      if (!pd->value.IsBool()) throw model_error(ptr + "/x-odr-personal-data", "must be boolean");
      personal = pd->value.GetBool();
    }
    if (auto ref = v.FindMember("$ref"); ref != v.MemberEnd()) {
      for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
        std::string_view k(it->name.GetString(), it->name.GetStringLength());
        if (k != "$ref" && !is_annotation(k))
          throw model_error(ptr + "/" + pointer_token(k),
                            "only annotations may stand beside $ref (draft-07 ignores the rest)");
      }
      const node* target = resolve_ref(ref->value, ptr + "/$ref");
      personal = personal || target->personal_data;
      return target;
    }
    node& n = m_.nodes_.emplace_back();
    n.source_pointer = ptr;
    fill(n, v, ptr);
    personal = personal || n.personal_data;
    return &n;
  }

  void fill(node& n, const rapidjson::Value& v, const std::string& ptr) {
    if (!v.IsObject()) throw model_error(ptr, "a schema must be an object");
    std::string type;
    if (auto t = v.FindMember("type"); t != v.MemberEnd()) {
      if (!t->value.IsString())
        throw model_error(ptr + "/type", "must be a single type name (no arrays)");
      type = t->value.GetString();
    } else if (v.HasMember("enum") || v.HasMember("const")) {
      type = "string";
    } else {
      throw model_error(ptr, "every schema needs a type");
    }
    static const std::map<std::string, value_type> types = {{"object", value_type::object},
                                                            {"array", value_type::array},
                                                            {"string", value_type::string},
                                                            {"integer", value_type::integer},
                                                            {"boolean", value_type::boolean}};
    auto tt = types.find(type);
    if (tt == types.end()) throw model_error(ptr + "/type", "unsupported type '" + type + "'");
    n.type = tt->second;

    static const std::map<value_type, std::set<std::string, std::less<>>> allowed = {
        {value_type::object, {"type", "properties", "required", "additionalProperties"}},
        {value_type::array,
         {"type", "items", "minItems", "maxItems", "uniqueItems", "x-odr-xml-item"}},
        {value_type::string,
         {"type", "enum", "const", "minLength", "maxLength", "pattern", "format"}},
        {value_type::integer, {"type", "minimum", "maximum"}},
        {value_type::boolean, {"type"}},
    };
    const auto& ok = allowed.at(n.type);
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      std::string_view k(it->name.GetString(), it->name.GetStringLength());
      if (!ok.contains(k) && !is_annotation(k))
        throw model_error(
            ptr + "/" + pointer_token(k),
            "keyword '" + std::string(k) + "' is outside the supported subset for " + type);
    }
    n.description = string_member(v, "description", ptr);
    n.clause = string_member(v, "x-odr-clause", ptr);
    if (auto pd = v.FindMember("x-odr-personal-data"); pd != v.MemberEnd()) {
      if (!pd->value.IsBool()) throw model_error(ptr + "/x-odr-personal-data", "must be boolean");
      n.personal_data = pd->value.GetBool();
    }

    switch (n.type) {
      case value_type::object:
        fill_object(n, v, ptr);
        break;
      case value_type::array:
        fill_array(n, v, ptr);
        break;
      case value_type::string:
        fill_string(n, v, ptr);
        break;
      case value_type::integer:
        for (const char* k : {"minimum", "maximum"}) {
          auto it = v.FindMember(k);
          if (it == v.MemberEnd()) throw model_error(ptr, std::string("integer needs ") + k);
          if (!it->value.IsInt64()) throw model_error(ptr + "/" + k, "must be a 64-bit integer");
          (k[1] == 'i' ? n.minimum : n.maximum) = it->value.GetInt64();
        }
        break;
      case value_type::boolean:
        break;
    }
  }

  void fill_object(node& n, const rapidjson::Value& v, const std::string& ptr) {
    auto ap = v.FindMember("additionalProperties");
    // The generic envelope's payload is the one open object: each message type replaces it.
    const bool envelope_payload = ptr == "/definitions/Envelope/properties/payload";
    if (!envelope_payload && (ap == v.MemberEnd() || !ap->value.IsFalse()))
      throw model_error(ptr, "objects must be closed: \"additionalProperties\": false");
    if (auto props = v.FindMember("properties"); props != v.MemberEnd()) {
      if (!props->value.IsObject()) throw model_error(ptr + "/properties", "must be an object");
      for (auto it = props->value.MemberBegin(); it != props->value.MemberEnd(); ++it) {
        property p;
        p.name.assign(it->name.GetString(), it->name.GetStringLength());
        const std::string pptr = ptr + "/properties/" + pointer_token(p.name);
        if (!is_xml_name(p.name))
          throw model_error(pptr,
                            "property names must be XML names (letters, digits, start with a "
                            "letter)");
        p.schema = subschema(it->value, pptr, p.personal_data);
        if (it->value.IsObject()) p.description = string_member(it->value, "description", pptr);
        n.properties.push_back(std::move(p));
      }
    }
    if (auto req = v.FindMember("required"); req != v.MemberEnd()) {
      if (!req->value.IsArray()) throw model_error(ptr + "/required", "must be an array");
      for (rapidjson::SizeType i = 0; i < req->value.Size(); ++i) {
        const auto& r = req->value[i];
        const std::string rptr = ptr + "/required/" + std::to_string(i);
        if (!r.IsString()) throw model_error(rptr, "must be a string");
        auto it = std::find_if(n.properties.begin(), n.properties.end(),
                               [&](const property& p) { return p.name == r.GetString(); });
        if (it == n.properties.end())
          throw model_error(rptr, std::string("required property '") + r.GetString() +
                                      "' is not declared in properties");
        if (it->required) throw model_error(rptr, "listed twice");
        it->required = true;
      }
    }
  }

  void fill_array(node& n, const rapidjson::Value& v, const std::string& ptr) {
    auto items = v.FindMember("items");
    if (items == v.MemberEnd() || !items->value.IsObject())
      throw model_error(ptr + "/items", "arrays need a single items schema");
    bool personal = false;
    n.items = subschema(items->value, ptr + "/items", personal);
    n.personal_data = n.personal_data || personal;
    if (auto it = v.FindMember("minItems"); it != v.MemberEnd())
      n.min_items = count_member(it->value, ptr + "/minItems");
    if (auto it = v.FindMember("maxItems"); it != v.MemberEnd())
      n.max_items = count_member(it->value, ptr + "/maxItems");
    if (auto it = v.FindMember("uniqueItems"); it != v.MemberEnd()) {
      if (!it->value.IsBool()) throw model_error(ptr + "/uniqueItems", "must be boolean");
      n.unique_items = it->value.GetBool();
      if (n.unique_items && !n.max_items)
        throw model_error(ptr + "/uniqueItems",
                          "unique arrays need maxItems (the check is O(n^2))");
      if (n.unique_items && n.items->type == value_type::object)
        throw model_error(ptr + "/uniqueItems",
                          "only arrays of scalars may be unique (XSD cannot compare objects)");
    }
    n.xml_item = string_member(v, "x-odr-xml-item", ptr);
    if (n.xml_item.empty()) n.xml_item = "item";
    if (!is_xml_name(n.xml_item)) throw model_error(ptr + "/x-odr-xml-item", "not an XML name");
  }

  void fill_string(node& n, const rapidjson::Value& v, const std::string& ptr) {
    if (auto e = v.FindMember("enum"); e != v.MemberEnd()) {
      if (!e->value.IsArray() || e->value.Empty())
        throw model_error(ptr + "/enum", "must be a non-empty array");
      for (rapidjson::SizeType i = 0; i < e->value.Size(); ++i) {
        if (!e->value[i].IsString())
          throw model_error(ptr + "/enum/" + std::to_string(i), "enum values must be strings");
        n.enum_values.emplace_back(e->value[i].GetString(), e->value[i].GetStringLength());
      }
      n.enum_sorted.assign(n.enum_values.begin(), n.enum_values.end());
      std::sort(n.enum_sorted.begin(), n.enum_sorted.end());
      if (std::adjacent_find(n.enum_sorted.begin(), n.enum_sorted.end()) != n.enum_sorted.end())
        throw model_error(ptr + "/enum", "values must be unique");
    }
    if (auto c = v.FindMember("const"); c != v.MemberEnd()) {
      if (!c->value.IsString()) throw model_error(ptr + "/const", "must be a string");
      n.const_value.emplace(c->value.GetString(), c->value.GetStringLength());
    }
    if (auto it = v.FindMember("minLength"); it != v.MemberEnd())
      n.min_length = count_member(it->value, ptr + "/minLength");
    if (auto it = v.FindMember("maxLength"); it != v.MemberEnd())
      n.max_length = count_member(it->value, ptr + "/maxLength");
    if (!n.max_length && n.enum_values.empty() && !n.const_value)
      throw model_error(ptr, "every free string needs a maxLength (input bound)");
    if (auto f = v.FindMember("format"); f != v.MemberEnd()) {
      if (!f->value.IsString()) throw model_error(ptr + "/format", "must be a string");
      n.format = formats::parse_format_name(f->value.GetString());
      if (!n.format) throw model_error(ptr + "/format", "unsupported format");
    }
    if (auto p = v.FindMember("pattern"); p != v.MemberEnd()) {
      if (!p->value.IsString()) throw model_error(ptr + "/pattern", "must be a string");
      n.pattern.assign(p->value.GetString(), p->value.GetStringLength());
      if (n.pattern.size() < 2 || n.pattern.front() != '^' || n.pattern.back() != '$')
        throw model_error(ptr + "/pattern", "patterns must be anchored ^...$ (XSD patterns are)");
      if (has_top_level_alternation(n.pattern))
        throw model_error(ptr + "/pattern",
                          "wrap alternatives in a group, ^(a|b)$: without the anchors XSD reads "
                          "^a|b$ differently");
      for (std::string_view bad : {"\\d", "\\w", "\\s", "\\D", "\\W", "\\S", "(?", "*?", "+?"})
        if (n.pattern.find(bad) != std::string::npos)
          throw model_error(ptr + "/pattern", "'" + std::string(bad) +
                                                  "' means different things in ECMA-262 and XSD");
      re2::RE2::Options opts;
      opts.set_log_errors(false);
      n.regex.reset(new re2::RE2(n.pattern, opts));
      if (!n.regex->ok()) throw model_error(ptr + "/pattern", "bad pattern: " + n.regex->error());
    }
  }

  // True when '|' splits the pattern at the outermost level (outside groups and classes).
  static bool has_top_level_alternation(std::string_view p) {
    int depth = 0;
    bool in_class = false;
    for (std::size_t i = 0; i < p.size(); ++i) {
      const char c = p[i];
      if (c == '\\') {
        ++i;
      } else if (in_class) {
        in_class = c != ']';
      } else if (c == '[') {
        in_class = true;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        --depth;
      } else if (c == '|' && depth == 0) {
        return true;
      }
    }
    return false;
  }

  static bool is_xml_name(std::string_view s) {
    if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
  }

  const node* make_root(const message_def& md, const node* payload) {
    node& root = m_.nodes_.emplace_back();
    root.type = value_type::object;
    root.source_pointer = "/x-odr-messages/" + pointer_token(md.type);
    root.description = md.description;
    root.clause = md.clause;
    root.properties = m_.envelope_->properties;
    for (auto& p : root.properties) {
      if (p.name == "messageType") {
        node& c = m_.nodes_.emplace_back();
        c.type = value_type::string;
        c.const_value = md.type;
        c.description = p.schema->description;
        p.schema = &c;
      } else if (p.name == "payload") {
        p.schema = payload;
      } else if (p.name == "caseId" && md.case_id_required) {
        p.required = true;
      }
    }
    return &root;
  }

  model& m_;
  rapidjson::Document doc_;
  std::unordered_map<std::string, node*> definitions_;
};

std::unique_ptr<const model> model::load(std::string_view source_json) {
  std::unique_ptr<model> m(new model());
  model_builder(*m).build(source_json);
  return m;
}

// --- JSON Schema export ---------------------------------------------------------------------

namespace {

void collect_refs(const rapidjson::Value& v, std::set<std::string>& out) {
  if (v.IsObject()) {
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      if (it->name == "$ref" && it->value.IsString()) {
        std::string_view r(it->value.GetString(), it->value.GetStringLength());
        if (r.starts_with("#/definitions/")) out.emplace(r.substr(14));
      } else if (it->name != "enum" && it->name != "examples" && it->name != "const") {
        collect_refs(it->value, out);
      }
    }
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) collect_refs(e, out);
  }
}

}  // namespace

std::string model::json_schema(const message_def& m) const {
  rapidjson::Document src;
  src.Parse(source_.data(), source_.size());  // checked by load(); depth bounded by our source
  const rapidjson::Value& defs = src["definitions"];
  rapidjson::Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  auto str = [&](std::string_view s) { return rapidjson::Value(s.data(), s.size(), a); };
  out.AddMember("$schema", "http://json-schema.org/draft-07/schema#", a);
  out.AddMember("$id", str(id_ + ":" + m.type), a);
  out.AddMember("title", str("ODR Interchange v" + spec_version_ + ": " + m.type), a);
  out.AddMember("description", str(m.description), a);
  out.AddMember("x-odr-clause", str(m.clause), a);
  out.AddMember("x-odr-message-type", str(m.type), a);

  rapidjson::Value env(defs["Envelope"], a);
  for (auto it = env.MemberBegin(); it != env.MemberEnd(); ++it) {
    if (it->name == "description" || it->name == "title" || it->name == "x-odr-clause") continue;
    if (it->name == "properties") {
      rapidjson::Value& props = it->value;
      rapidjson::Value mt(rapidjson::kObjectType);
      mt.AddMember("type", "string", a);
      mt.AddMember("const", str(m.type), a);
      props["messageType"] = mt;
      rapidjson::Value pl(rapidjson::kObjectType);
      pl.AddMember("$ref", str("#/definitions/" + m.payload_definition), a);
      props["payload"] = pl;
    }
    if (it->name == "required" && m.case_id_required) {
      bool has = false;
      for (const auto& r : it->value.GetArray()) has = has || r == "caseId";
      if (!has) it->value.PushBack("caseId", a);
    }
    out.AddMember(rapidjson::Value(it->name, a), rapidjson::Value(it->value, a), a);
  }

  // Only the definitions this message reaches, found by following $refs to a fixed point.
  std::set<std::string> reach;
  collect_refs(out, reach);
  for (std::size_t before = 0; before != reach.size();) {
    before = reach.size();
    for (const auto& name : std::set<std::string>(reach))
      if (auto d = defs.FindMember(rapidjson::StringRef(name.data(), name.size()));
          d != defs.MemberEnd())
        collect_refs(d->value, reach);
  }
  rapidjson::Value out_defs(rapidjson::kObjectType);
  for (auto it = defs.MemberBegin(); it != defs.MemberEnd(); ++it)
    if (reach.contains(std::string(it->name.GetString(), it->name.GetStringLength())))
      out_defs.AddMember(rapidjson::Value(it->name, a), rapidjson::Value(it->value, a), a);
  out.AddMember("definitions", out_defs, a);
  return to_json_string(out, true) + "\n";
}

}  // namespace odrgw::schemas
