#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace tenantsync::testing {

std::string BuildPath(const std::string& name) {
  const char* dir = std::getenv("TENANTSYNC_BUILD_DIR");
  return std::string(dir ? dir : ".") + "/" + name;
}

std::optional<std::string> SharedDir() {
  const char* dir = std::getenv("TENANTSYNC_SHARED_DIR");
  if (dir == nullptr) return std::nullopt;
  struct stat st {};
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  return std::string(dir);
}

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

std::string MakeTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp ? tmp : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return std::string(buf.data());
}

Subprocess::Subprocess(std::string program, std::vector<std::string> args,
                       std::map<std::string, std::string> extra_env) {
  out_path_ = MakeTempDir("ts-proc") + "/output.log";
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    for (auto& [k, v] : extra_env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    argv.push_back(program.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(program.c_str(), argv.data());
    std::fprintf(stderr, "exec %s: %s\n", program.c_str(), std::strerror(errno));
    _exit(127);
  }
}

Subprocess::~Subprocess() {
  if (Running()) {
    Signal(SIGTERM);
    if (!Wait(std::chrono::seconds(5))) {
      Signal(SIGKILL);
      Wait(std::chrono::seconds(5));
    }
  }
}

std::string Subprocess::Output() const {
  std::ifstream in(out_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<std::string> Subprocess::WaitForLine(const std::string& needle,
                                                   std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::istringstream lines(Output());
    std::string line;
    while (std::getline(lines, line)) {
      if (line.find(needle) != std::string::npos) return line;
    }
    if (!Running() || std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int Subprocess::WaitForPort(const std::string& what, std::chrono::milliseconds timeout) {
  auto line = WaitForLine(what, timeout);
  if (!line) return -1;
  auto pos = line->find(what);
  auto rest = line->substr(pos + what.size());
  // The port is the digits after the last ':' of the first address token.
  auto colon = rest.find_last_of(':');
  if (colon == std::string::npos) return -1;
  return std::atoi(rest.c_str() + colon + 1);
}

bool Subprocess::Running() {
  if (exit_code_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else {
    exit_code_ = -1;
  }
  return false;
}

void Subprocess::Signal(int sig) {
  if (pid_ > 0 && !exit_code_) kill(pid_, sig);
}

std::optional<int> Subprocess::Wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Running()) {
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return exit_code_;
}

}  // namespace tenantsync::testing
