// The admin API's declared-source endpoints (issue 15, docs/ADMIN-API.md "Declared sources"),
// routed from AdminApi::Route after its token check:
//   GET  /v1/sources                       every configured source: {"sources": [{name, scheme}]}
//   GET  /v1/sources/{name}/declared       {source, revision, applied_at_ms, state}
//   GET  /v1/sources/{name}/live-fields    {source, since_ms, fields}: fields of the source's
//                                          entities another source set after its last apply
//   POST /v1/sources/{name}/apply          {base_revision, events, state} → stores the events in
//                                          the inbox and the state as revision base_revision + 1,
//                                          in one transaction (409 when the revision moved)
// Answers are JSON; errors {"error": "..."}: 400 malformed request, 404 unknown source or
// endpoint, 409 a source that is not declared or a stale base_revision, 503 storage unavailable.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "daemon/config.h"
#include "daemon/http_server.h"
#include "storage/sqlite_store.h"

namespace tenantsync {

class Writer;

// Largest apply body the admin listener reads (its other requests stay at 64 KiB).
inline constexpr size_t kMaxApplyBodyBytes = 64u * 1024 * 1024;
inline constexpr size_t kMaxAdminBodyBytes = 65536;

// Handles a request whose path is /v1/sources or starts with /v1/sources/. `writer` (may be
// null) is woken after a successful apply.
ServerResponse HandleSourcesRequest(const ServerRequest& req, SqliteStore& store, Clock& clock,
                                    const std::vector<SourceConfig>& sources, Writer* writer);

// Admin precheck: a body larger than kMaxAdminBodyBytes is refused (413) before it is read,
// except for POST /v1/sources/{name}/apply (up to kMaxApplyBodyBytes).
std::optional<ServerResponse> AdminBodyPrecheck(const ServerRequest& req);

}  // namespace tenantsync
