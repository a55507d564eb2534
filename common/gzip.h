// gzip (RFC 1952) in memory, over zlib. Used for users export files: auth0-sim writes them,
// the Auth0 client reads them.
//
// Thread safety: pure functions. Errors are values (kInvalid), never exceptions.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tenantsync {

// Compresses `data` into one gzip member.
Result<std::string> GzipCompress(std::string_view data);

// Decompresses gzip data (concatenated members too). kInvalid for data that is not gzip or is
// truncated or corrupt.
Result<std::string> GzipDecompress(std::string_view data);

// Decompresses like GzipDecompress but hands the output to `sink` piece by piece (up to 64 KiB
// each) instead of building it whole: a users export of 100,000 people is ~40 MB decompressed.
// Stops at, and returns, the first error `sink` returns.
Status GzipDecompressChunks(std::string_view data,
                            const std::function<Status(std::string_view chunk)>& sink);

// Splits a stream of text chunks into lines ('\n'; a final line without one included), handing
// each to `line` without building the whole text. Feed chunks with Add, then call Finish.
class LineSplitter {
 public:
  explicit LineSplitter(std::function<Status(std::string_view line)> line)
      : line_(std::move(line)) {}
  Status Add(std::string_view chunk);
  Status Finish();

 private:
  std::function<Status(std::string_view)> line_;
  std::string carry_;  // the start of a line whose end is in a later chunk
};

// Whether `data` starts with the gzip magic bytes (1f 8b).
bool LooksGzipped(std::string_view data);

}  // namespace tenantsync
