// C interface of libblockattn_spm, the shim around libsentencepiece.
//
// Why a shim: Debian's libsentencepiece.so exports the protobuf-lite it embeds, and libtorch
// loads the full libprotobuf; in one process the two interpose each other and crash at start-up.
// The shim is dlopen()ed with RTLD_LOCAL | RTLD_DEEPBIND only when a tokenizer.model is loaded,
// so sentencepiece binds to its own protobuf and nothing else sees it.
#pragma once

#include <stddef.h>

extern "C" {

struct BaSpmApi {
  int version;  // kBaSpmApiVersion
  // A processor from a serialized model; nullptr with a message in err on failure.
  void* (*load)(const char* data, size_t size, char* err, size_t err_cap);
  void (*destroy)(void* sp);
  // Encodes text; writes min(count, cap) ids and returns count, or -1 with err.
  long (*encode)(void* sp, const char* text, size_t size, int* ids, size_t cap, char* err, size_t err_cap);
  // Decodes ids; writes min(len, cap) bytes and returns len, or -1 with err.
  long (*decode)(void* sp, const int* ids, size_t n, char* out, size_t cap, char* err, size_t err_cap);
  int (*piece_size)(void* sp);
  int (*piece_to_id)(void* sp, const char* piece, size_t size);
  // Writes min(len, cap) bytes of the piece and returns len.
  long (*id_to_piece)(void* sp, int id, char* out, size_t cap);
  int (*is_control)(void* sp, int id);
  int (*is_unknown)(void* sp, int id);
  int (*bos_id)(void* sp);
  int (*eos_id)(void* sp);
  // --- version 2 ---
  // Trains a model (libsentencepiece_train) on n sentences with the trainer flags given as
  // n_options key/value pairs (spm_train's names, e.g. "vocab_size", "model_type"). `seed` seeds
  // sentencepiece's global random generator first. On success calls on_model once with the
  // serialized model and returns 0; on failure returns -1 with a message in err.
  int (*train)(const char* const* keys, const char* const* values, size_t n_options,
               const char* const* sentences, const size_t* sentence_sizes, size_t n_sentences,
               unsigned seed, void (*on_model)(void* ctx, const char* data, size_t size), void* ctx,
               char* err, size_t err_cap);
};

// The one exported symbol.
const BaSpmApi* ba_spm_api(void);
}

// 2: train appended (members of version 1 unchanged, in order).
inline constexpr int kBaSpmApiVersion = 2;
