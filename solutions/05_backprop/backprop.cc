// Solution of kata 05: backpropagation by hand. Each function validates its arguments,
// then follows the README step it names.
#include "backprop.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>

namespace llmk::backprop {
namespace {

// An empty batch or a matrix without columns is a caller error, not an empty result.
void RequireNonEmpty(std::string_view where, std::string_view name, const MatrixDRef& m) {
  Require(m.rows() >= 1, where,
          fmt::format("{} has no rows ({}); the batch must hold at least one example", name,
                      ShapeOf(m)));
  Require(
      m.cols() >= 1, where,
      fmt::format("{} has no columns ({}); every row needs at least one entry", name, ShapeOf(m)));
}

void RequireSameShape(std::string_view where, std::string_view name, const MatrixDRef& m,
                      std::string_view other_name, const MatrixDRef& other) {
  RequireShape(where, name, m, other.rows(), other.cols(),
               fmt::format("the shape of {}", other_name));
}

// One class index per row, each in [0, V).
void RequireTargets(std::string_view where, std::string_view name, const MatrixDRef& logits,
                    const std::vector<int>& targets, size_t expected_count) {
  Require(targets.size() == expected_count, where,
          fmt::format("{} holds {} class indices, expected {} (logits is {})", name, targets.size(),
                      expected_count, ShapeOf(logits)));
  const Eigen::Index classes = logits.cols();
  for (size_t b = 0; b < targets.size(); ++b) {
    Require(targets[b] >= 0 && targets[b] < classes, where,
            fmt::format("{}[{}] = {} is not a class index in [0, V = {})", name, b, targets[b],
                        classes));
  }
}

void RequireLearningRate(std::string_view where, double learning_rate) {
  Require(std::isfinite(learning_rate) && learning_rate >= 0.0, where,
          fmt::format("learning_rate must be finite and >= 0, got {}", learning_rate));
}

// log Σ_j exp(z(b, j)), with the row max taken out so nothing overflows.
double RowLogSumExp(const MatrixDRef& logits, Eigen::Index b) {
  const double m = logits.row(b).maxCoeff();
  return m + std::log((logits.row(b).array() - m).exp().sum());
}

// Checks what MlpForward needs; returns nothing, throws on the first mismatch.
void RequireNet(std::string_view where, const Mlp& net, const MatrixDRef& x) {
  RequireNonEmpty(where, "x", x);
  RequireShape(where, "net.w1", net.w1, x.cols(), -1,
               fmt::format("rows must equal x's columns; x is {}", ShapeOf(x)));
  Require(net.w1.cols() >= 1, where, "net.w1 has no columns; the hidden layer is empty");
  RequireShape(where, "net.b1", net.b1, 1, net.w1.cols(),
               fmt::format("one bias per hidden unit; w1 is {}", ShapeOf(net.w1)));
  RequireShape(where, "net.w2", net.w2, net.w1.cols(), -1,
               fmt::format("rows must equal w1's columns; w1 is {}", ShapeOf(net.w1)));
  Require(net.w2.cols() >= 1, where, "net.w2 has no columns; there are no classes");
  RequireShape(where, "net.b2", net.b2, 1, net.w2.cols(),
               fmt::format("one bias per class; w2 is {}", ShapeOf(net.w2)));
}

}  // namespace

// Step 1: out = inp · weight + bias.
MatrixD LinearForward(const MatrixDRef& inp, const MatrixDRef& weight, const MatrixDRef& bias) {
  RequireNonEmpty("LinearForward", "inp", inp);
  RequireShape("LinearForward", "weight", weight, inp.cols(), -1,
               fmt::format("rows must equal inp's columns; inp is {}", ShapeOf(inp)));
  Require(weight.cols() >= 1, "LinearForward", "weight has no columns");
  RequireShape("LinearForward", "bias", bias, 1, weight.cols(),
               fmt::format("one bias per output column; weight is {}", ShapeOf(weight)));
  MatrixD out(inp.rows(), weight.cols());
  out.noalias() = inp * weight;
  out.rowwise() += bias.row(0);
  return out;
}

// Step 1: σ(z) = 1 / (1 + e^(-z)); for z = -1000, e^1000 = inf and 1/inf = 0, as it should.
MatrixD SigmoidForward(const MatrixDRef& inp) {
  RequireNonEmpty("SigmoidForward", "inp", inp);
  return (1.0 / (1.0 + (-inp.array()).exp())).matrix();
}

MlpActivations MlpForward(const Mlp& net, const MatrixDRef& x) {
  RequireNet("MlpForward", net, x);
  MlpActivations a;
  a.z1 = LinearForward(x, net.w1, net.b1);
  a.h = SigmoidForward(a.z1);
  a.logits = LinearForward(a.h, net.w2, net.b2);
  return a;
}

// Step 2: exp(z - max) / Σ exp(z - max), row by row.
MatrixD Softmax(const MatrixDRef& logits) {
  RequireNonEmpty("Softmax", "logits", logits);
  MatrixD p(logits.rows(), logits.cols());
  for (Eigen::Index b = 0; b < logits.rows(); ++b) {
    const double m = logits.row(b).maxCoeff();
    p.row(b) = (logits.row(b).array() - m).exp().matrix();
    p.row(b) /= p.row(b).sum();
  }
  return p;
}

// Step 2: -log p(target) = log Σ exp(z) - z(target).
double CrossEntropyLoss(const MatrixDRef& logits, const std::vector<int>& targets) {
  RequireNonEmpty("CrossEntropyLoss", "logits", logits);
  RequireTargets("CrossEntropyLoss", "targets", logits, targets,
                 static_cast<size_t>(logits.rows()));
  double sum = 0.0;
  for (Eigen::Index b = 0; b < logits.rows(); ++b) {
    sum += RowLogSumExp(logits, b) - logits(b, targets[static_cast<size_t>(b)]);
  }
  return sum / static_cast<double>(logits.rows());
}

// Step 2: the targets are the tokens shifted left by one.
double NextTokenLoss(const MatrixDRef& logits, const std::vector<int>& tokens) {
  RequireNonEmpty("NextTokenLoss", "logits", logits);
  RequireTargets("NextTokenLoss", "tokens", logits, tokens, static_cast<size_t>(logits.rows()) + 1);
  const std::vector<int> next(tokens.begin() + 1, tokens.end());
  return CrossEntropyLoss(logits, next);
}

// Step 3: central differences, one entry at a time.
MatrixD NumericalGradient(const ScalarFunction& f, const MatrixDRef& x, double step) {
  Require(static_cast<bool>(f), "NumericalGradient",
          "f is empty; pass a function to differentiate");
  RequireNonEmpty("NumericalGradient", "x", x);
  Require(std::isfinite(step) && step > 0.0, "NumericalGradient",
          fmt::format("step must be finite and > 0, got {}", step));
  MatrixD probe = x;
  MatrixD grad(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
      probe(i, j) = x(i, j) + step;
      const double up = f(probe);
      probe(i, j) = x(i, j) - step;
      const double down = f(probe);
      probe(i, j) = x(i, j);
      grad(i, j) = (up - down) / (2.0 * step);
    }
  }
  return grad;
}

// Step 4: ∂L/∂z = (p - y) / B.
MatrixD SoftmaxCrossEntropyBackward(const MatrixDRef& logits, const std::vector<int>& targets) {
  RequireNonEmpty("SoftmaxCrossEntropyBackward", "logits", logits);
  RequireTargets("SoftmaxCrossEntropyBackward", "targets", logits, targets,
                 static_cast<size_t>(logits.rows()));
  MatrixD dlogits = Softmax(logits);
  for (Eigen::Index b = 0; b < logits.rows(); ++b) {
    dlogits(b, targets[static_cast<size_t>(b)]) -= 1.0;
  }
  dlogits /= static_cast<double>(logits.rows());
  return dlogits;
}

// Step 5: out(b, f) = Σ_d inp(b, d)·weight(d, f) + bias(f).
LinearGrads LinearBackward(const MatrixDRef& dout, const MatrixDRef& inp,
                           const MatrixDRef& weight) {
  RequireNonEmpty("LinearBackward", "inp", inp);
  RequireShape("LinearBackward", "weight", weight, inp.cols(), -1,
               fmt::format("rows must equal inp's columns; inp is {}", ShapeOf(inp)));
  Require(weight.cols() >= 1, "LinearBackward", "weight has no columns");
  RequireShape("LinearBackward", "dout", dout, inp.rows(), weight.cols(),
               "the shape of the forward output, inp rows by weight columns");
  LinearGrads g;
  g.dinp.resize(inp.rows(), inp.cols());
  g.dinp.noalias() = dout * weight.transpose();
  g.dweight.resize(weight.rows(), weight.cols());
  g.dweight.noalias() = inp.transpose() * dout;
  g.dbias = dout.colwise().sum();
  return g;
}

// Step 5: σ'(z) = σ(z)·(1 - σ(z)).
MatrixD SigmoidBackward(const MatrixDRef& dout, const MatrixDRef& out) {
  RequireNonEmpty("SigmoidBackward", "out", out);
  RequireSameShape("SigmoidBackward", "dout", dout, "out", out);
  return (dout.array() * out.array() * (1.0 - out.array())).matrix();
}

MlpGrads MlpBackward(const Mlp& net, const MatrixDRef& x, const MlpActivations& acts,
                     const std::vector<int>& targets) {
  RequireNet("MlpBackward", net, x);
  const Eigen::Index batch = x.rows();
  RequireShape("MlpBackward", "acts.z1", acts.z1, batch, net.w1.cols(), "x rows by w1 columns");
  RequireShape("MlpBackward", "acts.h", acts.h, batch, net.w1.cols(), "x rows by w1 columns");
  RequireShape("MlpBackward", "acts.logits", acts.logits, batch, net.w2.cols(),
               "x rows by w2 columns");
  RequireTargets("MlpBackward", "targets", acts.logits, targets, static_cast<size_t>(batch));
  MlpGrads g;
  g.dlogits = SoftmaxCrossEntropyBackward(acts.logits, targets);
  LinearGrads out_layer = LinearBackward(g.dlogits, acts.h, net.w2);
  g.dw2 = std::move(out_layer.dweight);
  g.db2 = std::move(out_layer.dbias);
  g.dh = std::move(out_layer.dinp);
  g.dz1 = SigmoidBackward(g.dh, acts.h);
  LinearGrads hidden_layer = LinearBackward(g.dz1, x, net.w1);
  g.dw1 = std::move(hidden_layer.dweight);
  g.db1 = std::move(hidden_layer.dbias);
  return g;
}

// Step 6: p <- p - η·dp.
Mlp SgdStep(const Mlp& net, const MlpGrads& grads, double learning_rate) {
  RequireLearningRate("SgdStep", learning_rate);
  RequireSameShape("SgdStep", "grads.dw1", grads.dw1, "net.w1", net.w1);
  RequireSameShape("SgdStep", "grads.db1", grads.db1, "net.b1", net.b1);
  RequireSameShape("SgdStep", "grads.dw2", grads.dw2, "net.w2", net.w2);
  RequireSameShape("SgdStep", "grads.db2", grads.db2, "net.b2", net.b2);
  Mlp next;
  next.w1 = net.w1 - learning_rate * grads.dw1;
  next.b1 = net.b1 - learning_rate * grads.db1;
  next.w2 = net.w2 - learning_rate * grads.dw2;
  next.b2 = net.b2 - learning_rate * grads.db2;
  return next;
}

namespace {

void RequireBinaryTargets(std::string_view where, const MatrixDRef& logits,
                          const MatrixDRef& targets) {
  RequireNonEmpty(where, "logits", logits);
  RequireSameShape(where, "targets", targets, "logits", logits);
  for (Eigen::Index i = 0; i < targets.rows(); ++i) {
    for (Eigen::Index j = 0; j < targets.cols(); ++j) {
      const double y = targets(i, j);
      Require(y >= 0.0 && y <= 1.0, where,
              fmt::format("targets({}, {}) = {} is not a probability in [0, 1]", i, j, y));
    }
  }
}

// softplus(z) = log(1 + e^z) = max(z, 0) + log1p(e^(-|z|)): the exponent is never positive.
double Softplus(double z) { return std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z))); }

}  // namespace

// Step 7: -[y log σ(z) + (1 - y) log(1 - σ(z))] = softplus(z) - y·z.
double BinaryCrossEntropyLoss(const MatrixDRef& logits, const MatrixDRef& targets) {
  RequireBinaryTargets("BinaryCrossEntropyLoss", logits, targets);
  double sum = 0.0;
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    for (Eigen::Index j = 0; j < logits.cols(); ++j) {
      sum += Softplus(logits(i, j)) - targets(i, j) * logits(i, j);
    }
  }
  return sum / static_cast<double>(logits.size());
}

// Step 7: ∂/∂z (softplus(z) - y·z) = σ(z) - y, averaged.
MatrixD BinaryCrossEntropyBackward(const MatrixDRef& logits, const MatrixDRef& targets) {
  RequireBinaryTargets("BinaryCrossEntropyBackward", logits, targets);
  MatrixD d = SigmoidForward(logits) - targets;
  d /= static_cast<double>(logits.size());
  return d;
}

// Step 8: ReLU.
MatrixD ReluForward(const MatrixDRef& inp) {
  RequireNonEmpty("ReluForward", "inp", inp);
  return inp.cwiseMax(0.0);
}

MatrixD ReluBackward(const MatrixDRef& dout, const MatrixDRef& inp) {
  RequireNonEmpty("ReluBackward", "inp", inp);
  RequireSameShape("ReluBackward", "dout", dout, "inp", inp);
  return (inp.array() > 0.0).select(dout.array(), 0.0).matrix();
}

namespace {
constexpr double kGeluCubic = 0.044715;
const double kSqrt2OverPi = std::sqrt(2.0 / 3.14159265358979323846);
}  // namespace

// Step 8: gelu(x) = 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³).
MatrixD GeluForward(const MatrixDRef& inp) {
  RequireNonEmpty("GeluForward", "inp", inp);
  return inp.unaryExpr([](double x) {
    const double u = kSqrt2OverPi * (x + kGeluCubic * x * x * x);
    return 0.5 * x * (1.0 + std::tanh(u));
  });
}

// gelu'(x) = 0.5·(1 + t) + 0.5·x·(1 - t²)·√(2/π)·(1 + 3·0.044715·x²), t = tanh(u).
MatrixD GeluBackward(const MatrixDRef& dout, const MatrixDRef& inp) {
  RequireNonEmpty("GeluBackward", "inp", inp);
  RequireSameShape("GeluBackward", "dout", dout, "inp", inp);
  const MatrixD local = inp.unaryExpr([](double x) {
    const double u = kSqrt2OverPi * (x + kGeluCubic * x * x * x);
    const double t = std::tanh(u);
    const double du = kSqrt2OverPi * (1.0 + 3.0 * kGeluCubic * x * x);
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du;
  });
  return dout.cwiseProduct(local);
}

// Step 8: the Jacobian p_i (δ_ij - p_j) applied to dout without building it.
MatrixD SoftmaxBackward(const MatrixDRef& dout, const MatrixDRef& out) {
  RequireNonEmpty("SoftmaxBackward", "out", out);
  RequireSameShape("SoftmaxBackward", "dout", dout, "out", out);
  MatrixD dinp(out.rows(), out.cols());
  for (Eigen::Index b = 0; b < out.rows(); ++b) {
    const double dot = dout.row(b).dot(out.row(b));
    dinp.row(b) = (out.row(b).array() * (dout.row(b).array() - dot)).matrix();
  }
  return dinp;
}

// Step 8: x̂ = (x - μ)·rstd, out = weight ⊙ x̂ + bias.
LayerNormOutput LayerNormForward(const MatrixDRef& inp, const MatrixDRef& weight,
                                 const MatrixDRef& bias, double eps) {
  RequireNonEmpty("LayerNormForward", "inp", inp);
  RequireShape("LayerNormForward", "weight", weight, 1, inp.cols(), "one scale per column");
  RequireShape("LayerNormForward", "bias", bias, 1, inp.cols(), "one shift per column");
  Require(std::isfinite(eps) && eps > 0.0, "LayerNormForward",
          fmt::format("eps must be finite and > 0, got {}", eps));
  const double width = static_cast<double>(inp.cols());
  LayerNormOutput r;
  r.out.resize(inp.rows(), inp.cols());
  r.mean.resize(inp.rows(), 1);
  r.rstd.resize(inp.rows(), 1);
  for (Eigen::Index b = 0; b < inp.rows(); ++b) {
    const double mu = inp.row(b).sum() / width;
    const double var = (inp.row(b).array() - mu).square().sum() / width;
    const double rstd = 1.0 / std::sqrt(var + eps);
    r.mean(b, 0) = mu;
    r.rstd(b, 0) = rstd;
    r.out.row(b) =
        (((inp.row(b).array() - mu) * rstd) * weight.row(0).array() + bias.row(0).array()).matrix();
  }
  return r;
}

// dx̂ = dout ⊙ weight; dinp = rstd·(dx̂ - mean(dx̂) - x̂·mean(dx̂ ⊙ x̂)).
LayerNormGrads LayerNormBackward(const MatrixDRef& dout, const MatrixDRef& inp,
                                 const MatrixDRef& weight, const MatrixDRef& mean,
                                 const MatrixDRef& rstd) {
  RequireNonEmpty("LayerNormBackward", "inp", inp);
  RequireSameShape("LayerNormBackward", "dout", dout, "inp", inp);
  RequireShape("LayerNormBackward", "weight", weight, 1, inp.cols(), "one scale per column");
  RequireShape("LayerNormBackward", "mean", mean, inp.rows(), 1, "one mean per row of inp");
  RequireShape("LayerNormBackward", "rstd", rstd, inp.rows(), 1, "one rstd per row of inp");
  LayerNormGrads g;
  g.dinp.resize(inp.rows(), inp.cols());
  g.dweight = MatrixD::Zero(1, inp.cols());
  g.dbias = dout.colwise().sum();
  for (Eigen::Index b = 0; b < inp.rows(); ++b) {
    const Eigen::ArrayXd xhat = ((inp.row(b).array() - mean(b, 0)) * rstd(b, 0)).transpose();
    const Eigen::ArrayXd dxhat = (dout.row(b).array() * weight.row(0).array()).transpose();
    g.dweight.row(0).array() += (dout.row(b).array().transpose() * xhat).transpose();
    const double mean_dxhat = dxhat.mean();
    const double mean_dxhat_xhat = (dxhat * xhat).mean();
    g.dinp.row(b) =
        (rstd(b, 0) * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat)).transpose().matrix();
  }
  return g;
}

// Step 9: plain full-batch gradient descent.
std::vector<double> Train(const MatrixDRef& x, const std::vector<int>& targets,
                          double learning_rate, int steps, Mlp* net) {
  Require(net != nullptr, "Train", "net is null; pass the network to train");
  Require(steps >= 0, "Train", fmt::format("steps must be >= 0, got {}", steps));
  RequireLearningRate("Train", learning_rate);
  std::vector<double> losses;
  losses.reserve(static_cast<size_t>(steps) + 1);
  for (int s = 0; s <= steps; ++s) {
    const MlpActivations acts = MlpForward(*net, x);
    losses.push_back(CrossEntropyLoss(acts.logits, targets));
    if (s == steps) break;
    *net = SgdStep(*net, MlpBackward(*net, x, acts, targets), learning_rate);
  }
  return losses;
}

}  // namespace llmk::backprop
