// The config-declared mapping (adapters/mapping): parsing and its errors, field specs and
// transforms, the left/returned rules with dates in a time zone, vendor defaults, and a property
// test: any person record yields valid SPEC §5 events or a clear error.
#include "adapters/mapping/mapping.h"

#include <gtest/gtest.h>

#include <random>

#include "adapters/events/event.h"

namespace tenantsync {
namespace {

using json = nlohmann::json;

// 2026-06-01T12:00:00Z: the change time of most notifications below.
constexpr int64_t kTs = 1780315200000;

VendorNotification Note(Vendor v, NotificationAction a, std::string id = "67890",
                        std::vector<std::string> changed = {}) {
  VendorNotification n;
  n.vendor = v;
  n.event_id = "evt";
  n.vendor_event = "test";
  n.action = a;
  n.object_id = std::move(id);
  n.occurred_at_ms = kTs;
  n.changed_fields = std::move(changed);
  n.needs_fetch = a != NotificationAction::kDeleted;
  return n;
}

Mapping Parse(Vendor v, const json& table = json()) {
  auto m = ParseMapping(v, table);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return std::move(*m);
}

std::vector<std::string> Types(const std::vector<MappedEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.body["type"].get<std::string>());
  return out;
}

TEST(Mapping, ParseErrorsNameTheKey) {
  struct Case {
    json table;
    const char* want;
  };
  const std::vector<Case> cases = {
      {{{"time_zone", "Europe/Berln"}}, "mapping.time_zone: unknown time zone \"Europe/Berln\""},
      {{{"colour", 1}}, "mapping: unknown key \"colour\""},
      {{{"user", {{"external_id", "id"}, {"mail", "workEmail"}}}},
       "mapping.user: unknown target \"mail\""},
      {{{"user", {{"email", "workEmail"}}}}, "mapping.user.external_id: required"},
      {{{"user",
         {{"external_id", "id"}, {"email", {{"path", "e"}, {"transform", {"lowercase"}}}}}}},
       "mapping.user.email.transform[0]: unknown transform \"lowercase\""},
      {{{"user", {{"external_id", {{"path", "a"}, {"value", "b"}}}}}},
       "mapping.user.external_id: exactly one of path, concat or value is required"},
      {{{"user", {{"external_id", json::array()}}}},
       "mapping.user.external_id: at least one path is required"},
      {{{"user", {{"external_id", {{"concat", {1}}}}}}},
       "mapping.user.external_id.concat[0]: must be a literal string or a field table"},
      {{{"left", {{"status", "status"}}}},
       "mapping.left.left_values: required with mapping.left.status"},
      {{{"left", {{"at", "noon"}}}}, "mapping.left.at: must be \"start_of_day\" or \"end_of_day\""},
      {{{"organizations", {{"external_id", "x"}, {"roles", {""}}}}},
       "mapping.organizations.roles: each role must be a name of 1 to 50 characters"},
  };
  for (const auto& c : cases) {
    auto m = ParseMapping(Vendor::kBambooHr, c.table);
    ASSERT_FALSE(m.ok()) << c.table.dump();
    EXPECT_EQ(m.status().message().rfind(c.want, 0), 0u)
        << c.table.dump() << " → " << m.status().message();
  }
}

TEST(Mapping, FieldSpecsAndTransforms) {
  const json record = {{"workEmail", "  "},     {"homeEmail", " Ada@Example.COM "},
                       {"first", "Ada"},        {"last", "Lovelace"},
                       {"dept", "R&D"},         {"nested", {{"list", {{{"id", 7}}, {{"id", 8}}}}}},
                       {"hired", "2026-03-01"}, {"company", "Acme Widgets, Inc."}};
  auto zone = *TimeZone::Load("Europe/Berlin");
  struct Case {
    json spec;
    std::optional<json> want;
  };
  const std::vector<Case> cases = {
      {json::array({"workEmail", "homeEmail"}), json(" Ada@Example.COM ")},  // blank is absent
      {{{"path", {"workEmail", "homeEmail"}}, {"transform", {"trim", "lower"}}},
       json("ada@example.com")},
      {{{"concat", {{{"path", "first"}}, " ", {{"path", "last"}}}}}, json("Ada Lovelace")},
      {{{"concat", {{{"path", "first"}}, " ", {{"path", "middle"}}}}}, std::nullopt},
      {"nested.list.1.id", json(8)},
      {"nested.list.5.id", std::nullopt},
      {{{"path", "dept"}, {"lookup", {{"R&D", "rnd"}}}}, json("rnd")},
      {{{"path", "first"}, {"lookup", {{"R&D", "rnd"}}}, {"lookup_default", "staff"}},
       json("staff")},
      {{{"path", "hired"}, {"transform", {"date"}}}, json("2026-02-28T23:00:00.000Z")},
      {{{"path", "company"}, {"transform", {"slug"}}}, json("acme-widgets-inc")},
      {{{"path", "missing"}, {"default", "x"}}, json("x")},
      {{{"value", true}}, json(true)},
      {{{"path", "first"}, {"transform", {"upper"}}}, json("ADA")},
  };
  for (const auto& c : cases) {
    FieldSpec spec;
    Mapping m = Parse(Vendor::kBambooHr, {{"user", {{"external_id", c.spec}}}});
    auto v = EvaluateField(m.user[0].second, record, zone, "t");
    ASSERT_TRUE(v.ok()) << c.spec.dump() << ": " << v.status().message();
    EXPECT_EQ(*v, c.want) << c.spec.dump();
  }
  Mapping m = Parse(Vendor::kBambooHr,
                    {{"user", {{"external_id", {{"path", "dept"}, {"lookup", {{"x", "y"}}}}}}}});
  auto v = EvaluateField(m.user[0].second, record, zone, "user.external_id");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(),
            "user.external_id: \"R&D\" is not in the lookup table and there is no lookup_default");
}

TEST(Mapping, BambooHrDefaultsCoverTheEmployeeLifecycle) {
  const Mapping m = Parse(Vendor::kBambooHr, {{"time_zone", "Europe/Berlin"}});
  const json active = {{"id", "67890"},
                       {"firstName", "Ada"},
                       {"lastName", "Lovelace"},
                       {"workEmail", "Ada@Example.com"},
                       {"status", "Active"},
                       {"department", "R&D"},
                       {"hireDate", "2020-01-01"},
                       {"terminationDate", "0000-00-00"}};
  struct Case {
    const char* name;
    NotificationAction action;
    json record;
    std::vector<std::string> changed;
    std::vector<std::string> want_types;
    std::optional<std::string> left_effective_at;
  };
  json future_term = active;
  future_term["terminationDate"] = "2026-12-31";
  json gone = active;
  gone["status"] = "Inactive";
  gone["terminationDate"] = "2026-05-31";
  json rehired = active;
  rehired["terminationDate"] = "2025-05-31";
  rehired["hireDate"] = "2026-06-01";
  json future_hire = active;
  future_hire["hireDate"] = "2026-09-01";
  const std::vector<Case> cases = {
      {"created", NotificationAction::kCreated, active, {}, {"user.upserted"}, std::nullopt},
      {"created, listing its status as changed",
       NotificationAction::kCreated,
       active,
       {"status"},
       {"user.upserted"},
       std::nullopt},
      {"updated name",
       NotificationAction::kUpdated,
       active,
       {"firstName"},
       {"user.upserted"},
       std::nullopt},
      {"notice period: termination in the future",
       NotificationAction::kUpdated,
       future_term,
       {"terminationDate"},
       {"user.upserted", "user.left"},
       // end_of_day in Berlin: 2027-01-01T00:00+01:00.
       "2026-12-31T23:00:00.000Z"},
      {"terminated in the past",
       NotificationAction::kUpdated,
       gone,
       {"status"},
       {"user.upserted", "user.left"},
       std::nullopt},
      {"rehired: status back to Active",
       NotificationAction::kUpdated,
       rehired,
       {"status"},
       {"user.upserted", "user.returned"},
       std::nullopt},
      {"deleted", NotificationAction::kDeleted, json(), {}, {"user.left"}, std::nullopt},
  };
  for (const auto& c : cases) {
    auto n = Note(Vendor::kBambooHr, c.action, "67890", c.changed);
    auto events = MapNotification(m, n, c.record, kTs);
    ASSERT_TRUE(events.ok()) << c.name << ": " << events.status().message();
    EXPECT_EQ(Types(*events), c.want_types) << c.name;
    for (const auto& e : *events) {
      EXPECT_TRUE(ParseEvent(e.body).ok()) << c.name << ": " << e.body.dump();
      EXPECT_EQ(e.body["data"]["external_id"], "67890") << c.name;
      if (e.body["type"] == "user.left") {
        if (c.left_effective_at) {
          EXPECT_EQ(e.body["data"]["effective_at"], *c.left_effective_at) << c.name;
        } else {
          EXPECT_FALSE(e.body["data"].contains("effective_at")) << c.name;
        }
      }
    }
    if (c.action == NotificationAction::kCreated) {
      const auto& d = (*events)[0].body["data"];
      EXPECT_EQ(d["email"], "ada@example.com");
      EXPECT_EQ(d["name"], "Ada Lovelace");
      EXPECT_EQ(d["app_metadata"]["department"], "R&D");
    }
  }
  // Ids: the first event keeps the notification's id, the others get a suffix.
  auto events =
      MapNotification(m, Note(Vendor::kBambooHr, NotificationAction::kUpdated), gone, kTs);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].id_suffix, "");
  EXPECT_EQ((*events)[1].id_suffix, "/user.left");
  // A future hire: the user is created when the hire date comes.
  events =
      MapNotification(m, Note(Vendor::kBambooHr, NotificationAction::kCreated), future_hire, kTs);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].body["data"]["effective_at"], "2026-08-31T22:00:00.000Z");
}

TEST(Mapping, FieldBasedPayloadNeedsNoFetch) {
  const Mapping m = Parse(Vendor::kBambooHr);
  auto n = Note(Vendor::kBambooHr, NotificationAction::kCreated, "5");
  n.needs_fetch = false;
  n.inline_record = {
      {"First Name", "Grace"}, {"Last Name", "Hopper"}, {"Work Email", "g@navy.mil"}};
  auto events = MapNotification(m, n, json(), kTs);
  ASSERT_TRUE(events.ok()) << events.status().message();
  EXPECT_EQ((*events)[0].body["data"]["email"], "g@navy.mil");
  EXPECT_EQ((*events)[0].body["data"]["given_name"], "Grace");
  EXPECT_EQ((*events)[0].body["data"]["external_id"], "5");
}

TEST(Mapping, UnfetchedRecordIsAClearError) {
  auto events = MapNotification(Parse(Vendor::kHiBob),
                                Note(Vendor::kHiBob, NotificationAction::kUpdated), json(), kTs);
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().message().rfind("record not fetched", 0), 0u);
}

TEST(Mapping, HiBobLifecycleEventsActOnTheDay) {
  const Mapping m = Parse(Vendor::kHiBob);
  const json rec = {{"id", "42"},
                    {"email", "bo@example.com"},
                    {"firstName", "Bo"},
                    {"surname", "B"},
                    {"internal", {{"status", "Active"}}}};
  auto left = MapNotification(m, Note(Vendor::kHiBob, NotificationAction::kLeft, "42"), rec, kTs);
  ASSERT_TRUE(left.ok()) << left.status().message();
  EXPECT_EQ(Types(*left), (std::vector<std::string>{"user.upserted", "user.left"}));
  EXPECT_FALSE((*left)[1].body["data"].contains("effective_at"));  // fired on the effective date
  auto joined =
      MapNotification(m, Note(Vendor::kHiBob, NotificationAction::kJoined, "42"), rec, kTs);
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(Types(*joined), (std::vector<std::string>{"user.upserted", "user.returned"}));
}

TEST(Mapping, HubSpotCompaniesBecomeOrganizationsAndContactsMembers) {
  const Mapping m = Parse(Vendor::kHubSpot);
  auto company = Note(Vendor::kHubSpot, NotificationAction::kCreated, "77");
  company.object = ObjectKind::kCompany;
  const json crec = {{"id", "77"}, {"properties", {{"name", "Acme Corp"}, {"domain", "acme.io"}}}};
  auto org = MapNotification(m, company, crec, kTs);
  ASSERT_TRUE(org.ok()) << org.status().message();
  EXPECT_EQ((*org)[0].body["type"], "organization.upserted");
  EXPECT_EQ((*org)[0].body["data"]["name"], "acme-io");
  EXPECT_EQ((*org)[0].body["data"]["display_name"], "Acme Corp");
  company.action = NotificationAction::kDeleted;
  org = MapNotification(m, company, json(), kTs);
  ASSERT_TRUE(org.ok());
  EXPECT_EQ((*org)[0].body, json({{"type", "organization.deleted"},
                                  {"timestamp", "2026-06-01T12:00:00.000Z"},
                                  {"data", {{"external_id", "77"}}}}));
  const json contact = {
      {"id", "123"},
      {"properties", {{"email", "ADA@acme.io"}, {"firstname", "Ada"}}},
      {"associations",
       {{"companies", {{"results", {{{"id", "77"}, {"type", "contact_to_company"}}}}}}}}};
  auto user =
      MapNotification(m, Note(Vendor::kHubSpot, NotificationAction::kCreated, "123"), contact, kTs);
  ASSERT_TRUE(user.ok()) << user.status().message();
  EXPECT_EQ((*user)[0].body["data"]["organizations"], json::parse(R"([{"external_id":"77"}])"));
  EXPECT_EQ((*user)[0].body["data"]["email"], "ada@acme.io");
}

TEST(Mapping, InvalidProducedEventsNameTheField) {
  const Mapping m =
      Parse(Vendor::kBambooHr, {{"user", {{"external_id", "id"}, {"email", "mail"}}}});
  auto events = MapNotification(m, Note(Vendor::kBambooHr, NotificationAction::kUpdated),
                                {{"id", "1"}, {"mail", "not-an-email"}}, kTs);
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.status().message().rfind(
                "the mapping produced an invalid user.upserted: data.email", 0),
            0u)
      << events.status().message();
}

// Property: over random person records (fixed seed), the BambooHR default mapping either yields
// events that all pass ParseEvent, or fails with a message naming a mapping target or field.
TEST(Mapping, PropertyAnyPersonYieldsValidEventsOrAClearError) {
  std::mt19937_64 rng(20261130);
  const Mapping m = Parse(Vendor::kBambooHr, {{"time_zone", "America/New_York"}});
  auto pick = [&](std::vector<json> options) { return options[rng() % options.size()]; };
  int ok = 0, errors = 0;
  for (int i = 0; i < 2000; ++i) {
    json rec = json::object();
    rec["id"] = pick({"1", "e-2", "", json(17), json(nullptr), std::string(300, 'x')});
    rec["workEmail"] = pick(
        {"a@b.co", " A@B.CO ", "", "bad", json(5), json(nullptr), std::string(70, 'a') + "@x.io"});
    rec["firstName"] = pick({"Ada", "", std::string(200, 'n'), json(true), json::array()});
    rec["lastName"] = pick({"L", json(nullptr), "Ω"});
    rec["status"] = pick({"Active", "Inactive", json(3), json(nullptr)});
    rec["terminationDate"] =
        pick({"2026-12-31", "0000-00-00", "", "soon", "2025-01-01T10:00:00Z", json(nullptr)});
    rec["hireDate"] = pick({"2026-09-01", "2019-02-30", "2019-01-01", json(nullptr)});
    rec["department"] = pick({"R&D", json({{"x", 1}}), json(nullptr)});
    auto action = static_cast<NotificationAction>(rng() % 9);
    auto n = Note(Vendor::kBambooHr, action, "67890", {"status"});
    auto events = MapNotification(m, n, rec, kTs);
    if (events.ok()) {
      ++ok;
      for (const auto& e : *events) {
        auto parsed = ParseEvent(e.body);
        ASSERT_TRUE(parsed.ok()) << rec.dump() << " → " << e.body.dump() << ": "
                                 << parsed.status().message();
      }
    } else {
      ++errors;
      const auto& msg = events.status().message();
      const bool names_something = msg.rfind("user.", 0) == 0 || msg.rfind("left.", 0) == 0 ||
                                   msg.rfind("the mapping produced an invalid", 0) == 0;
      ASSERT_TRUE(names_something) << rec.dump() << ": " << msg;
    }
  }
  // Both outcomes occur, so the property is exercised on each side.
  EXPECT_GT(ok, 100);
  EXPECT_GT(errors, 100);
}

}  // namespace
}  // namespace tenantsync
