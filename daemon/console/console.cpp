#include "daemon/console/console.h"

#include <nlohmann/json.hpp>

namespace tenantsync {
namespace {

constexpr std::string_view kPrefix = "/ui/";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

ServerResponse WithSecurityHeaders(ServerResponse r) {
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("Content-Security-Policy", std::string(kConsoleContentSecurityPolicy));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  return r;
}

ServerResponse JsonError(int status, const std::string& message) {
  ServerResponse r;
  r.status = status;
  // The path is echoed in the message; bytes that are not UTF-8 are replaced, never thrown on.
  r.body = nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace);
  return WithSecurityHeaders(std::move(r));
}

}  // namespace

std::string_view ConsoleContentType(std::string_view name) {
  struct Type {
    std::string_view extension, content_type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& t : kTypes) {
    if (EndsWith(name, t.extension)) return t.content_type;
  }
  return "application/octet-stream";
}

std::optional<ServerResponse> ServeConsole(const ServerRequest& req) {
  const std::string_view path = req.path;
  if (path != "/ui" && path.rfind(kPrefix, 0) != 0) return std::nullopt;
  if (req.method != "GET") {
    ServerResponse r =
        JsonError(405, "the console's files are only read with GET (got " + req.method + ")");
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  if (path == "/ui") {
    ServerResponse r;
    r.status = 308;
    r.body = R"({"location":"/ui/"})";
    r.headers.emplace_back("Location", "/ui/");
    return WithSecurityHeaders(std::move(r));
  }
  std::string_view name = path.substr(kPrefix.size());
  if (name.empty()) name = "index.html";
  for (const auto& asset : EmbeddedConsoleAssets()) {
    if (asset.name != name) continue;
    ServerResponse r;
    r.body = std::string(asset.bytes);
    r.content_type = std::string(ConsoleContentType(name));
    return WithSecurityHeaders(std::move(r));
  }
  return JsonError(404, "no such console file: " + std::string(path));
}

}  // namespace tenantsync
