// A fixed set of worker threads for one parallel pass (torch-free).
#pragma once

#include <cstddef>
#include <functional>

namespace blockattn {

// Runs work(w) for every w in [0, threads) — w = 0 on the calling thread, the others on new
// threads — waits for all, then rethrows the exception of the lowest-numbered worker that threw.
// threads == 0 counts as 1.
void run_workers(size_t threads, const std::function<void(size_t worker)>& work);

}  // namespace blockattn
