// Random valid declared states for the round-trip property tests (declared_emit_test.cpp,
// declared_deploy_cli_test.cpp): every value passes ParseDeclared's validation, strings are
// chosen to be hard for a YAML writer (words the core schema reads as null, booleans or numbers,
// quotes, colons, newlines, non-ASCII).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "daemon/declared/declared.h"

namespace tenantsync::declared::testgen {

inline const std::vector<std::string>& TrickyStrings() {
  static const std::vector<std::string> k = {
      "true",  "false",  "yes",        "no",        "on",    "off",    "null",    "~",
      "1",     "-7",     "0x1F",       "0o17",      "1.5",   "1e3",    ".inf",    ".nan",
      "-",     "- x",    "a: b",       "#tag",      "a #b",  "'q'",    "\"dq\"",  "back\\slash",
      "[x]",   "{y}",    "*ref",       "&anc",      "!tag",  "%pct",   "@at",     "`tick`",
      " lead", "trail ", "two\nlines", "tab\there", "é à ü", "日本語", "😀",       "|",
      ">",     "?",      ",",          "---",       "...",   "a,b",    "Ünïcödé", "x:y"};
  return k;
}

inline std::string RandText(std::mt19937& rng) {
  if (rng() % 3 == 0) return TrickyStrings()[rng() % TrickyStrings().size()];
  static const std::vector<std::string> kPieces = {
      "a", "Z", "0", "9", " ", ":", "#", "-", "'", "\"", "\\", "\n", "\t", "é", "€", "😀",
      "{", "}", "[", "]", ",", "&", "*", "!", "|", ">",  "%",  "@",  "`",  "?", "~", "."};
  std::string s;
  const size_t n = 1 + rng() % 12;
  for (size_t i = 0; i < n; ++i) s += kPieces[rng() % kPieces.size()];
  return s;
}

inline std::string RandKey(std::mt19937& rng) {
  static const std::vector<std::string> k = {"tier", "1",   "true", "null", "a b", "é",
                                             "x-y",  "k_1", "~",    "yes",  "#k",  "a:b"};
  return k[rng() % k.size()];
}

inline nlohmann::json RandJson(std::mt19937& rng, int depth) {
  switch (rng() % (depth > 1 ? 6 : 8)) {
    case 0:
      return static_cast<int64_t>(rng() % 2000) - 1000;
    case 1: {
      static const double k[] = {0.5, -1.25, 1e300, 3.0, 123456.789, 1e-7, -0.0};
      return k[rng() % 7];
    }
    case 2:
      return rng() % 2 == 0;
    case 3:
    case 4:
      return RandText(rng);
    case 5:
      return rng() % 2 ? INT64_MAX : INT64_MIN;
    case 6: {
      nlohmann::json a = nlohmann::json::array();
      for (size_t i = 0, n = rng() % 3; i < n; ++i) a.push_back(RandJson(rng, depth + 1));
      if (rng() % 4 == 0) a.push_back(nullptr);
      return a;
    }
    default: {
      nlohmann::json o = nlohmann::json::object();
      for (size_t i = 0, n = rng() % 3; i < n; ++i) o[RandKey(rng)] = RandJson(rng, depth + 1);
      return o;
    }
  }
}

inline Organization RandOrg(std::mt19937& rng, int i, bool deploy_cli) {
  Organization o;
  o.name = "org-" + std::to_string(i);
  o.external_id = deploy_cli ? o.name : "ext-" + std::to_string(i);
  if (rng() % 2) o.display_name = RandText(rng);
  for (size_t k = 0, n = rng() % 4; k < n; ++k) o.metadata[RandKey(rng)] = RandText(rng);
  if (rng() % 2) o.branding.logo_url = "https://cdn.example.com/" + std::to_string(i) + ".png";
  if (rng() % 2) o.branding.colors = BrandingColors{"#ff0000", "#FFFFFF"};
  static const char* kConnections[] = {"Username-Password-Authentication", "google-oauth2",
                                       "conn-1"};
  for (const char* c : kConnections) {
    if (rng() % 2) continue;
    OrgConnection conn{c, std::nullopt, std::nullopt};
    if (rng() % 3) conn.assign_membership_on_login = rng() % 2 == 0;
    if (rng() % 3) conn.show_as_button = rng() % 2 == 0;
    o.connections.push_back(conn);
  }
  if (!deploy_cli) {
    for (int k = 0; k < 3; ++k) {
      if (rng() % 2)
        o.callback_urls.push_back("https://o" + std::to_string(i) + ".example.com/cb" +
                                  std::to_string(k));
    }
  }
  return o;
}

inline User RandUser(std::mt19937& rng, int i, int orgs) {
  User u;
  u.external_id = "u-" + std::to_string(i);
  u.email = "u" + std::to_string(i) + "@example.com";
  if (rng() % 2) u.name = RandText(rng);
  if (rng() % 2) u.given_name = RandText(rng);
  if (rng() % 2) u.family_name = RandText(rng);
  for (size_t k = 0, n = rng() % 4; k < n; ++k) u.app_metadata[RandKey(rng)] = RandJson(rng, 1);
  for (size_t k = 0, n = rng() % 3; k < n; ++k) u.user_metadata[RandKey(rng)] = RandJson(rng, 1);
  u.blocked = rng() % 4 == 0;
  for (int o = 0; o < orgs; ++o) {
    if (rng() % 2) continue;
    Membership m{"ext-" + std::to_string(o), {}};
    for (const char* r : {"admin", "member", "billing"}) {
      if (rng() % 2) m.roles.push_back(r);
    }
    u.organizations.push_back(m);
  }
  return u;
}

inline DeclaredState RandState(std::mt19937& rng, bool deploy_cli) {
  DeclaredState s;
  const int orgs = static_cast<int>(rng() % 5) + (deploy_cli ? 1 : 0);
  for (int i = 0; i < orgs; ++i) s.organizations.push_back(RandOrg(rng, i, deploy_cli));
  if (!deploy_cli) {
    for (int i = 0, n = static_cast<int>(rng() % 5); i < n; ++i)
      s.users.push_back(RandUser(rng, i, orgs));
  }
  Canonicalize(s);
  return s;
}

// Same entities with the same content (`where` ignored).
inline void ExpectSameState(const DeclaredState& a, const DeclaredState& b,
                            const std::string& context) {
  ASSERT_EQ(a.organizations.size(), b.organizations.size()) << context;
  ASSERT_EQ(a.users.size(), b.users.size()) << context;
  for (size_t i = 0; i < a.organizations.size(); ++i) {
    EXPECT_TRUE(SameContent(a.organizations[i], b.organizations[i]))
        << context << "\norganization " << a.organizations[i].external_id;
  }
  for (size_t i = 0; i < a.users.size(); ++i) {
    EXPECT_TRUE(SameContent(a.users[i], b.users[i]))
        << context << "\nuser " << a.users[i].external_id;
  }
}

}  // namespace tenantsync::declared::testgen
