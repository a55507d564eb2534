// The admin API on a unix socket: owner-only permissions, and the CLI reaches it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/support/subprocess.h"

namespace tenantsync::testing {
namespace {

TEST(UnixAdmin, SocketIsOwnerOnlyAndServesTheCli) {
  std::string dir = MakeTempDir("unix-admin");
  std::ofstream(dir + "/admin-token") << "unix-admin-token-0123456789\n";
  std::ofstream(dir + "/hr-secret") << "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n";
  std::ofstream(dir + "/auth0-secret") << "x\n";
  std::ofstream(dir + "/t.toml")
      << "[storage]\npath = \"" << dir << "/t.db\"\n"
      << "[ingress]\nlisten = \"127.0.0.1:0\"\n"
      << "[admin]\nlisten = \"unix:" << dir << "/admin.sock\"\ntoken_file = \"admin-token\"\n"
      << "[[sources]]\nname = \"hr\"\nsecret_file = \"hr-secret\"\n"
      << "[auth0]\ndomain = \"tenant.example.com\"\nbase_url = \"http://127.0.0.1:9\"\n"
      << "client_id = \"c\"\nclient_secret_file = \"auth0-secret\"\napplication_client_id = "
         "\"c\"\n";
  Subprocess daemon(BuildPath("tenantsync"), {"serve", "--config", dir + "/t.toml"});
  ASSERT_TRUE(daemon.WaitForLine("admin listening on unix:" + dir + "/admin.sock"))
      << daemon.Output();

  struct stat st {};
  ASSERT_EQ(stat((dir + "/admin.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the admin socket must be owner-only";

  Subprocess cli(BuildPath("tenantsync"), {"status", "--json", "--config", dir + "/t.toml"});
  ASSERT_EQ(cli.Wait(), 0) << cli.Output();
  EXPECT_NE(cli.Output().find("\"events\""), std::string::npos) << cli.Output();

  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.Wait(std::chrono::seconds(20)), 0);
  EXPECT_NE(stat((dir + "/admin.sock").c_str(), &st), 0) << "the socket is removed on exit";
}

}  // namespace
}  // namespace tenantsync::testing
