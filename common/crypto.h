// Small wrappers over OpenSSL for the primitives webhook signatures and tokens need.
// All functions are pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tenantsync::crypto {

// Raw 32-byte HMAC-SHA256 of `data` keyed by `key`.
std::string HmacSha256(std::string_view key, std::string_view data);
// Raw 32-byte SHA-256.
std::string Sha256(std::string_view data);

std::string HexEncode(std::string_view raw);
// Accepts upper or lower case; nullopt on odd length or a non-hex character.
std::optional<std::string> HexDecode(std::string_view hex);

std::string Base64Encode(std::string_view raw);
// Standard alphabet; padding optional; nullopt on any invalid character.
std::optional<std::string> Base64Decode(std::string_view b64);

// Constant-time equality (the time depends only on the lengths).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace tenantsync::crypto
