#include <odrgw/schemas/xml.hpp>

#include <cstring>
#include <mutex>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

namespace odrgw::schemas {
namespace {

// Set while a user's XSD is compiled, so that its xs:include/xs:import may read local files.
thread_local bool allow_local_schema_files = false;

xmlParserInputPtr guarded_entity_loader(const char* url, const char* id, xmlParserCtxtPtr ctxt) {
  // Nothing is ever fetched from the network, and instance documents may load nothing at all.
  const bool network =
      url != nullptr && std::strstr(url, "://") != nullptr && std::strncmp(url, "file://", 7) != 0;
  if (!allow_local_schema_files || network || url == nullptr) {
    (void)id;
    if (ctxt != nullptr) xmlStopParser(ctxt);
    return nullptr;
  }
  return xmlNewInputFromFile(ctxt, url);
}

void silent_generic(void*, const char*, ...) {}

struct parse_state {
  bool doctype = false;
  bool have_error = false;
  xmlError first{};
  std::string first_message;
};

void on_internal_subset(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) {
  // A DOCTYPE is where entity bombs and external entities start: stop before anything in it
  // is read. Canonical messages never need one.
  auto* ctxt = static_cast<xmlParserCtxtPtr>(ctx);
  static_cast<parse_state*>(ctxt->_private)->doctype = true;
  xmlStopParser(ctxt);
}

void on_parse_error(void* ctx, xmlErrorPtr e) {
  auto* ctxt = static_cast<xmlParserCtxtPtr>(ctx);
  auto* st = static_cast<parse_state*>(ctxt->_private);
  if (st == nullptr || st->have_error || e == nullptr || e->level < XML_ERR_ERROR) return;
  st->have_error = true;
  st->first = *e;
  st->first_message = e->message != nullptr ? e->message : "";
  st->first.message = nullptr;  // not owned; the copy above is
}

std::string trim_message(std::string m) {
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  // "Element '{urn:...}currency'" -> "Element 'currency'": drop {namespace} qualifiers (no
  // spaces, a ':' inside); value sets like {'AED', 'AFN'} stay.
  for (std::size_t pos = 0; (pos = m.find('{', pos)) != std::string::npos;) {
    const std::size_t close = m.find('}', pos);
    if (close == std::string::npos) break;
    const std::string_view inner(m.data() + pos + 1, close - pos - 1);
    if (inner.find(' ') == std::string_view::npos && inner.find(':') != std::string_view::npos) {
      m.erase(pos, close - pos + 1);
    } else {
      ++pos;
    }
  }
  // Enumeration errors list every allowed value (249 countries): keep messages readable.
  if (m.size() > 300) m = m.substr(0, 297) + "...";
  return m;
}

unsigned element_depth(const xmlNode* root) {
  unsigned max = 0;
  unsigned depth = 0;
  const xmlNode* n = root;
  // Iterative pre-order walk: the tree may be up to libxml2's 256 levels deep.
  while (n != nullptr) {
    if (n->type == XML_ELEMENT_NODE) max = std::max(max, depth + 1);
    if (n->children != nullptr && n->type == XML_ELEMENT_NODE) {
      n = n->children;
      ++depth;
      continue;
    }
    while (n != nullptr && n->next == nullptr) {
      n = n->parent;
      if (n == nullptr || n->type == XML_DOCUMENT_NODE) return max;
      --depth;
    }
    if (n != nullptr) n = n->next;
  }
  return max;
}

std::string rule_for(const xmlError& e) {
  switch (e.code) {
    case XML_SCHEMAV_CVC_DATATYPE_VALID_1_2_1:
      return "cvc-datatype-valid.1.2.1";
    case XML_SCHEMAV_CVC_DATATYPE_VALID_1_2_2:
      return "cvc-datatype-valid.1.2.2";
    case XML_SCHEMAV_CVC_DATATYPE_VALID_1_2_3:
      return "cvc-datatype-valid.1.2.3";
    case XML_SCHEMAV_CVC_LENGTH_VALID:
      return "cvc-length-valid";
    case XML_SCHEMAV_CVC_MINLENGTH_VALID:
      return "cvc-minLength-valid";
    case XML_SCHEMAV_CVC_MAXLENGTH_VALID:
      return "cvc-maxLength-valid";
    case XML_SCHEMAV_CVC_MININCLUSIVE_VALID:
      return "cvc-minInclusive-valid";
    case XML_SCHEMAV_CVC_MAXINCLUSIVE_VALID:
      return "cvc-maxInclusive-valid";
    case XML_SCHEMAV_CVC_MINEXCLUSIVE_VALID:
      return "cvc-minExclusive-valid";
    case XML_SCHEMAV_CVC_MAXEXCLUSIVE_VALID:
      return "cvc-maxExclusive-valid";
    case XML_SCHEMAV_CVC_PATTERN_VALID:
      return "cvc-pattern-valid";
    case XML_SCHEMAV_CVC_ENUMERATION_VALID:
      return "cvc-enumeration-valid";
    case XML_SCHEMAV_CVC_COMPLEX_TYPE_2_1:
      return "cvc-complex-type.2.1";
    case XML_SCHEMAV_CVC_COMPLEX_TYPE_2_2:
      return "cvc-complex-type.2.2";
    case XML_SCHEMAV_CVC_COMPLEX_TYPE_2_3:
      return "cvc-complex-type.2.3";
    case XML_SCHEMAV_CVC_COMPLEX_TYPE_2_4:
    case XML_SCHEMAV_ELEMENT_CONTENT: {
      // libxml2 uses one code for both; the XSD rule names differ.
      const bool missing = e.message != nullptr && std::strstr(e.message, "Missing child");
      return missing ? "cvc-complex-type.2.4.b" : "cvc-complex-type.2.4.a";
    }
    case XML_SCHEMAV_CVC_COMPLEX_TYPE_3_2_1:
    case XML_SCHEMAV_CVC_COMPLEX_TYPE_3_2_2:
      return "cvc-complex-type.3.2";
    case XML_SCHEMAV_CVC_COMPLEX_TYPE_4:
      return "cvc-complex-type.4";
    case XML_SCHEMAV_CVC_ELT_1:
      return "cvc-elt.1";
    case XML_SCHEMAV_CVC_TYPE_3_1_1:
    case XML_SCHEMAV_CVC_TYPE_3_1_2:
      return "cvc-type.3.1";
    case XML_SCHEMAV_CVC_IDC:
      return "cvc-identity-constraint";
    default:
      return "xsd-" + std::to_string(e.code);
  }
}

struct collector {
  std::vector<issue>* out;
  bool* truncated;
  bool any = false;
};

void on_validity_error(void* ctx, xmlErrorPtr e) {
  auto* c = static_cast<collector*>(ctx);
  if (e == nullptr || e->level < XML_ERR_ERROR) return;
  c->any = true;
  if (c->out->size() >= max_report_errors) {
    *c->truncated = true;
    return;
  }
  issue is;
  is.rule = rule_for(*e);
  is.message = trim_message(e->message != nullptr ? e->message : "");
  is.line = e->line > 0 ? static_cast<std::size_t>(e->line) : 0;
  if (e->node != nullptr) {
    const auto* n = static_cast<const xmlNode*>(e->node);
    is.location = xml_path(n);
    if (is.line == 0) is.line = static_cast<std::size_t>(xmlGetLineNo(n));
  }
  c->out->push_back(std::move(is));
}

}  // namespace

void xml_doc_deleter::operator()(_xmlDoc* d) const noexcept { xmlFreeDoc(d); }

void xml_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    xmlInitParser();
    xmlSetExternalEntityLoader(guarded_entity_loader);
  });
  // libxml2 keeps error handlers per thread; never let it print on our stderr.
  xmlSetGenericErrorFunc(nullptr, silent_generic);
}

xml_doc_ptr parse_xml(std::string_view text, const xml_limits& limits, issue& err) {
  xml_init();
  err = {};
  if (text.size() > limits.max_bytes) {
    err.rule = "max-bytes";
    err.message = "document is " + std::to_string(text.size()) + " bytes; the limit is " +
                  std::to_string(limits.max_bytes);
    return nullptr;
  }
  if (text.size() > static_cast<std::size_t>(INT32_MAX)) return nullptr;
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (ctxt == nullptr) {
    err.rule = "xml-syntax";
    err.message = "out of memory";
    return nullptr;
  }
  parse_state st;
  ctxt->_private = &st;
  ctxt->sax->internalSubset = on_internal_subset;
  ctxt->sax->externalSubset = on_internal_subset;
  ctxt->sax->serror = on_parse_error;
  // NONET: no network; no NOENT/DTDLOAD/DTDATTR: entities are never substituted or loaded;
  // no HUGE: libxml2 keeps its depth (256) and text-size limits.
  constexpr int options =
      XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  xml_doc_ptr doc(xmlCtxtReadMemory(ctxt, text.data(), static_cast<int>(text.size()), "message.xml",
                                    nullptr, options));
  const bool well_formed = ctxt->wellFormed != 0;
  xmlFreeParserCtxt(ctxt);

  if (st.doctype) {
    err.rule = "xml-doctype";
    err.message = "DOCTYPE declarations are not accepted (no DTDs, no entities)";
    err.line = 1;
    return nullptr;
  }
  if (!doc || !well_formed || st.have_error) {
    const bool depth = st.first_message.find("Excessive depth") != std::string::npos;
    err.rule = depth ? "max-depth"
               : st.first.code == XML_ERR_INVALID_CHAR || st.first.code == XML_ERR_INVALID_ENCODING
                   ? "xml-encoding"
                   : "xml-syntax";
    err.message = st.have_error ? trim_message(st.first_message) : "not well-formed XML";
    err.line = st.first.line > 0 ? static_cast<std::size_t>(st.first.line) : 0;
    return nullptr;
  }
  if (element_depth(xmlDocGetRootElement(doc.get())) > limits.max_depth) {
    err.rule = "max-depth";
    err.message = "element nesting deeper than " + std::to_string(limits.max_depth) + " levels";
    return nullptr;
  }
  return doc;
}

std::string xml_path(const _xmlNode* node) {
  std::vector<std::string> parts;
  for (const xmlNode* n = node; n != nullptr && n->type == XML_ELEMENT_NODE; n = n->parent) {
    std::string part = reinterpret_cast<const char*>(n->name);
    // Add a 1-based index only where same-named siblings make the name ambiguous.
    int index = 1;
    int same = 0;
    for (const xmlNode* s = n->parent ? n->parent->children : nullptr; s; s = s->next) {
      if (s->type != XML_ELEMENT_NODE || !xmlStrEqual(s->name, n->name)) continue;
      ++same;
      if (s == n) index = same;
    }
    if (same > 1) part += "[" + std::to_string(index) + "]";
    parts.push_back(std::move(part));
  }
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    path += '/';
    path += *it;
  }
  return path;
}

std::unique_ptr<xsd_schema> xsd_schema::compile(std::string_view xsd_text, std::string& error,
                                                const std::string& base_path) {
  xml_init();
  std::vector<issue> errs;
  bool truncated = false;
  collector c{&errs, &truncated};
  const std::string url = base_path.empty() ? "schema.xsd" : base_path;
  xmlDocPtr doc = xmlReadMemory(xsd_text.data(), static_cast<int>(xsd_text.size()), url.c_str(),
                                nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == nullptr) {
    error = "the schema is not well-formed XML";
    return nullptr;
  }
  allow_local_schema_files = !base_path.empty();
  xmlSchemaParserCtxtPtr pctxt = xmlSchemaNewDocParserCtxt(doc);
  xmlSchemaSetParserStructuredErrors(pctxt, on_validity_error, &c);
  xmlSchemaPtr schema = xmlSchemaParse(pctxt);
  xmlSchemaFreeParserCtxt(pctxt);
  allow_local_schema_files = false;
  xmlFreeDoc(doc);
  if (schema == nullptr) {
    error = errs.empty() ? "the XSD could not be compiled" : errs.front().message;
    if (!errs.empty() && errs.front().line)
      error += " (line " + std::to_string(errs.front().line) + ")";
    return nullptr;
  }
  return std::unique_ptr<xsd_schema>(new xsd_schema(schema));
}

xsd_schema::~xsd_schema() { xmlSchemaFree(schema_); }

bool xsd_schema::validate(_xmlDoc* doc, std::vector<issue>& out, bool& truncated) const {
  xml_init();
  // A validation context is cheap and per call, so one compiled schema serves every thread.
  xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(schema_);
  if (v == nullptr) {
    out.push_back({"", "xsd-internal", "out of memory", 0});
    return false;
  }
  collector c{&out, &truncated};
  xmlSchemaSetValidStructuredErrors(v, on_validity_error, &c);
  const int rc = xmlSchemaValidateDoc(v, doc);
  xmlSchemaFreeValidCtxt(v);
  if (rc != 0 && !c.any) out.push_back({"", "xsd-internal", "validation failed", 0});
  return rc == 0;
}

}  // namespace odrgw::schemas
