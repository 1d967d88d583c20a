// Mapping-file dialects: load (YAML -> JSON -> the embedded mapping schema -> compiled rules) and
// the engine that applies the rules both ways. docs/adapters/mapping.md is the user's view.
#include <odrgw/schemas/json.hpp>  // must come first: our RAPIDJSON_ASSERT

#include <odrgw/adapters/mapping.hpp>

#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <odrgw/adapters/embedded.hpp>

#include "mapping_transforms.hpp"
#include "mapping_yaml.hpp"

namespace odrgw::adapters {

mapping_error::mapping_error(std::string file, std::string pointer, const std::string& message)
    : std::runtime_error(file + ": " + (pointer.empty() ? std::string("(file)") : pointer) + ": " +
                         message),
      file_(std::move(file)),
      pointer_(std::move(pointer)) {}

std::string_view mapping_schema() noexcept {
  for (const auto& f : embedded::adapters::files())
    if (f.path == "mapping.schema.json") return f.data;
  return {};
}

namespace {

namespace fs = std::filesystem;
using rapidjson::Value;
using schemas::report;
using schemas::value_type;

enum class direction { in, out, both };
enum class transform { none, date, datetime, money_minor, codes, concat, upper, lower, trim };
enum class source_type { keep, string, integer, boolean };

bool reads(direction d) { return d != direction::out; }
bool writes(direction d) { return d != direction::in; }

void fail(report& r, std::string location, std::string rule, std::string message,
          std::size_t line = 0) {
  r.status = schemas::verdict::invalid;
  if (r.errors.size() < schemas::max_report_errors)
    r.errors.push_back({std::move(location), std::move(rule), std::move(message), line});
  else
    r.truncated = true;
}

std::string describe(const Value& v) {
  std::string s =
      v.IsString() ? std::string(v.GetString(), v.GetStringLength()) : schemas::to_json_string(v);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return "'" + s + "'";
}

// ---- dialect-side paths -----------------------------------------------------------------------

struct xpath_deleter {
  void operator()(xmlXPathCompExpr* c) const noexcept { xmlXPathFreeCompExpr(c); }
};

// One step of the writable XML subset: [prefix:]name, or @[prefix:]name as the last step, or ".".
struct xml_step {
  std::string prefix;
  std::string name;
  bool attribute = false;
  bool self = false;
};

struct path {
  std::string text;
  // JSON: RFC 6901 tokens, relative to the cursor (the document, or the item inside `each`).
  std::vector<std::string> tokens;
  // XML: the compiled XPath (shared read-only; each evaluation has its own context), and the
  // writable form where the text is in the subset.
  std::shared_ptr<xmlXPathCompExpr> xpath;
  // libxml2 caches function lookups inside a compiled expression during evaluation (a write):
  // evaluations of one expression are serialised; each is microseconds.
  std::shared_ptr<std::mutex> xpath_lock = std::make_shared<std::mutex>();
  std::vector<xml_step> steps;
  bool absolute = false;
  bool writable = false;
};

struct rule {
  std::string ref;                                    // "mapping:/messages/0/fields/7"
  std::optional<std::vector<std::string>> canonical;  // tokens, relative to the target
  std::string canonical_text;
  const schemas::node* canonical_node = nullptr;
  std::optional<path> source;
  std::vector<path> sources;  // concat
  std::string separator = " ";
  std::string context;
  transform t = transform::none;
  std::optional<detail::time_pattern> pattern;
  std::string format_text;
  int offset_minutes = 0;
  std::string currency_code;                            // money-minor, fixed
  std::optional<std::vector<std::string>> currency_at;  // money-minor, canonical pointer
  std::map<std::string, std::string, std::less<>> codes_in, codes_out;
  const Value* const_value = nullptr;
  const Value* default_value = nullptr;
  bool required = false;
  direction dir = direction::both;
  source_type stype = source_type::keep;
  std::vector<rule> each;
};

struct message_rules {
  std::string type;
  std::string ref;
  direction dir = direction::both;
  std::optional<path> match;
  std::string match_value;
  bool has_match_value = false;
  std::vector<rule> rules;  // envelope rules, then the message's fields
};

std::vector<std::string> parse_pointer(std::string_view p, std::string& error) {
  std::vector<std::string> tokens;
  if (p.empty()) return tokens;
  if (p.front() != '/') {
    error = "a JSON pointer starts with '/' (or is empty)";
    return {};
  }
  std::size_t i = 1;
  std::string cur;
  for (; i <= p.size(); ++i) {
    if (i == p.size() || p[i] == '/') {
      tokens.push_back(std::move(cur));
      cur.clear();
      continue;
    }
    if (p[i] == '~') {
      if (i + 1 < p.size() && (p[i + 1] == '0' || p[i + 1] == '1')) {
        cur += p[i + 1] == '0' ? '~' : '/';
        ++i;
        continue;
      }
      error = "'~' must be followed by 0 or 1 (RFC 6901)";
      return {};
    }
    cur += p[i];
  }
  return tokens;
}

bool qname_char(char c, bool first) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
         (!first && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
}

bool parse_qname(std::string_view s, xml_step& step) {
  const std::size_t colon = s.find(':');
  std::string_view prefix = colon == std::string_view::npos ? "" : s.substr(0, colon);
  std::string_view name = colon == std::string_view::npos ? s : s.substr(colon + 1);
  const auto ok = [](std::string_view n) {
    if (n.empty() || n.size() > 128) return false;
    for (std::size_t i = 0; i < n.size(); ++i)
      if (!qname_char(n[i], i == 0)) return false;
    return true;
  };
  if ((colon != std::string_view::npos && !ok(prefix)) || !ok(name)) return false;
  step.prefix = prefix;
  step.name = name;
  return true;
}

// The writable subset: /p:a/p:b[/@attr], relative a/b, @attr, or ".".
bool parse_writable(std::string_view s, path& p) {
  p.absolute = !s.empty() && s.front() == '/';
  if (p.absolute) s.remove_prefix(1);
  if (s == ".") {
    if (p.absolute) return false;
    p.steps.push_back({{}, {}, false, true});
    return true;
  }
  if (s.empty()) return false;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t end = std::min(s.find('/', start), s.size());
    std::string_view part = s.substr(start, end - start);
    xml_step step;
    if (!part.empty() && part.front() == '@') {
      if (end != s.size()) return false;  // an attribute is the last step
      step.attribute = true;
      part.remove_prefix(1);
    }
    if (!parse_qname(part, step)) return false;
    p.steps.push_back(std::move(step));
    start = end + 1;
  }
  return !p.steps.empty() && !(p.absolute && p.steps.front().attribute);
}

// ---- the adapter ------------------------------------------------------------------------------

struct write_record {
  std::string canonical;  // absolute canonical pointer
  std::string source;     // dialect location
  std::string ref;
};

class mapping_dialect final : public adapter {
 public:
  std::string_view id() const noexcept override { return id_; }
  schemas::encoding encoding() const noexcept override { return enc_; }
  std::string_view description() const noexcept override { return description_; }
  std::span<const std::string> inbound_types() const noexcept override { return in_types_; }
  std::span<const std::string> outbound_types() const noexcept override { return out_types_; }
  using adapter::from_canonical;
  using adapter::to_canonical;
  bool to_canonical(std::string_view bytes, const context& ctx, rapidjson::Document& out,
                    report& r) const override;
  bool from_canonical(const rapidjson::Value& message, const context& ctx, std::string& out,
                      report& r) const override;

 private:
  friend class loader;
  struct cursor {  // where relative source paths start
    const Value* json = nullptr;
    xmlNode* xml = nullptr;
    std::string location;  // JSON: pointer of `json`
  };
  struct inbound_state {
    const context* ctx = nullptr;
    std::string_view bytes;
    xmlXPathContext* xpath = nullptr;
    rapidjson::Document::AllocatorType* alloc = nullptr;
    std::vector<write_record> writes;
    report* r = nullptr;
  };

  // Reading the dialect: the value (a string for XML) and its location. false: absent.
  bool read(const path& p, const cursor& c, inbound_state& s, Value& v, std::string& loc) const;
  bool read_items(const path& p, const cursor& c, inbound_state& s, std::vector<cursor>& items,
                  std::string& loc) const;
  bool matches(const message_rules& m, const cursor& root, inbound_state& s) const;
  void apply_in(const std::vector<rule>& rules, const cursor& c, Value& target,
                const std::string& target_ptr, inbound_state& s) const;
  bool value_in(const rule& ru, Value& v, const std::string& loc, Value& target,
                inbound_state& s) const;
  std::string derived_message_id(const inbound_state& s) const;

  struct outbound_state {
    rapidjson::Document json;
    xmlDoc* xml = nullptr;
    std::vector<write_record> writes;
    report* r = nullptr;
  };
  void apply_out(const std::vector<rule>& rules, const Value& from, const std::string& from_ptr,
                 Value* json_target, xmlNode* xml_target, const std::string& target_loc,
                 outbound_state& s) const;
  bool value_out(const rule& ru, const Value& from, Value& v, const std::string& loc,
                 outbound_state& s) const;
  bool write(const path& p, Value& v, Value* json_target, xmlNode* xml_target,
             const std::string& target_loc, outbound_state& s, const std::string& ref,
             Value** json_written, xmlNode** xml_written, bool new_item) const;
  xmlNode* xml_element(xmlNode* parent, const xml_step& step, bool create_new,
                       outbound_state& s) const;
  xmlNs* ns_for(const std::string& prefix, outbound_state& s) const;

  void explain(report& r, const report& check, const std::vector<write_record>& writes,
               bool canonical_side, std::string_view what,
               const std::vector<rule>* rules = nullptr) const;

  std::string id_;
  std::string description_;
  schemas::encoding enc_ = schemas::encoding::json;
  std::shared_ptr<const schemas::schema_set> set_;
  std::unique_ptr<rapidjson::Document> mapping_;  // owns const/default values
  std::vector<std::pair<std::string, std::string>> namespaces_;
  std::vector<message_rules> messages_;
  std::vector<std::string> in_types_, out_types_;
  std::unique_ptr<schemas::json_schema_validator> json_schema_;
  std::unique_ptr<schemas::xsd_schema> xsd_;
};

// ---- reading ----------------------------------------------------------------------------------

std::string xml_location(xmlNode* n) {
  if (n == nullptr) return {};
  if (n->type == XML_ATTRIBUTE_NODE)
    return schemas::xml_path(n->parent) + "/@" + reinterpret_cast<const char*>(n->name);
  if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE)
    return schemas::xml_path(n->parent);
  return schemas::xml_path(n);
}

std::string node_text(xmlNode* n) {
  xmlChar* c = xmlNodeGetContent(n);
  std::string s = c != nullptr ? reinterpret_cast<const char*>(c) : "";
  xmlFree(c);
  return s;
}

struct xpath_object_deleter {
  void operator()(xmlXPathObject* o) const noexcept { xmlXPathFreeObject(o); }
};
using xpath_object = std::unique_ptr<xmlXPathObject, xpath_object_deleter>;

xpath_object evaluate(const path& p, xmlNode* at, xmlXPathContext* ctx) {
  ctx->node = at;
  const std::lock_guard<std::mutex> lock(*p.xpath_lock);
  return xpath_object(xmlXPathCompiledEval(p.xpath.get(), ctx));
}

const Value* json_at(const Value* v, const std::vector<std::string>& tokens, std::string& loc) {
  for (const auto& t : tokens) {
    schemas::append_pointer_token(loc, t);
    if (v->IsObject()) {
      const auto it = v->FindMember(Value(rapidjson::StringRef(t.data(), t.size())));
      if (it == v->MemberEnd()) return nullptr;
      v = &it->value;
    } else if (v->IsArray()) {
      if (t.empty() || t.size() > 9 || t.find_first_not_of("0123456789") != std::string::npos)
        return nullptr;
      const auto i = static_cast<rapidjson::SizeType>(std::stoul(t));
      if (i >= v->Size()) return nullptr;
      v = &(*v)[i];
    } else {
      return nullptr;
    }
  }
  return v;
}

bool mapping_dialect::read(const path& p, const cursor& c, inbound_state& s, Value& v,
                           std::string& loc) const {
  if (enc_ == schemas::encoding::json) {
    loc = c.location;
    const Value* found = json_at(c.json, p.tokens, loc);
    if (found == nullptr || found->IsNull()) return false;
    v.CopyFrom(*found, *s.alloc);
    return true;
  }
  loc = p.absolute ? p.text : (c.location + "/" + p.text);
  const xpath_object o = evaluate(p, c.xml, s.xpath);
  if (!o) return false;
  switch (o->type) {
    case XPATH_NODESET: {
      if (o->nodesetval == nullptr || o->nodesetval->nodeNr == 0) return false;
      xmlNode* n = o->nodesetval->nodeTab[0];
      loc = xml_location(n);
      const std::string text = node_text(n);
      if (text.empty()) return false;  // XML has no null: an empty element is an absent value
      v.SetString(text, *s.alloc);
      return true;
    }
    case XPATH_STRING:
    case XPATH_NUMBER:
    case XPATH_BOOLEAN: {
      xmlChar* str = xmlXPathCastToString(o.get());
      std::string text = str != nullptr ? reinterpret_cast<const char*>(str) : "";
      xmlFree(str);
      if (o->type == XPATH_STRING && text.empty()) return false;
      v.SetString(text, *s.alloc);
      return true;
    }
    default:
      return false;
  }
}

bool mapping_dialect::read_items(const path& p, const cursor& c, inbound_state& s,
                                 std::vector<cursor>& items, std::string& loc) const {
  if (enc_ == schemas::encoding::json) {
    loc = c.location;
    const Value* found = json_at(c.json, p.tokens, loc);
    if (found == nullptr || found->IsNull()) return false;
    if (!found->IsArray()) {
      fail(*s.r, loc, "type", "expected a list, got " + describe(*found));
      return true;
    }
    for (rapidjson::SizeType i = 0; i < found->Size(); ++i)
      items.push_back({&(*found)[i], nullptr, loc + "/" + std::to_string(i)});
    return true;
  }
  loc = p.absolute ? p.text : (c.location + "/" + p.text);
  const xpath_object o = evaluate(p, c.xml, s.xpath);
  if (!o || o->type != XPATH_NODESET || o->nodesetval == nullptr || o->nodesetval->nodeNr == 0)
    return false;
  for (int i = 0; i < o->nodesetval->nodeNr; ++i) {
    xmlNode* n = o->nodesetval->nodeTab[i];
    items.push_back({nullptr, n, xml_location(n)});
  }
  return true;
}

bool mapping_dialect::matches(const message_rules& m, const cursor& root, inbound_state& s) const {
  if (!m.match) return true;
  Value v;
  std::string loc;
  if (!read(*m.match, root, s, v, loc)) return false;
  if (!m.has_match_value) return true;
  if (v.IsString()) return std::string_view(v.GetString(), v.GetStringLength()) == m.match_value;
  return schemas::to_json_string(v) == m.match_value;
}

// ---- canonical-side values --------------------------------------------------------------------

// A list index in a pointer being written: a short run of digits (the model's lists hold at most
// thousands of items). Where the value there is a list or nothing yet, it indexes a list.
bool list_index(const std::string& t, const Value& at) {
  return !t.empty() && t.size() <= 4 && t.find_first_not_of("0123456789") == std::string::npos &&
         (at.IsArray() || at.IsNull());
}

Value* list_slot(Value& v, const std::string& t, rapidjson::Document::AllocatorType& a) {
  if (!v.IsArray()) v.SetArray();
  const auto i = static_cast<rapidjson::SizeType>(std::stoul(t));
  while (v.Size() <= i) v.PushBack(Value(), a);  // filled by later rules, or reported by v1
  return &v[i];
}

Value* canonical_slot(Value& target, const std::vector<std::string>& tokens,
                      rapidjson::Document::AllocatorType& a) {
  Value* v = &target;
  for (const auto& t : tokens) {
    if (list_index(t, *v)) {
      v = list_slot(*v, t, a);
      continue;
    }
    if (!v->IsObject()) v->SetObject();
    auto it = v->FindMember(Value(rapidjson::StringRef(t.data(), t.size())));
    if (it == v->MemberEnd()) {
      v->AddMember(Value(t, a), Value(), a);
      it = v->FindMember(Value(rapidjson::StringRef(t.data(), t.size())));
    }
    v = &it->value;
  }
  return v;
}

std::string as_text(const Value& v) {
  if (v.IsString()) return {v.GetString(), v.GetStringLength()};
  return schemas::to_json_string(v);
}

// Coerces `v` to a JSON type (the canonical schema's, or the dialect's source-type).
bool coerce(Value& v, value_type t, rapidjson::Document::AllocatorType& a) {
  switch (t) {
    case value_type::string:
      if (v.IsString()) return true;
      if (v.IsNumber() || v.IsBool()) {
        v.SetString(as_text(v), a);
        return true;
      }
      return false;
    case value_type::integer: {
      if (v.IsInt64()) return true;
      if (v.IsUint64()) return true;
      if (!v.IsString()) return false;
      const std::string_view s(v.GetString(), v.GetStringLength());
      std::string_view d = s;
      const bool neg = !d.empty() && d.front() == '-';
      if (neg) d.remove_prefix(1);
      if (d.empty() || d.size() > 18 || d.find_first_not_of("0123456789") != std::string::npos)
        return false;
      const std::int64_t n = std::stoll(std::string(d));
      v.SetInt64(neg ? -n : n);
      return true;
    }
    case value_type::boolean: {
      if (v.IsBool()) return true;
      if (!v.IsString()) return false;
      const std::string_view b(v.GetString(), v.GetStringLength());
      if (b == "true" || b == "1") {
        v.SetBool(true);
      } else if (b == "false" || b == "0") {
        v.SetBool(false);
      } else {
        return false;
      }
      return true;
    }
    case value_type::object:
      return v.IsObject();
    case value_type::array:
      return v.IsArray();
  }
  return false;
}

std::string_view context_value(const context& c, std::string_view key) {
  if (key == "partner_id") return c.partner_id;
  if (key == "partner_role") return c.partner_role;
  if (key == "gateway_party_id") return c.gateway_party_id;
  if (key == "gateway_party_role") return c.gateway_party_role;
  if (key == "operation") return c.operation;
  if (key == "reference") return c.reference;
  if (key == "case_id") return c.case_id;
  if (key == "request_id") return c.request_id;
  if (key == "received_at") return c.received_at;
  return {};
}

std::string mapping_dialect::derived_message_id(const inbound_state& s) const {
  // A fixed namespace for odrgw mapping dialects; the name is dialect, partner and the sender's
  // idempotency key, or the whole body when there is none: a retry maps to the same messageId.
  static const boost::uuids::uuid ns = {{0x6f, 0x64, 0x72, 0x67, 0x77, 0x2d, 0x4d, 0x61, 0x70, 0x70,
                                         0x69, 0x6e, 0x67, 0x2d, 0x76, 0x31}};
  boost::uuids::name_generator_sha1 gen(ns);
  std::string name = id_;
  name += '\n';
  name += s.ctx->partner_id;
  name += '\n';
  if (!s.ctx->request_id.empty()) {
    name += "request:";
    name += s.ctx->request_id;
  } else {
    name += "body:";
    name += s.bytes;
  }
  return boost::uuids::to_string(gen(name.data(), name.size()));
}

std::string rule_ref(const rule& ru, std::string_view what) {
  return ru.ref + " (" + std::string(what) + ")";
}

// Dialect value -> canonical value by the rule's transform. false: reported.
bool mapping_dialect::value_in(const rule& ru, Value& v, const std::string& loc, Value& target,
                               inbound_state& s) const {
  auto& a = *s.alloc;
  const auto bad = [&](std::string_view what, const std::string& msg) {
    fail(*s.r, loc, rule_ref(ru, what), msg);
    return false;
  };
  switch (ru.t) {
    case transform::none:
    case transform::concat:
      break;
    case transform::upper:
    case transform::lower:
    case transform::trim: {
      if (!v.IsString()) return bad("type", "expected a string, got " + describe(v));
      std::string text(v.GetString(), v.GetStringLength());
      if (ru.t == transform::trim) {
        const auto b = text.find_first_not_of(" \t\r\n");
        const auto e = text.find_last_not_of(" \t\r\n");
        text = b == std::string::npos ? std::string() : text.substr(b, e - b + 1);
      } else {
        for (char& ch : text)
          if (static_cast<unsigned char>(ch) < 0x80)
            ch = static_cast<char>(ru.t == transform::upper ? std::toupper(ch) : std::tolower(ch));
      }
      v.SetString(text, a);
      break;
    }
    case transform::codes: {
      const std::string key = as_text(v);
      const auto it = ru.codes_in.find(key);
      if (it == ru.codes_in.end())
        return bad("codes", "the code " + describe(v) + " has no canonical counterpart");
      v.SetString(it->second, a);
      break;
    }
    case transform::date:
    case transform::datetime: {
      if (!v.IsString()) return bad("type", "expected a date string, got " + describe(v));
      auto t = detail::parse_time(*ru.pattern, {v.GetString(), v.GetStringLength()});
      if (!t)
        return bad(ru.t == transform::date ? "date" : "datetime",
                   describe(v) + " does not match the date format '" + ru.format_text + "'");
      if (ru.t == transform::date) {
        v.SetString(detail::format_iso_date(*t), a);
      } else {
        if (!t->has_offset) t->offset_minutes = ru.offset_minutes;
        v.SetString(detail::format_rfc3339(*t), a);
      }
      break;
    }
    case transform::money_minor: {
      std::string currency = ru.currency_code;
      if (ru.currency_at) {
        std::string ignored;
        const Value* c = json_at(&target, *ru.currency_at, ignored);
        if (c == nullptr || !c->IsString())
          return bad("money-minor", "no currency at canonical " + ignored +
                                        " (map the currency before the amount)");
        currency.assign(c->GetString(), c->GetStringLength());
      }
      const auto e = detail::currency_exponent(currency);
      if (!e) return bad("money-minor", "currency '" + currency + "' has no minor unit");
      Value n(v, a);
      if (!coerce(n, value_type::integer, a) || !n.IsUint64())
        return bad("money-minor",
                   "expected a non-negative integer amount in minor units, got " + describe(v));
      v.SetString(detail::minor_to_decimal(n.GetUint64(), *e), a);
      break;
    }
  }
  return true;
}

void mapping_dialect::apply_in(const std::vector<rule>& rules, const cursor& c, Value& target,
                               const std::string& target_ptr, inbound_state& s) const {
  auto& a = *s.alloc;
  for (const auto& ru : rules) {
    if (!reads(ru.dir) || !ru.canonical) continue;
    std::string loc;
    const std::string canonical_abs = target_ptr + ru.canonical_text;
    if (!ru.each.empty()) {
      std::vector<cursor> items;
      if (!ru.source || !read_items(*ru.source, c, s, items, loc)) {
        if (ru.required) fail(*s.r, loc, rule_ref(ru, "required"), "required list is missing");
        continue;
      }
      Value* slot = canonical_slot(target, *ru.canonical, a);
      slot->SetArray();
      for (std::size_t i = 0; i < items.size(); ++i) {
        Value item(rapidjson::kObjectType);
        const std::string item_ptr = canonical_abs + "/" + std::to_string(i);
        apply_in(ru.each, items[i], item, item_ptr, s);
        slot->PushBack(item, a);
      }
      s.writes.push_back({canonical_abs, loc, ru.ref});
      continue;
    }
    Value v;
    bool found = false;
    bool canonical_side = false;  // context values and constants skip the transform
    if (ru.const_value != nullptr) {
      v.CopyFrom(*ru.const_value, a);
      found = canonical_side = true;
      loc = "";
    } else if (!ru.sources.empty()) {
      std::string joined;
      std::size_t parts = 0;
      for (const auto& p : ru.sources) {
        Value part;
        std::string part_loc;
        if (!read(p, c, s, part, part_loc)) continue;
        if (loc.empty()) loc = part_loc;
        if (parts++ > 0) joined += ru.separator;
        joined += as_text(part);
      }
      if (parts > 0) {
        v.SetString(joined, a);
        found = true;
      } else {
        loc = ru.sources.front().text;
      }
    } else if (ru.source) {
      found = read(*ru.source, c, s, v, loc);
    }
    if (!found && !ru.context.empty()) {
      const std::string text = ru.context == "message_id"
                                   ? derived_message_id(s)
                                   : std::string(context_value(*s.ctx, ru.context));
      if (!text.empty()) {
        v.SetString(text, a);
        found = canonical_side = true;
      }
    }
    if (!found && ru.default_value != nullptr) {
      v.CopyFrom(*ru.default_value, a);
      found = true;
    }
    if (!found) {
      if (ru.required)
        fail(*s.r, loc.empty() ? std::string(ru.source ? ru.source->text : "") : loc,
             rule_ref(ru, "required"),
             "required source field is missing (canonical " + canonical_abs + ")");
      continue;
    }
    if (!canonical_side && !value_in(ru, v, loc, target, s)) continue;
    if (ru.canonical_node != nullptr && !coerce(v, ru.canonical_node->type, a)) {
      fail(*s.r, loc, rule_ref(ru, "type"),
           describe(v) + " cannot be a " + std::string(to_string(ru.canonical_node->type)) +
               " (canonical " + canonical_abs + ")");
      continue;
    }
    *canonical_slot(target, *ru.canonical, a) = v;
    s.writes.push_back({canonical_abs, loc, ru.ref});
  }
}

// Maps the issues of a schema check back to the rules that wrote the places they name (and a
// missing required property to the inbound rule that maps it, when `rules` is given).
std::string canonical_place(const std::string& pointer) {
  return pointer.empty() ? "canonical message" : "canonical " + pointer;
}

void mapping_dialect::explain(report& r, const report& check,
                              const std::vector<write_record>& writes, bool canonical_side,
                              std::string_view what, const std::vector<rule>* rules) const {
  const auto strip = [](std::string_view p) {  // "/t:a/b[2]/@c" -> "/a/b/c"
    std::string out;
    std::size_t i = 0;
    while (i < p.size()) {
      if (p[i] == '[') {
        const std::size_t e = p.find(']', i);
        if (e == std::string_view::npos) break;
        i = e + 1;
        continue;
      }
      out += p[i] == '@' ? '\0' : p[i];
      if (p[i] == ':') {  // drop the prefix written before it
        const std::size_t slash = out.rfind('/', out.size() - 1);
        out.erase(slash == std::string::npos ? 0 : slash + 1);
      }
      ++i;
    }
    out.erase(std::remove(out.begin(), out.end(), '\0'), out.end());
    return out;
  };
  for (const auto& e : check.errors) {
    const write_record* best = nullptr;
    std::size_t best_len = 0;
    const std::string where = canonical_side ? e.location : strip(e.location);
    for (const auto& w : writes) {
      const std::string key = canonical_side ? w.canonical : strip(w.source);
      const bool covers = where == key || (where.starts_with(key) && where[key.size()] == '/');
      if (covers && (best == nullptr || key.size() >= best_len)) {
        best = &w;
        best_len = key.size();
      }
    }
    schemas::issue out = e;
    // A missing required property: the rule that maps it, if any, is the one that had no value.
    const rule* missing = nullptr;
    if (rules != nullptr && e.rule == "required") {
      const std::size_t q1 = e.message.find('\'');
      const std::size_t q2 = q1 == std::string::npos ? q1 : e.message.find('\'', q1 + 1);
      if (q2 != std::string::npos) {
        std::string want = e.location;
        schemas::append_pointer_token(want, e.message.substr(q1 + 1, q2 - q1 - 1));
        for (const auto& ru : *rules)
          if (reads(ru.dir) && ru.canonical_text == want) missing = &ru;
      }
    }
    if (missing != nullptr) {
      out.location = missing->source             ? missing->source->text
                     : !missing->sources.empty() ? missing->sources.front().text
                                                 : std::string();
      out.rule = missing->ref + " (" + std::string(what) + ": required)";
      out.message =
          canonical_place(e.location) + ": " + e.message + "; this rule found no value" +
          (missing->context.empty() ? std::string() : " (nor context " + missing->context + ")");
      out.line = 0;
    } else if (best != nullptr) {
      out.location = canonical_side ? best->source : e.location;
      out.rule = best->ref + " (" + std::string(what) + ": " + e.rule + ")";
      out.message =
          (canonical_side ? canonical_place(e.location) : "from canonical " + best->canonical) +
          ": " + e.message;
      if (canonical_side) out.line = 0;
    } else {
      out.rule = std::string(what) + ": " + e.rule;
      if (canonical_side) out.message = canonical_place(e.location) + ": " + e.message;
    }
    if (r.errors.size() < schemas::max_report_errors) {
      r.errors.push_back(std::move(out));
    } else {
      r.truncated = true;
    }
  }
  if (check.truncated) r.truncated = true;
  if (!check.valid()) r.status = schemas::verdict::invalid;
}

struct xpath_context_deleter {
  void operator()(xmlXPathContext* c) const noexcept { xmlXPathFreeContext(c); }
};

void silent_structured(void*, xmlError*) {}

bool mapping_dialect::to_canonical(std::string_view bytes, const context& ctx,
                                   rapidjson::Document& out, report& r) const {
  r = {};
  r.enc = enc_;
  rapidjson::Document input;
  schemas::xml_doc_ptr doc;
  std::unique_ptr<xmlXPathContext, xpath_context_deleter> xpath;
  cursor root;
  if (enc_ == schemas::encoding::json) {
    schemas::json_error err;
    if (!schemas::parse_json(bytes, input, {}, err)) {
      r.status = schemas::verdict::malformed;
      r.errors.push_back({err.location, err.rule, err.message, err.line});
      return false;
    }
    json_schema_->validate(input, r);
    if (!r.valid()) return false;
    root.json = &input;
  } else {
    schemas::issue err;
    doc = schemas::parse_xml(bytes, {}, err);
    if (!doc) {
      r.status = schemas::verdict::malformed;
      r.errors.push_back(std::move(err));
      return false;
    }
    if (!xsd_->validate(doc.get(), r.errors, r.truncated)) {
      r.status = schemas::verdict::invalid;
      return false;
    }
    xpath.reset(xmlXPathNewContext(doc.get()));
    if (!xpath) {
      fail(r, "", "internal", "out of memory");
      return false;
    }
    xpath->error = silent_structured;
    for (const auto& [prefix, uri] : namespaces_)
      xmlXPathRegisterNs(xpath.get(), reinterpret_cast<const xmlChar*>(prefix.c_str()),
                         reinterpret_cast<const xmlChar*>(uri.c_str()));
    // Relative top-level XPaths start at the root element (absolute ones work from anywhere).
    root.xml = xmlDocGetRootElement(doc.get());
    root.location = xml_location(root.xml);
  }

  inbound_state s;
  s.ctx = &ctx;
  s.bytes = bytes;
  s.xpath = xpath.get();
  s.alloc = &out.GetAllocator();
  s.r = &r;
  const message_rules* m = nullptr;
  for (const auto& candidate : messages_)
    if (reads(candidate.dir) && matches(candidate, root, s)) {
      m = &candidate;
      break;
    }
  if (m == nullptr) {
    fail(r, "", "mapping:/messages (match)",
         "the document matches no inbound message of dialect " + id_);
    return false;
  }
  r.message_type = m->type;
  out.SetObject();
  out.AddMember("messageType", Value(m->type, out.GetAllocator()), out.GetAllocator());
  apply_in(m->rules, root, out, "", s);
  if (!r.valid()) return false;
  report check;
  set_->validate_json(out, m->type, check);
  explain(r, check, s.writes, true, "v1 schema", &m->rules);
  return r.valid();
}

// ---- writing ----------------------------------------------------------------------------------

bool mapping_dialect::value_out(const rule& ru, const Value& from, Value& v, const std::string& loc,
                                outbound_state& s) const {
  auto& a = s.json.GetAllocator();
  const auto bad = [&](std::string_view what, const std::string& msg) {
    fail(*s.r, loc, rule_ref(ru, what), msg);
    return false;
  };
  switch (ru.t) {
    case transform::none:
    case transform::concat:
    case transform::upper:  // one-way transforms: written back as they are
    case transform::lower:
    case transform::trim:
      break;
    case transform::codes: {
      const std::string key = as_text(v);
      const auto it = ru.codes_out.find(key);
      if (it == ru.codes_out.end())
        return bad("codes", "the code " + describe(v) + " has no counterpart in dialect " + id_);
      v.SetString(it->second, a);
      break;
    }
    case transform::date:
    case transform::datetime: {
      if (!v.IsString()) return bad("type", "expected a string, got " + describe(v));
      const std::string_view text(v.GetString(), v.GetStringLength());
      auto t = ru.t == transform::date ? detail::parse_iso_date(text) : detail::parse_rfc3339(text);
      if (!t)
        return bad(ru.t == transform::date ? "date" : "datetime", describe(v) + " is not valid");
      if (ru.t == transform::datetime && !ru.pattern->has(detail::time_pattern::kind::offset))
        t = detail::to_offset(*t, ru.offset_minutes);
      v.SetString(detail::format_time(*ru.pattern, *t), a);
      break;
    }
    case transform::money_minor: {
      std::string currency = ru.currency_code;
      if (ru.currency_at) {
        std::string ignored;
        const Value* c = json_at(&from, *ru.currency_at, ignored);
        if (c == nullptr || !c->IsString())
          return bad("money-minor", "no currency at canonical " + ignored);
        currency.assign(c->GetString(), c->GetStringLength());
      }
      const auto e = detail::currency_exponent(currency);
      if (!e) return bad("money-minor", "currency '" + currency + "' has no minor unit");
      const auto minor = v.IsString()
                             ? detail::decimal_to_minor({v.GetString(), v.GetStringLength()}, *e)
                             : std::nullopt;
      if (!minor)
        return bad("money-minor", describe(v) + " is not an amount in " + currency + " (" +
                                      std::to_string(*e) + " decimals at most)");
      v.SetUint64(*minor);
      break;
    }
  }
  switch (ru.stype) {
    case source_type::keep:
      break;
    case source_type::string:
      if (!coerce(v, value_type::string, a))
        return bad("source-type", describe(v) + " is not a string");
      break;
    case source_type::integer:
      if (!coerce(v, value_type::integer, a))
        return bad("source-type", describe(v) + " is not an integer");
      break;
    case source_type::boolean:
      if (!coerce(v, value_type::boolean, a))
        return bad("source-type", describe(v) + " is not a boolean");
      break;
  }
  return true;
}

xmlNs* mapping_dialect::ns_for(const std::string& prefix, outbound_state& s) const {
  if (prefix.empty()) return nullptr;
  xmlNode* root = xmlDocGetRootElement(s.xml);
  return root != nullptr
             ? xmlSearchNs(s.xml, root, reinterpret_cast<const xmlChar*>(prefix.c_str()))
             : nullptr;
}

xmlNode* mapping_dialect::xml_element(xmlNode* parent, const xml_step& step, bool create_new,
                                      outbound_state& s) const {
  const auto* name = reinterpret_cast<const xmlChar*>(step.name.c_str());
  if (parent == nullptr) {  // the root element
    xmlNode* root = xmlDocGetRootElement(s.xml);
    if (root != nullptr) {
      return xmlStrEqual(root->name, name) ? root : nullptr;
    }
    root = xmlNewDocNode(s.xml, nullptr, name, nullptr);
    xmlDocSetRootElement(s.xml, root);
    for (const auto& [prefix, uri] : namespaces_)
      xmlNewNs(root, reinterpret_cast<const xmlChar*>(uri.c_str()),
               reinterpret_cast<const xmlChar*>(prefix.c_str()));
    xmlSetNs(root, ns_for(step.prefix, s));
    return root;
  }
  xmlNs* ns = ns_for(step.prefix, s);
  if (!create_new) {
    for (xmlNode* c = parent->children; c != nullptr; c = c->next)
      if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, name) &&
          (ns == nullptr ? c->ns == nullptr
                         : c->ns != nullptr && xmlStrEqual(c->ns->href, ns->href)))
        return c;
  }
  return xmlNewChild(parent, ns, name, nullptr);
}

bool mapping_dialect::write(const path& p, Value& v, Value* json_target, xmlNode* xml_target,
                            const std::string& target_loc, outbound_state& s,
                            const std::string& ref, Value** json_written, xmlNode** xml_written,
                            bool new_item) const {
  auto& a = s.json.GetAllocator();
  if (enc_ == schemas::encoding::json) {
    Value* cur = json_target;
    std::string loc = target_loc;
    for (const auto& t : p.tokens) {
      schemas::append_pointer_token(loc, t);
      if (list_index(t, *cur)) {
        cur = list_slot(*cur, t, a);
        continue;
      }
      if (cur->IsNull()) cur->SetObject();
      if (!cur->IsObject()) {
        fail(*s.r, loc, ref + " (source)", "cannot write below a value that is not an object");
        return false;
      }
      auto it = cur->FindMember(Value(rapidjson::StringRef(t.data(), t.size())));
      if (it == cur->MemberEnd()) {
        cur->AddMember(Value(t, a), Value(), a);
        it = cur->FindMember(Value(rapidjson::StringRef(t.data(), t.size())));
      }
      cur = &it->value;
    }
    if (new_item) {
      if (!cur->IsArray()) cur->SetArray();
      cur->PushBack(v, a);
      cur = &(*cur)[cur->Size() - 1];
    } else {
      *cur = v;
    }
    if (json_written != nullptr) *json_written = cur;
    return true;
  }
  // XML: the writable subset.
  xmlNode* cur = p.absolute ? nullptr : xml_target;
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    const auto& step = p.steps[i];
    const bool last = i + 1 == p.steps.size();
    if (step.self) break;
    if (step.attribute) {
      const std::string text = as_text(v);
      xmlSetNsProp(cur, ns_for(step.prefix, s), reinterpret_cast<const xmlChar*>(step.name.c_str()),
                   reinterpret_cast<const xmlChar*>(text.c_str()));
      return true;
    }
    xmlNode* next = xml_element(cur, step, last && new_item, s);
    if (next == nullptr) {
      fail(*s.r, p.text, ref + " (source)",
           "a document has one root element; this path starts at another one");
      return false;
    }
    cur = next;
  }
  if (xml_written != nullptr) {
    *xml_written = cur;
    if (new_item) return true;
  }
  if (!v.IsNull() && !v.IsObject() && !v.IsArray()) {
    for (xmlNode* c = cur->children; c != nullptr;) {  // replace earlier text
      xmlNode* next = c->next;
      if (c->type == XML_TEXT_NODE) {
        xmlUnlinkNode(c);
        xmlFreeNode(c);
      }
      c = next;
    }
    const std::string text = as_text(v);
    xmlNodeAddContentLen(cur, reinterpret_cast<const xmlChar*>(text.data()),
                         static_cast<int>(text.size()));
  }
  return true;
}

void mapping_dialect::apply_out(const std::vector<rule>& rules, const Value& from,
                                const std::string& from_ptr, Value* json_target,
                                xmlNode* xml_target, const std::string& target_loc,
                                outbound_state& s) const {
  auto& a = s.json.GetAllocator();
  for (const auto& ru : rules) {
    if (!writes(ru.dir)) continue;
    if (!ru.source && ru.sources.empty()) continue;  // nothing to write to
    std::string canonical_abs = from_ptr + ru.canonical_text;
    Value v;
    bool found = false;
    if (ru.const_value != nullptr) {
      if (!ru.source) continue;
      v.CopyFrom(*ru.const_value, a);
      found = true;
    } else if (ru.canonical) {
      std::string ignored;
      const Value* c = json_at(&from, *ru.canonical, ignored);
      if (c != nullptr && !c->IsNull()) {
        v.CopyFrom(*c, a);
        found = true;
      }
    }
    if (!found && ru.default_value != nullptr && ru.each.empty()) {
      Value d(*ru.default_value, a);
      if (ru.source)
        write(*ru.source, d, json_target, xml_target, target_loc, s, ru.ref, nullptr, nullptr,
              false);
      continue;
    }
    if (!found) {
      if (ru.required)
        fail(*s.r, canonical_abs, rule_ref(ru, "required"),
             "required canonical field is missing (dialect " +
                 (ru.source ? ru.source->text : ru.sources.front().text) + ")");
      continue;
    }
    const std::string loc = ru.source ? ru.source->text : ru.sources.front().text;
    if (!ru.each.empty()) {
      if (!v.IsArray()) {
        fail(*s.r, canonical_abs, rule_ref(ru, "each"), "expected a list");
        continue;
      }
      std::string ignored;
      const Value* list = json_at(&from, *ru.canonical, ignored);  // v is a copy; items by place
      for (rapidjson::SizeType i = 0; list != nullptr && i < list->Size(); ++i) {
        Value item(rapidjson::kObjectType);
        Value* json_item = nullptr;
        xmlNode* xml_item = nullptr;
        if (!write(*ru.source, item, json_target, xml_target, target_loc, s, ru.ref, &json_item,
                   &xml_item, true))
          break;
        const std::string item_loc = enc_ == schemas::encoding::json
                                         ? target_loc + ru.source->text + "/" + std::to_string(i)
                                         : xml_location(xml_item);
        apply_out(ru.each, (*list)[i], canonical_abs + "/" + std::to_string(i), json_item, xml_item,
                  item_loc, s);
      }
      s.writes.push_back({canonical_abs, target_loc + ru.source->text, ru.ref});
      continue;
    }
    if (!value_out(ru, from, v, canonical_abs, s)) continue;
    if (!ru.sources.empty()) {  // concat: split at the separator, the rest into the last part
      const std::string text = as_text(v);
      std::size_t pos = 0;
      for (std::size_t i = 0; i < ru.sources.size(); ++i) {
        std::string part;
        if (i + 1 == ru.sources.size()) {
          part = pos <= text.size() ? text.substr(pos) : "";
        } else {
          const std::size_t e = text.find(ru.separator, pos);
          part = text.substr(std::min(pos, text.size()),
                             e == std::string::npos ? std::string::npos : e - pos);
          pos = e == std::string::npos ? text.size() + 1 : e + ru.separator.size();
        }
        if (part.empty()) continue;
        Value pv(part, a);
        write(ru.sources[i], pv, json_target, xml_target, target_loc, s, ru.ref, nullptr, nullptr,
              false);
        s.writes.push_back({canonical_abs, target_loc + ru.sources[i].text, ru.ref});
      }
      continue;
    }
    write(*ru.source, v, json_target, xml_target, target_loc, s, ru.ref, nullptr, nullptr, false);
    s.writes.push_back({canonical_abs,
                        ru.source->absolute || enc_ == schemas::encoding::json
                            ? target_loc + ru.source->text
                            : target_loc + "/" + ru.source->text,
                        ru.ref});
  }
}

struct xml_doc_holder {
  xmlDoc* d = nullptr;
  ~xml_doc_holder() {
    if (d != nullptr) xmlFreeDoc(d);
  }
};

bool mapping_dialect::from_canonical(const rapidjson::Value& message, const context&,
                                     std::string& out, report& r) const {
  r = {};
  r.enc = enc_;
  if (!message.IsObject()) {
    fail(r, "", "type", "a message must be an object");
    return false;
  }
  const auto mt = message.FindMember("messageType");
  if (mt == message.MemberEnd() || !mt->value.IsString()) {
    fail(r, "/messageType", "required", "the message has no messageType");
    return false;
  }
  const std::string_view type(mt->value.GetString(), mt->value.GetStringLength());
  r.message_type = type;
  const message_rules* m = nullptr;
  for (const auto& candidate : messages_)
    if (writes(candidate.dir) && candidate.type == type) {
      m = &candidate;
      break;
    }
  if (m == nullptr) {
    fail(r, "/messageType", "mapping:/messages (type)",
         "dialect " + id_ + " cannot carry a " + std::string(type) + " (see odrgw adapters list)");
    return false;
  }
  outbound_state s;
  s.r = &r;
  xml_doc_holder holder;
  s.json.SetObject();
  if (enc_ == schemas::encoding::xml) {
    holder.d = xmlNewDoc(reinterpret_cast<const xmlChar*>("1.0"));
    s.xml = holder.d;
  }
  if (m->match) {
    Value v;
    if (m->has_match_value) v.SetString(m->match_value, s.json.GetAllocator());
    write(*m->match, v, &s.json, nullptr, "", s, m->ref + "/match", nullptr, nullptr, false);
  }
  xmlNode* xml_root = s.xml != nullptr ? xmlDocGetRootElement(s.xml) : nullptr;
  if (enc_ == schemas::encoding::xml && xml_root == nullptr) {
    fail(r, "", m->ref + " (match)",
         "an outbound XML message needs `match` naming its root element");
    return false;
  }
  apply_out(m->rules, message, "", &s.json, xml_root, xml_location(xml_root), s);
  if (!r.valid()) return false;

  report check;
  check.enc = enc_;
  if (enc_ == schemas::encoding::json) {
    out = schemas::to_json_string(s.json, true);
    out += '\n';
    json_schema_->validate(s.json, check);
  } else {
    xmlChar* buf = nullptr;
    int size = 0;
    xmlDocDumpFormatMemoryEnc(holder.d, &buf, &size, "UTF-8", 1);
    out.assign(reinterpret_cast<const char*>(buf),
               buf != nullptr ? static_cast<std::size_t>(size) : 0);
    xmlFree(buf);
    // Read back what we wrote under the same rules as any input: XML 1.0 cannot carry every
    // character a canonical string may hold, and the XSD is checked on the parsed result.
    schemas::issue err;
    const auto doc = schemas::parse_xml(out, {}, err);
    if (!doc) {
      fail(r, err.location, "dialect output: " + err.rule, err.message);
      return false;
    }
    if (!xsd_->validate(doc.get(), check.errors, check.truncated))
      check.status = schemas::verdict::invalid;
  }
  explain(r, check, s.writes, false, "dialect schema");
  if (!r.valid()) out.clear();
  return r.valid();
}

// ---- loading ----------------------------------------------------------------------------------

std::string read_file(const fs::path& p, std::size_t max, const std::string& shown,
                      const std::string& pointer) {
  std::error_code ec;
  if (fs::is_directory(p, ec)) throw mapping_error(shown, pointer, p.string() + " is a directory");
  const auto size = fs::file_size(p, ec);
  if (ec) throw mapping_error(shown, pointer, "cannot read " + p.string() + ": " + ec.message());
  if (size > max)
    throw mapping_error(
        shown, pointer,
        p.string() + " is " + std::to_string(size) + " bytes; the limit is " + std::to_string(max));
  std::ifstream in(p, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) throw mapping_error(shown, pointer, "cannot read " + p.string());
  return text.str();
}

const schemas::json_schema_validator& mapping_validator() {
  static const auto v = [] {
    std::string error;
    auto loaded = schemas::json_schema_validator::load(mapping_schema(), error);
    if (!loaded) throw std::logic_error("the embedded mapping schema does not load: " + error);
    return loaded;
  }();
  return *v;
}

class loader {
 public:
  loader(const fs::path& file, std::shared_ptr<const schemas::schema_set> set,
         const mapping_limits& limits)
      : file_(file), shown_(file.string()), set_(std::move(set)), limits_(limits) {}

  std::unique_ptr<adapter> run() {
    auto d = std::unique_ptr<mapping_dialect>(new mapping_dialect());
    d_ = d.get();
    d->set_ = set_;
    d->mapping_ = std::make_unique<rapidjson::Document>();
    const std::string text = read_file(file_, limits_.max_file_bytes, shown_, "");
    detail::yaml_to_json(text, shown_, limits_, *d->mapping_);
    const Value& doc = *d->mapping_;
    if (!doc.IsObject()) throw err("", "a mapping file is a mapping of keys (dialect:, ...)");
    report r;
    mapping_validator().validate(doc, r);
    if (!r.valid()) {
      const auto& e = r.errors.front();
      std::string more;
      if (r.errors.size() > 1) more = " (and " + std::to_string(r.errors.size() - 1) + " more)";
      throw err(e.location, e.message + " [" + e.rule + "]" + more);
    }
    d->id_ = str(doc, "dialect");
    d->description_ = str(doc, "description");
    d->enc_ = str(doc, "encoding") == "xml" ? schemas::encoding::xml : schemas::encoding::json;
    if (const auto ns = doc.FindMember("namespaces"); ns != doc.MemberEnd()) {
      if (d->enc_ != schemas::encoding::xml)
        throw err("/namespaces", "namespaces are for encoding xml only");
      for (const auto& m : ns->value.GetObject())
        d->namespaces_.emplace_back(m.name.GetString(), m.value.GetString());
    }
    load_schema(doc);
    xml_probe_init();

    const Value* envelope = nullptr;
    if (const auto e = doc.FindMember("envelope"); e != doc.MemberEnd()) envelope = &e->value;
    const Value& messages = doc.FindMember("messages")->value;
    std::set<std::string> seen_in, seen_out;
    for (rapidjson::SizeType i = 0; i < messages.Size(); ++i) {
      const std::string ptr = "/messages/" + std::to_string(i);
      const Value& mv = messages[i];
      message_rules m;
      m.ref = "mapping:" + ptr;
      m.type = str(mv, "type");
      const auto* def = set_->model().find(m.type);
      if (def == nullptr) throw err(ptr + "/type", "'" + m.type + "' is not a v1 message type");
      const std::string dir = str(mv, "direction");
      m.dir = dir == "in" ? direction::in : dir == "out" ? direction::out : direction::both;
      if (writes(m.dir) && !seen_out.insert(m.type).second)
        throw err(ptr + "/direction", "a second outbound mapping for " + m.type +
                                          " (the first one would always be used)");
      if (const auto match = mv.FindMember("match"); match != mv.MemberEnd()) {
        m.match =
            compile_path(str(match->value, "source"), ptr + "/match/source", writes(m.dir), true);
        if (d_->enc_ == schemas::encoding::xml && writes(m.dir) && !m.match->absolute)
          throw err(ptr + "/match/source",
                    "an outbound XML message's match is an absolute path (its root element)");
        if (const auto value = match->value.FindMember("value");
            value != match->value.MemberEnd()) {
          m.match_value = value->value.GetString();
          m.has_match_value = true;
        }
      } else if (reads(m.dir)) {
        throw err(ptr, "an inbound message needs `match` (how to recognise it)");
      }
      if (envelope != nullptr)
        for (rapidjson::SizeType k = 0; k < envelope->Size(); ++k)
          m.rules.push_back(compile_rule((*envelope)[k], "/envelope/" + std::to_string(k),
                                         def->root, m.dir, true));
      const Value& fields = mv.FindMember("fields")->value;
      for (rapidjson::SizeType k = 0; k < fields.Size(); ++k)
        m.rules.push_back(
            compile_rule(fields[k], ptr + "/fields/" + std::to_string(k), def->root, m.dir, true));
      if (reads(m.dir)) seen_in.insert(m.type);
      d->messages_.push_back(std::move(m));
    }
    for (const auto& def : set_->model().messages()) {
      if (seen_in.count(def.type)) d->in_types_.push_back(def.type);
      if (seen_out.count(def.type)) d->out_types_.push_back(def.type);
    }
    return d;
  }

 private:
  mapping_error err(const std::string& pointer, const std::string& message) const {
    return mapping_error(shown_, pointer, message);
  }

  static std::string str(const Value& obj, const char* key) {
    const auto it = obj.FindMember(key);
    return it != obj.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
  }

  void load_schema(const Value& doc) {
    const std::string rel = str(doc, "schema");
    const fs::path p = file_.parent_path() / rel;
    const std::string text = read_file(p, limits_.max_schema_bytes, shown_, "/schema");
    std::string error;
    if (d_->enc_ == schemas::encoding::json) {
      d_->json_schema_ = schemas::json_schema_validator::load(text, error);
      if (!d_->json_schema_) throw err("/schema", rel + " is not a usable JSON Schema: " + error);
    } else {
      schemas::xml_init();
      d_->xsd_ = schemas::xsd_schema::compile(text, error, p.string());
      if (!d_->xsd_) throw err("/schema", rel + " is not a usable XSD: " + error);
    }
  }

  // An empty document with the namespaces registered: a trial evaluation finds unknown prefixes
  // and functions at load time instead of at the first message.
  void xml_probe_init() {
    if (d_->enc_ != schemas::encoding::xml) return;
    probe_doc_.reset(xmlReadMemory("<x/>", 4, nullptr, nullptr, XML_PARSE_NONET));
    probe_.reset(xmlXPathNewContext(probe_doc_.get()));
    probe_->error = silent_structured;
    for (const auto& [prefix, uri] : d_->namespaces_)
      xmlXPathRegisterNs(probe_.get(), reinterpret_cast<const xmlChar*>(prefix.c_str()),
                         reinterpret_cast<const xmlChar*>(uri.c_str()));
  }

  path compile_path(const std::string& text, const std::string& ptr, bool writable, bool absolute) {
    path p;
    p.text = text;
    if (d_->enc_ == schemas::encoding::json) {
      std::string error;
      p.tokens = parse_pointer(text, error);
      if (!error.empty()) throw err(ptr, "'" + text + "' is not a JSON pointer: " + error);
      if (absolute && text.empty()) throw err(ptr, "the whole document cannot be one field");
      p.absolute = true;
      p.writable = true;
      return p;
    }
    if (text.empty()) throw err(ptr, "an empty XPath");
    probe_->node = xmlDocGetRootElement(probe_doc_.get());
    xmlXPathCompExpr* comp =
        xmlXPathCtxtCompile(probe_.get(), reinterpret_cast<const xmlChar*>(text.c_str()));
    if (comp == nullptr) throw err(ptr, "'" + text + "' is not a valid XPath 1.0 expression");
    p.xpath.reset(comp, xpath_deleter{});
    xmlXPathObject* trial = xmlXPathCompiledEval(comp, probe_.get());
    if (trial == nullptr)
      throw err(ptr, "'" + text +
                         "' cannot be evaluated (an undeclared namespace prefix or an "
                         "unknown function?)");
    xmlXPathFreeObject(trial);
    p.writable = parse_writable(text, p);
    if (writable && !p.writable)
      throw err(ptr, "'" + text +
                         "' is outside the writable XPath subset (/p:a/p:b, /p:a/@b, "
                         "relative a/b, @b or . ; no predicates or functions), and the "
                         "mapping writes it (direction out or both)");
    for (const auto& s : p.steps)
      if (writable && !s.prefix.empty() &&
          std::none_of(d_->namespaces_.begin(), d_->namespaces_.end(),
                       [&](const auto& n) { return n.first == s.prefix; }))
        throw err(ptr, "the prefix '" + s.prefix + "' is not declared under namespaces");
    return p;
  }

  // Resolves a canonical pointer against the model (below `base`).
  const schemas::node* resolve(const std::vector<std::string>& tokens, const schemas::node* base,
                               const std::string& ptr, const std::string& text) {
    const schemas::node* n = base;
    for (const auto& t : tokens) {
      if (n->type == value_type::object) {
        const auto* p = n->find_property(t);
        if (p == nullptr)
          throw err(ptr, "'" + text + "': '" + t + "' is not a field of the canonical message");
        n = p->schema;
      } else if (n->type == value_type::array) {
        if (t.empty() || t.size() > 4 || t.find_first_not_of("0123456789") != std::string::npos)
          throw err(ptr, "'" + text + "': '" + t + "' is not an index of a list");
        n = n->items;
      } else {
        throw err(ptr, "'" + text + "' goes below a " + std::string(to_string(n->type)));
      }
    }
    return n;
  }

  rule compile_rule(const Value& v, const std::string& ptr, const schemas::node* base,
                    direction message_dir, bool top) {
    rule ru;
    ru.ref = "mapping:" + ptr;
    const std::string dir = str(v, "direction");
    ru.dir = dir == "in" ? direction::in : dir == "out" ? direction::out : message_dir;
    // Narrowed by the message's direction; a rule against it (in on an outbound-only message) is
    // never applied.
    if (message_dir != direction::both && ru.dir == direction::both) ru.dir = message_dir;
    const auto has = [&](const char* k) { return v.FindMember(k) != v.MemberEnd(); };
    if (has("canonical")) {
      ru.canonical_text = str(v, "canonical");
      std::string error;
      ru.canonical = parse_pointer(ru.canonical_text, error);
      if (!error.empty())
        throw err(ptr + "/canonical",
                  "'" + ru.canonical_text + "' is not a JSON pointer: " + error);
      if (top && ru.canonical->empty())
        throw err(ptr + "/canonical", "the whole message cannot be one field");
      if (top && ru.canonical_text == "/messageType")
        throw err(ptr + "/canonical", "messageType comes from the message's `type`");
      ru.canonical_node = resolve(*ru.canonical, base, ptr + "/canonical", ru.canonical_text);
    }
    if (has("source"))
      ru.source = compile_path(str(v, "source"), ptr + "/source", writes(ru.dir), top);
    if (const auto s = v.FindMember("sources"); s != v.MemberEnd())
      for (rapidjson::SizeType i = 0; i < s->value.Size(); ++i)
        ru.sources.push_back(compile_path(
            s->value[i].GetString(), ptr + "/sources/" + std::to_string(i), writes(ru.dir), top));
    if (has("separator")) ru.separator = str(v, "separator");
    ru.context = str(v, "context");
    if (const auto c = v.FindMember("const"); c != v.MemberEnd()) ru.const_value = &c->value;
    if (const auto c = v.FindMember("default"); c != v.MemberEnd()) ru.default_value = &c->value;
    if (const auto c = v.FindMember("required"); c != v.MemberEnd())
      ru.required = c->value.GetBool();
    const std::string st = str(v, "source-type");
    ru.stype = st == "string"    ? source_type::string
               : st == "integer" ? source_type::integer
               : st == "boolean" ? source_type::boolean
                                 : source_type::keep;

    if (!ru.canonical && !ru.source && ru.sources.empty())
      throw err(ptr, "a rule needs `canonical`, `source` (or `sources`), or both");
    if (!ru.canonical && ru.const_value == nullptr && ru.default_value == nullptr)
      throw err(ptr, "a rule without `canonical` only writes a constant: give `const`");
    if (ru.source && !ru.sources.empty()) throw err(ptr, "give `source` or `sources`, not both");
    if (ru.const_value != nullptr && (ru.default_value != nullptr || !ru.context.empty()))
      throw err(ptr + "/const", "`const` excludes `default` and `context`");

    const std::string tr = str(v, "transform");
    const auto need = [&](const char* key) {
      if (!has(key)) throw err(ptr, "transform " + tr + " needs `" + key + "`");
    };
    const auto forbid = [&](const char* key, const char* why) {
      if (has(key)) throw err(ptr + "/" + key, std::string("`") + key + "` " + why);
    };
    if (tr != "concat") {
      forbid("sources", "is only for transform concat");
      forbid("separator", "is only for transform concat");
    }
    if (tr != "codes") {
      forbid("codes", "is only for transform codes");
      forbid("codes-out", "is only for transform codes");
    }
    if (tr != "date" && tr != "datetime") {
      forbid("format", "is only for transforms date and datetime");
      forbid("offset", "is only for transform datetime");
    }
    if (tr != "money-minor") forbid("currency", "is only for transform money-minor");
    if (tr.empty()) {
      ru.t = transform::none;
    } else if (tr == "date" || tr == "datetime") {
      ru.t = tr == "date" ? transform::date : transform::datetime;
      need("format");
      std::string error;
      ru.format_text = str(v, "format");
      ru.pattern = detail::time_pattern::parse(ru.format_text, error);
      if (!ru.pattern) throw err(ptr + "/format", "'" + str(v, "format") + "': " + error);
      if (ru.t == transform::date) {
        forbid("offset", "is only for transform datetime");
        if (ru.pattern->has(detail::time_pattern::kind::hour) ||
            ru.pattern->has(detail::time_pattern::kind::offset))
          throw err(ptr + "/format", "a date format has no time or offset (use datetime)");
      } else if (!ru.pattern->has(detail::time_pattern::kind::offset)) {
        need("offset");
        const auto off = detail::parse_offset(str(v, "offset"));
        if (!off) throw err(ptr + "/offset", "'" + str(v, "offset") + "' is not Z or +hh:mm");
        ru.offset_minutes = *off;
      } else {
        forbid("offset", "is not used: the format carries the offset (XXX)");
      }
    } else if (tr == "money-minor") {
      ru.t = transform::money_minor;
      need("currency");
      const std::string c = str(v, "currency");
      if (c.front() == '/') {
        std::string error;
        ru.currency_at = parse_pointer(c, error);
        if (!error.empty())
          throw err(ptr + "/currency", "'" + c + "' is not a JSON pointer: " + error);
        resolve(*ru.currency_at, base, ptr + "/currency", c);
      } else if (c.size() == 3 && detail::currency_exponent(c)) {
        ru.currency_code = c;
      } else {
        throw err(
            ptr + "/currency",
            "'" + c + "' is neither an ISO 4217 code with minor units nor a canonical pointer");
      }
    } else if (tr == "codes") {
      ru.t = transform::codes;
      need("codes");
      for (const auto& m : v.FindMember("codes")->value.GetObject()) {
        ru.codes_in.emplace(m.name.GetString(), m.value.GetString());
        ru.codes_out.emplace(m.value.GetString(), m.name.GetString());  // first one wins
      }
      if (const auto o = v.FindMember("codes-out"); o != v.MemberEnd())
        for (const auto& m : o->value.GetObject())
          ru.codes_out[m.name.GetString()] = m.value.GetString();
      if (ru.canonical_node != nullptr && !ru.canonical_node->enum_values.empty())
        for (const auto& [from, to] : ru.codes_in)
          if (!ru.canonical_node->enum_contains(to))
            throw err(ptr + "/codes/" + schemas::pointer_token(from),
                      "'" + to + "' is not a value of canonical " + ru.canonical_text);
    } else if (tr == "concat") {
      ru.t = transform::concat;
      if (ru.sources.empty()) throw err(ptr, "transform concat needs `sources` (two or more)");
    } else {
      ru.t = tr == "upper" ? transform::upper : tr == "lower" ? transform::lower : transform::trim;
    }

    if (const auto e = v.FindMember("each"); e != v.MemberEnd()) {
      if (!ru.canonical || ru.canonical_node == nullptr ||
          ru.canonical_node->type != value_type::array)
        throw err(ptr + "/each", "`each` needs `canonical` naming a list of the canonical message");
      if (!ru.source) throw err(ptr + "/each", "`each` needs `source` naming the dialect's list");
      if (ru.t != transform::none || ru.const_value != nullptr || ru.default_value != nullptr)
        throw err(ptr + "/each", "`each` takes no transform, const or default");
      for (rapidjson::SizeType i = 0; i < e->value.Size(); ++i) {
        rule sub = compile_rule(e->value[i], ptr + "/each/" + std::to_string(i),
                                ru.canonical_node->items, ru.dir, false);
        ru.each.push_back(std::move(sub));
      }
    }
    return ru;
  }

  fs::path file_;
  std::string shown_;
  std::shared_ptr<const schemas::schema_set> set_;
  const mapping_limits& limits_;
  mapping_dialect* d_ = nullptr;
  schemas::xml_doc_ptr probe_doc_;
  std::unique_ptr<xmlXPathContext, xpath_context_deleter> probe_;
};

}  // namespace

std::unique_ptr<adapter> load_mapping_dialect(const std::filesystem::path& file,
                                              std::shared_ptr<const schemas::schema_set> set,
                                              const mapping_limits& limits) {
  return loader(file, std::move(set), limits).run();
}

std::size_t load_mapping_dialects(const std::filesystem::path& dir,
                                  std::shared_ptr<const schemas::schema_set> set, registry& reg,
                                  const mapping_limits& limits) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw mapping_error(dir.string(), "", "not a directory (the adapter directory)");
  std::vector<fs::path> dirs;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec) && fs::is_regular_file(it->path() / mapping_file_name, ec))
      dirs.push_back(it->path());
  if (ec) throw mapping_error(dir.string(), "", "cannot list: " + ec.message());
  std::sort(dirs.begin(), dirs.end());
  std::vector<std::unique_ptr<adapter>> loaded;
  for (const auto& d : dirs) {
    const fs::path file = d / mapping_file_name;
    auto a = load_mapping_dialect(file, set, limits);
    if (a->id() != d.filename().string())
      throw mapping_error(file.string(), "/dialect",
                          "the dialect id '" + std::string(a->id()) +
                              "' differs from its directory name '" + d.filename().string() + "'");
    if (reg.find(a->id()) != nullptr)
      throw mapping_error(file.string(), "/dialect",
                          "the dialect id '" + std::string(a->id()) + "' is taken");
    loaded.push_back(std::move(a));
  }
  const std::size_t n = loaded.size();
  for (auto& a : loaded) reg.add(std::move(a));
  return n;
}

}  // namespace odrgw::adapters
