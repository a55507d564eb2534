// gzip (RFC 1952) in memory, over zlib. Used for users export files: auth0-sim writes them,
// the Auth0 client reads them.
//
// Thread safety: pure functions. Errors are values (kInvalid), never exceptions.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace tenantsync {

// Compresses `data` into one gzip member.
Result<std::string> GzipCompress(std::string_view data);

// Decompresses gzip data (concatenated members too). kInvalid for data that is not gzip or is
// truncated or corrupt.
Result<std::string> GzipDecompress(std::string_view data);

// Whether `data` starts with the gzip magic bytes (1f 8b).
bool LooksGzipped(std::string_view data);

}  // namespace tenantsync
