// The AVX2 + FMA forward kernel of kata 09. Compiled with -mavx2 -mfma and called only
// after the CPU said it has both (flash_attention.cc checks __builtin_cpu_supports).
//
// One call handles one block of Br query rows of one head and walks it over the key
// tiles it may see. Per tile (README, "The solution's kernel"):
//   1. S = Q·Kᵀ           register-blocked 6×16 micro-kernel over packed keys
//   2. online softmax      per row: m' = max(m, max S), α = exp((m - m')·scale),
//                          P = exp((S - m')·scale), l' = α·l + Σ P      (steps 1 and 3)
//   3. Õ = α·Õ + P·V       register-blocked 6×16 micro-kernel over packed values
// and once at the end O = Õ / l and L = m·scale + log l (FA2's deferred normalization).
// Causal (step 5): tiles entirely above the diagonal are never visited; only tiles that
// straddle it pay for the mask.
//
// Nothing here is shared with other files but the functions of flash_kernels.h: no
// Eigen, no std:: templates (see the note there). Helpers have internal linkage.
#include <immintrin.h>
#include <math.h>

#include "flash_kernels.h"

namespace llmk::flash::internal {
namespace {

constexpr int kMr = 6;   // query rows per micro-kernel: 6×2 = 12 accumulators
constexpr int kNr = 16;  // columns per micro-kernel: two 8-float vectors

int MinInt(int a, int b) { return a < b ? a : b; }
int MaxInt(int a, int b) { return a > b ? a : b; }
int RoundUp(int x, int m) { return (x + m - 1) / m * m; }

// ---------------------------------------------------------------------------------
// exp(x) for the softmax, 8 lanes at a time.
//
//   x = n·ln2 + r,  n = round(x·log2(e)),  |r| <= ln2/2,   exp(x) = 2^n · p(r)
// r is formed with ln2 split in two (Cody-Waite), so it carries no error from the
// split; p is a degree-6 polynomial whose coefficients were fitted here for minimax
// relative error on [-ln2/2, ln2/2] (1.7e-8 with float coefficients). 2^n is built by
// adding n to the exponent bits. Measured over all 1.12e9 floats x in [-126·ln2, 0]:
// relative error <= 8.9e-8, under 1.5·2^-24 (README.md, "The vectorized exp").
//
// The kernel only ever asks for x <= 0 (a score minus its row max). Below ln(FLT_MIN)
// = -126·ln2 the result would be subnormal; it is flushed to exactly 0 instead, and so
// are -inf (masked scores) and NaN (0·inf from a row that has seen nothing yet).
inline __m256 Exp(__m256 x) {
  const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
  const __m256 ln2_hi = _mm256_set1_ps(0.693145751953125f);   // 12 significant bits
  const __m256 ln2_lo = _mm256_set1_ps(1.42860682030941723e-6f);
  // 1.5·2^23: adding it rounds to an integer and leaves that integer in the low bits.
  const __m256 round_magic = _mm256_set1_ps(12582912.0f);
  const __m256 smallest = _mm256_set1_ps(-87.3365402f);  // first float >= -126·ln2

  const __m256 t = _mm256_fmadd_ps(x, log2e, round_magic);
  const __m256 n = _mm256_sub_ps(t, round_magic);
  __m256 r = _mm256_fnmadd_ps(n, ln2_hi, x);
  r = _mm256_fnmadd_ps(n, ln2_lo, r);

  __m256 p = _mm256_set1_ps(1.38382055e-3f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.37495550e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.16682065e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.66664183e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.99999911e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));

  // t's low bits hold n + 0x400000; shifting left by 23 drops everything above n.
  const __m256i two_n = _mm256_slli_epi32(_mm256_castps_si256(t), 23);
  const __m256 result = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), two_n));
  return _mm256_and_ps(result, _mm256_cmp_ps(x, smallest, _CMP_GE_OQ));
}

float HorizontalMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// ---------------------------------------------------------------------------------
// Micro-kernels. MR query rows × 16 columns live in 2·MR ymm registers for the whole
// reduction; per step, two vector loads feed 2·MR FMAs (MR = 6: 12 FMAs for 8 loads,
// 12 of the 16 registers for accumulators). MR < 6 handles a block's last rows.

// s[r][0..15] = Σ_c q[r][c] · kᵀ[c][0..15]: one 16-key panel against MR query rows.
template <int MR>
void ScoreMicroKernel(const float* q, std::ptrdiff_t ldq, const float* panel, int d,
                      float* s, std::ptrdiff_t lds) {
  __m256 acc0[MR];
  __m256 acc1[MR];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    acc0[r] = _mm256_setzero_ps();
    acc1[r] = _mm256_setzero_ps();
  }
  for (int c = 0; c < d; ++c) {
    const __m256 k0 = _mm256_load_ps(panel + kNr * c);
    const __m256 k1 = _mm256_load_ps(panel + kNr * c + 8);
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      const __m256 a = _mm256_broadcast_ss(q + r * ldq + c);
      acc0[r] = _mm256_fmadd_ps(a, k0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(a, k1, acc1[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    _mm256_store_ps(s + r * lds, acc0[r]);
    _mm256_store_ps(s + r * lds + 8, acc1[r]);
  }
}

// o[r][0..15] = α_r · o[r][0..15] + Σ_j p[r][j] · v[j][0..15] over `keys` keys.
// fresh: the first tile of the block, o holds nothing yet (not even zeros).
template <int MR>
void PvMicroKernel(const float* p, std::ptrdiff_t ldp, const float* v, std::ptrdiff_t ldv,
                   int keys, const float* alpha, bool fresh, float* o, std::ptrdiff_t ldo) {
  __m256 acc0[MR];
  __m256 acc1[MR];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    if (fresh) {
      acc0[r] = _mm256_setzero_ps();
      acc1[r] = _mm256_setzero_ps();
    } else {
      const __m256 a = _mm256_broadcast_ss(alpha + r);
      acc0[r] = _mm256_mul_ps(a, _mm256_load_ps(o + r * ldo));
      acc1[r] = _mm256_mul_ps(a, _mm256_load_ps(o + r * ldo + 8));
    }
  }
  for (int j = 0; j < keys; ++j) {
    const __m256 v0 = _mm256_load_ps(v + j * ldv);
    const __m256 v1 = _mm256_load_ps(v + j * ldv + 8);
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      const __m256 a = _mm256_broadcast_ss(p + r * ldp + j);
      acc0[r] = _mm256_fmadd_ps(a, v0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(a, v1, acc1[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    _mm256_store_ps(o + r * ldo, acc0[r]);
    _mm256_store_ps(o + r * ldo + 8, acc1[r]);
  }
}

void ScoreRows(int mr, const float* q, std::ptrdiff_t ldq, const float* panel, int d,
               float* s, std::ptrdiff_t lds) {
  switch (mr) {
    case 6: ScoreMicroKernel<6>(q, ldq, panel, d, s, lds); break;
    case 5: ScoreMicroKernel<5>(q, ldq, panel, d, s, lds); break;
    case 4: ScoreMicroKernel<4>(q, ldq, panel, d, s, lds); break;
    case 3: ScoreMicroKernel<3>(q, ldq, panel, d, s, lds); break;
    case 2: ScoreMicroKernel<2>(q, ldq, panel, d, s, lds); break;
    default: ScoreMicroKernel<1>(q, ldq, panel, d, s, lds); break;
  }
}

void PvRows(int mr, const float* p, std::ptrdiff_t ldp, const float* v, std::ptrdiff_t ldv,
            int keys, const float* alpha, bool fresh, float* o, std::ptrdiff_t ldo) {
  switch (mr) {
    case 6: PvMicroKernel<6>(p, ldp, v, ldv, keys, alpha, fresh, o, ldo); break;
    case 5: PvMicroKernel<5>(p, ldp, v, ldv, keys, alpha, fresh, o, ldo); break;
    case 4: PvMicroKernel<4>(p, ldp, v, ldv, keys, alpha, fresh, o, ldo); break;
    case 3: PvMicroKernel<3>(p, ldp, v, ldv, keys, alpha, fresh, o, ldo); break;
    case 2: PvMicroKernel<2>(p, ldp, v, ldv, keys, alpha, fresh, o, ldo); break;
    default: PvMicroKernel<1>(p, ldp, v, ldv, keys, alpha, fresh, o, ldo); break;
  }
}

// The scratch of one block, carved from Avx2ScratchFloats() floats.
struct Scratch {
  float* s;          // [Br, Bc]: scores, then weights P, of the current tile
  float* o;          // [Br, d_pad]: Õ, the unnormalized output
  float* max;        // [Br8]: m, the running max of each row (raw scores)
  float* sum;        // [Br8]: l
  float* new_max;    // [Br8]: m' of the current tile
  float* alpha;      // [Br8]: exp((m - m')·scale)
};

Scratch CarveScratch(float* base, int block_q, int block_k, int d_pad) {
  const int rows8 = RoundUp(block_q, 8);
  Scratch s;
  s.s = base;
  s.o = s.s + static_cast<std::ptrdiff_t>(block_q) * block_k;
  s.max = s.o + static_cast<std::ptrdiff_t>(block_q) * d_pad;
  s.sum = s.max + rows8;
  s.new_max = s.sum + rows8;
  s.alpha = s.new_max + rows8;
  return s;
}

}  // namespace

std::size_t PackedKeysFloats(int num_keys, int head_dim) {
  return static_cast<std::size_t>(RoundUp(num_keys, kNr)) * static_cast<std::size_t>(head_dim);
}

std::size_t PackedValuesFloats(int num_keys, int head_dim) {
  return static_cast<std::size_t>(num_keys) * static_cast<std::size_t>(RoundUp(head_dim, kNr));
}

std::size_t Avx2ScratchFloats(int block_q, int block_k, int head_dim) {
  const std::size_t br = static_cast<std::size_t>(block_q);
  return br * static_cast<std::size_t>(block_k) +
         br * static_cast<std::size_t>(RoundUp(head_dim, kNr)) +
         4 * static_cast<std::size_t>(RoundUp(block_q, 8));
}

void PackKeysAvx2(const float* k, std::ptrdiff_t ldk, int num_keys, int head_dim,
                  int first_panel, int num_panels, float* packed) {
  for (int p = first_panel; p < first_panel + num_panels; ++p) {
    float* panel = packed + static_cast<std::ptrdiff_t>(p) * head_dim * kNr;
    for (int jj = 0; jj < kNr; ++jj) {
      const int key = p * kNr + jj;
      if (key < num_keys) {
        const float* row = k + key * ldk;
        for (int c = 0; c < head_dim; ++c) panel[c * kNr + jj] = row[c];
      } else {
        for (int c = 0; c < head_dim; ++c) panel[c * kNr + jj] = 0.0f;
      }
    }
  }
}

void PackValuesAvx2(const float* v, std::ptrdiff_t ldv, int head_dim, int first_row,
                    int num_rows, float* packed) {
  const int d_pad = RoundUp(head_dim, kNr);
  for (int j = first_row; j < first_row + num_rows; ++j) {
    const float* row = v + j * ldv;
    float* dst = packed + static_cast<std::ptrdiff_t>(j) * d_pad;
    for (int c = 0; c < head_dim; ++c) dst[c] = row[c];
    for (int c = head_dim; c < d_pad; ++c) dst[c] = 0.0f;
  }
}

void ForwardQueryBlockAvx2(Avx2QueryBlock& b) {
  const int rows = b.rows;
  const int d = b.head_dim;
  const int d_pad = RoundUp(d, kNr);
  const int bc = b.block_k;
  const Scratch w = CarveScratch(b.scratch, rows, bc, d_pad);
  // Causal: query i sees keys j <= i + offset.
  const int offset = b.num_keys - b.num_queries;
  const int last_row = b.first_row + rows - 1;
  const int key_end = b.causal ? MinInt(b.num_keys, last_row + offset + 1) : b.num_keys;
  const __m256 scale = _mm256_set1_ps(b.scale);
  const __m256 minus_inf = _mm256_set1_ps(-INFINITY);

  for (int r = 0; r < RoundUp(rows, 8); ++r) {
    w.max[r] = -INFINITY;
    w.sum[r] = 0.0f;
  }

  // Tiles above the diagonal (j0 >= key_end) are never visited.
  for (int j0 = 0; j0 < key_end; j0 += bc) {
    const int cols = MinInt(bc, b.num_keys - j0);
    const int width = RoundUp(cols, kNr);
    const bool masked = b.causal && j0 + cols - 1 > b.first_row + offset;
    ++b.tiles_computed;
    if (masked) ++b.tiles_masked;

    // 1. S = Q·Kᵀ over the tile's panels (raw scores; the scale goes into the exp).
    const float* panels = b.packed_keys + static_cast<std::ptrdiff_t>(j0) * d;
    for (int r0 = 0; r0 < rows; r0 += kMr) {
      const int mr = MinInt(kMr, rows - r0);
      for (int p = 0; p < width; p += kNr) {
        ScoreRows(mr, b.q + r0 * b.ldq, b.ldq, panels + static_cast<std::ptrdiff_t>(p) * d, d,
                  w.s + static_cast<std::ptrdiff_t>(r0) * bc + p, bc);
      }
    }

    // 2a. Hide what a row may not see (keys past N, and past the diagonal), then each
    //     row's new running max m' = max(m, max_j s_j).
    for (int r = 0; r < rows; ++r) {
      float* s = w.s + static_cast<std::ptrdiff_t>(r) * bc;
      int visible = cols;
      if (b.causal) visible = MaxInt(0, MinInt(cols, b.first_row + r + offset - j0 + 1));
      for (int j = visible; j < width; ++j) s[j] = -INFINITY;
      __m256 m = minus_inf;
      for (int j = 0; j < width; j += 8) m = _mm256_max_ps(m, _mm256_load_ps(s + j));
      const float tile_max = HorizontalMax(m);
      w.new_max[r] = w.max[r] > tile_max ? w.max[r] : tile_max;
    }
    for (int r = rows; r < RoundUp(rows, 8); ++r) w.new_max[r] = -INFINITY;
    // 2b. α = exp((m - m')·scale), eight rows at a time; 0 while m is -inf.
    for (int r = 0; r < rows; r += 8) {
      const __m256 diff = _mm256_sub_ps(_mm256_load_ps(w.max + r), _mm256_load_ps(w.new_max + r));
      _mm256_store_ps(w.alpha + r, Exp(_mm256_mul_ps(diff, scale)));
    }
    // 2c. P = exp(s·scale - m'·scale) in place of S; l' = α·l + Σ_j P.
    for (int r = 0; r < rows; ++r) {
      float* s = w.s + static_cast<std::ptrdiff_t>(r) * bc;
      const __m256 shift = _mm256_set1_ps(-w.new_max[r] * b.scale);
      __m256 sum = _mm256_setzero_ps();
      for (int j = 0; j < width; j += 8) {
        const __m256 pj = Exp(_mm256_fmadd_ps(_mm256_load_ps(s + j), scale, shift));
        _mm256_store_ps(s + j, pj);
        sum = _mm256_add_ps(sum, pj);
      }
      w.sum[r] = w.alpha[r] * w.sum[r] + HorizontalSum(sum);
      w.max[r] = w.new_max[r];
    }

    // 3. Õ = α·Õ + P·V, 16 output columns at a time.
    const float* v = b.packed_values + static_cast<std::ptrdiff_t>(j0) * d_pad;
    const bool fresh = j0 == 0;
    for (int r0 = 0; r0 < rows; r0 += kMr) {
      const int mr = MinInt(kMr, rows - r0);
      for (int c = 0; c < d_pad; c += kNr) {
        PvRows(mr, w.s + static_cast<std::ptrdiff_t>(r0) * bc, bc, v + c, d_pad, cols,
               w.alpha + r0, fresh, w.o + static_cast<std::ptrdiff_t>(r0) * d_pad + c, d_pad);
      }
    }
  }

  // 4. Normalize once: O = Õ / l, and L = m·scale + log l.
  for (int r = 0; r < rows; ++r) {
    const float l = w.sum[r];
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    const float* o = w.o + static_cast<std::ptrdiff_t>(r) * d_pad;
    float* out = b.out + r * b.ldo;
    const __m256 inv8 = _mm256_set1_ps(inv);
    int c = 0;
    for (; c + 8 <= d; c += 8) _mm256_storeu_ps(out + c, _mm256_mul_ps(_mm256_load_ps(o + c), inv8));
    for (; c < d; ++c) out[c] = o[c] * inv;  // scalar tail
    b.lse[r * b.ld_lse] = l > 0.0f ? w.max[r] * b.scale + logf(l) : -INFINITY;
  }
}

}  // namespace llmk::flash::internal
