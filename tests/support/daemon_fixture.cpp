#include "tests/support/daemon_fixture.h"

#include <signal.h>

#include <ctime>
#include <fstream>

namespace tenantsync::testing {

std::string EventBody(const std::string& type, const nlohmann::json& data,
                      const std::string& timestamp) {
  return nlohmann::json{{"type", type}, {"timestamp", timestamp}, {"data", data}}.dump();
}

TestDaemon::TestDaemon(TestDaemonOptions options) : options_(std::move(options)) {
  dir_ = MakeTempDir("tenantsync-test");
  config_path_ = dir_ + "/tenantsync.toml";
  db_path_ = dir_ + "/tenantsync.db";
  admin_token_ = "test-admin-token-0123456789abcdef";
}

TestDaemon::~TestDaemon() {
  if (proc_) Stop(SIGTERM);
}

void TestDaemon::RewriteSecrets(const std::string& source,
                                const std::vector<std::string>& secrets) {
  for (auto& s : options_.sources) {
    if (s.name == source) s.secrets = secrets;
  }
  std::ofstream f(dir_ + "/" + source + "-secret");
  for (auto& s : secrets) f << s << "\n";
}

void TestDaemon::WriteConfig() {
  std::ofstream(dir_ + "/admin-token") << admin_token_ << "\n";
  std::ofstream(dir_ + "/auth0-client-secret") << options_.auth0_client_secret << "\n";
  std::ofstream cfg(config_path_);
  cfg << "[storage]\npath = \"" << db_path_ << "\"\n"
      << options_.storage_extra_toml << "\n"
      << "[ingress]\nlisten = \"127.0.0.1:0\"\n"
      << options_.ingress_extra_toml << "\n"
      << "[admin]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"admin-token\"\n\n";
  for (auto& s : options_.sources) {
    cfg << "[[sources]]\nname = \"" << s.name << "\"\nscheme = \"" << s.scheme << "\"\n";
    if (s.scheme != "declared") {  // a declared source has no secret
      RewriteSecrets(s.name, s.secrets);
      cfg << "secret_file = \"" << s.name << "-secret\"\n";
    }
    cfg << s.extra_toml << "\n";
  }
  cfg << "[auth0]\ndomain = \"tenant.example.com\"\nbase_url = \"" << options_.auth0_base_url
      << "\"\n"
      << "client_id = \"" << options_.auth0_client_id
      << "\"\nclient_secret_file = \"auth0-client-secret\"\n"
      << "application_client_id = \"" << options_.application_client_id << "\"\n\n"
      << options_.extra_toml;
}

bool TestDaemon::Start() {
  if (!std::ifstream(config_path_).good()) WriteConfig();
  std::vector<std::string> args = {"serve", "--config", config_path_};
  for (auto& a : options_.extra_args) args.push_back(a);
  proc_ = std::make_unique<Subprocess>(BuildPath("tenantsync"), args);
  ingress_port_ = proc_->WaitForPort("ingress listening on");
  admin_port_ = proc_->WaitForPort("admin listening on");
  if (ingress_port_ <= 0 || admin_port_ <= 0) return false;
  ingress_client_ = std::make_unique<TestHttpClient>("127.0.0.1", ingress_port_);
  admin_client_ = std::make_unique<TestHttpClient>("127.0.0.1", admin_port_);
  return true;
}

std::optional<int> TestDaemon::Stop(int signal) {
  if (!proc_) return std::nullopt;
  // Close our keep-alive connections first, as a real sender would between deliveries; an idle
  // keep-alive connection otherwise holds the drain for up to keep_alive_seconds.
  ingress_client_.reset();
  admin_client_.reset();
  proc_->Signal(signal);
  auto code = proc_->Wait(std::chrono::seconds(20));
  if (!code) {
    proc_->Signal(SIGKILL);
    proc_->Wait();
  }
  earlier_output_ += proc_->Output();
  proc_.reset();
  ingress_client_.reset();
  admin_client_.reset();
  return code;
}

std::string TestDaemon::Output() const { return earlier_output_ + (proc_ ? proc_->Output() : ""); }

SignatureOptions TestDaemon::Signing(const std::string& source) const {
  SignatureOptions o;
  for (auto& s : options_.sources) {
    if (s.name != source) continue;
    o.scheme = ParseSignatureScheme(s.scheme).value_or(SignatureScheme::kStandardWebhooks);
    o.secrets = s.secrets;
    if (s.extra_toml.find("id_header") != std::string::npos) {
      auto q1 = s.extra_toml.find('"', s.extra_toml.find("id_header"));
      auto q2 = s.extra_toml.find('"', q1 + 1);
      o.id_header = s.extra_toml.substr(q1 + 1, q2 - q1 - 1);
    }
  }
  return o;
}

TestResponse TestDaemon::PostEvent(const std::string& source, const std::string& event_id,
                                   const std::string& body, std::optional<int64_t> timestamp) {
  int64_t ts = timestamp.value_or(static_cast<int64_t>(std::time(nullptr)));
  HeaderList headers;
  for (auto& h : SignDelivery(Signing(source), event_id, ts, body)) headers.push_back(h);
  return ingress_client_->Post("/webhooks/" + source, body, headers);
}

TestResponse TestDaemon::AdminGet(const std::string& path) {
  return admin_client_->Get(path, {{"Authorization", "Bearer " + admin_token_}});
}

TestResponse TestDaemon::AdminPost(const std::string& path, const std::string& body) {
  return admin_client_->Post(path, body, {{"Authorization", "Bearer " + admin_token_}});
}

}  // namespace tenantsync::testing
