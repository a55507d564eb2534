#include "common/gzip.h"

#include <zlib.h>

namespace tenantsync {
namespace {

// windowBits 15 + 16: zlib writes and reads the gzip wrapper instead of the zlib one.
constexpr int kGzipWindowBits = 15 + 16;

Bytef* In(std::string_view s) { return reinterpret_cast<Bytef*>(const_cast<char*>(s.data())); }

}  // namespace

bool LooksGzipped(std::string_view data) {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
         static_cast<unsigned char>(data[1]) == 0x8b;
}

Result<std::string> GzipCompress(std::string_view data) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return Status::Invalid("gzip: cannot initialise the compressor");
  }
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 64, '\0');
  z.next_in = In(data);
  z.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (z.total_out == out.size()) out.resize(out.size() * 2);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + z.total_out);
    z.avail_out = static_cast<uInt>(out.size() - z.total_out);
    rc = deflate(&z, Z_FINISH);
  }
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return Status::Invalid("gzip: compression failed");
  return out;
}

Result<std::string> GzipDecompress(std::string_view data) {
  if (!LooksGzipped(data)) return Status::Invalid("gzip: not gzip data");
  z_stream z{};
  if (inflateInit2(&z, kGzipWindowBits) != Z_OK) {
    return Status::Invalid("gzip: cannot initialise the decompressor");
  }
  z.next_in = In(data);
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - z.avail_out);
    // Concatenated members (RFC 1952 allows them) continue after a stream end.
    if (rc == Z_STREAM_END && z.avail_in > 0) rc = inflateReset(&z);
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  // truncated input, reported below
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return Status::Invalid("gzip: corrupt or truncated data");
  return out;
}

}  // namespace tenantsync
