// tokenizer_config.json next to a fixed tokenizer.json: bos/eos names, add_bos_token, and the
// chat format chosen from them.
#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "fuzz_util.h"
#include "tokenizer/chat_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace blockattn;
  static const std::string dir = [] {
    const std::string d = fuzz::scratch_dir() + "/tok";
    ::mkdir(d.c_str(), 0755);
    fuzz::write_file(d + "/tokenizer.json", R"({"model": {"type": "BPE", "vocab":
      {"a": 0, "b": 1, "<s>": 2, "</s>": 3, "<|im_start|>": 4, "<|im_end|>": 5, "<|eot_id|>": 6},
      "merges": []}, "added_tokens": [{"id": 2, "content": "<s>", "special": true},
      {"id": 3, "content": "</s>", "special": true}, {"id": 4, "content": "<|im_start|>", "special": true},
      {"id": 5, "content": "<|im_end|>", "special": true}]})");
    return d;
  }();
  fuzz::write_file(dir + "/tokenizer_config.json", data, size);
  try {
    std::unique_ptr<Tokenizer> tok = Tokenizer::from_file(dir + "/tokenizer.json");
    for (bool chat : {false, true}) {
      ChatFormat f = ChatFormat::detect(*tok, chat);
      (void)tok->encode(f.final_text("ab"), true);
      (void)f.conversation_text({{"user", "a"}, {"assistant", "b"}, {"user", "ab"}});
    }
  } catch (const Error&) {
  }
  return 0;
}
