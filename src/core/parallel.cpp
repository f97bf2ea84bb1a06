#include "core/parallel.h"

#include <exception>
#include <thread>
#include <vector>

namespace blockattn {

void run_workers(size_t threads, const std::function<void(size_t)>& work) {
  if (threads == 0) threads = 1;
  std::vector<std::exception_ptr> errors(threads);
  auto guarded = [&](size_t w) {
    try {
      work(w);
    } catch (...) {
      errors[w] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (size_t w = 1; w < threads; ++w) pool.emplace_back(guarded, w);
  guarded(0);
  for (std::thread& t : pool) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace blockattn
