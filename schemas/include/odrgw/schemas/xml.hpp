#pragma once
// Locked-down XML: no network, no DTD (a DOCTYPE is refused before any entity is declared), no
// external entities, libxml2's depth limit, a size limit, and XSD validation that reports the
// element's path, its line and the XSD rule.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <odrgw/schemas/report.hpp>

// libxml2's types, declared here so this header does not pull libxml2 into every user.
struct _xmlDoc;
struct _xmlNode;
struct _xmlSchema;

namespace odrgw::schemas {

struct xml_limits {
  std::size_t max_bytes = 16u << 20;
  unsigned max_depth = 64;  // element nesting; libxml2's own hard limit is 256
};

struct xml_doc_deleter {
  void operator()(_xmlDoc* d) const noexcept;
};
using xml_doc_ptr = std::unique_ptr<_xmlDoc, xml_doc_deleter>;

// Must run once before threads use libxml2 (the gateway and CLI call it at start); safe to repeat.
void xml_init();

// Parses `text`; on failure returns nullptr and fills `err` (rule: xml-syntax, xml-doctype,
// max-bytes, max-depth, xml-encoding).
xml_doc_ptr parse_xml(std::string_view text, const xml_limits& limits, issue& err);

// The path of an element: /message/payload/parties/party[2]/name.
std::string xml_path(const _xmlNode* node);

// A compiled XSD, shared read-only by all threads.
class xsd_schema {
 public:
  // Compiles schema text. `base_path` resolves xs:include/xs:import of user schemas (local files
  // only; nothing is ever fetched from the network). Returns nullptr with `error` on failure.
  static std::unique_ptr<xsd_schema> compile(std::string_view xsd_text, std::string& error,
                                             const std::string& base_path = {});
  ~xsd_schema();
  xsd_schema(const xsd_schema&) = delete;
  xsd_schema& operator=(const xsd_schema&) = delete;

  // Appends one issue per XSD violation (at most max_report_errors). Returns true when valid.
  bool validate(_xmlDoc* doc, std::vector<issue>& out, bool& truncated) const;

 private:
  explicit xsd_schema(_xmlSchema* s) : schema_(s) {}
  _xmlSchema* schema_;
};

}  // namespace odrgw::schemas
