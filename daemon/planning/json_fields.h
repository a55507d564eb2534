// Small, non-throwing reads of the desired/known JSON the planners and the executor share.
#pragma once

#include <nlohmann/json.hpp>

namespace tenantsync {

// obj[key], or null when `obj` is not an object or has no such key. Never throws.
inline const nlohmann::json& Field(const nlohmann::json& obj, const char* key) {
  static const nlohmann::json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

// True only for a JSON `true`.
inline bool Truthy(const nlohmann::json& v) { return v.is_boolean() && v.get<bool>(); }

// The profile fields tenantsync owns on a user; metadata and `blocked` are handled apart.
inline constexpr const char* kUserProfileFields[] = {
    "email", "email_verified", "name", "given_name", "family_name", "nickname", "picture"};

}  // namespace tenantsync
