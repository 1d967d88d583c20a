#pragma once
// Small helpers shared across the gateway library: hex, SHA-256, UUIDs and RFC 3339 times
// (implemented in storage_sqlite.cpp).
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace odrgw::gateway::detail {

using digest = std::array<std::uint8_t, 32>;

// ---- bytes and time -------------------------------------------------------------------------

std::string to_hex(const std::uint8_t* p, std::size_t n);
inline std::string to_hex(const digest& d) { return to_hex(d.data(), d.size()); }
// Exactly 64 hex digits (either case) -> 32 bytes.
bool from_hex32(std::string_view hex, digest& out) noexcept;
digest sha256(std::string_view data);
// SHA-256(prev || data): one link of the audit chain.
digest chain_hash(const digest& prev, std::string_view data);
// Random UUID version 4 (OpenSSL RAND_bytes), lower case.
std::string uuid_v4();

using clock = std::chrono::system_clock;
// "YYYY-MM-DDTHH:MM:SS.mmmZ" (RFC 3339, UTC, milliseconds).
std::string format_utc_ms(clock::time_point t);
std::string format_utc_ms(std::int64_t unix_ms);  // any year 0000-9999
int utc_year(clock::time_point t);
// Parses RFC 3339 (date-time with Z or offset, optional fraction) or a bare date YYYY-MM-DD
// (midnight UTC) and returns the same instant in format_utc_ms form (fraction truncated to ms).
std::optional<std::string> normalise_rfc3339(std::string_view s);

}  // namespace odrgw::gateway::detail
