// LearnedSegmenter::save / load: a safetensors file whose metadata carries the format name, a
// version, the config and a checksum over the config and all tensor bytes. safetensors itself
// has no checksum, and a flipped bit in a hashed embedding would silently change scores.
#include <string>
#include <vector>

#include "blockattn/error.h"
#include "checkpoint/safetensors.h"
#include "core/hash.h"
#include "segment/learned_half.h"
#include "segment/learned_model.h"

namespace blockattn::segment {

namespace {

constexpr const char* kFormat = "blockattn-segmenter";
// Version 2 models have content signals (FeatureConfig::content_windows): a build that reads
// only version 1 would ignore them and score wrongly, so they carry a version of their own.
// Models without content signals are still written as version 1.
constexpr const char* kVersion = "1";
constexpr const char* kVersionContent = "2";

std::string checksum(const std::string& config_json, const std::vector<uint16_t>& embed,
                     const std::vector<float>& b1, const std::vector<float>& w2, float b2) {
  Hasher128 h;
  h.update_field(config_json);
  h.update_field({reinterpret_cast<const char*>(embed.data()), embed.size() * 2});
  h.update_field({reinterpret_cast<const char*>(b1.data()), b1.size() * 4});
  h.update_field({reinterpret_cast<const char*>(w2.data()), w2.size() * 4});
  h.update_field({reinterpret_cast<const char*>(&b2), 4});
  return h.digest().hex();
}

void read_tensor(const SafetensorsFile& f, const char* name, DType dtype,
                 const std::vector<int64_t>& shape, void* dst) {
  const TensorInfo& t = f.at(name);
  if (t.dtype != dtype || t.shape != shape)
    throw FormatError(f.path() + ": tensor '" + name + "' is " + std::string(dtype_name(t.dtype)) +
                      " " + shape_string(t.shape) + ", expected " + std::string(dtype_name(dtype)) +
                      " " + shape_string(shape));
  f.read(t, dst);
}

}  // namespace

void LearnedSegmenter::save(const std::string& path) const {
  const std::string config_json = learned_config_json(config_);
  std::vector<uint16_t> embed(w_.embed.size());
  for (size_t i = 0; i < embed.size(); ++i) embed[i] = float_to_half(w_.embed[i]);
  const int64_t buckets = int64_t{1} << config_.features.bucket_bits;
  const int64_t hidden = config_.hidden;
  SafetensorsWriter w;
  w.add("embed", DType::kF16, {buckets, hidden}, embed.data(), embed.size() * 2);
  w.add("b1", DType::kF32, {hidden}, w_.b1.data(), w_.b1.size() * 4);
  w.add("w2", DType::kF32, {hidden}, w_.w2.data(), w_.w2.size() * 4);
  w.add("b2", DType::kF32, {1}, &w_.b2, 4);
  w.set_metadata("format", kFormat);
  w.set_metadata("version", config_.features.content_windows.empty() ? kVersion : kVersionContent);
  w.set_metadata("config", config_json);
  w.set_metadata("checksum", checksum(config_json, embed, w_.b1, w_.w2, w_.b2));
  w.write(path);
}

LearnedSegmenter LearnedSegmenter::load(const std::string& path) {
  SafetensorsFile f = SafetensorsFile::open(path);
  const auto& meta = f.metadata();
  auto get = [&](const char* key) -> const std::string& {
    auto it = meta.find(key);
    if (it == meta.end())
      throw FormatError(path + ": not a blockattn segmenter model (no '" + key + "' metadata)");
    return it->second;
  };
  if (get("format") != kFormat)
    throw FormatError(path + ": not a blockattn segmenter model (format '" + get("format") + "')");
  const std::string& version = get("version");
  if (version != kVersion && version != kVersionContent)
    throw FormatError(path + ": segmenter format version " + version +
                      " is not supported (this build reads " + kVersion + " and " +
                      kVersionContent + ")");
  const std::string& config_json = get("config");
  LearnedSegmenter m(learned_config_from_json(config_json, path));
  if ((version == kVersionContent) == m.config_.features.content_windows.empty())
    throw FormatError(path + ": segmenter format version " + version +
                      " disagrees with its config (content windows)");
  const int64_t buckets = int64_t{1} << m.config_.features.bucket_bits;
  const int64_t hidden = m.config_.hidden;
  std::vector<uint16_t> embed(static_cast<size_t>(buckets * hidden));
  try {
    read_tensor(f, "embed", DType::kF16, {buckets, hidden}, embed.data());
    read_tensor(f, "b1", DType::kF32, {hidden}, m.w_.b1.data());
    read_tensor(f, "w2", DType::kF32, {hidden}, m.w_.w2.data());
    read_tensor(f, "b2", DType::kF32, {1}, &m.w_.b2);
  } catch (const IoError& e) {
    throw FormatError(path + ": truncated or unreadable segmenter model (" + e.what() + ")");
  }
  if (checksum(config_json, embed, m.w_.b1, m.w_.w2, m.w_.b2) != get("checksum"))
    throw FormatError(path + ": checksum mismatch (the segmenter model file is corrupt)");
  for (size_t i = 0; i < embed.size(); ++i) m.w_.embed[i] = half_to_float(embed[i]);
  return m;
}

}  // namespace blockattn::segment
