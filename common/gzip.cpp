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

Status GzipDecompressChunks(std::string_view data,
                            const std::function<Status(std::string_view chunk)>& sink) {
  if (!LooksGzipped(data)) return Status::Invalid("gzip: not gzip data");
  z_stream z{};
  if (inflateInit2(&z, kGzipWindowBits) != Z_OK) {
    return Status::Invalid("gzip: cannot initialise the decompressor");
  }
  z.next_in = In(data);
  z.avail_in = static_cast<uInt>(data.size());
  std::string buf(size_t{1} << 16, '\0');
  int rc = Z_OK;
  Status st;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf.data());
    z.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&z, Z_NO_FLUSH);
    const size_t produced = buf.size() - z.avail_out;
    if (produced > 0 && (rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR)) {
      st = sink(std::string_view(buf.data(), produced));
      if (!st.ok()) break;
    }
    // Concatenated members (RFC 1952 allows them) continue after a stream end.
    if (rc == Z_STREAM_END && z.avail_in > 0) rc = inflateReset(&z);
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  // truncated input, reported below
  }
  inflateEnd(&z);
  if (!st.ok()) return st;
  if (rc != Z_STREAM_END) return Status::Invalid("gzip: corrupt or truncated data");
  return Status::Ok();
}

Result<std::string> GzipDecompress(std::string_view data) {
  std::string out;
  Status st = GzipDecompressChunks(data, [&](std::string_view chunk) {
    out.append(chunk);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Status LineSplitter::Add(std::string_view chunk) {
  size_t pos = 0;
  while (pos < chunk.size()) {
    const size_t nl = chunk.find('\n', pos);
    if (nl == std::string_view::npos) {
      carry_.append(chunk.substr(pos));
      break;
    }
    Status st;
    if (carry_.empty()) {
      st = line_(chunk.substr(pos, nl - pos));
    } else {
      carry_.append(chunk.substr(pos, nl - pos));
      st = line_(carry_);
      carry_.clear();
    }
    if (!st.ok()) return st;
    pos = nl + 1;
  }
  return Status::Ok();
}

Status LineSplitter::Finish() {
  if (carry_.empty()) return Status::Ok();
  Status st = line_(carry_);
  carry_.clear();
  return st;
}

}  // namespace tenantsync
