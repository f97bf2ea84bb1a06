// libblockattn_spm: libsentencepiece behind a C table of functions (see spm_api.h for why).
#include <sentencepiece_processor.h>

#include <algorithm>
#include <cstring>
#include <string>
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

const BaSpmApi kApi = {kBaSpmApiVersion, load, destroy, encode, decode, piece_size, piece_to_id,
                       id_to_piece, is_control, is_unknown, bos_id, eos_id};

}  // namespace

extern "C" __attribute__((visibility("default"))) const BaSpmApi* ba_spm_api(void) { return &kApi; }
