#include "cache/pinned_staging.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "blockattn/error.h"

namespace blockattn {

PinnedStaging::PinnedStaging(size_t slabs, uint64_t slab_bytes, torch::Device device)
    : slab_bytes_(slab_bytes), device_(device) {
  if (slabs == 0 || slab_bytes == 0 || slab_bytes % 16 != 0)
    throw Error("internal: pinned staging needs slabs of a multiple of 16 bytes");
  auto opts = torch::TensorOptions().dtype(torch::kUInt8).pinned_memory(device.is_cuda());
  for (size_t i = 0; i < slabs; ++i) {
    slabs_.push_back({torch::empty({static_cast<int64_t>(slab_bytes)}, opts), {}});
    free_.push_back(i);
  }
}

uint64_t PinnedStaging::ticket() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_ticket_++;
}

PinnedStaging::Lease PinnedStaging::acquire(uint64_t ticket, uint64_t bytes) {
  const size_t need = static_cast<size_t>((bytes + slab_bytes_ - 1) / slab_bytes_);
  const bool staged = bytes > 0 && need <= slabs_.size();
  Lease lease;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return serving_ == ticket && (!staged || free_.size() >= need); });
  if (staged) {
    lease.slabs.assign(free_.end() - static_cast<std::ptrdiff_t>(need), free_.end());
    free_.resize(free_.size() - need);
    lease.bytes = bytes;
  }
  ++serving_;
  std::vector<compat::StreamMark> marks;
  for (size_t s : lease.slabs) marks.push_back(slabs_[s].done);
  lock.unlock();
  cv_.notify_all();
  // The copies that last read these slabs were queued long ago, almost always run by now.
  for (const compat::StreamMark& m : marks)
    while (!m.reached()) std::this_thread::sleep_for(std::chrono::microseconds(20));
  return lease;
}

void PinnedStaging::fill(const Lease& lease, const char* src) const {
  uint64_t off = 0;
  for (size_t s : lease.slabs) {
    const uint64_t n = std::min(slab_bytes_, lease.bytes - off);
    std::memcpy(slabs_[s].buffer.data_ptr(), src + off, n);
    off += n;
  }
}

void PinnedStaging::copy_to_device(Lease& lease, torch::Tensor& dst) {
  const int64_t element = static_cast<int64_t>(dst.element_size());
  if (!dst.is_contiguous() || static_cast<uint64_t>(dst.numel() * element) != lease.bytes ||
      slab_bytes_ % static_cast<uint64_t>(element) != 0)
    throw Error("internal: staged copy into a tensor of another size");
  torch::Tensor flat = dst.view({-1});  // [numel]
  const auto host = torch::TensorOptions().dtype(dst.scalar_type());
  uint64_t off = 0;
  for (size_t s : lease.slabs) {
    const uint64_t n = std::min(slab_bytes_, lease.bytes - off);
    torch::Tensor piece =  // [n / element], a view of the pinned slab
        torch::from_blob(slabs_[s].buffer.data_ptr(), {static_cast<int64_t>(n) / element}, host);
    flat.narrow(0, static_cast<int64_t>(off) / element, static_cast<int64_t>(n) / element)
        .copy_(piece, /*non_blocking=*/true);
    off += n;
  }
  give_back(lease, compat::StreamMark::here(device_));
}

void PinnedStaging::release(Lease& lease) { give_back(lease, {}); }

void PinnedStaging::give_back(Lease& lease, const compat::StreamMark& done) {
  if (lease.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t s : lease.slabs) {
      slabs_[s].done = done;
      free_.push_back(s);
    }
  }
  lease.slabs.clear();
  lease.bytes = 0;
  cv_.notify_all();
}

}  // namespace blockattn
