#pragma once
// Signed conformance certificates: a JSON document naming the suite, the v1 spec version, the
// target, its claims and the per-requirement results, signed with Ed25519 over its canonical
// serialisation (docs/conformance.md). The file *is* that canonical serialisation plus the
// signature member, so any changed byte either changes the signed content or breaks the form.
#include <string>

#include <odrgw/conformance/suite.hpp>

namespace odrgw::conformance {

// Canonical serialisation of a JSON value: object members sorted by name (bytewise), no
// insignificant whitespace, RapidJSON's string escaping, integers only as written.
std::string canonical_json(const rapidjson::Value& v);

// Builds and signs a certificate for a passing run with an Ed25519 private key (PEM). Throws
// std::runtime_error (unreadable key, not Ed25519, run not passing).
std::string make_certificate(const run_result& r, const std::string& private_key_pem,
                             const std::string& issued_at, const std::string& tool_version);

struct verify_result {
  bool ok = false;
  std::string reason;  // why not
};
// Checks form and signature against an Ed25519 public key (PEM).
verify_result verify_certificate(std::string_view file_bytes, const std::string& public_key_pem);

}  // namespace odrgw::conformance
