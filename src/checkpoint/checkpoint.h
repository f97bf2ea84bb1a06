// A model directory's weights: one model.safetensors, or shards listed by
// model.safetensors.index.json ({"weight_map": {tensor name: shard file}}), as Hugging Face
// saves them. Every shard is opened and validated up front; tensor bytes are read on demand.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/safetensors.h"

namespace blockattn {

// Movable, not copyable (it owns the open files).
class Checkpoint {
 public:
  static constexpr const char* kSingleFile = "model.safetensors";
  static constexpr const char* kIndexFile = "model.safetensors.index.json";

  // model.safetensors if present, else the index. No such directory, or neither file -> IoError
  // naming the directory (and both file names). A shard missing -> IoError naming it; a malformed
  // index -> FormatError naming it; a weight_map tensor absent from its shard -> FormatError naming
  // both.
  static Checkpoint open(const std::string& model_dir);

  const std::string& dir() const { return dir_; }
  // Sorted.
  std::vector<std::string> names() const;
  size_t size() const { return by_name_.size(); }
  // nullptr if absent.
  const TensorInfo* find(std::string_view name) const;
  // FormatError "<dir>: no tensor '<name>' in <file>" if absent.
  const TensorInfo& at(std::string_view name) const;
  // Reads the tensor's bytes (at(name).nbytes of them) into dst.
  void read(std::string_view name, void* dst) const;
  // Path of the file holding the tensor (FormatError if absent).
  const std::string& file_of(std::string_view name) const;
  // Sum of nbytes over all tensors.
  uint64_t total_bytes() const;
  // The opened files (one, or each shard once, in the order the sorted weight_map first
  // names it).
  const std::vector<SafetensorsFile>& files() const { return files_; }

 private:
  Checkpoint() = default;
  struct Location {
    size_t file;    // index into files_
    size_t tensor;  // index into files_[file].tensors()
  };
  const Location& locate(std::string_view name) const;

  std::string dir_;
  std::string source_;  // the file that lists the tensors: model.safetensors or the index
  std::vector<SafetensorsFile> files_;
  std::map<std::string, Location, std::less<>> by_name_;
};

}  // namespace blockattn
