// Reports of a run: JSON, JUnit XML (written with libxml2's writer, so escaping is its job) and
// one self-contained HTML page.
#include <odrgw/conformance/report.hpp>

#include <libxml/xmlwriter.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>

#include <odrgw/schemas/json.hpp>

namespace odrgw::conformance {
namespace {

using rapidjson::Value;

std::string seconds(long long ms) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", static_cast<double>(ms) / 1000.0);
  return b;
}

// Targets answer with any bytes. Reports keep them readable and well-formed: valid UTF-8 as is,
// except C0 controls other than TAB, LF, CR and U+FFFE/U+FFFF (not allowed in XML 1.0); those and
// bytes that are not UTF-8 become \\xNN.
std::string safe_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto escape = [&](unsigned char c) {
    static constexpr char digits[] = "0123456789abcdef";
    out += "\\x";
    out += digits[c >> 4];
    out += digits[c & 15];
  };
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
        escape(c);
      else
        out += static_cast<char>(c);
      ++i;
      continue;
    }
    std::size_t n = c >= 0xC2 && c <= 0xDF   ? 2
                    : c >= 0xE0 && c <= 0xEF ? 3
                    : c >= 0xF0 && c <= 0xF4 ? 4
                                             : 0;
    char32_t cp = n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    bool ok = n != 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      ok = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates, beyond U+10FFFF, and the XML non-characters.
    ok = ok && !(n == 3 && cp < 0x800) && !(n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) &&
         !(cp >= 0xD800 && cp <= 0xDFFF) && cp != 0xFFFE && cp != 0xFFFF;
    if (!ok) {
      escape(c);
      ++i;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

struct requirement_row {
  std::vector<const case_result*> cases;
  std::string status = "passed";  // passed | failed | not-tested
};

// Per requirement, in first-seen order: failed if any case failed, not-tested if none ran.
std::vector<std::pair<std::string, requirement_row>> by_requirement(const run_result& r) {
  std::vector<std::pair<std::string, requirement_row>> rows;
  for (const auto& c : r.cases) {
    auto it = std::find_if(rows.begin(), rows.end(),
                           [&](const auto& row) { return row.first == c.def.requirement; });
    if (it == rows.end()) it = rows.insert(rows.end(), {c.def.requirement, {}});
    it->second.cases.push_back(&c);
  }
  for (auto& [req, row] : rows) {
    bool any_ran = false, any_failed = false;
    for (const auto* c : row.cases) {
      any_ran = any_ran || c->status == case_status::passed || c->status == case_status::failed;
      any_failed = any_failed || c->status == case_status::failed;
    }
    row.status = any_failed ? "failed" : any_ran ? "passed" : "not-tested";
  }
  return rows;
}

}  // namespace

std::string json_report(const run_result& r) {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto s = [&](const std::string& raw) {
    const std::string v = safe_text(raw);
    return Value(v.c_str(), static_cast<rapidjson::SizeType>(v.size()), a);
  };
  d.AddMember("suite", s(r.suite), a);
  d.AddMember("suiteVersion", s(r.suite_version), a);
  d.AddMember("specVersion", s(r.spec_version), a);
  d.AddMember("target", s(r.target), a);
  rapidjson::Document claims;
  schemas::json_error err;
  schemas::parse_json(r.claimed.to_json(), claims, {}, err);  // our own output
  d.AddMember("claims", Value(claims, a), a);
  d.AddMember("timeBoundMs", static_cast<int64_t>(r.time_bound_ms), a);
  d.AddMember("startedAt", s(r.started_at), a);
  d.AddMember("finishedAt", s(r.finished_at), a);
  Value sum(rapidjson::kObjectType);
  sum.AddMember("cases", static_cast<uint64_t>(r.cases.size()), a);
  sum.AddMember("passed", static_cast<uint64_t>(r.count(case_status::passed)), a);
  sum.AddMember("failed", static_cast<uint64_t>(r.count(case_status::failed)), a);
  sum.AddMember("skipped", static_cast<uint64_t>(r.count(case_status::skipped)), a);
  sum.AddMember("notApplicable", static_cast<uint64_t>(r.count(case_status::not_applicable)), a);
  sum.AddMember("mandatoryPassed", r.mandatory_passed(), a);
  d.AddMember("summary", sum, a);
  Value reqs(rapidjson::kArrayType);
  for (const auto& [req, row] : by_requirement(r)) {
    Value o(rapidjson::kObjectType);
    o.AddMember("requirement", s(req), a);
    o.AddMember("status", s(row.status), a);
    Value ids(rapidjson::kArrayType);
    for (const auto* c : row.cases) ids.PushBack(s(c->def.id), a);
    o.AddMember("cases", ids, a);
    reqs.PushBack(o, a);
  }
  d.AddMember("requirements", reqs, a);
  Value cases(rapidjson::kArrayType);
  for (const auto& c : r.cases) {
    Value o(rapidjson::kObjectType);
    o.AddMember("id", s(c.def.id), a);
    o.AddMember("title", s(c.def.title), a);
    o.AddMember("requirement", s(c.def.requirement), a);
    o.AddMember("severity", s(c.def.severity), a);
    o.AddMember("status", s(std::string(to_string(c.status))), a);
    if (!c.reason.empty()) o.AddMember("reason", s(c.reason), a);
    o.AddMember("elapsedMs", static_cast<int64_t>(c.elapsed_ms), a);
    Value f(rapidjson::kArrayType);
    for (const auto& x : c.failures) f.PushBack(s(x), a);
    o.AddMember("failures", f, a);
    Value ex(rapidjson::kArrayType);
    for (const auto& e : c.exchanges) {
      Value x(rapidjson::kObjectType);
      x.AddMember("step", s(e.step), a);
      x.AddMember("request", s(e.request), a);
      x.AddMember("status", e.status, a);
      x.AddMember("response", s(e.response), a);
      x.AddMember("elapsedMs", static_cast<int64_t>(e.elapsed_ms), a);
      ex.PushBack(x, a);
    }
    o.AddMember("exchanges", ex, a);
    cases.PushBack(o, a);
  }
  d.AddMember("cases", cases, a);
  return schemas::to_json_string(d, true) + "\n";
}

std::string junit_report(const run_result& r) {
  std::unique_ptr<xmlBuffer, decltype(&xmlBufferFree)> buf(xmlBufferCreate(), xmlBufferFree);
  if (!buf) throw std::runtime_error("out of memory");
  xmlTextWriterPtr w = xmlNewTextWriterMemory(buf.get(), 0);
  if (!w) throw std::runtime_error("out of memory");
  auto attr = [&](const char* name, const std::string& v) {
    const std::string safe = safe_text(v);
    xmlTextWriterWriteAttribute(w, reinterpret_cast<const xmlChar*>(name),
                                reinterpret_cast<const xmlChar*>(safe.c_str()));
  };
  auto start = [&](const char* name) {
    xmlTextWriterStartElement(w, reinterpret_cast<const xmlChar*>(name));
  };
  long long total_ms = 0;
  for (const auto& c : r.cases) total_ms += c.elapsed_ms;
  const auto skipped = r.count(case_status::skipped) + r.count(case_status::not_applicable);
  xmlTextWriterSetIndent(w, 1);
  xmlTextWriterStartDocument(w, nullptr, "UTF-8", nullptr);
  start("testsuites");
  attr("name", "odrgw conformance");
  attr("tests", std::to_string(r.cases.size()));
  attr("failures", std::to_string(r.count(case_status::failed)));
  attr("errors", "0");
  attr("skipped", std::to_string(skipped));
  attr("time", seconds(total_ms));
  start("testsuite");
  attr("name", r.suite);
  attr("tests", std::to_string(r.cases.size()));
  attr("failures", std::to_string(r.count(case_status::failed)));
  attr("errors", "0");
  attr("skipped", std::to_string(skipped));
  attr("time", seconds(total_ms));
  attr("timestamp", r.started_at);
  start("properties");
  for (const auto& [k, v] :
       std::vector<std::pair<std::string, std::string>>{{"suiteVersion", r.suite_version},
                                                        {"specVersion", r.spec_version},
                                                        {"target", r.target},
                                                        {"claims", r.claimed.to_json()}}) {
    start("property");
    attr("name", k);
    attr("value", v);
    xmlTextWriterEndElement(w);
  }
  xmlTextWriterEndElement(w);
  for (const auto& c : r.cases) {
    start("testcase");
    attr("classname", r.suite + "." + c.def.requirement);
    attr("name", c.def.id + " [" + c.def.severity + "] " + c.def.title);
    attr("time", seconds(c.elapsed_ms));
    if (c.status == case_status::failed) {
      start("failure");
      attr("message", c.failures.empty() ? "failed" : c.failures.front());
      attr("type", c.def.severity);
      std::string text;
      for (const auto& f : c.failures) text += f + "\n";
      for (const auto& e : c.exchanges)
        text += "--- " + e.step + " (" + std::to_string(e.elapsed_ms) + " ms)\n" + e.request +
                "\n<<< " + std::to_string(e.status) + "\n" + e.response + "\n";
      text = safe_text(text);
      xmlTextWriterWriteString(w, reinterpret_cast<const xmlChar*>(text.c_str()));
      xmlTextWriterEndElement(w);
    } else if (c.status != case_status::passed) {
      start("skipped");
      attr("message", std::string(to_string(c.status)) + ": " + c.reason);
      xmlTextWriterEndElement(w);
    }
    xmlTextWriterEndElement(w);
  }
  xmlTextWriterEndDocument(w);  // closes every open element
  xmlFreeTextWriter(w);
  return std::string(reinterpret_cast<const char*>(xmlBufferContent(buf.get())),
                     static_cast<std::size_t>(xmlBufferLength(buf.get())));
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) switch (c) {
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
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  return out;
}

std::string html_report(const run_result& r) {
  const auto e = [](const std::string& s) { return html_escape(safe_text(s)); };
  const bool ok = r.mandatory_passed();
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>odrgw "
       "conformance: " +
       e(r.suite) + " - " + e(r.target) + "</title>\n";
  h +=
      "<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
      "td,th{border:1px solid #999;padding:.3em .6em;text-align:left;vertical-align:top}"
      ".passed{color:#060}.failed{color:#b00;font-weight:bold}.skipped,.not-applicable,.not-tested"
      "{color:#777}pre{background:#f4f4f4;padding:.5em;white-space:pre-wrap;word-break:break-all}"
      "</style></head><body>\n";
  h += "<h1>Conformance report: suite " + e(r.suite) + " " + e(r.suite_version) + "</h1>\n";
  h += "<p class=\"" + std::string(ok ? "passed" : "failed") + "\">" +
       (ok ? "Every mandatory case passed." : "At least one mandatory case did not pass.") +
       "</p>\n<table>\n";
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"Target", r.target},
           {"ODR Interchange spec version", r.spec_version},
           {"Claims", r.claimed.to_json()},
           {"Time bound", std::to_string(r.time_bound_ms) + " ms"},
           {"Started", r.started_at},
           {"Finished", r.finished_at},
           {"Cases", std::to_string(r.cases.size())},
           {"Passed", std::to_string(r.count(case_status::passed))},
           {"Failed", std::to_string(r.count(case_status::failed))},
           {"Skipped", std::to_string(r.count(case_status::skipped))},
           {"Not applicable", std::to_string(r.count(case_status::not_applicable))}})
    h += "<tr><th>" + e(k) + "</th><td>" + e(v) + "</td></tr>\n";
  h += "</table>\n<h2>Requirements</h2>\n<table><tr><th>Requirement</th><th>Result</th>"
       "<th>Cases</th></tr>\n";
  for (const auto& [req, row] : by_requirement(r)) {
    std::string cases;
    for (const auto* c : row.cases)
      cases += "<a href=\"#" + e(c->def.id) + "\">" + e(c->def.id) + "</a> (" + e(c->def.severity) +
               ", <span class=\"" + e(std::string(to_string(c->status))) + "\">" +
               e(std::string(to_string(c->status))) + "</span>)<br>";
    h += "<tr><td>" + e(req) + "</td><td class=\"" + e(row.status) + "\">" + e(row.status) +
         "</td><td>" + cases + "</td></tr>\n";
  }
  h += "</table>\n<h2>Cases</h2>\n";
  for (const auto& c : r.cases) {
    const std::string st(to_string(c.status));
    h += "<h3 id=\"" + e(c.def.id) + "\">" + e(c.def.id) + ": <span class=\"" + e(st) + "\">" +
         e(st) + "</span></h3>\n<p>" + e(c.def.title) + " &mdash; " + e(c.def.requirement) + ", " +
         e(c.def.severity) + ", " + std::to_string(c.elapsed_ms) + " ms</p>\n";
    if (!c.reason.empty()) h += "<p>" + e(c.reason) + "</p>\n";
    if (c.status != case_status::failed) continue;
    h += "<ul>\n";
    for (const auto& f : c.failures) h += "<li>" + e(f) + "</li>\n";
    h += "</ul>\n";
    for (const auto& x : c.exchanges)
      h += "<details><summary>" + e(x.step) + ": " + std::to_string(x.status) + " in " +
           std::to_string(x.elapsed_ms) + " ms</summary>\n<p>Request</p><pre>" + e(x.request) +
           "</pre>\n<p>Response</p><pre>" + e(x.response) + "</pre></details>\n";
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace odrgw::conformance
