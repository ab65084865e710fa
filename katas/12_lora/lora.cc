// Your implementation of lora.h. Replace each `throw llmk::NotImplemented(...)` with the
// step's code; README.md derives every step, HINTS.md helps when stuck.
// Run `./kata test 12` after each change.
//
// Validate inputs first: a shape that does not fit or a rank out of range throws
// llmk::InvalidArgument naming the argument and the shapes (llmk::RequireShape and
// llmk::Require in llmk/core.h build such messages for you); a merge of a merged layer
// returns absl::FailedPreconditionError and changes nothing.
#include "lora.h"

namespace llmk::lora {

// Step 1: D_in·D_out.
std::int64_t FullParams(std::int64_t d_in, std::int64_t d_out) {
  throw NotImplemented("FullParams");
}

// Step 1: r·(D_in + D_out).
std::int64_t LoraParams(std::int64_t d_in, std::int64_t d_out, std::int64_t rank) {
  throw NotImplemented("LoraParams");
}

// Step 1: 4 bytes per weight; 4 + 8 more per trainable one.
TrainingMemory MemoryFor(std::int64_t frozen, std::int64_t trainable) {
  throw NotImplemented("MemoryFor");
}

// Steps 2 and 6: α / r, or α / √r.
float Scale(float alpha, int rank, ScaleRule rule) { throw NotImplemented("Scale"); }

// Step 2: x·W₀ + s·(x·A)·B, in that order of products.
Matrix LoraForward(const MatrixRef& x, const MatrixRef& w0, const Adapter& adapter,
                   ForwardTrace* trace) {
  throw NotImplemented("LoraForward");
}

// Step 3: A from llmk::Rng(seed), scaled by 1/√D_in; B = 0.
Adapter InitAdapter(int d_in, int d_out, int rank, float alpha, std::uint64_t seed) {
  throw NotImplemented("InitAdapter");
}

// Step 4: dB, dA and dx by the chain rule; nothing for W₀.
AdapterGrads LoraBackward(const MatrixRef& x, const MatrixRef& w0, const Adapter& adapter,
                          const MatrixRef& dh) {
  throw NotImplemented("LoraBackward");
}

// Step 5: ½ · mean of the squared error.
float RegressionLoss(const RegressionTask& task, const Adapter& adapter) {
  throw NotImplemented("RegressionLoss");
}

// Step 5: gradient descent on A and B, the loss recorded before each step and at the end.
std::vector<float> TrainAdapter(const RegressionTask& task, float lr, int steps, Adapter* adapter) {
  throw NotImplemented("TrainAdapter");
}

// Step 6: W + s·A·B, once.
absl::Status Merge(LoraLinear* layer) { throw NotImplemented("Merge"); }

// Step 6: W − s·A·B, once.
absl::Status Unmerge(LoraLinear* layer) { throw NotImplemented("Unmerge"); }

// Step 6: the same h merged or not.
Matrix Forward(const LoraLinear& layer, const MatrixRef& x) { throw NotImplemented("Forward"); }

// Step 7: the [D_in, D_out] of a target weight.
std::pair<int, int> TargetShape(const BlockShapes& shapes, Target target) {
  throw NotImplemented("TargetShape");
}

// Step 7: the sum of r·(D_in + D_out) over the targets.
std::int64_t BlockAdapterParams(const BlockShapes& shapes, const std::vector<Target>& targets,
                                int rank) {
  throw NotImplemented("BlockAdapterParams");
}

// Step 7: one base weight, adapters by name.
AdapterBank::AdapterBank(Matrix w0) { throw NotImplemented("AdapterBank"); }

absl::Status AdapterBank::Add(const std::string& name, Adapter adapter) {
  throw NotImplemented("AdapterBank::Add");
}

absl::Status AdapterBank::Remove(std::string_view name) {
  throw NotImplemented("AdapterBank::Remove");
}

absl::StatusOr<Matrix> AdapterBank::Forward(const MatrixRef& x, std::string_view name) const {
  throw NotImplemented("AdapterBank::Forward");
}

}  // namespace llmk::lora
