#include "daemon/http/http1.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <nlohmann/json.hpp>

namespace tenantsync::http {
namespace {

// Header fields room is made for before reading a head (ParseHead).
constexpr size_t kHeadersReserved = 16;

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// RFC 9110 §5.6.2 tchar, as a table: the head parser asks for every byte of the method and of
// every field name (~100 per webhook delivery; issue 13), and std::isalnum is a libc call each.
constexpr std::array<bool, 256> kTchar = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool IsTchar(unsigned char c) { return kTchar[c]; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether a comma-separated header value holds `token` (case-insensitive).
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    if (IEquals(Trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

ParseResult Fail(int status, std::string message) {
  ParseResult r;
  r.error = HeadError{status, std::move(message)};
  return r;
}

}  // namespace

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (AsciiLower(a[k]) != AsciiLower(b[k])) return false;
  }
  return true;
}

std::optional<size_t> FindHeadEnd(std::string_view buffer, size_t* scanned) {
  // The head ends with LF [CR] LF; resume one position before where the last scan ended (up to
  // two bytes of a terminator may already have been seen). memchr jumps from line to line.
  size_t i = *scanned > 2 ? *scanned - 2 : 0;
  const char* data = buffer.data();
  while (i < buffer.size()) {
    const void* lf = std::memchr(data + i, '\n', buffer.size() - i);
    if (lf == nullptr) break;
    i = static_cast<size_t>(static_cast<const char*>(lf) - data);
    if (i + 1 < buffer.size() && buffer[i + 1] == '\n') return i + 2;
    if (i + 2 < buffer.size() && buffer[i + 1] == '\r' && buffer[i + 2] == '\n') return i + 3;
    ++i;
  }
  *scanned = buffer.size();
  return std::nullopt;
}

std::string PercentDecode(std::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%' && i + 2 < in.size()) {
      int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_as_space && c == '+' ? ' ' : c);
  }
  return out;
}

ParseResult ParseHead(std::string_view head, const HeadLimits& limits) {
  if (head.size() > limits.max_head_bytes)
    return Fail(431, "request header fields too large: the request head is longer than " +
                         std::to_string(limits.max_head_bytes) + " bytes");
  ParsedHead out;
  ServerRequest& req = out.request;
  size_t pos = 0;
  // Lines end in LF, optionally preceded by CR; a CR anywhere else is refused.
  auto next_line = [&](std::string_view* line) {
    size_t lf = head.find('\n', pos);
    if (lf == std::string_view::npos) return false;
    *line = head.substr(pos, lf - pos);
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    pos = lf + 1;
    return true;
  };
  std::string_view line;
  // RFC 9112 §2.2: empty lines before the request line are ignored.
  do {
    if (!next_line(&line)) return Fail(400, "bad request: the request line is missing");
  } while (line.empty() && pos < head.size());
  if (line.empty()) return Fail(400, "bad request: the request line is missing");

  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return Fail(400, "bad request: the request line must be METHOD TARGET HTTP-VERSION");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (method.empty()) return Fail(400, "bad request: the method is empty");
  for (unsigned char c : method) {
    if (!IsTchar(c)) return Fail(400, "bad request: the method is not a token");
  }
  if (target.size() > limits.max_target_bytes)
    return Fail(414, "URI too long: the request target is longer than " +
                         std::to_string(limits.max_target_bytes) + " bytes");
  if (target.empty() || target.front() != '/')
    return Fail(400, "bad request: the request target must be a path starting with \"/\"");
  for (unsigned char c : target) {
    if (c <= 0x20 || c == 0x7f)
      return Fail(400, "bad request: the request target holds a control character");
  }
  if (version == "HTTP/1.1") {
    out.keep_alive = true;
  } else if (version == "HTTP/1.0") {
    out.keep_alive = false;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[6] == '.') {
    return Fail(505, "HTTP version not supported: only HTTP/1.0 and HTTP/1.1 are served");
  } else {
    return Fail(400, "bad request: the request line must end with HTTP/1.1 or HTTP/1.0");
  }
  req.method = std::string(method);
  out.head_method = method == "HEAD";
  size_t q = target.find('?');
  req.path = PercentDecode(target.substr(0, q), false);
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    size_t hash = query.find('#');
    if (hash != std::string_view::npos) query = query.substr(0, hash);
    req.query = std::string(query);
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      if (!pair.empty()) {
        size_t eq = pair.find('=');
        std::string key = PercentDecode(pair.substr(0, eq), true);
        std::string value =
            eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true);
        req.params.emplace(std::move(key), std::move(value));
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }

  std::optional<std::string> content_length;
  bool connection_close = false, connection_keep_alive = false;
  // A signed webhook carries ~10 fields: one allocation instead of the vector doubling its way
  // there, moving every string it holds each time.
  req.headers.reserve(std::min<size_t>(kHeadersReserved, limits.max_header_fields));
  while (next_line(&line)) {
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t')
      return Fail(400, "bad request: obsolete header line folding is not accepted");
    if (req.headers.size() >= limits.max_header_fields)
      return Fail(431, "request header fields too large: more than " +
                           std::to_string(limits.max_header_fields) + " header fields");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return Fail(400, "bad request: a header line has no field name and colon");
    std::string_view name = line.substr(0, colon);
    for (unsigned char c : name) {
      if (!IsTchar(c))
        return Fail(400, "bad request: header field name " + Quoted(name) + " is not a token");
    }
    std::string_view value = Trim(line.substr(colon + 1));
    // RFC 9110 §5.5: CR, LF and NUL in a value are refused; other control characters are kept
    // for the handler to judge (an event id header names the character and its offset).
    const size_t cr = value.find('\r'), nul = value.find('\0');
    if (cr != nul)  // both npos when the value holds neither
      return Fail(400, "bad request: header field " + Quoted(name) + " holds a " +
                           (cr < nul ? "CR" : "NUL") + " character");
    if (IEquals(name, "Content-Length")) {
      if (value.empty() || value.size() > 19 ||
          value.find_first_not_of("0123456789") != std::string_view::npos)
        return Fail(400, "bad request: Content-Length must be a decimal number of bytes");
      if (content_length && *content_length != value)
        return Fail(400, "bad request: Content-Length is given twice with different values");
      content_length = std::string(value);
    } else if (IEquals(name, "Transfer-Encoding")) {
      if (HasToken(value, "chunked"))
        return Fail(411, "a Content-Length is required; chunked bodies are not accepted");
      return Fail(501, "Transfer-Encoding " + Quoted(value) +
                           " is not supported; send the body with a Content-Length");
    } else if (IEquals(name, "Connection")) {
      connection_close = connection_close || HasToken(value, "close");
      connection_keep_alive = connection_keep_alive || HasToken(value, "keep-alive");
    } else if (IEquals(name, "Expect")) {
      if (!IEquals(value, "100-continue"))
        return Fail(417, "expectation failed: only \"Expect: 100-continue\" is supported");
      out.expect_continue = true;
    }
    req.headers.emplace_back(std::string(name), std::string(value));
  }
  if (content_length) out.content_length = std::stoull(*content_length);
  if (connection_close) out.keep_alive = false;
  if (version == "HTTP/1.0" && connection_keep_alive && !connection_close) out.keep_alive = true;
  // An HTTP/1.0 client does not know 100 Continue (RFC 9110 §10.1.1).
  if (version == "HTTP/1.0") out.expect_continue = false;
  ParseResult r;
  r.head = std::move(out);
  return r;
}

std::string_view StatusText(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string FormatResponse(const ServerResponse& response, bool keep_alive, int keep_alive_seconds,
                           bool head_method) {
  std::string out;
  out.reserve(256 + response.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += StatusText(response.status);
  out += "\r\n";
  bool content_type = false;
  for (auto& [k, v] : response.headers) {
    // The framing and connection fields are the server's; a handler's own are not repeated.
    if (IEquals(k, "Content-Length") || IEquals(k, "Connection") ||
        IEquals(k, "Transfer-Encoding") || IEquals(k, "Keep-Alive"))
      continue;
    content_type = content_type || IEquals(k, "Content-Type");
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  if (!content_type && !response.content_type.empty()) {
    out += "Content-Type: ";
    out += response.content_type;
    out += "\r\n";
  }
  out += "Content-Length: ";
  out += std::to_string(response.body.size());
  out += "\r\n";
  if (keep_alive) {
    out += "Connection: keep-alive\r\nKeep-Alive: timeout=";
    out += std::to_string(keep_alive_seconds);
    out += "\r\n\r\n";
  } else {
    out += "Connection: close\r\n\r\n";
  }
  if (!head_method) out += response.body;
  return out;
}

std::string Quoted(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ErrorBody(const std::string& message) {
  return R"({"status":"error","event_id":null,"error":)" + Quoted(message) + "}";
}

ServerResponse Refusal(int status, const std::string& message, int retry_after) {
  ServerResponse r;
  r.status = status;
  r.body = ErrorBody(message);
  if (retry_after > 0) r.headers.emplace_back("Retry-After", std::to_string(retry_after));
  r.close_connection = true;
  return r;
}

ServerResponse InternalError(const std::string& method, const std::string& path,
                             std::string_view what) {
  spdlog::error("http: {} {} failed: {}", Quoted(method), Quoted(path), Quoted(what));
  ServerResponse r;
  r.status = 500;
  r.body = ErrorBody(
      "internal error: the request could not be handled; the daemon's log has the details");
  return r;
}

}  // namespace tenantsync::http
