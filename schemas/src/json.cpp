#include <odrgw/schemas/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

namespace odrgw::schemas {

namespace detail {
void rapidjson_assert_failed(const char* expr, const char* file, int line) {
  throw std::logic_error(std::string("RapidJSON assertion failed: ") + expr + " at " + file + ":" +
                         std::to_string(line));
}
}  // namespace detail

namespace {

enum class limit_hit { none, depth, string };

// Forwards SAX events to the Document while enforcing depth and string limits, so a hostile
// document is stopped while it is read rather than after it has been built.
struct limiting_handler {
  rapidjson::Document& doc;
  unsigned max_depth;
  std::size_t max_string;
  unsigned depth = 0;
  limit_hit hit = limit_hit::none;

  bool Null() { return doc.Null(); }
  bool Bool(bool b) { return doc.Bool(b); }
  bool Int(int i) { return doc.Int(i); }
  bool Uint(unsigned u) { return doc.Uint(u); }
  bool Int64(int64_t i) { return doc.Int64(i); }
  bool Uint64(uint64_t u) { return doc.Uint64(u); }
  bool Double(double d) { return doc.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return doc.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    if (n > max_string) return fail(limit_hit::string);
    return doc.String(s, n, copy);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    if (n > max_string) return fail(limit_hit::string);
    return doc.Key(s, n, copy);
  }
  bool StartObject() {
    if (++depth > max_depth) return fail(limit_hit::depth);
    return doc.StartObject();
  }
  bool EndObject(rapidjson::SizeType n) {
    --depth;
    return doc.EndObject(n);
  }
  bool StartArray() {
    if (++depth > max_depth) return fail(limit_hit::depth);
    return doc.StartArray();
  }
  bool EndArray(rapidjson::SizeType n) {
    --depth;
    return doc.EndArray(n);
  }
  bool fail(limit_hit h) {
    hit = h;
    return false;
  }
};

void set_position(std::string_view text, std::size_t offset, json_error& err) {
  err.offset = std::min(offset, text.size());
  err.line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < err.offset; ++i) {
    if (text[i] == '\n') {
      ++err.line;
      line_start = i + 1;
    }
  }
  err.column = err.offset - line_start + 1;
}

struct frame {
  const rapidjson::Value* value;
  rapidjson::SizeType next = 0;
};

// Pointer to the value that frames[last] describes (each frame's `next` is one past the child
// currently being visited).
std::string pointer_of(const std::vector<frame>& frames, std::size_t last) {
  std::string p;
  for (std::size_t i = 0; i < last; ++i) {
    const auto& f = frames[i];
    const rapidjson::SizeType child = f.next - 1;
    if (f.value->IsObject()) {
      const auto& m = f.value->MemberBegin()[child];
      append_pointer_token(p, {m.name.GetString(), m.name.GetStringLength()});
    } else {
      p += '/';
      p += std::to_string(child);
    }
  }
  return p;
}

// Returns the index of a repeated member name, or -1.
long find_duplicate(const rapidjson::Value& obj, std::vector<std::string_view>& scratch) {
  const auto n = obj.MemberCount();
  auto name = [&](rapidjson::SizeType i) {
    const auto& k = obj.MemberBegin()[i].name;
    return std::string_view(k.GetString(), k.GetStringLength());
  };
  if (n <= 8) {
    for (rapidjson::SizeType i = 1; i < n; ++i)
      for (rapidjson::SizeType j = 0; j < i; ++j)
        if (name(i) == name(j)) return static_cast<long>(i);
    return -1;
  }
  // Sorting keeps a 100,000-member object at O(n log n) instead of O(n^2).
  scratch.clear();
  for (rapidjson::SizeType i = 0; i < n; ++i) scratch.push_back(name(i));
  std::sort(scratch.begin(), scratch.end());
  auto it = std::adjacent_find(scratch.begin(), scratch.end());
  if (it == scratch.end()) return -1;
  for (rapidjson::SizeType i = 0; i < n; ++i)
    if (name(i) == *it) return static_cast<long>(i);
  return -1;
}

// UTF-8 well-formedness (Unicode 15, table 3-7): no overlongs, no surrogates, nothing above
// U+10FFFF, no truncated sequences. ASCII is checked 8 bytes at a time, which is why this runs
// before RapidJSON instead of its own byte-by-byte kParseValidateEncodingFlag.
// Returns the offset of the first bad byte, or npos.
std::size_t find_invalid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c == 0xE0) {
      len = 3, lo = 0xA0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
      len = 3;
    } else if (c == 0xED) {
      len = 3, hi = 0x9F;  // no UTF-16 surrogates
    } else if (c == 0xF0) {
      len = 4, lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3) {
      len = 4;
    } else if (c == 0xF4) {
      len = 4, hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return i;
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    i += len;
  }
  return std::string_view::npos;
}

bool check_duplicates(const rapidjson::Value& root, json_error& err) {
  std::vector<frame> frames;
  std::vector<std::string_view> scratch;
  frames.push_back({&root});
  while (!frames.empty()) {
    frame& f = frames.back();
    const rapidjson::Value& v = *f.value;
    if (v.IsObject()) {
      if (f.next == 0) {
        if (long dup = find_duplicate(v, scratch); dup >= 0) {
          const auto& k = v.MemberBegin()[dup].name;
          err.rule = "duplicate-key";
          err.location = pointer_of(frames, frames.size() - 1);
          err.message = "member name '" + std::string(k.GetString(), k.GetStringLength()) +
                        "' appears more than once";
          return false;
        }
      }
      if (f.next < v.MemberCount()) {
        const rapidjson::Value* child = &v.MemberBegin()[f.next++].value;
        if (child->IsObject() || child->IsArray()) frames.push_back({child});
        continue;
      }
    } else if (v.IsArray()) {
      if (f.next < v.Size()) {
        const rapidjson::Value* child = &v[f.next++];
        if (child->IsObject() || child->IsArray()) frames.push_back({child});
        continue;
      }
    }
    frames.pop_back();
  }
  return true;
}

}  // namespace

bool parse_json(std::string_view text, rapidjson::Document& doc, const json_limits& limits,
                json_error& err) {
  err = {};
  if (text.size() > limits.max_bytes) {
    err.rule = "max-bytes";
    err.message = "document is " + std::to_string(text.size()) + " bytes; the limit is " +
                  std::to_string(limits.max_bytes);
    return false;
  }
  if (const std::size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    set_position(text, bad, err);
    err.rule = "json-encoding";
    err.message = "invalid UTF-8 (line " + std::to_string(err.line) + ", column " +
                  std::to_string(err.column) + ")";
    return false;
  }
  // The bytes are valid UTF-8 now; RapidJSON still checks \u escapes (lone surrogates).
  constexpr unsigned flags = rapidjson::kParseIterativeFlag;
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  rapidjson::Reader reader;
  limiting_handler h{doc, limits.max_depth, limits.max_string_bytes};
  auto generate = [&](rapidjson::Document&) { return !reader.Parse<flags>(is, h).IsError(); };
  doc.Populate(generate);
  if (reader.HasParseError()) {
    set_position(text, reader.GetErrorOffset(), err);
    switch (h.hit) {
      case limit_hit::depth:
        err.rule = "max-depth";
        err.message = "nesting deeper than " + std::to_string(limits.max_depth) + " levels";
        break;
      case limit_hit::string:
        err.rule = "max-string";
        err.message = "a string longer than " + std::to_string(limits.max_string_bytes) + " bytes";
        break;
      case limit_hit::none: {
        const auto code = reader.GetParseErrorCode();
        err.rule = code == rapidjson::kParseErrorStringInvalidEncoding ||
                           code == rapidjson::kParseErrorStringUnicodeSurrogateInvalid
                       ? "json-encoding"
                       : "json-syntax";
        err.message = rapidjson::GetParseError_En(code);
        if (!err.message.empty() && err.message.back() == '.') err.message.pop_back();
        break;
      }
    }
    err.message +=
        " (line " + std::to_string(err.line) + ", column " + std::to_string(err.column) + ")";
    doc.SetNull();
    return false;
  }
  if (!check_duplicates(doc, err)) {
    doc.SetNull();
    return false;
  }
  return true;
}

void append_pointer_token(std::string& pointer, std::string_view token) {
  pointer += '/';
  for (char c : token) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
}

std::string pointer_token(std::string_view token) {
  std::string p;
  append_pointer_token(p, token);
  return p.substr(1);
}

std::string json_quoted(std::string_view s) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return {sb.GetString(), sb.GetSize()};
}

std::string_view string_member(const rapidjson::Value& obj, std::string_view name) {
  if (!obj.IsObject()) return {};
  const auto it = obj.FindMember(rapidjson::StringRef(name.data(), name.size()));
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

const rapidjson::Value& member_or_empty(const rapidjson::Value& obj, std::string_view name) {
  static const rapidjson::Value empty(rapidjson::kObjectType);
  if (!obj.IsObject()) return empty;
  const auto it = obj.FindMember(rapidjson::StringRef(name.data(), name.size()));
  return it == obj.MemberEnd() ? empty : it->value;
}

std::string to_json_string(const rapidjson::Value& v, bool pretty) {
  rapidjson::StringBuffer sb;
  if (pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
    w.SetIndent(' ', 2);
    v.Accept(w);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    v.Accept(w);
  }
  return {sb.GetString(), sb.GetSize()};
}

}  // namespace odrgw::schemas
