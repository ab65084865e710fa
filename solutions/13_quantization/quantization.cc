// The solution of kata 13: every step of quantization.h, and the dispatch of the int8
// matrix product between the scalar loops here and the AVX2 kernel of
// quantization_avx2.cc. README.md beside the kata derives each formula.
#include "quantization.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

#include "quant_kernels.h"

namespace llmk::quant {
namespace {

// round half to even (the default rounding mode), README "Rounding".
float RoundEven(float v) { return std::nearbyint(v); }

void RequireNonEmpty(std::string_view where, std::string_view name, const MatrixRef& x) {
  Require(x.size() > 0, where, fmt::format("{} must not be empty, got {}", name, ShapeOf(x)));
}

// Every entry finite; the message gives the first bad one.
void RequireFinite(std::string_view where, std::string_view name, const MatrixRef& x) {
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
      Require(std::isfinite(x(i, j)), where,
              fmt::format("{} must be finite, got {} at ({}, {})", name, x(i, j), i, j));
    }
  }
}

void RequireTensor(std::string_view where, std::string_view name, const MatrixRef& x) {
  RequireNonEmpty(where, name, x);
  RequireFinite(where, name, x);
}

void RequireScale(std::string_view where, float scale) {
  Require(std::isfinite(scale) && scale >= 0.0f, where,
          fmt::format("scale must be finite and >= 0, got {}", scale));
}

// max|x| / qmax of a block, 0 for zeros (step 1).
float AbsmaxScale(const MatrixRef& x, int qmax) {
  return x.size() == 0 ? 0.0f : x.cwiseAbs().maxCoeff() / static_cast<float>(qmax);
}

// clamp(round(v / s), −qmax, qmax); s = 0 gives 0 (the caller checked v is 0 then).
int SymmetricCode(float v, float scale, int qmax) {
  if (scale == 0.0f) return 0;
  const float q = RoundEven(v / scale);
  return static_cast<int>(std::clamp(q, static_cast<float>(-qmax), static_cast<float>(qmax)));
}

void RequireGroup(std::string_view where, int group_size, Eigen::Index cols) {
  Require(group_size > 0, where, fmt::format("group_size must be > 0, got {}", group_size));
  Require(cols % group_size == 0, where,
          fmt::format("group_size must divide the row of {} columns, got {} ({} left over)", cols,
                      group_size, cols % group_size));
}

}  // namespace

// ---------------------------------------------------------------------------------
// Step 1.

float SymmetricScale(const MatrixRef& x) {
  RequireTensor("SymmetricScale", "x", x);
  return AbsmaxScale(x, kInt8Max);
}

Int8Matrix QuantizeSymmetric(const MatrixRef& x, float scale) {
  RequireTensor("QuantizeSymmetric", "x", x);
  RequireScale("QuantizeSymmetric", scale);
  Require(scale > 0.0f || x.cwiseAbs().maxCoeff() == 0.0f, "QuantizeSymmetric",
          fmt::format("scale 0 is only for a tensor of zeros, got max|x| = {}",
                      x.cwiseAbs().maxCoeff()));
  Int8Matrix q(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
      q(i, j) = static_cast<std::int8_t>(SymmetricCode(x(i, j), scale, kInt8Max));
    }
  }
  return q;
}

Matrix DequantizeSymmetric(const Int8Matrix& q, float scale) {
  RequireScale("DequantizeSymmetric", scale);
  return q.cast<float>() * scale;
}

// ---------------------------------------------------------------------------------
// Step 2.

AffineParams AffineParamsFor(const MatrixRef& x) {
  RequireTensor("AffineParamsFor", "x", x);
  const float lo = std::min(x.minCoeff(), 0.0f);
  const float hi = std::max(x.maxCoeff(), 0.0f);
  AffineParams p;
  if (hi == lo) return p;  // all zeros
  p.scale = (hi - lo) / 255.0f;
  p.zero_point = static_cast<int>(std::clamp(RoundEven(-lo / p.scale), 0.0f, 255.0f));
  return p;
}

Uint8Matrix QuantizeAffine(const MatrixRef& x, const AffineParams& params) {
  RequireTensor("QuantizeAffine", "x", x);
  RequireScale("QuantizeAffine", params.scale);
  Require(params.zero_point >= 0 && params.zero_point <= 255, "QuantizeAffine",
          fmt::format("zero_point must be in [0, 255], got {}", params.zero_point));
  Require(params.scale > 0.0f || x.cwiseAbs().maxCoeff() == 0.0f, "QuantizeAffine",
          fmt::format("scale 0 is only for a tensor of zeros, got max|x| = {}",
                      x.cwiseAbs().maxCoeff()));
  Uint8Matrix q(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
      const float code = params.scale == 0.0f
                             ? static_cast<float>(params.zero_point)
                             : RoundEven(x(i, j) / params.scale) + params.zero_point;
      q(i, j) = static_cast<std::uint8_t>(std::clamp(code, 0.0f, 255.0f));
    }
  }
  return q;
}

Matrix DequantizeAffine(const Uint8Matrix& q, const AffineParams& params) {
  RequireScale("DequantizeAffine", params.scale);
  Require(params.zero_point >= 0 && params.zero_point <= 255, "DequantizeAffine",
          fmt::format("zero_point must be in [0, 255], got {}", params.zero_point));
  Matrix x(q.rows(), q.cols());
  for (Eigen::Index i = 0; i < q.rows(); ++i) {
    for (Eigen::Index j = 0; j < q.cols(); ++j) {
      x(i, j) = params.scale * static_cast<float>(static_cast<int>(q(i, j)) - params.zero_point);
    }
  }
  return x;
}

QuantError ErrorOf(const MatrixRef& x, const MatrixRef& x_hat) {
  RequireNonEmpty("ErrorOf", "x", x);
  RequireShape("ErrorOf", "x_hat", x_hat, x.rows(), x.cols(), "the shape of x");
  const MatrixD diff = x.cast<double>() - x_hat.cast<double>();
  QuantError e;
  e.max_abs = diff.cwiseAbs().maxCoeff();
  e.rms = std::sqrt(diff.squaredNorm() / static_cast<double>(diff.size()));
  return e;
}

// ---------------------------------------------------------------------------------
// Step 3.

Int8Quantized QuantizeInt8(const MatrixRef& x, Granularity granularity, int group_size) {
  constexpr std::string_view kWhere = "QuantizeInt8";
  RequireTensor(kWhere, "x", x);
  const Eigen::Index r = x.rows(), c = x.cols();
  Int8Quantized t;
  t.granularity = granularity;
  t.q.resize(r, c);
  // The slice (i, j) belongs to: its scale's row and column in t.scales.
  Eigen::Index group = c;
  switch (granularity) {
    case Granularity::kPerTensor:
      t.scales = Matrix::Constant(1, 1, AbsmaxScale(x, kInt8Max));
      break;
    case Granularity::kPerRow:
      t.scales.resize(r, 1);
      for (Eigen::Index i = 0; i < r; ++i) t.scales(i, 0) = AbsmaxScale(x.row(i), kInt8Max);
      break;
    case Granularity::kPerColumn:
      t.scales.resize(1, c);
      for (Eigen::Index j = 0; j < c; ++j) t.scales(0, j) = AbsmaxScale(x.col(j), kInt8Max);
      break;
    case Granularity::kPerGroup:
      RequireGroup(kWhere, group_size, c);
      t.group_size = group_size;
      group = group_size;
      t.scales.resize(r, c / group);
      for (Eigen::Index i = 0; i < r; ++i) {
        for (Eigen::Index g = 0; g < c / group; ++g) {
          t.scales(i, g) = AbsmaxScale(x.block(i, g * group, 1, group), kInt8Max);
        }
      }
      break;
  }
  for (Eigen::Index i = 0; i < r; ++i) {
    for (Eigen::Index j = 0; j < c; ++j) {
      const float s = t.scales(
          t.scales.rows() == 1 ? 0 : i,
          t.scales.cols() == 1 ? 0 : (granularity == Granularity::kPerGroup ? j / group : j));
      t.q(i, j) = static_cast<std::int8_t>(SymmetricCode(x(i, j), s, kInt8Max));
    }
  }
  return t;
}

Matrix DequantizeInt8(const Int8Quantized& t) {
  constexpr std::string_view kWhere = "DequantizeInt8";
  const Eigen::Index r = t.q.rows(), c = t.q.cols();
  Eigen::Index want_rows = 1, want_cols = 1;
  switch (t.granularity) {
    case Granularity::kPerTensor:
      break;
    case Granularity::kPerRow:
      want_rows = r;
      break;
    case Granularity::kPerColumn:
      want_cols = c;
      break;
    case Granularity::kPerGroup:
      RequireGroup(kWhere, t.group_size, c);
      want_rows = r;
      want_cols = c / t.group_size;
      break;
  }
  RequireShape(kWhere, "scales", t.scales, want_rows, want_cols, "one per slice");
  Matrix x(r, c);
  for (Eigen::Index i = 0; i < r; ++i) {
    for (Eigen::Index j = 0; j < c; ++j) {
      const Eigen::Index si = want_rows == 1 ? 0 : i;
      const Eigen::Index sj = t.granularity == Granularity::kPerGroup ? j / t.group_size
                              : want_cols == 1                        ? 0
                                                                      : j;
      x(i, j) = static_cast<float>(t.q(i, j)) * t.scales(si, sj);
    }
  }
  return x;
}

// ---------------------------------------------------------------------------------
// Step 4.

std::vector<std::uint8_t> PackInt4(std::span<const std::int8_t> values) {
  Require(values.size() % 2 == 0, "PackInt4",
          fmt::format("values must have an even count (two to a byte), got {}", values.size()));
  std::vector<std::uint8_t> packed(values.size() / 2);
  for (std::size_t i = 0; i < values.size(); ++i) {
    Require(values[i] >= -8 && values[i] <= 7, "PackInt4",
            fmt::format("values[{}] must be in [-8, 7], got {}", i, values[i]));
  }
  for (std::size_t i = 0; i < packed.size(); ++i) {
    const unsigned lo = static_cast<unsigned>(values[2 * i]) & 0xFu;
    const unsigned hi = static_cast<unsigned>(values[2 * i + 1]) & 0xFu;
    packed[i] = static_cast<std::uint8_t>(lo | (hi << 4));
  }
  return packed;
}

std::vector<std::int8_t> UnpackInt4(std::span<const std::uint8_t> packed) {
  std::vector<std::int8_t> values(2 * packed.size());
  // A nibble n is n for n < 8 and n − 16 otherwise (4-bit two's complement).
  const auto signed_nibble = [](unsigned n) {
    return static_cast<std::int8_t>(n < 8 ? n : int(n) - 16);
  };
  for (std::size_t i = 0; i < packed.size(); ++i) {
    values[2 * i] = signed_nibble(packed[i] & 0xFu);
    values[2 * i + 1] = signed_nibble(packed[i] >> 4);
  }
  return values;
}

Int4Quantized QuantizeInt4(const MatrixRef& x, int group_size) {
  constexpr std::string_view kWhere = "QuantizeInt4";
  RequireTensor(kWhere, "x", x);
  Require(x.cols() % 2 == 0, kWhere,
          fmt::format("x must have an even number of columns to pack, got {}", ShapeOf(x)));
  RequireGroup(kWhere, group_size, x.cols());
  Int4Quantized t;
  t.rows = static_cast<int>(x.rows());
  t.cols = static_cast<int>(x.cols());
  t.group_size = group_size;
  const int groups = t.cols / group_size;
  t.scales.resize(t.rows, groups);
  std::vector<std::int8_t> codes(static_cast<std::size_t>(t.rows) * t.cols);
  for (int i = 0; i < t.rows; ++i) {
    for (int g = 0; g < groups; ++g) {
      const float s = AbsmaxScale(x.block(i, g * group_size, 1, group_size), kInt4Max);
      t.scales(i, g) = s;
      for (int j = g * group_size; j < (g + 1) * group_size; ++j) {
        codes[static_cast<std::size_t>(i) * t.cols + j] =
            static_cast<std::int8_t>(SymmetricCode(x(i, j), s, kInt4Max));
      }
    }
  }
  t.packed = PackInt4(codes);
  return t;
}

Matrix DequantizeInt4(const Int4Quantized& t) {
  constexpr std::string_view kWhere = "DequantizeInt4";
  Require(t.rows >= 1 && t.cols >= 2 && t.cols % 2 == 0, kWhere,
          fmt::format("rows must be >= 1 and cols even and >= 2, got {}x{}", t.rows, t.cols));
  RequireGroup(kWhere, t.group_size, t.cols);
  Require(t.packed.size() == static_cast<std::size_t>(t.rows) * t.cols / 2, kWhere,
          fmt::format("packed must hold {} bytes, got {}",
                      static_cast<std::size_t>(t.rows) * t.cols / 2, t.packed.size()));
  RequireShape(kWhere, "scales", t.scales, t.rows, t.cols / t.group_size, "one per group");
  const std::vector<std::int8_t> codes = UnpackInt4(t.packed);
  Matrix x(t.rows, t.cols);
  for (int i = 0; i < t.rows; ++i) {
    for (int j = 0; j < t.cols; ++j) {
      x(i, j) = static_cast<float>(codes[static_cast<std::size_t>(i) * t.cols + j]) *
                t.scales(i, j / t.group_size);
    }
  }
  return x;
}

// ---------------------------------------------------------------------------------
// Step 5.

float Fp4Value(std::uint8_t code) {
  Require(code < 16, "Fp4Value", fmt::format("code must be < 16, got {}", code));
  const int sign = code >> 3, e = (code >> 1) & 3, m = code & 1;
  const float magnitude = e == 0 ? 0.5f * m : std::ldexp(1.0f + 0.5f * m, e - 1);
  return sign ? -magnitude : magnitude;
}

std::uint8_t Fp4Encode(float v) {
  Require(std::isfinite(v), "Fp4Encode", fmt::format("v must be finite, got {}", v));
  const float a = std::fabs(v);
  // The magnitude codes 0..7 in order; between two neighbours the midpoint decides, and a
  // value on the midpoint takes the code whose mantissa bit (code & 1) is 0.
  static constexpr float kMagnitudes[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  int code = 7;  // above 6 saturates
  for (int c = 0; c < 7; ++c) {
    const float mid = 0.5f * (kMagnitudes[c] + kMagnitudes[c + 1]);
    if (a < mid || (a == mid && (c & 1) == 0)) {
      code = c;
      break;
    }
  }
  return static_cast<std::uint8_t>(code | (std::signbit(v) ? 8 : 0));
}

namespace {

// E − 127 of a block with largest magnitude `amax` (0 for a zero block gives −127).
int Mxfp4Exponent(float amax) {
  if (amax == 0.0f) return -127;
  return std::clamp(std::ilogb(amax) - 2, -127, 127);
}

void RequireMxShape(std::string_view where, Eigen::Index cols) {
  Require(cols > 0 && cols % kMxBlock == 0, where,
          fmt::format("the row must be a positive multiple of {} values, got {} columns", kMxBlock,
                      cols));
}

}  // namespace

Mxfp4Tensor QuantizeMxfp4(const MatrixRef& x) {
  constexpr std::string_view kWhere = "QuantizeMxfp4";
  RequireTensor(kWhere, "x", x);
  RequireMxShape(kWhere, x.cols());
  Mxfp4Tensor t;
  t.rows = static_cast<int>(x.rows());
  t.cols = static_cast<int>(x.cols());
  t.codes.resize(static_cast<std::size_t>(t.rows) * t.cols);
  t.scales.resize(t.codes.size() / kMxBlock);
  for (int i = 0; i < t.rows; ++i) {
    for (int b = 0; b < t.cols / kMxBlock; ++b) {
      const int e = Mxfp4Exponent(x.block(i, b * kMxBlock, 1, kMxBlock).cwiseAbs().maxCoeff());
      t.scales[static_cast<std::size_t>(i) * (t.cols / kMxBlock) + b] =
          static_cast<std::uint8_t>(e + 127);
      for (int j = b * kMxBlock; j < (b + 1) * kMxBlock; ++j) {
        t.codes[static_cast<std::size_t>(i) * t.cols + j] = Fp4Encode(std::ldexp(x(i, j), -e));
      }
    }
  }
  return t;
}

Matrix DequantizeMxfp4(const Mxfp4Tensor& t) {
  constexpr std::string_view kWhere = "DequantizeMxfp4";
  Require(t.rows >= 1, kWhere, fmt::format("rows must be >= 1, got {}", t.rows));
  RequireMxShape(kWhere, t.cols);
  const std::size_t n = static_cast<std::size_t>(t.rows) * t.cols;
  Require(t.codes.size() == n, kWhere,
          fmt::format("codes must hold {} values, got {}", n, t.codes.size()));
  Require(t.scales.size() == n / kMxBlock, kWhere,
          fmt::format("scales must hold {} exponents, got {}", n / kMxBlock, t.scales.size()));
  Matrix x(t.rows, t.cols);
  for (int i = 0; i < t.rows; ++i) {
    for (int j = 0; j < t.cols; ++j) {
      const std::uint8_t e =
          t.scales[static_cast<std::size_t>(i) * (t.cols / kMxBlock) + j / kMxBlock];
      Require(e != 255, kWhere, "scales must not hold 255 (E8M0's NaN)");
      x(i, j) = std::ldexp(Fp4Value(t.codes[static_cast<std::size_t>(i) * t.cols + j]), e - 127);
    }
  }
  return x;
}

// ---------------------------------------------------------------------------------
// Step 6.

namespace {

bool CpuHasAvx2() { return __builtin_cpu_supports("avx2"); }

// The portable kernel: row i of c accumulates a(i, k)·(row k of b), in int32.
void Int8MatMulScalar(const Int8Matrix& a, const Int8Matrix& b, Int32Matrix& c) {
  const Eigen::Index m = a.rows(), k = a.cols(), n = b.cols();
  c.setZero();
  for (Eigen::Index i = 0; i < m; ++i) {
    std::int32_t* out = c.data() + i * n;
    for (Eigen::Index kk = 0; kk < k; ++kk) {
      const std::int32_t aik = a(i, kk);
      const std::int8_t* brow = b.data() + kk * n;
      for (Eigen::Index j = 0; j < n; ++j) out[j] += aik * static_cast<std::int32_t>(brow[j]);
    }
  }
}

}  // namespace

Int32Matrix Int8MatMul(const Int8Matrix& a, const Int8Matrix& b, Backend backend) {
  constexpr std::string_view kWhere = "Int8MatMul";
  Require(a.rows() >= 1 && a.cols() >= 1, kWhere,
          fmt::format("a must have at least one row and column, got {}", ShapeOf(a)));
  RequireShape(kWhere, "b", b, a.cols(), -1, "rows equal to a's columns");
  Require(b.cols() >= 1, kWhere,
          fmt::format("b must have at least one column, got {}", ShapeOf(b)));
  Require(a.cols() <= kMaxInt8Depth, kWhere,
          fmt::format("K (a's columns) must be <= {} so that int32 cannot overflow, got {}",
                      kMaxInt8Depth, a.cols()));
  const bool avx2 = CpuHasAvx2();
  Require(avx2 || backend != Backend::kAvx2, kWhere,
          "backend kAvx2 needs a CPU with AVX2, and this one has none");
  const int m = static_cast<int>(a.rows()), k = static_cast<int>(a.cols()),
            n = static_cast<int>(b.cols());
  Int32Matrix c(m, n);
  if (backend == Backend::kScalar || !avx2) {
    Int8MatMulScalar(a, b, c);
    return c;
  }
  // The packed operands live in per-thread buffers that only grow: a fresh allocation of a
  // few megabytes per call would be fresh pages, and their page faults cost as much as the
  // product itself at M = N = K = 256.
  thread_local std::vector<std::int16_t> pa, pb;
  if (pa.size() < internal::PackedAValues(m, k)) pa.resize(internal::PackedAValues(m, k));
  if (pb.size() < internal::PackedBValues(k, n)) pb.resize(internal::PackedBValues(k, n));
  internal::PackAInt16(a.data(), k, m, k, pa.data());
  internal::PackBInt16(b.data(), n, k, n, pb.data());
  internal::Int8MatMulAvx2(pa.data(), pb.data(), m, k, n, c.data(), n);
  return c;
}

Matrix QuantizedMatMul(const Int8Quantized& a, const Int8Quantized& b, Backend backend) {
  constexpr std::string_view kWhere = "QuantizedMatMul";
  Require(a.granularity == Granularity::kPerTensor || a.granularity == Granularity::kPerRow, kWhere,
          "a's scales must be kPerTensor or kPerRow (constant along K, so they factor out of "
          "the sum)");
  Require(b.granularity == Granularity::kPerTensor || b.granularity == Granularity::kPerColumn,
          kWhere,
          "b's scales must be kPerTensor or kPerColumn (constant along K, so they factor out "
          "of the sum)");
  const Eigen::Index m = a.q.rows(), n = b.q.cols();
  RequireShape(kWhere, "a.scales", a.scales, a.granularity == Granularity::kPerRow ? m : 1, 1,
               "one per row of a");
  RequireShape(kWhere, "b.scales", b.scales, 1, b.granularity == Granularity::kPerColumn ? n : 1,
               "one per column of b");
  const Int32Matrix acc = Int8MatMul(a.q, b.q, backend);
  Matrix c(m, n);
  for (Eigen::Index i = 0; i < m; ++i) {
    const float sa = a.scales(a.scales.rows() == 1 ? 0 : i, 0);
    for (Eigen::Index j = 0; j < n; ++j) {
      const float sb = b.scales(0, b.scales.cols() == 1 ? 0 : j);
      c(i, j) = sa * sb * static_cast<float>(acc(i, j));
    }
  }
  return c;
}

// ---------------------------------------------------------------------------------
// Step 7.

namespace {

void RequireQatShape(std::string_view where, const MatrixRef& w) {
  RequireTensor(where, "w", w);
  RequireMxShape(where, w.cols());
}

}  // namespace

Matrix FakeQuantize(const MatrixRef& w, QatFormat format) {
  RequireQatShape("FakeQuantize", w);
  return format == QatFormat::kInt4 ? DequantizeInt4(QuantizeInt4(w, kMxBlock))
                                    : DequantizeMxfp4(QuantizeMxfp4(w));
}

Matrix FakeQuantizeBackward(const MatrixRef& w, const MatrixRef& d_w_hat, QatFormat format) {
  constexpr std::string_view kWhere = "FakeQuantizeBackward";
  RequireQatShape(kWhere, w);
  RequireShape(kWhere, "d_w_hat", d_w_hat, w.rows(), w.cols(), "the shape of w");
  Matrix dw = d_w_hat;
  if (format == QatFormat::kInt4) return dw;  // absmax: nothing is clipped
  for (Eigen::Index i = 0; i < w.rows(); ++i) {
    for (Eigen::Index b = 0; b < w.cols() / kMxBlock; ++b) {
      const int e = Mxfp4Exponent(w.block(i, b * kMxBlock, 1, kMxBlock).cwiseAbs().maxCoeff());
      const float limit = std::ldexp(6.0f, e);
      for (Eigen::Index j = b * kMxBlock; j < (b + 1) * kMxBlock; ++j) {
        if (std::fabs(w(i, j)) > limit) dw(i, j) = 0.0f;
      }
    }
  }
  return dw;
}

namespace {

void RequireTask(std::string_view where, const LogisticTask& task, const MatrixRef& w) {
  RequireTensor(where, "task.x", task.x);
  RequireShape(where, "task.y", task.y, task.x.rows(), 1, "one label per row of x");
  RequireShape(where, "w", w, 1, task.x.cols(), "one weight per feature");
  RequireFinite(where, "w", w);
}

}  // namespace

Matrix TrainLogistic(const LogisticTask& task, const MatrixRef& w0, const TrainOptions& options) {
  constexpr std::string_view kWhere = "TrainLogistic";
  RequireTask(kWhere, task, w0);
  Require(options.steps >= 0, kWhere,
          fmt::format("options.steps must be >= 0, got {}", options.steps));
  Require(std::isfinite(options.lr) && options.lr >= 0.0f, kWhere,
          fmt::format("options.lr must be finite and >= 0, got {}", options.lr));
  if (options.fake_quant) RequireMxShape(kWhere, task.x.cols());
  const float n = static_cast<float>(task.x.rows());
  Matrix w = w0;
  Matrix w_hat, logits, residual, dw_hat;
  for (int t = 0; t < options.steps; ++t) {
    // Forward: the layer computes with the rounded weight (step 7).
    w_hat = options.fake_quant ? FakeQuantize(w, options.format) : w;
    logits.noalias() = task.x * w_hat.transpose();  // [N, 1]
    // p − y, the gradient of the cross-entropy with respect to the logits.
    residual = (1.0f / (1.0f + (-logits.array()).exp()) - task.y.array()).matrix();
    dw_hat.noalias() = residual.transpose() * task.x;  // [1, D]
    dw_hat /= n;
    // Backward through the rounding: the straight-through estimator.
    const Matrix dw = options.fake_quant ? FakeQuantizeBackward(w, dw_hat, options.format) : dw_hat;
    const float lr =
        options.decay ? options.lr * (1.0f - static_cast<float>(t) / options.steps) : options.lr;
    w -= lr * dw;
  }
  return w;
}

double Accuracy(const LogisticTask& task, const MatrixRef& w) {
  RequireTask("Accuracy", task, w);
  const Matrix logits = task.x * w.transpose();
  int right = 0;
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    right += (logits(i, 0) > 0.0f) == (task.y(i, 0) == 1.0f);
  }
  return static_cast<double>(right) / static_cast<double>(logits.rows());
}

// ---------------------------------------------------------------------------------
// Step 8.

std::int64_t StorageBytes(std::int64_t num_params, StorageFormat format, int group_size) {
  constexpr std::string_view kWhere = "StorageBytes";
  Require(num_params >= 1, kWhere, fmt::format("num_params must be >= 1, got {}", num_params));
  if (format == StorageFormat::kFp16) return 2 * num_params;
  Require(group_size > 0, kWhere, fmt::format("group_size must be > 0, got {}", group_size));
  Require(format != StorageFormat::kMxfp4 || group_size == kMxBlock, kWhere,
          fmt::format("group_size must be {} for MXFP4, got {}", kMxBlock, group_size));
  Require(num_params % group_size == 0, kWhere,
          fmt::format("group_size must divide num_params = {}, got {}", num_params, group_size));
  const std::int64_t groups = num_params / group_size;
  switch (format) {
    case StorageFormat::kInt8:
      return num_params + 2 * groups;
    case StorageFormat::kInt4:
      return (num_params + 1) / 2 + 2 * groups;
    case StorageFormat::kMxfp4:
      return (num_params + 1) / 2 + groups;
    case StorageFormat::kFp16:
      break;
  }
  return 2 * num_params;
}

}  // namespace llmk::quant
