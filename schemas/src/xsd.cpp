// XSD 1.0 generation from the model: the XML encoding is derived, never hand-kept.
//   object -> complexType with xs:all (members in any order, each at most once)
//   array  -> wrapper element with a sequence of x-odr-xml-item children
//   string -> xs:string (xs:dateTime / xs:date / xs:anyURI for formats) with the same facets
//   integer -> xs:long with min/maxInclusive; boolean -> xs:boolean limited to true|false
#include <map>
#include <set>

#include <odrgw/schemas/model.hpp>

namespace odrgw::schemas {
namespace {

constexpr std::string_view uuid_pattern =
    "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
// Approximations of the JSON format checkers, which remain the reference (docs/protocol.md).
constexpr std::string_view uri_pattern = "[A-Za-z][A-Za-z0-9+.\\-]*:[!-~]*";
constexpr std::string_view email_pattern =
    "[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\-]+)*"
    "@[A-Za-z0-9]([A-Za-z0-9\\-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9\\-]{0,61}[A-Za-z0-9])"
    "?)*";

std::string escape_attr(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

class xsd_writer {
 public:
  explicit xsd_writer(const model& m) : m_(m) {}

  std::string write(const message_def& md) {
    out_ += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out_ += "<!-- Generated from odr-interchange-v1.json by odrgw. Do not edit. -->\n";
    out_ += "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"\n";
    out_ += "           xmlns:odr=\"" + escape_attr(m_.xml_namespace()) + "\"\n";
    out_ += "           xmlns:odrx=\"urn:odrgw:schema-annotations\"\n";
    out_ += "           targetNamespace=\"" + escape_attr(m_.xml_namespace()) + "\"\n";
    out_ += "           elementFormDefault=\"qualified\" version=\"" +
            escape_attr(m_.spec_version()) + "\">\n";
    line(1, "<xs:annotation><xs:documentation>ODR Interchange v" + escape_attr(m_.spec_version()) +
                ": " + escape_attr(md.type) + " (" + escape_attr(md.clause) +
                ")</xs:documentation></xs:annotation>");
    line(1, "<xs:element name=\"message\">");
    complex_type_body(*md.root, 2, "");
    line(1, "</xs:element>");
    // Named types are emitted after their first use, sorted for a stable file.
    while (!pending_.empty()) {
      auto it = pending_.begin();
      const node* n = it->second;
      emitted_.insert(it->first);
      pending_.erase(it);
      named_type(*n);
    }
    out_ += "</xs:schema>\n";
    return std::move(out_);
  }

 private:
  void line(int depth, std::string_view s) {
    out_.append(static_cast<std::size_t>(depth) * 2, ' ');
    out_ += s;
    out_ += '\n';
  }

  static bool is_complex(const node& n) {
    return n.type == value_type::object || n.type == value_type::array;
  }

  std::string type_ref(const node& n) {
    if (!emitted_.contains(n.definition)) pending_.emplace(n.definition, &n);
    return "odr:" + n.definition;
  }

  void documentation(int depth, std::string_view text) {
    if (text.empty()) return;
    line(depth, "<xs:annotation><xs:documentation>" + escape_attr(text) +
                    "</xs:documentation></xs:annotation>");
  }

  void element(int depth, std::string_view name, const node& schema, std::string_view min_occurs,
               std::string_view max_occurs, bool personal, std::string_view description) {
    std::string open = "<xs:element name=\"" + escape_attr(name) + "\"";
    if (!schema.definition.empty()) open += " type=\"" + type_ref(schema) + "\"";
    if (!min_occurs.empty()) open += " minOccurs=\"" + std::string(min_occurs) + "\"";
    if (!max_occurs.empty()) open += " maxOccurs=\"" + std::string(max_occurs) + "\"";
    if (personal) open += " odrx:personalData=\"true\"";
    const bool unique = schema.type == value_type::array && schema.unique_items;
    const bool inline_type = schema.definition.empty();
    if (!inline_type && !unique && description.empty()) {
      line(depth, open + "/>");
      return;
    }
    line(depth, open + ">");
    documentation(depth + 1, description);
    if (inline_type) {
      if (is_complex(schema)) {
        complex_type_body(schema, depth + 1, "");
      } else {
        simple_type(schema, depth + 1, "");
      }
    }
    if (unique) {
      // XSD's identity constraint is the counterpart of uniqueItems for scalar items.
      line(depth + 1, "<xs:unique name=\"unique-" + std::to_string(++unique_count_) + "\">");
      line(depth + 2, "<xs:selector xpath=\"odr:" + escape_attr(schema.xml_item) + "\"/>");
      line(depth + 2, "<xs:field xpath=\".\"/>");
      line(depth + 1, "</xs:unique>");
    }
    line(depth, "</xs:element>");
  }

  void complex_type_body(const node& n, int depth, std::string_view name) {
    const std::string open =
        name.empty() ? "<xs:complexType" : "<xs:complexType name=\"" + escape_attr(name) + "\"";
    if (n.type == value_type::object) {
      if (n.properties.empty()) {
        line(depth, open + "/>");
        return;
      }
      line(depth, open + ">");
      line(depth + 1, "<xs:all>");
      for (const auto& p : n.properties)
        element(depth + 2, p.name, *p.schema, p.required ? "" : "0", "", p.personal_data,
                p.description);
      line(depth + 1, "</xs:all>");
      line(depth, "</xs:complexType>");
      return;
    }
    // array
    line(depth, open + ">");
    line(depth + 1, "<xs:sequence>");
    const std::string min = std::to_string(n.min_items.value_or(0));
    const std::string max = n.max_items ? std::to_string(*n.max_items) : "unbounded";
    element(depth + 2, n.xml_item, *n.items, min == "1" ? "" : min, max == "1" ? "" : max,
            n.items->personal_data, "");
    line(depth + 1, "</xs:sequence>");
    line(depth, "</xs:complexType>");
  }

  void facet(int depth, std::string_view kind, std::string_view value) {
    line(depth, "<xs:" + std::string(kind) + " value=\"" + escape_attr(value) + "\"/>");
  }

  void simple_type(const node& n, int depth, std::string_view name) {
    line(depth,
         name.empty() ? "<xs:simpleType>" : "<xs:simpleType name=\"" + escape_attr(name) + "\">");
    std::string base = "xs:string";
    bool lengths = true;
    if (n.type == value_type::integer) {
      base = "xs:long";
    } else if (n.type == value_type::boolean) {
      base = "xs:boolean";
    } else if (n.format == formats::format_kind::date_time) {
      base = "xs:dateTime";
      lengths = false;  // XSD has no length facets on date/time types; the pattern bounds them
    } else if (n.format == formats::format_kind::date) {
      base = "xs:date";
      lengths = false;
    } else if (n.format == formats::format_kind::uri) {
      base = "xs:anyURI";
    }
    line(depth + 1, "<xs:restriction base=\"" + base + "\">");
    if (n.type == value_type::integer) {
      if (n.minimum) facet(depth + 2, "minInclusive", std::to_string(*n.minimum));
      if (n.maximum) facet(depth + 2, "maxInclusive", std::to_string(*n.maximum));
    } else if (n.type == value_type::boolean) {
      facet(depth + 2, "pattern", "true|false");
    } else {
      if (n.const_value) facet(depth + 2, "enumeration", *n.const_value);
      for (const auto& e : n.enum_values) facet(depth + 2, "enumeration", e);
      if (lengths && n.min_length) facet(depth + 2, "minLength", std::to_string(*n.min_length));
      if (lengths && n.max_length) facet(depth + 2, "maxLength", std::to_string(*n.max_length));
      // Several patterns in one restriction are OR-ed in XSD, so only one is ever emitted here;
      // a schema pattern wins over the format's approximation.
      if (!n.pattern.empty()) {
        facet(depth + 2, "pattern", std::string_view(n.pattern).substr(1, n.pattern.size() - 2));
      } else if (n.format == formats::format_kind::uuid) {
        facet(depth + 2, "pattern", uuid_pattern);
      } else if (n.format == formats::format_kind::uri) {
        facet(depth + 2, "pattern", uri_pattern);
      } else if (n.format == formats::format_kind::email) {
        facet(depth + 2, "pattern", email_pattern);
      }
    }
    line(depth + 1, "</xs:restriction>");
    line(depth, "</xs:simpleType>");
  }

  void named_type(const node& n) {
    if (is_complex(n)) {
      complex_type_body(n, 1, n.definition);
    } else {
      simple_type(n, 1, n.definition);
    }
  }

  const model& m_;
  std::string out_;
  std::map<std::string, const node*> pending_;
  std::set<std::string> emitted_;
  int unique_count_ = 0;
};

}  // namespace

std::string model::xsd(const message_def& m) const { return xsd_writer(*this).write(m); }

}  // namespace odrgw::schemas
