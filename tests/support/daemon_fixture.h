// Test support: a real `tenantsync serve` process with a temp directory holding its config,
// secrets and database; ports chosen at run time. Signs and posts events like a real sender.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "adapters/signature/signature.h"
#include "tests/support/http_client.h"
#include "tests/support/subprocess.h"

namespace tenantsync::testing {

struct TestSource {
  std::string name = "hr";
  std::string scheme = "standard-webhooks";
  std::vector<std::string> secrets = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
  std::string extra_toml;  // e.g. "id_header = \"X-Request-Id\"\n"
};

struct TestDaemonOptions {
  std::vector<TestSource> sources = {TestSource{}};
  std::string auth0_base_url = "http://127.0.0.1:9";  // nothing listens there unless a sim does
  std::string auth0_client_id = "tenantsync-test-client";
  std::string auth0_client_secret = "sim-client-secret-0123456789";
  std::string application_client_id = "tenantsync-test-client";
  std::string extra_toml;          // appended verbatim (e.g. a [policy] section)
  std::string ingress_extra_toml;  // appended inside [ingress]
  std::string storage_extra_toml;  // appended inside [storage]
  std::vector<std::string> extra_args;
};

class TestDaemon {
 public:
  explicit TestDaemon(TestDaemonOptions options = {});
  ~TestDaemon();

  // Writes the config (first call only) and starts the process; true once both listeners are up.
  bool Start();
  // SIGKILL (crash) or SIGTERM (drain); returns the exit code.
  std::optional<int> Stop(int signal);
  void RewriteSecrets(const std::string& source, const std::vector<std::string>& secrets);
  Subprocess* process() { return proc_.get(); }
  // Everything every run of the process printed so far (kept across Stop/Start).
  std::string Output() const;

  const std::string& dir() const { return dir_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& db_path() const { return db_path_; }
  const std::string& admin_token() const { return admin_token_; }
  int ingress_port() const { return ingress_port_; }
  int admin_port() const { return admin_port_; }

  // The signing settings of a configured source (secrets as written to its file).
  SignatureOptions Signing(const std::string& source) const;
  // Signs `body` as `source` would and posts it to /webhooks/{source}.
  TestResponse PostEvent(const std::string& source, const std::string& event_id,
                         const std::string& body, std::optional<int64_t> timestamp = std::nullopt);
  TestResponse AdminGet(const std::string& path);
  TestResponse AdminPost(const std::string& path, const std::string& body = "{}");

 private:
  void WriteConfig();

  TestDaemonOptions options_;
  std::string dir_, config_path_, db_path_, admin_token_;
  std::unique_ptr<Subprocess> proc_;
  std::string earlier_output_;
  int ingress_port_ = 0, admin_port_ = 0;
  std::unique_ptr<TestHttpClient> ingress_client_, admin_client_;
};

// A standard event body: {"type": type, "timestamp": RFC 3339 now-ish, "data": data}.
std::string EventBody(const std::string& type, const nlohmann::json& data,
                      const std::string& timestamp = "2026-11-25T10:00:00Z");

}  // namespace tenantsync::testing
