#include "optimizers_ref.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace llmk::reference::optim {

MatrixD MatMul(const MatrixD& a, const MatrixD& b) {
  MatrixD out = MatrixD::Zero(a.rows(), b.cols());
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    for (Eigen::Index k = 0; k < a.cols(); ++k) {
      const double aik = a(i, k);
      for (Eigen::Index j = 0; j < b.cols(); ++j) out(i, j) += aik * b(k, j);
    }
  }
  return out;
}

std::vector<double> SymmetricEigenvalues(const MatrixD& h) {
  MatrixD a = h;
  const Eigen::Index n = a.rows();
  // Cyclic Jacobi: each rotation zeroes a(p, q) and keeps the matrix similar to h.
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0;
    for (Eigen::Index p = 0; p < n; ++p) {
      for (Eigen::Index q = p + 1; q < n; ++q) off += a(p, q) * a(p, q);
    }
    if (off < 1e-30) break;
    for (Eigen::Index p = 0; p < n; ++p) {
      for (Eigen::Index q = p + 1; q < n; ++q) {
        if (a(p, q) == 0.0) continue;
        const double theta = (a(q, q) - a(p, p)) / (2.0 * a(p, q));
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0);
        const double s = t * c;
        for (Eigen::Index k = 0; k < n; ++k) {  // columns p and q
          const double akp = a(k, p);
          const double akq = a(k, q);
          a(k, p) = c * akp - s * akq;
          a(k, q) = s * akp + c * akq;
        }
        for (Eigen::Index k = 0; k < n; ++k) {  // rows p and q
          const double apk = a(p, k);
          const double aqk = a(q, k);
          a(p, k) = c * apk - s * aqk;
          a(q, k) = s * apk + c * aqk;
        }
      }
    }
  }
  std::vector<double> eigenvalues;
  for (Eigen::Index i = 0; i < n; ++i) eigenvalues.push_back(a(i, i));
  std::sort(eigenvalues.begin(), eigenvalues.end());
  return eigenvalues;
}

void MomentumStep(double lr, double beta, bool nesterov, const MatrixD& grad, MatrixD* velocity,
                  MatrixD* param) {
  if (velocity->size() == 0) *velocity = MatrixD::Zero(grad.rows(), grad.cols());
  for (Eigen::Index i = 0; i < grad.rows(); ++i) {
    for (Eigen::Index j = 0; j < grad.cols(); ++j) {
      const double v = beta * (*velocity)(i, j) + grad(i, j);
      (*velocity)(i, j) = v;
      (*param)(i, j) -= lr * (nesterov ? grad(i, j) + beta * v : v);
    }
  }
}

void AdamStep(const AdamConfig& config, const MatrixD& grad, AdamState* state, MatrixD* param) {
  if (state->m.size() == 0) state->m = MatrixD::Zero(grad.rows(), grad.cols());
  if (state->v.size() == 0) state->v = MatrixD::Zero(grad.rows(), grad.cols());
  const int t = ++state->step;
  const double correct1 = config.bias_correction ? 1.0 - std::pow(config.beta1, t) : 1.0;
  const double correct2 = config.bias_correction ? 1.0 - std::pow(config.beta2, t) : 1.0;
  for (Eigen::Index i = 0; i < grad.rows(); ++i) {
    for (Eigen::Index j = 0; j < grad.cols(); ++j) {
      double theta = (*param)(i, j);
      double g = grad(i, j);
      if (!config.decoupled) g += config.weight_decay * theta;
      const double m = config.beta1 * state->m(i, j) + (1.0 - config.beta1) * g;
      const double v = config.beta2 * state->v(i, j) + (1.0 - config.beta2) * g * g;
      state->m(i, j) = m;
      state->v(i, j) = v;
      if (config.decoupled) theta *= 1.0 - config.lr * config.weight_decay;
      theta -= config.lr * (m / correct1) / (std::sqrt(v / correct2) + config.eps);
      (*param)(i, j) = theta;
    }
  }
}

double LearningRateAt(double peak, double min, int warmup, int total, int step) {
  if (step < warmup) return peak * (step + 1) / warmup;
  if (step > total) return min;
  const double progress = static_cast<double>(step - warmup) / (total - warmup);
  return min + 0.5 * (peak - min) * (1.0 + std::cos(std::numbers::pi * progress));
}

MatrixD NewtonSchulz(const MatrixD& g, int steps) {
  const double a = 3.4445, b = -4.7750, c = 2.0315;
  double norm = 0.0;
  for (Eigen::Index i = 0; i < g.rows(); ++i) {
    for (Eigen::Index j = 0; j < g.cols(); ++j) norm += g(i, j) * g(i, j);
  }
  const bool tall = g.rows() > g.cols();
  MatrixD x = tall ? MatrixD(g.transpose()) : g;
  x /= std::sqrt(norm) + 1e-7;
  for (int s = 0; s < steps; ++s) {
    const MatrixD gram = MatMul(x, x.transpose());           // A = X·Xᵀ
    const MatrixD poly = b * gram + c * MatMul(gram, gram);  // b·A + c·A²
    x = a * x + MatMul(poly, x);
  }
  return tall ? MatrixD(x.transpose()) : x;
}

void MuonStep(double lr, double mu, bool nesterov, int ns_steps, double weight_decay,
              const MatrixD& grad, MatrixD* momentum, MatrixD* param) {
  if (momentum->size() == 0) *momentum = MatrixD::Zero(grad.rows(), grad.cols());
  *momentum = mu * *momentum + grad;
  const MatrixD u = nesterov ? MatrixD(grad + mu * *momentum) : *momentum;
  const MatrixD o = NewtonSchulz(u, ns_steps);
  const double scale = std::sqrt(std::max(1.0, static_cast<double>(param->cols()) / param->rows()));
  *param = *param * (1.0 - lr * weight_decay) - lr * scale * o;
}

}  // namespace llmk::reference::optim
