// libblockattn_spm: libsentencepiece behind a C table of functions (see spm_api.h for why).
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

#include "spm_api.h"

namespace {

using Processor = sentencepiece::SentencePieceProcessor;

void set_error(const std::string& msg, char* err, size_t cap) {
  if (!err || cap == 0) return;
  size_t n = std::min(msg.size(), cap - 1);
  std::memcpy(err, msg.data(), n);
  err[n] = '\0';
}

long copy_out(const std::string& s, char* out, size_t cap) {
  std::memcpy(out, s.data(), std::min(s.size(), cap));
  return static_cast<long>(s.size());
}

void* load(const char* data, size_t size, char* err, size_t err_cap) {
  auto* sp = new Processor();
  auto status = sp->LoadFromSerializedProto(std::string_view(data, size));
  if (!status.ok()) {
    set_error(status.ToString(), err, err_cap);
    delete sp;
    return nullptr;
  }
  return sp;
}

void destroy(void* sp) { delete static_cast<Processor*>(sp); }

long encode(void* sp, const char* text, size_t size, int* ids, size_t cap, char* err, size_t err_cap) {
  std::vector<int> out;
  auto status = static_cast<Processor*>(sp)->Encode(std::string_view(text, size), &out);
  if (!status.ok()) {
    set_error(status.ToString(), err, err_cap);
    return -1;
  }
  std::copy_n(out.begin(), std::min(out.size(), cap), ids);
  return static_cast<long>(out.size());
}

long decode(void* sp, const int* ids, size_t n, char* out, size_t cap, char* err, size_t err_cap) {
  std::string text;
  auto status = static_cast<Processor*>(sp)->Decode(std::vector<int>(ids, ids + n), &text);
  if (!status.ok()) {
    set_error(status.ToString(), err, err_cap);
    return -1;
  }
  return copy_out(text, out, cap);
}

int piece_size(void* sp) { return static_cast<Processor*>(sp)->GetPieceSize(); }
int piece_to_id(void* sp, const char* piece, size_t size) {
  return static_cast<Processor*>(sp)->PieceToId(std::string_view(piece, size));
}
long id_to_piece(void* sp, int id, char* out, size_t cap) {
  return copy_out(static_cast<Processor*>(sp)->IdToPiece(id), out, cap);
}
int is_control(void* sp, int id) { return static_cast<Processor*>(sp)->IsControl(id) ? 1 : 0; }
int is_unknown(void* sp, int id) { return static_cast<Processor*>(sp)->IsUnknown(id) ? 1 : 0; }
int bos_id(void* sp) { return static_cast<Processor*>(sp)->bos_id(); }
int eos_id(void* sp) { return static_cast<Processor*>(sp)->eos_id(); }

// The caller's sentences, handed to the trainer one at a time without copying them first.
class ArrayIterator : public sentencepiece::SentenceIterator {
 public:
  ArrayIterator(const char* const* data, const size_t* sizes, size_t n) : data_(data), sizes_(sizes), n_(n) { load(); }
  bool done() const override { return i_ >= n_; }
  void Next() override {
    ++i_;
    load();
  }
  const std::string& value() const override { return value_; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }  // ok

 private:
  void load() {
    if (i_ < n_) value_.assign(data_[i_], sizes_[i_]);
  }
  const char* const* data_;
  const size_t* sizes_;
  size_t n_;
  size_t i_ = 0;
  std::string value_;
};

int train(const char* const* keys, const char* const* values, size_t n_options, const char* const* sentences,
          const size_t* sentence_sizes, size_t n_sentences, unsigned seed,
          void (*on_model)(void* ctx, const char* data, size_t size), void* ctx, char* err, size_t err_cap) {
  // Nothing may unwind through the C table: allocation failures become an error message too.
  try {
    std::unordered_map<std::string, std::string> kwargs;
    for (size_t i = 0; i < n_options; ++i) kwargs[keys[i]] = values[i];
    // Input sampling and shuffling draw from this generator; seeding it keeps training
    // reproducible even if a caller turns sampling on.
    sentencepiece::SetRandomGeneratorSeed(seed);
    ArrayIterator it(sentences, sentence_sizes, n_sentences);
    std::string model;
    auto status = sentencepiece::SentencePieceTrainer::Train(kwargs, &it, &model);
    if (!status.ok()) {
      set_error(status.ToString(), err, err_cap);
      return -1;
    }
    on_model(ctx, model.data(), model.size());
    return 0;
  } catch (const std::exception& e) {
    set_error(std::string("sentencepiece training failed: ") + e.what(), err, err_cap);
    return -1;
  }
}

const BaSpmApi kApi = {kBaSpmApiVersion, load,       destroy,    encode, decode, piece_size, piece_to_id,
                       id_to_piece,      is_control, is_unknown, bos_id, eos_id, train};

}  // namespace

extern "C" __attribute__((visibility("default"))) const BaSpmApi* ba_spm_api(void) { return &kApi; }
