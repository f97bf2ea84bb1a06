#include "blockattn/dtype.h"

#include "blockattn/error.h"

namespace blockattn {

namespace {
struct Entry {
  DType type;
  std::string_view name;
  size_t size;
};
constexpr Entry kTable[] = {
    {DType::kF32, "F32", 4},  {DType::kF16, "F16", 2},  {DType::kBF16, "BF16", 2},
    {DType::kF64, "F64", 8},  {DType::kI64, "I64", 8},  {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},  {DType::kI8, "I8", 1},    {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1}, {DType::kU16, "U16", 2}, {DType::kU32, "U32", 4},
    {DType::kU64, "U64", 8},
};
const Entry& find(DType t) {
  for (const Entry& e : kTable)
    if (e.type == t) return e;
  throw UnsupportedError("unknown dtype code " + std::to_string(static_cast<uint32_t>(t)));
}
}  // namespace

size_t dtype_size(DType t) { return find(t).size; }
std::string_view dtype_name(DType t) { return find(t).name; }

DType dtype_from_name(std::string_view name) {
  for (const Entry& e : kTable)
    if (e.name == name) return e.type;
  throw UnsupportedError("unsupported dtype \"" + std::string(name) + "\"");
}

}  // namespace blockattn
