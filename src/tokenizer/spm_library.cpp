#include "tokenizer/spm_library.h"

#include <dlfcn.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <vector>

#include "blockattn/error.h"

namespace blockattn::tok {

namespace {

// AddressSanitizer refuses RTLD_DEEPBIND; sanitizer builds never link libtorch, so there is no
// protobuf to clash with there.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kDlopenFlags = RTLD_NOW | RTLD_LOCAL;
#else
constexpr int kDlopenFlags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#endif

std::string executable_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

const BaSpmApi* open_shim(std::string* tried) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("BLOCKATTN_SPM_LIBRARY")) candidates.emplace_back(env);
  candidates.push_back(executable_dir() + "/libblockattn_spm.so");
  candidates.push_back(executable_dir() + "/../lib/libblockattn_spm.so");
#ifdef BLOCKATTN_SPM_BUILD_PATH
  candidates.emplace_back(BLOCKATTN_SPM_BUILD_PATH);
#endif
  for (const std::string& path : candidates) {
    // RTLD_LOCAL | RTLD_DEEPBIND: sentencepiece's embedded protobuf stays private (spm_api.h).
    void* handle = ::dlopen(path.c_str(), kDlopenFlags);
    if (!handle) {
      *tried += "\n  " + path + ": " + ::dlerror();
      continue;
    }
    auto fn = reinterpret_cast<const BaSpmApi* (*)()>(::dlsym(handle, "ba_spm_api"));
    const BaSpmApi* api = fn ? fn() : nullptr;
    if (api && api->version == kBaSpmApiVersion) return api;
    *tried += "\n  " + path + ": not a compatible libblockattn_spm";
    ::dlclose(handle);
  }
  return nullptr;
}

}  // namespace

const BaSpmApi& spm_api() {
  static std::once_flag once;
  static const BaSpmApi* api = nullptr;
  static std::string tried;
  std::call_once(once, [] { api = open_shim(&tried); });
  if (!api)
    throw UnsupportedError("SentencePiece tokenizer.model support is not available (libblockattn_spm not found; tried:" +
                           tried + ")");
  return *api;
}

}  // namespace blockattn::tok
