// run_workers: every worker runs once, and the lowest-numbered worker's exception comes back.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "core/parallel.h"

namespace blockattn {
namespace {

TEST(RunWorkers, EveryWorkerRunsOnce) {
  for (size_t threads : {0, 1, 3, 8}) {
    std::vector<std::atomic<int>> seen(threads == 0 ? 1 : threads);
    run_workers(threads, [&](size_t w) { ++seen[w]; });
    for (auto& s : seen) EXPECT_EQ(s.load(), 1) << threads << " threads";
  }
}

TEST(RunWorkers, RethrowsTheLowestWorkersErrorAfterAllFinished) {
  std::atomic<int> finished{0};
  try {
    run_workers(4, [&](size_t w) {
      ++finished;
      if (w == 3) throw std::runtime_error("worker 3");
      if (w == 1) throw std::runtime_error("worker 1");
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "worker 1");
  }
  EXPECT_EQ(finished.load(), 4);
}

}  // namespace
}  // namespace blockattn
