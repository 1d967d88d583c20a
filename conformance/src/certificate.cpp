// Certificates: canonical JSON, Ed25519 signatures with OpenSSL (EVP_DigestSign, NULL digest).
#include <odrgw/conformance/certificate.hpp>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <vector>

#include <odrgw/schemas/json.hpp>

namespace odrgw::conformance {
namespace {

using rapidjson::Value;
using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

constexpr std::string_view format_id = "odrgw-conformance-certificate/1";

void write_canonical(const Value& v, rapidjson::Writer<rapidjson::StringBuffer>& w) {
  if (v.IsObject()) {
    std::vector<const Value::Member*> members;
    for (const auto& m : v.GetObject()) members.push_back(&m);
    std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
      return std::string_view(a->name.GetString(), a->name.GetStringLength()) <
             std::string_view(b->name.GetString(), b->name.GetStringLength());
    });
    w.StartObject();
    for (const auto* m : members) {
      w.String(m->name.GetString(), m->name.GetStringLength());
      write_canonical(m->value, w);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const auto& e : v.GetArray()) write_canonical(e, w);
    w.EndArray();
  } else {
    v.Accept(w);
  }
}

pkey_ptr read_key(const std::string& pem, bool is_private) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) throw std::runtime_error("out of memory");
  EVP_PKEY* k = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                           : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  pkey_ptr key(k, EVP_PKEY_free);
  if (!key)
    throw std::runtime_error(std::string("not a PEM ") + (is_private ? "private" : "public") +
                             " key");
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519)
    throw std::runtime_error("the key is not an Ed25519 key");
  return key;
}

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

// Lower-case hex only: one spelling per byte string, so the file has one form.
bool unhex(std::string_view s, std::vector<unsigned char>& out) {
  if (s.size() % 2) return false;
  auto nib = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int hi = nib(s[i]), lo = nib(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<unsigned char>(hi * 16 + lo));
  }
  return true;
}

// The key id: SHA-256 of the raw 32-byte public key, hex.
std::string key_id(EVP_PKEY* key) {
  unsigned char raw[64];
  std::size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1) throw std::runtime_error("bad key");
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(raw, len, md);
  return hex(md, sizeof md);
}

}  // namespace

std::string canonical_json(const Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  write_canonical(v, w);
  return std::string(sb.GetString(), sb.GetSize());
}

std::string make_certificate(const run_result& r, const std::string& private_key_pem,
                             const std::string& issued_at, const std::string& tool_version) {
  if (!r.mandatory_passed())
    throw std::runtime_error("no certificate: a mandatory case did not pass");
  auto key = read_key(private_key_pem, true);
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto s = [&](std::string_view v) {
    return Value(v.data(), static_cast<rapidjson::SizeType>(v.size()), a);
  };
  d.AddMember("format", s(format_id), a);
  Value suite(rapidjson::kObjectType);
  suite.AddMember("id", s(r.suite), a);
  suite.AddMember("version", s(r.suite_version), a);
  d.AddMember("suite", suite, a);
  d.AddMember("specVersion", s(r.spec_version), a);
  d.AddMember("target", s(r.target), a);
  rapidjson::Document claims;
  schemas::json_error err;
  schemas::parse_json(r.claimed.to_json(), claims, {}, err);  // our own output
  d.AddMember("claims", Value(claims, a), a);
  // Per requirement: passed only when every case of it that ran passed.
  Value reqs(rapidjson::kArrayType);
  std::vector<std::string> seen;
  for (const auto& c : r.cases) {
    if (std::find(seen.begin(), seen.end(), c.def.requirement) != seen.end()) continue;
    seen.push_back(c.def.requirement);
    Value o(rapidjson::kObjectType);
    Value cases(rapidjson::kArrayType);
    bool failed = false, ran = false;
    for (const auto& c2 : r.cases) {
      if (c2.def.requirement != c.def.requirement) continue;
      Value ce(rapidjson::kObjectType);
      ce.AddMember("id", s(c2.def.id), a);
      ce.AddMember("severity", s(c2.def.severity), a);
      ce.AddMember("status", s(to_string(c2.status)), a);
      cases.PushBack(ce, a);
      failed = failed || c2.status == case_status::failed;
      ran = ran || c2.status == case_status::passed || c2.status == case_status::failed;
    }
    o.AddMember("requirement", s(c.def.requirement), a);
    o.AddMember("status", s(failed ? "failed" : ran ? "passed" : "not-tested"), a);
    o.AddMember("cases", cases, a);
    reqs.PushBack(o, a);
  }
  d.AddMember("requirements", reqs, a);
  d.AddMember("timeBoundMs", static_cast<int64_t>(r.time_bound_ms), a);
  d.AddMember("startedAt", s(r.started_at), a);
  d.AddMember("finishedAt", s(r.finished_at), a);
  d.AddMember("issuedAt", s(issued_at), a);
  d.AddMember("tool", s("odrgw " + tool_version), a);

  const std::string signed_bytes = canonical_json(d);
  md_ctx_ptr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t sig_len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len,
                     reinterpret_cast<const unsigned char*>(signed_bytes.data()),
                     signed_bytes.size()) != 1)
    throw std::runtime_error("signing failed");
  std::vector<unsigned char> sig(sig_len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &sig_len,
                     reinterpret_cast<const unsigned char*>(signed_bytes.data()),
                     signed_bytes.size()) != 1)
    throw std::runtime_error("signing failed");
  Value sv(rapidjson::kObjectType);
  sv.AddMember("algorithm", "Ed25519", a);
  sv.AddMember("keyId", s(key_id(key.get())), a);
  sv.AddMember("value", s(hex(sig.data(), sig_len)), a);
  d.AddMember("signature", sv, a);
  return canonical_json(d) + "\n";
}

verify_result verify_certificate(std::string_view bytes, const std::string& public_key_pem) {
  verify_result out;
  pkey_ptr key(nullptr, EVP_PKEY_free);
  try {
    key = read_key(public_key_pem, false);
  } catch (const std::exception& e) {
    out.reason = e.what();
    return out;
  }
  rapidjson::Document d;
  schemas::json_error err;
  if (!schemas::parse_json(bytes, d, {}, err) || !d.IsObject()) {
    out.reason = "not a JSON object: " + err.message;
    return out;
  }
  // The file must be exactly its canonical form: a byte changed anywhere shows either here or
  // in the signature.
  if (canonical_json(d) + "\n" != bytes) {
    out.reason = "not in canonical form (edited after signing?)";
    return out;
  }
  auto f = d.FindMember("format");
  if (f == d.MemberEnd() || !f->value.IsString() || format_id != f->value.GetString()) {
    out.reason = "not an odrgw conformance certificate";
    return out;
  }
  auto sm = d.FindMember("signature");
  if (sm == d.MemberEnd() || !sm->value.IsObject()) {
    out.reason = "no signature";
    return out;
  }
  const Value& sig = sm->value;
  auto field = [&](const char* name) {
    auto it = sig.FindMember(name);
    return it != sig.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString())
                                                         : std::string();
  };
  std::vector<unsigned char> raw;
  if (field("algorithm") != "Ed25519" || !unhex(field("value"), raw) || raw.size() != 64) {
    out.reason = "the signature is not an Ed25519 signature in lower-case hex";
    return out;
  }
  if (field("keyId") != key_id(key.get())) {
    out.reason = "signed with another key (keyId differs)";
    return out;
  }
  d.RemoveMember("signature");
  const std::string signed_bytes = canonical_json(d);
  md_ctx_ptr ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    out.reason = "verification failed to start";
    return out;
  }
  if (EVP_DigestVerify(ctx.get(), raw.data(), raw.size(),
                       reinterpret_cast<const unsigned char*>(signed_bytes.data()),
                       signed_bytes.size()) != 1) {
    out.reason = "the signature does not match the content";
    return out;
  }
  out.ok = true;
  return out;
}

}  // namespace odrgw::conformance
