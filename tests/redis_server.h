// A real redis-server for the Redis tier's tests: started by the test on a free loopback port,
// without persistence (--save "" --appendonly no), in a temporary directory, stopped by the
// destructor. Every wait is bounded. A missing redis-server is an error the test reports (it
// never skips): `ok()` is false and `error()` says to run scripts/install_deps.sh.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace blockattn::test {

// The first executable `name` on $PATH, or "".
inline std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's pick), or -1.
inline int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

class RedisServer {
 public:
  // extra: more redis-server arguments, e.g. {"--requirepass", "pw"}.
  explicit RedisServer(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
    binary_ = find_on_path("redis-server");
    if (binary_.empty()) {
      error_ =
          "redis-server not found on PATH: run scripts/install_deps.sh (it installs redis-server)";
      return;
    }
    port_ = free_loopback_port();
    if (port_ <= 0) {
      error_ = "no free loopback port";
      return;
    }
    start();
  }
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  std::string url(int db = 0) const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
  }

  // (Re)starts on the same port; waits (at most 10 s) until it answers PING.
  bool start() {
    if (pid_ > 0) return true;
    std::vector<std::string> args = {binary_,  "--port",       std::to_string(port_),
                                     "--bind", "127.0.0.1",    "--save",
                                     "",       "--appendonly", "no",
                                     "--dir",  dir_.path(),    "--daemonize",
                                     "no",     "--logfile",    dir_ / "redis.log"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary_.c_str(), argv.data());
      ::_exit(127);
    }
    if (pid_ < 0) {
      error_ = "fork failed";
      pid_ = 0;
      return false;
    }
    for (int i = 0; i < 1000; ++i) {
      if (ping()) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        error_ = "redis-server exited at start-up (see " + (dir_ / "redis.log") + ")";
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    error_ = "redis-server did not answer PING within 10 s";
    return false;
  }

  // SIGTERM, then SIGKILL if it has not exited within 5 s.
  void stop() { end(SIGTERM); }
  void kill9() { end(SIGKILL); }
  // SIGSTOP / SIGCONT: a Redis that accepts connections but never answers (a stalled server).
  void pause() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  void resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }

  // A fresh connection for the test's own commands (nullptr if it cannot connect).
  redisContext* connect() const {
    timeval tv{2, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (c != nullptr && c->err) {
      redisFree(c);
      return nullptr;
    }
    if (c != nullptr) redisSetTimeout(c, tv);
    return c;
  }

 private:
  bool ping() const {
    redisContext* c = connect();
    if (c == nullptr) return false;
    // PONG, or NOAUTH from a server started with --requirepass: either way it answers.
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    const bool pong = r != nullptr;
    if (r != nullptr) freeReplyObject(r);
    redisFree(c);
    return pong;
  }

  void end(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);  // a paused server cannot handle SIGTERM
    ::kill(pid_, sig);
    int status = 0;
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
  }

  std::vector<std::string> extra_;
  std::string binary_, error_;
  TempDir dir_;
  int port_ = -1;
  pid_t pid_ = 0;
};

}  // namespace blockattn::test
