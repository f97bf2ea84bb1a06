// Host (CPU) heap settings for tensor-sized allocations.
//
// glibc returns every block above its mmap threshold (128 KiB, raised adaptively up to 32 MiB)
// to the kernel when it is freed, and trims the top of the heap eagerly. A CPU forward pass frees
// and re-allocates the same activation and attention buffers (tens to hundreds of MiB) in every
// layer, so each one is mapped, zero-filled page by page and unmapped again: on a 2-core machine
// `eval --task qa --passages 8 --n 10` spent 15 s of system time in page faults against 12 s of
// user time (14.7 s wall). Keeping freed memory in the heap for reuse took it to 8.6 s wall.
#pragma once

namespace blockattn {

// Keeps freed host memory in the process heap for reuse instead of returning it to the kernel
// (glibc: mmap threshold 1 GiB, trim threshold 2 GiB). The process's resident size then stays
// near its peak, as with PyTorch's caching allocators. Call once at program start, before threads
// are started. Does nothing when GLIBC_TUNABLES already sets a malloc tunable (the user's choice
// wins) or when the C library is not glibc. Returns true when it changed the settings.
bool keep_freed_host_memory();

}  // namespace blockattn
