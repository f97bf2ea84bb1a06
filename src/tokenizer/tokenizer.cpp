// Tokenizer::load / from_file: picks the back end from the file name and applies
// tokenizer_config.json.
#include "blockattn/tokenizer.h"

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "core/io.h"
#include "core/strings.h"
#include "tokenizer/hf_tokenizer.h"
#ifdef BLOCKATTN_HAVE_SENTENCEPIECE
#include "tokenizer/sentencepiece_tokenizer.h"
#endif

namespace blockattn {
namespace {

std::string directory_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// A config token is "<s>", {"content": "<s>", ...} or null.
std::optional<std::string> config_token(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return std::nullopt;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& model_dir) {
  if (!is_directory(model_dir))
    throw IoError(model_dir + ": not a directory (looking for a tokenizer)");
  for (const char* name : {"tokenizer.json", "tokenizer.json.zst", "tokenizer.model"}) {
    std::string path = model_dir + "/" + name;
    if (file_exists(path)) return from_file(path);
  }
  throw IoError(model_dir + ": no tokenizer.json, tokenizer.json.zst or tokenizer.model");
}

std::unique_ptr<Tokenizer> Tokenizer::from_file(const std::string& path) {
  std::unique_ptr<Tokenizer> tok;
  if (ends_with(path, ".json") || ends_with(path, ".json.zst")) {
    tok = std::make_unique<tok::HfTokenizer>(read_file_maybe_zstd(path), path);
  } else if (ends_with(path, ".model")) {
#ifdef BLOCKATTN_HAVE_SENTENCEPIECE
    tok = tok::make_sentencepiece_tokenizer(path);
#else
    throw UnsupportedError(path + ": this build has no SentencePiece support");
#endif
  } else {
    throw UnsupportedError(path +
                           ": unknown tokenizer file type (want .json, .json.zst or .model)");
  }

  if (!tok->eos_id_) {
    for (const char* name : {"<|endoftext|>", "</s>", "<|eot_id|>"}) {
      if (auto id = tok->token_to_id(name)) {
        tok->eos_id_ = id;
        break;
      }
    }
  }

  std::string config_path = directory_of(path) + "/tokenizer_config.json";
  if (!file_exists(config_path)) return tok;
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(read_file(config_path));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(config_path + ": malformed JSON: " + e.what());
  }
  if (!config.is_object()) throw FormatError(config_path + ": not a JSON object");
  auto resolve = [&](const char* key, std::optional<int32_t>& slot) {
    auto it = config.find(key);
    if (it == config.end()) return;
    auto name = config_token(*it);
    if (!name) {
      slot.reset();  // an explicit null: the model has no such token
      return;
    }
    // A name the vocabulary lacks is ignored rather than fatal: the fallback stays.
    if (auto id = tok->token_to_id(*name)) slot = id;
  };
  resolve("bos_token", tok->bos_id_);
  resolve("eos_token", tok->eos_id_);
  if (auto it = config.find("add_bos_token"); it != config.end() && it->is_boolean())
    tok->add_bos_token_ = it->get<bool>();
  return tok;
}

}  // namespace blockattn
