#include "train/data_parallel.h"

#include <chrono>

#include "blockattn/error.h"

#if defined(BLOCKATTN_WITH_GLOO) || defined(BLOCKATTN_WITH_NCCL)
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#endif
#ifdef BLOCKATTN_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef BLOCKATTN_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace blockattn::train {

namespace {
// A peer that died is noticed by the launcher (it kills the group); this only bounds a wait on a
// peer that hangs.
constexpr std::chrono::minutes kCollectiveTimeout{10};
}  // namespace

struct DataParallel::Impl {
  std::string backend = "none";
  torch::Device device{torch::kCPU};
#ifdef BLOCKATTN_WITH_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
#ifdef BLOCKATTN_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif

  void all_reduce(std::vector<torch::Tensor>& tensors) {
#ifdef BLOCKATTN_WITH_NCCL
    if (nccl) return (void)nccl->allreduce(tensors)->wait();
#endif
#ifdef BLOCKATTN_WITH_GLOO
    if (gloo) return (void)gloo->allreduce(tensors)->wait();
#endif
    (void)tensors;
  }
};

bool DataParallel::available(torch::Device device) {
#ifdef BLOCKATTN_WITH_NCCL
  if (device.is_cuda()) return true;
#endif
#ifdef BLOCKATTN_WITH_GLOO
  if (device.is_cpu()) return true;
#endif
  (void)device;
  return false;
}

DataParallel::DataParallel(int rank, int world, const std::string& store_path, torch::Device device)
    : rank_(rank), world_(world), impl_(std::make_unique<Impl>()) {
  impl_->device = device;
  if (world < 1 || rank < 0 || rank >= world)
    throw InputError("data-parallel rank " + std::to_string(rank) + " of " + std::to_string(world) +
                     " is invalid");
  if (world == 1) return;
  if (!available(device))
    throw UnsupportedError(
        "this build has no c10d backend for " + device.str() +
        " (Gloo needs libgloo-dev at build time for CPU, NCCL a CUDA libtorch with nccl.h)");
  if (store_path.empty()) throw InputError("data-parallel training needs a rendezvous store path");
#if defined(BLOCKATTN_WITH_GLOO) || defined(BLOCKATTN_WITH_NCCL)
  auto store = c10::make_intrusive<c10d::FileStore>(store_path, world);
#endif
#ifdef BLOCKATTN_WITH_NCCL
  if (device.is_cuda()) {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = kCollectiveTimeout;
    impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world, options);
    impl_->backend = "nccl";
    barrier();
    return;
  }
#endif
#ifdef BLOCKATTN_WITH_GLOO
  auto options = c10d::ProcessGroupGloo::Options::create(kCollectiveTimeout);
  // Every process runs on this host (the launcher forks them), so loopback is the transport.
  options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, options);
  impl_->backend = "gloo";
  barrier();
#endif
}

DataParallel::~DataParallel() {
#ifdef BLOCKATTN_WITH_NCCL
  // NCCL wants its communicators torn down explicitly (it warns at exit otherwise).
  if (impl_ && impl_->nccl) impl_->nccl->shutdown();
#endif
}

std::string DataParallel::backend() const { return impl_->backend; }

void DataParallel::all_reduce_sum(const std::vector<torch::Tensor>& tensors) {
  if (world_ == 1 || tensors.empty()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat{torch::cat([&] {
    std::vector<torch::Tensor> parts;
    for (const torch::Tensor& t : tensors) parts.push_back(t.reshape({-1}));
    return parts;
  }())};  // [Σ numel]
  impl_->all_reduce(flat);
  int64_t at = 0;
  for (const torch::Tensor& t : tensors) {
    torch::Tensor dst = t;
    dst.copy_(flat[0].narrow(0, at, t.numel()).view_as(t));
    at += t.numel();
  }
}

double DataParallel::all_reduce_sum(double value) {
  if (world_ == 1) return value;
  torch::Tensor t = torch::full({1}, value, torch::TensorOptions().dtype(torch::kFloat64));  // [1]
  if (impl_->backend == "nccl") t = t.to(impl_->device);  // NCCL reduces device tensors only
  std::vector<torch::Tensor> v{t};
  impl_->all_reduce(v);
  return v[0].item<double>();
}

void DataParallel::barrier() { all_reduce_sum(0.0); }

}  // namespace blockattn::train
