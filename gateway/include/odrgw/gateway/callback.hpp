#pragma once
// Signed callbacks (docs/callbacks.md): when the gateway posts a result to a partner's
// callback_url it adds
//
//   ODR-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
//
// A receiver recomputes the HMAC over the exact body bytes with the shared secret, compares in
// constant time, and refuses a timestamp outside its window (replays of an old, validly signed
// request). Several v1= entries may appear while a secret is being rotated; one match suffices.
// `odrgw callback verify` is this verifier as a command for partners.
#include <cstdint>
#include <string>
#include <string_view>

namespace odrgw::gateway {

inline constexpr std::string_view signature_header = "ODR-Signature";

// The header value for `body` signed at unix time `t`.
std::string sign_callback(std::string_view secret, std::int64_t t, std::string_view body);

enum class callback_verdict {
  valid,
  malformed,       // the header is not t=...,v1=...
  bad_signature,   // no v1 entry matches
  outside_window,  // |now - t| > tolerance: too old (a replay) or from the future
};
std::string_view to_string(callback_verdict v) noexcept;

struct callback_check {
  callback_verdict verdict = callback_verdict::malformed;
  std::int64_t timestamp = 0;
  std::string detail;  // why, in words
};

// Checks a received callback. `tolerance_s` is the replay window (default 300 s).
callback_check verify_callback(std::string_view secret, std::string_view header_value,
                               std::string_view body, std::int64_t now,
                               std::int64_t tolerance_s = 300);

}  // namespace odrgw::gateway
