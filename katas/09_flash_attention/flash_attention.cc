// Your implementation of flash_attention.h. Replace each `throw llmk::NotImplemented(...)`
// with the step's code; README.md derives every step, HINTS.md helps when stuck.
// Run `./kata test 09` after each change.
//
// Validate inputs first: a shape that does not fit throws llmk::InvalidArgument
// naming the argument and the shapes (llmk::RequireShape and llmk::Require in
// llmk/core.h build such messages for you).
//
// Your kernel is scalar: treat Backend::kAuto and Backend::kAvx2 as kScalar. The
// solution's AVX2 kernel (solutions/09_flash_attention/) is there to read afterwards.
#include "flash_attention.h"

namespace llmk::flash {

// Step 1: m' = max(m, max s), rescale l and õ by exp(m - m'), add the block's terms.
SoftmaxState OnlineSoftmaxUpdate(const SoftmaxState& state, const MatrixRef& scores,
                                 const MatrixRef& values) {
  throw NotImplemented("OnlineSoftmaxUpdate");
}

// Step 1: õ / l (zeros when l = 0).
Matrix OnlineSoftmaxOutput(const SoftmaxState& state) {
  throw NotImplemented("OnlineSoftmaxOutput");
}

// Step 2: bring both states to the larger max, then add.
SoftmaxState MergeSoftmaxStates(const SoftmaxState& a, const SoftmaxState& b) {
  throw NotImplemented("MergeSoftmaxStates");
}

// Step 3: the floats of scratch FlashForward needs (a score tile, m and l per row, ...).
std::size_t ForwardWorkspaceSize(int num_queries, int num_keys, int head_dim,
                                 const FlashOptions& options) {
  throw NotImplemented("ForwardWorkspaceSize");
}

// Steps 3 to 5: tiles of Br queries × Bc keys, running max and sum per row, deferred
// normalization, logsumexp, causal skipping and masking.
FlashOutput FlashForward(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v,
                         const FlashOptions& options, std::span<float> workspace) {
  throw NotImplemented("FlashForward");
}

// Step 6: D = rowsum(dO ∘ O) per head.
Matrix BackwardRowSums(const MatrixRef& out, const MatrixRef& dout, int num_heads) {
  throw NotImplemented("BackwardRowSums");
}

// Step 6: the floats of scratch FlashBackward needs.
std::size_t BackwardWorkspaceSize(int num_queries, int num_keys, int head_dim,
                                  const FlashOptions& options) {
  throw NotImplemented("BackwardWorkspaceSize");
}

// Step 6: recompute P = exp(S - L) tile by tile; accumulate dV, dK and dQ.
FlashGradients FlashBackward(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v,
                             const MatrixRef& out, const MatrixRef& lse,
                             const MatrixRef& dout, const FlashOptions& options,
                             std::span<float> workspace) {
  throw NotImplemented("FlashBackward");
}

}  // namespace llmk::flash
