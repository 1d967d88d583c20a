// YAML -> JSON for mapping files. Scalar typing is deliberately small and predictable: quoted and
// block scalars are strings; plain `true`/`false` are booleans, plain decimal integers are
// integers, `~`/`null`/empty are null; everything else (including `1.0`) is a string. Explicit
// tags !!str, !!int, !!bool, !!null are obeyed. Keys are always strings.
#include "mapping_yaml.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace odrgw::adapters::detail {
namespace {

using rapidjson::Value;

std::string at(const YAML::Mark& m) {
  if (m.is_null() || m.line < 0) return {};
  return " (line " + std::to_string(m.line + 1) + ", column " + std::to_string(m.column + 1) + ")";
}

class converter {
 public:
  converter(rapidjson::Document::AllocatorType& a, const std::string& file,
            const mapping_limits& limits)
      : a_(a), file_(file), limits_(limits) {}

  void convert(const YAML::Node& n, std::string& pointer, Value& out, int depth) {
    if (depth > limits_.max_yaml_depth)
      throw mapping_error(file_, pointer,
                          "nested more than " + std::to_string(limits_.max_yaml_depth) +
                              " levels deep (or an alias refers to itself)");
    if (++nodes_ > limits_.max_yaml_nodes)
      throw mapping_error(file_, pointer,
                          "more than " + std::to_string(limits_.max_yaml_nodes) +
                              " values (after expanding aliases)");
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.SetNull();
        return;
      case YAML::NodeType::Scalar:
        scalar(n, pointer, out);
        return;
      case YAML::NodeType::Sequence: {
        out.SetArray();
        std::size_t i = 0;
        for (const auto& e : n) {
          const std::size_t base = pointer.size();
          pointer += "/" + std::to_string(i++);
          Value v;
          convert(e, pointer, v, depth + 1);
          out.PushBack(v, a_);
          pointer.resize(base);
        }
        return;
      }
      case YAML::NodeType::Map: {
        out.SetObject();
        std::set<std::string, std::less<>> seen;
        for (const auto& kv : n) {
          const YAML::Node k = kv.first;
          if (!k.IsScalar())
            throw mapping_error(file_, pointer,
                                "a key must be a plain name, not a list or mapping" + at(k.Mark()));
          const std::string& key = k.Scalar();
          const std::size_t base = pointer.size();
          schemas::append_pointer_token(pointer, key);
          if (!seen.insert(key).second)
            throw mapping_error(file_, pointer,
                                "the key '" + key + "' appears twice" + at(k.Mark()));
          Value v;
          convert(kv.second, pointer, v, depth + 1);
          out.AddMember(Value(key, a_), v, a_);
          pointer.resize(base);
        }
        return;
      }
    }
  }

 private:
  void scalar(const YAML::Node& n, const std::string& pointer, Value& out) {
    const std::string& text = n.Scalar();
    const std::string& tag = n.Tag();
    constexpr std::string_view core = "tag:yaml.org,2002:";
    if (tag == "!" || tag == std::string(core) + "str") {
      out.SetString(text, a_);
      return;
    }
    if (tag == std::string(core) + "null") {
      out.SetNull();
      return;
    }
    const bool plain = tag == "?";
    if (!plain && tag != std::string(core) + "int" && tag != std::string(core) + "bool")
      throw mapping_error(file_, pointer, "unsupported YAML tag " + tag + at(n.Mark()));
    if (plain && (text == "~" || text == "null" || text.empty())) {
      out.SetNull();
      return;
    }
    if (text == "true" || text == "false") {
      out.SetBool(text == "true");
      return;
    }
    if (set_integer(text, out)) return;
    if (!plain)
      throw mapping_error(file_, pointer, "'" + text + "' is not a valid " + tag + at(n.Mark()));
    out.SetString(text, a_);
  }

  static bool set_integer(const std::string& t, Value& out) {
    std::string_view d = t;
    const bool negative = !d.empty() && d.front() == '-';
    if (negative) d.remove_prefix(1);
    if (d.empty() || d.size() > 18 ||
        !std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    std::int64_t v = 0;
    std::from_chars(d.data(), d.data() + d.size(), v);
    out.SetInt64(negative ? -v : v);
    return true;
  }

  rapidjson::Document::AllocatorType& a_;
  const std::string& file_;
  const mapping_limits& limits_;
  std::size_t nodes_ = 0;
};

}  // namespace

void yaml_to_json(std::string_view text, const std::string& file, const mapping_limits& limits,
                  rapidjson::Document& out) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    throw mapping_error(file, "", "YAML syntax error: " + e.msg + at(e.mark));
  }
  if (docs.size() != 1)
    throw mapping_error(file, "",
                        "expected exactly one YAML document, found " + std::to_string(docs.size()));
  std::string pointer;
  converter conv(out.GetAllocator(), file, limits);
  try {
    conv.convert(docs.front(), pointer, out, 0);
  } catch (const YAML::Exception& e) {
    throw mapping_error(file, pointer, e.msg + at(e.mark));
  }
}

}  // namespace odrgw::adapters::detail
