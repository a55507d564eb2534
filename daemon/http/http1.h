// HTTP/1.1 request heads and answers for tenantsync's event-loop server (daemon/http/event_loop.*):
// a strict, bounded parser of the request line and header fields, the response writer, and the
// JSON answers the server gives itself. No I/O here, so every rule is unit-tested
// (tests/unit/http_server_test.cpp).
//
// Parsing rules (RFC 9112): the head ends at the first empty line; lines end in CRLF (a bare LF
// is accepted, a bare CR is refused); the request line is METHOD SP TARGET SP HTTP/1.x with an
// origin-form target (starting with "/"); field names are tokens, matched case-insensitively,
// values have surrounding spaces and tabs trimmed; obsolete line folding, CR or NUL in a value and
// a space before the colon are refused (other control characters in a value are left to the
// handler, which names them). A body is framed by Content-Length only (one value, or
// repeated identical values); any Transfer-Encoding is refused (411 for chunked) before a body
// byte is read. The path is percent-decoded; query parameters are percent-decoded with '+' as
// space. Every refusal carries a status and a message naming the problem.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/http_server.h"

namespace tenantsync::http {

struct HeadLimits {
  size_t max_head_bytes = 16384;  // request line + header fields + the empty line
  size_t max_target_bytes = 8192;
  size_t max_header_fields = 100;
};

struct ParsedHead {
  ServerRequest request;  // method, path, params, headers (body empty, remote_addr unset)
  size_t content_length = 0;
  bool keep_alive = true;        // HTTP/1.1 without "Connection: close"
  bool expect_continue = false;  // "Expect: 100-continue"
  bool head_method = false;      // HEAD: answer without a body
};

struct HeadError {
  int status = 400;
  std::string message;
};

// Where the head in `buffer` ends (the offset just past its empty line), or nullopt when more
// bytes are needed. `scanned` is where the previous call stopped looking, so a head that arrives
// one byte at a time is scanned once in total; it is updated.
std::optional<size_t> FindHeadEnd(std::string_view buffer, size_t* scanned);

// Parses a complete head (as delimited by FindHeadEnd). Errors are 400 (malformed), 411
// (chunked), 414 (target too long), 431 (too many or too large fields), 501 (a transfer coding),
// 505 (not HTTP/1.x).
struct ParseResult {
  std::optional<ParsedHead> head;
  HeadError error;
};
ParseResult ParseHead(std::string_view head, const HeadLimits& limits);

// Header names and tokens ("Content-Length", "chunked") compared without regard to ASCII case
// (RFC 9110 §5.1): A-Z folded in place, no libc call per byte (~130 per webhook delivery, issue
// 13); other bytes compared as they are.
bool IEquals(std::string_view a, std::string_view b);

// "%41b+c" → "Ab+c" (or "Ab c" with plus_as_space); a '%' not followed by two hex digits stays.
std::string PercentDecode(std::string_view in, bool plus_as_space);

// The serialised answer: status line, Content-Type, Content-Length, the handler's headers,
// Connection (close or keep-alive with a Keep-Alive: timeout=...) and the body (not for HEAD).
std::string FormatResponse(const ServerResponse& response, bool keep_alive, int keep_alive_seconds,
                           bool head_method);

// The standard reason phrase for a status ("Accepted"), "Unknown" for others.
std::string_view StatusText(int status);

// Request text in a JSON answer or a log line: JSON-quoted, bytes that are not UTF-8 replaced.
std::string Quoted(std::string_view text);
// {"status":"error","event_id":null,"error":<message>}: the ingress answer's shape, which also
// carries the admin API's "error".
std::string ErrorBody(const std::string& message);
// An answer the server gives itself: JSON error body, "Connection: close", Retry-After if > 0.
ServerResponse Refusal(int status, const std::string& message, int retry_after = 0);
// A handler or precheck threw (a defect): logged, answered JSON 500.
ServerResponse InternalError(const std::string& method, const std::string& path,
                             std::string_view what);

// Runs `call`, turning an escaping exception into InternalError.
template <typename Call>
auto Guarded(const ServerRequest& req, Call&& call) -> decltype(call()) {
  try {
    return call();
  } catch (const std::exception& e) {
    return InternalError(req.method, req.path, e.what());
  } catch (...) {
    return InternalError(req.method, req.path, "unknown exception");
  }
}

}  // namespace tenantsync::http
