// Test support: RFC 3339 text for a Unix time, as senders write `timestamp` and
// `data.effective_at` ("2026-11-25T10:00:00.123Z", UTC, milliseconds).
#pragma once

#include <cstdint>
#include <string>

namespace tenantsync::testing {

std::string Rfc3339Ms(int64_t unix_ms);

}  // namespace tenantsync::testing
