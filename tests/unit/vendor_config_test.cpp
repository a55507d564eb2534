// [[sources]] with a vendor scheme (daemon/config.cpp): secrets, credentials, vendor keys, the
// [sources.mapping] table (TOML converted to the mapping's JSON and validated at load), and
// errors that name the key.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>

#include "adapters/mapping/mapping.h"
#include "daemon/config.h"
#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

class VendorConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("vendor-config-test");
    Write("admin-token", "an-admin-token-of-enough-length\n");
    Write("auth0-client-secret", "super-secret-client-value\n");
    Write("bamboo.key", "bamboo-private-key\n");
    Write("bamboo.api", "bamboo-api-key\n");
    Write("bob.key", "bob-secret\n");
    Write("bob.api", "service-user:token\n");
    Write("personio.token", "Bearer a-long-personio-token\n");
    Write("hs.key", "hubspot-client-secret\n");
    unsetenv("CREDENTIALS_DIRECTORY");
  }
  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ + "/" + name) << content;
  }
  Result<Config> Load(const std::string& sources) {
    Write("t.toml", "[storage]\npath = \"" + dir_ +
                        "/db\"\n[admin]\ntoken_file = \"admin-token\"\n"
                        "[auth0]\ndomain = \"example.eu.auth0.com\"\nclient_id = \"cid\"\n"
                        "client_secret_file = \"auth0-client-secret\"\n"
                        "application_client_id = \"app\"\n" +
                        sources);
    return LoadConfig(dir_ + "/t.toml");
  }
  std::string Error(const std::string& sources) {
    auto c = Load(sources);
    return c.ok() ? "" : c.status().message();
  }
  std::string dir_;
};

TEST_F(VendorConfigTest, EveryVendorSchemeLoads) {
  auto c = Load(R"(
[[sources]]
name = "bamboo"
scheme = "bamboohr"
secret_file = "bamboo.key"
credentials_file = "bamboo.api"
company_domain = "acme"
tolerance_seconds = 120
[sources.mapping]
time_zone = "Europe/Berlin"
[sources.mapping.user]
external_id = "employeeNumber"
email = { path = ["workEmail", "homeEmail"], transform = ["trim", "lower"] }
[sources.mapping.left]
status = "status"
left_values = ["Inactive"]
termination_date = "terminationDate"
at = "start_of_day"

[[sources]]
name = "bob"
scheme = "hibob"
secret_file = "bob.key"
credentials_file = "bob.api"
api_person_fields = ["work.customColumns.column_1"]

[[sources]]
name = "personio"
scheme = "personio"
secret_file = "personio.token"

[[sources]]
name = "hs"
scheme = "hubspot"
secret_file = "hs.key"
public_url = "https://sync.example.com/webhooks/hs"
allow_v1 = false
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->sources.size(), 4u);
  const auto& bamboo = c->sources[0];
  ASSERT_TRUE(bamboo.vendor);
  EXPECT_EQ(*bamboo.vendor, Vendor::kBambooHr);
  EXPECT_EQ(bamboo.vendor_verify.secrets, std::vector<std::string>{"bamboo-private-key"});
  EXPECT_EQ(bamboo.vendor_verify.tolerance_seconds, 120);
  EXPECT_EQ(bamboo.vendor_api.credential, "bamboo-api-key");
  EXPECT_EQ(bamboo.vendor_api.company_domain, "acme");
  EXPECT_TRUE(bamboo.signature.secrets.empty()) << "a vendor source is never verified as hmac";
  auto mapping = ParseMapping(Vendor::kBambooHr, bamboo.vendor_mapping);
  ASSERT_TRUE(mapping.ok()) << mapping.status().message();
  EXPECT_EQ(mapping->zone.name(), "Europe/Berlin");
  EXPECT_EQ(mapping->termination_at, TerminationAt::kStartOfDay);
  auto id = std::find_if(mapping->user.begin(), mapping->user.end(),
                         [](const auto& t) { return t.first == "external_id"; });
  ASSERT_NE(id, mapping->user.end());
  EXPECT_EQ(id->second.path_texts, std::vector<std::string>{"employeeNumber"});
  EXPECT_EQ(mapping->user.size(), 2u) << "[user] given replaces the default's [user] whole";
  EXPECT_EQ(c->sources[1].vendor_api.credential, "service-user:token");
  EXPECT_EQ(c->sources[1].vendor_api.extra_person_fields,
            std::vector<std::string>{"work.customColumns.column_1"});
  EXPECT_EQ(c->sources[2].vendor_verify.secrets[0], "Bearer a-long-personio-token");
  EXPECT_TRUE(c->sources[2].vendor_api.credential.empty());  // no fetch configured
  EXPECT_FALSE(c->sources[3].vendor_verify.allow_v1);
  EXPECT_TRUE(c->sources[3].vendor_mapping.is_null());  // the HubSpot default mapping
}

TEST_F(VendorConfigTest, ErrorsNameTheKey) {
  struct Case {
    const char* toml;
    const char* want;
  };
  const std::vector<Case> cases = {
      {"[[sources]]\nname = \"b\"\nscheme = \"bamboohr\"\nsecret_file = \"bamboo.key\"\n"
       "[sources.mapping.user]\nexternal_id = \"id\"\nemail = { path = \"e\", transform = "
       "[\"lowercase\"] }\n",
       "sources[0].mapping.user.email.transform[0]: unknown transform \"lowercase\""},
      {"[[sources]]\nname = \"b\"\nscheme = \"bamboohr\"\nsecret_file = \"bamboo.key\"\n"
       "[sources.mapping]\ntime_zone = \"Mars/Base\"\n",
       "sources[0].mapping.time_zone: unknown time zone \"Mars/Base\""},
      {"[[sources]]\nname = \"b\"\nscheme = \"hibob\"\nsecret_file = \"bob.key\"\n"
       "credentials_file = \"bob.key\"\n",
       "sources[0].credentials_file: credentials_file: a HiBob credential is "
       "SERVICE_USER_ID:TOKEN"},
      {"[[sources]]\nname = \"b\"\nscheme = \"hubspot\"\nsecret_file = \"hs.key\"\n",
       "sources[0].public_url: public_url must be the https:// URL registered with HubSpot"},
      {"[[sources]]\nname = \"b\"\nscheme = \"personio\"\nsecret_file = \"bob.key\"\n",
       "sources[0].secret_file: secret line 1: a Personio webhook token must be at least 16"},
      {"[[sources]]\nname = \"b\"\nscheme = \"hibob\"\nsecret_file = \"bob.key\"\n"
       "public_url = \"https://x\"\n",
       "sources[0].public_url: only applies to scheme \"hubspot\""},
      {"[[sources]]\nname = \"b\"\nscheme = \"bamboohr\"\nsecret_file = \"bamboo.key\"\n"
       "header = \"X-Sig\"\n",
       "sources[0].header: does not apply to scheme \"bamboohr\""},
      {"[[sources]]\nname = \"b\"\nscheme = \"hmac-sha256\"\nsecret_file = \"bamboo.key\"\n"
       "credentials_file = \"bamboo.api\"\n",
       "sources[0].credentials_file: only applies to the vendor schemes"},
      {"[[sources]]\nname = \"b\"\nscheme = \"bamboohr\"\nsecret_file = \"bamboo.key\"\n"
       "mapping = \"default\"\n",
       "sources[0].mapping: must be a table ([sources.mapping])"},
      {"[[sources]]\nname = \"b\"\nscheme = \"hibob\"\nsecret_file = \"bob.key\"\n"
       "credentials_file = \"bob.api\"\napi_company_fields = [\"industry\"]\n",
       "sources[0].api_company_fields: only hubspot fetches companies"},
      {"[[sources]]\nname = \"b\"\nscheme = \"bamboohr\"\nsecret_file = \"bamboo.key\"\n"
       "api_person_fields = [\"customCostCenter\"]\n",
       "sources[0].api_person_fields: fields are fetched only with a credentials_file"},
      {"[[sources]]\nname = \"b\"\nscheme = \"workday\"\nsecret_file = \"bamboo.key\"\n",
       "bamboohr, hibob, personio, hubspot (got \"workday\")"},
  };
  for (const auto& c : cases) {
    std::string err = Error(c.toml);
    EXPECT_NE(err.find(c.want), std::string::npos) << c.toml << "\n→ " << err;
    EXPECT_EQ(err.find("bamboo-private-key"), std::string::npos);
    EXPECT_EQ(err.find("service-user:token"), std::string::npos);
  }
}

}  // namespace
}  // namespace tenantsync
