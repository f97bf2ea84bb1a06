// Pinned host memory for lower-tier reads, allocated once. On the H200 machine a fresh pinned
// allocation cost ~40 ms per 67 MB (1.6 GB/s, no faster from several threads) and waited for the
// GPU to go idle, so allocating per entry made a fresh engine's disk reads slower than computing
// the blocks. Readers copy an entry's bytes into slabs of this pool; the requesting thread queues
// the copies to the device and gives the slabs back, to be reused once those copies have run.
//
// Threading: every method may be called from any thread. Slabs are granted in ticket order (a
// ticket is taken when a reader claims a key), so a caller that copies its keys in claim order
// never waits for a slab held by a later key of its own.
#pragma once

#include <torch/torch.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "model/compat.h"

namespace blockattn {

class PinnedStaging {
 public:
  // `slabs` buffers of `slab_bytes` (a multiple of 16) in pinned host memory, allocated here.
  PinnedStaging(size_t slabs, uint64_t slab_bytes, torch::Device device);

  // The slabs that hold one entry's bytes; empty when the entry was not staged.
  struct Lease {
    std::vector<size_t> slabs;
    uint64_t bytes = 0;
    bool empty() const { return slabs.empty(); }
  };

  // A place in line for acquire(). Every ticket must be passed to acquire() exactly once.
  uint64_t ticket();
  // Slabs for `bytes`, once every earlier ticket has been served and enough slabs are free (and
  // the copies that last read them have run). bytes == 0, or more than the whole pool: the turn
  // passes and the lease is empty (the caller stages the entry another way).
  Lease acquire(uint64_t ticket, uint64_t bytes);
  // Copies lease.bytes bytes from `src` into the lease's slabs.
  void fill(const Lease& lease, const char* src) const;
  // Queues the copies of the lease's bytes into `dst` (contiguous, on the device, exactly
  // lease.bytes bytes, an element type whose size divides the slab size) on the current stream,
  // then gives the slabs back.
  void copy_to_device(Lease& lease, torch::Tensor& dst);
  // Gives the slabs back without copying (a read that is dropped). No-op on an empty lease.
  void release(Lease& lease);

  uint64_t capacity_bytes() const { return slab_bytes_ * slabs_.size(); }

 private:
  struct Slab {
    torch::Tensor buffer;     // [slab_bytes] uint8, pinned
    compat::StreamMark done;  // after the last copy that read it
  };
  void give_back(Lease& lease, const compat::StreamMark& done);

  const uint64_t slab_bytes_;
  const torch::Device device_;
  std::vector<Slab> slabs_;
  std::mutex mu_;  // guards free_, the tickets and the slabs' marks
  std::condition_variable cv_;
  std::vector<size_t> free_;
  uint64_t next_ticket_ = 0, serving_ = 0;
};

}  // namespace blockattn
