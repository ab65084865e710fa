// Kata 14: optimizers, from gradient descent to AdamW to Muon.
//
// The API of the kata. The stubs (katas/14_optimizers/optimizers.cc) and the solution
// (solutions/14_optimizers/optimizers.cc) implement this same header; the tests build
// against both. Read README.md beside this file for the derivation of every step.
//
//   optim::GdStep(0.1f, grad, &param);                               // step 1
//   optim::MomentumStep(momentum, grad, &momentum_state, &param);    // step 2
//   optim::AdamStep(adam, grad, &adam_state, &param);                // steps 3 and 4
//   float lr = optim::LearningRateAt(schedule, step);                // step 5
//   float norm = optim::ClipByGlobalNorm(1.0f, &grads);              // step 6
//   llmk::Matrix o = optim::NewtonSchulz(grad, 5);                   // step 7
//   optim::MuonStep(muon, grad, &muon_state, &param);                // step 7
//   std::vector<float> losses = optim::Race(optim::OptimizerKind::kMuon, task, settings);
//
// Every optimizer updates a parameter matrix in place from its gradient (same shape) and,
// where it has one, its state (same shape again; an empty state matrix means "zeros",
// the state before the first step). A weight matrix is [D_in, D_out] and a layer
// computes x·W, as in every kata of this repository.
//
// Errors: a gradient or state whose shape is not the parameter's, a non-finite gradient
// entry, a null param or state, a negative learning rate or weight decay, a β outside
// [0, 1), a non-positive ε, a negative AdamState::step, a bad schedule, an empty shape,
// throw llmk::InvalidArgument whose message names the function, the argument, what was
// expected and what was given (for a non-finite gradient: the entry and its value).
// Nothing is modified when a call throws.
#pragma once

#include <vector>

#include "llmk/core.h"
#include "race_task.h"

namespace llmk::optim {

// ---------------------------------------------------------------------------------
// Step 1: gradient descent and the learning rate.

// Computes θ ← θ − lr·g.   grad and *param of the same shape; lr >= 0.
void GdStep(float lr, const MatrixRef& grad, Matrix* param);

// Computes the learning rate above which gradient descent diverges on the quadratic
// f(θ) = ½ θᵀ·H·θ: 2 / λ_max(H). hessian [n, n], n >= 1, symmetric (to 1e-6 relative)
// with a positive largest eigenvalue.
double CriticalLearningRate(const MatrixRef& hessian);

// ---------------------------------------------------------------------------------
// Step 2: momentum (heavy ball) and Nesterov.

struct MomentumConfig {
  float lr = 0.01f;
  float beta = 0.9f;      // in [0, 1)
  bool nesterov = false;  // step along g + β·v instead of v
};

struct MomentumState {
  Matrix velocity;  // [shape of param]; empty before the first step
};

// v ← β·v + g;  θ ← θ − lr·v            (heavy ball)
// v ← β·v + g;  θ ← θ − lr·(g + β·v)    (Nesterov)
void MomentumStep(const MomentumConfig& config, const MatrixRef& grad, MomentumState* state,
                  Matrix* param);

// ---------------------------------------------------------------------------------
// Steps 3 and 4: Adam and AdamW.

enum class WeightDecay {
  kDecoupled,  // AdamW: θ ← θ·(1 − lr·λ) before the Adam update
  kL2,         // Adam with L2: g ← g + λ·θ before the moments
};

struct AdamConfig {
  float lr = 1e-3f;
  float beta1 = 0.9f;         // in [0, 1)
  float beta2 = 0.999f;       // in [0, 1)
  float eps = 1e-8f;          // > 0, added to √v̂, outside the square root
  float weight_decay = 0.0f;  // λ >= 0
  WeightDecay decay = WeightDecay::kDecoupled;
  bool bias_correction = true;  // false only to see what it is for (README, Step 3)
};

struct AdamState {
  Matrix m;      // first moment  [shape of param]; empty before the first step
  Matrix v;      // second moment [shape of param]; empty before the first step
  int step = 0;  // t, the number of updates made; AdamStep increments it first
};

// t ← t + 1
// m ← β₁·m + (1 − β₁)·g;   v ← β₂·v + (1 − β₂)·g²
// m̂ = m / (1 − β₁ᵗ);       v̂ = v / (1 − β₂ᵗ)          (m̂ = m, v̂ = v without bias correction)
// θ ← θ − lr·m̂ / (√v̂ + ε)
// with weight decay λ as `decay` says (see WeightDecay).
void AdamStep(const AdamConfig& config, const MatrixRef& grad, AdamState* state, Matrix* param);

// ---------------------------------------------------------------------------------
// Step 5: learning-rate schedules.

struct ScheduleConfig {
  float peak_lr = 1e-3f;   // > 0
  float min_lr = 1e-4f;    // in [0, peak_lr]
  int warmup_steps = 0;    // W >= 0
  int total_steps = 1000;  // S > W
};

// The learning rate of step s (0-based):
//   s < W:        peak · (s + 1) / W                           (linear warmup)
//   W <= s <= S:  min + ½·(peak − min)·(1 + cos(π·(s − W) / (S − W)))   (cosine decay)
//   s > S:        min
// s >= 0.
float LearningRateAt(const ScheduleConfig& config, int step);

// ---------------------------------------------------------------------------------
// Step 6: gradient clipping by global norm.

// Computes the global norm n = √(Σ over every tensor and entry of g²) and, if n > max_norm,
// scales every tensor by max_norm / n. Returns n (before clipping). max_norm > 0; every
// entry finite; at least one tensor.
float ClipByGlobalNorm(float max_norm, std::vector<Matrix>* grads);

// ---------------------------------------------------------------------------------
// Step 7: Muon.

// The quintic Newton–Schulz coefficients: X ← a·X + (b·A + c·A²)·X with A = X·Xᵀ.
inline constexpr float kNewtonSchulzA = 3.4445f;
inline constexpr float kNewtonSchulzB = -4.7750f;
inline constexpr float kNewtonSchulzC = 2.0315f;

// Approximately orthogonalizes g (replaces its singular values by values near 1, keeping
// its singular vectors): X₀ = g / (‖g‖_F + 1e-7), then `steps` iterations of the quintic
// above, run on the wide orientation (on gᵀ when g has more rows than columns, and the
// result transposed back). g [m, n], m, n >= 1, finite; steps >= 0. A zero g gives zero.
Matrix NewtonSchulz(const MatrixRef& g, int steps = 5);

// The shape-dependent scale of the Muon update of a [D_in, D_out] weight:
// √max(1, D_out / D_in), so that the update's effect on the layer's output has the same
// size whatever the aspect ratio. D_in, D_out >= 1.
float MuonScale(int rows, int cols);

struct MuonConfig {
  float lr = 0.02f;
  float momentum = 0.95f;     // μ in [0, 1)
  bool nesterov = true;       // orthogonalize g + μ·m instead of m
  int ns_steps = 5;           // >= 1
  float weight_decay = 0.0f;  // λ >= 0, decoupled: θ ← θ·(1 − lr·λ)
};

struct MuonState {
  Matrix momentum;  // [shape of param]; empty before the first step
};

// m ← μ·m + g;   u = nesterov ? g + μ·m : m
// θ ← θ·(1 − lr·λ) − lr · MuonScale(rows, cols) · NewtonSchulz(u, ns_steps)
// param is a 2-D weight of at least 2 rows and 2 columns.
void MuonStep(const MuonConfig& config, const MatrixRef& grad, MuonState* state, Matrix* param);

// What a parameter is in a transformer, which decides its optimizer.
enum class ParamKind {
  kEmbedding,     // token (or position) embedding table [V, D]: rows are looked up
  kHiddenMatrix,  // a weight of attention or of the feed-forward network
  kOutputHead,    // the final projection to the vocabulary [D, V]
  kNormGain,      // a layer norm or RMSNorm gain [1, D]
  kBias,          // a bias [1, F]
};

enum class OptimizerKind { kSgd, kAdamW, kMuon };

// Muon for the hidden matrices of at least 2×2, AdamW for everything else.
// rows, cols >= 1.
OptimizerKind OptimizerFor(ParamKind kind, int rows, int cols);

// ---------------------------------------------------------------------------------
// Step 8: a race. The task (RaceTask and RaceLoss in race_task.h, given) is a two-layer
// tanh network fitting a fixed target; each optimizer trains its copy of the same
// initial weights.

// The defaults are the race of README.md, Step 8 (fixtures/14_optimizers/race.json).
struct RaceSettings {
  int steps = 100;                               // >= 0
  MomentumConfig sgd{.lr = 0.3f, .beta = 0.9f};  // kSgd: heavy-ball momentum, both weights
  AdamConfig adamw{.lr = 0.02f};                 // kAdamW: both weights; kMuon: w2 only
  MuonConfig muon{.lr = 0.05f};                  // kMuon: the hidden weight w1
};

// Trains task.w1 and task.w2 for settings.steps steps with `kind` and returns the loss
// before each step and after the last (steps + 1 values). kMuon puts each weight on the
// optimizer OptimizerFor gives it: w1 (kHiddenMatrix) on Muon, w2 (kOutputHead) on AdamW.
std::vector<float> Race(OptimizerKind kind, const RaceTask& task, const RaceSettings& settings);

}  // namespace llmk::optim
