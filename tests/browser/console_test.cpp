// The console's file server (daemon/console/console.h), in process: which paths it answers, with
// which types and security headers, and that the embedded files are the ones in
// daemon/console/assets/ and keep the rules the Content-Security-Policy relies on.
#include "daemon/console/console.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace tenantsync {
namespace {

ServerRequest Get(const std::string& path, const std::string& method = "GET") {
  ServerRequest r;
  r.method = method;
  r.path = path;
  return r;
}

std::optional<std::string> HeaderOf(const ServerResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::string Asset(const std::string& name) {
  for (const auto& a : EmbeddedConsoleAssets()) {
    if (a.name == name) return std::string(a.bytes);
  }
  return "";
}

TEST(ConsoleTest, PathsOutsideTheConsoleAreLeftToTheApi) {
  for (const char* path : {"/", "/v1/status", "/healthz", "/uix", "/ui-x/app.js", "/v1/ui/"})
    EXPECT_FALSE(ServeConsole(Get(path)).has_value()) << path;
}

TEST(ConsoleTest, IndexAndAssetsWithTheirTypes) {
  struct Case {
    std::string path, type, must_contain;
  };
  for (const Case& c : std::vector<Case>{
           {"/ui/", "text/html; charset=utf-8", "<script src=\"app.js\" defer></script>"},
           {"/ui/index.html", "text/html; charset=utf-8", "<title>tenantsync console</title>"},
           {"/ui/app.js", "text/javascript; charset=utf-8", "'/v1/session'"},
           {"/ui/app.css", "text/css; charset=utf-8", "@media (max-width: 700px)"},
           {"/ui/icon.svg", "image/svg+xml", "<svg"},
       }) {
    auto r = ServeConsole(Get(c.path));
    ASSERT_TRUE(r.has_value()) << c.path;
    EXPECT_EQ(r->status, 200) << c.path;
    EXPECT_EQ(r->content_type, c.type) << c.path;
    EXPECT_NE(r->body.find(c.must_contain), std::string::npos) << c.path;
    EXPECT_EQ(HeaderOf(*r, "Cache-Control"), "no-cache") << c.path;
    EXPECT_EQ(HeaderOf(*r, "Content-Security-Policy"), std::string(kConsoleContentSecurityPolicy));
    EXPECT_EQ(HeaderOf(*r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(HeaderOf(*r, "Referrer-Policy"), "no-referrer");
    EXPECT_EQ(HeaderOf(*r, "X-Frame-Options"), "DENY");
  }
}

TEST(ConsoleTest, TheCspAllowsOnlyTheConsolesOwnFiles) {
  const std::string csp(kConsoleContentSecurityPolicy);
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos);
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos);
}

TEST(ConsoleTest, BareUiRedirectsToTheDirectory) {
  auto r = ServeConsole(Get("/ui"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 308);
  EXPECT_EQ(HeaderOf(*r, "Location"), "/ui/");
}

TEST(ConsoleTest, UnknownFilesAnswer404Json) {
  for (const char* path :
       {"/ui/nope.js", "/ui/../admin.cpp", "/ui/assets/app.js", "/ui/app.js/", "/ui/\xff\xfe"}) {
    auto r = ServeConsole(Get(path));
    ASSERT_TRUE(r.has_value()) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_EQ(r->content_type, "application/json");
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r->body;
    EXPECT_EQ(j["error"].get<std::string>().rfind("no such console file: /ui/", 0), 0u) << r->body;
  }
}

TEST(ConsoleTest, OnlyGetIsAnswered) {
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    auto r = ServeConsole(Get("/ui/", method));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 405) << method;
    EXPECT_EQ(HeaderOf(*r, "Allow"), "GET");
  }
}

TEST(ConsoleTest, ContentTypesByExtension) {
  EXPECT_EQ(ConsoleContentType("a.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ConsoleContentType("a.png"), "image/png");
  EXPECT_EQ(ConsoleContentType("a.json"), "application/json");
  EXPECT_EQ(ConsoleContentType("html"), "application/octet-stream");
  EXPECT_EQ(ConsoleContentType("a.exe"), "application/octet-stream");
}

TEST(ConsoleTest, EmbeddedFilesAreTheSourceFilesByteForByte) {
  const std::string dir = std::string(TENANTSYNC_SOURCE_DIR) + "/daemon/console/assets/";
  ASSERT_GE(EmbeddedConsoleAssets().size(), 4u);
  for (const auto& a : EmbeddedConsoleAssets()) {
    std::ifstream f(dir + std::string(a.name), std::ios::binary);
    ASSERT_TRUE(f.good()) << a.name;
    std::stringstream s;
    s << f.rdbuf();
    EXPECT_EQ(s.str(), a.bytes) << a.name;
  }
}

// The CSP forbids inline script and style: the page must not rely on them, and nothing the page
// inserts may be parsed as markup.
TEST(ConsoleTest, PagesKeepTheRulesTheCspAndEscapingRelyOn) {
  const std::string html = Asset("index.html"), js = Asset("app.js");
  ASSERT_FALSE(html.empty());
  ASSERT_FALSE(js.empty());
  EXPECT_EQ(html.find("<script>"), std::string::npos) << "inline script";
  EXPECT_EQ(html.find("<style"), std::string::npos) << "inline style";
  EXPECT_EQ(html.find(" style="), std::string::npos) << "style attribute";
  EXPECT_EQ(html.find(" on"), std::string::npos) << "inline event handler";
  for (const char* needle : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                             "eval(", "new Function", "localStorage", "sessionStorage",
                             "document.cookie", "fetch('http", "import(", "importScripts"}) {
    EXPECT_EQ(js.find(needle), std::string::npos) << needle;
  }
  // Nothing is loaded from elsewhere: every src and href is a file of the console or a route.
  for (const char* needle : {"src=\"http", "href=\"http", "src=\"//", "href=\"//"})
    EXPECT_EQ(html.find(needle), std::string::npos) << needle;
  EXPECT_EQ(Asset("app.css").find("@import"), std::string::npos);
  EXPECT_EQ(Asset("app.css").find("url("), std::string::npos);
}

}  // namespace
}  // namespace tenantsync
