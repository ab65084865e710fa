// Kata 12: low-rank adaptation (LoRA), from the parameter count to merging and serving
// several adapters on one base weight.
//
// The API of the kata. The stubs (katas/12_lora/lora.cc) and the solution
// (solutions/12_lora/lora.cc) implement this same header; the tests build against both.
// Read README.md beside this file for the derivation of every step.
//
//   int64_t n = lora::LoraParams(4096, 4096, 8);                       // step 1: 65,536
//   llmk::Matrix h = lora::LoraForward(x, w0, adapter);                // step 2
//   lora::Adapter a = lora::InitAdapter(4096, 4096, 8, 16.0f, seed);   // step 3: B = 0
//   lora::AdapterGrads g = lora::LoraBackward(x, w0, adapter, dh);     // step 4
//   std::vector<float> losses = lora::TrainAdapter(task, 0.1f, 50, &adapter);  // step 5
//   absl::Status s = lora::Merge(&layer);                              // step 6
//   int64_t m = lora::BlockAdapterParams(shapes, {Target::kQ, Target::kV}, 8);  // step 7
//
// Conventions, as in every kata of this repository: rows are tokens, a weight is
// [D_in, D_out] and a layer computes x·W. The LoRA paper writes the transpose
// (h = W₀·x + (α/r)·B·A·x with W₀ [d, k], A [r, k], B [d, r]); here
//   h = x·W₀ + s·(x·A)·B,   s = α / r,   A [D_in, r] (down), B [r, D_out] (up),
// so A is applied first, as in the paper, and is the one initialized at random.
//
// T = tokens, D_in = inputs of the adapted weight, D_out = its outputs, r = rank.
//
// Errors: a shape that does not fit, a rank outside [1, min(D_in, D_out)], an α or a
// learning rate that is not finite (or negative), throw llmk::InvalidArgument whose message
// names the argument, the shape or value expected and the one given. Merging a merged
// layer, unmerging an unmerged one, and asking for an adapter that does not exist are
// conditions of the system's state: they return an absl::Status (FailedPrecondition,
// NotFound, AlreadyExists) and change nothing.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "llmk/core.h"

namespace llmk::lora {

// ---------------------------------------------------------------------------------
// Step 1: why full fine-tuning is expensive.

// Trainable parameters of fine-tuning a [D_in, D_out] weight in full: D_in·D_out.
std::int64_t FullParams(std::int64_t d_in, std::int64_t d_out);

// Trainable parameters of a rank-r adapter on it: r·(D_in + D_out). 1 <= r <= min(D_in, D_out).
std::int64_t LoraParams(std::int64_t d_in, std::int64_t d_out, std::int64_t rank);

// The bytes that training with Adam in float32 keeps in memory: 4 per weight (frozen or
// trainable), and for each trainable one 4 for its gradient and 8 for Adam's two moments.
struct TrainingMemory {
  std::int64_t weights = 0;     // 4·(frozen + trainable)
  std::int64_t gradients = 0;   // 4·trainable
  std::int64_t adam_state = 0;  // 8·trainable
  std::int64_t total = 0;       // the sum
};
TrainingMemory MemoryFor(std::int64_t frozen, std::int64_t trainable);

// ---------------------------------------------------------------------------------
// Steps 2 and 3: the adapter, its scale, its forward pass and its initialization.

struct Adapter {
  Matrix a;            // [D_in, r], the down projection
  Matrix b;            // [r, D_out], the up projection
  float alpha = 1.0f;  // α; the update is scaled by s = α / r
  int rank() const { return static_cast<int>(a.cols()); }
};

// How the scale depends on the rank: LoRA's α / r, or rsLoRA's α / √r.
enum class ScaleRule { kLora, kRsLora };

// s = α / r (kLora) or α / √r (kRsLora). α finite, rank >= 1.
float Scale(float alpha, int rank, ScaleRule rule = ScaleRule::kLora);

// What LoraForward computed on the way, for the tests to check step by step.
struct ForwardTrace {
  Matrix base;    // x·W₀          [T, D_out]
  Matrix down;    // x·A           [T, r]
  Matrix up;      // (x·A)·B       [T, D_out]
  Matrix output;  // base + s·up   [T, D_out]
};

// h = x·W₀ + s·(x·A)·B with s = Scale(adapter.alpha, r), never forming the [D_in, D_out]
// product A·B.   x [T, D_in], w0 [D_in, D_out], a [D_in, r], b [r, D_out]; T >= 1.
Matrix LoraForward(const MatrixRef& x, const MatrixRef& w0, const Adapter& adapter,
                   ForwardTrace* trace = nullptr);

// A new adapter: A(i, j) = rng.Normal() / √D_in drawn row by row (i, then j) from
// llmk::Rng(seed); B = 0, so the adapted layer computes exactly what the base layer does.
Adapter InitAdapter(int d_in, int d_out, int rank, float alpha, std::uint64_t seed);

// ---------------------------------------------------------------------------------
// Step 4: the backward pass. W₀ is frozen: it gets no gradient.

struct AdapterGrads {
  Matrix da;  // ∂L/∂A  [D_in, r]
  Matrix db;  // ∂L/∂B  [r, D_out]
  Matrix dx;  // ∂L/∂x  [T, D_in], for the layer below
};

// Given dh = ∂L/∂h [T, D_out] of h = LoraForward(x, w0, adapter):
//   u = x·A;  dB = s·uᵀ·dh;  du = s·dh·Bᵀ;  dA = xᵀ·du;  dx = dh·W₀ᵀ + du·Aᵀ.
AdapterGrads LoraBackward(const MatrixRef& x, const MatrixRef& w0, const Adapter& adapter,
                          const MatrixRef& dh);

// ---------------------------------------------------------------------------------
// Step 5: training an adapter on a small regression task.

struct RegressionTask {
  Matrix x;   // [T, D_in]
  Matrix y;   // [T, D_out], the targets
  Matrix w0;  // [D_in, D_out], frozen
};

// L = ½ · mean over the T·D_out entries of (LoraForward(x, w0, adapter) − y)².
float RegressionLoss(const RegressionTask& task, const Adapter& adapter);

// Runs `steps` steps of plain gradient descent on A and B (A ← A − lr·dA, B ← B − lr·dB)
// and returns the loss before each step and after the last (steps + 1 values).
// lr >= 0, steps >= 0.
std::vector<float> TrainAdapter(const RegressionTask& task, float lr, int steps, Adapter* adapter);

// ---------------------------------------------------------------------------------
// Step 6: merging and unmerging.

// A linear layer with one adapter, merged into its weight or kept beside it.
struct LoraLinear {
  Matrix w;  // [D_in, D_out]: W₀ while unmerged, W₀ + s·A·B while merged
  Adapter adapter;
  bool merged = false;
};

// W ← W + s·A·B and merged = true. FailedPrecondition (nothing changed) if merged already
// (checked before the shapes, which throw InvalidArgument as everywhere).
absl::Status Merge(LoraLinear* layer);

// W ← W − s·A·B and merged = false. FailedPrecondition (nothing changed) if not merged.
absl::Status Unmerge(LoraLinear* layer);

// x·W when merged, x·W + s·(x·A)·B when not: the same h either way.
Matrix Forward(const LoraLinear& layer, const MatrixRef& x);

// ---------------------------------------------------------------------------------
// Step 7: where adapters go in a transformer block, and several adapters on one weight.

// The shapes of one block of kata 06 (a SwiGLU feed-forward network has gate, up and down).
struct BlockShapes {
  int d_model = 0;       // D
  int num_heads = 0;     // H
  int num_kv_heads = 0;  // Hkv
  int head_dim = 0;      // d
  int d_ff = 0;          // F
};

// The weights an adapter can go on: wq [D, H·d], wk and wv [D, Hkv·d], wo [H·d, D],
// the FFN's gate and up [D, F] and down [F, D].
enum class Target { kQ, kK, kV, kO, kGate, kUp, kDown };

// The weight shape of `target` in a block: {D_in, D_out}.
std::pair<int, int> TargetShape(const BlockShapes& shapes, Target target);

// Trainable parameters of rank-r adapters on the given targets of one block (each target
// at most once). Every dimension of shapes >= 1 and rank >= 1, checked even when the list
// is empty (no adapters: 0 parameters).
std::int64_t BlockAdapterParams(const BlockShapes& shapes, const std::vector<Target>& targets,
                                int rank);

// One frozen base weight shared by named adapters, chosen per request: what a server does
// to fine-tune one model for many customers without copying it.
class AdapterBank {
 public:
  // w0 [D_in, D_out], D_in, D_out >= 1.
  explicit AdapterBank(Matrix w0);

  // Adds an adapter under a non-empty name. Returns an InvalidArgument status if its
  // shapes do not fit W₀ or the name is empty, AlreadyExists if the name is taken (the old
  // one is kept); nothing is added then.
  absl::Status Add(const std::string& name, Adapter adapter);

  // Removes an adapter. NotFound if there is none of that name.
  absl::Status Remove(std::string_view name);

  // h with the named adapter, or x·W₀ for the empty name. NotFound for an unknown name.
  absl::StatusOr<Matrix> Forward(const MatrixRef& x, std::string_view name) const;

  int size() const { return static_cast<int>(adapters_.size()); }
  const Matrix& base() const { return w0_; }

 private:
  Matrix w0_;
  std::map<std::string, Adapter, std::less<>> adapters_;
};

}  // namespace llmk::lora
