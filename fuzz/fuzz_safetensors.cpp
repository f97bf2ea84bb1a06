// safetensors files: the 8-byte length, the JSON header and the offsets it names.
#include <cstdint>
#include <vector>

#include "blockattn/error.h"
#include "checkpoint/safetensors.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace blockattn;
  const std::string path = fuzz::scratch_dir() + "/model.safetensors";
  fuzz::write_file(path, data, size);
  try {
    SafetensorsFile f = SafetensorsFile::open(path);
    // Whatever the header claims must be readable within the file.
    for (const TensorInfo& t : f.tensors()) {
      if (t.nbytes > (1u << 20)) continue;
      std::vector<char> buf(t.nbytes);
      f.read(t, buf.data());
    }
  } catch (const Error&) {
  }
  return 0;
}
