// adapters/scim: resources, PATCH (with the Okta and Entra request bodies), filters, Bulk, the
// messages and the mapping to tenantsync events. Table-driven, plus a property test with a fixed
// seed (PATCH add/remove of members against a model set).
#include "adapters/scim/scim.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace tenantsync::scim {
namespace {

using nlohmann::json;

json User(json extra = json::object()) {
  json u = {{"schemas", {kUserSchema}}, {"userName", "ada@example.com"}};
  for (auto it = extra.begin(); it != extra.end(); ++it) u[it.key()] = it.value();
  return u;
}

json Patch(json ops) { return {{"schemas", {kPatchOpSchema}}, {"Operations", ops}}; }

// --- Resources ---

TEST(ScimUser, NormalizesAndDropsPasswordGroupsIdMeta) {
  // Okta's create-user body (developer.okta.com SCIM 2.0 guide) carries a password and groups.
  json in = {{"schemas", {kUserSchema}},
             {"userName", "test.user@okta.local"},
             {"name", {{"givenName", "Test"}, {"familyName", "User"}}},
             {"emails", {{{"primary", true}, {"value", "test.user@okta.local"}, {"type", "work"}}}},
             {"displayName", "Test User"},
             {"locale", "en-US"},
             {"externalId", "00ujl29u0le5T6Aj10h7"},
             {"groups", json::array()},
             {"password", "1mz050nq"},
             {"id", "client-chosen"},
             {"active", true}};
  auto out = NormalizeUser(in);
  ASSERT_TRUE(out.ok()) << out.error().detail;
  EXPECT_FALSE(out->contains("password"));
  EXPECT_FALSE(out->contains("groups"));
  EXPECT_FALSE(out->contains("id"));
  EXPECT_EQ((*out)["externalId"], "00ujl29u0le5T6Aj10h7");
  EXPECT_EQ(out->dump().find("1mz050nq"), std::string::npos);
}

TEST(ScimUser, TableOfInvalidInputs) {
  struct Case {
    json in;
    int status;
    ErrorType type;
    std::string detail_has;
  };
  std::vector<Case> cases = {
      {json::array(), 400, ErrorType::kInvalidSyntax, "JSON object"},
      {{{"userName", "a"}}, 400, ErrorType::kInvalidSyntax, "schemas"},
      {{{"schemas", {kGroupSchema}}, {"userName", "a"}}, 400, ErrorType::kInvalidSyntax, "schemas"},
      {{{"schemas", {kUserSchema}}}, 400, ErrorType::kInvalidValue, "userName is required"},
      {User({{"userName", ""}}), 400, ErrorType::kInvalidValue, "userName must not be empty"},
      {User({{"userName", 5}}), 400, ErrorType::kInvalidValue, "userName must be a string"},
      {User({{"active", "maybe"}}), 400, ErrorType::kInvalidValue, "active must be a boolean"},
      {User({{"emails", "a@b.c"}}), 400, ErrorType::kInvalidValue, "emails must be a list"},
      {User({{"emails", {{{"value", "a@b.c"}, {"primary", "yes"}}}}}), 400,
       ErrorType::kInvalidValue, "emails[0].primary"},
      {User({{"name", "Ada"}}), 400, ErrorType::kInvalidValue, "name must be an object"},
      {User({{std::string(kEnterpriseSchema), {{"department", 7}}}}), 400, ErrorType::kInvalidValue,
       "department must be a string"},
  };
  for (const auto& c : cases) {
    auto out = NormalizeUser(c.in);
    ASSERT_FALSE(out.ok()) << c.in.dump();
    EXPECT_EQ(out.error().status, c.status) << c.in.dump();
    EXPECT_EQ(out.error().type, c.type) << c.in.dump();
    EXPECT_NE(out.error().detail.find(c.detail_has), std::string::npos)
        << c.in.dump() << " → " << out.error().detail;
  }
}

TEST(ScimUser, EntraStringBooleansAndCaseInsensitiveNames) {
  auto out = NormalizeUser(User({{"Active", "False"},
                                 {"EMAILS", {{{"Value", "a@b.c"}, {"Primary", "True"}}}},
                                 {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user",
                                  {{"Department", "Ops"}, {"manager", "m-1"}}}}));
  ASSERT_TRUE(out.ok()) << out.error().detail;
  EXPECT_EQ((*out)["active"], false);
  EXPECT_EQ((*out)["emails"][0]["primary"], true);
  EXPECT_EQ((*out)["emails"][0]["value"], "a@b.c");
  const json& ext = (*out)[std::string(kEnterpriseSchema)];
  EXPECT_EQ(ext["department"], "Ops");
  EXPECT_EQ(ext["manager"]["value"], "m-1");
  // The extension's schema is listed once its attributes are present.
  EXPECT_NE(std::find((*out)["schemas"].begin(), (*out)["schemas"].end(),
                      json(std::string(kEnterpriseSchema))),
            (*out)["schemas"].end());
}

TEST(ScimGroup, MembersAreValidatedAndDeduplicated) {
  json g = {
      {"schemas", {kGroupSchema}},
      {"displayName", "Sales EU"},
      {"members", {{{"value", "u1"}, {"display", "Ada"}}, {{"value", "u1"}}, {{"value", "u2"}}}}};
  auto out = NormalizeGroup(g);
  ASSERT_TRUE(out.ok()) << out.error().detail;
  EXPECT_EQ((*out)["members"].size(), 2u);
  g["members"] = {{{"value", "g9"}, {"type", "Group"}}};
  auto nested = NormalizeGroup(g);
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.error().detail.find("nested groups"), std::string::npos);
  EXPECT_FALSE(NormalizeGroup({{"schemas", {kGroupSchema}}}).ok());
}

// --- PATCH ---

TEST(ScimPatch, TableOfOperations) {
  const json base = NormalizeUser(User({{"name", {{"givenName", "Ada"}, {"familyName", "L"}}},
                                        {"emails", {{{"value", "a@x.com"}, {"type", "work"}}}},
                                        {"active", true}}))
                        .
                        operator*();
  struct Case {
    std::string name;
    json ops;
    std::function<void(const json&)> check;
  };
  std::vector<Case> cases = {
      {"okta deactivate without path",
       {{{"op", "replace"}, {"value", {{"active", false}}}}},
       [](const json& r) { EXPECT_EQ(r["active"], false); }},
      {"entra Replace with string False",
       {{{"op", "Replace"}, {"path", "active"}, {"value", "False"}}},
       [](const json& r) { EXPECT_EQ(ParseBool(r["active"]), false); }},
      {"dotted key in value",
       {{{"op", "replace"}, {"value", {{"name.givenName", "Augusta"}}}}},
       [](const json& r) {
         EXPECT_EQ(r["name"]["givenName"], "Augusta");
         EXPECT_EQ(r["name"]["familyName"], "L");
       }},
      {"sub-attribute path",
       {{{"op", "replace"}, {"path", "name.familyName"}, {"value", "Lovelace"}}},
       [](const json& r) { EXPECT_EQ(r["name"]["familyName"], "Lovelace"); }},
      {"filtered sub-attribute (Entra emails[type eq \"work\"].value)",
       {{{"op", "replace"}, {"path", "emails[type eq \"work\"].value"}, {"value", "b@x.com"}}},
       [](const json& r) {
         ASSERT_EQ(r["emails"].size(), 1u);
         EXPECT_EQ(r["emails"][0]["value"], "b@x.com");
       }},
      {"filtered path with no match adds a value",
       {{{"op", "add"}, {"path", "emails[type eq \"home\"].value"}, {"value", "h@x.com"}}},
       [](const json& r) {
         ASSERT_EQ(r["emails"].size(), 2u);
         EXPECT_EQ(r["emails"][1]["type"], "home");
         EXPECT_EQ(r["emails"][1]["value"], "h@x.com");
       }},
      {"enterprise URN path",
       {{{"op", "add"},
         {"path", std::string(kEnterpriseSchema) + ":department"},
         {"value", "Finance"}}},
       [](const json& r) {
         EXPECT_EQ(r[std::string(kEnterpriseSchema)]["department"], "Finance");
       }},
      {"enterprise URN key in a pathless value",
       {{{"op", "add"},
         {"value", {{std::string(kEnterpriseSchema) + ":employeeNumber", "701984"}}}}},
       [](const json& r) {
         EXPECT_EQ(r[std::string(kEnterpriseSchema)]["employeeNumber"], "701984");
       }},
      {"remove an attribute",
       {{{"op", "remove"}, {"path", "name.givenName"}}},
       [](const json& r) { EXPECT_FALSE(r["name"].contains("givenName")); }},
  };
  for (const auto& c : cases) {
    auto out = ApplyPatch(base, Patch(c.ops));
    ASSERT_TRUE(out.ok()) << c.name << ": " << out.error().detail;
    auto norm = NormalizeUser(*out);
    ASSERT_TRUE(norm.ok()) << c.name << ": " << norm.error().detail;
    SCOPED_TRACE(c.name);
    c.check(*norm);
  }
}

TEST(ScimPatch, GroupMembersOktaAndEntra) {
  json g = {{"schemas", {kGroupSchema}}, {"displayName", "Eng"}, {"members", json::array()}};
  // Okta: add with path members.
  auto a =
      ApplyPatch(g, Patch({{{"op", "add"},
                            {"path", "members"},
                            {"value", {{{"value", "u1"}, {"display", "a"}}, {{"value", "u2"}}}}}}));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)["members"].size(), 2u);
  // Okta: remove by value filter.
  auto r = ApplyPatch(*a, Patch({{{"op", "remove"}, {"path", "members[value eq \"u1\"]"}}}));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ((*r)["members"].size(), 1u);
  EXPECT_EQ((*r)["members"][0]["value"], "u2");
  // Entra: remove with path members and a value list; "Remove" capitalised.
  auto e = ApplyPatch(
      *a, Patch({{{"op", "Remove"}, {"path", "members"}, {"value", {{{"value", "u2"}}}}}}));
  ASSERT_TRUE(e.ok());
  ASSERT_EQ((*e)["members"].size(), 1u);
  EXPECT_EQ((*e)["members"][0]["value"], "u1");
  // Okta's group rename without path.
  auto n = ApplyPatch(
      g, Patch({{{"op", "replace"}, {"value", {{"id", "x"}, {"displayName", "Eng2"}}}}}));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ((*n)["displayName"], "Eng2");
}

TEST(ScimPatch, Errors) {
  const json u = User();
  struct Case {
    json patch;
    ErrorType type;
  };
  std::vector<Case> cases = {
      {{{"Operations", {{{"op", "add"}, {"value", {{"a", 1}}}}}}}, ErrorType::kInvalidSyntax},
      {Patch(json::array()), ErrorType::kInvalidSyntax},
      {Patch({{{"op", "move"}, {"path", "a"}}}), ErrorType::kInvalidSyntax},
      {Patch({{{"op", "remove"}}}), ErrorType::kNoTarget},
      {Patch({{{"op", "add"}, {"path", "emails[type ne \"x\"]"}, {"value", 1}}}),
       ErrorType::kInvalidPath},
      {Patch({{{"op", "add"}, {"value", "not an object"}}}), ErrorType::kInvalidValue},
      {Patch({{{"op", "add"}, {"path", "title"}}}), ErrorType::kInvalidValue},
  };
  for (const auto& c : cases) {
    auto out = ApplyPatch(u, c.patch);
    ASSERT_FALSE(out.ok()) << c.patch.dump();
    EXPECT_EQ(out.error().status, 400);
    EXPECT_EQ(out.error().type, c.type) << c.patch.dump() << " → " << out.error().detail;
  }
}

// Property: any sequence of Okta/Entra member adds and removes leaves exactly the model's set.
TEST(ScimPatch, MemberAddRemoveMatchesModel) {
  std::mt19937 rng(20261130);
  for (int round = 0; round < 200; ++round) {
    json g = {{"schemas", {kGroupSchema}}, {"displayName", "G"}};
    std::set<std::string> model;
    for (int step = 0; step < 12; ++step) {
      const std::string id = "u" + std::to_string(rng() % 6);
      json op;
      switch (rng() % 4) {
        case 0:  // Okta add
          op = {{"op", "add"}, {"path", "members"}, {"value", {{{"value", id}}}}};
          model.insert(id);
          break;
        case 1:  // Entra Add, capitalised
          op = {{"op", "Add"}, {"path", "members"}, {"value", {{{"value", id}}}}};
          model.insert(id);
          break;
        case 2:  // Okta remove by filter
          op = {{"op", "remove"}, {"path", "members[value eq \"" + id + "\"]"}};
          model.erase(id);
          break;
        default:  // Entra remove with value list
          op = {{"op", "Remove"}, {"path", "members"}, {"value", {{{"value", id}}}}};
          model.erase(id);
      }
      auto out = ApplyPatch(g, Patch({op}));
      ASSERT_TRUE(out.ok()) << out.error().detail;
      auto norm = NormalizeGroup(*out);
      ASSERT_TRUE(norm.ok()) << norm.error().detail;
      g = *norm;
      std::set<std::string> have;
      for (const auto& m : g.value("members", json::array())) have.insert(m["value"]);
      ASSERT_EQ(have, model) << "round " << round << " step " << step;
    }
  }
}

// --- Filters ---

TEST(ScimFilter, TableOfFilters) {
  const json u = NormalizeUser(User({{"externalId", "E-1"},
                                     {"displayName", "Ada L"},
                                     {"emails", {{{"value", "Ada@Example.com"}}}}}))
                     .
                     operator*();
  struct Case {
    std::string text;
    bool ok;
    bool matches;
  };
  std::vector<Case> cases = {
      {"userName eq \"ada@example.com\"", true, true},
      {"userName eq \"ADA@EXAMPLE.COM\"", true, true},  // caseExact false
      {"USERNAME EQ \"ada@example.com\"", true, true},
      {"externalId eq \"E-1\"", true, true},
      {"externalId eq \"e-1\"", true, false},  // caseExact true
      {"emails.value eq \"ada@example.com\"", true, true},
      {"userName eq \"ada@example.com\" and externalId eq \"E-1\"", true, true},
      {"userName eq \"ada@example.com\" and externalId eq \"E-2\"", true, false},
      {"displayName eq \"Ada L\"", true, true},
      {"userName eq \"a \\\" quote\"", true, false},
      {"userName sw \"ada\"", false, false},
      {"userName eq \"a\" or externalId eq \"b\"", false, false},
      {"(userName eq \"a\")", false, false},
      {"userName eq", false, false},
      {"", false, false},
  };
  for (const auto& c : cases) {
    auto f = ParseFilter(c.text);
    ASSERT_EQ(f.ok(), c.ok) << c.text;
    if (!f.ok()) {
      EXPECT_EQ(f.error().status, 400);
      EXPECT_EQ(f.error().type, ErrorType::kInvalidFilter);
      continue;
    }
    EXPECT_EQ(Matches(*f, u), c.matches) << c.text;
  }
}

// --- Bulk ---

TEST(ScimBulk, EntraBulkRequestShape) {
  // The body of Entra's API-driven inbound provisioning (learn.microsoft.com, bulkUpload).
  json body = json::parse(R"({"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
   "Operations":[{"method":"POST","bulkId":"701984","path":"/Users",
     "data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
       "externalId":"701984","userName":"bjensen@example.com",
       "name":{"givenName":"Barbara","familyName":"Jensen"},"displayName":"Babs Jensen",
       "emails":[{"value":"bjensen@example.com","type":"work","primary":true}],
       "active":true,"userType":"Employee","title":"Tour Guide",
       "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984",
         "department":"Tour Operations","organization":"Universal Studios",
         "manager":{"value":"89607"}}}}],
   "failOnErrors":null})");
  auto bulk = ParseBulk(body, BulkLimits{});
  ASSERT_TRUE(bulk.ok()) << bulk.error().detail;
  ASSERT_EQ(bulk->operations.size(), 1u);
  EXPECT_EQ(bulk->operations[0].method, BulkMethod::kPost);
  EXPECT_EQ(bulk->operations[0].bulk_id, "701984");
  EXPECT_FALSE(bulk->fail_on_errors.has_value());
  auto user = NormalizeUser(bulk->operations[0].data);
  ASSERT_TRUE(user.ok()) << user.error().detail;
  json profile = UserProfile(*user, "701984");
  EXPECT_EQ(profile["email"], "bjensen@example.com");
  EXPECT_EQ(profile["name"], "Babs Jensen");
  EXPECT_EQ(profile["app_metadata"]["employee_number"], "701984");
  EXPECT_EQ(profile["app_metadata"]["department"], "Tour Operations");
  EXPECT_EQ(profile["app_metadata"]["organization"], "Universal Studios");
  EXPECT_EQ(profile["app_metadata"]["manager_id"], "89607");
  EXPECT_EQ(profile["app_metadata"]["title"], "Tour Guide");
}

TEST(ScimBulk, LimitsAndShapeErrors) {
  BulkLimits limits;
  limits.max_operations = 2;
  auto op = [](const std::string& id) {
    return json{{"method", "POST"}, {"bulkId", id}, {"path", "/Users"}, {"data", User()}};
  };
  json three = {{"schemas", {kBulkRequestSchema}}, {"Operations", {op("a"), op("b"), op("c")}}};
  auto too_many = ParseBulk(three, limits);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().status, 413);
  json dup = {{"schemas", {kBulkRequestSchema}}, {"Operations", {op("a"), op("a")}}};
  EXPECT_EQ(ParseBulk(dup, limits).error().status, 400);
  json no_bulk_id = {{"schemas", {kBulkRequestSchema}},
                     {"Operations", {{{"method", "POST"}, {"path", "/Users"}, {"data", User()}}}}};
  EXPECT_FALSE(ParseBulk(no_bulk_id, limits).ok());
  json fail_on = {
      {"schemas", {kBulkRequestSchema}}, {"Operations", {op("a")}}, {"failOnErrors", 1}};
  EXPECT_EQ(ParseBulk(fail_on, limits)->fail_on_errors, 1);
}

TEST(ScimBulk, ResolvesBulkIdReferences) {
  json data = {{"members", {{{"value", "bulkId:qwerty"}}, {{"value", "u-2"}}}}};
  EXPECT_FALSE(ResolveBulkIds(data, {{"qwerty", "id-1"}}).has_value());
  EXPECT_EQ(data["members"][0]["value"], "id-1");
  json missing = {{"members", {{{"value", "bulkId:nope"}}}}};
  EXPECT_EQ(ResolveBulkIds(missing, {}), "nope");
}

// --- Messages ---

TEST(ScimMessages, ErrorAndListShapes) {
  json e = ErrorJson(Error{409, ErrorType::kUniqueness, "taken"});
  EXPECT_EQ(e["schemas"][0], kErrorSchema);
  EXPECT_EQ(e["status"], "409");  // a string (RFC 7644 §3.12)
  EXPECT_EQ(e["scimType"], "uniqueness");
  EXPECT_FALSE(ErrorJson(Error{404, ErrorType::kNone, "x"}).contains("scimType"));
  json l = ListResponse({json::object()}, 5, 3);
  EXPECT_EQ(l["totalResults"], 5);
  EXPECT_EQ(l["startIndex"], 3);
  EXPECT_EQ(l["itemsPerPage"], 1);
  json spc = ServiceProviderConfig(BulkLimits{50, 4096}, 200, "http://h/scim/v2");
  EXPECT_EQ(spc["bulk"]["maxOperations"], 50);
  EXPECT_EQ(spc["bulk"]["maxPayloadSize"], 4096);
  EXPECT_EQ(spc["patch"]["supported"], true);
  EXPECT_EQ(Schemas("b")["totalResults"], 3);
  EXPECT_TRUE(Schema(std::string(kEnterpriseSchema), "b").has_value());
}

// --- Mapping ---

TEST(ScimMapping, UserEventsTable) {
  MappingOptions m;
  const json active = NormalizeUser(User({{"name", {{"givenName", "Ada"}}}})).operator*();
  json inactive = active;
  inactive["active"] = false;
  struct Case {
    std::string name;
    std::optional<json> before, after;
    bool returning;
    std::vector<EventType> want;
  };
  std::vector<Case> cases = {
      {"created", std::nullopt, active, false, {EventType::kUserUpserted}},
      {"created inactive",
       std::nullopt,
       inactive,
       false,
       {EventType::kUserUpserted, EventType::kUserBlocked}},
      {"created again after delete",
       std::nullopt,
       active,
       true,
       {EventType::kUserUpserted, EventType::kUserReturned}},
      {"unchanged", active, active, false, {}},
      {"deactivated (Okta PATCH active false)", active, inactive, false, {EventType::kUserBlocked}},
      {"reactivated", inactive, active, false, {EventType::kUserUnblocked}},
      {"deleted", active, std::nullopt, false, {EventType::kUserLeft}},
  };
  for (const auto& c : cases) {
    auto events = UserEvents(c.before, c.after, "E-1", std::nullopt, c.returning, m);
    std::vector<EventType> got;
    for (const auto& e : events) got.push_back(e.type);
    EXPECT_EQ(got, c.want) << c.name;
    for (const auto& e : events) {
      // Every mapped event passes tenantsync's own event validation.
      auto parsed = ParseEvent(Envelope(e, 1796032800000));
      EXPECT_TRUE(parsed.ok()) << c.name << ": " << parsed.status().message();
    }
  }
  m.delete_users = true;
  auto deleted = UserEvents(active, std::nullopt, "E-1", std::nullopt, false, m);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].type, EventType::kUserDeleted);
}

TEST(ScimMapping, ProfileFields) {
  struct Case {
    json user;
    json want;  // subset of the profile
  };
  std::vector<Case> cases = {
      {User({{"emails", {{{"value", "second@x.com"}}, {{"value", "p@x.com"}, {"primary", true}}}}}),
       {{"email", "p@x.com"}}},
      {User({{"emails", {{{"value", "first@x.com"}}}}}), {{"email", "first@x.com"}}},
      {User(), {{"email", "ada@example.com"}}},  // userName is an address
      {User({{"name", {{"givenName", "Ada"}, {"familyName", "Lovelace"}}}}),
       {{"given_name", "Ada"}, {"family_name", "Lovelace"}, {"name", "Ada Lovelace"}}},
      {User({{"name", {{"formatted", "Countess Ada"}}}, {"displayName", "Ada"}}),
       {{"name", "Countess Ada"}}},
      {User({{"displayName", "Ada"}, {"nickName", "al"}}), {{"name", "Ada"}, {"nickname", "al"}}},
      {User(), {{"given_name", nullptr}, {"nickname", nullptr}}},  // absent clears
  };
  for (const auto& c : cases) {
    auto norm = NormalizeUser(c.user);
    ASSERT_TRUE(norm.ok());
    json p = UserProfile(*norm, "x");
    for (auto it = c.want.begin(); it != c.want.end(); ++it)
      EXPECT_EQ(p[it.key()], it.value()) << c.user.dump() << " " << it.key();
  }
  auto no_email = NormalizeUser(User({{"userName", "ada"}}));
  EXPECT_FALSE(UserProfile(*no_email, "x").contains("email"));
}

TEST(ScimMapping, OrganizationsAndRoles) {
  MappingOptions m;
  m.role_map = {{"admin", "Org Admin"}, {"viewer", "Viewer"}};
  json u =
      NormalizeUser(User({{"roles", {{{"value", "admin"}}, {{"value", "unmapped"}}}}})).operator*();
  json orgs = Organizations(u, {{"g-b"}, {"g-a"}, {"g-a"}}, m);
  ASSERT_EQ(orgs.size(), 2u);
  EXPECT_EQ(orgs[0]["external_id"], "g-a");
  EXPECT_EQ(orgs[0]["roles"], json({"Org Admin"}));
}

TEST(ScimMapping, OrganizationNames) {
  struct Case {
    std::string display, fallback, want;
  };
  std::vector<Case> cases = {
      {"Sales EU", "x", "sales-eu"},
      {"  R&D / Lab_2  ", "x", "r-d-lab_2"},
      {"Ünïcode", "x", "n-code"},
      {"!!!", "00g1-ABC", "00g1-abc"},
      {std::string(80, 'a'), "x", std::string(50, 'a')},
  };
  for (const auto& c : cases)
    EXPECT_EQ(OrganizationName(c.display, c.fallback), c.want) << c.display;
  json g = {{"schemas", {kGroupSchema}}, {"displayName", "Sales EU"}};
  auto parsed = ParseEvent(
      Envelope({EventType::kOrganizationUpserted, GroupOrganization(g, "G-1")}, 1796032800000));
  EXPECT_TRUE(parsed.ok()) << parsed.status().message();
}

}  // namespace
}  // namespace tenantsync::scim
