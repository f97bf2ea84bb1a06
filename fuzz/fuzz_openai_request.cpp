// The server's request bodies: POST /v1/chat/completions and /v1/completions JSON (messages,
// blocks by text or id, sampling and stop options), and block ids.
#include <cstdint>
#include <string>

#include "serve/api_error.h"
#include "serve/openai_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace blockattn::serve;
  if (size == 0) return 0;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  RequestLimits limits;
  try {
    (void)parse_completion_request(body, (data[0] & 1) != 0, limits);
  } catch (const ApiError&) {
  }
  try {
    (void)parse_block_id(body, "block");
  } catch (const ApiError&) {
  }
  return 0;
}
