// Your implementation of optimizers.h. Replace each `throw llmk::NotImplemented(...)`
// with the step's code; README.md derives every step, HINTS.md helps when stuck.
// Run `./kata test 14` after each change.
//
// Validate inputs first, before changing anything: a gradient or state of the wrong
// shape, a non-finite gradient entry or a hyperparameter out of range throws
// llmk::InvalidArgument naming the argument and what was wrong (llmk::RequireShape and
// llmk::Require in llmk/core.h build such messages for you).
#include "optimizers.h"

namespace llmk::optim {

// Step 1: θ ← θ − lr·g.
void GdStep(float lr, const MatrixRef& grad, Matrix* param) { throw NotImplemented("GdStep"); }

// Step 1: 2 / λ_max of a symmetric Hessian.
double CriticalLearningRate(const MatrixRef& hessian) {
  throw NotImplemented("CriticalLearningRate");
}

// Step 2: v ← β·v + g, then a step along v (or g + β·v for Nesterov).
void MomentumStep(const MomentumConfig& config, const MatrixRef& grad, MomentumState* state,
                  Matrix* param) {
  throw NotImplemented("MomentumStep");
}

// Steps 3 and 4: the two moments, their bias correction, the step; weight decay as
// config.decay says.
void AdamStep(const AdamConfig& config, const MatrixRef& grad, AdamState* state, Matrix* param) {
  throw NotImplemented("AdamStep");
}

// Step 5: linear warmup, then cosine decay to min_lr.
float LearningRateAt(const ScheduleConfig& config, int step) {
  throw NotImplemented("LearningRateAt");
}

// Step 6: one norm over every tensor; scale all of them if it is above max_norm.
float ClipByGlobalNorm(float max_norm, std::vector<Matrix>* grads) {
  throw NotImplemented("ClipByGlobalNorm");
}

// Step 7: normalize by the Frobenius norm, then the quintic iteration on the wide side.
Matrix NewtonSchulz(const MatrixRef& g, int steps) { throw NotImplemented("NewtonSchulz"); }

// Step 7: √max(1, D_out / D_in).
float MuonScale(int rows, int cols) { throw NotImplemented("MuonScale"); }

// Step 7: momentum, then the orthogonalized, scaled step.
void MuonStep(const MuonConfig& config, const MatrixRef& grad, MuonState* state, Matrix* param) {
  throw NotImplemented("MuonStep");
}

// Step 7: Muon for hidden matrices, AdamW for the rest.
OptimizerKind OptimizerFor(ParamKind kind, int rows, int cols) {
  throw NotImplemented("OptimizerFor");
}

// Step 8: train both weights of the task with `kind`, recording the loss.
std::vector<float> Race(OptimizerKind kind, const RaceTask& task, const RaceSettings& settings) {
  throw NotImplemented("Race");
}

}  // namespace llmk::optim
