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
    Write("hr-secret",
          "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n\nwhsec_c2Vjb25kIHNlY3JldCBmb3Igcm90YXRpb24\n");
    Write("auth0-client-secret", "super-secret-client-value\n");
    unsetenv("CREDENTIALS_DIRECTORY");
  }
  void Write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ + "/" + name) << content;
  }
  Result<Config> Load(const std::string& toml) {
    Write("t.toml", toml);
    return LoadConfig(dir_ + "/t.toml");
  }
  std::string Valid(const std::string& extra = "") {
    return "[storage]\npath = \"" + dir_ +
           "/db\"\n[admin]\ntoken_file = \"admin-token\"\n"
           "[[sources]]\nname = \"hr\"\nsecret_file = \"hr-secret\"\n"
           "[auth0]\ndomain = \"example.eu.auth0.com\"\nclient_id = \"cid\"\n"
           "client_secret_file = \"auth0-client-secret\"\napplication_client_id = \"app\"\n" +
           extra;
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
  EXPECT_NE(c.status().message().find(dir_ + "/t.toml: policy.guard_max_destructiv: unknown key"),
            std::string::npos)
      << c.status().message();
}

TEST_F(ConfigTest, InvalidValuesAreRefusedAndAllReported) {
  auto c = Load(Valid("[policy]\ndrift_mode = \"fix\"\nguard_window_seconds = 0\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("policy.drift_mode: must be"), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("policy.guard_window_seconds: must be between"),
            std::string::npos);
}

TEST_F(ConfigTest, TypeErrorsSayWhatWasExpected) {
  auto c = Load(Valid("[ingress]\nmax_body_bytes = \"big\"\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("ingress.max_body_bytes: must be an integer"),
            std::string::npos);
}

TEST_F(ConfigTest, PlainHttpOnlyToLoopback) {
  EXPECT_TRUE(Load(Valid("base_url = \"http://127.0.0.1:4000\"\n")).ok());
  auto c = Load(Valid("base_url = \"http://auth0.example.com\"\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("auth0.base_url: plain http"), std::string::npos);
}

TEST_F(ConfigTest, MissingSecretFileIsNamedButNoSecretIsShown) {
  Write("t2.toml", "");
  auto c =
      Load(Valid() +
           "\n[[sources]]\nname = \"crm\"\nscheme = \"hmac-sha256\"\nsecret_file = \"nope\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("sources[1].secret_file: cannot read secret file"),
            std::string::npos)
      << c.status().message();
  EXPECT_EQ(c.status().message().find("super-secret-client-value"), std::string::npos);
}

TEST_F(ConfigTest, BadStandardWebhooksSecretIsRefusedWithoutEchoingIt) {
  Write("hr-secret", "whsec_!!!not-base64!!!\n");
  auto c = Load(Valid());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("sources[0].secret_file"), std::string::npos)
      << c.status().message();
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
  auto c = Load(Valid() +
                "\n[[sources]]\nname = \"s2\"\nsecret_file = \"hr-secret\"\nheader = \"X-Sig\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("sources[1].header: only applies"), std::string::npos)
      << c.status().message();
}

TEST_F(ConfigTest, RetentionKeysHaveDefaultsAndAreCheckedAtLoad) {
  auto c = Load(Valid());
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->storage.retention.event_body_retention_days, 30);
  EXPECT_EQ(c->storage.retention.mutation_retention_days, 90);
  EXPECT_EQ(c->storage.retention.compaction_interval_seconds, 3600);
  EXPECT_EQ(c->storage.retention.compaction_batch_rows, 1000);
  EXPECT_EQ(c->storage.reader_connections, 4);
  // Inserted into the [storage] table Valid() writes.
  auto with = [&](const std::string& keys) {
    std::string toml = Valid();
    toml.insert(toml.find("/db\"\n") + 5, keys);
    return Load(toml);
  };
  auto set = with(
      "event_body_retention_days = 0\nmutation_retention_days = 365\n"
      "compaction_interval_seconds = 0\ncompaction_batch_rows = 500\nreader_connections = 2\n");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->storage.retention.event_body_retention_days, 0);
  EXPECT_EQ(set->storage.retention.mutation_retention_days, 365);
  EXPECT_EQ(set->storage.retention.compaction_interval_seconds, 0);
  EXPECT_EQ(set->storage.retention.compaction_batch_rows, 500);
  EXPECT_EQ(set->storage.reader_connections, 2);
  struct Bad {
    const char* keys;
    const char* message;
  };
  for (const Bad& b :
       {Bad{"event_body_retention_days = -1\n",
            "storage.event_body_retention_days: must be between 0 and 36500"},
        Bad{"compaction_interval_seconds = 30\n",
            "storage.compaction_interval_seconds: must be 0 (never compact) or at "
            "least 60"},
        Bad{"compaction_batch_rows = 1\n",
            "storage.compaction_batch_rows: must be between 10 and 100000"},
        Bad{"reader_connections = 0\n", "storage.reader_connections: must be between 1 and 16"}}) {
    auto bad = with(b.keys);
    ASSERT_FALSE(bad.ok()) << b.keys;
    EXPECT_NE(bad.status().message().find(b.message), std::string::npos) << bad.status().message();
  }
}

TEST_F(ConfigTest, SyntaxErrorNamesLine) {
  auto c = Load("[storage\npath = 1\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(dir_ + "/t.toml:1:"), std::string::npos)
      << c.status().message();
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

namespace tenantsync {
namespace {

class ListenerLimitsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("config-limits");
    std::ofstream(dir_ + "/admin-token") << "an-admin-token-of-enough-length\n";
    std::ofstream(dir_ + "/hr-secret") << "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n";
    std::ofstream(dir_ + "/auth0-client-secret") << "super-secret-client-value\n";
  }
  Result<Config> Load(const std::string& ingress, const std::string& admin = "") {
    std::ofstream(dir_ + "/t.toml")
        << "[storage]\npath = \"" << dir_ << "/db\"\n[ingress]\n"
        << ingress << "[admin]\ntoken_file = \"admin-token\"\n"
        << admin << "[[sources]]\nname = \"hr\"\nsecret_file = \"hr-secret\"\n"
        << "[auth0]\ndomain = \"example.eu.auth0.com\"\nclient_id = \"cid\"\n"
        << "client_secret_file = \"auth0-client-secret\"\napplication_client_id = \"app\"\n";
    return LoadConfig(dir_ + "/t.toml");
  }
  std::string dir_;
};

TEST_F(ListenerLimitsConfigTest, DefaultsAndValues) {
  auto d = Load("");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->ingress.max_connections, 1024);
  EXPECT_EQ(d->ingress.max_connections_per_peer, 128);
  EXPECT_EQ(d->ingress.request_head_timeout_seconds, 5);
  EXPECT_EQ(d->ingress.request_body_timeout_seconds, 20);
  EXPECT_EQ(d->ingress.max_head_bytes, 16384u);
  EXPECT_EQ(d->ingress.log_events_per_second, 100);
  EXPECT_EQ(d->admin.max_connections, 64);
  auto c = Load(
      "max_connections = 200\nmax_connections_per_peer = 0\nrequest_head_timeout_seconds = 2\n"
      "request_body_timeout_seconds = 30\nmax_head_bytes = 8192\nlog_events_per_second = 0\n",
      "max_connections = 16\nrequest_head_timeout_seconds = 3\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->ingress.max_connections, 200);
  EXPECT_EQ(c->ingress.max_connections_per_peer, 0);
  EXPECT_EQ(c->ingress.request_head_timeout_seconds, 2);
  EXPECT_EQ(c->ingress.request_body_timeout_seconds, 30);
  EXPECT_EQ(c->ingress.max_head_bytes, 8192u);
  EXPECT_EQ(c->ingress.log_events_per_second, 0);
  EXPECT_EQ(c->admin.max_connections, 16);
  EXPECT_EQ(c->admin.request_head_timeout_seconds, 3);
}

TEST_F(ListenerLimitsConfigTest, OutOfRangeAndTlsCombinationsAreRefused) {
  auto c = Load("max_connections = 4\nrequest_head_timeout_seconds = 0\n", "max_connections = 0\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("ingress.max_connections: must be between 8 and 65536"),
            std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("ingress.request_head_timeout_seconds: must be between"),
            std::string::npos);
  EXPECT_NE(c.status().message().find("admin.max_connections: must be between"), std::string::npos);
  c = Load("tls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"\nmax_connections = 100\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("ingress.max_connections: applies to plain-HTTP listeners "
                                      "only; with tls_cert_file set, terminate TLS in a reverse "
                                      "proxy"),
            std::string::npos)
      << c.status().message();
  EXPECT_TRUE(Load("tls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"\n").ok());
}

// [[admin.tokens]] (issue 16): named tokens with a role, validated once at start-up.
class AdminTokensConfigTest : public ConfigTest {
 protected:
  static std::string Token(const std::string& name, const std::string& file,
                           const std::string& role, const std::string& extra = "") {
    return "[[admin.tokens]]\nname = \"" + name + "\"\ntoken_file = \"" + file + "\"\nrole = \"" +
           role + "\"\n" + extra;
  }
  std::string Error(const std::string& tokens) {
    auto c = Load(Valid(tokens));
    return c.ok() ? "(loaded)" : c.status().message();
  }
};

TEST_F(AdminTokensConfigTest, EveryRoleLoadsAndAllTokensStartWithTheAdminToken) {
  Write("viewer-token", "viewer-token-0123456789\n");
  Write("acme-token", "acme-admins-token-0123456789\n");
  auto c = Load(Valid(Token("ops-viewer", "viewer-token", "viewer") +
                      Token("acme-admins", "acme-token", "org-admin",
                            "organizations = [\"acme\", \"acme-eu\"]\n")));
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto all = c->admin.AllTokens();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, "admin");
  EXPECT_EQ(all[0].role, Role::kAdmin);
  EXPECT_EQ(all[0].token, "an-admin-token-of-enough-length");
  EXPECT_EQ(all[1].name, "ops-viewer");
  EXPECT_EQ(all[1].role, Role::kViewer);
  EXPECT_EQ(all[1].token, "viewer-token-0123456789");
  EXPECT_EQ(all[2].role, Role::kOrgAdmin);
  EXPECT_EQ(all[2].organizations, (std::vector<std::string>{"acme", "acme-eu"}));
}

TEST_F(AdminTokensConfigTest, RefusalsNameTheEntryAndKeyWithoutShowingSecrets) {
  Write("t1", "first-token-0123456789\n");
  Write("t2", "second-token-0123456789\n");
  Write("short", "short\n");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {Token("Bad Name", "t1", "viewer"), "admin.tokens[0].name: must match"},
      {Token("ops", "t1", "viewer") + Token("ops", "t2", "viewer"),
       "admin.tokens[1].name: duplicate token name \"ops\""},
      {Token("admin", "t1", "viewer"), "admin.tokens[0].name: \"admin\" is the name"},
      {Token("ops", "t1", "superuser"),
       "admin.tokens[0].role: must be one of admin, operator, viewer, org-admin"},
      {"[[admin.tokens]]\nname = \"ops\"\ntoken_file = \"t1\"\n",
       "admin.tokens[0].role: is required"},
      {Token("acme", "t1", "org-admin"),
       "admin.tokens[0].organizations: is required for role org-admin"},
      {Token("acme", "t1", "org-admin", "organizations = []\n"),
       "admin.tokens[0].organizations: is required for role org-admin"},
      {Token("ops", "t1", "operator", "organizations = [\"acme\"]\n"),
       "admin.tokens[0].organizations: only applies to role org-admin"},
      {Token("ops", "missing-file", "viewer"),
       "admin.tokens[0].token_file: cannot read secret file"},
      {Token("ops", "short", "viewer"),
       "admin.tokens[0].token_file: the token must be at least 16"},
      {Token("ops", "t1", "viewer") + Token("ops2", "t1", "operator"),
       "admin.tokens[1].token_file: holds the same token as admin.tokens[0].token_file"},
      {Token("ops", "admin-token", "viewer"),
       "admin.tokens[0].token_file: holds the same token as admin.token_file"},
      {Token("ops", "t1", "viewer", "colour = \"red\"\n"), "admin.tokens[0].colour: unknown key"},
  };
  for (const auto& [toml, want] : cases) {
    const std::string message = Error(toml);
    EXPECT_NE(message.find(want), std::string::npos) << toml << "\n→ " << message;
    for (const char* secret :
         {"first-token-0123456789", "second-token-0123456789", "an-admin-token-of-enough-length"})
      EXPECT_EQ(message.find(secret), std::string::npos) << message;
  }
}

TEST_F(AdminTokensConfigTest, ConsoleIsNotASourceName) {
  auto c = Load(Valid() + "[[sources]]\nname = \"console\"\nsecret_file = \"hr-secret\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("sources[1].name: \"console\" is reserved"),
            std::string::npos)
      << c.status().message();
}

TEST_F(AdminTokensConfigTest, AdminTlsFilesGoTogetherAndNotOnUnixSockets) {
  auto c = Load(Valid());
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->admin.tls_cert_file.empty());
  // The [admin] table is written by Valid(); its TLS keys are tested through a full file.
  Write("t.toml", "[storage]\npath = \"" + dir_ +
                      "/db\"\n[admin]\ntoken_file = \"admin-token\"\ntls_cert_file = \"c.pem\"\n"
                      "listen = \"unix:/tmp/x.sock\"\n"
                      "[[sources]]\nname = \"hr\"\nsecret_file = \"hr-secret\"\n"
                      "[auth0]\ndomain = \"example.eu.auth0.com\"\nclient_id = \"cid\"\n"
                      "client_secret_file = \"auth0-client-secret\"\n"
                      "application_client_id = \"app\"\n");
  auto bad = LoadConfig(dir_ + "/t.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(
                "admin.tls_key_file: tls_cert_file and tls_key_file must be set together"),
            std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("admin.tls_cert_file: does not apply to a unix: listener"),
            std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace tenantsync
