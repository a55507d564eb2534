#include "adapters/auth0/http_transport.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace tenantsync {
namespace {

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr addr{};
  if (inet_pton(AF_INET, host.c_str(), &addr) == 1) {
    return (ntohl(addr.s_addr) >> 24) == 127;
  }
  return false;
}

}  // namespace

namespace {

// Parses "scheme://host[:port][/path]". `label` prefixes every message; with `allow_path` false
// only "" or "/" may follow the authority. `target` receives the path and query ("/" when none).
Result<BaseUrl> ParseUrl(const std::string& url, std::string_view label, bool allow_path,
                         std::string* target) {
  const std::string what(label);
  BaseUrl out;
  auto sep = url.find("://");
  if (sep == std::string::npos) return Status::Invalid(what + ": missing scheme in '" + url + "'");
  out.scheme = url.substr(0, sep);
  for (auto& c : out.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (out.scheme != "http" && out.scheme != "https") {
    return Status::Invalid(what + ": scheme must be http or https, not '" + out.scheme + "'");
  }
  std::string rest = url.substr(sep + 3);
  std::string path = "/";
  auto slash = rest.find('/');
  if (slash != std::string::npos) {
    path = rest.substr(slash);
    rest = rest.substr(0, slash);
    if (!allow_path && path != "/") {
      return Status::Invalid(what + ": must not carry a path: '" + url + "'");
    }
  }
  if (rest.find('@') != std::string::npos) {
    // Never echo the URL here: the part before '@' may be a credential.
    return Status::Invalid(what + ": credentials in the URL are not supported");
  }
  std::string port_text;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos)
      return Status::Invalid(what + ": bad IPv6 host in '" + url + "'");
    out.host = rest.substr(1, close - 1);
    std::string after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Status::Invalid(what + ": bad host in '" + url + "'");
      port_text = after.substr(1);
    }
  } else {
    auto colon = rest.find(':');
    out.host = rest.substr(0, colon);
    if (colon != std::string::npos) port_text = rest.substr(colon + 1);
  }
  if (out.host.empty()) return Status::Invalid(what + ": empty host in '" + url + "'");
  out.port = out.scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    int port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port <= 0 ||
        port > 65535) {
      return Status::Invalid(what + ": bad port in '" + url + "'");
    }
    out.port = port;
  }
  if (out.scheme == "http" && !IsLoopbackHost(out.host)) {
    return Status::Invalid(what + ": plain http is only allowed to a loopback host, not '" +
                           out.host + "'; use https");
  }
  if (target != nullptr) *target = path;
  return out;
}

}  // namespace

Result<BaseUrl> ResolveBaseUrl(const Auth0Options& options) {
  std::string url = options.base_url.empty() ? "https://" + options.domain : options.base_url;
  return ParseUrl(url, "auth0 base_url", /*allow_path=*/false, nullptr);
}

Result<BaseUrl> ResolveFetchUrl(const std::string& url, std::string* target) {
  // Errors name the URL without its query: presigned download URLs carry a signature there.
  auto q = url.find('?');
  auto base = ParseUrl(url.substr(0, q), "download URL", /*allow_path=*/true, target);
  if (base.ok() && target != nullptr && q != std::string::npos) *target += url.substr(q);
  return base;
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string BuildQuery(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    out += out.empty() ? '?' : '&';
    out += PercentEncode(k);
    out += '=';
    out += PercentEncode(v);
  }
  return out;
}

std::string SafeText(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 3);
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    // Length of the UTF-8 sequence starting here, 0 when it is not a valid one.
    size_t len = 0;
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
    }
    if (len > 1) {
      if (i + len > text.size()) {
        len = 0;
      } else {
        for (size_t k = 1; k < len; ++k) {
          if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) len = 0;
        }
        if (len != 0) {
          const auto c1 = static_cast<unsigned char>(text[i + 1]);
          // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
          if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) ||
              (c == 0xF4 && c1 >= 0x90)) {
            len = 0;
          }
        }
      }
    }
    const size_t add = len == 0 ? 1 : len;
    if (out.size() + add > max_bytes) {
      out += "...";
      return out;
    }
    if (len == 0) {
      out.push_back('?');
    } else if (len == 1) {
      out.push_back(c < 0x20 || c == 0x7F ? ' ' : static_cast<char>(c));
    } else {
      out.append(text.substr(i, len));
    }
    i += add;
  }
  return out;
}

}  // namespace tenantsync
