// Config: the whole TOML configuration (SPEC §3), loaded and validated once at start-up (and
// again on SIGHUP). Every error names the file, the key and the reason; unknown keys and invalid
// values are refused. Secrets are read from the files named by *_file keys: a relative name is
// looked up in $CREDENTIALS_DIRECTORY first (systemd LoadCredential=), then next to the
// configuration file. Secrets never appear in error messages.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "adapters/auth0/options.h"
#include "adapters/signature/signature.h"
#include "adapters/vendors/vendor_api.h"
#include "adapters/vendors/vendors.h"
#include "common/status.h"
#include "daemon/operators/authz.h"
#include "daemon/quarantine.h"
#include "storage/sqlite_store.h"

namespace tenantsync {

struct IngressOptions {
  std::string listen = "0.0.0.0:8080";  // "HOST:PORT", "[v6]:PORT"; port 0 = ephemeral
  std::string tls_cert_file;            // both set: HTTPS
  std::string tls_key_file;
  size_t max_body_bytes = 1048576;
  int worker_threads = 32;          // requests handled at once
  int max_queued_connections = 64;  // complete requests waiting for a worker; beyond: 503
  int read_timeout_seconds = 10;    // longest silence within a request (TLS: per read)
  int write_timeout_seconds = 10;
  int keep_alive_seconds = 5;   // idle keep-alive connections are closed after this
  int retry_after_seconds = 5;  // Retry-After on 503
  // Plain-HTTP listener limits (docs/CONFIGURATION.md; refused together with TLS).
  int max_connections = 1024;             // open connections
  int max_connections_per_peer = 128;     // per remote address; 0 = no cap
  int request_head_timeout_seconds = 5;   // whole request head
  int request_body_timeout_seconds = 20;  // whole body, after the head
  size_t max_head_bytes = 16384;          // request line and header fields
  // accepted/duplicate event lines per second; beyond, counted in one summary line (0 = all)
  int log_events_per_second = 100;
};

// One [[admin.tokens]] entry (issue 16): a named token with a role.
struct AdminToken {
  std::string name;  // ^[a-z0-9][a-z0-9_-]{0,63}$, unique; recorded with what the token does
  std::string token_file;
  std::string token;  // secret, read from token_file (first line, at least 16 characters)
  Role role = Role::kViewer;
  std::vector<std::string> organizations;  // org-admin only (required there, refused elsewhere)
};

struct AdminOptions {
  std::string listen = "127.0.0.1:8081";  // or "unix:/run/tenantsync/admin.sock"
  std::string token_file = "admin-token";
  std::string token;               // secret, read from token_file: the token "admin"
  std::vector<AdminToken> tokens;  // [[admin.tokens]]; every secret differs from the rest
  std::string tls_cert_file;       // both set: HTTPS (session cookies then get Secure)
  std::string tls_key_file;
  int max_connections = 64;              // open connections (slow ones closed first at the cap)
  int request_head_timeout_seconds = 5;  // whole request head

  // Every token the admin API accepts: "admin" (token_file, role admin) first, then `tokens`.
  std::vector<AdminToken> AllTokens() const;
};

// The source of events submitted through the admin API (POST /v1/events); no [[sources]] entry
// may take this name.
inline constexpr char kConsoleSource[] = "console";

struct SourceConfig {
  std::string name;  // URL segment: POST /webhooks/{name}; ^[a-z0-9][a-z0-9_-]{0,63}$
  // scheme = "declared" (issue 15, docs/DECLARED.md): its events come from `tenantsync apply`
  // through the admin API; it has no secret and ingress refuses webhooks posted to it.
  bool declared = false;
  std::string secret_file;
  SignatureOptions signature;  // secrets filled from secret_file (one per non-empty line)
  // scheme = "scim" (issue 18, docs/SCIM.md): a SCIM 2.0 client (Okta, Entra, ...) provisions
  // under /scim/v2/; secret_file holds bearer tokens (one per line, any one is valid) and
  // signature.secrets stays empty, so webhooks posted to such a source never verify.
  bool scim = false;
  std::vector<std::string> scim_tokens;              // secret
  std::map<std::string, std::string> scim_role_map;  // roles[].value → Auth0 role name
  bool scim_delete_users = false;                    // scim_on_delete = "delete"
  // scheme = "bamboohr" | "hibob" | "personio" | "hubspot" (issue 18, docs/CONNECTORS.md): the
  // vendor's own signature (vendor_verify.secrets from secret_file), the vendor API the record is
  // fetched from (vendor_api.credential from credentials_file; empty when no credentials_file,
  // then only payloads that carry values can be mapped) and [sources.mapping] as a JSON table,
  // validated with ParseMapping at load. signature.secrets stays empty.
  std::optional<Vendor> vendor;
  VendorVerifyOptions vendor_verify;
  VendorApiOptions vendor_api;
  nlohmann::json vendor_mapping;  // null: the vendor's default mapping
};

struct PolicyOptions {
  bool adopt_existing = true;
  std::vector<std::string> on_create = {"send_password_reset"};  // or send_verification_email
  std::vector<std::string> on_leave = {"block", "remove_memberships", "revoke_sessions"};
  int delete_after_days = 0;
  int guard_max_destructive = 50;
  double guard_max_fraction = 0.05;
  int guard_window_seconds = 600;
  int guard_settle_ms = 2000;  // destructive events this close together are judged as one burst
  int drift_interval_seconds = 3600;
  std::string drift_mode = "correct";  // or "report"
  // Above this many managed users drift reads users through one export job, else through search.
  int drift_user_export_threshold = 2000;
  // Members missing from a list within this long of tenantsync adding members there are not judged.
  int drift_member_list_lag_seconds = 60;
};

struct Config {
  std::string path;  // the file this was loaded from
  StorageOptions storage;
  IngressOptions ingress;
  AdminOptions admin;
  std::vector<SourceConfig> sources;
  Auth0Options auth0;
  QuarantineOptions quarantine;  // [auth0] quarantine_* keys
  PolicyOptions policy;

  const SourceConfig* FindSource(std::string_view name) const;
};

// Parses and validates `path`. Errors are kInvalid with "FILE: KEY: reason".
Result<Config> LoadConfig(const std::string& path);

// Parses a "HOST:PORT" listen address ("[::1]:0" for IPv6). Returns false on a malformed one.
bool ParseHostPort(const std::string& listen, std::string* host, int* port);

// Reads a secret file: `name` relative → $CREDENTIALS_DIRECTORY/name if it exists, else
// relative to `base_dir`. Returns the non-empty lines (trailing whitespace trimmed). Errors name
// the file, never its content.
Result<std::vector<std::string>> ReadSecretLines(const std::string& name,
                                                 const std::string& base_dir);

}  // namespace tenantsync
