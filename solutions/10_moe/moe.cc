// Solution of kata 10: mixture of experts. Each function validates its arguments, then
// follows the README step it names.
#include <algorithm>
#include <climits>
#include <cmath>
#include <numeric>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "moe.h"

namespace llmk::moe {
namespace {

void RequireNonEmpty(std::string_view where, std::string_view name, Eigen::Index rows,
                     Eigen::Index cols) {
  Require(rows >= 1 && cols >= 1, where,
          fmt::format("{} must have at least one row and one column, got {}", name,
                      ShapeString(rows, cols)));
}

void RequireTopK(std::string_view where, int top_k, Eigen::Index num_experts) {
  Require(top_k >= 1 && top_k <= num_experts, where,
          fmt::format("top_k = {} must be in [1, E = {}]", top_k, num_experts));
}

// Every entry of experts [T, K] in [0, E), no expert twice in one row.
void RequireExpertIndices(std::string_view where, const IndexMatrix& experts,
                          Eigen::Index num_experts) {
  for (Eigen::Index t = 0; t < experts.rows(); ++t) {
    for (Eigen::Index j = 0; j < experts.cols(); ++j) {
      const int e = experts(t, j);
      Require(e >= 0 && e < num_experts, where,
              fmt::format("experts({}, {}) = {} is outside [0, E = {})", t, j, e, num_experts));
      for (Eigen::Index l = 0; l < j; ++l) {
        Require(experts(t, l) != e, where,
                fmt::format("experts row {} names expert {} twice", t, e));
      }
    }
  }
}

// w1 [D, F] and w2 [F, D], F >= 1.
void RequireExpertShapes(std::string_view where, std::string_view name, const Expert& expert,
                         Eigen::Index model_dim) {
  RequireShape(where, fmt::format("{}w1", name), expert.w1, model_dim, -1,
               fmt::format("rows must equal the model width D = {}", model_dim));
  Require(expert.w1.cols() >= 1, where,
          fmt::format("{}w1 has no columns ({}); an expert needs F >= 1", name,
                      ShapeOf(expert.w1)));
  RequireShape(where, fmt::format("{}w2", name), expert.w2, expert.w1.cols(), model_dim,
               fmt::format("[F, D] with F = {} (w1's columns) and D = {}", expert.w1.cols(),
                           model_dim));
}

}  // namespace

// Step 1: x [T, D] · w_router [D, E].
Matrix RouterLogits(const MatrixRef& x, const MatrixRef& w_router) {
  RequireNonEmpty("RouterLogits", "x", x.rows(), x.cols());
  RequireShape("RouterLogits", "w_router", w_router, x.cols(), -1,
               fmt::format("rows must equal x's columns; x is {}", ShapeOf(x)));
  Require(w_router.cols() >= 1, "RouterLogits",
          fmt::format("w_router has no columns ({}); there must be at least one expert",
                      ShapeOf(w_router)));
  Matrix logits(x.rows(), w_router.cols());
  logits.noalias() = x * w_router;
  return logits;
}

// Step 1: p(t, e) = exp(z(t, e) - m_t) / Σ_e' exp(z(t, e') - m_t), m_t the row max.
Matrix RouterProbs(const MatrixRef& logits) {
  RequireNonEmpty("RouterProbs", "logits", logits.rows(), logits.cols());
  Matrix probs(logits.rows(), logits.cols());
  for (Eigen::Index t = 0; t < logits.rows(); ++t) {
    const float row_max = logits.row(t).maxCoeff();
    probs.row(t) = (logits.row(t).array() - row_max).exp().matrix();
    probs.row(t) /= probs.row(t).sum();
  }
  return probs;
}

// Step 2: order the experts by probability, descending, the lower index first on ties;
// keep K; divide their probabilities by their sum.
Routing TopKGates(const MatrixRef& probs, int top_k) {
  RequireNonEmpty("TopKGates", "probs", probs.rows(), probs.cols());
  RequireTopK("TopKGates", top_k, probs.cols());
  const Eigen::Index num_experts = probs.cols();
  Routing routing;
  routing.experts.resize(probs.rows(), top_k);
  routing.gates.resize(probs.rows(), top_k);
  std::vector<int> order(static_cast<size_t>(num_experts));
  for (Eigen::Index t = 0; t < probs.rows(); ++t) {
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + top_k, order.end(), [&](int a, int b) {
      return probs(t, a) > probs(t, b) || (probs(t, a) == probs(t, b) && a < b);
    });
    float kept = 0.0f;
    for (int j = 0; j < top_k; ++j) kept += probs(t, order[static_cast<size_t>(j)]);
    for (int j = 0; j < top_k; ++j) {
      const int e = order[static_cast<size_t>(j)];
      routing.experts(t, j) = e;
      routing.gates(t, j) = probs(t, e) / kept;
    }
  }
  return routing;
}

// Step 3: C = ⌈capacity_factor · T · K / E⌉.
int ExpertCapacity(int num_tokens, int num_experts, int top_k, double capacity_factor) {
  constexpr std::string_view kWhere = "ExpertCapacity";
  Require(num_tokens >= 1, kWhere,
          fmt::format("num_tokens = {} must be at least 1", num_tokens));
  Require(num_experts >= 1, kWhere,
          fmt::format("num_experts = {} must be at least 1", num_experts));
  RequireTopK(kWhere, top_k, num_experts);
  Require(std::isfinite(capacity_factor) && capacity_factor > 0.0, kWhere,
          fmt::format("capacity_factor = {} must be a finite number > 0", capacity_factor));
  const double slots = std::ceil(capacity_factor * num_tokens * top_k / num_experts);
  Require(slots <= static_cast<double>(INT_MAX), kWhere,
          fmt::format("capacity_factor = {} gives {} slots per expert, more than an int holds",
                      capacity_factor, slots));
  return static_cast<int>(slots);
}

// Step 4: priority order: choice rank first, then token index.
DispatchPlan PlanDispatch(const IndexMatrix& experts, int num_experts, int capacity) {
  constexpr std::string_view kWhere = "PlanDispatch";
  RequireNonEmpty(kWhere, "experts", experts.rows(), experts.cols());
  Require(num_experts >= 1, kWhere,
          fmt::format("num_experts = {} must be at least 1", num_experts));
  Require(capacity >= 1, kWhere, fmt::format("capacity = {} must be at least 1", capacity));
  RequireExpertIndices(kWhere, experts, num_experts);

  const Eigen::Index tokens = experts.rows();
  const Eigen::Index k = experts.cols();
  DispatchPlan plan;
  plan.capacity = capacity;
  plan.expert_tokens = IndexMatrix::Constant(num_experts, capacity, -1);
  plan.slots = IndexMatrix::Constant(tokens, k, -1);
  plan.mask = IndexMatrix::Zero(tokens, num_experts);
  std::vector<int> filled(static_cast<size_t>(num_experts), 0);
  for (Eigen::Index j = 0; j < k; ++j) {
    for (Eigen::Index t = 0; t < tokens; ++t) {
      const int e = experts(t, j);
      int& next = filled[static_cast<size_t>(e)];
      if (next == capacity) {
        ++plan.num_dropped;  // expert e is full: this choice is dropped
        continue;
      }
      plan.expert_tokens(e, next) = static_cast<int>(t);
      plan.slots(t, j) = next;
      plan.mask(t, e) = 1;
      ++next;
    }
  }
  return plan;
}

// Step 4: batch e = rows of x of the tokens in expert e's filled slots.
std::vector<Matrix> GatherTokens(const MatrixRef& x, const DispatchPlan& plan) {
  constexpr std::string_view kWhere = "GatherTokens";
  RequireShape(kWhere, "x", x, plan.slots.rows(), -1,
               fmt::format("one row per token of the plan, whose slots are {}",
                           ShapeOf(plan.slots)));
  Require(x.cols() >= 1, kWhere, fmt::format("x has no columns ({})", ShapeOf(x)));
  std::vector<Matrix> batches;
  batches.reserve(static_cast<size_t>(plan.expert_tokens.rows()));
  for (Eigen::Index e = 0; e < plan.expert_tokens.rows(); ++e) {
    Eigen::Index n = 0;
    while (n < plan.expert_tokens.cols() && plan.expert_tokens(e, n) >= 0) ++n;
    Matrix batch(n, x.cols());
    for (Eigen::Index s = 0; s < n; ++s) {
      const int t = plan.expert_tokens(e, s);
      Require(t < x.rows(), kWhere,
              fmt::format("plan.expert_tokens({}, {}) = {} is not a token of x ({})", e, s, t,
                          ShapeOf(x)));
      batch.row(s) = x.row(t);
    }
    batches.push_back(std::move(batch));
  }
  return batches;
}

// Step 5: max(0, x·w1)·w2.
Matrix ExpertFfn(const MatrixRef& x, const Expert& expert) {
  Require(x.cols() >= 1, "ExpertFfn", fmt::format("x has no columns ({})", ShapeOf(x)));
  RequireExpertShapes("ExpertFfn", "", expert, x.cols());
  const Matrix hidden = (x * expert.w1).cwiseMax(0.0f);
  Matrix out(x.rows(), x.cols());
  out.noalias() = hidden * expert.w2;
  return out;
}

// Step 5: routed(t) = Σ over surviving choices of gate · the expert's output row.
Matrix Combine(const std::vector<Matrix>& expert_outputs, const Routing& routing,
               const DispatchPlan& plan) {
  constexpr std::string_view kWhere = "Combine";
  const Eigen::Index num_experts = plan.expert_tokens.rows();
  Require(static_cast<Eigen::Index>(expert_outputs.size()) == num_experts, kWhere,
          fmt::format("expert_outputs holds {} matrices, the plan has E = {} experts",
                      expert_outputs.size(), num_experts));
  Require(num_experts >= 1, kWhere, "the plan has no experts");
  RequireNonEmpty(kWhere, "plan.slots", plan.slots.rows(), plan.slots.cols());
  RequireShape(kWhere, "routing.experts", routing.experts.rows(), routing.experts.cols(),
               plan.slots.rows(), plan.slots.cols(), "the shape of plan.slots [T, K]");
  RequireShape(kWhere, "routing.gates", routing.gates, plan.slots.rows(), plan.slots.cols(),
               "the shape of plan.slots [T, K]");
  const Eigen::Index model_dim = expert_outputs[0].cols();
  Require(model_dim >= 1, kWhere,
          fmt::format("expert_outputs[0] has no columns ({})", ShapeOf(expert_outputs[0])));
  for (Eigen::Index e = 0; e < num_experts; ++e) {
    Eigen::Index n = 0;
    while (n < plan.expert_tokens.cols() && plan.expert_tokens(e, n) >= 0) ++n;
    RequireShape(kWhere, fmt::format("expert_outputs[{}]", e),
                 expert_outputs[static_cast<size_t>(e)], n, model_dim,
                 fmt::format("one row per filled slot of expert {}", e));
  }
  Matrix routed = Matrix::Zero(plan.slots.rows(), model_dim);
  for (Eigen::Index t = 0; t < plan.slots.rows(); ++t) {
    for (Eigen::Index j = 0; j < plan.slots.cols(); ++j) {
      const int slot = plan.slots(t, j);
      if (slot < 0) continue;  // dropped: contributes nothing
      const int e = routing.experts(t, j);
      Require(e >= 0 && e < num_experts, kWhere,
              fmt::format("routing.experts({}, {}) = {} is outside [0, E = {})", t, j, e,
                          num_experts));
      const Matrix& out = expert_outputs[static_cast<size_t>(e)];
      Require(slot < out.rows(), kWhere,
              fmt::format("plan.slots({}, {}) = {} but expert {} has {} rows", t, j, slot, e,
                          out.rows()));
      routed.row(t) += routing.gates(t, j) * out.row(slot);
    }
  }
  return routed;
}

// Step 6: f_i = choices of i / (T·K), P_i = mean probability of i, loss = α·E·Σ f_i·P_i.
BalanceLoss LoadBalancingLoss(const MatrixRef& probs, const IndexMatrix& experts, double alpha) {
  constexpr std::string_view kWhere = "LoadBalancingLoss";
  RequireNonEmpty(kWhere, "probs", probs.rows(), probs.cols());
  RequireShape(kWhere, "experts", experts.rows(), experts.cols(), probs.rows(), -1,
               fmt::format("one row per token of probs, which is {}", ShapeOf(probs)));
  Require(experts.cols() >= 1, kWhere,
          fmt::format("experts has no columns ({}); K must be at least 1",
                      ShapeString(experts.rows(), experts.cols())));
  RequireExpertIndices(kWhere, experts, probs.cols());
  Require(alpha >= 0.0 && std::isfinite(alpha), kWhere,
          fmt::format("alpha = {} must be a finite number >= 0", alpha));

  const Eigen::Index num_experts = probs.cols();
  const double tokens = static_cast<double>(probs.rows());
  const double choices = tokens * static_cast<double>(experts.cols());
  BalanceLoss out;
  out.fractions = Matrix::Zero(1, num_experts);
  for (Eigen::Index t = 0; t < experts.rows(); ++t) {
    for (Eigen::Index j = 0; j < experts.cols(); ++j) out.fractions(0, experts(t, j)) += 1.0f;
  }
  out.fractions /= static_cast<float>(choices);
  out.mean_probs = probs.colwise().sum() / static_cast<float>(tokens);
  double dot = 0.0;
  for (Eigen::Index i = 0; i < num_experts; ++i) {
    dot += static_cast<double>(out.fractions(0, i)) * static_cast<double>(out.mean_probs(0, i));
  }
  out.loss = alpha * static_cast<double>(num_experts) * dot;
  return out;
}

// Step 7: route, dispatch, run, combine, add the shared experts and the residual.
Matrix MoeLayer(const MatrixRef& x, const MoeWeights& weights, const MoeConfig& config,
                MoeTrace* trace) {
  constexpr std::string_view kWhere = "MoeLayer";
  RequireNonEmpty(kWhere, "x", x.rows(), x.cols());
  const Eigen::Index model_dim = x.cols();
  const auto num_experts = static_cast<Eigen::Index>(weights.experts.size());
  Require(num_experts >= 1, kWhere, "experts is empty; need at least one routed expert");
  RequireShape(kWhere, "router", weights.router, model_dim, num_experts,
               fmt::format("[D, E] with D = {} (x's columns) and E = {} (experts.size())",
                           model_dim, num_experts));
  for (Eigen::Index e = 0; e < num_experts; ++e) {
    RequireExpertShapes(kWhere, fmt::format("experts[{}].", e),
                        weights.experts[static_cast<size_t>(e)], model_dim);
  }
  for (size_t s = 0; s < weights.shared.size(); ++s) {
    RequireExpertShapes(kWhere, fmt::format("shared[{}].", s), weights.shared[s], model_dim);
  }
  RequireTopK(kWhere, config.top_k, num_experts);
  Require(std::isfinite(config.capacity_factor) && config.capacity_factor > 0.0, kWhere,
          fmt::format("capacity_factor = {} must be a finite number > 0",
                      config.capacity_factor));
  Require(std::isfinite(config.alpha) && config.alpha >= 0.0, kWhere,
          fmt::format("alpha = {} must be a finite number >= 0", config.alpha));

  MoeTrace local;
  MoeTrace& tr = trace != nullptr ? *trace : local;
  tr.logits = RouterLogits(x, weights.router);  // step 1
  tr.probs = RouterProbs(tr.logits);
  tr.routing = TopKGates(tr.probs, config.top_k);  // step 2
  const int capacity = ExpertCapacity(static_cast<int>(x.rows()), static_cast<int>(num_experts),
                                      config.top_k, config.capacity_factor);  // step 3
  tr.plan = PlanDispatch(tr.routing.experts, static_cast<int>(num_experts), capacity);  // step 4
  tr.expert_inputs = GatherTokens(x, tr.plan);
  tr.expert_outputs.clear();
  for (Eigen::Index e = 0; e < num_experts; ++e) {  // step 5
    tr.expert_outputs.push_back(ExpertFfn(tr.expert_inputs[static_cast<size_t>(e)],
                                          weights.experts[static_cast<size_t>(e)]));
  }
  tr.routed = Combine(tr.expert_outputs, tr.routing, tr.plan);
  tr.shared = Matrix::Zero(x.rows(), model_dim);  // step 7: every token, every shared expert
  for (const Expert& expert : weights.shared) tr.shared += ExpertFfn(x, expert);
  tr.balance = LoadBalancingLoss(tr.probs, tr.routing.experts, config.alpha);  // step 6
  Matrix y = x + tr.shared + tr.routed;
  return y;
}

// Step 8: 2 FLOPs per multiply-add, one multiply-add per weight per token.
FlopCount MoeFlopsPerToken(int d_model, int d_ff, int num_experts, int top_k, int num_shared,
                           int matrices_per_expert) {
  constexpr std::string_view kWhere = "MoeFlopsPerToken";
  Require(d_model >= 1, kWhere, fmt::format("d_model = {} must be at least 1", d_model));
  Require(d_ff >= 1, kWhere, fmt::format("d_ff = {} must be at least 1", d_ff));
  Require(num_experts >= 1, kWhere,
          fmt::format("num_experts = {} must be at least 1", num_experts));
  RequireTopK(kWhere, top_k, num_experts);
  Require(num_shared >= 0, kWhere,
          fmt::format("num_shared = {} must not be negative", num_shared));
  Require(matrices_per_expert >= 1, kWhere,
          fmt::format("matrices_per_expert = {} must be at least 1", matrices_per_expert));
  const std::int64_t d = d_model;
  const std::int64_t per_expert = static_cast<std::int64_t>(matrices_per_expert) * d * d_ff;
  FlopCount count;
  count.router_flops = 2 * d * num_experts;
  count.active_params = (static_cast<std::int64_t>(top_k) + num_shared) * per_expert;
  count.total_params = (static_cast<std::int64_t>(num_experts) + num_shared) * per_expert;
  count.expert_flops = 2 * count.active_params;
  count.sparse_flops = count.router_flops + count.expert_flops;
  count.dense_flops = 2 * count.total_params;
  return count;
}

}  // namespace llmk::moe
