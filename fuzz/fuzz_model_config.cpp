// config.json: the model's shape, RoPE, flags and blockattn extensions.
#include <cstdint>
#include <string>

#include "blockattn/error.h"
#include "blockattn/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace blockattn;
  try {
    ModelConfig c = ModelConfig::from_json(std::string(reinterpret_cast<const char*>(data), size),
                                           "config.json");
    // What was accepted must serialise and be accepted again.
    (void)ModelConfig::from_json(c.to_json(), "round-trip");
  } catch (const Error&) {
  }
  return 0;
}
