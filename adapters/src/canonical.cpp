#include <odrgw/adapters/canonical.hpp>

#include <charconv>
#include <cmath>

#include <libxml/tree.h>

namespace odrgw::adapters {
namespace {

using schemas::node;
using schemas::report;
using schemas::value_type;

void fail(report& r, std::string location, std::string rule, std::string message,
          std::size_t line = 0) {
  r.status = schemas::verdict::invalid;
  if (r.errors.size() < schemas::max_report_errors)
    r.errors.push_back({std::move(location), std::move(rule), std::move(message), line});
  else
    r.truncated = true;
}

// Decodes one UTF-8 sequence (input is valid UTF-8: parse_json checked it).
char32_t decode(std::string_view s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return c;
  const int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
  char32_t cp = c & (0x3F >> n);
  for (int k = 0; k < n && i + 1 < s.size(); ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[++i]) & 0x3F);
  return cp;
}

// XML 1.0 cannot carry most control characters, not even as character references.
bool xml_char(char32_t c) {
  return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
         (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

class xml_writer {
 public:
  xml_writer(std::string& out, report& r) : out_(out), r_(r) {}

  bool text(std::string_view s, const std::string& pointer) {
    for (std::size_t i = 0; i < s.size(); ++i) {
      const char ch = s[i];
      switch (ch) {
        case '&':
          out_ += "&amp;";
          continue;
        case '<':
          out_ += "&lt;";
          continue;
        case '>':
          out_ += "&gt;";
          continue;
        case '\r':
          out_ += "&#13;";  // a literal CR would be normalised away by every XML parser
          continue;
        default:
          break;
      }
      if (static_cast<unsigned char>(ch) < 0x80) {
        if (!xml_char(static_cast<unsigned char>(ch))) return bad_char(ch, pointer);
        out_ += ch;
        continue;
      }
      const std::size_t start = i;
      const char32_t cp = decode(s, i);
      if (!xml_char(cp)) return bad_char(cp, pointer);
      out_.append(s.substr(start, i - start + 1));
    }
    return true;
  }

  void indent(int depth) {
    out_ += '\n';
    out_.append(static_cast<std::size_t>(depth) * 2, ' ');
  }

  // Writes `value` as element `name` following `schema`.
  bool element(std::string_view name, const node& schema, const rapidjson::Value& value,
               std::string& pointer, int depth) {
    indent(depth);
    out_ += '<';
    out_ += name;
    switch (schema.type) {
      case value_type::object:
        if (!value.IsObject()) return type_error(pointer, schema);
        if (value.MemberCount() == 0) {
          out_ += "/>";
          return true;
        }
        out_ += '>';
        if (!members(schema, value, pointer, depth + 1)) return false;
        indent(depth);
        break;
      case value_type::array:
        if (!value.IsArray()) return type_error(pointer, schema);
        if (value.Empty()) {
          out_ += "/>";
          return true;
        }
        out_ += '>';
        for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
          const std::size_t base = pointer.size();
          pointer += '/' + std::to_string(i);
          if (!element(schema.xml_item, *schema.items, value[i], pointer, depth + 1)) return false;
          pointer.resize(base);
        }
        indent(depth);
        break;
      case value_type::string:
        if (!value.IsString()) return type_error(pointer, schema);
        out_ += '>';
        if (!text({value.GetString(), value.GetStringLength()}, pointer)) return false;
        break;
      case value_type::integer:
        out_ += '>';
        if (value.IsInt64()) {
          out_ += std::to_string(value.GetInt64());
        } else if (value.IsUint64()) {
          out_ += std::to_string(value.GetUint64());
        } else if (value.IsDouble() && std::trunc(value.GetDouble()) == value.GetDouble() &&
                   std::fabs(value.GetDouble()) < 9.2e18) {
          out_ += std::to_string(static_cast<std::int64_t>(value.GetDouble()));
        } else {
          return type_error(pointer, schema);
        }
        break;
      case value_type::boolean:
        if (!value.IsBool()) return type_error(pointer, schema);
        out_ += '>';
        out_ += value.GetBool() ? "true" : "false";
        break;
    }
    out_ += "</";
    out_ += name;
    out_ += '>';
    return true;
  }

  // The members of an object, in schema order (the canonical XML order).
  bool members(const node& schema, const rapidjson::Value& value, std::string& pointer, int depth) {
    for (auto it = value.MemberBegin(); it != value.MemberEnd(); ++it)
      if (!schema.find_property({it->name.GetString(), it->name.GetStringLength()})) {
        fail(r_, pointer, "additionalProperties",
             "property '" + std::string(it->name.GetString()) + "' has no XML counterpart");
        return false;
      }
    for (const auto& p : schema.properties) {
      auto it = value.FindMember(rapidjson::StringRef(p.name.data(), p.name.size()));
      if (it == value.MemberEnd()) continue;
      const std::size_t base = pointer.size();
      schemas::append_pointer_token(pointer, p.name);
      if (!element(p.name, *p.schema, it->value, pointer, depth)) return false;
      pointer.resize(base);
    }
    return true;
  }

 private:
  bool bad_char(char32_t c, const std::string& pointer) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(c));
    fail(r_, pointer, "xml-char",
         std::string("character ") + hex + " cannot be represented in XML 1.0");
    return false;
  }
  bool type_error(const std::string& pointer, const node& schema) {
    fail(r_, pointer, "type", std::string(schemas::to_string(schema.type)) + " required");
    return false;
  }

  std::string& out_;
  report& r_;
};

std::size_t line_of(const xmlNode* n) { return static_cast<std::size_t>(xmlGetLineNo(n)); }

std::string_view name_of(const xmlNode* n) { return reinterpret_cast<const char*>(n->name); }

std::string_view trim(std::string_view s) {
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

class json_reader {
 public:
  json_reader(rapidjson::Document::AllocatorType& a, report& r, std::string_view ns)
      : a_(a), r_(r), ns_(ns) {}

  bool value(const xmlNode* el, const node& schema, rapidjson::Value& out) {
    switch (schema.type) {
      case value_type::object:
        return object(el, schema, out);
      case value_type::array:
        return array(el, schema, out);
      default:
        break;
    }
    std::string text;
    if (!leaf_text(el, text)) return false;
    switch (schema.type) {
      case value_type::string: {
        // xs:dateTime and xs:date collapse whitespace; plain strings keep it.
        std::string_view v = text;
        if (schema.format == schemas::formats::format_kind::date_time ||
            schema.format == schemas::formats::format_kind::date)
          v = trim(v);
        out.SetString(v.data(), static_cast<rapidjson::SizeType>(v.size()), a_);
        return true;
      }
      case value_type::integer: {
        std::string_view v = trim(text);
        if (!v.empty() && v.front() == '+') v.remove_prefix(1);  // xs:long allows a '+'
        std::int64_t x = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
        if (v.empty() || ec != std::errc() || p != v.data() + v.size())
          return bad(el, "cvc-datatype-valid.1.2.1", "'" + text + "' is not an integer");
        out.SetInt64(x);
        return true;
      }
      case value_type::boolean: {
        const std::string_view v = trim(text);
        if (v == "true" || v == "1") {
          out.SetBool(true);
        } else if (v == "false" || v == "0") {
          out.SetBool(false);
        } else {
          return bad(el, "cvc-datatype-valid.1.2.1", "'" + text + "' is not a boolean");
        }
        return true;
      }
      default:
        return false;
    }
  }

  bool object(const xmlNode* el, const node& schema, rapidjson::Value& out) {
    out.SetObject();
    if (!only_elements(el)) return false;
    // Canonical member order is schema order, whatever order the XML used.
    for (const auto& p : schema.properties) {
      const xmlNode* found = nullptr;
      for (const xmlNode* c = el->children; c != nullptr; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || name_of(c) != p.name) continue;
        if (found != nullptr)
          return bad(c, "cvc-complex-type.2.4.a", "element '" + p.name + "' appears twice");
        found = c;
      }
      if (found == nullptr) continue;
      rapidjson::Value v;
      if (!value(found, *p.schema, v)) return false;
      out.AddMember(
          rapidjson::Value(p.name.data(), static_cast<rapidjson::SizeType>(p.name.size()), a_), v,
          a_);
    }
    for (const xmlNode* c = el->children; c != nullptr; c = c->next)
      if (c->type == XML_ELEMENT_NODE && schema.find_property(name_of(c)) == nullptr)
        return bad(c, "cvc-complex-type.2.4.a",
                   "element '" + std::string(name_of(c)) + "' is not expected here");
    return true;
  }

  bool array(const xmlNode* el, const node& schema, rapidjson::Value& out) {
    out.SetArray();
    if (!only_elements(el)) return false;
    for (const xmlNode* c = el->children; c != nullptr; c = c->next) {
      if (c->type != XML_ELEMENT_NODE) continue;
      if (name_of(c) != schema.xml_item)
        return bad(c, "cvc-complex-type.2.4.a",
                   "expected <" + schema.xml_item + ">, found <" + std::string(name_of(c)) + ">");
      rapidjson::Value v;
      if (!value(c, *schema.items, v)) return false;
      out.PushBack(v, a_);
    }
    return true;
  }

 private:
  // Elements that hold objects or arrays may contain whitespace between children, nothing else.
  bool only_elements(const xmlNode* el) {
    for (const xmlNode* c = el->children; c != nullptr; c = c->next) {
      if (c->type == XML_ELEMENT_NODE) {
        if (c->ns == nullptr || ns_ != reinterpret_cast<const char*>(c->ns->href))
          return bad(c, "cvc-complex-type.2.4.a", "element is not in the v1 namespace");
        continue;
      }
      if (c->type == XML_TEXT_NODE) {
        const char* t = reinterpret_cast<const char*>(c->content);
        if (!trim(t ? t : "").empty()) return bad(el, "cvc-complex-type.2.3", "text not allowed");
        continue;
      }
      if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE) continue;
      return bad(el, "cvc-complex-type.2.3", "unexpected content");
    }
    return true;
  }

  bool leaf_text(const xmlNode* el, std::string& out) {
    for (const xmlNode* c = el->children; c != nullptr; c = c->next) {
      if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
        if (c->content) out += reinterpret_cast<const char*>(c->content);
      } else if (c->type == XML_ELEMENT_NODE) {
        return bad(c, "cvc-type.3.1.2", "a simple value may not contain elements");
      } else if (c->type != XML_COMMENT_NODE && c->type != XML_PI_NODE) {
        return bad(el, "cvc-type.3.1.2", "unexpected content in a simple value");
      }
    }
    return true;
  }

  bool bad(const xmlNode* n, std::string rule, std::string message) {
    fail(r_, schemas::xml_path(n), std::move(rule), std::move(message), line_of(n));
    return false;
  }

  rapidjson::Document::AllocatorType& a_;
  report& r_;
  std::string_view ns_;
};

const schemas::message_def* message_of(const schemas::schema_set& set,
                                       const rapidjson::Value& message, report& r) {
  const auto mt = message.IsObject() ? message.FindMember("messageType") : message.MemberEnd();
  if (!message.IsObject() || mt == message.MemberEnd() || !mt->value.IsString()) {
    fail(r, "", "required", "the message has no messageType");
    return nullptr;
  }
  const auto* m = set.model().find(mt->value.GetString());
  if (m == nullptr) fail(r, "/messageType", "enum", "unknown message type");
  return m;
}

}  // namespace

std::vector<std::string> all_types(const schemas::schema_set& set) {
  std::vector<std::string> out;
  for (const auto& m : set.model().messages()) out.push_back(m.type);
  return out;
}

bool canonical_json::to_canonical(std::string_view bytes, const context&, rapidjson::Document& out,
                                  report& r) const {
  r = {};
  r.enc = schemas::encoding::json;
  schemas::json_error err;
  if (!schemas::parse_json(bytes, out, {}, err)) {
    r.status = schemas::verdict::malformed;
    r.errors.push_back({err.location, err.rule, err.message, err.line});
    return false;
  }
  set_->validate_json(out, "", r);
  return r.valid();
}

bool canonical_json::from_canonical(const rapidjson::Value& message, const context&,
                                    std::string& out, report& r) const {
  r.enc = schemas::encoding::json;
  out = schemas::to_json_string(message, true);
  out += '\n';
  return true;
}

bool canonical_xml::json_to_xml(const rapidjson::Value& message, const schemas::message_def& m,
                                std::string& out, report& r) const {
  r.enc = schemas::encoding::xml;
  out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<message xmlns=\"";
  out += set_->model().xml_namespace();
  out += "\">";
  xml_writer w(out, r);
  std::string pointer;
  if (!message.IsObject() || !w.members(*m.root, message, pointer, 1)) {
    if (r.errors.empty()) fail(r, "", "type", "a message must be an object");
    return false;
  }
  out += "\n</message>\n";
  return true;
}

bool canonical_xml::xml_to_json(_xmlDoc* doc, const schemas::message_def& m,
                                rapidjson::Document& out, report& r) const {
  const xmlNode* root = xmlDocGetRootElement(doc);
  if (root == nullptr) {
    fail(r, "", "cvc-elt.1", "no root element");
    return false;
  }
  json_reader reader(out.GetAllocator(), r, set_->model().xml_namespace());
  rapidjson::Value v;
  if (!reader.object(root, *m.root, v)) return false;
  static_cast<rapidjson::Value&>(out) = v;
  return true;
}

bool canonical_xml::to_canonical(std::string_view bytes, const context&, rapidjson::Document& out,
                                 report& r) const {
  r = {};
  r.enc = schemas::encoding::xml;
  schemas::issue err;
  schemas::xml_doc_ptr doc = schemas::parse_xml(bytes, {}, err);
  if (!doc) {
    r.status = schemas::verdict::malformed;
    r.errors.push_back(std::move(err));
    return false;
  }
  set_->validate_xml(doc.get(), "", r);
  if (!r.valid()) return false;
  const auto* m = set_->model().find(r.message_type);
  if (m == nullptr || !xml_to_json(doc.get(), *m, out, r)) return false;
  // The JSON checks are the reference (formats, uuid, email): run them on the result too.
  schemas::report canonical;
  set_->validate_json(out, m->type, canonical);
  if (!canonical.valid()) {
    r = std::move(canonical);
    return false;
  }
  return true;
}

bool canonical_xml::from_canonical(const rapidjson::Value& message, const context&,
                                   std::string& out, report& r) const {
  const auto* m = message_of(*set_, message, r);
  if (m == nullptr || !json_to_xml(message, *m, out, r)) return false;
  // Check what we produce: an XSD failure here is a mapping bug, reported rather than sent.
  schemas::report check = set_->validate(out);
  if (!check.valid()) {
    r = std::move(check);
    return false;
  }
  return true;
}

}  // namespace odrgw::adapters
