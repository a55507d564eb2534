// The Auth0 Deploy CLI layout (issue 15 item 5, docs/DECLARED.md "The Auth0 Deploy CLI layout"):
// detection, reading (external_id = name, keys tenantsync does not manage ignored with a
// warning, connection ids refused), writing (`export --format deploy-cli`), and round trips
// parse(emit(x)) == x, table-driven and over random organizations (fixed seed).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "daemon/declared/deploy_cli.h"
#include "tests/unit/declared_state_gen.h"

namespace tenantsync::declared {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Parsed {
  Result<DeclaredState> state = DeclaredState{};
  std::vector<std::string> problems, warnings;
};

Parsed Parse(std::string_view text, FileFormat f = FileFormat::kYaml) {
  std::vector<Problem> problems, warnings;
  Parsed out;
  out.state = ParseDeclaredText(text, "tenant.yaml", f, &problems, &warnings);
  for (const auto& p : problems) out.problems.push_back(p.ToString());
  for (const auto& w : warnings) out.warnings.push_back(w.ToString());
  return out;
}

std::string EmitDeploy(const DeclaredState& s, std::vector<std::string>* warnings = nullptr) {
  std::vector<std::string> ignored;
  auto r = EmitDeployCli(s, warnings ? warnings : &ignored);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : std::string();
}

TEST(DeployCliLayout, Detection) {
  struct Case {
    const char* doc;
    bool deploy_cli;
  } cases[] = {
      {R"({"organizations": [{"name": "acme"}]})", true},
      {R"({"organizations": [{"name": "acme"}], "tenant": {"friendly_name": "x"}})", true},
      {R"({"organizations": [{"name": "acme", "external_id": "a"}]})", false},
      {R"({"organizations": [{"name": "a"}, {"name": "b", "external_id": "b"}]})", false},
      {R"({"organizations": [{"name": "acme"}], "users": []})", false},
      {R"({"organizations": []})", false},
      {R"({"users": [{"external_id": "u"}]})", false},
      {R"([])", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IsDeployCliDocument(json::parse(c.doc)), c.deploy_cli) << c.doc;
  }
}

// The example of the Deploy CLI's own test (test/context/yaml/organizations.test.js), with
// connections named as its export writes them.
constexpr const char* kDeployCliFile = R"(organizations:
  - name: acme
    branding:
      colors:
        primary: '#3678e2'
        page_background: '#9c4949'
    connections:
      - name: Username-Password-Authentication
        assign_membership_on_login: false
        show_as_button: false
    display_name: acme
  - name: contoso
    branding:
      logo_url: https://cdn.example.com/contoso.png
    metadata:
      tier: gold
    connections:
      - name: google-oauth2
        assign_membership_on_login: true
        show_as_button: true
    display_name: contoso
)";

TEST(DeployCliLayout, ReadsOrganizationsWithNameAsExternalId) {
  Parsed p = Parse(kDeployCliFile);
  ASSERT_TRUE(p.state.ok()) << p.state.status().message();
  const DeclaredState& s = *p.state;
  ASSERT_EQ(s.organizations.size(), 2u);
  EXPECT_TRUE(s.users.empty());
  const Organization& acme = s.organizations[0];
  EXPECT_EQ(acme.external_id, "acme");
  EXPECT_EQ(acme.name, "acme");
  EXPECT_EQ(acme.display_name, "acme");
  ASSERT_TRUE(acme.branding.colors);
  EXPECT_EQ(acme.branding.colors->primary, "#3678e2");
  ASSERT_EQ(acme.connections.size(), 1u);
  EXPECT_EQ(acme.connections[0], (OrgConnection{"Username-Password-Authentication", false, false}));
  EXPECT_EQ(acme.where.line, 2);
  const Organization& contoso = s.organizations[1];
  EXPECT_EQ(contoso.external_id, "contoso");
  EXPECT_EQ(contoso.metadata.at("tier"), "gold");
  EXPECT_EQ(contoso.branding.logo_url, "https://cdn.example.com/contoso.png");
  EXPECT_THAT(p.warnings, ElementsAre(HasSubstr("tenant.yaml:1: organizations: read in the "
                                                "Auth0 Deploy CLI layout")));
}

TEST(DeployCliLayout, IgnoresWhatTenantsyncDoesNotManageWithAWarning) {
  Parsed p = Parse(R"(tenant:
  friendly_name: Example
clients:
  - name: app
organizations:
  - name: acme
    id: org_123
    client_grants:
      - client_id: app
    token_quota: null
    discovery_domains:
      - domain: acme.com
        status: verified
    connections:
      - name: google-oauth2
        connection_id: con_123
        is_signup_enabled: true
        organization_access_level: full
)");
  ASSERT_TRUE(p.state.ok()) << p.state.status().message();
  ASSERT_EQ(p.state->organizations.size(), 1u);
  EXPECT_EQ(p.state->organizations[0].connections[0],
            (OrgConnection{"google-oauth2", std::nullopt, std::nullopt}));
  EXPECT_THAT(p.warnings,
              ElementsAre(HasSubstr("tenant.yaml:1: tenant: Deploy CLI section \"tenant\" is not "
                                    "managed by tenantsync: ignored"),
                          HasSubstr("tenant.yaml:3: clients: Deploy CLI section"),
                          HasSubstr("tenant.yaml:5: organizations: read in the Auth0 Deploy CLI"),
                          HasSubstr("tenant.yaml:7: organizations[0].id: not managed"),
                          HasSubstr("tenant.yaml:8: organizations[0].client_grants: not managed"),
                          HasSubstr("tenant.yaml:11: organizations[0].discovery_domains: not"),
                          HasSubstr("tenant.yaml:17: organizations[0].connections[0]."
                                    "is_signup_enabled: not managed"),
                          HasSubstr("tenant.yaml:18: organizations[0].connections[0]."
                                    "organization_access_level: not managed")));
}

TEST(DeployCliLayout, ConnectionIdWithoutNameIsAProblem) {
  Parsed p = Parse(R"(organizations:
  - name: acme
    connections:
      - connection_id: con_123
        assign_membership_on_login: false
)");
  ASSERT_FALSE(p.state.ok());
  ASSERT_GE(p.problems.size(), 1u);
  EXPECT_THAT(p.problems[0], HasSubstr("tenant.yaml:4: organizations[0].connections[0]."
                                       "connection_id: an Auth0 connection id cannot be resolved"));
}

TEST(DeployCliLayout, UnknownKeysAndBadValuesAreRefusedAsUsual) {
  Parsed p = Parse(R"(organizations:
  - name: acme
    colour: red
  - name: Not Valid
)");
  ASSERT_FALSE(p.state.ok());
  EXPECT_THAT(p.problems, ElementsAre(HasSubstr("tenant.yaml:3: organizations[0].colour: unknown "
                                                "key \"colour\""),
                                      HasSubstr("tenant.yaml:4: organizations[1].name: must")));
}

TEST(DeployCliLayout, WritesTheOrganizationsSection) {
  DeclaredState s;
  Organization acme;
  acme.external_id = acme.name = "acme";
  acme.display_name = "Acme";
  acme.metadata = {{"tier", "gold"}};
  acme.branding.colors = BrandingColors{"#3678e2", "#9c4949"};
  acme.connections = {{"google-oauth2", true, std::nullopt}};
  s.organizations.push_back(acme);
  Organization bare;
  bare.external_id = bare.name = "bare";
  s.organizations.push_back(bare);
  std::vector<std::string> warnings;
  EXPECT_EQ(EmitDeploy(s, &warnings), R"(organizations:
  - name: acme
    display_name: Acme
    branding:
      colors:
        primary: "#3678e2"
        page_background: "#9c4949"
    metadata:
      tier: gold
    connections:
      - name: google-oauth2
        assign_membership_on_login: true
  - name: bare
    connections: []
)");
  EXPECT_TRUE(warnings.empty());
}

TEST(DeployCliLayout, WarnsAboutWhatTheLayoutCannotHold) {
  DeclaredState s;
  Organization o;
  o.external_id = "acme-1";
  o.name = "acme";
  o.callback_urls = {"https://acme.example.com/cb"};
  s.organizations.push_back(o);
  User u;
  u.external_id = "u-1";
  u.email = "u@example.com";
  s.users.push_back(u);
  User gone = u;
  gone.external_id = "u-2";
  gone.left = true;
  s.users.push_back(gone);
  std::vector<std::string> warnings;
  const std::string text = EmitDeploy(s, &warnings);
  EXPECT_THAT(text, ::testing::Not(HasSubstr("acme-1")));
  EXPECT_THAT(warnings, ElementsAre(HasSubstr("organization acme-1: its external_id differs"),
                                    HasSubstr("organization acme-1: callback_urls are not part"),
                                    HasSubstr("1 user(s) not written")));
}

void ExpectDeployRoundTrip(const DeclaredState& x, const std::string& context) {
  const std::string text = EmitDeploy(x);
  Parsed p = Parse(text);
  ASSERT_TRUE(p.state.ok()) << context << "\n" << p.state.status().message() << "\n" << text;
  testgen::ExpectSameState(x, *p.state, context + "\n" + text);
  // Only the note that the layout was recognised: nothing was ignored.
  EXPECT_EQ(p.warnings.size(), 1u) << context;
}

TEST(DeployCliLayout, TableRoundTrips) {
  Parsed p = Parse(kDeployCliFile);
  ASSERT_TRUE(p.state.ok());
  ExpectDeployRoundTrip(*p.state, "the Deploy CLI example");
  DeclaredState minimal;
  Organization o;
  o.external_id = o.name = "solo";
  minimal.organizations.push_back(o);
  ExpectDeployRoundTrip(minimal, "name only");
  for (const std::string& t : testgen::TrickyStrings()) {
    DeclaredState s = minimal;
    s.organizations[0].display_name = t;
    s.organizations[0].metadata[t.find_first_of(".$") == std::string::npos ? t : "k"] = t;
    ExpectDeployRoundTrip(s, "string: " + t);
  }
}

TEST(DeployCliLayout, RandomOrganizationsRoundTrip) {
  std::mt19937 rng(15);
  for (int i = 0; i < 300; ++i) {
    const DeclaredState x = testgen::RandState(rng, /*deploy_cli=*/true);
    ExpectDeployRoundTrip(x, "iteration " + std::to_string(i));
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace
}  // namespace tenantsync::declared
