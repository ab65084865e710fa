// Solution of kata 09: online softmax, merged states, tiled flash attention forward
// and backward, causal tile skipping, and an explicit workspace.
//
// This file is portable C++: steps 1 and 2, argument checks, the scalar forward and
// backward kernels, the threads, and the run-time choice of the forward kernel. The AVX2
// + FMA forward kernel is in flash_attention_avx2.cc, reached only through
// flash_kernels.h and only when the CPU reports AVX2 and FMA.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "flash_attention.h"
#include "flash_kernels.h"

namespace llmk::flash {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// ---------------------------------------------------------------------------------
// Argument checks, shared by every entry point.

template <typename Derived>
void RequireNonEmpty(std::string_view where, std::string_view name,
                     const Eigen::DenseBase<Derived>& m) {
  Require(m.rows() >= 1 && m.cols() >= 1, where,
          fmt::format("{} is {}; it needs at least one row and one column", name, ShapeOf(m)));
}

void RequireOptions(std::string_view where, const FlashOptions& o) {
  Require(o.block_q >= 0, where, fmt::format("block_q must be >= 0, got {}", o.block_q));
  Require(o.block_k >= 0, where, fmt::format("block_k must be >= 0, got {}", o.block_k));
  Require(o.num_heads >= 1, where, fmt::format("num_heads must be >= 1, got {}", o.num_heads));
  Require(o.num_threads >= 1, where,
          fmt::format("num_threads must be >= 1, got {}", o.num_threads));
}

void RequireSizes(std::string_view where, int t, int n, int d, const FlashOptions& o) {
  RequireOptions(where, o);
  Require(t >= 1, where, fmt::format("num_queries (T) must be >= 1, got {}", t));
  Require(n >= 1, where, fmt::format("num_keys (N) must be >= 1, got {}", n));
  Require(d >= 1, where, fmt::format("head_dim (d) must be >= 1, got {}", d));
  Require(!o.causal || t <= n, where,
          fmt::format("causal attention needs T <= N (query i sees keys j <= i + N - T), "
                      "got T = {}, N = {}",
                      t, n));
}

// Checks q, k, v against each other and the options; returns the head width d.
int RequireAttentionInputs(std::string_view where, const MatrixRef& q, const MatrixRef& k,
                           const MatrixRef& v, const FlashOptions& o) {
  RequireOptions(where, o);
  RequireNonEmpty(where, "q", q);
  RequireNonEmpty(where, "k", k);
  RequireShape(where, "k", k, -1, q.cols(),
               fmt::format("columns equal to q's; q is {}", ShapeOf(q)));
  RequireShape(where, "v", v, k.rows(), q.cols(),
               fmt::format("one row per key and q's columns; q is {}, k is {}", ShapeOf(q),
                           ShapeOf(k)));
  Require(q.cols() % o.num_heads == 0, where,
          fmt::format("num_heads = {} must divide the width of q, which is {}", o.num_heads,
                      ShapeOf(q)));
  const int d = static_cast<int>(q.cols()) / o.num_heads;
  RequireSizes(where, static_cast<int>(q.rows()), static_cast<int>(k.rows()), d, o);
  return d;
}

void RequireWorkspace(std::string_view where, std::span<float> workspace, std::size_t needed) {
  Require(workspace.size() >= needed, where,
          fmt::format("workspace has {} floats, needs {} (ask the WorkspaceSize function)",
                      workspace.size(), needed));
}

// ---------------------------------------------------------------------------------
// Which kernel, which tiles, how many threads.

bool CpuHasAvx2Fma() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

Backend Resolve(std::string_view where, Backend requested) {
  if (requested == Backend::kScalar) return Backend::kScalar;
  const bool avx2 = CpuHasAvx2Fma();
  Require(avx2 || requested != Backend::kAvx2, where,
          "backend kAvx2 needs a CPU with AVX2 and FMA, and this one has not both");
  return avx2 ? Backend::kAvx2 : Backend::kScalar;
}

int RoundUp(int x, int m) { return (x + m - 1) / m * m; }

// The AVX2 kernel's tiles (README, "The solution's kernel"): Br = 96 query rows, a
// multiple of the micro-kernel's 6; Bc keys such that the packed key tile Bc·d and
// the value tile Bc·d each stay near 32 KiB, a multiple of its 16 columns.
int Avx2BlockQ(const FlashOptions& o) { return o.block_q > 0 ? o.block_q : 96; }
int Avx2BlockK(const FlashOptions& o, int d) {
  if (o.block_k > 0) return RoundUp(o.block_k, 16);
  return std::clamp(8192 / RoundUp(d, 16) / 16 * 16, 16, 256);
}
int ScalarBlockQ(const FlashOptions& o) { return o.block_q > 0 ? o.block_q : kDefaultBlock; }
int ScalarBlockK(const FlashOptions& o) { return o.block_k > 0 ? o.block_k : kDefaultBlock; }

int CeilDiv(int a, int b) { return (a + b - 1) / b; }

// Threads that have work: never more than the items to share.
int Workers(const FlashOptions& o, std::int64_t items) {
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(o.num_threads, items)));
}

// Runs body(worker) for worker = 0 .. workers - 1, worker 0 on the calling thread.
template <typename Body>
void RunWorkers(int workers, const Body& body) {
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(workers - 1));
  for (int w = 1; w < workers; ++w) threads.emplace_back([&body, w] { body(w); });
  body(0);
  for (std::thread& t : threads) t.join();
}

// Slices of the caller's workspace, each starting on a 64-byte boundary.
constexpr std::size_t kAlignFloats = 16;

class Carver {
 public:
  explicit Carver(float* base) : base_(base) {}
  float* Take(std::size_t floats) {
    if (base_ != nullptr && used_ == 0) {
      // Align the first slice: skip up to 15 floats of a merely 4-byte aligned buffer.
      const auto address = reinterpret_cast<std::uintptr_t>(base_);
      used_ = ((64 - address % 64) % 64) / sizeof(float);
    }
    float* slice = base_ == nullptr ? nullptr : base_ + used_;
    used_ += (floats + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
    return slice;
  }

 private:
  float* base_;
  std::size_t used_ = 0;
};

// Worst-case floats for a list of slices: each rounded up, plus the initial alignment.
std::size_t Slices(std::initializer_list<std::size_t> sizes, std::size_t count = 1) {
  std::size_t total = 0;
  for (std::size_t s : sizes) total += (s + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
  return total * count;
}

// ---------------------------------------------------------------------------------
// The scalar kernels, on raw rows: row i of a head starts at base + i·stride.

float Dot(const float* a, const float* b, int n) {
  float sum = 0.0f;
  for (int c = 0; c < n; ++c) sum += a[c] * b[c];
  return sum;
}

// y += a·x
void Axpy(float a, const float* x, float* y, int n) {
  for (int c = 0; c < n; ++c) y[c] += a * x[c];
}

struct HeadView {
  const float* q;
  std::ptrdiff_t ldq;
  const float* k;
  std::ptrdiff_t ldk;
  const float* v;
  std::ptrdiff_t ldv;
  int t;
  int n;
  int d;
  bool causal;
  float scale;
  // Keys row i may see: j < VisibleEnd(i).
  int VisibleEnd(int i) const { return causal ? std::min(n, i + (n - t) + 1) : n; }
};

HeadView ViewOfHead(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v, int h, int d,
                    bool causal) {
  return HeadView{q.data() + h * d, q.outerStride(), k.data() + h * d, k.outerStride(),
                  v.data() + h * d, v.outerStride(), static_cast<int>(q.rows()),
                  static_cast<int>(k.rows()), d, causal,
                  1.0f / std::sqrt(static_cast<float>(d))};
}

// Steps 3 to 5 for one block of rows [i0, i0 + rows) of one head. The unnormalized
// output Õ accumulates in out itself; s [Br·Bc], m [Br] and l [Br] are scratch.
TileCounts ScalarForwardBlock(const HeadView& hv, int i0, int rows, int bc, float* s,
                              float* m, float* l, float* out, std::ptrdiff_t ldo, float* lse,
                              std::ptrdiff_t ld_lse) {
  TileCounts tiles;
  const int d = hv.d;
  for (int r = 0; r < rows; ++r) {
    m[r] = -kInf;
    l[r] = 0.0f;
    std::fill(out + r * ldo, out + r * ldo + d, 0.0f);
  }
  // Step 5: the last row sees the most keys; tiles past them are skipped.
  const int key_end = hv.VisibleEnd(i0 + rows - 1);
  for (int j0 = 0; j0 < key_end; j0 += bc) {
    const int cols = std::min(bc, hv.n - j0);
    ++tiles.computed;
    if (hv.VisibleEnd(i0) < j0 + cols) ++tiles.masked;  // straddles the diagonal
    for (int r = 0; r < rows; ++r) {
      const int i = i0 + r;
      const int visible = std::clamp(hv.VisibleEnd(i) - j0, 0, cols);
      float* s_row = s + static_cast<std::ptrdiff_t>(r) * bc;
      // Step 3: the row's scores against the tile, and the tile's max.
      float tile_max = -kInf;
      for (int j = 0; j < visible; ++j) {
        s_row[j] = hv.scale * Dot(hv.q + i * hv.ldq, hv.k + (j0 + j) * hv.ldk, d);
        tile_max = std::max(tile_max, s_row[j]);
      }
      const float new_max = std::max(m[r], tile_max);
      if (new_max == -kInf) continue;  // nothing visible yet: nothing to add
      // Step 1: rescale what the row has so far, exp(-inf) = 0 for a first tile.
      const float alpha = std::exp(m[r] - new_max);
      float* o = out + r * ldo;
      l[r] *= alpha;
      for (int c = 0; c < d; ++c) o[c] *= alpha;
      for (int j = 0; j < visible; ++j) {
        const float p = std::exp(s_row[j] - new_max);
        l[r] += p;
        Axpy(p, hv.v + (j0 + j) * hv.ldv, o, d);
      }
      m[r] = new_max;
    }
  }
  // Deferred normalization, once per row, and step 4's logsumexp.
  for (int r = 0; r < rows; ++r) {
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
    for (int c = 0; c < d; ++c) out[r * ldo + c] *= inv;
    lse[r * ld_lse] = l[r] > 0.0f ? m[r] + std::log(l[r]) : -kInf;
  }
  return tiles;
}

// The forward's plan: kernel, tiles, threads and the workspace each needs.
struct ForwardPlan {
  Backend backend;
  int t, n, d, h;
  int block_q, block_k;
  int query_blocks;
  int workers;
  // AVX2: keys and values packed per head.
  std::size_t packed_keys = 0;
  std::size_t packed_values = 0;
  std::size_t scratch = 0;  // per worker
  std::size_t WorkspaceFloats() const {
    if (backend == Backend::kAvx2) {
      return kAlignFloats + Slices({packed_keys, packed_values}, static_cast<std::size_t>(h)) +
             Slices({scratch}, static_cast<std::size_t>(workers));
    }
    return kAlignFloats + Slices({scratch, static_cast<std::size_t>(block_q),
                                  static_cast<std::size_t>(block_q)},
                                 static_cast<std::size_t>(workers));
  }
};

ForwardPlan PlanForward(std::string_view where, int t, int n, int d, const FlashOptions& o) {
  RequireSizes(where, t, n, d, o);
  ForwardPlan plan;
  plan.backend = Resolve(where, o.backend);
  plan.t = t;
  plan.n = n;
  plan.d = d;
  plan.h = o.num_heads;
  if (plan.backend == Backend::kAvx2) {
    plan.block_q = std::min(Avx2BlockQ(o), t);
    plan.block_k = Avx2BlockK(o, d);
    plan.packed_keys = internal::PackedKeysFloats(n, d);
    plan.packed_values = internal::PackedValuesFloats(n, d);
    plan.scratch = internal::Avx2ScratchFloats(plan.block_q, plan.block_k, d);
  } else {
    plan.block_q = std::min(ScalarBlockQ(o), t);
    plan.block_k = std::min(ScalarBlockK(o), n);
    plan.scratch = static_cast<std::size_t>(plan.block_q) * static_cast<std::size_t>(plan.block_k);
  }
  plan.query_blocks = CeilDiv(t, plan.block_q);
  plan.workers = Workers(o, static_cast<std::int64_t>(plan.query_blocks) * plan.h);
  return plan;
}

// Work item i -> (head, query block), head by head: consecutive items (and the threads
// working side by side) read the same head's packed K and V, which then stay in cache.
// Causal: within a head the last query blocks see the most keys, so they are handed out
// first and the short ones fill the gaps at the end.
void ItemToBlock(const ForwardPlan& plan, bool causal, std::int64_t item, int* head,
                 int* block) {
  *head = static_cast<int>(item / plan.query_blocks);
  const int b = static_cast<int>(item % plan.query_blocks);
  *block = causal ? plan.query_blocks - 1 - b : b;
}

TileCounts ForwardScalar(const ForwardPlan& plan, const MatrixRef& q, const MatrixRef& k,
                         const MatrixRef& v, bool causal, std::span<float> workspace,
                         Matrix& out, Matrix& lse) {
  Carver carve(workspace.data());
  struct WorkerScratch {
    float* s;
    float* m;
    float* l;
  };
  std::vector<WorkerScratch> scratch(static_cast<std::size_t>(plan.workers));
  for (WorkerScratch& w : scratch) {
    w.s = carve.Take(plan.scratch);
    w.m = carve.Take(static_cast<std::size_t>(plan.block_q));
    w.l = carve.Take(static_cast<std::size_t>(plan.block_q));
  }
  const std::int64_t items = static_cast<std::int64_t>(plan.query_blocks) * plan.h;
  std::atomic<std::int64_t> next{0};
  std::vector<TileCounts> counts(static_cast<std::size_t>(plan.workers));
  RunWorkers(plan.workers, [&](int worker) {
    const WorkerScratch& w = scratch[static_cast<std::size_t>(worker)];
    TileCounts& mine = counts[static_cast<std::size_t>(worker)];
    for (std::int64_t item; (item = next.fetch_add(1)) < items;) {
      int h = 0;
      int qb = 0;
      ItemToBlock(plan, causal, item, &h, &qb);
      const HeadView hv = ViewOfHead(q, k, v, h, plan.d, causal);
      const int i0 = qb * plan.block_q;
      const int rows = std::min(plan.block_q, plan.t - i0);
      const TileCounts c = ScalarForwardBlock(
          hv, i0, rows, plan.block_k, w.s, w.m, w.l, out.data() + i0 * out.cols() + h * plan.d,
          out.cols(), lse.data() + i0 * lse.cols() + h, lse.cols());
      mine.computed += c.computed;
      mine.masked += c.masked;
    }
  });
  TileCounts total;
  for (const TileCounts& c : counts) {
    total.computed += c.computed;
    total.masked += c.masked;
  }
  return total;
}

TileCounts ForwardAvx2(const ForwardPlan& plan, const MatrixRef& q, const MatrixRef& k,
                       const MatrixRef& v, bool causal, std::span<float> workspace, Matrix& out,
                       Matrix& lse) {
  Carver carve(workspace.data());
  std::vector<float*> keys(static_cast<std::size_t>(plan.h));
  std::vector<float*> values(static_cast<std::size_t>(plan.h));
  for (int h = 0; h < plan.h; ++h) {
    keys[static_cast<std::size_t>(h)] = carve.Take(plan.packed_keys);
    values[static_cast<std::size_t>(h)] = carve.Take(plan.packed_values);
  }
  std::vector<float*> scratch(static_cast<std::size_t>(plan.workers));
  for (float*& s : scratch) s = carve.Take(plan.scratch);

  // Phase 1 packs keys and values, 64 panels (1024 keys) per item; phase 2 computes.
  constexpr int kPanelsPerItem = 64;
  const int panels = CeilDiv(plan.n, 16);
  const int chunks = CeilDiv(panels, kPanelsPerItem);
  const std::int64_t pack_items = static_cast<std::int64_t>(chunks) * plan.h;
  const std::int64_t items = static_cast<std::int64_t>(plan.query_blocks) * plan.h;
  std::atomic<std::int64_t> next_pack{0};
  std::atomic<std::int64_t> next{0};
  std::barrier packed(plan.workers);
  std::vector<TileCounts> counts(static_cast<std::size_t>(plan.workers));
  RunWorkers(plan.workers, [&](int worker) {
    for (std::int64_t item; (item = next_pack.fetch_add(1)) < pack_items;) {
      const int h = static_cast<int>(item % plan.h);
      const int first_panel = static_cast<int>(item / plan.h) * kPanelsPerItem;
      const int count = std::min(kPanelsPerItem, panels - first_panel);
      internal::PackKeysAvx2(k.data() + h * plan.d, k.outerStride(), plan.n, plan.d,
                             first_panel, count, keys[static_cast<std::size_t>(h)]);
      const int first_row = first_panel * 16;
      internal::PackValuesAvx2(v.data() + h * plan.d, v.outerStride(), plan.d, first_row,
                               std::min(count * 16, plan.n - first_row),
                               values[static_cast<std::size_t>(h)]);
    }
    packed.arrive_and_wait();
    TileCounts& mine = counts[static_cast<std::size_t>(worker)];
    for (std::int64_t item; (item = next.fetch_add(1)) < items;) {
      int h = 0;
      int qb = 0;
      ItemToBlock(plan, causal, item, &h, &qb);
      internal::Avx2QueryBlock b;
      const int i0 = qb * plan.block_q;
      b.q = q.data() + i0 * q.outerStride() + h * plan.d;
      b.ldq = q.outerStride();
      b.rows = std::min(plan.block_q, plan.t - i0);
      b.first_row = i0;
      b.num_queries = plan.t;
      b.num_keys = plan.n;
      b.head_dim = plan.d;
      b.block_k = plan.block_k;
      b.causal = causal;
      b.scale = 1.0f / std::sqrt(static_cast<float>(plan.d));
      b.packed_keys = keys[static_cast<std::size_t>(h)];
      b.packed_values = values[static_cast<std::size_t>(h)];
      b.scratch = scratch[static_cast<std::size_t>(worker)];
      b.out = out.data() + i0 * out.cols() + h * plan.d;
      b.ldo = out.cols();
      b.lse = lse.data() + i0 * lse.cols() + h;
      b.ld_lse = lse.cols();
      internal::ForwardQueryBlockAvx2(b);
      mine.computed += b.tiles_computed;
      mine.masked += b.tiles_masked;
    }
  });
  TileCounts total;
  for (const TileCounts& c : counts) {
    total.computed += c.computed;
    total.masked += c.masked;
  }
  return total;
}

// ---------------------------------------------------------------------------------
// The backward pass.

struct BackwardPlan {
  int t, n, d, h;
  int block_q, block_k;
  int key_blocks;
  int workers;
  std::size_t WorkspaceFloats() const {
    const std::size_t tile = static_cast<std::size_t>(block_q) * static_cast<std::size_t>(block_k);
    // With several workers each keeps its own dQ, summed at the end.
    const std::size_t dq = workers > 1 ? static_cast<std::size_t>(t) * static_cast<std::size_t>(h) *
                                             static_cast<std::size_t>(d)
                                       : 0;
    return kAlignFloats + Slices({static_cast<std::size_t>(t) * static_cast<std::size_t>(h)}) +
           Slices({tile, tile, dq}, static_cast<std::size_t>(workers));
  }
};

BackwardPlan PlanBackward(std::string_view where, int t, int n, int d, const FlashOptions& o) {
  RequireSizes(where, t, n, d, o);
  BackwardPlan plan;
  plan.t = t;
  plan.n = n;
  plan.d = d;
  plan.h = o.num_heads;
  plan.block_q = std::min(ScalarBlockQ(o), t);
  plan.block_k = std::min(ScalarBlockK(o), n);
  plan.key_blocks = CeilDiv(n, plan.block_k);
  plan.workers = Workers(o, static_cast<std::int64_t>(plan.key_blocks) * plan.h);
  return plan;
}

// One key block [j0, j0 + cols) of one head against every query block that sees it.
// dk and dv rows of the block belong to this call alone; dq rows are shared, so dq is
// the caller's own accumulator. p and dp are [Br·Bc] scratch.
void BackwardKeyBlock(const HeadView& hv, int j0, int cols, int br, const float* lse,
                      std::ptrdiff_t ld_lse, const float* d_rows, std::ptrdiff_t ld_d,
                      const float* dout, std::ptrdiff_t ld_dout, float* p, float* dp,
                      float* dq, std::ptrdiff_t ld_dq, float* dk, float* dv,
                      std::ptrdiff_t ld_dkv) {
  const int d = hv.d;
  // Causal: row i sees key j0 when j0 <= i + N - T; earlier query blocks are skipped.
  const int first_row = hv.causal ? std::max(0, j0 - (hv.n - hv.t)) : 0;
  for (int i0 = first_row / br * br; i0 < hv.t; i0 += br) {
    const int rows = std::min(br, hv.t - i0);
    // P = exp(S - L), recomputed from the saved logsumexp; 0 where masked.
    for (int r = 0; r < rows; ++r) {
      const int i = i0 + r;
      const int visible = std::clamp(hv.VisibleEnd(i) - j0, 0, cols);
      const float* q_row = hv.q + i * hv.ldq;
      const float* do_row = dout + i * ld_dout;
      for (int j = 0; j < cols; ++j) {
        float* pj = p + r * cols + j;
        *pj = j < visible
                  ? std::exp(hv.scale * Dot(q_row, hv.k + (j0 + j) * hv.ldk, d) - lse[i * ld_lse])
                  : 0.0f;
        // dP = dO·Vᵀ
        dp[r * cols + j] = Dot(do_row, hv.v + (j0 + j) * hv.ldv, d);
      }
    }
    for (int r = 0; r < rows; ++r) {
      const int i = i0 + r;
      const float* q_row = hv.q + i * hv.ldq;
      const float* do_row = dout + i * ld_dout;
      const float d_i = d_rows[i * ld_d];
      for (int j = 0; j < cols; ++j) {
        const float pij = p[r * cols + j];
        if (pij == 0.0f) continue;  // masked (or underflowed): contributes nothing
        // dV_j += P_ij·dO_i
        Axpy(pij, do_row, dv + (j0 + j) * ld_dkv, d);
        // dS_ij = P_ij·(dP_ij - D_i); dK_j += dS_ij·Q_i/√d; dQ_i += dS_ij·K_j/√d
        const float ds = pij * (dp[r * cols + j] - d_i) * hv.scale;
        Axpy(ds, q_row, dk + (j0 + j) * ld_dkv, d);
        Axpy(ds, hv.k + (j0 + j) * hv.ldk, dq + i * ld_dq, d);
      }
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------
// Steps 1 and 2.

// Step 1: fold a block into the running (m, l, õ).
SoftmaxState OnlineSoftmaxUpdate(const SoftmaxState& state, const MatrixRef& scores,
                                 const MatrixRef& values) {
  constexpr std::string_view kWhere = "OnlineSoftmaxUpdate";
  RequireNonEmpty(kWhere, "scores", scores);
  RequireShape(kWhere, "scores", scores, 1, -1, "one row: a block of the stream");
  RequireNonEmpty(kWhere, "values", values);
  RequireShape(kWhere, "values", values, scores.cols(), -1,
               fmt::format("one row per score; scores is {}", ShapeOf(scores)));
  if (state.acc.size() > 0) {
    RequireShape(kWhere, "state.acc", state.acc, 1, values.cols(),
                 fmt::format("as wide as values, which is {}", ShapeOf(values)));
  }
  SoftmaxState next = state;
  if (next.acc.size() == 0) next.acc = Matrix::Zero(1, values.cols());
  const float new_max = std::max(state.max, scores.maxCoeff());
  if (new_max == -kInf) return next;  // only -inf so far: nothing to add
  // exp(m - m'), and 0 (not exp(-inf + inf) = NaN) for a state that saw nothing.
  const float alpha = state.max == -kInf ? 0.0f : std::exp(state.max - new_max);
  next.sum *= alpha;
  next.acc *= alpha;
  for (Eigen::Index j = 0; j < scores.cols(); ++j) {
    const float p = std::exp(scores(0, j) - new_max);
    next.sum += p;
    next.acc += p * values.row(j);
  }
  next.max = new_max;
  return next;
}

// Step 1: õ / l.
Matrix OnlineSoftmaxOutput(const SoftmaxState& state) {
  Require(state.acc.size() > 0, "OnlineSoftmaxOutput",
          fmt::format("state.acc is {}: the state has seen no block yet", ShapeOf(state.acc)));
  RequireShape("OnlineSoftmaxOutput", "state.acc", state.acc, 1, -1, "a single row");
  if (state.sum == 0.0f) return Matrix::Zero(1, state.acc.cols());
  return state.acc / state.sum;
}

// Step 2: both states rescaled to the larger max, then added.
SoftmaxState MergeSoftmaxStates(const SoftmaxState& a, const SoftmaxState& b) {
  if (a.acc.size() == 0) return b;
  if (b.acc.size() == 0) return a;
  RequireShape("MergeSoftmaxStates", "b.acc", b.acc, 1, a.acc.cols(),
               fmt::format("as wide as a.acc, which is {}", ShapeOf(a.acc)));
  SoftmaxState merged;
  merged.max = std::max(a.max, b.max);
  if (merged.max == -kInf) {
    merged.acc = Matrix::Zero(1, a.acc.cols());
    return merged;
  }
  const float fa = a.max == -kInf ? 0.0f : std::exp(a.max - merged.max);
  const float fb = b.max == -kInf ? 0.0f : std::exp(b.max - merged.max);
  merged.sum = fa * a.sum + fb * b.sum;
  merged.acc = fa * a.acc + fb * b.acc;
  return merged;
}

// ---------------------------------------------------------------------------------
// Steps 3 to 5.

std::size_t ForwardWorkspaceSize(int num_queries, int num_keys, int head_dim,
                                 const FlashOptions& options) {
  return PlanForward("ForwardWorkspaceSize", num_queries, num_keys, head_dim, options)
      .WorkspaceFloats();
}

FlashOutput FlashForward(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v,
                         const FlashOptions& options, std::span<float> workspace) {
  constexpr std::string_view kWhere = "FlashForward";
  const int d = RequireAttentionInputs(kWhere, q, k, v, options);
  const ForwardPlan plan = PlanForward(kWhere, static_cast<int>(q.rows()),
                                       static_cast<int>(k.rows()), d, options);
  RequireWorkspace(kWhere, workspace, plan.WorkspaceFloats());
  FlashOutput result;
  result.out.resize(q.rows(), q.cols());
  result.lse.resize(q.rows(), options.num_heads);
  result.tiles = plan.backend == Backend::kAvx2
                     ? ForwardAvx2(plan, q, k, v, options.causal, workspace, result.out,
                                   result.lse)
                     : ForwardScalar(plan, q, k, v, options.causal, workspace, result.out,
                                     result.lse);
  return result;
}

// ---------------------------------------------------------------------------------
// Step 6.

Matrix BackwardRowSums(const MatrixRef& out, const MatrixRef& dout, int num_heads) {
  constexpr std::string_view kWhere = "BackwardRowSums";
  RequireNonEmpty(kWhere, "out", out);
  RequireShape(kWhere, "dout", dout, out.rows(), out.cols(),
               fmt::format("the shape of out, which is {}", ShapeOf(out)));
  Require(num_heads >= 1 && out.cols() % num_heads == 0, kWhere,
          fmt::format("num_heads = {} must be >= 1 and divide the width of out, which is {}",
                      num_heads, ShapeOf(out)));
  const Eigen::Index d = out.cols() / num_heads;
  Matrix rows(out.rows(), num_heads);
  for (Eigen::Index i = 0; i < out.rows(); ++i) {
    for (Eigen::Index h = 0; h < num_heads; ++h) {
      rows(i, h) = out.row(i).segment(h * d, d).dot(dout.row(i).segment(h * d, d));
    }
  }
  return rows;
}

std::size_t BackwardWorkspaceSize(int num_queries, int num_keys, int head_dim,
                                  const FlashOptions& options) {
  return PlanBackward("BackwardWorkspaceSize", num_queries, num_keys, head_dim, options)
      .WorkspaceFloats();
}

FlashGradients FlashBackward(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v,
                             const MatrixRef& out, const MatrixRef& lse,
                             const MatrixRef& dout, const FlashOptions& options,
                             std::span<float> workspace) {
  constexpr std::string_view kWhere = "FlashBackward";
  const int d = RequireAttentionInputs(kWhere, q, k, v, options);
  RequireShape(kWhere, "out", out, q.rows(), q.cols(),
               fmt::format("the shape of q, which is {}", ShapeOf(q)));
  RequireShape(kWhere, "dout", dout, q.rows(), q.cols(),
               fmt::format("the shape of q, which is {}", ShapeOf(q)));
  RequireShape(kWhere, "lse", lse, q.rows(), options.num_heads,
               fmt::format("one entry per query row and head; q is {}, num_heads = {}",
                           ShapeOf(q), options.num_heads));
  const BackwardPlan plan =
      PlanBackward(kWhere, static_cast<int>(q.rows()), static_cast<int>(k.rows()), d, options);
  RequireWorkspace(kWhere, workspace, plan.WorkspaceFloats());

  FlashGradients g;
  g.dq = Matrix::Zero(q.rows(), q.cols());
  g.dk = Matrix::Zero(k.rows(), k.cols());
  g.dv = Matrix::Zero(v.rows(), v.cols());

  Carver carve(workspace.data());
  // D = rowsum(dO ∘ O) per head, [T, H].
  float* d_rows = carve.Take(static_cast<std::size_t>(plan.t) * static_cast<std::size_t>(plan.h));
  for (int i = 0; i < plan.t; ++i) {
    for (int h = 0; h < plan.h; ++h) {
      d_rows[i * plan.h + h] = Dot(out.data() + i * out.outerStride() + h * d,
                                   dout.data() + i * dout.outerStride() + h * d, d);
    }
  }
  struct WorkerScratch {
    float* p;
    float* dp;
    float* dq;  // [T, H·d] of its own, or g.dq itself with one worker
  };
  const std::size_t tile =
      static_cast<std::size_t>(plan.block_q) * static_cast<std::size_t>(plan.block_k);
  const std::size_t dq_floats = static_cast<std::size_t>(g.dq.size());
  std::vector<WorkerScratch> scratch(static_cast<std::size_t>(plan.workers));
  for (WorkerScratch& w : scratch) {
    w.p = carve.Take(tile);
    w.dp = carve.Take(tile);
    w.dq = plan.workers > 1 ? carve.Take(dq_floats) : g.dq.data();
    if (plan.workers > 1) std::fill(w.dq, w.dq + dq_floats, 0.0f);
  }

  // Items are dealt round-robin, not taken from a counter: which key blocks land in
  // which thread's dQ then never depends on timing, and neither do the rounding errors
  // of the final sum. The gradients are the same bits on every run.
  const std::int64_t items = static_cast<std::int64_t>(plan.key_blocks) * plan.h;
  RunWorkers(plan.workers, [&](int worker) {
    const WorkerScratch& w = scratch[static_cast<std::size_t>(worker)];
    for (std::int64_t item = worker; item < items; item += plan.workers) {
      const int h = static_cast<int>(item % plan.h);
      const int j0 = static_cast<int>(item / plan.h) * plan.block_k;
      const HeadView hv = ViewOfHead(q, k, v, h, d, options.causal);
      BackwardKeyBlock(hv, j0, std::min(plan.block_k, plan.n - j0), plan.block_q,
                       lse.data() + h, lse.outerStride(), d_rows + h, plan.h,
                       dout.data() + h * d, dout.outerStride(), w.p, w.dp, w.dq + h * d,
                       g.dq.cols(), g.dk.data() + h * d, g.dv.data() + h * d, g.dk.cols());
    }
  });
  if (plan.workers > 1) {
    for (const WorkerScratch& w : scratch) {
      g.dq += Eigen::Map<const Matrix>(w.dq, g.dq.rows(), g.dq.cols());
    }
  }
  return g;
}

}  // namespace llmk::flash
