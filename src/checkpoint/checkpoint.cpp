// Checkpoint: resolves a model directory to its safetensors file(s) and a name -> tensor map.
#include "checkpoint/checkpoint.h"

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "core/io.h"

namespace blockattn {

namespace {

// Shard names come from a file we did not write: keep them inside the model directory.
bool safe_relative_path(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    if (p.compare(start, end - start, "..") == 0) return false;
    start = end + 1;
  }
  return true;
}

// weight_map of the index: tensor name -> shard file name.
std::map<std::string, std::string> read_weight_map(const std::string& index_path) {
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(read_file(index_path));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(index_path + ": not valid JSON (" + e.what() + ")");
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw FormatError(index_path + ": missing \"weight_map\" object");
  std::map<std::string, std::string> out;
  for (const auto& [name, file] : index["weight_map"].items()) {
    if (!file.is_string())
      throw FormatError(index_path + ": weight_map entry for '" + name + "' is not a string");
    const std::string& shard = file.get_ref<const std::string&>();
    if (!safe_relative_path(shard))
      throw FormatError(index_path + ": weight_map entry for '" + name + "' names \"" + shard +
                        "\", which is not a file inside the model directory");
    out.emplace(name, shard);
  }
  if (out.empty()) throw FormatError(index_path + ": weight_map is empty");
  return out;
}

}  // namespace

Checkpoint Checkpoint::open(const std::string& model_dir) {
  Checkpoint ck;
  ck.dir_ = model_dir;
  while (ck.dir_.size() > 1 && ck.dir_.back() == '/') ck.dir_.pop_back();  // no "dir//file"
  if (!is_directory(ck.dir_)) throw IoError("model directory " + model_dir + " does not exist");
  const std::string& dir = ck.dir_;
  const std::string single = dir + "/" + kSingleFile;
  const std::string index = dir + "/" + kIndexFile;

  if (file_exists(single)) {
    ck.source_ = single;
    ck.files_.push_back(SafetensorsFile::open(single));
    const auto& tensors = ck.files_[0].tensors();
    for (size_t i = 0; i < tensors.size(); ++i)
      ck.by_name_.emplace(tensors[i].name, Location{0, i});
    return ck;
  }
  if (!file_exists(index))
    throw IoError(dir + ": no checkpoint found (neither " + kSingleFile + " nor " + kIndexFile +
                  " exists)");

  ck.source_ = index;
  std::map<std::string, size_t> shard_index;  // shard file name -> index into files_
  for (const auto& [name, shard] : read_weight_map(index)) {
    auto [it, inserted] = shard_index.emplace(shard, ck.files_.size());
    if (inserted) {
      const std::string path = dir + "/" + shard;
      if (!file_exists(path))
        throw IoError(index + " lists shard " + shard + ", but " + path + " does not exist");
      ck.files_.push_back(SafetensorsFile::open(path));
    }
    const SafetensorsFile& file = ck.files_[it->second];
    const TensorInfo* t = file.find(name);
    if (!t)
      throw FormatError(index + ": tensor '" + name + "' is mapped to " + file.path() +
                        ", which has no such tensor");
    ck.by_name_.emplace(name, Location{it->second, static_cast<size_t>(t - file.tensors().data())});
  }
  return ck;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(by_name_.size());
  for (const auto& entry : by_name_) out.push_back(entry.first);  // std::map: already sorted
  return out;
}

const TensorInfo* Checkpoint::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &files_[it->second.file].tensors()[it->second.tensor];
}

const Checkpoint::Location& Checkpoint::locate(std::string_view name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end())
    throw FormatError(dir_ + ": no tensor '" + std::string(name) + "' in " + source_);
  return it->second;
}

const TensorInfo& Checkpoint::at(std::string_view name) const {
  const Location& loc = locate(name);
  return files_[loc.file].tensors()[loc.tensor];
}

void Checkpoint::read(std::string_view name, void* dst) const {
  const Location& loc = locate(name);
  files_[loc.file].read(files_[loc.file].tensors()[loc.tensor], dst);
}

const std::string& Checkpoint::file_of(std::string_view name) const {
  return files_[locate(name).file].path();
}

uint64_t Checkpoint::total_bytes() const {
  uint64_t total = 0;
  for (const auto& entry : by_name_)
    total += files_[entry.second.file].tensors()[entry.second.tensor].nbytes;
  return total;
}

}  // namespace blockattn
