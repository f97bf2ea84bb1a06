#include "core/host_allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// A sanitizer's allocator replaces glibc's (gcc defines __SANITIZE_*__, clang __has_feature).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BLOCKATTN_SANITIZED_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define BLOCKATTN_SANITIZED_MALLOC 1
#endif
#endif

namespace blockattn {
namespace {

#if defined(__GLIBC__)
// Restores GLIBC_TUNABLES as it was when the test began.
class TunablesGuard {
 public:
  TunablesGuard() {
    if (const char* v = std::getenv("GLIBC_TUNABLES")) saved_ = v, had_ = true;
  }
  ~TunablesGuard() {
    if (had_)
      setenv("GLIBC_TUNABLES", saved_.c_str(), 1);
    else
      unsetenv("GLIBC_TUNABLES");
  }

 private:
  std::string saved_;
  bool had_ = false;
};

TEST(HostAllocator, AUsersMallocTunableWins) {
  TunablesGuard guard;
  setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2", 1);
  EXPECT_FALSE(keep_freed_host_memory());
}

TEST(HostAllocator, AFreedTensorSizedBlockStaysInTheHeap) {
  TunablesGuard guard;
  unsetenv("GLIBC_TUNABLES");
#if defined(BLOCKATTN_SANITIZED_MALLOC)
  // The sanitizer's allocator refuses mallopt, and the function says so.
  EXPECT_FALSE(keep_freed_host_memory());
#else
  ASSERT_TRUE(keep_freed_host_memory());
  // 64 MiB: above glibc's largest default mmap threshold (32 MiB), so without the setting it is
  // mapped on its own and unmapped by free().
  constexpr size_t kBytes = size_t{64} << 20;
  const size_t free_before = mallinfo2().fordblks;
  char* block = static_cast<char*>(std::malloc(kBytes));
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, kBytes);  // touched, as a tensor would be
  EXPECT_LT(mallinfo2().hblkhd, kBytes) << "the block was mapped on its own";
  std::free(block);
  EXPECT_GE(mallinfo2().fordblks, free_before + kBytes) << "freed memory left the heap";
#endif
}
#endif

}  // namespace
}  // namespace blockattn
