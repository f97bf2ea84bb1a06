// model.safetensors.index.json: the weight map naming shard files, next to one real shard.
#include <sys/stat.h>

#include <cstdint>

#include "blockattn/error.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/safetensors.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace blockattn;
  static const std::string dir = [] {
    const std::string d = fuzz::scratch_dir() + "/indexed";
    ::mkdir(d.c_str(), 0755);
    SafetensorsWriter w;
    const float x[4] = {1, 2, 3, 4};
    w.add_copy("a", DType::kF32, {2, 2}, x, sizeof x);
    w.add_copy("b", DType::kF32, {4}, x, sizeof x);
    w.write(d + "/model-00001-of-00001.safetensors");
    return d;
  }();
  fuzz::write_file(dir + "/model.safetensors.index.json", data, size);
  try {
    Checkpoint ck = Checkpoint::open(dir);
    for (const std::string& name : ck.names()) (void)ck.file_of(name);
    (void)ck.total_bytes();
  } catch (const Error&) {
  }
  return 0;
}
