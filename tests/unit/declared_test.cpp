// Declared state (issue 15): parser and validation, differ, event ids, plan rendering.
#include "daemon/declared/declared.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "adapters/events/event.h"

namespace tenantsync::declared {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// ---- helpers ----

DeclaredState MustParse(std::string_view text, FileFormat format = FileFormat::kYaml,
                        std::string_view name = "f.yaml") {
  std::vector<Problem> problems;
  Result<DeclaredState> r = ParseDeclaredText(text, name, format, &problems);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : DeclaredState{};
}

std::vector<std::string> ProblemsOf(std::string_view text, FileFormat format = FileFormat::kYaml,
                                    std::string_view name = "f.yaml") {
  std::vector<Problem> problems;
  Result<DeclaredState> r = ParseDeclaredText(text, name, format, &problems);
  EXPECT_FALSE(r.ok());
  std::vector<std::string> out;
  for (const auto& p : problems) out.push_back(p.ToString());
  return out;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("declared_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name, std::ios::binary) << text;
    return (path_ / name).string();
  }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

constexpr const char* kFullYaml = R"(# every field of the vocabulary
organizations:
  - external_id: acme-1
    name: acme
    display_name: Acme Inc.
    metadata:
      tier: gold
      region: eu
    branding:
      logo_url: https://cdn.example.com/acme.png
      colors: {primary: "#ff0000", page_background: "#fff"}
    connections:
      - name: Username-Password-Authentication
        assign_membership_on_login: true
      - name: google-oauth2
        show_as_button: false
    callback_urls:
      - https://acme.example.com/callback
      - http://localhost:3000/callback
users:
  - external_id: u-1
    email: ann@example.com
    name: Ann Example
    given_name: Ann
    family_name: Example
    app_metadata: {plan: pro, seats: 3, flags: {beta: true}}
    user_metadata: {language: fr}
    blocked: true
    organizations:
      - external_id: acme-1
        roles: [billing, admin]
      - external_id: globex-1
)";

constexpr const char* kFullJson = R"({
  "organizations": [
    {
      "external_id": "acme-1",
      "name": "acme",
      "display_name": "Acme Inc.",
      "metadata": {"tier": "gold", "region": "eu"},
      "branding": {
        "logo_url": "https://cdn.example.com/acme.png",
        "colors": {"primary": "#ff0000", "page_background": "#fff"}
      },
      "connections": [
        {"name": "google-oauth2", "show_as_button": false},
        {"name": "Username-Password-Authentication", "assign_membership_on_login": true}
      ],
      "callback_urls": ["http://localhost:3000/callback", "https://acme.example.com/callback"]
    }
  ],
  "users": [
    {
      "external_id": "u-1",
      "email": "ann@example.com",
      "name": "Ann Example",
      "given_name": "Ann",
      "family_name": "Example",
      "app_metadata": {"plan": "pro", "seats": 3, "flags": {"beta": true}},
      "user_metadata": {"language": "fr"},
      "blocked": true,
      "organizations": [{"external_id": "globex-1"}, {"external_id": "acme-1", "roles": ["admin", "billing"]}]
    }
  ]
})";

// ---- parsing ----

TEST(DeclaredParse, EveryFieldOfTheVocabulary) {
  DeclaredState s = MustParse(kFullYaml);
  ASSERT_EQ(s.organizations.size(), 1u);
  const Organization& o = s.organizations[0];
  EXPECT_EQ(o.external_id, "acme-1");
  EXPECT_EQ(o.name, "acme");
  EXPECT_EQ(o.display_name, "Acme Inc.");
  EXPECT_EQ(o.metadata, (std::map<std::string, std::string>{{"region", "eu"}, {"tier", "gold"}}));
  EXPECT_EQ(o.branding.logo_url, "https://cdn.example.com/acme.png");
  ASSERT_TRUE(o.branding.colors.has_value());
  EXPECT_EQ(o.branding.colors->primary, "#ff0000");
  EXPECT_EQ(o.branding.colors->page_background, "#fff");
  ASSERT_EQ(o.connections.size(), 2u);  // canonical: by name
  EXPECT_EQ(o.connections[0].name, "Username-Password-Authentication");
  EXPECT_EQ(o.connections[0].assign_membership_on_login, true);
  EXPECT_FALSE(o.connections[0].show_as_button.has_value());
  EXPECT_EQ(o.connections[1].name, "google-oauth2");
  EXPECT_EQ(o.connections[1].show_as_button, false);
  EXPECT_EQ(o.callback_urls, (std::vector<std::string>{"http://localhost:3000/callback",
                                                       "https://acme.example.com/callback"}));
  EXPECT_EQ(o.where.file, "f.yaml");
  EXPECT_EQ(o.where.line, 3);

  ASSERT_EQ(s.users.size(), 1u);
  const User& u = s.users[0];
  EXPECT_EQ(u.external_id, "u-1");
  EXPECT_EQ(u.email, "ann@example.com");
  EXPECT_EQ(u.name, "Ann Example");
  EXPECT_EQ(u.given_name, "Ann");
  EXPECT_EQ(u.family_name, "Example");
  EXPECT_EQ(u.app_metadata.at("plan"), json("pro"));
  EXPECT_EQ(u.app_metadata.at("seats"), json(3));
  EXPECT_EQ(u.app_metadata.at("flags"), json({{"beta", true}}));
  EXPECT_EQ(u.user_metadata.at("language"), json("fr"));
  EXPECT_TRUE(u.blocked);
  EXPECT_FALSE(u.left);
  ASSERT_EQ(u.organizations.size(), 2u);
  EXPECT_EQ(u.organizations[0].org_external_id, "acme-1");
  EXPECT_EQ(u.organizations[0].roles, (std::vector<std::string>{"admin", "billing"}));
  EXPECT_EQ(u.organizations[1].org_external_id, "globex-1");
  EXPECT_TRUE(u.organizations[1].roles.empty());
  EXPECT_EQ(u.where.line, 21);
}

TEST(DeclaredParse, YamlAndJsonAreEquivalent) {
  DeclaredState y = MustParse(kFullYaml);
  DeclaredState j = MustParse(kFullJson, FileFormat::kJson, "f.json");
  ASSERT_EQ(y.organizations.size(), j.organizations.size());
  ASSERT_EQ(y.users.size(), j.users.size());
  EXPECT_TRUE(SameContent(y.organizations[0], j.organizations[0]));
  EXPECT_TRUE(SameContent(y.users[0], j.users[0]));
  EXPECT_EQ(j.organizations[0].where.line, 3);
  EXPECT_EQ(j.users[0].where.line, 20);
  Plan p = DiffDeclared(y, j);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.unchanged, 2u);
}

TEST(DeclaredParse, YamlScalarsFollowTheCoreSchema) {
  DeclaredState s = MustParse(R"(users:
  - external_id: "007"
    email: a@example.com
    app_metadata: {yes_is_text: yes, n: 12, f: 1.5, hex: 0x1F, nothing: ~, quoted: "12", t: true}
)");
  ASSERT_EQ(s.users.size(), 1u);
  const auto& m = s.users[0].app_metadata;
  EXPECT_EQ(s.users[0].external_id, "007");
  EXPECT_EQ(m.at("yes_is_text"), json("yes"));
  EXPECT_EQ(m.at("n"), json(12));
  EXPECT_EQ(m.at("f"), json(1.5));
  EXPECT_EQ(m.at("hex"), json(31));
  EXPECT_EQ(m.count("nothing"), 0u);  // null: not declared
  EXPECT_EQ(m.at("quoted"), json("12"));
  EXPECT_EQ(m.at("t"), json(true));
}

TEST(DeclaredParse, EmptyFilesDeclareNothing) {
  for (auto [text, format] :
       {std::pair{"", FileFormat::kYaml}, std::pair{"# none\n", FileFormat::kYaml},
        std::pair{"organizations: []\nusers:\n", FileFormat::kYaml},
        std::pair{"{}", FileFormat::kJson}}) {
    DeclaredState s = MustParse(text, format);
    EXPECT_TRUE(s.organizations.empty() && s.users.empty()) << text;
  }
}

TEST(DeclaredParse, DirectoryIsMergedInNameOrder) {
  TempDir dir;
  dir.Write("20-users.yaml", "users:\n  - external_id: u-1\n    email: a@example.com\n");
  dir.Write("10-orgs.json", R"({"organizations": [{"external_id": "o-2", "name": "two"}]})");
  dir.Write("15-more.yml", "organizations:\n  - external_id: o-1\n    name: one\n");
  dir.Write(".hidden.yaml", "this: is not read\n");
  dir.Write("README.md", "not a declaration\n");
  std::vector<Problem> problems;
  Result<DeclaredState> r = ParseDeclared({dir.path()}, &problems);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->organizations.size(), 2u);
  EXPECT_EQ(r->organizations[0].external_id, "o-1");  // canonical order: by external_id
  EXPECT_THAT(r->organizations[0].where.file, HasSubstr("15-more.yml"));
  EXPECT_THAT(r->organizations[1].where.file, HasSubstr("10-orgs.json"));
  ASSERT_EQ(r->users.size(), 1u);

  // Name order decides which declaration is "first" when two files declare one entity.
  dir.Write("30-dup.yaml", "organizations:\n  - external_id: o-2\n    name: other\n");
  dir.Write("05-dup.yaml", "\norganizations:\n  - external_id: o-1\n    name: first\n");
  r = ParseDeclared({dir.path()}, &problems);
  ASSERT_FALSE(r.ok());
  const std::string all = r.status().message();
  EXPECT_THAT(all, HasSubstr("15-more.yml:2: organizations[0].external_id: duplicate "
                             "organization \"o-1\" (first declared at "));
  EXPECT_THAT(all, HasSubstr("05-dup.yaml:3)"));
  EXPECT_THAT(all, HasSubstr("30-dup.yaml:2: organizations[0].external_id: duplicate "
                             "organization \"o-2\""));
  EXPECT_EQ(problems.size(), 2u) << all;

  // Several paths are merged in the order given.
  std::string a =
      dir.Write("a.json", R"({"users": [{"external_id": "u-9", "email": "z@example.com"}]})");
  r = ParseDeclared({a, dir.path() + "/20-users.yaml"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->users.size(), 2u);
}

TEST(DeclaredParse, PathProblems) {
  TempDir dir;
  std::string txt = dir.Write("orgs.txt", "organizations: []\n");
  std::vector<Problem> problems;
  Result<DeclaredState> r =
      ParseDeclared({txt, dir.path() + "/missing.yaml", dir.path()}, &problems);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kInvalid);
  ASSERT_EQ(problems.size(), 3u) << r.status().message();
  EXPECT_THAT(problems[0].ToString(), HasSubstr("orgs.txt: must end in .yaml, .yml or .json"));
  EXPECT_THAT(problems[1].ToString(), HasSubstr("missing.yaml: no such file or directory"));
  EXPECT_THAT(problems[2].ToString(), HasSubstr("holds no .yaml, .yml or .json file"));
  EXPECT_FALSE(ParseDeclared({}).ok());
}

// ---- every error kind names file:line: field ----

struct ErrorCase {
  const char* name;
  FileFormat format;
  const char* text;
  const char* expected;  // a substring of one Problem::ToString()
};

const ErrorCase kErrorCases[] = {
    {"org name pattern", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: Acme Inc\n",
     "f.yaml:3: organizations[0].name: must match ^[a-z0-9_-]{1,50}$"},
    {"org name required", FileFormat::kYaml, "organizations:\n  - external_id: o\n",
     "f.yaml:2: organizations[0].name: required"},
    // With `users:` present: without it, organizations that all lack external_id are read in the
    // Auth0 Deploy CLI layout (external_id = name; tests/unit/declared_deploy_cli_test.cpp).
    {"external_id required", FileFormat::kYaml, "organizations:\n  - name: acme\nusers: []\n",
     "f.yaml:2: organizations[0].external_id: required"},
    {"external_id empty", FileFormat::kYaml, "organizations:\n  - external_id: ''\n    name: a\n",
     "f.yaml:2: organizations[0].external_id: must be a non-empty string"},
    {"display_name too long", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: a\n    display_name: \"\"\n",
     "f.yaml:4: organizations[0].display_name: must be a string of 1 to 255 characters"},
    {"metadata too many keys", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: a\n    metadata: {k1: a, k2: a, k3: a, k4: a, "
     "k5: a, k6: a, k7: a, k8: a, k9: a, k10: a, k11: a, k12: a, k13: a, k14: a, k15: a, k16: a, "
     "k17: a, k18: a, k19: a, k20: a, k21: a, k22: a, k23: a, k24: a, k25: a, k26: a}\n",
     "f.yaml:4: organizations[0].metadata: at most 25 keys (got 26)"},
    {"metadata value not a string", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: a\n    metadata:\n      tier: 1\n",
     "f.yaml:5: organizations[0].metadata.tier: must be a string of at most 255 characters"},
    {"metadata key with dot", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: a\n    metadata:\n      a.b: x\n",
     "f.yaml:4: organizations[0].metadata: key \"a.b\" must not contain '.' or '$'"},
    {"logo_url not https", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: a\n    branding:\n      logo_url: "
     "http://x.example.com/l.png\n",
     "f.yaml:5: organizations[0].branding.logo_url: must be an https URL"},
    {"colors incomplete", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: a\n    branding:\n      colors:\n        "
     "primary: '#fff'\n",
     "f.yaml:5: organizations[0].branding.colors.page_background: required"},
    {"color not hex", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: a\n    branding:\n      colors:\n        "
     "primary: red\n        page_background: '#fff'\n",
     "f.yaml:6: organizations[0].branding.colors.primary: must be a hex color"},
    {"connection name", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: a\n    connections:\n      - name: bad_name\n",
     "f.yaml:5: organizations[0].connections[0].name: must be an Auth0 connection name"},
    {"connection duplicate", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: a\n    connections:\n      - name: db\n      "
     "- name: db\n",
     "f.yaml:6: organizations[0].connections[1].name: duplicate connection \"db\""},
    {"connection flag", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: a\n    connections:\n      - name: db\n        "
     "show_as_button: 'no'\n",
     "f.yaml:6: organizations[0].connections[0].show_as_button: must be true, false or null"},
    {"too many connections", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: a\n    connections: [{name: c1}, {name: c2}, "
     "{name: c3}, {name: c4}, {name: c5}, {name: c6}, {name: c7}, {name: c8}, {name: c9}, {name: "
     "c10}, {name: c11}]\n",
     "f.yaml:4: organizations[0].connections: at most 10 entries (got 11)"},
    {"callback not https", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: a\n    callback_urls:\n      - "
     "https://ok.example.com/cb\n      - http://evil.example.com/cb\n",
     "f.yaml:6: organizations[0].callback_urls[1]: must be an https URL"},
    {"unknown org key with suggestion", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: a\n    displayname: A\n",
     "f.yaml:4: organizations[0].displayname: unknown key \"displayname\" (did you mean "
     "display_name?); allowed: external_id, name, display_name"},
    {"duplicate org name", FileFormat::kYaml,
     "organizations:\n  - external_id: o1\n    name: a\n  - external_id: o2\n    name: a\n",
     "f.yaml:5: organizations[1].name: duplicate organization name \"a\" (first declared at "
     "f.yaml:3)"},
    {"duplicate user", FileFormat::kYaml,
     "users:\n  - external_id: u\n    email: a@example.com\n  - external_id: u\n    email: "
     "b@example.com\n",
     "f.yaml:4: users[1].external_id: duplicate user \"u\" (first declared at f.yaml:2)"},
    {"email invalid", FileFormat::kYaml, "users:\n  - external_id: u\n    email: not-an-address\n",
     "f.yaml:3: users[0].email: must be a valid email address"},
    {"email required", FileFormat::kYaml, "users:\n  - external_id: u\n    name: Ann\n",
     "f.yaml:2: users[0].email: required"},
    {"email null", FileFormat::kYaml, "users:\n  - external_id: u\n    email: null\n",
     "f.yaml:2: users[0].email: required"},
    {"given_name too long", FileFormat::kYaml,
     "users:\n  - external_id: u\n    email: a@example.com\n    given_name: "
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
     "f.yaml:4: users[0].given_name: must be a string of 1 to 150 characters"},
    {"name not a string", FileFormat::kYaml,
     "users:\n  - external_id: u\n    email: a@example.com\n    name: [a]\n",
     "f.yaml:4: users[0].name: must be a string of 1 to 300 characters"},
    {"reserved app_metadata key", FileFormat::kYaml,
     "users:\n  - external_id: u\n    email: a@example.com\n    app_metadata:\n      "
     "blocked: true\n",
     "f.yaml:5: users[0].app_metadata.blocked: reserved by Auth0"},
    {"user_metadata key with dollar", FileFormat::kYaml,
     "users:\n  - external_id: u\n    email: a@example.com\n    user_metadata:\n      $x: 1\n",
     "f.yaml:4: users[0].user_metadata: key \"$x\" must not contain '.' or '$'"},
    {"app_metadata not an object", FileFormat::kYaml,
     "users:\n  - external_id: u\n    email: a@example.com\n    app_metadata: [1]\n",
     "f.yaml:4: users[0].app_metadata: must be an object"},
    {"blocked not a boolean", FileFormat::kYaml,
     "users:\n  - external_id: u\n    email: a@example.com\n    blocked: 'yes'\n",
     "f.yaml:4: users[0].blocked: must be true or false"},
    {"membership duplicate role", FileFormat::kYaml,
     "users:\n  - external_id: u\n    email: a@example.com\n    organizations:\n      - "
     "external_id: o\n        roles: [admin, admin]\n",
     "f.yaml:6: users[0].organizations[0].roles[1]: duplicate role \"admin\""},
    {"membership without org", FileFormat::kYaml,
     "users:\n  - external_id: u\n    email: a@example.com\n    organizations:\n      - roles: "
     "[a]\n",
     "f.yaml:5: users[0].organizations[0].external_id: required"},
    {"membership unknown key", FileFormat::kYaml,
     "users:\n  - external_id: u\n    email: a@example.com\n    organizations:\n      - "
     "external_id: o\n        role: [a]\n",
     "f.yaml:6: users[0].organizations[0].role: unknown field"},
    {"password refused", FileFormat::kYaml,
     "users:\n  - external_id: u\n    email: a@example.com\n    password: hunter2\n",
     "f.yaml:4: users[0].password: password is not accepted"},
    {"profile too large", FileFormat::kJson,
     R"({"users": [{"external_id": "u", "email": "a@example.com",
   "user_metadata": {"bio": ")"
     "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
     "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
     "PLACEHOLDER\"}}]}",
     "f.json:1: users[0]: profile is at most 10240 bytes serialized"},
    {"top-level unknown key", FileFormat::kYaml, "organisations: []\n",
     "f.yaml:1: organisations: unknown key \"organisations\"; allowed: organizations, users"},
    {"top-level not a mapping", FileFormat::kYaml, "- a\n- b\n",
     "f.yaml:1: must be a mapping with `organizations` and/or `users`"},
    {"list expected", FileFormat::kYaml, "organizations:\n  external_id: o\n",
     "f.yaml:1: organizations: must be a list"},
    {"entity not a mapping", FileFormat::kYaml, "users:\n  - u-1\n",
     "f.yaml:2: users[0]: must be a mapping"},
    {"yaml syntax", FileFormat::kYaml, "organizations:\n  - external_id: [o\n    name: a\n",
     "f.yaml:3: not valid YAML"},
    {"yaml duplicate key", FileFormat::kYaml,
     "organizations:\n  - external_id: o\n    name: a\n    name: b\n",
     "f.yaml:4: organizations[0].name: duplicate key \"name\""},
    {"yaml two documents", FileFormat::kYaml, "users: []\n---\nusers: []\n",
     "more than one YAML document"},
    {"yaml nan", FileFormat::kYaml,
     "users:\n  - external_id: u\n    email: a@example.com\n    app_metadata: {x: .nan}\n",
     "f.yaml:4: users[0].app_metadata.x: NaN and infinity cannot be represented in JSON"},
    {"json syntax", FileFormat::kJson, "{\n  \"users\": [\n    {\"external_id\": }\n  ]\n}\n",
     "f.json:3: not valid JSON: parse error at line 3"},
    {"json duplicate key", FileFormat::kJson,
     "{\"organizations\": [\n {\"external_id\": \"o\",\n  \"name\": \"a\",\n  \"name\": \"b\"}]}",
     "f.json:4: organizations[0].name: duplicate key \"name\""},
    {"json error line", FileFormat::kJson,
     "{\"organizations\": [\n {\"external_id\": \"o\",\n\n  \"name\": \"A B\"}]}",
     "f.json:4: organizations[0].name: must match"},
    {"invalid utf-8", FileFormat::kYaml, "users:\n  - external_id: \xff\n",
     "f.yaml: not valid UTF-8 (byte at offset 24)"},
};

TEST(DeclaredParse, EveryErrorKindNamesFileLineAndField) {
  for (const ErrorCase& c : kErrorCases) {
    std::string text = c.text;
    if (size_t at = text.find("PLACEHOLDER"); at != std::string::npos) {
      text.replace(at, 11, std::string(10300, 'Y'));
    }
    const std::string_view name = c.format == FileFormat::kJson ? "f.json" : "f.yaml";
    const std::vector<std::string> problems = ProblemsOf(text, c.format, name);
    bool found = false;
    for (const auto& p : problems) found |= p.find(c.expected) != std::string::npos;
    EXPECT_TRUE(found) << c.name << ": expected " << c.expected << "\ngot:\n" << Joined(problems);
  }
}

TEST(DeclaredParse, AllProblemsAreReportedAtOnce) {
  std::vector<Problem> problems;
  Result<DeclaredState> r = ParseDeclaredText(R"(organizations:
  - external_id: o1
    name: Bad Name
    display_name: ""
    colour: red
  - external_id: o2
    name: fine
    callback_urls: [ftp://x.example.com]
users:
  - external_id: u1
    email: nope
    blocked: maybe
    app_metadata: {email: x}
  - external_id: u2
    email: u2@example.com
)",
                                              "all.yaml", FileFormat::kYaml, &problems);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), StatusKind::kInvalid);
  std::vector<std::string> lines;
  for (const auto& p : problems) lines.push_back(p.ToString());
  EXPECT_EQ(problems.size(), 7u) << Joined(lines);
  // In file order, each with file:line: field.
  EXPECT_THAT(lines[0], HasSubstr("all.yaml:3: organizations[0].name: "));
  EXPECT_THAT(lines[1], HasSubstr("all.yaml:4: organizations[0].display_name: "));
  EXPECT_THAT(lines[2], HasSubstr("all.yaml:5: organizations[0].colour: unknown key"));
  EXPECT_THAT(lines[3], HasSubstr("all.yaml:8: organizations[1].callback_urls[0]: "));
  EXPECT_THAT(lines[4], HasSubstr("all.yaml:11: users[0].email: "));
  EXPECT_THAT(lines[5], HasSubstr("all.yaml:12: users[0].blocked: "));
  EXPECT_THAT(lines[6], HasSubstr("all.yaml:13: users[0].app_metadata.email: reserved"));
  // The status message is the same list, one problem per line.
  EXPECT_EQ(r.status().message() + "\n", Joined(lines));
}

// ---- the differ ----

Organization Org(const std::string& id) {
  Organization o;
  o.external_id = id;
  o.name = "n-" + id;
  return o;
}

User Usr(const std::string& id) {
  User u;
  u.external_id = id;
  u.email = id + "@example.com";
  return u;
}

ParsedEvent MustBeValidEvent(const PlannedEvent& e) {
  json body = {
      {"type", EventTypeName(e.type)}, {"timestamp", "2026-11-30T12:00:00Z"}, {"data", e.data}};
  Result<ParsedEvent> parsed = ParseEvent(body);
  EXPECT_TRUE(parsed.ok()) << parsed.status().message() << " in " << body.dump();
  EXPECT_EQ(e.external_id, e.data.value("external_id", ""));
  EXPECT_TRUE(ValidateEventId(e.event_id).ok());
  return parsed.ok() ? parsed.value() : ParsedEvent{};
}

struct OrgFieldCase {
  const char* name;
  void (*mutate)(Organization&);
  const char* field;  // FieldChange::field
  FieldOp op;
  const char* data_key;  // key expected in the organization.upserted data
  json data_value;
};

const OrgFieldCase kOrgFieldCases[] = {
    {"name", [](Organization& o) { o.name = "renamed"; }, "name", FieldOp::kChange, "name",
     "renamed"},
    {"display_name added", [](Organization& o) { o.display_name = "D"; }, "display_name",
     FieldOp::kAdd, "display_name", "D"},
    {"metadata key added", [](Organization& o) { o.metadata["new"] = "v"; }, "metadata.new",
     FieldOp::kAdd, "metadata", json{{"new", "v"}}},
    {"metadata key changed", [](Organization& o) { o.metadata["tier"] = "silver"; },
     "metadata.tier", FieldOp::kChange, "metadata", json{{"tier", "silver"}}},
    {"metadata key removed", [](Organization& o) { o.metadata.erase("tier"); }, "metadata.tier",
     FieldOp::kRemove, "metadata", json{{"tier", nullptr}}},
    {"logo", [](Organization& o) { o.branding.logo_url = "https://l.example.com/x.png"; },
     "branding.logo_url", FieldOp::kAdd, "branding",
     json{{"logo_url", "https://l.example.com/x.png"}, {"colors", nullptr}}},
    {"colors",
     [](Organization& o) {
       o.branding.colors = BrandingColors{"#000", "#fff"};
     },
     "branding.colors", FieldOp::kAdd, "branding",
     json{{"logo_url", nullptr}, {"colors", {{"primary", "#000"}, {"page_background", "#fff"}}}}},
    {"connection added",
     [](Organization& o) {
       o.connections.push_back({"google-oauth2", {}, {}});
     },
     "connections[google-oauth2]", FieldOp::kAdd, "connections",
     json::parse(R"([{"name":"db"},{"name":"google-oauth2"}])")},
    {"connection flag", [](Organization& o) { o.connections[0].show_as_button = false; },
     "connections[db]", FieldOp::kChange, "connections",
     json::parse(R"([{"name":"db","show_as_button":false}])")},
    {"connection removed", [](Organization& o) { o.connections.clear(); }, "connections[db]",
     FieldOp::kRemove, "connections", json::array()},
    {"callback added",
     [](Organization& o) { o.callback_urls.push_back("https://b.example.com/cb"); },
     "callback_urls", FieldOp::kChange, "callback_urls",
     json{"https://a.example.com/cb", "https://b.example.com/cb"}},
    {"callbacks cleared", [](Organization& o) { o.callback_urls.clear(); }, "callback_urls",
     FieldOp::kRemove, "callback_urls", json::array()},
};

TEST(DeclaredDiff, EveryOrganizationField) {
  Organization base = Org("o1");
  base.metadata["tier"] = "gold";
  base.connections.push_back({"db", {}, {}});
  base.callback_urls.push_back("https://a.example.com/cb");
  for (const auto& c : kOrgFieldCases) {
    Organization changed = base;
    c.mutate(changed);
    Plan p = DiffDeclared({{changed}, {}}, {{base}, {}});
    ASSERT_EQ(p.changes.size(), 1u) << c.name;
    EXPECT_EQ(p.to_change, 1u) << c.name;
    EXPECT_EQ(p.changes[0].kind, ChangeKind::kChange) << c.name;
    ASSERT_EQ(p.changes[0].fields.size(), 1u) << c.name;
    EXPECT_EQ(p.changes[0].fields[0].field, c.field) << c.name;
    EXPECT_EQ(p.changes[0].fields[0].op, c.op) << c.name;
    ASSERT_EQ(p.events.size(), 1u) << c.name;
    EXPECT_EQ(p.events[0].type, EventType::kOrganizationUpserted);
    // Only the changed field travels, with the external_id.
    EXPECT_EQ(p.events[0].data, (json{{"external_id", "o1"}, {c.data_key, c.data_value}}))
        << c.name;
    MustBeValidEvent(p.events[0]);
  }
}

struct UserFieldCase {
  const char* name;
  void (*mutate)(User&);
  const char* field;
  FieldOp op;
  EventType type;
  json data;  // expected event data without external_id
};

const UserFieldCase kUserFieldCases[] = {
    {"email", [](User& u) { u.email = "new@example.com"; }, "email", FieldOp::kChange,
     EventType::kUserUpserted, json{{"email", "new@example.com"}}},
    {"name", [](User& u) { u.name = "Ann"; }, "name", FieldOp::kAdd, EventType::kUserUpserted,
     json{{"name", "Ann"}}},
    {"given_name cleared", [](User& u) { u.given_name.reset(); }, "given_name", FieldOp::kRemove,
     EventType::kUserUpserted, json{{"given_name", nullptr}}},
    {"family_name", [](User& u) { u.family_name = "Smith"; }, "family_name", FieldOp::kChange,
     EventType::kUserUpserted, json{{"family_name", "Smith"}}},
    {"app_metadata key",
     [](User& u) {
       u.app_metadata["plan"] = {{"tier", 2}};
     },
     "app_metadata.plan", FieldOp::kChange, EventType::kUserUpserted,
     json{{"app_metadata", {{"plan", {{"tier", 2}}}}}}},
    {"app_metadata key removed", [](User& u) { u.app_metadata.erase("plan"); }, "app_metadata.plan",
     FieldOp::kRemove, EventType::kUserUpserted, json{{"app_metadata", {{"plan", nullptr}}}}},
    {"user_metadata key", [](User& u) { u.user_metadata["lang"] = "de"; }, "user_metadata.lang",
     FieldOp::kAdd, EventType::kUserUpserted, json{{"user_metadata", {{"lang", "de"}}}}},
    {"membership added",
     [](User& u) {
       u.organizations.push_back({"o2", {"admin"}});
     },
     "organizations[o2]", FieldOp::kAdd, EventType::kUserUpserted,
     json{{"organizations", json::parse(R"([{"external_id":"o1","roles":["member"]},
                                             {"external_id":"o2","roles":["admin"]}])")}}},
    {"membership removed", [](User& u) { u.organizations.clear(); }, "organizations[o1]",
     FieldOp::kRemove, EventType::kUserUpserted, json{{"organizations", json::array()}}},
    {"roles changed",
     [](User& u) {
       u.organizations[0].roles = {"admin", "member"};
     },
     "organizations[o1].roles", FieldOp::kChange, EventType::kUserUpserted,
     json{{"organizations", json::parse(R"([{"external_id":"o1","roles":["admin","member"]}])")}}},
    {"blocked", [](User& u) { u.blocked = true; }, "blocked", FieldOp::kChange,
     EventType::kUserBlocked, json::object()},
};

TEST(DeclaredDiff, EveryUserField) {
  User base = Usr("u1");
  base.given_name = "G";
  base.family_name = "F";
  base.app_metadata["plan"] = "basic";
  base.organizations.push_back({"o1", {"member"}});
  for (const auto& c : kUserFieldCases) {
    User changed = base;
    c.mutate(changed);
    Plan p = DiffDeclared({{}, {changed}}, {{}, {base}});
    ASSERT_EQ(p.changes.size(), 1u) << c.name;
    ASSERT_EQ(p.changes[0].fields.size(), 1u) << c.name;
    EXPECT_EQ(p.changes[0].fields[0].field, c.field) << c.name;
    EXPECT_EQ(p.changes[0].fields[0].op, c.op) << c.name;
    ASSERT_EQ(p.events.size(), 1u) << c.name;
    EXPECT_EQ(p.events[0].type, c.type) << c.name;
    json expected = c.data;
    expected["external_id"] = "u1";
    EXPECT_EQ(p.events[0].data, expected) << c.name;
    MustBeValidEvent(p.events[0]);
  }
  // Unblocking.
  User blocked = base;
  blocked.blocked = true;
  Plan p = DiffDeclared({{}, {base}}, {{}, {blocked}});
  ASSERT_EQ(p.events.size(), 1u);
  EXPECT_EQ(p.events[0].type, EventType::kUserUnblocked);
}

TEST(DeclaredDiff, CreatesCarryTheCompleteEntity) {
  DeclaredState declared = MustParse(kFullYaml);
  Plan p = DiffDeclared(declared, {});
  EXPECT_EQ(p.to_create, 2u);
  EXPECT_EQ(p.to_change + p.to_remove + p.unchanged + p.kept, 0u);
  ASSERT_EQ(p.events.size(), 3u);  // org upsert, user upsert, user.blocked
  EXPECT_EQ(p.events[0].type, EventType::kOrganizationUpserted);
  EXPECT_EQ(p.events[1].type, EventType::kUserUpserted);
  EXPECT_EQ(p.events[2].type, EventType::kUserBlocked);
  for (const auto& e : p.events) MustBeValidEvent(e);
  EXPECT_EQ(p.events[0].data["metadata"], (json{{"region", "eu"}, {"tier", "gold"}}));
  EXPECT_EQ(p.events[1].data["email"], "ann@example.com");

  // Fields not declared are sent as "none", so a revived entity holds exactly the file.
  Plan bare = DiffDeclared({{Org("o")}, {Usr("u")}}, {});
  ASSERT_EQ(bare.events.size(), 2u);
  EXPECT_EQ(bare.events[0].data,
            json::parse(R"({"external_id":"o","name":"n-o","display_name":null,"metadata":{},
                            "branding":{"logo_url":null,"colors":null},"connections":[],
                            "callback_urls":[]})"));
  EXPECT_EQ(bare.events[1].data,
            json::parse(R"({"external_id":"u","email":"u@example.com","name":null,
                            "given_name":null,"family_name":null,"app_metadata":{},
                            "user_metadata":{},"organizations":[]})"));
  EXPECT_EQ(bare.changes[0].kind, ChangeKind::kCreate);
  ASSERT_EQ(bare.changes[0].fields.size(), 1u);  // only what has a value is listed
  EXPECT_EQ(bare.changes[0].fields[0].field, "name");
}

TEST(DeclaredDiff, RemovalsNeedPrune) {
  User leaver = Usr("u-gone");
  User already_left = Usr("u-left");
  already_left.left = true;
  DeclaredState current{{Org("o-keep"), Org("o-gone")}, {Usr("u-keep"), leaver, already_left}};
  DeclaredState declared{{Org("o-keep")}, {Usr("u-keep")}};

  Plan kept = DiffDeclared(declared, current);
  EXPECT_TRUE(kept.events.empty());
  EXPECT_EQ(kept.kept, 2u);
  EXPECT_EQ(kept.to_remove, 0u);
  EXPECT_EQ(kept.unchanged, 2u);
  ASSERT_EQ(kept.changes.size(), 2u);
  EXPECT_EQ(kept.changes[0].kind, ChangeKind::kKept);
  EXPECT_EQ(kept.changes[0].external_id, "o-gone");
  EXPECT_EQ(kept.changes[1].external_id, "u-gone");
  EXPECT_FALSE(kept.empty());

  Plan pruned = DiffDeclared(declared, current, {.prune = true, .base_revision = ""});
  EXPECT_EQ(pruned.to_remove, 2u);
  EXPECT_EQ(pruned.kept, 0u);
  ASSERT_EQ(pruned.events.size(), 2u);
  EXPECT_EQ(pruned.events[0].type, EventType::kUserLeft);  // users leave before orgs go
  EXPECT_EQ(pruned.events[0].external_id, "u-gone");
  EXPECT_EQ(pruned.events[1].type, EventType::kOrganizationDeleted);
  EXPECT_EQ(pruned.events[1].external_id, "o-gone");
  for (const auto& e : pruned.events) MustBeValidEvent(e);
}

TEST(DeclaredDiff, ADeclaredLeaverReturns) {
  User left = Usr("u");
  left.left = true;
  User back = Usr("u");
  back.name = "Back";
  Plan p = DiffDeclared({{}, {back}}, {{}, {left}});
  EXPECT_EQ(p.to_change, 1u);
  ASSERT_EQ(p.events.size(), 2u);
  EXPECT_EQ(p.events[0].type, EventType::kUserReturned);
  EXPECT_EQ(p.events[1].type, EventType::kUserUpserted);
  ASSERT_EQ(p.changes[0].fields.size(), 2u);
  EXPECT_EQ(p.changes[0].fields[0].field, "left");
}

TEST(DeclaredDiff, UnchangedIsCountedAndOrderDoesNotMatter) {
  DeclaredState a = MustParse(kFullYaml);
  DeclaredState b = a;
  std::reverse(b.organizations[0].connections.begin(), b.organizations[0].connections.end());
  std::reverse(b.organizations[0].callback_urls.begin(), b.organizations[0].callback_urls.end());
  std::reverse(b.users[0].organizations.begin(), b.users[0].organizations.end());
  std::reverse(b.users[0].organizations[1].roles.begin(), b.users[0].organizations[1].roles.end());
  Plan p = DiffDeclared(a, b);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.unchanged, 2u);
  EXPECT_TRUE(p.changes.empty());
  EXPECT_EQ(RenderPlan(p), "Plan: 0 to create, 0 to change, 0 to remove, 2 unchanged.\n");
}

TEST(DeclaredDiff, EventIdsDeriveFromContentAndBase) {
  DeclaredState declared = MustParse(kFullYaml);
  Plan a = DiffDeclared(declared, {}, {.prune = false, .base_revision = "hr/42"});
  Plan b = DiffDeclared(declared, {}, {.prune = false, .base_revision = "hr/42"});
  Plan c = DiffDeclared(declared, {}, {.prune = false, .base_revision = "hr/43"});
  ASSERT_EQ(a.events.size(), 3u);
  std::set<std::string> ids;
  for (size_t i = 0; i < a.events.size(); ++i) {
    EXPECT_EQ(a.events[i].event_id, b.events[i].event_id);
    EXPECT_NE(a.events[i].event_id, c.events[i].event_id);
    EXPECT_EQ(a.events[i].event_id.size(), 5u + 64u);
    EXPECT_EQ(a.events[i].event_id.rfind("decl_", 0), 0u);
    ids.insert(a.events[i].event_id);
  }
  EXPECT_EQ(ids.size(), a.events.size());
  // A different content gives a different id.
  DeclaredState other = declared;
  other.organizations[0].display_name = "Other";
  Plan d = DiffDeclared(other, {}, {.prune = false, .base_revision = "hr/42"});
  EXPECT_NE(a.events[0].event_id, d.events[0].event_id);
  EXPECT_EQ(a.events[1].event_id, d.events[1].event_id);
}

TEST(DeclaredRender, LooksLikeTerraformPlan) {
  Organization acme = Org("acme");
  acme.where = {"orgs.yaml", 3};
  Organization globex = Org("globex");
  globex.display_name = "Globex";
  globex.metadata = {{"old", "x"}};
  Organization globex2 = globex;
  globex2.display_name = "Globex Corp";
  globex2.metadata = {{"tier", "gold"}};
  globex2.where = {"orgs.yaml", 9};
  User stays = Usr("u-3");
  DeclaredState declared{{acme, globex2}, {}};
  DeclaredState current{{globex, Org("initech")}, {stays}};
  EXPECT_EQ(RenderPlan(DiffDeclared(declared, current, {.prune = true, .base_revision = ""})),
            "+ organization acme  (orgs.yaml:3)\n"
            "    + name: \"n-acme\"\n"
            "~ organization globex  (orgs.yaml:9)\n"
            "    ~ display_name: \"Globex\" → \"Globex Corp\"\n"
            "    + metadata.tier: \"gold\"\n"
            "    - metadata.old: \"x\"\n"
            "- organization initech  (no longer declared: will be deleted)\n"
            "- user u-3  (no longer declared: will leave, per on_leave)\n"
            "\n"
            "Plan: 1 to create, 1 to change, 2 to remove, 0 unchanged.\n");
  EXPECT_EQ(RenderPlan(DiffDeclared(declared, current)),
            "+ organization acme  (orgs.yaml:3)\n"
            "    + name: \"n-acme\"\n"
            "~ organization globex  (orgs.yaml:9)\n"
            "    ~ display_name: \"Globex\" → \"Globex Corp\"\n"
            "    + metadata.tier: \"gold\"\n"
            "    - metadata.old: \"x\"\n"
            "= organization initech: no longer declared, kept (prune would delete it)\n"
            "= user u-3: no longer declared, kept (prune would mark it left)\n"
            "\n"
            "Plan: 1 to create, 1 to change, 0 to remove, 0 unchanged (2 no longer declared, "
            "kept).\n");
}

// Auth0 cannot clear an organization's display_name or its whole branding (neither is nullable in
// the Management API): the plan still records the removal in desired state, but says plainly that
// Auth0 keeps the value, instead of promising a change that will not happen.
TEST(DeclaredRender, ClearsAuth0CannotApplyAreSaidSo) {
  Organization before = Org("globex");
  before.display_name = "Globex";
  before.branding.logo_url = "https://cdn.example.com/g.png";
  Organization after = Org("globex");
  Plan p = DiffDeclared({{after}, {}}, {{before}, {}});
  ASSERT_EQ(p.changes.size(), 1u);
  size_t flagged = 0;
  for (const auto& f : p.changes[0].fields) flagged += f.stays_in_auth0 ? 1 : 0;
  EXPECT_EQ(flagged, 2u);  // display_name and branding.logo_url
  EXPECT_EQ(p.stays_in_auth0, 2u);
  EXPECT_EQ(RenderPlan(p),
            "~ organization globex\n"
            "    - display_name: \"Globex\"\n"
            "      ! Auth0 keeps it: the Management API cannot remove an organization's "
            "display_name (a string of 1-255 characters, never null); declare the value you want\n"
            "    - branding.logo_url: \"https://cdn.example.com/g.png\"\n"
            "      ! Auth0 keeps it: the Management API cannot remove an organization's branding "
            "(an object, never null); declare the branding you want\n"
            "\n"
            "Plan: 0 to create, 1 to change, 0 to remove, 0 unchanged (2 removals Auth0 keeps).\n");

  // A part of the branding removed while another stays is sent: branding is replaced whole.
  Organization colors = before;
  colors.branding.colors = BrandingColors{"#000000", "#ffffff"};
  Organization logo_gone = colors;
  logo_gone.branding.logo_url.reset();
  Plan q = DiffDeclared({{logo_gone}, {}}, {{colors}, {}});
  EXPECT_EQ(q.stays_in_auth0, 0u);
  for (const auto& f : q.changes.at(0).fields) EXPECT_FALSE(f.stays_in_auth0) << f.field;
}

// The issue's scale: 1,000 organizations and 20,000 users parse and plan correctly. The time is
// printed for a reader; it is not asserted (speed is the benchmarks' business).
TEST(DeclaredScale, ThousandOrganizationsTwentyThousandUsers) {
  std::string text = "organizations:\n";
  for (int i = 0; i < 1000; ++i) {
    const std::string n = std::to_string(i);
    text += "  - external_id: org-" + n + "\n    name: org-" + n + "\n    display_name: Org " + n +
            "\n    metadata: {tier: gold}\n    connections: [{name: db}]\n    callback_urls: "
            "[https://o" +
            n + ".example.com/cb]\n";
  }
  text += "users:\n";
  for (int i = 0; i < 20000; ++i) {
    const std::string n = std::to_string(i);
    text += "  - external_id: user-" + n + "\n    email: u" + n + "@example.com\n    name: User " +
            n + "\n    app_metadata: {plan: pro}\n    organizations: [{external_id: org-" +
            std::to_string(i % 1000) + ", roles: [member]}]\n";
  }
  const auto start = std::chrono::steady_clock::now();
  DeclaredState declared = MustParse(text);
  const auto parsed = std::chrono::steady_clock::now();
  DeclaredState current = declared;
  for (size_t i = 0; i < current.users.size(); i += 10) current.users[i].name = "Old";
  Plan plan = DiffDeclared(declared, current);
  const auto planned = std::chrono::steady_clock::now();
  std::string rendered = RenderPlan(plan);
  const auto rendered_at = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
  };
  std::printf("parse %lld ms, diff %lld ms, render %lld ms (%zu bytes of YAML)\n",
              static_cast<long long>(ms(start, parsed)),
              static_cast<long long>(ms(parsed, planned)),
              static_cast<long long>(ms(planned, rendered_at)), text.size());
  EXPECT_EQ(declared.organizations.size(), 1000u);
  EXPECT_EQ(declared.users.size(), 20000u);
  EXPECT_EQ(plan.to_change, 2000u);
  EXPECT_EQ(plan.unchanged, 19000u);
}

// ---- property: applying the plan's events to `current` yields `declared` ----

// A model of SPEC §5 folding for the declared vocabulary: absent fields unchanged, null clears,
// metadata merged per key, memberships replaced whole.
void ApplyEvent(DeclaredState& s, const PlannedEvent& e) {
  const json& d = e.data;
  auto opt = [](const json& v) -> std::optional<std::string> {
    return v.is_string() ? std::optional<std::string>(v.get<std::string>()) : std::nullopt;
  };
  if (e.type == EventType::kOrganizationDeleted) {
    std::erase_if(s.organizations,
                  [&](const Organization& o) { return o.external_id == e.external_id; });
    return;
  }
  if (e.type == EventType::kOrganizationUpserted) {
    auto it = std::find_if(s.organizations.begin(), s.organizations.end(),
                           [&](const Organization& o) { return o.external_id == e.external_id; });
    if (it == s.organizations.end()) {
      s.organizations.push_back(Organization{});
      it = std::prev(s.organizations.end());
      it->external_id = e.external_id;
    }
    if (d.contains("name")) it->name = d["name"];
    if (d.contains("display_name")) it->display_name = opt(d["display_name"]);
    if (d.contains("metadata")) {
      for (const auto& [k, v] : d["metadata"].items()) {
        if (v.is_null()) {
          it->metadata.erase(k);
        } else {
          it->metadata[k] = v;
        }
      }
    }
    if (d.contains("branding")) {
      it->branding.logo_url = opt(d["branding"]["logo_url"]);
      const json& c = d["branding"]["colors"];
      it->branding.colors =
          c.is_null()
              ? std::nullopt
              : std::optional<BrandingColors>(BrandingColors{c["primary"], c["page_background"]});
    }
    if (d.contains("connections")) {
      it->connections.clear();
      for (const auto& c : d["connections"]) {
        OrgConnection conn{c["name"], {}, {}};
        if (c.contains("assign_membership_on_login"))
          conn.assign_membership_on_login = c["assign_membership_on_login"].get<bool>();
        if (c.contains("show_as_button")) conn.show_as_button = c["show_as_button"].get<bool>();
        it->connections.push_back(conn);
      }
    }
    if (d.contains("callback_urls")) it->callback_urls = d["callback_urls"];
    return;
  }
  auto it = std::find_if(s.users.begin(), s.users.end(),
                         [&](const User& u) { return u.external_id == e.external_id; });
  if (it == s.users.end()) {
    s.users.push_back(User{});
    it = std::prev(s.users.end());
    it->external_id = e.external_id;
  }
  switch (e.type) {
    case EventType::kUserUpserted:
      for (auto [key, member] : {std::pair{"email", &User::email}, std::pair{"name", &User::name},
                                 std::pair{"given_name", &User::given_name},
                                 std::pair{"family_name", &User::family_name}}) {
        if (d.contains(key)) (*it).*member = opt(d[key]);
      }
      for (auto [key, member] : {std::pair{"app_metadata", &User::app_metadata},
                                 std::pair{"user_metadata", &User::user_metadata}}) {
        if (!d.contains(key)) continue;
        for (const auto& [k, v] : d[key].items()) {
          if (v.is_null()) {
            ((*it).*member).erase(k);
          } else {
            ((*it).*member)[k] = v;
          }
        }
      }
      if (d.contains("organizations")) {
        it->organizations.clear();
        for (const auto& m : d["organizations"]) {
          it->organizations.push_back({m["external_id"], m["roles"]});
        }
      }
      break;
    case EventType::kUserBlocked:
      it->blocked = true;
      break;
    case EventType::kUserUnblocked:
      it->blocked = false;
      break;
    case EventType::kUserLeft:
      it->left = true;
      break;
    case EventType::kUserReturned:
      it->left = false;
      break;
    default:
      ADD_FAILURE() << "unexpected event " << EventTypeName(e.type);
  }
}

class RandomStates {
 public:
  explicit RandomStates(uint32_t seed) : rng_(seed) {}

  DeclaredState Make(bool current) {
    DeclaredState s;
    for (int i = 0; i < 8; ++i) {
      if (Coin(0.6)) s.organizations.push_back(MakeOrg(i));
    }
    for (int i = 0; i < 12; ++i) {
      if (Coin(0.6)) s.users.push_back(MakeUser(i, current));
    }
    std::shuffle(s.organizations.begin(), s.organizations.end(), rng_);
    std::shuffle(s.users.begin(), s.users.end(), rng_);
    return s;
  }

 private:
  bool Coin(double p) { return std::bernoulli_distribution(p)(rng_); }
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::optional<std::string> MaybeText(const char* prefix) {
    if (Coin(0.3)) return std::nullopt;
    return std::string(prefix) + std::to_string(Pick(3));
  }
  std::optional<bool> MaybeBool() {
    if (Coin(0.4)) return std::nullopt;
    return Coin(0.5);
  }

  Organization MakeOrg(int i) {
    Organization o;
    o.external_id = "org-" + std::to_string(i);
    o.name = Coin(0.8) ? "org" + std::to_string(i) : "renamed" + std::to_string(i);
    o.display_name = MaybeText("Display ");
    for (int k = 0; k < 4; ++k) {
      if (Coin(0.5)) o.metadata["k" + std::to_string(k)] = "v" + std::to_string(Pick(3));
    }
    o.branding.logo_url =
        Coin(0.5) ? std::optional<std::string>("https://cdn.example.com/" + std::to_string(Pick(2)))
                  : std::nullopt;
    if (Coin(0.5)) o.branding.colors = BrandingColors{Coin(0.5) ? "#000" : "#111", "#fff"};
    for (const char* c : {"db", "google-oauth2", "saml-1"}) {
      if (Coin(0.5)) o.connections.push_back({c, MaybeBool(), MaybeBool()});
    }
    for (const char* u :
         {"https://a.example.com/cb", "https://b.example.com/cb", "http://localhost/cb"}) {
      if (Coin(0.5)) o.callback_urls.push_back(u);
    }
    return o;
  }

  User MakeUser(int i, bool current) {
    User u;
    u.external_id = "user-" + std::to_string(i);
    u.email = "u" + std::to_string(i) + (Coin(0.8) ? "" : "x") + "@example.com";
    u.name = MaybeText("Name ");
    u.given_name = MaybeText("Given ");
    u.family_name = MaybeText("Family ");
    const json values[] = {json("x"), json(1), json({{"nested", true}}), json::array({1, 2})};
    for (int k = 0; k < 3; ++k) {
      if (Coin(0.5)) u.app_metadata["a" + std::to_string(k)] = values[Pick(4)];
      if (Coin(0.5)) u.user_metadata["m" + std::to_string(k)] = values[Pick(4)];
    }
    u.blocked = Coin(0.2);
    for (int o = 0; o < 5; ++o) {
      if (!Coin(0.3)) continue;
      Membership m{"org-" + std::to_string(o), {}};
      for (const char* r : {"admin", "member", "billing"}) {
        if (Coin(0.4)) m.roles.push_back(r);
      }
      u.organizations.push_back(m);
    }
    u.left = current && Coin(0.15);
    return u;
  }

  std::mt19937 rng_;
};

TEST(DeclaredProperty, ApplyingThePlanYieldsTheDeclaredState) {
  RandomStates gen(15);  // fixed seed: reproducible
  for (int round = 0; round < 300; ++round) {
    const DeclaredState declared = gen.Make(false);
    const DeclaredState current = gen.Make(true);
    SCOPED_TRACE("round " + std::to_string(round));

    // diff(x, x) is empty (`left` is a current-only flag: a declared user is never left).
    for (DeclaredState x : {declared, current}) {
      for (auto& u : x.users) u.left = false;
      Plan same = DiffDeclared(x, x);
      EXPECT_TRUE(same.events.empty());
      EXPECT_TRUE(same.changes.empty());
      EXPECT_EQ(same.unchanged, x.organizations.size() + x.users.size());
    }

    for (bool prune : {false, true}) {
      Plan plan = DiffDeclared(declared, current, {.prune = prune, .base_revision = "b"});
      EXPECT_EQ(plan.to_create + plan.to_change + plan.unchanged,
                declared.organizations.size() + declared.users.size());
      DeclaredState applied = current;
      std::set<std::string> ids;
      for (const auto& e : plan.events) {
        MustBeValidEvent(e);
        EXPECT_TRUE(ids.insert(e.event_id).second) << "event ids are unique within a plan";
        ApplyEvent(applied, e);
      }
      // Every declared entity now holds exactly its declared content...
      Plan again = DiffDeclared(declared, applied, {.prune = prune, .base_revision = "c"});
      EXPECT_EQ(again.to_create + again.to_change + again.to_remove, 0u);
      EXPECT_EQ(again.unchanged, declared.organizations.size() + declared.users.size());
      // ...and what is no longer declared was removed with prune and kept without.
      EXPECT_EQ(again.kept, plan.kept);
      if (prune) {
        EXPECT_TRUE(again.events.empty());
        EXPECT_EQ(applied.organizations.size(), declared.organizations.size());
      }
    }
  }
}

}  // namespace
}  // namespace tenantsync::declared
