// The emitter of `tenantsync export` (issue 15 item 5): parse(emit(x)) == x in YAML and JSON,
// table-driven and over random states (fixed seed), byte-for-byte determinism, the read-only
// auth0_id key, users who left.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "daemon/declared/emit.h"
#include "tests/unit/declared_state_gen.h"

namespace tenantsync::declared {
namespace {

using testgen::ExpectSameState;
using ::testing::HasSubstr;

std::string Emit(const DeclaredState& s, FileFormat f, const Auth0Ids& ids = {}) {
  auto r = EmitDeclared(s, f, ids);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : std::string();
}

Result<DeclaredState> Reparse(const std::string& text, FileFormat f) {
  return ParseDeclaredText(text, f == FileFormat::kJson ? "export.json" : "export.yaml", f);
}

void ExpectRoundTrip(const DeclaredState& x, const std::string& context) {
  for (FileFormat f : {FileFormat::kYaml, FileFormat::kJson}) {
    const std::string text = Emit(x, f);
    auto back = Reparse(text, f);
    ASSERT_TRUE(back.ok()) << context << "\n" << back.status().message() << "\n" << text;
    ExpectSameState(x, *back, context + "\n" + text);
  }
}

DeclaredState Sample() {
  DeclaredState s;
  Organization acme;
  acme.external_id = "acme-1";
  acme.name = "acme";
  acme.display_name = "Acme Inc.";
  acme.metadata = {{"tier", "gold"}, {"seats", "12"}};
  acme.branding.logo_url = "https://cdn.example.com/acme.png";
  acme.branding.colors = BrandingColors{"#ff0000", "#ffffff"};
  acme.connections = {{"google-oauth2", std::nullopt, false},
                      {"Username-Password-Authentication", true, std::nullopt}};
  acme.callback_urls = {"https://acme.example.com/callback"};
  s.organizations.push_back(acme);
  Organization bare;
  bare.external_id = "bare-1";
  bare.name = "bare";
  s.organizations.push_back(bare);
  User ann;
  ann.external_id = "u-1";
  ann.email = "ann@example.com";
  ann.name = "Ann Example";
  ann.given_name = "Ann";
  ann.app_metadata = {{"plan", "pro"}, {"seats", 3}, {"flags", {{"beta", true}}}};
  ann.user_metadata = {{"language", "fr"}};
  ann.organizations = {{"acme-1", {"billing", "admin"}}, {"bare-1", {}}};
  s.users.push_back(ann);
  User bob;
  bob.external_id = "u-2";
  bob.email = "bob@example.com";
  bob.blocked = true;
  s.users.push_back(bob);
  Canonicalize(s);
  return s;
}

TEST(DeclaredEmit, YamlLayoutIsFixed) {
  Auth0Ids ids;
  ids.organizations["acme-1"] = "org_abc";
  ids.users["u-1"] = "auth0|123";
  EXPECT_EQ(Emit(Sample(), FileFormat::kYaml, ids), R"(organizations:
  - external_id: acme-1
    auth0_id: org_abc
    name: acme
    display_name: Acme Inc.
    metadata:
      seats: "12"
      tier: gold
    branding:
      logo_url: https://cdn.example.com/acme.png
      colors:
        primary: "#ff0000"
        page_background: "#ffffff"
    connections:
      - name: Username-Password-Authentication
        assign_membership_on_login: true
      - name: google-oauth2
        show_as_button: false
    callback_urls:
      - https://acme.example.com/callback
  - external_id: bare-1
    name: bare
users:
  - external_id: u-1
    auth0_id: auth0|123
    email: ann@example.com
    name: Ann Example
    given_name: Ann
    app_metadata:
      flags:
        beta: true
      plan: pro
      seats: 3
    user_metadata:
      language: fr
    organizations:
      - external_id: acme-1
        roles:
          - admin
          - billing
      - external_id: bare-1
  - external_id: u-2
    email: bob@example.com
    blocked: true
)");
}

TEST(DeclaredEmit, EmptyStateWritesBothLists) {
  EXPECT_EQ(Emit(DeclaredState{}, FileFormat::kYaml), "organizations: []\nusers: []\n");
  EXPECT_EQ(Emit(DeclaredState{}, FileFormat::kJson),
            "{\n  \"organizations\": [],\n  \"users\": []\n}\n");
  ExpectRoundTrip(DeclaredState{}, "empty");
}

TEST(DeclaredEmit, SampleRoundTrips) { ExpectRoundTrip(Sample(), "sample"); }

// Strings a YAML writer gets wrong when it leaves them plain: each is used as a display name, a
// metadata key and value, a user name and an app_metadata string.
TEST(DeclaredEmit, TrickyStringsRoundTrip) {
  for (const std::string& t : testgen::TrickyStrings()) {
    DeclaredState s;
    Organization o;
    o.external_id = "o-1";
    o.name = "o";
    o.display_name = t;
    // Metadata keys may not hold '.' or '$' (ingress rule): such strings are values only.
    const std::string key = t.find_first_of(".$") == std::string::npos ? t : "k";
    o.metadata[key] = t;
    s.organizations.push_back(o);
    User u;
    u.external_id = "u-1";
    u.email = "u@example.com";
    u.name = t;
    u.app_metadata[key] = t;
    u.user_metadata["list"] = nlohmann::json::array({t, 1, nullptr});
    s.users.push_back(u);
    ExpectRoundTrip(s, "string: " + t);
  }
}

TEST(DeclaredEmit, NumbersRoundTrip) {
  for (const nlohmann::json& v :
       {nlohmann::json(0), nlohmann::json(-1), nlohmann::json(INT64_MAX), nlohmann::json(INT64_MIN),
        nlohmann::json(0.1), nlohmann::json(1e300), nlohmann::json(-2.5e-8), nlohmann::json(3.0)}) {
    DeclaredState s;
    User u;
    u.external_id = "u-1";
    u.email = "u@example.com";
    u.app_metadata["n"] = v;
    s.users.push_back(u);
    ExpectRoundTrip(s, "number: " + v.dump());
  }
}

// The property: any valid state survives emit → parse, in both formats (fixed seed).
TEST(DeclaredEmit, RandomStatesRoundTrip) {
  std::mt19937 rng(15);
  for (int i = 0; i < 300; ++i) {
    const DeclaredState x = testgen::RandState(rng, /*deploy_cli=*/false);
    ExpectRoundTrip(x, "iteration " + std::to_string(i));
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(DeclaredEmit, DeterministicWhateverTheInputOrder) {
  DeclaredState a = Sample();
  DeclaredState b = a;
  std::reverse(b.organizations.begin(), b.organizations.end());
  std::reverse(b.users.begin(), b.users.end());
  std::reverse(b.organizations[1].connections.begin(), b.organizations[1].connections.end());
  std::reverse(b.users[1].organizations.begin(), b.users[1].organizations.end());
  for (FileFormat f : {FileFormat::kYaml, FileFormat::kJson}) {
    EXPECT_EQ(Emit(a, f), Emit(a, f));
    EXPECT_EQ(Emit(a, f), Emit(b, f));
  }
}

TEST(DeclaredEmit, Auth0IdIsReadAndIgnored) {
  Auth0Ids ids;
  ids.organizations["acme-1"] = "org_abc";
  ids.users["u-1"] = "auth0|123";
  for (FileFormat f : {FileFormat::kYaml, FileFormat::kJson}) {
    const std::string text = Emit(Sample(), f, ids);
    EXPECT_THAT(text, HasSubstr("org_abc"));
    auto back = Reparse(text, f);
    ASSERT_TRUE(back.ok()) << back.status().message();
    ExpectSameState(Sample(), *back, text);
  }
  // Not a string: refused, with file:line: field.
  std::vector<Problem> problems;
  auto r = ParseDeclaredText(
      "users:\n  - external_id: u-1\n    email: a@example.com\n"
      "    auth0_id: [1]\n",
      "f.yaml", FileFormat::kYaml, &problems);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0].ToString(), HasSubstr("f.yaml:4: users[0].auth0_id: must be a string"));
}

TEST(DeclaredEmit, UsersWhoLeftAreNotWritten) {
  DeclaredState s = Sample();
  s.users[1].left = true;  // u-2
  const std::string text = Emit(s, FileFormat::kYaml);
  EXPECT_THAT(text, ::testing::Not(HasSubstr("u-2")));
  auto back = Reparse(text, FileFormat::kYaml);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->users.size(), 1u);
}

TEST(DeclaredEmit, YamlTextQuotesWhatWouldReadAsAnotherType) {
  nlohmann::ordered_json doc = {{"a", "true"}, {"b", "12"}, {"c", ""}, {"d", "plain text"}};
  auto text = YamlText(doc);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "a: \"true\"\nb: \"12\"\nc: \"\"\nd: plain text\n");
}

}  // namespace
}  // namespace tenantsync::declared
