// Solution of kata 14: every optimizer of optimizers.h. Each function checks all of its
// arguments first and only then writes, so a call that throws changes nothing.
#include "optimizers.h"

#include <fmt/format.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <string_view>

namespace llmk::optim {
namespace {

// Throws unless every entry of g is finite, naming the first one that is not:
// "AdamStep: grad(0, 1) is nan; a gradient must be finite".
void RequireFinite(std::string_view where, std::string_view name, const MatrixRef& g) {
  if (g.allFinite()) return;
  for (Eigen::Index i = 0; i < g.rows(); ++i) {
    for (Eigen::Index j = 0; j < g.cols(); ++j) {
      if (!std::isfinite(g(i, j))) {
        throw InvalidArgument(fmt::format("{}: {}({}, {}) is {}; a gradient must be finite", where,
                                          name, i, j, g(i, j)));
      }
    }
  }
}

void RequireNotNull(std::string_view where, std::string_view name, const void* p) {
  Require(p != nullptr, where, fmt::format("{} must not be null", name));
}

// grad must have param's shape.
void RequireGrad(std::string_view where, const MatrixRef& grad, const Matrix& param) {
  RequireShape(where, "grad", grad, param.rows(), param.cols(), "the shape of param");
  RequireFinite(where, "grad", grad);
}

// A state matrix is empty (zeros, before the first step) or of param's shape.
void RequireState(std::string_view where, std::string_view name, const Matrix& state,
                  const Matrix& param) {
  if (state.size() == 0) return;
  RequireShape(where, name, state, param.rows(), param.cols(), "the shape of param, or empty");
}

void RequireLearningRate(std::string_view where, std::string_view name, float lr) {
  Require(std::isfinite(lr) && lr >= 0.0f, where,
          fmt::format("{} must be finite and >= 0, got {}", name, lr));
}

void RequireBeta(std::string_view where, std::string_view name, float beta) {
  Require(beta >= 0.0f && beta < 1.0f, where,
          fmt::format("{} must be in [0, 1), got {}", name, beta));
}

Matrix ZerosIfEmpty(const Matrix& state, const Matrix& param) {
  return state.size() == 0 ? Matrix::Zero(param.rows(), param.cols()) : state;
}

}  // namespace

// Step 1: θ ← θ − lr·g.
void GdStep(float lr, const MatrixRef& grad, Matrix* param) {
  RequireNotNull("GdStep", "param", param);
  RequireLearningRate("GdStep", "lr", lr);
  RequireGrad("GdStep", grad, *param);
  param->noalias() -= lr * grad;
}

// Step 1: on f = ½ θᵀHθ each eigendirection is multiplied by (1 − lr·λ) per step, which
// shrinks only while lr < 2/λ; the stiffest direction decides.
double CriticalLearningRate(const MatrixRef& hessian) {
  constexpr std::string_view kWhere = "CriticalLearningRate";
  Require(hessian.rows() == hessian.cols() && hessian.rows() >= 1, kWhere,
          fmt::format("hessian must be square and non-empty, got {}", ShapeOf(hessian)));
  const MatrixD h = hessian.cast<double>();
  const double scale = std::max(h.cwiseAbs().maxCoeff(), 1e-300);
  for (Eigen::Index i = 0; i < h.rows(); ++i) {
    for (Eigen::Index j = i + 1; j < h.cols(); ++j) {
      Require(std::abs(h(i, j) - h(j, i)) <= 1e-6 * scale, kWhere,
              fmt::format("hessian must be symmetric, but hessian({}, {}) = {} and "
                          "hessian({}, {}) = {}",
                          i, j, hessian(i, j), j, i, hessian(j, i)));
    }
  }
  const Eigen::SelfAdjointEigenSolver<MatrixD> solver(h, Eigen::EigenvaluesOnly);
  const double lambda_max = solver.eigenvalues().maxCoeff();
  Require(lambda_max > 0.0, kWhere,
          fmt::format("hessian's largest eigenvalue must be positive, got {}", lambda_max));
  return 2.0 / lambda_max;
}

// Step 2: v ← β·v + g; θ ← θ − lr·v, or θ ← θ − lr·(g + β·v) for Nesterov.
void MomentumStep(const MomentumConfig& config, const MatrixRef& grad, MomentumState* state,
                  Matrix* param) {
  constexpr std::string_view kWhere = "MomentumStep";
  RequireNotNull(kWhere, "param", param);
  RequireNotNull(kWhere, "state", state);
  RequireLearningRate(kWhere, "lr", config.lr);
  RequireBeta(kWhere, "beta", config.beta);
  RequireGrad(kWhere, grad, *param);
  RequireState(kWhere, "state.velocity", state->velocity, *param);

  Matrix v = ZerosIfEmpty(state->velocity, *param);
  v = config.beta * v + grad;
  if (config.nesterov) {
    *param -= config.lr * (grad + config.beta * v);
  } else {
    *param -= config.lr * v;
  }
  state->velocity = std::move(v);
}

// Steps 3 and 4.
void AdamStep(const AdamConfig& config, const MatrixRef& grad, AdamState* state, Matrix* param) {
  constexpr std::string_view kWhere = "AdamStep";
  RequireNotNull(kWhere, "param", param);
  RequireNotNull(kWhere, "state", state);
  RequireLearningRate(kWhere, "lr", config.lr);
  RequireBeta(kWhere, "beta1", config.beta1);
  RequireBeta(kWhere, "beta2", config.beta2);
  Require(config.eps > 0.0f && std::isfinite(config.eps), kWhere,
          fmt::format("eps must be > 0, got {}", config.eps));
  RequireLearningRate(kWhere, "weight_decay", config.weight_decay);
  Require(state->step >= 0, kWhere, fmt::format("state.step must be >= 0, got {}", state->step));
  RequireGrad(kWhere, grad, *param);
  RequireState(kWhere, "state.m", state->m, *param);
  RequireState(kWhere, "state.v", state->v, *param);

  const bool l2 = config.decay == WeightDecay::kL2 && config.weight_decay != 0.0f;
  const bool decoupled = config.decay == WeightDecay::kDecoupled && config.weight_decay != 0.0f;
  // Step 4: L2 puts λ·θ into the gradient, where the moments normalize it away.
  const Matrix g = l2 ? Matrix(grad + config.weight_decay * *param) : Matrix(grad);
  const int t = state->step + 1;
  Matrix m = ZerosIfEmpty(state->m, *param);
  Matrix v = ZerosIfEmpty(state->v, *param);
  m = config.beta1 * m + (1.0f - config.beta1) * g;
  v = config.beta2 * v + (1.0f - config.beta2) * g.cwiseProduct(g);
  // Step 3: m and v start at zero, so after t steps they carry (1 − βᵗ) of the weight
  // of a full average; dividing by it removes that bias. Powers in double: 1 − 0.999ᵗ
  // loses digits in float for small t.
  const double c1 = config.bias_correction ? 1.0 - std::pow(double{config.beta1}, t) : 1.0;
  const double c2 = config.bias_correction ? 1.0 - std::pow(double{config.beta2}, t) : 1.0;
  const float inv_c1 = static_cast<float>(1.0 / c1);
  const float inv_c2 = static_cast<float>(1.0 / c2);
  // Step 4: AdamW decays θ itself, outside the adaptive step.
  if (decoupled) *param *= 1.0f - config.lr * config.weight_decay;
  // θ −= lr·m̂ / (√v̂ + ε), ε outside the square root; one pass, no m̂ or v̂ matrices.
  param->array() -= config.lr * (m.array() * inv_c1) / ((v.array() * inv_c2).sqrt() + config.eps);
  state->m = std::move(m);
  state->v = std::move(v);
  state->step = t;
}

// Step 5.
float LearningRateAt(const ScheduleConfig& config, int step) {
  constexpr std::string_view kWhere = "LearningRateAt";
  Require(step >= 0, kWhere, fmt::format("step must be >= 0, got {}", step));
  Require(config.peak_lr > 0.0f && std::isfinite(config.peak_lr), kWhere,
          fmt::format("peak_lr must be > 0, got {}", config.peak_lr));
  Require(
      config.min_lr >= 0.0f && config.min_lr <= config.peak_lr, kWhere,
      fmt::format("min_lr must be in [0, peak_lr = {}], got {}", config.peak_lr, config.min_lr));
  Require(config.warmup_steps >= 0, kWhere,
          fmt::format("warmup_steps must be >= 0, got {}", config.warmup_steps));
  Require(config.total_steps > config.warmup_steps, kWhere,
          fmt::format("total_steps must be > warmup_steps = {}, got {}", config.warmup_steps,
                      config.total_steps));
  const double peak = config.peak_lr;
  const double low = config.min_lr;
  if (step < config.warmup_steps) {
    return static_cast<float>(peak * (step + 1) / config.warmup_steps);
  }
  if (step > config.total_steps) return config.min_lr;
  const double progress =
      static_cast<double>(step - config.warmup_steps) / (config.total_steps - config.warmup_steps);
  return static_cast<float>(low +
                            0.5 * (peak - low) * (1.0 + std::cos(std::numbers::pi * progress)));
}

// Step 6.
float ClipByGlobalNorm(float max_norm, std::vector<Matrix>* grads) {
  constexpr std::string_view kWhere = "ClipByGlobalNorm";
  RequireNotNull(kWhere, "grads", grads);
  Require(max_norm > 0.0f && std::isfinite(max_norm), kWhere,
          fmt::format("max_norm must be > 0, got {}", max_norm));
  Require(!grads->empty(), kWhere, "grads must hold at least one tensor");
  double sum = 0.0;  // in double: a sum of many squares loses digits in float
  for (std::size_t k = 0; k < grads->size(); ++k) {
    const Matrix& g = (*grads)[k];
    RequireFinite(kWhere, fmt::format("grads[{}]", k), g);
    sum += g.cast<double>().squaredNorm();
  }
  const double norm = std::sqrt(sum);
  if (norm > max_norm) {
    const float scale = static_cast<float>(max_norm / norm);
    for (Matrix& g : *grads) g *= scale;
  }
  return static_cast<float>(norm);
}

// Step 7. With X = U·diag(σ)·Vᵀ, X·Xᵀ = U·diag(σ²)·Uᵀ, so one iteration maps each
// singular value by p(σ) = a·σ + b·σ³ + c·σ⁵ and keeps U and V: the result tends to U·Vᵀ.
// X·Xᵀ is the smaller Gram matrix on the wide orientation, hence the transpose of a tall g.
Matrix NewtonSchulz(const MatrixRef& g, int steps) {
  constexpr std::string_view kWhere = "NewtonSchulz";
  Require(g.rows() >= 1 && g.cols() >= 1, kWhere,
          fmt::format("g must have at least one row and one column, got {}", ShapeOf(g)));
  Require(steps >= 0, kWhere, fmt::format("steps must be >= 0, got {}", steps));
  RequireFinite(kWhere, "g", g);
  const bool tall = g.rows() > g.cols();
  Matrix x = tall ? Matrix(g.transpose()) : Matrix(g);
  x /= static_cast<float>(x.cast<double>().norm() + 1e-7);
  Matrix gram(x.rows(), x.rows());
  Matrix poly(x.rows(), x.rows());
  Matrix next(x.rows(), x.cols());
  for (int s = 0; s < steps; ++s) {
    gram.noalias() = x * x.transpose();             // A = X·Xᵀ
    poly.noalias() = kNewtonSchulzC * gram * gram;  // c·A²
    poly += kNewtonSchulzB * gram;                  // + b·A
    next.noalias() = poly * x;                      // (b·A + c·A²)·X
    next += kNewtonSchulzA * x;                     // + a·X
    x.swap(next);
  }
  if (tall) return x.transpose();
  return x;
}

// Step 7: an orthogonalized update has unit singular values; a [D_in, D_out] layer with
// D_out > D_in gets √(D_out / D_in) more, so that its RMS per output matches.
float MuonScale(int rows, int cols) {
  Require(rows >= 1, "MuonScale", fmt::format("rows must be >= 1, got {}", rows));
  Require(cols >= 1, "MuonScale", fmt::format("cols must be >= 1, got {}", cols));
  return static_cast<float>(std::sqrt(std::max(1.0, static_cast<double>(cols) / rows)));
}

// Step 7.
void MuonStep(const MuonConfig& config, const MatrixRef& grad, MuonState* state, Matrix* param) {
  constexpr std::string_view kWhere = "MuonStep";
  RequireNotNull(kWhere, "param", param);
  RequireNotNull(kWhere, "state", state);
  Require(param->rows() >= 2 && param->cols() >= 2, kWhere,
          fmt::format("param must be at least 2x2 (a 2-D weight; vectors stay on AdamW), got {}",
                      ShapeOf(*param)));
  RequireLearningRate(kWhere, "lr", config.lr);
  RequireBeta(kWhere, "momentum", config.momentum);
  Require(config.ns_steps >= 1, kWhere,
          fmt::format("ns_steps must be >= 1, got {}", config.ns_steps));
  RequireLearningRate(kWhere, "weight_decay", config.weight_decay);
  RequireGrad(kWhere, grad, *param);
  RequireState(kWhere, "state.momentum", state->momentum, *param);

  Matrix m = ZerosIfEmpty(state->momentum, *param);
  m = config.momentum * m + grad;
  const Matrix u = config.nesterov ? Matrix(grad + config.momentum * m) : m;
  const Matrix o = NewtonSchulz(u, config.ns_steps);
  const float scale = MuonScale(static_cast<int>(param->rows()), static_cast<int>(param->cols()));
  *param *= 1.0f - config.lr * config.weight_decay;
  param->noalias() -= (config.lr * scale) * o;
  state->momentum = std::move(m);
}

// Step 7: Muon orthogonalizes a linear map; an embedding is a lookup table, the output
// head meets the loss directly, and vectors have no singular vectors to keep.
OptimizerKind OptimizerFor(ParamKind kind, int rows, int cols) {
  Require(rows >= 1 && cols >= 1, "OptimizerFor",
          fmt::format("rows and cols must be >= 1, got {}", ShapeString(rows, cols)));
  if (kind == ParamKind::kHiddenMatrix && rows >= 2 && cols >= 2) return OptimizerKind::kMuon;
  return OptimizerKind::kAdamW;
}

// Step 8.
std::vector<float> Race(OptimizerKind kind, const RaceTask& task, const RaceSettings& settings) {
  Require(settings.steps >= 0, "Race",
          fmt::format("settings.steps must be >= 0, got {}", settings.steps));
  Matrix w1 = task.w1;
  Matrix w2 = task.w2;
  const OptimizerKind kind1 =
      kind == OptimizerKind::kMuon
          ? OptimizerFor(ParamKind::kHiddenMatrix, static_cast<int>(w1.rows()),
                         static_cast<int>(w1.cols()))
          : kind;
  const OptimizerKind kind2 =
      kind == OptimizerKind::kSgd ? OptimizerKind::kSgd : OptimizerKind::kAdamW;
  MomentumState sgd1, sgd2;
  AdamState adam1, adam2;
  MuonState muon1;
  std::vector<float> losses;
  losses.reserve(static_cast<std::size_t>(settings.steps) + 1);
  Matrix dw1, dw2;
  for (int step = 0; step <= settings.steps; ++step) {
    losses.push_back(RaceLoss(task, w1, w2, &dw1, &dw2));
    if (step == settings.steps) break;
    switch (kind1) {
      case OptimizerKind::kSgd:
        MomentumStep(settings.sgd, dw1, &sgd1, &w1);
        break;
      case OptimizerKind::kAdamW:
        AdamStep(settings.adamw, dw1, &adam1, &w1);
        break;
      case OptimizerKind::kMuon:
        MuonStep(settings.muon, dw1, &muon1, &w1);
        break;
    }
    if (kind2 == OptimizerKind::kSgd) {
      MomentumStep(settings.sgd, dw2, &sgd2, &w2);
    } else {
      AdamStep(settings.adamw, dw2, &adam2, &w2);
    }
  }
  return losses;
}

}  // namespace llmk::optim
