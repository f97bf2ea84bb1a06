#include "launch.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "blockattn/error.h"

namespace blockattn::cli {

namespace {
std::vector<std::string> g_arguments;
constexpr const char* kRankVar = "BLOCKATTN_DP_RANK";
constexpr const char* kWorldVar = "BLOCKATTN_DP_WORLD";
constexpr const char* kStoreVar = "BLOCKATTN_DP_STORE";
}  // namespace

void remember_arguments(int argc, char** argv) { g_arguments.assign(argv, argv + argc); }

int run_processes(int nproc, const std::string& work_dir,
                  const std::function<int(int, int, const std::string&)>& body) {
  if (const char* rank = std::getenv(kRankVar)) {
    const char* world = std::getenv(kWorldVar);
    const char* store = std::getenv(kStoreVar);
    if (!world || !store)
      throw InputError(std::string(kRankVar) + " is set without " + kWorldVar + "/" + kStoreVar);
    return body(std::atoi(rank), std::atoi(world), store);
  }
  if (nproc < 1 || nproc > 64)
    throw InputError("--nproc must be in 1..64, not " + std::to_string(nproc));
  if (nproc == 1) return body(0, 1, "");
  if (g_arguments.empty()) throw Error("run_processes: the command line was not recorded");

  std::filesystem::create_directories(work_dir);
  const std::string store =
      std::filesystem::absolute(work_dir + "/.rendezvous-" + std::to_string(::getpid())).string();
  std::filesystem::remove(store);
  std::vector<pid_t> workers;
  for (int r = 1; r < nproc; ++r) {
    const pid_t pid = ::fork();
    if (pid < 0) throw IoError("cannot start data-parallel worker " + std::to_string(r));
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // rank 0 gone (error, Ctrl-C): the workers go too
      ::setenv(kRankVar, std::to_string(r).c_str(), 1);
      ::setenv(kWorldVar, std::to_string(nproc).c_str(), 1);
      ::setenv(kStoreVar, store.c_str(), 1);
      std::vector<char*> argv;
      for (std::string& a : g_arguments) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "error: cannot start data-parallel worker %d\n", r);
      ::_exit(127);
    }
    workers.push_back(pid);
  }
  // A failed worker would leave the others blocked in a collective: stop everything.
  std::thread([workers] {
    for (size_t done = 0; done < workers.size();) {
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, 0);
      if (pid < 0) return;
      ++done;
      if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        std::fprintf(stderr,
                     "error: a data-parallel worker (pid %d) failed; stopping all processes\n",
                     (int)pid);
        for (pid_t w : workers) ::kill(w, SIGKILL);
        ::_exit(1);
      }
    }
  }).detach();
  const int status = body(0, nproc, store);
  // Workers finish the same steps; wait until every one has exited (the watcher reaps them).
  for (pid_t w : workers)
    while (::kill(w, 0) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::filesystem::remove(store);
  return status;
}

}  // namespace blockattn::cli
