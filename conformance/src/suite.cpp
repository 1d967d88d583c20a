// Suites: the embedded suite files, checked against the suite schema when loaded; claims files.
#include <odrgw/conformance/suite.hpp>

#include <algorithm>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

#include <odrgw/schemas/json.hpp>

namespace odrgw::conformance {
namespace {

using rapidjson::Value;

std::string_view embedded_file(std::string_view path) {
  for (const auto& f : embedded::conformance::files())
    if (f.path == path) return f.data;
  return {};
}

std::string str(const Value& v, const char* name) {
  auto it = v.FindMember(name);
  return it != v.MemberEnd() && it->value.IsString()
             ? std::string(it->value.GetString(), it->value.GetStringLength())
             : std::string();
}

const schemas::json_schema_validator& suite_schema() {
  static const auto validator = [] {
    std::string error;
    auto v = schemas::json_schema_validator::load(
        embedded_file("conformance/suites/suite.schema.json"), error);
    if (!v) throw std::runtime_error("the embedded suite schema does not load: " + error);
    return v;
  }();
  return *validator;
}

}  // namespace

std::vector<std::string> suite_ids() {
  std::vector<std::string> ids;
  constexpr std::string_view prefix = "conformance/suites/";
  constexpr std::string_view suffix = "/suite.json";
  for (const auto& f : embedded::conformance::files())
    if (f.path.starts_with(prefix) && f.path.ends_with(suffix))
      ids.emplace_back(f.path.substr(prefix.size(), f.path.size() - prefix.size() - suffix.size()));
  std::sort(ids.begin(), ids.end());
  return ids;
}

suite_def load_suite(std::string_view id) {
  const std::string path = "conformance/suites/" + std::string(id) + "/suite.json";
  const auto text = embedded_file(path);
  if (text.empty()) {
    std::string known;
    for (const auto& s : suite_ids()) known += (known.empty() ? "" : ", ") + s;
    throw std::runtime_error("unknown suite '" + std::string(id) + "' (suites: " + known + ")");
  }
  return parse_suite(text);
}

suite_def parse_suite(std::string_view json) {
  rapidjson::Document d;
  schemas::json_error err;
  if (!schemas::parse_json(json, d, {}, err))
    throw std::runtime_error("suite: " + err.message + " at line " + std::to_string(err.line));
  schemas::report r;
  suite_schema().validate(d, r);
  if (!r.valid()) {
    const auto& e = r.errors.front();
    throw std::runtime_error("suite breaks the suite schema at '" + e.location + "' (" + e.rule +
                             "): " + e.message);
  }
  suite_def s;
  s.id = str(d, "suite");
  s.version = str(d, "version");
  s.spec_version = str(d, "specVersion");
  s.title = str(d, "title");
  s.description = str(d, "description");
  if (auto k = str(d, "targetKind"); !k.empty()) s.target_kind = k;
  if (auto it = d.FindMember("timeBoundMs"); it != d.MemberEnd())
    s.time_bound = std::chrono::milliseconds(it->value.GetInt());
  if (auto it = d.FindMember("defaultMessageTypes"); it != d.MemberEnd())
    for (const auto& t : it->value.GetArray())
      s.default_message_types.emplace_back(t.GetString(), t.GetStringLength());
  for (const auto& c : d["cases"].GetArray()) {
    case_def cd;
    cd.id = str(c, "id");
    cd.title = str(c, "title");
    cd.requirement = str(c, "requirement");
    cd.severity = str(c, "severity");
    cd.for_each = str(c, "forEach");
    cd.requires_claim = str(c, "requiresClaim");
    cd.requires_procedure = str(c, "requiresProcedure");
    cd.steps_json = schemas::to_json_string(c["steps"]);
    if (std::any_of(s.cases.begin(), s.cases.end(),
                    [&](const case_def& o) { return o.id == cd.id; }))
      throw std::runtime_error("suite " + s.id + ": case id " + cd.id + " is used twice");
    s.cases.push_back(std::move(cd));
  }
  return s;
}

std::string claims::to_json() const {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto list = [&](const std::vector<std::string>& v) {
    Value arr(rapidjson::kArrayType);
    for (const auto& s : v) arr.PushBack(Value(s.c_str(), a), a);
    return arr;
  };
  d.AddMember("messageTypes", list(message_types), a);
  d.AddMember("procedures", list(procedures), a);
  d.AddMember("sendsResults", sends_results, a);
  d.AddMember("verifiesSignatures", verifies_signatures, a);
  d.AddMember("partyId", Value(party_id.c_str(), a), a);
  return schemas::to_json_string(d);
}

claims parse_claims(std::string_view text) {
  // YAML 1.2 reads JSON too: one parser for both spellings.
  YAML::Node n;
  try {
    n = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    throw std::runtime_error("claims: " + std::string(e.what()));
  }
  if (!n.IsMap()) throw std::runtime_error("claims: expected a mapping");
  claims c;
  auto list = [](const YAML::Node& v, const std::string& key) {
    if (!v.IsSequence()) throw std::runtime_error("claims: " + key + " must be a list");
    std::vector<std::string> out;
    for (const auto& e : v) {
      if (!e.IsScalar()) throw std::runtime_error("claims: " + key + " holds strings");
      out.push_back(e.as<std::string>());
    }
    return out;
  };
  for (const auto& kv : n) {
    const auto key = kv.first.as<std::string>();
    if (key == "messageTypes") {
      c.message_types = list(kv.second, key);
      c.types_claimed = true;
    } else if (key == "procedures") {
      c.procedures = list(kv.second, key);
      for (const auto& p : c.procedures)
        if (p != "negotiation" && p != "mediation" && p != "arbitration")
          throw std::runtime_error("claims: unknown procedure '" + p +
                                   "' (negotiation, mediation, arbitration)");
    } else if (key == "sendsResults" || key == "verifiesSignatures") {
      try {
        (key == "sendsResults" ? c.sends_results : c.verifies_signatures) = kv.second.as<bool>();
      } catch (const YAML::Exception&) {
        throw std::runtime_error("claims: " + key + " must be true or false");
      }
    } else if (key == "partyId") {
      if (!kv.second.IsScalar()) throw std::runtime_error("claims: partyId must be a string");
      c.party_id = kv.second.as<std::string>();
    } else {
      throw std::runtime_error(
          "claims: unknown key '" + key +
          "' (messageTypes, procedures, sendsResults, verifiesSignatures, partyId)");
    }
  }
  if (c.message_types.empty()) throw std::runtime_error("claims: messageTypes is empty");
  return c;
}

std::string_view to_string(case_status s) noexcept {
  switch (s) {
    case case_status::passed:
      return "passed";
    case case_status::failed:
      return "failed";
    case case_status::skipped:
      return "skipped";
    case case_status::not_applicable:
      return "not-applicable";
  }
  return "?";
}

std::size_t run_result::count(case_status s) const noexcept {
  return static_cast<std::size_t>(std::count_if(
      cases.begin(), cases.end(), [s](const case_result& c) { return c.status == s; }));
}

bool run_result::mandatory_passed() const noexcept {
  return std::all_of(cases.begin(), cases.end(), [](const case_result& c) {
    return c.def.severity != "mandatory" || c.status == case_status::passed ||
           c.status == case_status::not_applicable;
  });
}

}  // namespace odrgw::conformance
