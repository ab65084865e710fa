#include "quantization_ref.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace llmk::reference::quant {
namespace {

// Round half to even, written out.
double RoundHalfEven(double v) {
  const double f = std::floor(v);
  const double diff = v - f;
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1.0;
  return std::fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

}  // namespace

MatrixD SymmetricRoundTrip(const MatrixD& x, int qmax, int group_size) {
  MatrixD out(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (Eigen::Index g0 = 0; g0 < x.cols(); g0 += group_size) {
      double amax = 0.0;
      for (Eigen::Index j = g0; j < g0 + group_size; ++j) amax = std::max(amax, std::abs(x(i, j)));
      const double s = amax / qmax;
      for (Eigen::Index j = g0; j < g0 + group_size; ++j) {
        out(i, j) =
            s == 0.0 ? 0.0 : s * std::clamp(RoundHalfEven(x(i, j) / s), -1.0 * qmax, 1.0 * qmax);
      }
    }
  }
  return out;
}

double Fp4CodeValue(int code) {
  const int sign = (code >> 3) & 1;
  const int exponent = (code >> 1) & 3;
  const int mantissa = code & 1;
  const double magnitude =
      exponent == 0 ? mantissa * 0.5 : std::pow(2.0, exponent - 1) * (1.0 + mantissa / 2.0);
  return sign ? -magnitude : magnitude;
}

double Fp4Nearest(double v) {
  int best = 0;
  double best_distance = std::numeric_limits<double>::infinity();
  for (int code = 0; code < 16; ++code) {
    const double value = Fp4CodeValue(code);
    if ((value < 0) != (v < 0) && value != 0.0) continue;  // the same sign as v
    const double distance = std::abs(v - value);
    const bool tie_to_even = distance == best_distance && (code & 1) == 0;
    if (distance < best_distance || tie_to_even) {
      best = code;
      best_distance = distance;
    }
  }
  return Fp4CodeValue(best);
}

MatrixD Mxfp4RoundTrip(const MatrixD& x) {
  MatrixD out(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (Eigen::Index b = 0; b < x.cols(); b += 32) {
      double amax = 0.0;
      for (Eigen::Index j = b; j < b + 32; ++j) amax = std::max(amax, std::abs(x(i, j)));
      const double e =
          amax == 0.0 ? -127.0 : std::clamp(std::floor(std::log2(amax)) - 2.0, -127.0, 127.0);
      const double scale = std::pow(2.0, e);
      for (Eigen::Index j = b; j < b + 32; ++j) out(i, j) = scale * Fp4Nearest(x(i, j) / scale);
    }
  }
  return out;
}

Int64Matrix Int8MatMul(const Int8MatrixR& a, const Int8MatrixR& b) {
  Int64Matrix c(a.rows(), b.cols());
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    for (Eigen::Index j = 0; j < b.cols(); ++j) {
      std::int64_t sum = 0;
      for (Eigen::Index k = 0; k < a.cols(); ++k) {
        sum += static_cast<std::int64_t>(a(i, k)) * static_cast<std::int64_t>(b(k, j));
      }
      c(i, j) = sum;
    }
  }
  return c;
}

Matrix NaiveMatMulFloat(const Matrix& a, const Matrix& b) {
  Matrix c(a.rows(), b.cols());
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    for (Eigen::Index j = 0; j < b.cols(); ++j) {
      float sum = 0.0f;
      for (Eigen::Index k = 0; k < a.cols(); ++k) sum += a(i, k) * b(k, j);
      c(i, j) = sum;
    }
  }
  return c;
}

}  // namespace llmk::reference::quant
