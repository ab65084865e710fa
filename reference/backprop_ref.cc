#include "backprop_ref.h"

#include "attention_ref.h"

#include <algorithm>
#include <cmath>

namespace llmk::reference::backprop {
namespace {

constexpr double kPi = 3.14159265358979323846;

double SigmoidOf(double z) { return 1.0 / (1.0 + std::exp(-z)); }

double GeluDerivative(double x) {
  const double c = std::sqrt(2.0 / kPi);
  const double u = c * (x + 0.044715 * x * x * x);
  const double t = std::tanh(u);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * x * x);
}

}  // namespace

MatrixD Linear(const MatrixD& inp, const MatrixD& weight, const MatrixD& bias) {
  MatrixD out(inp.rows(), weight.cols());
  for (Eigen::Index b = 0; b < inp.rows(); ++b) {
    for (Eigen::Index f = 0; f < weight.cols(); ++f) {
      double sum = bias(0, f);
      for (Eigen::Index d = 0; d < inp.cols(); ++d) sum += inp(b, d) * weight(d, f);
      out(b, f) = sum;
    }
  }
  return out;
}

MatrixD Sigmoid(const MatrixD& z) {
  MatrixD out(z.rows(), z.cols());
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    for (Eigen::Index j = 0; j < z.cols(); ++j) out(i, j) = SigmoidOf(z(i, j));
  }
  return out;
}

MatrixD Softmax(const MatrixD& logits) { return ::llmk::reference::SoftmaxRows(logits); }

double CrossEntropy(const MatrixD& logits, const std::vector<int>& targets) {
  double total = 0.0;
  for (Eigen::Index b = 0; b < logits.rows(); ++b) {
    double max = logits(b, 0);
    for (Eigen::Index j = 1; j < logits.cols(); ++j) max = std::max(max, logits(b, j));
    double sum = 0.0;
    for (Eigen::Index j = 0; j < logits.cols(); ++j) sum += std::exp(logits(b, j) - max);
    total += max + std::log(sum) - logits(b, targets[static_cast<size_t>(b)]);
  }
  return total / static_cast<double>(logits.rows());
}

double MlpLoss(const MlpParams& p, const MatrixD& x, const std::vector<int>& targets) {
  const MatrixD h = Sigmoid(Linear(x, p.w1, p.b1));
  return CrossEntropy(Linear(h, p.w2, p.b2), targets);
}

MlpParams MlpGradients(const MlpParams& p, const MatrixD& x, const std::vector<int>& targets) {
  const Eigen::Index batch = x.rows();
  const Eigen::Index in = p.w1.rows();
  const Eigen::Index hidden = p.w1.cols();
  const Eigen::Index classes = p.w2.cols();
  MlpParams g;
  g.w1 = MatrixD::Zero(in, hidden);
  g.b1 = MatrixD::Zero(1, hidden);
  g.w2 = MatrixD::Zero(hidden, classes);
  g.b2 = MatrixD::Zero(1, classes);
  const MatrixD h = Sigmoid(Linear(x, p.w1, p.b1));
  const MatrixD prob = Softmax(Linear(h, p.w2, p.b2));
  const double inv_batch = 1.0 / static_cast<double>(batch);
  for (Eigen::Index b = 0; b < batch; ++b) {
    for (Eigen::Index v = 0; v < classes; ++v) {
      // ∂L/∂logit(b, v) for this example's share 1/B of the mean.
      const double y = (v == targets[static_cast<size_t>(b)]) ? 1.0 : 0.0;
      const double dlogit = (prob(b, v) - y) * inv_batch;
      g.b2(0, v) += dlogit;
      for (Eigen::Index f = 0; f < hidden; ++f) {
        g.w2(f, v) += dlogit * h(b, f);
        // The path logit(b, v) <- h(b, f) <- z1(b, f) <- (w1(:, f), b1(f)).
        const double dz = dlogit * p.w2(f, v) * h(b, f) * (1.0 - h(b, f));
        g.b1(0, f) += dz;
        for (Eigen::Index d = 0; d < in; ++d) g.w1(d, f) += dz * x(b, d);
      }
    }
  }
  return g;
}

double BinaryCrossEntropy(const MatrixD& logits, const MatrixD& targets) {
  double total = 0.0;
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    for (Eigen::Index j = 0; j < logits.cols(); ++j) {
      const double z = logits(i, j);
      total += std::max(z, 0.0) - targets(i, j) * z + std::log1p(std::exp(-std::abs(z)));
    }
  }
  return total / static_cast<double>(logits.size());
}

MatrixD Relu(const MatrixD& inp) {
  MatrixD out(inp.rows(), inp.cols());
  for (Eigen::Index i = 0; i < inp.rows(); ++i) {
    for (Eigen::Index j = 0; j < inp.cols(); ++j) out(i, j) = inp(i, j) > 0.0 ? inp(i, j) : 0.0;
  }
  return out;
}

MatrixD Gelu(const MatrixD& inp) {
  const double c = std::sqrt(2.0 / kPi);
  MatrixD out(inp.rows(), inp.cols());
  for (Eigen::Index i = 0; i < inp.rows(); ++i) {
    for (Eigen::Index j = 0; j < inp.cols(); ++j) {
      const double x = inp(i, j);
      out(i, j) = 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
    }
  }
  return out;
}

MatrixD GeluBackward(const MatrixD& dout, const MatrixD& inp) {
  MatrixD dinp(inp.rows(), inp.cols());
  for (Eigen::Index i = 0; i < inp.rows(); ++i) {
    for (Eigen::Index j = 0; j < inp.cols(); ++j) {
      dinp(i, j) = dout(i, j) * GeluDerivative(inp(i, j));
    }
  }
  return dinp;
}

MatrixD SoftmaxBackward(const MatrixD& dout, const MatrixD& inp) {
  const MatrixD p = Softmax(inp);
  const Eigen::Index width = inp.cols();
  MatrixD dinp = MatrixD::Zero(inp.rows(), width);
  for (Eigen::Index b = 0; b < inp.rows(); ++b) {
    for (Eigen::Index i = 0; i < width; ++i) {
      for (Eigen::Index j = 0; j < width; ++j) {
        const double jacobian = p(b, j) * ((i == j ? 1.0 : 0.0) - p(b, i));
        dinp(b, i) += dout(b, j) * jacobian;
      }
    }
  }
  return dinp;
}

namespace {

// Row b's mean and 1/√(variance + eps).
void RowStatistics(const MatrixD& inp, Eigen::Index b, double eps, double* mean, double* rstd) {
  const double width = static_cast<double>(inp.cols());
  double sum = 0.0;
  for (Eigen::Index j = 0; j < inp.cols(); ++j) sum += inp(b, j);
  *mean = sum / width;
  double squares = 0.0;
  for (Eigen::Index j = 0; j < inp.cols(); ++j) {
    squares += (inp(b, j) - *mean) * (inp(b, j) - *mean);
  }
  *rstd = 1.0 / std::sqrt(squares / width + eps);
}

}  // namespace

MatrixD LayerNorm(const MatrixD& inp, const MatrixD& weight, const MatrixD& bias, double eps) {
  MatrixD out(inp.rows(), inp.cols());
  for (Eigen::Index b = 0; b < inp.rows(); ++b) {
    double mean = 0.0;
    double rstd = 0.0;
    RowStatistics(inp, b, eps, &mean, &rstd);
    for (Eigen::Index j = 0; j < inp.cols(); ++j) {
      out(b, j) = weight(0, j) * (inp(b, j) - mean) * rstd + bias(0, j);
    }
  }
  return out;
}

LayerNormGradients LayerNormBackward(const MatrixD& dout, const MatrixD& inp, const MatrixD& weight,
                                     double eps) {
  const Eigen::Index width = inp.cols();
  const double n = static_cast<double>(width);
  LayerNormGradients g;
  g.dinp = MatrixD::Zero(inp.rows(), width);
  g.dweight = MatrixD::Zero(1, width);
  g.dbias = MatrixD::Zero(1, width);
  for (Eigen::Index b = 0; b < inp.rows(); ++b) {
    double mean = 0.0;
    double rstd = 0.0;
    RowStatistics(inp, b, eps, &mean, &rstd);
    for (Eigen::Index j = 0; j < width; ++j) {
      const double xhat_j = (inp(b, j) - mean) * rstd;
      g.dweight(0, j) += dout(b, j) * xhat_j;
      g.dbias(0, j) += dout(b, j);
    }
    for (Eigen::Index i = 0; i < width; ++i) {
      const double xhat_i = (inp(b, i) - mean) * rstd;
      for (Eigen::Index j = 0; j < width; ++j) {
        const double xhat_j = (inp(b, j) - mean) * rstd;
        const double jacobian =
            weight(0, j) * rstd * ((i == j ? 1.0 : 0.0) - 1.0 / n - xhat_i * xhat_j / n);
        g.dinp(b, i) += dout(b, j) * jacobian;
      }
    }
  }
  return g;
}

}  // namespace llmk::reference::backprop
