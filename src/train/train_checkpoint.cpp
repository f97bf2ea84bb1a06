#include "train/train_checkpoint.h"

#include <filesystem>
#include <mutex>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "checkpoint/safetensors.h"
#include "core/io.h"
#include "train/adamw.h"

namespace blockattn::train {

namespace fs = std::filesystem;
using nlohmann::json;

std::string find_checkpoint(const std::string& out_dir) {
  for (const char* name : {"/checkpoint", "/checkpoint.prev"})
    if (file_exists(out_dir + name + "/state.json")) return out_dir + name;
  return "";
}

void save_checkpoint(const std::string& out_dir, AdamW& opt, const TrainState& s) {
  const std::string partial = out_dir + "/checkpoint.partial", final_dir = out_dir + "/checkpoint",
                    prev = out_dir + "/checkpoint.prev";
  std::error_code ec;
  fs::remove_all(partial, ec);
  if (!fs::create_directories(partial, ec) && ec) throw IoError("cannot create " + partial + ": " + ec.message());

  SafetensorsWriter writer;
  std::vector<torch::Tensor> host;  // keeps the borrowed CPU copies alive until write()
  auto add = [&](const std::string& name, const torch::Tensor& t, DType dtype) {
    host.push_back(t.detach().to(torch::kCPU).contiguous());
    const torch::Tensor& h = host.back();
    writer.add(name, dtype, std::vector<int64_t>(h.sizes().begin(), h.sizes().end()), h.data_ptr(),
               h.numel() * h.element_size());
  };
  for (Param& p : opt.params()) {
    add("master/" + p.name, p.master, DType::kF32);
    add("exp_avg/" + p.name, p.exp_avg, DType::kF32);
    add("exp_avg_sq/" + p.name, p.exp_avg_sq, DType::kF32);
  }
  add("rng/torch_cpu", at::detail::getDefaultCPUGenerator().get_state(), DType::kU8);
  writer.write(partial + "/state.safetensors");

  json j = {{"format", "blockattn pretrain checkpoint v1"},
            {"step", s.step},
            {"train_cursor", s.train_cursor},
            {"tokens_seen", s.tokens_seen},
            {"elapsed_s", s.elapsed_s},
            {"data_fingerprint", s.data_fingerprint},
            {"config", json::parse(s.config_json)}};
  write_file_atomic(partial + "/state.json", j.dump(2) + "\n");

  // Swap: checkpoint -> checkpoint.prev, partial -> checkpoint, drop prev. find_checkpoint()
  // falls back to .prev if we die between the two renames.
  fs::remove_all(prev, ec);
  if (fs::exists(final_dir)) fs::rename(final_dir, prev);
  fs::rename(partial, final_dir);
  fs::remove_all(prev, ec);
}

TrainState read_checkpoint_state(const std::string& dir) {
  const std::string path = dir + "/state.json";
  try {
    json j = json::parse(read_file(path));
    TrainState s;
    s.step = j.at("step").get<int64_t>();
    s.train_cursor = j.at("train_cursor").get<uint64_t>();
    s.tokens_seen = j.at("tokens_seen").get<uint64_t>();
    s.elapsed_s = j.at("elapsed_s").get<double>();
    s.data_fingerprint = j.at("data_fingerprint").get<std::string>();
    s.config_json = j.at("config").dump();
    return s;
  } catch (const json::exception& e) {
    throw FormatError(path + ": " + e.what());
  }
}

void restore_checkpoint_tensors(const std::string& dir, AdamW& opt) {
  SafetensorsFile f = SafetensorsFile::open(dir + "/state.safetensors");
  torch::NoGradGuard no_grad;
  auto read_into = [&](const std::string& name, torch::Tensor& dst) {
    const TensorInfo& info = f.at(name);
    if (info.dtype != DType::kF32 || info.shape != std::vector<int64_t>(dst.sizes().begin(), dst.sizes().end()))
      throw FormatError(f.path() + ": tensor " + name + " has shape " + shape_string(info.shape) +
                        ", the model needs " + shape_string({dst.sizes().begin(), dst.sizes().end()}));
    torch::Tensor host = torch::empty(info.shape, torch::kFloat32);  // [same shape]
    f.read(info, host.data_ptr());
    dst.copy_(host);
  };
  for (Param& p : opt.params()) {
    read_into("master/" + p.name, p.master);
    read_into("exp_avg/" + p.name, p.exp_avg);
    read_into("exp_avg_sq/" + p.name, p.exp_avg_sq);
  }
  opt.sync_model();
  const TensorInfo& rng = f.at("rng/torch_cpu");
  torch::Tensor state = torch::empty({static_cast<int64_t>(rng.nbytes)}, torch::kUInt8);  // [n]
  f.read(rng, state.data_ptr());
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace blockattn::train
