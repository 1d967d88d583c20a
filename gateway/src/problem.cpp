#include <odrgw/gateway/problem.hpp>

#include <odrgw/schemas/json.hpp>

namespace odrgw::gateway {

problem problem_from_report(const schemas::report& r) {
  problem p;
  p.errors = r.errors;
  p.truncated = r.truncated;
  if (r.status == schemas::verdict::malformed) {
    p.status = 400;
    p.type = "urn:odrgw:problem:malformed";
    p.title = "The message could not be read";
    p.detail = "The " + std::string(to_string(r.enc)) +
               " document is not well-formed or breaks a "
               "parser limit; nothing was stored.";
  } else {
    p.status = 422;
    p.type = "urn:odrgw:problem:schema-invalid";
    p.title = "The message does not conform to the ODR Interchange v1 schema";
    p.detail = std::to_string(r.errors.size()) + (r.truncated ? "+" : "") + " rule violation(s)" +
               (r.message_type.empty() ? "" : " in " + r.message_type) + "; nothing was stored.";
  }
  return p;
}

std::string to_json(const problem& p) {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto str = [&](std::string_view s) {
    return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
  };
  d.AddMember("type", str(p.type), a);
  d.AddMember("title", str(p.title), a);
  d.AddMember("status", p.status, a);
  d.AddMember("detail", str(p.detail), a);
  if (!p.errors.empty()) {
    rapidjson::Value errs(rapidjson::kArrayType);
    for (const auto& e : p.errors) {
      rapidjson::Value o(rapidjson::kObjectType);
      o.AddMember("location", str(e.location), a);
      o.AddMember("rule", str(e.rule), a);
      o.AddMember("message", str(e.message), a);
      if (e.line > 0) o.AddMember("line", static_cast<uint64_t>(e.line), a);
      errs.PushBack(o, a);
    }
    d.AddMember("errors", errs, a);
    if (p.truncated) d.AddMember("truncated", true, a);
  }
  if (!p.state.empty()) d.AddMember("state", str(p.state), a);
  if (!p.allowed.empty() || !p.state.empty()) {
    rapidjson::Value allowed(rapidjson::kArrayType);
    for (const auto& x : p.allowed) allowed.PushBack(str(x), a);
    d.AddMember("allowed", allowed, a);
  }
  return schemas::to_json_string(d);
}

}  // namespace odrgw::gateway
