// HMAC-SHA256 callback signatures (OpenSSL) and their verifier.
#include <odrgw/gateway/callback.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "util.hpp"

namespace odrgw::gateway {
namespace {

std::array<unsigned char, 32> mac(std::string_view secret, std::int64_t t, std::string_view body) {
  const std::string prefix = std::to_string(t) + ".";
  std::array<unsigned char, 32> out{};
  // One-shot HMAC over prefix + body without copying the body.
  EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = m != nullptr ? EVP_MAC_CTX_new(m) : nullptr;
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                               OSSL_PARAM_construct_end()};
  std::size_t n = 0;
  const bool ok =
      ctx != nullptr &&
      EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                   params) == 1 &&
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(prefix.data()), prefix.size()) ==
          1 &&
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(body.data()), body.size()) == 1 &&
      EVP_MAC_final(ctx, out.data(), &n, out.size()) == 1;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(m);
  if (!ok || n != out.size()) throw std::runtime_error("HMAC-SHA256 failed");
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string sign_callback(std::string_view secret, std::int64_t t, std::string_view body) {
  const auto m = mac(secret, t, body);
  return "t=" + std::to_string(t) + ",v1=" + detail::to_hex(m.data(), m.size());
}

std::string_view to_string(callback_verdict v) noexcept {
  switch (v) {
    case callback_verdict::valid:
      return "valid";
    case callback_verdict::malformed:
      return "malformed";
    case callback_verdict::bad_signature:
      return "bad-signature";
    case callback_verdict::outside_window:
      return "outside-window";
  }
  return "?";
}

callback_check verify_callback(std::string_view secret, std::string_view header_value,
                               std::string_view body, std::int64_t now, std::int64_t tolerance_s) {
  callback_check out;
  bool have_t = false;
  std::vector<detail::digest> candidates;
  std::string_view rest = header_value;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      out.detail = "an entry without '=' in " + std::string(signature_header);
      return out;
    }
    const auto key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "t") {
      std::int64_t t = 0;
      const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), t);
      if (have_t || ec != std::errc() || p != value.data() + value.size() || t < 0) {
        out.detail = "t= must appear once, as unix seconds";
        return out;
      }
      have_t = true;
      out.timestamp = t;
    } else if (key == "v1") {
      detail::digest d{};
      if (!detail::from_hex32(value, d)) {
        out.detail = "v1= must be 64 hex digits (HMAC-SHA256)";
        return out;
      }
      candidates.push_back(d);
    }
    // Other keys (future schemes) are ignored, as the format allows.
  }
  if (!have_t || candidates.empty()) {
    out.detail = "expected t=<unix seconds>,v1=<hex>";
    return out;
  }
  const auto expected = mac(secret, out.timestamp, body);
  bool match = false;
  for (const auto& c : candidates)
    match = (CRYPTO_memcmp(c.data(), expected.data(), expected.size()) == 0) || match;
  if (!match) {
    out.verdict = callback_verdict::bad_signature;
    out.detail = "no v1 signature matches this body and secret";
    return out;
  }
  const std::int64_t skew = now > out.timestamp ? now - out.timestamp : out.timestamp - now;
  if (skew > tolerance_s) {
    out.verdict = callback_verdict::outside_window;
    out.detail = "signed " + std::to_string(skew) + " s " +
                 (now > out.timestamp ? "ago" : "in the future") + "; the window is " +
                 std::to_string(tolerance_s) + " s (a replay, or a clock to fix)";
    return out;
  }
  out.verdict = callback_verdict::valid;
  out.detail = "signature valid, signed " + std::to_string(skew) + " s from now";
  return out;
}

}  // namespace odrgw::gateway
