// tokenizer.json (raw, or zstd-compressed when the input starts with the zstd magic): model,
// vocabulary, merges, normalizer, pre-tokenizer, added tokens; then an encode/decode round.
#include <cstdint>
#include <cstring>
#include <string>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace blockattn;
  const bool zst = size >= 4 && std::memcmp(data, "\x28\xb5\x2f\xfd", 4) == 0;
  const std::string path = fuzz::scratch_dir() + (zst ? "/tokenizer.json.zst" : "/tokenizer.json");
  fuzz::write_file(path, data, size);
  try {
    std::unique_ptr<Tokenizer> tok = Tokenizer::from_file(path);
    for (const char* text :
         {"Hello, world! 123", "  tabs\tand\nnewlines  ", "caf\xc3\xa9 \xe2\x82\xac"}) {
      std::vector<int32_t> ids = tok->encode(text, true);
      (void)tok->decode(ids);
      (void)tok->decode(ids, true);
    }
    (void)tok->vocab_size();
  } catch (const Error&) {
  }
  return 0;
}
