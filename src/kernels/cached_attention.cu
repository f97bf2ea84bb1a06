#include <cmath>
#include <type_traits>

#include <cuda_runtime.h>
#include <mma.h>

#include "kernels/cached_attention.h"
#include "kernels/element.cuh"

namespace blockattn::kernels {

namespace {

using namespace nvcuda;

constexpr int kTile = 64;  // cache positions per step of a CTA
constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
// Query rows per KV head (n_rep * T): one tile of 16. The kernel takes more (MT tiles of 16),
// but measured on the H200 at 96-128 rows (a final block of 24-32 tokens, n_rep 4) it was
// 1.3-3.4 ms per forward slower than flash attention (latency-bound with four warps per
// multiprocessor), so only the row count of decode steps is enabled.
constexpr int kMaxRows = 16;
constexpr int kMaxSplits = 64;
constexpr float kLog2e = 1.4426950408889634f;

struct Params {
  const void* q;
  const CachedSeq* seqs;
  CachedSeq single;
  float* partial_out;  // [B, n_kv, splits, R, D]
  float* partial_lse;  // [B, n_kv, splits, R], log2 domain
  int64_t layer;
  int tokens, rows, n_head, n_kv, n_rep, splits;
  float scale_log2;
};

__device__ inline CachedSeq seq_of(const Params& p, int b) { return p.seqs ? p.seqs[b] : p.single; }

// Shared memory of one CTA for MT tiles of 16 query rows: q, then `stages` buffers each of K
// and V (T elements), the scores (floats; the probabilities in T overwrite them row by row) and
// three floats per row. Row pitches keep every 16 x 16 tile 32-byte aligned, as the
// tensor-core loads need. One row tile (decode) is memory-bound: three stages keep two tiles in
// flight per CTA, and two such CTAs still fit on a Hopper multiprocessor.
template <int D, int MT>
struct Layout {
  static constexpr int rows = 16 * MT;
  static constexpr int stages = MT == 1 ? 3 : 2;
  // q, k, v rows, T elements (a multiple of 8; at least 32, so a K buffer holds the scratch)
  static constexpr int ldq = D + 8 < 32 ? 32 : D + 8;
  static constexpr int lds = kTile + 4;  // scores, floats (a multiple of 4)
  static constexpr int ldp = 2 * lds;    // probabilities, T elements over the scores' rows
  static constexpr size_t q_bytes = size_t(rows) * ldq * 2;
  static constexpr size_t kv_bytes = size_t(stages) * kTile * ldq * 2;  // K (or V), all stages
  static constexpr size_t s_bytes = size_t(rows) * lds * 4;
  static constexpr size_t bytes = q_bytes + 2 * kv_bytes + s_bytes + size_t(3) * rows * 4;
  // A 16 x 16 float scratch tile per warp fits in one K buffer (the one a step has finished
  // reading, see split_kernel).
  static_assert(size_t(kTile) * ldq * 2 >= size_t(kWarps) * 256 * 4, "scratch tiles");
};

// The device's opt-in shared memory per CTA.
int shared_limit() {
  static const int limit = [] {
    int device = 0, bytes = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
            cudaSuccess)
      bytes = 48 << 10;
    return bytes;
  }();
  return limit;
}

// Calls f(std::integral_constant<int, D>{}) for the head dims the kernels are built for, else
// returns `other`: the one list of them.
template <class F, class R>
R with_head_dim(int64_t head_dim, F f, R other) {
  switch (head_dim) {
    case 16:
      return f(std::integral_constant<int, 16>{});
    case 32:
      return f(std::integral_constant<int, 32>{});
    case 48:
      return f(std::integral_constant<int, 48>{});
    case 64:
      return f(std::integral_constant<int, 64>{});
    case 80:
      return f(std::integral_constant<int, 80>{});
    case 96:
      return f(std::integral_constant<int, 96>{});
    case 128:
      return f(std::integral_constant<int, 128>{});
    default:
      return other;
  }
}

// Shared memory of a CTA (one row tile: kMaxRows is 16), or 0 for an unsupported head dim.
size_t shared_bytes(int64_t head_dim) {
  return with_head_dim(
      head_dim, [](auto d) { return Layout<decltype(d)::value, 1>::bytes; }, size_t{0});
}

__device__ inline void cp_async16(void* smem, const void* gmem, bool valid) {
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int bytes = valid ? 16 : 0;  // 0: the 16 bytes are zero-filled, nothing is read
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem), "r"(bytes));
}
__device__ inline void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ inline void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Writes the T new keys and values of every (sequence, KV head) into the cache at positions
// [length - T, length). grid (T, n_kv, B), 32 threads, 16 bytes per access.
template <class T, int D>
__global__ void append_kv_kernel(const T* k_new, const T* v_new, const CachedSeq* seqs,
                                 CachedSeq single, int64_t layer, int tokens, int n_kv) {
  const int t = blockIdx.x, g = blockIdx.y, b = blockIdx.z;
  const CachedSeq seq = seqs ? seqs[b] : single;
  const int64_t pos = seq.length - tokens + t;
  const int64_t dst = ((layer * n_kv + g) * seq.capacity + pos) * D;
  const int64_t src = ((static_cast<int64_t>(b) * n_kv + g) * tokens + t) * D;
  using P = Pack<T, 8>;
  for (int c = threadIdx.x; c < D / 8; c += 32) {
    reinterpret_cast<P*>(reinterpret_cast<T*>(seq.keys) + dst)[c] =
        reinterpret_cast<const P*>(k_new + src)[c];
    reinterpret_cast<P*>(reinterpret_cast<T*>(seq.values) + dst)[c] =
        reinterpret_cast<const P*>(v_new + src)[c];
  }
}

// One (range, KV head, sequence) per CTA: the range's part of the attention of every row, with
// its log-sum-exp, into the workspace. 4 warps: for the scores warp w owns the 16 positions
// [16w, 16w + 16) of a tile for all rows, for the output the 16-column slices w, w + 4, ... of
// the head dim for all rows, its accumulators held in registers across the range.
//
// The softmax rescales lazily: a row's reference maximum only moves when a tile's maximum
// exceeds it by more than 2^8 (FlashAttention-4's trick), so probabilities stay below 256 and
// the accumulators are rescaled (through a scratch tile in shared memory) only in the rare tiles
// where a reference moved. The result is the same softmax; only its rounding differs.
template <class T, int D, int MT>
__global__ void __launch_bounds__(kThreads) split_kernel(Params p) {
  using L = Layout<D, MT>;
  constexpr int kCols = D / 16;                        // 16-column slices of the head dim
  constexpr int kOwn = (kCols + kWarps - 1) / kWarps;  // slices per warp (some warps may idle)
  constexpr float kSlack = 8.f;                        // log2 of the largest probability
  extern __shared__ __align__(128) unsigned char smem[];
  const int split = blockIdx.x, g = blockIdx.y, b = blockIdx.z;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int R = p.rows;
  const CachedSeq seq = seq_of(p, b);
  const int64_t length = seq.length;
  const int64_t per_split = (length + p.splits - 1) / p.splits;
  const int64_t chunk = (per_split + kTile - 1) / kTile * kTile;
  const int64_t begin = split * chunk, end = min(length, begin + chunk);
  const int64_t part = (static_cast<int64_t>(b) * p.n_kv + g) * p.splits + split;
  float* out_part = p.partial_out + part * R * D;  // [R, D]
  float* lse_part = p.partial_lse + part * R;      // [R]
  if (begin >= end) {  // an empty range (a short cache): it weighs nothing in the merge
    for (int r = tid; r < R; r += kThreads) lse_part[r] = -INFINITY;
    return;
  }

  T* sQ = reinterpret_cast<T*>(smem);                             // [rows, ldq]
  T* sK = reinterpret_cast<T*>(smem + L::q_bytes);                // [stages, kTile, ldq]
  T* sV = reinterpret_cast<T*>(smem + L::q_bytes + L::kv_bytes);  // [stages, kTile, ldq]
  float* sS = reinterpret_cast<float*>(smem + L::q_bytes + 2 * L::kv_bytes);  // [rows, lds]
  float* sM = sS + L::rows * L::lds;  // [rows] reference maximum (log2 units)
  float* sL = sM + L::rows;           // [rows] running sum
  float* sAlpha = sL + L::rows;       // [rows] this tile's rescaling of the accumulators

  const T* keys = reinterpret_cast<const T*>(seq.keys) + (p.layer * p.n_kv + g) * seq.capacity * D;
  const T* values =
      reinterpret_cast<const T*>(seq.values) + (p.layer * p.n_kv + g) * seq.capacity * D;
  constexpr int kVecs = D / 8;  // 16-byte vectors per row
  auto load_tile = [&](int64_t start, int buf) {
    T* dk = sK + buf * kTile * L::ldq;
    T* dv = sV + buf * kTile * L::ldq;
    for (int idx = tid; idx < kTile * kVecs; idx += kThreads) {
      const int row = idx / kVecs, c = idx % kVecs;
      const int64_t pos = start + row;
      const bool valid = pos < end;
      const int64_t off = (valid ? pos : 0) * D + c * 8;
      cp_async16(dk + row * L::ldq + c * 8, keys + off, valid);
      cp_async16(dv + row * L::ldq + c * 8, values + off, valid);
    }
  };

  const int n_tiles = static_cast<int>((end - begin + kTile - 1) / kTile);
  // Prefetch the first stages - 1 tiles (an empty group where there are fewer, so the wait
  // counts below hold).
  for (int st = 0; st < L::stages - 1; ++st) {
    if (st < n_tiles) load_tile(begin + static_cast<int64_t>(st) * kTile, st);
    cp_async_commit();
  }

  // The queries of this KV head are rows [0, R) of a contiguous [n_rep * T, D] slice of q.
  const T* q =
      reinterpret_cast<const T*>(p.q) +
      (static_cast<int64_t>(b) * p.n_head + static_cast<int64_t>(g) * p.n_rep) * p.tokens * D;
  using P8 = Pack<T, 8>;
  for (int idx = tid; idx < L::rows * kVecs; idx += kThreads) {
    const int r = idx / kVecs, c = idx % kVecs;
    P8 v;
    if (r < R) {
      v = reinterpret_cast<const P8*>(q + static_cast<int64_t>(r) * D)[c];
    } else {
      for (int e = 0; e < 8; ++e) v.v[e] = from_f<T>(0.f);
    }
    *reinterpret_cast<P8*>(sQ + r * L::ldq + c * 8) = v;
  }
  for (int r = tid; r < L::rows; r += kThreads) {
    sM[r] = -INFINITY;
    sL[r] = 0.f;
  }

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[kOwn][MT];  // this warp's output
#pragma unroll
  for (int j = 0; j < kOwn; ++j)
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) wmma::fill_fragment(acc[j][mt], 0.f);

  for (int t = 0; t < n_tiles; ++t) {
    const int64_t start = begin + static_cast<int64_t>(t) * kTile;
    {  // prefetch tile t + stages - 1 into the buffer tile t - 1 used (freed by the barrier
       // that ended the previous step), then wait for tile t
      const int ahead = t + L::stages - 1;
      if (ahead < n_tiles)
        load_tile(begin + static_cast<int64_t>(ahead) * kTile, ahead % L::stages);
      cp_async_commit();
      cp_async_wait<L::stages - 1>();
    }
    __syncthreads();
    const T* tk = sK + (t % L::stages) * kTile * L::ldq;
    const T* tv = sV + (t % L::stages) * kTile * L::ldq;

    {  // Scores S = Q K^T for this warp's 16 positions, all rows.
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> s_acc[MT];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) wmma::fill_fragment(s_acc[mt], 0.f);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> bk;
        wmma::load_matrix_sync(bk, tk + warp * 16 * L::ldq + kk * 16, L::ldq);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
          wmma::load_matrix_sync(a, sQ + mt * 16 * L::ldq + kk * 16, L::ldq);
          wmma::mma_sync(s_acc[mt], a, bk, s_acc[mt]);
        }
      }
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
        wmma::store_matrix_sync(sS + mt * 16 * L::lds + warp * 16, s_acc[mt], L::lds,
                                wmma::mem_row_major);
    }
    __syncthreads();

    // Online softmax, 4 lanes per row (16 scores each), 8 rows per warp at a time: masked
    // scores, the reference maximum, the probabilities (in T, over the row's scores) and the
    // accumulators' rescaling. (A warp per row made this step the kernel's bottleneck at 128
    // rows: 32 rows one after another per warp, each a chain of 10 shuffles.)
    for (int r = warp * 8 + lane / 4; r - lane / 4 < L::rows; r += kWarps * 8) {
      const int quarter = lane % 4;  // columns [16 quarter, 16 quarter + 16)
      const int64_t horizon = r < R ? min(end - 1, length - p.tokens + r % p.tokens) : -1;
      const int64_t j0 = start + quarter * 16;
      float v[16];
      const float4* src = reinterpret_cast<const float4*>(sS + r * L::lds + quarter * 16);
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float4 x = src[e];
        v[4 * e] = x.x, v[4 * e + 1] = x.y, v[4 * e + 2] = x.z, v[4 * e + 3] = x.w;
      }
      float top = -INFINITY;
#pragma unroll
      for (int e = 0; e < 16; ++e) {
        v[e] = j0 + e <= horizon ? v[e] * p.scale_log2 : -INFINITY;
        top = fmaxf(top, v[e]);
      }
      top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, 1));
      top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, 2));
      const float m_old = sM[r];
      float m = m_old, alpha = 1.f;
      if (top > m_old + kSlack) {  // also the first visible scores (m_old = -inf)
        m = top;
        if (m_old != -INFINITY) alpha = exp2f(m_old - m);  // nothing accumulated yet: no rescale
      }
      float sum = 0.f;
#pragma unroll
      for (int e = 0; e < 16; ++e) {
        v[e] = m != -INFINITY ? exp2f(v[e] - m) : 0.f;
        sum += v[e];
      }
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      __syncwarp();  // every lane has read its scores before the rows are overwritten
      T* prow = reinterpret_cast<T*>(sS + r * L::lds) + quarter * 16;
#pragma unroll
      for (int e = 0; e < 16; ++e) prow[e] = from_f<T>(v[e]);
      if (quarter == 0) {
        sM[r] = m;
        sL[r] = sL[r] * alpha + sum;
        sAlpha[r] = alpha;
      }
    }
    __syncthreads();

    // O = alpha * O + P V for this warp's column slices, all rows.
    const T* sP = reinterpret_cast<const T*>(sS);
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      const bool rescale = __any_sync(0xffffffffu, sAlpha[mt * 16 + (lane & 15)] != 1.f);
      if (!rescale) continue;
      // Scratch: this warp's tile of the K buffer the scores have finished reading (the next
      // write to it is the prefetch after the barrier that ends this step).
      float* sScratch = reinterpret_cast<float*>(const_cast<T*>(tk)) + warp * 256;
#pragma unroll
      for (int j = 0; j < kOwn; ++j) {
        if (warp + j * kWarps >= kCols) continue;
        wmma::store_matrix_sync(sScratch, acc[j][mt], 16, wmma::mem_row_major);
        __syncwarp();
        for (int e = lane; e < 256; e += 32) sScratch[e] *= sAlpha[mt * 16 + e / 16];
        __syncwarp();
        wmma::load_matrix_sync(acc[j][mt], sScratch, 16, wmma::mem_row_major);
        __syncwarp();
      }
    }
#pragma unroll
    for (int kk = 0; kk < kTile / 16; ++kk) {
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> bv[kOwn];
#pragma unroll
      for (int j = 0; j < kOwn; ++j)
        if (warp + j * kWarps < kCols)
          wmma::load_matrix_sync(bv[j], tv + kk * 16 * L::ldq + (warp + j * kWarps) * 16, L::ldq);
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
        wmma::load_matrix_sync(a, sP + mt * 16 * L::ldp + kk * 16, L::ldp);
#pragma unroll
        for (int j = 0; j < kOwn; ++j)
          if (warp + j * kWarps < kCols) wmma::mma_sync(acc[j][mt], a, bv[j], acc[j][mt]);
      }
    }
    __syncthreads();  // before the next step's loads and scores overwrite what was read
  }
  cp_async_wait<0>();  // no copy may outlive the CTA (the trailing groups are empty)

  for (int r = tid; r < R; r += kThreads)
    lse_part[r] = sL[r] > 0.f ? sM[r] + log2f(sL[r]) : -INFINITY;
  // The accumulators, normalised, through a scratch tile in K buffer 0 (every step is over):
  // rows < R only.
  float* sScratch = reinterpret_cast<float*>(sK) + warp * 256;
#pragma unroll
  for (int j = 0; j < kOwn; ++j) {
    const int col = (warp + j * kWarps) * 16;
    if (col >= D) continue;
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      wmma::store_matrix_sync(sScratch, acc[j][mt], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        const int r = mt * 16 + e / 16;
        if (r < R)
          out_part[static_cast<int64_t>(r) * D + col + e % 16] =
              sL[r] > 0.f ? sScratch[e] / sL[r] : 0.f;
      }
      __syncwarp();
    }
  }
}

// Merges the ranges of one row: out = Σ 2^{lse_s} o_s / Σ 2^{lse_s}. grid (R, n_kv, B), D threads.
template <class T>
__global__ void merge_kernel(const float* partial_out, const float* partial_lse, T* out, int rows,
                             int tokens, int n_head, int n_kv, int n_rep, int splits, int d_model) {
  const int r = blockIdx.x, g = blockIdx.y, b = blockIdx.z, d = threadIdx.x;
  const int64_t first = (static_cast<int64_t>(b) * n_kv + g) * splits;
  float top = -INFINITY;
  for (int s = 0; s < splits; ++s) top = fmaxf(top, partial_lse[(first + s) * rows + r]);
  float acc = 0.f, weight = 0.f;
  if (top != -INFINITY) {
    for (int s = 0; s < splits; ++s) {
      const float lse = partial_lse[(first + s) * rows + r];
      if (lse == -INFINITY) continue;  // an empty range: its output was never written
      const float w = exp2f(lse - top);
      acc += w * partial_out[((first + s) * rows + r) * d_model + d];
      weight += w;
    }
  }
  const int head = g * n_rep + r / tokens, i = r % tokens;
  out[((static_cast<int64_t>(b) * tokens + i) * n_head + head) * d_model + d] =
      from_f<T>(weight > 0.f ? acc / weight : 0.f);
}

template <class T, int D, int MT>
const char* launch_split(const Params& p, dim3 grid, cudaStream_t stream) {
  using L = Layout<D, MT>;
  // Once per instantiation, before any capture (the first call of a shape runs eagerly).
  static const cudaError_t configured =
      cudaFuncSetAttribute(split_kernel<T, D, MT>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(L::bytes));
  if (configured != cudaSuccess) return cudaGetErrorString(configured);
  split_kernel<T, D, MT><<<grid, kThreads, L::bytes, stream>>>(p);
  return nullptr;
}

template <class T, int D>
const char* launch(const CachedAttentionArgs& a, cudaStream_t stream) {
  const int rows = static_cast<int>(a.n_head / a.n_kv * a.tokens);
  const dim3 grid_rows(static_cast<unsigned>(a.tokens), static_cast<unsigned>(a.n_kv),
                       static_cast<unsigned>(a.batch));
  if (a.k_new) {
    append_kv_kernel<T, D><<<grid_rows, 32, 0, stream>>>(
        static_cast<const T*>(a.k_new), static_cast<const T*>(a.v_new), a.seqs, a.single, a.layer,
        static_cast<int>(a.tokens), static_cast<int>(a.n_kv));
  }
  Params p;
  p.q = a.q;
  p.seqs = a.seqs;
  p.single = a.single;
  p.partial_out = a.workspace;
  p.partial_lse = a.workspace + a.batch * a.n_kv * a.splits * rows * D;
  p.layer = a.layer;
  p.tokens = static_cast<int>(a.tokens);
  p.rows = rows;
  p.n_head = static_cast<int>(a.n_head);
  p.n_kv = static_cast<int>(a.n_kv);
  p.n_rep = static_cast<int>(a.n_head / a.n_kv);
  p.splits = static_cast<int>(a.splits);
  p.scale_log2 = a.scale * kLog2e;
  const dim3 grid(static_cast<unsigned>(a.splits), static_cast<unsigned>(a.n_kv),
                  static_cast<unsigned>(a.batch));
  static_assert(kMaxRows == 16, "instantiate split_kernel for more row tiles");
  const char* err = launch_split<T, D, 1>(p, grid, stream);
  if (err) return err;
  merge_kernel<T><<<dim3(static_cast<unsigned>(rows), static_cast<unsigned>(a.n_kv),
                         static_cast<unsigned>(a.batch)),
                    D, 0, stream>>>(p.partial_out, p.partial_lse, static_cast<T*>(a.out), rows,
                                    p.tokens, p.n_head, p.n_kv, p.n_rep, p.splits, D);
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

}  // namespace

bool cached_attention_supports(int64_t head_dim, int64_t rows_per_kv_head, ElementType type) {
  if (type != ElementType::kBFloat16 && type != ElementType::kFloat16) return false;
  if (rows_per_kv_head < 1 || rows_per_kv_head > kMaxRows) return false;
  const size_t bytes = shared_bytes(head_dim);  // 0: unsupported head_dim
  return bytes > 0 && bytes <= static_cast<size_t>(shared_limit());
}

int64_t cached_attention_splits(int64_t n_kv, int64_t head_dim) {
  struct Device {
    int sms = 108, shared_per_sm = 164 << 10;
  };
  static const Device dev = [] {
    Device d;
    int device = 0;
    if (cudaGetDevice(&device) == cudaSuccess) {
      cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, device);
      cudaDeviceGetAttribute(&d.shared_per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device);
    }
    return d;
  }();
  // CTAs resident per multiprocessor, bounded by shared memory (1 KB of it reserved per CTA):
  // one full wave of CTAs for one sequence, so no multiprocessor runs a second, lone one.
  const int64_t bytes = static_cast<int64_t>(shared_bytes(head_dim)) + 1024;
  int64_t per_sm = bytes > 0 ? dev.shared_per_sm / bytes : 1;
  per_sm = per_sm < 1 ? 1 : (per_sm > 4 ? 4 : per_sm);
  const int64_t want = per_sm * dev.sms / n_kv;
  return want < 1 ? 1 : (want > kMaxSplits ? kMaxSplits : want);
}

int64_t cached_attention_workspace(const CachedAttentionArgs& a) {
  const int64_t rows = a.n_head / a.n_kv * a.tokens;
  return a.batch * a.n_kv * a.splits * rows * (a.head_dim + 1);
}

const char* cached_attention(const CachedAttentionArgs& a, void* stream) {
  if (a.n_kv <= 0 || a.n_head % a.n_kv != 0 || a.tokens < 1 || a.batch < 1 || a.splits < 1 ||
      (!a.seqs && a.batch != 1) ||
      !cached_attention_supports(a.head_dim, a.n_head / a.n_kv * a.tokens, a.type))
    return "cached attention: unsupported arguments";
  auto s = static_cast<cudaStream_t>(stream);
  const char* unsupported = "cached attention: unsupported head_dim";
  if (a.type == ElementType::kBFloat16)
    return with_head_dim(
        a.head_dim, [&](auto d) { return launch<__nv_bfloat16, decltype(d)::value>(a, s); },
        unsupported);
  return with_head_dim(
      a.head_dim, [&](auto d) { return launch<__half, decltype(d)::value>(a, s); }, unsupported);
}

}  // namespace blockattn::kernels
