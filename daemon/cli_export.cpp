#include "daemon/cli_export.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "daemon/declared/declared.h"
#include "daemon/declared/deploy_cli.h"
#include "daemon/declared/emit.h"
#include "daemon/declared/state_json.h"

namespace tenantsync {
namespace {

using Json = nlohmann::json;

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "tenantsync: %s\n", message.c_str());
  return code;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i])
      return false;
  }
  return true;
}

bool WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Writes `text` to `path` through a temporary file in the same directory and a rename, so a
// reader never sees half a file and a failure leaves the previous file as it was.
int WriteFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(1, "cannot write " + tmp + ": " + std::strerror(errno));
  const bool ok = WriteAll(fd, text) && ::fsync(fd) == 0;
  const int saved = errno;
  if (::close(fd) != 0 || !ok) {
    ::unlink(tmp.c_str());
    return Fail(1, "cannot write " + tmp + ": " + std::strerror(ok ? errno : saved));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Fail(1, "cannot rename " + tmp + " to " + path + ": " + std::strerror(err));
  }
  return 0;
}

}  // namespace

int CliExport(const CliOptions& cli, const ExportOptions& options) {
  std::string format = options.format;
  if (format.empty()) format = EndsWith(options.output, ".json") ? "json" : "yaml";
  if (format != "yaml" && format != "json" && format != "deploy-cli")
    return Fail(2, "--format must be yaml, json or deploy-cli");

  int code = 0;
  auto source = ChooseDeclaredSource(cli, options.source, &code);
  if (!source) return code;
  auto answer = CliAdminCall(
      cli, "GET", "/v1/sources/" + PercentEncode(*source) + "/declared?auth0_ids=true", &code);
  if (!answer) return code;
  auto state = declared::StateFromJson((*answer)["state"]);
  if (!state.ok())
    return Fail(1, "the daemon's declared state is unreadable: " + state.status().message());
  declared::Auth0Ids ids;
  const Json known = answer->contains("auth0_ids") ? (*answer)["auth0_ids"] : Json(Json::object());
  for (auto [key, target] :
       {std::pair{"organizations", &ids.organizations}, std::pair{"users", &ids.users}}) {
    auto it = known.find(key);
    if (it == known.end() || !it->is_object()) continue;
    for (const auto& [ext, id] : it->items()) {
      if (id.is_string()) (*target)[ext] = id.get<std::string>();
    }
  }

  Result<std::string> text = std::string();
  if (format == "deploy-cli") {
    std::vector<std::string> warnings;
    text = declared::EmitDeployCli(*state, &warnings);
    for (const auto& w : warnings) std::fprintf(stderr, "tenantsync: warning: %s\n", w.c_str());
  } else {
    text = declared::EmitDeclared(
        *state, format == "json" ? declared::FileFormat::kJson : declared::FileFormat::kYaml, ids);
  }
  if (!text.ok()) return Fail(1, text.status().message());
  if (options.output.empty()) {
    if (!WriteAll(STDOUT_FILENO, *text)) return Fail(1, "cannot write to standard output");
    return 0;
  }
  return WriteFile(options.output, *text);
}

}  // namespace tenantsync
