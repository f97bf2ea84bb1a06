// `--nproc N`: runs a command as N data-parallel processes on this host. The process the user
// started is rank 0; it starts ranks 1..N-1 as copies of itself (same arguments, rank in the
// environment) and kills them all if any one fails, so no process waits forever on a dead peer.
#pragma once

#include <functional>
#include <string>

namespace blockattn::cli {

// main() records its arguments so a worker can be started with the same ones.
void remember_arguments(int argc, char** argv);

// Calls body(rank, world, store_path) in this process: as a started worker with its own rank,
// or as rank 0 after starting the others (store_path: a rendezvous file under `work_dir`).
// Returns body's status, or non-zero if any worker failed.
int run_processes(int nproc, const std::string& work_dir,
                  const std::function<int(int rank, int world, const std::string& store)>& body);

}  // namespace blockattn::cli
