// YAML -> JSON -> the embedded JSON Schema -> checks the schema cannot express -> config.
//
// Scalar typing is driven by the schema, so it is predictable and never guesses from the text
// alone: where the schema expects a string, a plain scalar is taken as written (`id: 123` is the
// string "123", a SHA-256 of digits stays a string); where it expects an integer or a boolean,
// a plain scalar is read as one (decimal integers; true/false) and anything else stays a string
// that the schema then rejects with the key's path. Quoted and block scalars are always strings,
// explicit tags (!!str, !!int, !!bool, !!float, !!null) are obeyed, and `~`, `null` and empty
// values are null. Outside the schema (under an unknown key) the YAML 1.2 core schema applies.
#include <odrgw/schemas/json.hpp>  // must come first: our RAPIDJSON_ASSERT

#include <odrgw/gateway/config.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

#include <yaml-cpp/yaml.h>

#include <odrgw/adapters/adapter.hpp>
#include <odrgw/adapters/mapping.hpp>
#include <odrgw/gateway/case_logic.hpp>
#include <odrgw/gateway/embedded.hpp>
#include <odrgw/schemas/validator.hpp>

namespace odrgw::gateway {
namespace {

namespace fs = std::filesystem;
using rapidjson::Value;

constexpr int max_depth = 32;  // a config is shallow; this also stops yaml-cpp's alias cycles
constexpr std::size_t max_listed_errors = 10;

bool all_digits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= '0' && c <= '9'; });
}

// ---- the schema -----------------------------------------------------------------------------

struct compiled_schema {
  rapidjson::Document doc;  // for reading types, keys and descriptions while converting
  std::unique_ptr<schemas::json_schema_validator> validator;
};

const compiled_schema& schema() {
  static const compiled_schema s = [] {
    compiled_schema c;
    const std::string& text = config_schema();
    schemas::json_error jerr;
    if (!schemas::parse_json(text, c.doc, {}, jerr))
      throw std::logic_error("embedded config.schema.json is not JSON: " + jerr.message);
    std::string error;
    c.validator = schemas::json_schema_validator::load(text, error);
    if (!c.validator) throw std::logic_error("embedded config.schema.json: " + error);
    return c;
  }();
  return s;
}

// Follows a local "$ref": "#/definitions/NAME" (the only form the config schema uses).
const Value* deref(const Value* s) {
  for (int hops = 0; s != nullptr && s->IsObject() && hops < 8; ++hops) {
    auto r = s->FindMember("$ref");
    if (r == s->MemberEnd() || !r->value.IsString()) return s;
    const std::string_view ref(r->value.GetString(), r->value.GetStringLength());
    constexpr std::string_view prefix = "#/definitions/";
    if (!ref.starts_with(prefix)) return nullptr;
    const Value& defs = schema().doc["definitions"];
    auto d = defs.FindMember(
        Value(rapidjson::StringRef(ref.data() + prefix.size(), ref.size() - prefix.size())));
    s = d == defs.MemberEnd() ? nullptr : &d->value;
  }
  return s;
}

const Value* member(const Value* s, std::string_view name) {
  if (s == nullptr || !s->IsObject()) return nullptr;
  auto m = s->FindMember(Value(rapidjson::StringRef(name.data(), name.size())));
  return m == s->MemberEnd() ? nullptr : &m->value;
}

// The schema of `key` inside an object schema (nullptr: not a known key).
const Value* property_schema(const Value* s, std::string_view key) {
  return deref(member(member(deref(s), "properties"), key));
}

const Value* items_schema(const Value* s) { return deref(member(deref(s), "items")); }

bool expects(const Value* s, std::string_view type) {
  const Value* t = member(deref(s), "type");
  if (t == nullptr) return false;
  if (t->IsString()) return type == t->GetString();
  if (t->IsArray())
    for (const auto& e : t->GetArray())
      if (e.IsString() && type == e.GetString()) return true;
  return false;
}

// The schema at a JSON pointer of the instance (nullptr where the schema says nothing).
const Value* schema_at(const std::vector<std::string>& tokens) {
  const Value* s = &schema().doc;
  for (const auto& t : tokens) {
    if (s == nullptr) return nullptr;
    const Value* next = property_schema(s, t);
    if (next == nullptr && all_digits(t)) next = items_schema(s);
    s = next;
  }
  return s;
}

// An annotation ("x-odrgw-expected", "description") of the schema at a pointer: the property's
// own, or else its $ref target's.
std::string annotation_of(const std::vector<std::string>& tokens, const char* key) {
  const Value* s = &schema().doc;
  const Value* raw = s;
  for (const auto& t : tokens) {
    if (s == nullptr) return {};
    raw = member(member(deref(s), "properties"), t);
    if (raw == nullptr && all_digits(t)) raw = member(deref(s), "items");
    s = deref(raw);
  }
  for (const Value* n : {raw, s})
    if (const Value* d = member(n, key); d != nullptr && d->IsString()) return d->GetString();
  return {};
}

// ---- JSON pointers --------------------------------------------------------------------------

std::vector<std::string> split_pointer(std::string_view p) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < p.size() && p[pos] == '/') {
    const std::size_t end = std::min(p.find('/', pos + 1), p.size());
    std::string t;
    for (std::size_t i = pos + 1; i < end; ++i) {
      if (p[i] == '~' && i + 1 < end && (p[i + 1] == '0' || p[i + 1] == '1')) {
        t += p[++i] == '0' ? '~' : '/';
      } else {
        t += p[i];
      }
    }
    out.push_back(std::move(t));
    pos = end;
  }
  return out;
}

const Value* value_at(const Value& root, const std::vector<std::string>& tokens) {
  const Value* v = &root;
  for (const auto& t : tokens) {
    if (v->IsObject()) {
      auto m = v->FindMember(Value(rapidjson::StringRef(t.data(), t.size())));
      if (m == v->MemberEnd()) return nullptr;
      v = &m->value;
    } else if (v->IsArray()) {
      unsigned long i = 0;
      const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), i);
      if (ec != std::errc() || end != t.data() + t.size() || i >= v->Size()) return nullptr;
      v = &(*v)[static_cast<rapidjson::SizeType>(i)];
    } else {
      return nullptr;
    }
  }
  return v;
}

// ---- YAML -> JSON ---------------------------------------------------------------------------

struct position {
  std::size_t line = 0;  // 1-based; 0: unknown
  std::size_t column = 0;
};

// Where each JSON pointer came from in the YAML (a member's key, an item's node).
using position_map = std::map<std::string, position, std::less<>>;

position to_position(const YAML::Mark& m) {
  if (m.is_null() || m.line < 0) return {};
  return {static_cast<std::size_t>(m.line) + 1, static_cast<std::size_t>(m.column) + 1};
}

// "FILE:LINE:COLUMN", or "line L, column C" for text that came from no file.
std::string place(const std::string& source, position p) {
  const std::string lc = std::to_string(p.line) + ":" + std::to_string(p.column);
  if (!source.empty()) return p.line == 0 ? source : source + ":" + lc;
  return p.line == 0 ? std::string("the configuration")
                     : "line " + std::to_string(p.line) + ", column " + std::to_string(p.column);
}

class converter {
 public:
  converter(rapidjson::Document::AllocatorType& a, position_map& where, const std::string& source)
      : a_(a), where_(where), source_(source) {}

  void convert(const YAML::Node& n, const Value* s, std::string& pointer, Value& out, int depth) {
    if (depth > max_depth)
      throw config_error(pointer, "nested more than " + std::to_string(max_depth) +
                                      " levels deep (or an alias refers to itself)");
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.SetNull();
        return;
      case YAML::NodeType::Scalar:
        scalar(n, s, pointer, out);
        return;
      case YAML::NodeType::Sequence: {
        out.SetArray();
        const Value* item = items_schema(s);
        std::size_t i = 0;
        for (const auto& e : n) {
          const std::size_t base = pointer.size();
          pointer += "/" + std::to_string(i++);
          where_.emplace(pointer, to_position(e.Mark()));
          Value v;
          convert(e, item, pointer, v, depth + 1);
          out.PushBack(v, a_);
          pointer.resize(base);
        }
        return;
      }
      case YAML::NodeType::Map: {
        out.SetObject();
        std::set<std::string, std::less<>> seen;
        for (const auto& kv : n) {
          const YAML::Node k = kv.first;  // a copy: `it->first` is a member of a temporary
          if (!k.IsScalar())
            throw config_error(pointer, "a key must be a plain name, not a list or mapping" +
                                            at(to_position(k.Mark())));
          const std::string& key = k.Scalar();
          const std::size_t base = pointer.size();
          schemas::append_pointer_token(pointer, key);
          if (!seen.insert(key).second)
            throw config_error(pointer, "the key '" + key + "' appears twice in this mapping" +
                                            at(to_position(k.Mark())));
          where_.emplace(pointer, to_position(k.Mark()));
          Value v;
          convert(kv.second, property_schema(s, key), pointer, v, depth + 1);
          out.AddMember(Value(key, a_), v, a_);
          pointer.resize(base);
        }
        return;
      }
    }
  }

  std::string at(position p) const {
    return p.line == 0 ? std::string() : " (" + place(source_, p) + ")";
  }

 private:
  void scalar(const YAML::Node& n, const Value* s, const std::string& pointer, Value& out) {
    const std::string& text = n.Scalar();
    const std::string& tag = n.Tag();
    constexpr std::string_view core = "tag:yaml.org,2002:";
    if (tag == "!" || tag == std::string(core) + "str") {  // quoted, block, or !!str
      out.SetString(text, a_);
      return;
    }
    if (tag.starts_with(core)) {
      const std::string_view t = std::string_view(tag).substr(core.size());
      if ((t == "int" && set_integer(n, pointer, out)) || (t == "bool" && set_bool(text, out)) ||
          (t == "float" && set_float(text, out)))
        return;
      if (t == "null") {
        out.SetNull();
        return;
      }
      if (t == "int" || t == "bool" || t == "float")
        throw config_error(pointer, "'" + text + "' is not a valid !!" + std::string(t) +
                                        at(to_position(n.Mark())));
    }
    if (tag != "?")
      throw config_error(pointer, "unsupported YAML tag " + tag + at(to_position(n.Mark())));
    // A plain scalar: the schema decides.
    if (s != nullptr && (expects(s, "string") || expects(s, "integer") || expects(s, "boolean"))) {
      if (expects(s, "integer") && set_integer(n, pointer, out)) return;
      if (expects(s, "boolean") && set_bool(text, out)) return;
      out.SetString(text, a_);
      return;
    }
    // Unknown to the schema: YAML 1.2 core schema.
    if (set_bool(text, out) || set_integer(n, pointer, out) || set_float(text, out)) return;
    out.SetString(text, a_);
  }

  static bool set_bool(const std::string& t, Value& out) {
    if (t == "true" || t == "True" || t == "TRUE") {
      out.SetBool(true);
    } else if (t == "false" || t == "False" || t == "FALSE") {
      out.SetBool(false);
    } else {
      return false;
    }
    return true;
  }

  // Decimal integers with an optional sign; larger than 64 bits is an error, not a float.
  bool set_integer(const YAML::Node& n, const std::string& pointer, Value& out) const {
    const std::string& t = n.Scalar();
    std::string_view digits = t;
    const bool negative = !digits.empty() && digits.front() == '-';
    if (!digits.empty() && (digits.front() == '-' || digits.front() == '+'))
      digits.remove_prefix(1);
    if (!all_digits(digits)) return false;
    std::uint64_t u = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), u);
    if (ec != std::errc() || end != digits.data() + digits.size() ||
        (negative && u > static_cast<std::uint64_t>(INT64_MAX)))
      throw config_error(pointer, "the number " + t + " is too large" + at(to_position(n.Mark())));
    if (negative) {
      out.SetInt64(-static_cast<std::int64_t>(u));
    } else {
      out.SetUint64(u);
    }
    return true;
  }

  static bool set_float(const std::string& t, Value& out) {
    if (t.empty() || t.find_first_not_of("0123456789+-.eE") != std::string::npos) return false;
    double d = 0;
    const char* b = t.data() + (t.front() == '+' ? 1 : 0);
    const auto [end, ec] = std::from_chars(b, t.data() + t.size(), d);
    if (ec != std::errc() || end != t.data() + t.size()) return false;
    out.SetDouble(d);
    return true;
  }

  rapidjson::Document::AllocatorType& a_;
  position_map& where_;
  const std::string& source_;
};

// ---- validation messages --------------------------------------------------------------------

std::string shorten(std::string s) {
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

std::string describe(const Value* v) {
  if (v == nullptr) return "nothing";
  switch (v->GetType()) {
    case rapidjson::kNullType:
      return "nothing (null)";
    case rapidjson::kFalseType:
      return "false";
    case rapidjson::kTrueType:
      return "true";
    case rapidjson::kObjectType:
      return "a mapping";
    case rapidjson::kArrayType:
      return "a list";
    case rapidjson::kStringType:
      return "'" + shorten(v->GetString()) + "'";
    case rapidjson::kNumberType:
      return shorten(schemas::to_json_string(*v));
  }
  return "a value";
}

std::string type_name(std::string_view t) {
  if (t == "object") return "a mapping";
  if (t == "array") return "a list";
  if (t == "integer") return "an integer";
  if (t == "boolean") return "true or false";
  if (t == "string") return "a string";
  if (t == "number") return "a number";
  return std::string(t);
}

// Optimal string alignment distance, for "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::string suggestion(std::string_view got, const std::vector<std::string>& allowed) {
  // A shortened name (api_key for api_key_sha256) is as likely a slip as a typo.
  if (got.size() >= 3)
    for (const auto& a : allowed)
      if (a.starts_with(got)) return "did you mean '" + a + "'? ";
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, got.size() / 3) + 1;
  for (const auto& a : allowed)
    if (const std::size_t d = edit_distance(got, a); d < best_d) {
      best_d = d;
      best = a;
    }
  return best.empty() ? std::string() : "did you mean '" + best + "'? ";
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

struct problem_entry {
  std::string pointer;
  std::string message;
  position pos;
};

position position_of(const position_map& where, std::string pointer) {
  for (;;) {
    if (auto it = where.find(pointer); it != where.end() && it->second.line != 0) return it->second;
    if (pointer.empty()) return {};
    pointer.resize(pointer.rfind('/'));
  }
}

// Turns one valijson issue into messages an operator can act on.
void explain(const schemas::issue& e, const Value& instance, const position_map& where,
             std::vector<problem_entry>& out) {
  const auto tokens = split_pointer(e.location);
  const Value* v = value_at(instance, tokens);
  const Value* s = schema_at(tokens);
  auto add = [&](std::string pointer, std::string message) {
    position p = position_of(where, pointer);
    out.push_back({std::move(pointer), std::move(message), p});
  };
  if (e.rule == "additionalProperties" && v != nullptr && v->IsObject()) {
    std::vector<std::string> allowed;
    if (const Value* props = member(deref(s), "properties"); props != nullptr && props->IsObject())
      for (auto m = props->MemberBegin(); m != props->MemberEnd(); ++m)
        allowed.emplace_back(m->name.GetString(), m->name.GetStringLength());
    for (auto m = v->MemberBegin(); m != v->MemberEnd(); ++m) {
      const std::string key(m->name.GetString(), m->name.GetStringLength());
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string pointer = e.location;
      schemas::append_pointer_token(pointer, key);
      add(pointer, "unknown key '" + key + "'; " + suggestion(key, allowed) +
                       "allowed here: " + joined(allowed));
    }
    return;
  }
  if (e.rule == "required") {
    const auto q1 = e.message.find('\'');
    const auto q2 = q1 == std::string::npos ? q1 : e.message.find('\'', q1 + 1);
    const std::string key = q2 == std::string::npos ? "?" : e.message.substr(q1 + 1, q2 - q1 - 1);
    add(e.location, "missing required key '" + key + "'");
    return;
  }
  if (e.rule == "type") {
    std::vector<std::string> types;
    if (const Value* t = member(deref(s), "type"); t != nullptr && t->IsString()) {
      types.push_back(type_name(t->GetString()));
    } else if (t != nullptr && t->IsArray()) {
      for (const auto& x : t->GetArray())
        if (x.IsString()) types.push_back(type_name(x.GetString()));
    }
    add(e.location, "expected " + (types.empty() ? std::string("another type") : joined(types)) +
                        ", got " + describe(v));
    return;
  }
  if (e.rule == "enum") {
    std::vector<std::string> allowed;
    if (const Value* en = member(deref(s), "enum"); en != nullptr && en->IsArray())
      for (const auto& x : en->GetArray())
        allowed.push_back(x.IsString() ? std::string(x.GetString()) : schemas::to_json_string(x));
    const std::string got = v != nullptr && v->IsString() ? std::string(v->GetString()) : "";
    add(e.location, describe(v) + " is not one of the allowed values; " + suggestion(got, allowed) +
                        "allowed: " + joined(allowed));
    return;
  }
  if (e.rule == "pattern" && e.location == "/listen" && v != nullptr && v->IsString()) {
    try {
      parse_listen(v->GetString());  // says precisely what is wrong
    } catch (const config_error& le) {
      add(e.location, std::string(le.what()).substr(le.path().size() + 2));
      return;
    }
  }
  if (e.rule == "pattern") {
    const std::string expected = annotation_of(tokens, "x-odrgw-expected");
    const Value* pattern = member(deref(s), "pattern");
    add(e.location, describe(v) + " is not valid here: expected " +
                        (!expected.empty() ? expected
                         : pattern != nullptr && pattern->IsString()
                             ? std::string("a match for ") + pattern->GetString()
                             : std::string("another value")));
    return;
  }
  auto number = [&](const char* key) {
    const Value* n = member(deref(s), key);
    return n == nullptr ? std::string("?") : schemas::to_json_string(*n);
  };
  if (e.rule == "minimum") {
    add(e.location, describe(v) + " is below the minimum " + number("minimum"));
  } else if (e.rule == "maximum") {
    add(e.location, describe(v) + " is above the maximum " + number("maximum"));
  } else if (e.rule == "minLength") {
    add(e.location, number("minLength") == "1"
                        ? std::string("must not be empty")
                        : describe(v) + " is shorter than " + number("minLength") + " characters");
  } else if (e.rule == "maxLength") {
    add(e.location, "is longer than " + number("maxLength") + " characters");
  } else {
    add(e.location, e.message + " [" + e.rule + "]");
  }
}

[[noreturn]] void fail_with(std::vector<problem_entry> problems, const std::string& source) {
  std::stable_sort(problems.begin(), problems.end(), [](const auto& a, const auto& b) {
    return std::pair(a.pos.line, a.pos.column) < std::pair(b.pos.line, b.pos.column);
  });
  problems.erase(std::unique(problems.begin(), problems.end(),
                             [](const auto& a, const auto& b) {
                               return a.pointer == b.pointer && a.message == b.message;
                             }),
                 problems.end());
  auto where = [&](const problem_entry& p) { return " (" + place(source, p.pos) + ")"; };
  auto where_known = [&](const problem_entry& p) {
    return p.pos.line == 0 ? std::string() : where(p);
  };
  std::string message = problems.front().message + where_known(problems.front());
  for (std::size_t i = 1; i < problems.size() && i <= max_listed_errors; ++i)
    message += "\n  " + (problems[i].pointer.empty() ? std::string("/") : problems[i].pointer) +
               ": " + problems[i].message + where_known(problems[i]);
  if (problems.size() > max_listed_errors + 1)
    message += "\n  and " + std::to_string(problems.size() - max_listed_errors - 1) + " more";
  throw config_error(problems.front().pointer, message);
}

// ---- JSON -> config, with the checks the schema cannot express ------------------------------

class extractor {
 public:
  extractor(const Value& doc, const position_map& where, std::string base_dir, std::string source)
      : doc_(doc), where_(where), base_dir_(std::move(base_dir)), source_(std::move(source)) {}

  config run() {
    config c;
    c.source = source_.empty() ? "(text)" : source_;
    if (const Value* l = find({"listen"})) {
      const listen_address a = listen_or_fail(l->GetString());
      c.listen_host = a.host;
      c.listen_port = a.port;
    }
    if (const Value* t = find({"threads"})) c.threads = t->GetUint();
    if (find({"tls"}) != nullptr) {
      tls_config t;
      t.cert = readable_file("/tls/cert", find({"tls", "cert"})->GetString());
      t.key = readable_file("/tls/key", find({"tls", "key"})->GetString());
      if (const Value* ca = find({"tls", "client_ca"}))
        t.client_ca = readable_file("/tls/client_ca", ca->GetString());
      c.tls = std::move(t);
    }
    const Value* db = find({"storage", "sqlite"});
    c.sqlite_path = db != nullptr ? resolve(db->GetString()) : resolve(c.sqlite_path);
    const Value* pii = find({"audit", "pii_key_file"});
    c.pii_key_file = pii != nullptr ? resolve(pii->GetString()) : resolve(c.pii_key_file);
    if (const Value* d = find({"adapters", "dir"})) c.adapter_dir = resolve(d->GetString());
    if (const Value* v = find({"limits", "max_body_bytes"})) c.limits.max_body_bytes = v->GetUint();
    if (const Value* v = find({"limits", "max_header_bytes"}))
      c.limits.max_header_bytes = v->GetUint();
    if (const Value* v = find({"limits", "read_timeout_ms"}))
      c.limits.read_timeout_ms = v->GetUint();
    if (const Value* v = find({"limits", "max_connections"}))
      c.limits.max_connections = v->GetUint();
    if (const Value* ps = find({"partners"})) partners(*ps, c);
    if (const Value* r = find({"routing"})) routing(*r, c);
    if (const Value* v = find({"routing", "clock_scale"})) c.clock_scale = v->GetDouble();
    if (const Value* v = find({"routing", "timer_interval_ms"})) c.timer_interval_ms = v->GetUint();
    auto& dv = c.delivery;
    if (const Value* v = find({"delivery", "workers"})) dv.workers = v->GetUint();
    if (const Value* v = find({"delivery", "max_attempts"})) dv.max_attempts = v->GetUint();
    if (const Value* v = find({"delivery", "backoff_initial_ms"}))
      dv.backoff_initial_ms = v->GetUint();
    if (const Value* v = find({"delivery", "backoff_max_ms"})) dv.backoff_max_ms = v->GetUint();
    if (const Value* v = find({"delivery", "per_partner_concurrency"}))
      dv.per_partner_concurrency = v->GetUint();
    if (const Value* v = find({"delivery", "timeout_ms"})) dv.timeout_ms = v->GetUint();
    if (const Value* v = find({"delivery", "ca_file"}))
      dv.ca_file = readable_file("/delivery/ca_file", v->GetString());
    warn(c);
    return c;
  }

 private:
  const Value* find(std::initializer_list<const char*> path) const {
    const Value* v = &doc_;
    for (const char* k : path) {
      if (!v->IsObject()) return nullptr;
      auto m = v->FindMember(k);
      if (m == v->MemberEnd()) return nullptr;
      v = &m->value;
    }
    return v;
  }

  [[noreturn]] void fail(const std::string& pointer, const std::string& message) const {
    fail_with({{pointer, message, position_of(where_, pointer)}}, source_);
  }

  listen_address listen_or_fail(std::string_view text) const {
    try {
      return parse_listen(text);
    } catch (const config_error& e) {
      const std::string what = e.what();
      fail(e.path(), what.substr(e.path().size() + 2));
    }
  }

  // A shared secret from a file (trailing white space dropped); it must be there and non-empty.
  std::string secret_from(const std::string& at, const std::string& file) const {
    std::ifstream in(file, std::ios::binary);
    if (!in) fail(at, "cannot read '" + file + "'");
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    if (s.size() < 16) fail(at, "'" + file + "' holds fewer than 16 bytes: too short for a secret");
    return s;
  }

  std::string resolve(const std::string& p) const {
    if (p == ":memory:" || base_dir_.empty() || fs::path(p).is_absolute())
      return fs::path(p).lexically_normal().string();
    return (fs::path(base_dir_) / p).lexically_normal().string();
  }

  // TLS files are needed at start-up anyway: say which key names the missing one.
  std::string readable_file(const std::string& pointer, const std::string& p) const {
    const std::string r = resolve(p);
    std::error_code ec;
    if (fs::is_directory(r, ec)) fail(pointer, "'" + r + "' is a directory, not a file");
    std::ifstream in(r, std::ios::binary);
    if (!in) fail(pointer, "cannot read '" + r + "': " + std::strerror(errno));
    return r;
  }

  // Routing rules: every provider named must be a configured odr-provider partner.
  void routing(const Value& r, config& c) const {
    auto provider_ok = [&](const std::string& at, const std::string& id) {
      const auto it = std::find_if(c.partners.begin(), c.partners.end(),
                                   [&](const partner_config& p) { return p.id == id; });
      if (it == c.partners.end())
        fail(at, "no partner '" + id + "'; the provider must be one of the partners");
      if (it->role != "odr-provider")
        fail(at, "partner '" + id + "' has role " + it->role +
                     "; escalations go to odr-provider partners");
    };
    auto strings = [](const Value& o, const char* k) {
      std::vector<std::string> out;
      if (auto m = o.FindMember(k); m != o.MemberEnd())
        for (const auto& v : m->value.GetArray()) out.emplace_back(v.GetString());
      return out;
    };
    if (auto d = r.FindMember("default_provider"); d != r.MemberEnd()) {
      c.routing.default_provider = d->value.GetString();
      provider_ok("/routing/default_provider", c.routing.default_provider);
    }
    if (auto dl = r.FindMember("deadlines"); dl != r.MemberEnd()) {
      auto days = [&](const char* k, int& slot) {
        if (auto m = dl->value.FindMember(k); m != dl->value.MemberEnd()) slot = m->value.GetInt();
      };
      auto& pol = c.deadlines;
      days("acceptance_decision_days", pol.acceptance_decision_days);
      days("respondent_response_days", pol.respondent_response_days);
      days("negotiation_days", pol.negotiation_days);
      days("platform_review_days", pol.platform_review_days);
      days("mediation_days", pol.mediation_days);
      days("arbitration_submissions_days", pol.arbitration_submissions_days);
      days("arbitration_award_days", pol.arbitration_award_days);
      days("appeal_window_days", pol.appeal_window_days);
    }
    auto rules = r.FindMember("rules");
    if (rules == r.MemberEnd()) return;
    std::map<std::string, std::size_t> names;
    for (rapidjson::SizeType i = 0; i < rules->value.Size(); ++i) {
      const Value& o = rules->value[i];
      const std::string at = "/routing/rules/" + std::to_string(i);
      routing_rule rule;
      rule.name = o["name"].GetString();
      rule.provider = o["provider"].GetString();
      if (auto [it, fresh] = names.emplace(rule.name, i); !fresh)
        fail(at + "/name", "the name '" + rule.name + "' is already used by /routing/rules/" +
                               std::to_string(it->second));
      provider_ok(at + "/provider", rule.provider);
      rule.categories = strings(o, "categories");
      rule.consumer_countries = strings(o, "consumer_countries");
      rule.merchant_countries = strings(o, "merchant_countries");
      rule.languages = strings(o, "languages");
      rule.procedures = strings(o, "procedures");
      if (auto a = o.FindMember("amount"); a != o.MemberEnd()) {
        amount_range range;
        range.currency = a->value["currency"].GetString();
        if (auto m = a->value.FindMember("min"); m != a->value.MemberEnd())
          range.min = parse_amount(m->value.GetString());
        if (auto m = a->value.FindMember("max"); m != a->value.MemberEnd())
          range.max = parse_amount(m->value.GetString());
        if (range.min && range.max && *range.min > *range.max)
          fail(at + "/amount", "min is greater than max");
        rule.amount = range;
      }
      c.routing.rules.push_back(std::move(rule));
    }
  }

  void partners(const Value& list, config& c) const {
    std::map<std::string, std::size_t> ids, keys, certs;
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      const Value& p = list[i];
      const std::string at = "/partners/" + std::to_string(i);
      auto str = [&](const char* k) {
        auto m = p.FindMember(k);
        return m == p.MemberEnd() ? std::string() : std::string(m->value.GetString());
      };
      partner_config pc;
      pc.id = str("id");
      pc.role = str("role");
      pc.dialect = p.HasMember("dialect") ? str("dialect") : "canonical-json";
      pc.api_key_sha256 = str("api_key_sha256");
      pc.client_cert_sha256 = str("client_cert_sha256");
      pc.callback_url = str("callback_url");
      if (p.HasMember("callback_secret_file"))
        pc.callback_secret =
            secret_from(at + "/callback_secret_file", resolve(str("callback_secret_file")));
      if (pc.id == gateway_party_id)
        fail(at + "/id", "the id '" + pc.id +
                             "' is the gateway's own party id (its events are stored under it)");
      if (auto [it, fresh] = ids.emplace(pc.id, i); !fresh)
        fail(at + "/id", "the id '" + pc.id + "' is already used by /partners/" +
                             std::to_string(it->second) + "; partner ids must be unique");
      if (pc.api_key_sha256.empty() && pc.client_cert_sha256.empty())
        fail(at, "partner '" + pc.id +
                     "' has no credential: give api_key_sha256 (an API key's SHA-256) "
                     "and/or client_cert_sha256 (a client certificate's SHA-256)");
      if (!pc.api_key_sha256.empty())
        if (auto [it, fresh] = keys.emplace(pc.api_key_sha256, i); !fresh)
          fail(at + "/api_key_sha256", "the same API key as /partners/" +
                                           std::to_string(it->second) +
                                           "; each partner needs its own key");
      if (!pc.client_cert_sha256.empty())
        if (auto [it, fresh] = certs.emplace(pc.client_cert_sha256, i); !fresh)
          fail(at + "/client_cert_sha256", "the same certificate as /partners/" +
                                               std::to_string(it->second) +
                                               "; each partner needs its own certificate");
      if (pc.api_key_sha256.empty() && (!c.tls || c.tls->client_ca.empty()))
        fail(at + "/client_cert_sha256",
             "partner '" + pc.id +
                 "' can only authenticate by client certificate, but client certificates are not "
                 "requested: set tls.client_ca (or give the partner an api_key_sha256)");
      c.partners.push_back(std::move(pc));
    }
  }

  static void warn(config& c) {
    if (!c.tls) {
      const bool loopback = c.listen_host.starts_with("127.") || c.listen_host == "::1";
      if (!loopback)
        c.warnings.push_back("listening on " + c.listen_host +
                             " without tls: API keys would cross the network in clear; plain "
                             "HTTP is meant for loopback development");
    }
    const bool mtls = c.tls && !c.tls->client_ca.empty();
    for (std::size_t i = 0; i < c.partners.size(); ++i)
      if (!mtls && !c.partners[i].client_cert_sha256.empty())
        c.warnings.push_back("/partners/" + std::to_string(i) +
                             "/client_cert_sha256 is unused: tls.client_ca is not set, so no "
                             "client certificate is requested");
    for (std::size_t i = 0; i < c.partners.size(); ++i)
      if (!c.partners[i].callback_url.empty() && c.partners[i].callback_secret.empty())
        c.warnings.push_back("/partners/" + std::to_string(i) +
                             "/callback_secret_file is not set: deliveries to " + c.partners[i].id +
                             " go unsigned, so it cannot tell them from forgeries");
  }

  const Value& doc_;
  const position_map& where_;
  std::string base_dir_;
  std::string source_;
};

config parse(const std::string& yaml_text, const std::string& base_dir, const std::string& source) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(yaml_text);
  } catch (const YAML::Exception& e) {
    throw config_error("", place(source, to_position(e.mark)) + ": YAML syntax error: " + e.msg);
  }
  if (docs.size() > 1)
    throw config_error("", place(source, {}) + " holds " + std::to_string(docs.size()) +
                               " YAML documents (separated by ---); odrgw reads exactly one");

  rapidjson::Document doc;
  position_map where;
  {
    std::string pointer;
    converter conv(doc.GetAllocator(), where, source);
    if (docs.empty() || docs.front().IsNull()) {
      doc.SetObject();  // an empty file: every default
    } else {
      where.emplace("", to_position(docs.front().Mark()));
      try {
        conv.convert(docs.front(), &schema().doc, pointer, doc, 0);
      } catch (const YAML::Exception& e) {
        throw config_error("", place(source, to_position(e.mark)) + ": " + e.msg);
      }
    }
  }
  if (!doc.IsObject())
    throw config_error("", place(source, {}) +
                               ": expected a mapping of settings (listen:, partners:, ...), got " +
                               describe(&doc));

  schemas::report r;
  schema().validator->validate(doc, r);
  if (!r.valid()) {
    std::vector<problem_entry> problems;
    for (const auto& e : r.errors) explain(e, doc, where, problems);
    if (problems.empty()) problems.push_back({"", "does not match the configuration schema", {}});
    fail_with(std::move(problems), source);
  }
  return extractor(doc, where, base_dir, source).run();
}

}  // namespace

const std::string& config_schema() {
  static const std::string text(embedded::gateway::find("config.schema.json"));
  return text;
}

config parse_config(const std::string& yaml_text, const std::string& base_dir) {
  return parse(yaml_text, base_dir, "");
}

config load_config(const std::string& file) {
  std::error_code ec;
  if (fs::is_directory(file, ec))
    throw config_error("", "cannot read " + file + ": it is a directory");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw config_error("", "cannot read " + file + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw config_error("", "cannot read " + file);
  const fs::path abs = fs::absolute(file, ec);
  const std::string base = ec ? fs::path(file).parent_path().string() : abs.parent_path().string();
  return parse(text.str(), base, file);
}

listen_address parse_listen(std::string_view text, const std::string& path) {
  const std::string shown = "'" + std::string(text) + "'";
  const std::string no_port = shown + " has no port: expected HOST:PORT, e.g. 127.0.0.1:8080";
  listen_address out;
  std::string_view port;
  const bool v6 = text.starts_with('[');
  if (v6) {
    const auto close = text.find(']');
    if (close == std::string_view::npos)
      throw config_error(path, shown + ": '[' without ']'; IPv6 is written [::1]:8080");
    out.host = std::string(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (!rest.starts_with(':')) throw config_error(path, no_port);
    port = rest.substr(1);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) throw config_error(path, no_port);
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos)
      throw config_error(path, shown + ": write an IPv6 address in brackets, e.g. [::1]:8080");
    port = text.substr(colon + 1);
  }
  unsigned long p = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || p > 65535)
    throw config_error(path, shown + ": the port must be a number from 0 to 65535 (0: any free)");
  out.port = static_cast<std::uint16_t>(p);
  unsigned char buf[sizeof(in6_addr)];
  if (v6) {
    if (inet_pton(AF_INET6, out.host.c_str(), buf) != 1)
      throw config_error(path, shown + ": '" + out.host + "' is not an IPv6 address");
  } else if (inet_pton(AF_INET, out.host.c_str(), buf) != 1) {
    throw config_error(path, shown +
                                 ": the host must be an IP address (127.0.0.1 for loopback, "
                                 "0.0.0.0 for every interface, [::1] for IPv6), not '" +
                                 out.host + "'");
  }
  return out;
}

adapters::registry load_adapters(const config& cfg,
                                 std::shared_ptr<const schemas::schema_set> set) {
  auto reg = adapters::registry::builtin(set);
  if (!cfg.adapter_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(cfg.adapter_dir, ec))
      throw config_error("/adapters/dir", "'" + cfg.adapter_dir + "' is not a directory");
    try {
      adapters::load_mapping_dialects(cfg.adapter_dir, set, reg);
    } catch (const std::exception& e) {
      throw config_error("/adapters/dir", e.what());
    }
  }
  check_dialects(cfg, reg);
  return reg;
}

void check_dialects(const config& cfg, const adapters::registry& reg) {
  for (std::size_t i = 0; i < cfg.partners.size(); ++i) {
    const auto& d = cfg.partners[i].dialect;
    if (reg.find(d) != nullptr) continue;
    std::vector<std::string> known;
    for (const auto& a : reg.all()) known.emplace_back(a->id());
    throw config_error(
        "/partners/" + std::to_string(i) + "/dialect",
        "unknown dialect '" + d + "'; " + suggestion(d, known) + "known: " + joined(known));
  }
}

}  // namespace odrgw::gateway
