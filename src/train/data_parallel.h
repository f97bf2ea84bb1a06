// Data-parallel training over several processes with PyTorch's own distributed layer (c10d):
// NCCL between GPUs, Gloo between CPU processes. Every process holds the whole model, computes
// the gradients of its share of the global batch, and the gradients are summed with one
// all-reduce per step, so every process takes the identical optimizer step.
//
// Processes meet through a c10d FileStore (a file every process can reach): no ports.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace blockattn::train {

class DataParallel {
 public:
  // world == 1: a no-op group. world > 1: joins the group (blocks until all `world` processes
  // arrived) using NCCL when `device` is CUDA and NCCL was built in, else Gloo.
  // UnsupportedError when this build has no c10d backend for the device.
  DataParallel(int rank, int world, const std::string& store_path, torch::Device device);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const { return rank_; }
  int world() const { return world_; }
  std::string backend() const;  // "none" | "gloo" | "nccl"

  // Sums the tensors element-wise across processes, in place (flattened into one buffer per
  // call). All tensors must share dtype and device; every process passes the same shapes.
  void all_reduce_sum(const std::vector<torch::Tensor>& tensors);
  double all_reduce_sum(double value);
  void barrier();

  // Whether this build can run world > 1 on `device`.
  static bool available(torch::Device device);

 private:
  struct Impl;
  int rank_ = 0, world_ = 1;
  std::unique_ptr<Impl> impl_;
};

}  // namespace blockattn::train
