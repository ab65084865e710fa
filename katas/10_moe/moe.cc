// Your implementation of moe.h. Replace each `throw llmk::NotImplemented(...)` with the
// step's code; README.md derives every step, HINTS.md helps when stuck.
// Run `./kata test 10` after each change.
//
// Validate inputs first: a shape that does not fit, a top_k outside [1, E], a capacity
// factor that is not positive, throw llmk::InvalidArgument naming the argument
// (llmk::RequireShape and llmk::Require in llmk/core.h build such messages for you).
#include "moe.h"

namespace llmk::moe {

// Step 1: x · w_router.
Matrix RouterLogits(const MatrixRef& x, const MatrixRef& w_router) {
  throw NotImplemented("RouterLogits");
}

// Step 1: row softmax; subtract each row's max before exp.
Matrix RouterProbs(const MatrixRef& logits) {
  throw NotImplemented("RouterProbs");
}

// Step 2: the top_k largest of each row, best first, ties to the lower index; then
// divide their probabilities by their sum.
Routing TopKGates(const MatrixRef& probs, int top_k) {
  throw NotImplemented("TopKGates");
}

// Step 3: ⌈capacity_factor · T · K / E⌉.
int ExpertCapacity(int num_tokens, int num_experts, int top_k, double capacity_factor) {
  throw NotImplemented("ExpertCapacity");
}

// Step 4: first choices of all tokens, then second choices, ...; a full expert drops.
DispatchPlan PlanDispatch(const IndexMatrix& experts, int num_experts, int capacity) {
  throw NotImplemented("PlanDispatch");
}

// Step 4: copy each expert's tokens into one batch.
std::vector<Matrix> GatherTokens(const MatrixRef& x, const DispatchPlan& plan) {
  throw NotImplemented("GatherTokens");
}

// Step 5: max(0, x·w1)·w2.
Matrix ExpertFfn(const MatrixRef& x, const Expert& expert) {
  throw NotImplemented("ExpertFfn");
}

// Step 5: gate-weighted sum of each token's surviving experts.
Matrix Combine(const std::vector<Matrix>& expert_outputs, const Routing& routing,
               const DispatchPlan& plan) {
  throw NotImplemented("Combine");
}

// Step 6: alpha · E · Σ_i f_i · P_i.
BalanceLoss LoadBalancingLoss(const MatrixRef& probs, const IndexMatrix& experts, double alpha) {
  throw NotImplemented("LoadBalancingLoss");
}

// Step 7: x + shared experts + routed experts, from the functions above.
Matrix MoeLayer(const MatrixRef& x, const MoeWeights& weights, const MoeConfig& config,
                MoeTrace* trace) {
  throw NotImplemented("MoeLayer");
}

// Step 8: count the products of the sparse layer and of the dense FFN.
FlopCount MoeFlopsPerToken(int d_model, int d_ff, int num_experts, int top_k, int num_shared,
                           int matrices_per_expert) {
  throw NotImplemented("MoeFlopsPerToken");
}

}  // namespace llmk::moe
