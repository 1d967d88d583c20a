#pragma once
// Personal data protection: the fields the v1 schemas mark `x-odr-personal-data` are encrypted
// with AES-256-GCM (OpenSSL) before anything is stored. Deleting the key later makes them
// unreadable while the audit chain, which covers the ciphertext, still verifies.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <odrgw/schemas/json.hpp>
#include <odrgw/schemas/model.hpp>

namespace odrgw::gateway {

class pii_key {
 public:
  // Reads the 32-byte key file; creates it (mode 0600, directory too) when missing.
  // Throws std::runtime_error with the path on failure or when permissions are wider than 0600.
  // The key file holds the 32 bytes raw, or as 64 hex digits (what load_or_create writes).
  static pii_key load_or_create(const std::string& path);
  // Like load_or_create, but a missing file is an error (audit export, key rotation tools).
  static pii_key load(const std::string& path);
  static pii_key from_bytes(const std::array<std::uint8_t, 32>& bytes);
  std::string key_id() const;  // first 8 hex digits of SHA-256(key): names the key in records

  // AES-256-GCM; returns "odrgw-pii:v1:<key_id>:<base64(nonce|ct|tag)>". The 96-bit nonce is a
  // random 64-bit prefix per thread and key followed by a 32-bit counter (unique per key; see
  // seal_kind in pii.cpp). Each thread keeps its key schedule: no key set-up per value.
  std::string seal(std::string_view plaintext) const;
  // nullopt when the token is not ours, the key differs, or the tag does not verify.
  std::optional<std::string> open(std::string_view token) const;

  // A non-string value (object, array, number, boolean) is sealed as its compact JSON text in a
  // token marked "j:" ("odrgw-pii:v1:<key_id>:j:<base64>") so that reveal() restores the value,
  // not a string. The marker is authenticated (it is part of the GCM additional data).
  std::string seal_json(std::string_view json_text) const;
  struct opened {
    std::string plaintext;
    bool json = false;  // sealed by seal_json
  };
  std::optional<opened> open_token(std::string_view token) const;

 private:
  std::string seal_kind(std::string_view plaintext, bool json) const;
  std::array<std::uint8_t, 32> key_{};
  std::string id_;  // key_id(), computed once
};

// Replaces every personal-data value of `message` (per the model node `root`) by a sealed token
// string: strings, numbers, booleans, and whole objects/arrays (serialised JSON) alike. Every
// marked value is sealed, even text that already looks like a token (input is never trusted to be
// "already sealed"); members the model does not know are not touched.
void protect(const schemas::node& root, rapidjson::Value& message,
             rapidjson::Document::AllocatorType& a, const pii_key& key);
// The reverse; values that cannot be opened become "[redacted]".
void reveal(rapidjson::Value& message, rapidjson::Document::AllocatorType& a, const pii_key* key);

bool is_sealed(std::string_view s) noexcept;

}  // namespace odrgw::gateway
