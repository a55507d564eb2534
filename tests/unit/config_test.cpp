#include "daemon/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "tests/support/subprocess.h"

namespace tenantsync {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("config-test");
    Write("admin-token", "an-admin-token-of-enough-length\n");
    Write("hr-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\nwhsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24\n");
    Write("auth0-client-secret", "super-secret-client-value\n");
    unsetenv("CREDENTIALS_DIRECTORY");
  }
  void Write(const std::string& name, const std::string& content) { std::ofstream(dir_ + "/" + name) << content; }
  Result<Config> Load(const std::string& toml) {
    Write("t.toml", toml);
    return LoadConfig(dir_ + "/t.toml");
  }
  std::string Valid(const std::string& extra = "") {
    return "[storage]\npath = \"" + dir_ + "/db\"\n[admin]\ntoken_file = \"admin-token\"\n"
           "[[sources]]\nname = \"hr\"\nsecret_file = \"hr-secret\"\n"
           "[auth0]\ndomain = \"example.eu.auth0.com\"\nclient_id = \"cid\"\n"
           "client_secret_file = \"auth0-client-secret\"\napplication_client_id = \"app\"\n" + extra;
  }
  std::string dir_;
};

TEST_F(ConfigTest, ValidConfigLoadsWithDefaultsAndEverySecret) {
  auto c = Load(Valid());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->ingress.listen, "0.0.0.0:8080");
  EXPECT_EQ(c->ingress.max_body_bytes, 1048576u);
  ASSERT_EQ(c->sources.size(), 1u);
  EXPECT_EQ(c->sources[0].signature.secrets.size(), 2u) << "several lines = several secrets";
  EXPECT_EQ(c->auth0.client_secret, "super-secret-client-value");
  EXPECT_EQ(c->auth0.max_in_flight, 4);
  EXPECT_DOUBLE_EQ(c->auth0.rate_limit_fraction, 0.8);
  EXPECT_EQ(c->policy.on_create, std::vector<std::string>{"send_password_reset"});
}

TEST_F(ConfigTest, UnknownKeyNamesFileKeyAndReason) {
  auto c = Load(Valid("[policy]\nguard_max_destructiv = 5\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(dir_ + "/t.toml: policy.guard_max_destructiv: unknown key"), std::string::npos)
      << c.status().message();
}

TEST_F(ConfigTest, InvalidValuesAreRefusedAndAllReported) {
  auto c = Load(Valid("[policy]\ndrift_mode = \"fix\"\nguard_window_seconds = 0\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("policy.drift_mode: must be"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("policy.guard_window_seconds: must be between"), std::string::npos);
}

TEST_F(ConfigTest, TypeErrorsSayWhatWasExpected) {
  auto c = Load(Valid("[ingress]\nmax_body_bytes = \"big\"\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("ingress.max_body_bytes: must be an integer"), std::string::npos);
}

TEST_F(ConfigTest, PlainHttpOnlyToLoopback) {
  EXPECT_TRUE(Load(Valid("base_url = \"http://127.0.0.1:4000\"\n")).ok());
  auto c = Load(Valid("base_url = \"http://auth0.example.com\"\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("auth0.base_url: plain http"), std::string::npos);
}

TEST_F(ConfigTest, MissingSecretFileIsNamedButNoSecretIsShown) {
  Write("t2.toml", "");
  auto c = Load(Valid() + "\n[[sources]]\nname = \"crm\"\nscheme = \"hmac-sha256\"\nsecret_file = \"nope\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("sources[1].secret_file: cannot read secret file"), std::string::npos)
      << c.status().message();
  EXPECT_EQ(c.status().message().find("super-secret-client-value"), std::string::npos);
}

TEST_F(ConfigTest, BadStandardWebhooksSecretIsRefusedWithoutEchoingIt) {
  Write("hr-secret", "whsec_!!!not-base64!!!\n");
  auto c = Load(Valid());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("sources[0].secret_file"), std::string::npos) << c.status().message();
  EXPECT_EQ(c.status().message().find("not-base64"), std::string::npos);
}

TEST_F(ConfigTest, CredentialsDirectoryIsSearchedFirst) {
  std::string creds = testing::MakeTempDir("creds");
  std::ofstream(creds + "/auth0-client-secret") << "from-credentials-dir\n";
  setenv("CREDENTIALS_DIRECTORY", creds.c_str(), 1);
  auto c = Load(Valid());
  unsetenv("CREDENTIALS_DIRECTORY");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->auth0.client_secret, "from-credentials-dir");
}

TEST_F(ConfigTest, HmacOnlyKeysRefusedOnOtherSchemes) {
  auto c = Load(Valid() + "\n[[sources]]\nname = \"s2\"\nsecret_file = \"hr-secret\"\nheader = \"X-Sig\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("sources[1].header: only applies"), std::string::npos) << c.status().message();
}

TEST_F(ConfigTest, SyntaxErrorNamesLine) {
  auto c = Load("[storage\npath = 1\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(dir_ + "/t.toml:1:"), std::string::npos) << c.status().message();
}

TEST(ParseHostPort, Forms) {
  std::string h;
  int p = -1;
  EXPECT_TRUE(ParseHostPort("127.0.0.1:0", &h, &p));
  EXPECT_EQ(p, 0);
  EXPECT_TRUE(ParseHostPort("[::1]:8080", &h, &p));
  EXPECT_EQ(h, "::1");
  EXPECT_FALSE(ParseHostPort("localhost", &h, &p));
  EXPECT_FALSE(ParseHostPort("h:99999", &h, &p));
}

}  // namespace
}  // namespace tenantsync
