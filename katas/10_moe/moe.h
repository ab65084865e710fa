// Kata 10: mixture of experts, from the router to the FLOPs of a sparse layer.
//
// The API of the kata. The stubs (katas/10_moe/moe.cc) and the solution
// (solutions/10_moe/moe.cc) implement this same header; the tests build against both.
// Read README.md beside this file for the derivation of every step.
//
//   llmk::Matrix logits = moe::RouterLogits(x, w.router);               // step 1
//   llmk::Matrix probs = moe::RouterProbs(logits);                      // step 1
//   moe::Routing r = moe::TopKGates(probs, 2);                          // step 2
//   int c = moe::ExpertCapacity(T, E, 2, 1.25);                         // step 3
//   moe::DispatchPlan plan = moe::PlanDispatch(r.experts, E, c);        // step 4
//   std::vector<llmk::Matrix> batches = moe::GatherTokens(x, plan);     // step 4
//   outputs[e] = moe::ExpertFfn(batches[e], w.experts[e]);              // step 5
//   llmk::Matrix routed = moe::Combine(outputs, r, plan);               // step 5
//   moe::BalanceLoss aux = moe::LoadBalancingLoss(probs, r.experts, 0.01);  // step 6
//   llmk::Matrix y = moe::MoeLayer(x, w, {.top_k = 2}, &trace);         // step 7
//   moe::FlopCount f = moe::MoeFlopsPerToken(D, F, E, 2, 0, 2);         // step 8
//
// T = tokens, D = model width, F = hidden width of one expert, E = routed experts,
// K = experts per token (top-k), C = capacity (slots per expert), S = shared experts.
//
// The rules this kata fixes (README.md derives each one):
//   - Experts are ReLU FFNs: expert(x) = max(0, x·w1)·w2, no biases.
//   - Ties in top-k go to the lower expert index.
//   - Gates are the selected probabilities renormalized to sum to 1 per token, for every
//     K (so with K = 1 every gate is 1). A choice dropped for capacity keeps its gate out
//     of the sum; the surviving gates are not renormalized again.
//   - C = ⌈capacity_factor · T · K / E⌉, evaluated in double as written.
//   - Slots are handed out in priority order: all first choices in token order, then all
//     second choices in token order, and so on; a choice whose expert is full is dropped.
//   - The layer includes its residual: y = x + Σ shared(x) + Σ gate · expert(x), so a
//     token whose every choice was dropped leaves the layer as x + Σ shared(x).
//
// Errors: a shape that does not fit, K outside [1, E], a capacity factor that is not a
// positive finite number, an expert index outside [0, E), throw llmk::InvalidArgument
// whose message names the argument, what was expected and what was given.
#pragma once

#include <cstdint>
#include <vector>

#include "llmk/core.h"

namespace llmk::moe {

// Integer matrices (expert indices, slots, 0/1 masks), row-major like llmk::Matrix.
using IndexMatrix = Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// One expert: a two-layer ReLU FFN, expert(x) = max(0, x·w1)·w2.
struct Expert {
  Matrix w1;  // [D, F]
  Matrix w2;  // [F, D]
};

// Step 1. The router's score of every expert for every token: x · w_router.
//   x [T, D], w_router [D, E] -> [T, E]. T, D, E >= 1.
Matrix RouterLogits(const MatrixRef& x, const MatrixRef& w_router);

// Step 1. Row-wise softmax of the logits: row t is token t's probability of each expert.
// Numerically stable: finite for logits of any finite size.
//   logits [T, E] -> [T, E]. T, E >= 1.
Matrix RouterProbs(const MatrixRef& logits);

// The router's decision for every token.
struct Routing {
  IndexMatrix experts;  // [T, K]: chosen experts, best first; ties to the lower index
  Matrix gates;         // [T, K]: gates(t, j) = probs(t, experts(t, j)) / Σ_l probs(t, experts(t, l))
};

// Step 2. Picks the top_k most probable experts of every token (best first; equal
// probabilities go to the lower expert index) and renormalizes their probabilities
// into gates that sum to 1 per token.
//   probs [T, E] -> Routing{experts [T, K], gates [T, K]}. T, E >= 1; 1 <= top_k <= E.
Routing TopKGates(const MatrixRef& probs, int top_k);

// Step 3. Slots per expert: C = ⌈capacity_factor · T · K / E⌉, computed in double as
// (capacity_factor · T · K) / E. C >= 1 whenever the arguments are valid.
//   T = num_tokens >= 1, E = num_experts >= 1, 1 <= top_k <= E, capacity_factor a finite
//   number > 0 (a result above INT_MAX is rejected too).
int ExpertCapacity(int num_tokens, int num_experts, int top_k, double capacity_factor);

// Where every (token, choice) goes.
struct DispatchPlan {
  int capacity = 0;           // C
  IndexMatrix expert_tokens;  // [E, C]: the token in slot s of expert e, -1 if empty;
                              // the filled slots of a row come first
  IndexMatrix slots;          // [T, K]: the slot of choice j of token t in the batch of
                              // expert experts(t, j), -1 if that choice was dropped
  IndexMatrix mask;           // [T, E]: 1 if expert e processes token t, else 0
  int num_dropped = 0;        // number of (token, choice) pairs dropped
};

// Step 4. Assigns slots in priority order: for j = 0..K-1, for t = 0..T-1, choice j of
// token t takes the next free slot of expert experts(t, j), or is dropped if all C
// slots are taken. No choice is ever dropped when capacity >= T.
//   experts [T, K] (entries in [0, num_experts), no expert twice in a row),
//   num_experts = E >= 1, capacity = C >= 1.
DispatchPlan PlanDispatch(const IndexMatrix& experts, int num_experts, int capacity);

// Step 4. The batch of every expert: entry e holds the rows of x of the tokens in the
// filled slots of expert e, in slot order, [n_e, D] (n_e may be 0).
//   x [T, D] with T = plan.slots.rows() -> E matrices.
std::vector<Matrix> GatherTokens(const MatrixRef& x, const DispatchPlan& plan);

// Step 5. Runs one expert on a batch of tokens: max(0, x·w1)·w2.
//   x [n, D] (n >= 0), expert.w1 [D, F], expert.w2 [F, D] -> [n, D]. D, F >= 1.
Matrix ExpertFfn(const MatrixRef& x, const Expert& expert);

// Step 5. Scatters the experts' outputs back to their tokens, weighted by the gates:
//   routed(t, :) = Σ_j gates(t, j) · expert_outputs[experts(t, j)](slots(t, j), :)
// over the choices j that were not dropped (slots(t, j) >= 0). A token whose every
// choice was dropped gets a row of zeros.
//   expert_outputs: E matrices [n_e, D] (n_e = filled slots of expert e);
//   routing.experts, routing.gates, plan.slots [T, K] -> [T, D].
Matrix Combine(const std::vector<Matrix>& expert_outputs, const Routing& routing,
               const DispatchPlan& plan);

// The Switch Transformer's auxiliary loss and the two vectors it is made of.
struct BalanceLoss {
  Matrix fractions;   // [1, E]: f_i = (choices of expert i) / (T · K), before capacity
  Matrix mean_probs;  // [1, E]: P_i = (1/T) Σ_t probs(t, i)
  double loss = 0.0;  // alpha · E · Σ_i f_i · P_i
};

// Step 6. The load-balancing loss of one batch's routing: alpha · E · Σ_i f_i · P_i.
// Equals alpha when the choices are spread evenly (every f_i = 1/E, whatever P), never
// exceeds alpha · E / K, and approaches that bound as the routing collapses onto K
// experts (alpha · E for Switch's K = 1).
//   probs [T, E], experts [T, K] (entries in [0, E)), alpha >= 0.
BalanceLoss LoadBalancingLoss(const MatrixRef& probs, const IndexMatrix& experts, double alpha);

// The weights of a mixture-of-experts layer.
struct MoeWeights {
  Matrix router;                // [D, E]
  std::vector<Expert> experts;  // E routed experts, each w1 [D, F_e], w2 [F_e, D]
  std::vector<Expert> shared;   // S >= 0 shared experts that every token passes through
};

struct MoeConfig {
  int top_k = 2;                 // K, 1 <= K <= E
  double capacity_factor = 1.0;  // > 0; any value >= E / K never drops a choice
  double alpha = 0.01;           // weight of the load-balancing loss, >= 0
};

// What MoeLayer computed on the way, for the tests to check step by step.
struct MoeTrace {
  Matrix logits;                       // [T, E]
  Matrix probs;                        // [T, E]
  Routing routing;                     // experts, gates [T, K]
  DispatchPlan plan;                   // capacity, expert_tokens, slots, mask, num_dropped
  std::vector<Matrix> expert_inputs;   // E batches [n_e, D]
  std::vector<Matrix> expert_outputs;  // E batches [n_e, D]
  Matrix routed;                       // [T, D]: Combine of the expert outputs
  Matrix shared;                       // [T, D]: Σ over the shared experts, zeros if S = 0
  BalanceLoss balance;                 // the auxiliary loss of this batch, with config.alpha
};

// Step 7. The whole layer, residual included:
//   y = x + Σ_s ExpertFfn(x, shared[s]) + Combine(experts on their dispatched batches)
// with the routing of steps 1 and 2, the capacity of step 3 and the dispatch of step 4.
// If trace is not null, it is filled in.
//   x [T, D] -> [T, D]. T, D >= 1; router [D, E] with E = experts.size() >= 1.
Matrix MoeLayer(const MatrixRef& x, const MoeWeights& weights, const MoeConfig& config,
                MoeTrace* trace = nullptr);

// Per-token cost of a sparse layer and of the dense FFN with the same expert parameters.
// A multiply-add counts as 2 FLOPs; only the matrix products are counted.
struct FlopCount {
  std::int64_t router_flops;   // 2 · D · E
  std::int64_t expert_flops;   // 2 · (K + S) · m · D · F: the experts one token runs
  std::int64_t sparse_flops;   // router_flops + expert_flops
  std::int64_t dense_flops;    // 2 · (E + S) · m · D · F: one FFN of width (E + S) · F
  std::int64_t total_params;   // (E + S) · m · D · F expert weights (= the dense FFN's)
  std::int64_t active_params;  // (K + S) · m · D · F expert weights one token uses
};

// Step 8. Counts the cost per token of an MoE layer of E experts (top_k active) and S
// shared experts, each with m weight matrices of D · F entries (m = 2 for this kata's
// ReLU FFN, 3 for SwiGLU), and of the dense FFN holding the same expert parameters.
//   D, F, E >= 1; 1 <= top_k <= E; num_shared >= 0; matrices_per_expert >= 1.
FlopCount MoeFlopsPerToken(int d_model, int d_ff, int num_experts, int top_k, int num_shared,
                           int matrices_per_expert);

}  // namespace llmk::moe
