// Solution of kata 12: LoRA. Every function checks all of its arguments first; the layer
// operations that depend on state (merge, unmerge, a named adapter) report that state as
// an absl::Status and change nothing when they refuse.
#include "lora.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string_view>
#include <utility>

#include "llmk/random.h"

namespace llmk::lora {
namespace {

void RequireRank(std::string_view where, std::string_view name, std::int64_t rank,
                 std::int64_t d_in, std::int64_t d_out) {
  const std::int64_t most = std::min(d_in, d_out);
  Require(rank >= 1 && rank <= most, where,
          fmt::format("{} must be in [1, min(D_in, D_out) = {}], got {}", name, most, rank));
}

void RequireAlpha(std::string_view where, float alpha) {
  Require(std::isfinite(alpha), where, fmt::format("alpha must be finite, got {}", alpha));
}

// The shapes of W₀ and of an adapter beside it.
void RequireAdapter(std::string_view where, const MatrixRef& w0, const Adapter& adapter,
                    std::string_view w0_name) {
  Require(
      w0.rows() >= 1 && w0.cols() >= 1, where,
      fmt::format("{} must have at least one row and one column, got {}", w0_name, ShapeOf(w0)));
  RequireShape(where, "adapter.a", adapter.a, w0.rows(), -1, "D_in rows, one column per rank");
  RequireRank(where, "the adapter's rank (adapter.a's columns)", adapter.a.cols(), w0.rows(),
              w0.cols());
  RequireShape(where, "adapter.b", adapter.b, adapter.a.cols(), w0.cols(), "r by D_out");
  RequireAlpha(where, adapter.alpha);
}

// The shapes of x·W₀ + s·(x·A)·B, checked in the order a caller builds them.
void RequireLayer(std::string_view where, const MatrixRef& x, const MatrixRef& w0,
                  const Adapter& adapter, std::string_view w0_name = "w0") {
  Require(x.rows() >= 1 && x.cols() >= 1, where,
          fmt::format("x must have at least one row and one column, got {}", ShapeOf(x)));
  RequireShape(where, w0_name, w0, x.cols(), -1, "rows equal to x's columns");
  RequireAdapter(where, w0, adapter, w0_name);
}

// s·A·B, the [D_in, D_out] update that merging adds (and only merging forms).
Matrix Update(const Adapter& adapter) {
  Matrix update = adapter.a * adapter.b;
  update *= Scale(adapter.alpha, adapter.rank());
  return update;
}

// The adapted output with the products in the cheap order: u = x·A first ([T, r]), then ·B.
Matrix AdaptedFrom(const MatrixRef& x, const MatrixRef& w0, const Matrix& u, const Matrix& b,
                   float s) {
  Matrix h = x * w0;
  h.noalias() += s * (u * b);
  return h;
}

Matrix Adapted(const MatrixRef& x, const MatrixRef& w0, const Adapter& adapter) {
  const Matrix u = x * adapter.a;
  return AdaptedFrom(x, w0, u, adapter.b, Scale(adapter.alpha, adapter.rank()));
}

// Step 4's dA and dB from u = x·A: dB = s·uᵀ·dh, du = s·dh·Bᵀ, dA = xᵀ·du. Returns du.
Matrix AdapterGradsFrom(const MatrixRef& x, const Adapter& adapter, const Matrix& u, float s,
                        const MatrixRef& dh, AdapterGrads* grads) {
  grads->db.noalias() = s * (u.transpose() * dh);  // [r, D_out]
  Matrix du = s * (dh * adapter.b.transpose());    // [T, r]
  grads->da.noalias() = x.transpose() * du;        // [D_in, r]
  return du;
}

// L = ½·mean(r²), accumulated in double.
float HalfMeanSquare(const Matrix& r) {
  return static_cast<float>(0.5 * r.cast<double>().squaredNorm() / static_cast<double>(r.size()));
}

std::string_view TargetName(Target target) {
  switch (target) {
    case Target::kQ:
      return "q";
    case Target::kK:
      return "k";
    case Target::kV:
      return "v";
    case Target::kO:
      return "o";
    case Target::kGate:
      return "gate";
    case Target::kUp:
      return "up";
    case Target::kDown:
      return "down";
  }
  return "?";
}

}  // namespace

// Step 1.
std::int64_t FullParams(std::int64_t d_in, std::int64_t d_out) {
  Require(d_in >= 1, "FullParams", fmt::format("d_in must be >= 1, got {}", d_in));
  Require(d_out >= 1, "FullParams", fmt::format("d_out must be >= 1, got {}", d_out));
  return d_in * d_out;
}

std::int64_t LoraParams(std::int64_t d_in, std::int64_t d_out, std::int64_t rank) {
  Require(d_in >= 1, "LoraParams", fmt::format("d_in must be >= 1, got {}", d_in));
  Require(d_out >= 1, "LoraParams", fmt::format("d_out must be >= 1, got {}", d_out));
  RequireRank("LoraParams", "rank", rank, d_in, d_out);
  return rank * (d_in + d_out);
}

TrainingMemory MemoryFor(std::int64_t frozen, std::int64_t trainable) {
  Require(frozen >= 0, "MemoryFor", fmt::format("frozen must be >= 0, got {}", frozen));
  Require(trainable >= 0, "MemoryFor", fmt::format("trainable must be >= 0, got {}", trainable));
  TrainingMemory memory;
  memory.weights = 4 * (frozen + trainable);
  memory.gradients = 4 * trainable;
  memory.adam_state = 8 * trainable;
  memory.total = memory.weights + memory.gradients + memory.adam_state;
  return memory;
}

// Steps 2 and 6.
float Scale(float alpha, int rank, ScaleRule rule) {
  RequireAlpha("Scale", alpha);
  Require(rank >= 1, "Scale", fmt::format("rank must be >= 1, got {}", rank));
  const double r = rank;
  return static_cast<float>(rule == ScaleRule::kLora ? alpha / r : alpha / std::sqrt(r));
}

// Step 2: (x·A)·B costs 2·T·r·(D_in + D_out) multiply-adds; x·(A·B) would first spend
// 2·D_in·r·D_out on the product.
Matrix LoraForward(const MatrixRef& x, const MatrixRef& w0, const Adapter& adapter,
                   ForwardTrace* trace) {
  RequireLayer("LoraForward", x, w0, adapter);
  if (trace == nullptr) return Adapted(x, w0, adapter);
  const float s = Scale(adapter.alpha, adapter.rank());
  trace->base = x * w0;
  trace->down = x * adapter.a;
  trace->up = trace->down * adapter.b;
  trace->output = trace->base + s * trace->up;
  return trace->output;
}

// Step 3.
Adapter InitAdapter(int d_in, int d_out, int rank, float alpha, std::uint64_t seed) {
  Require(d_in >= 1, "InitAdapter", fmt::format("d_in must be >= 1, got {}", d_in));
  Require(d_out >= 1, "InitAdapter", fmt::format("d_out must be >= 1, got {}", d_out));
  RequireRank("InitAdapter", "rank", rank, d_in, d_out);
  RequireAlpha("InitAdapter", alpha);
  Adapter adapter;
  adapter.alpha = alpha;
  adapter.a.resize(d_in, rank);
  Rng rng(seed);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d_in));
  for (int i = 0; i < d_in; ++i) {
    for (int j = 0; j < rank; ++j) adapter.a(i, j) = static_cast<float>(rng.Normal() * scale);
  }
  adapter.b = Matrix::Zero(rank, d_out);
  return adapter;
}

// Step 4.
AdapterGrads LoraBackward(const MatrixRef& x, const MatrixRef& w0, const Adapter& adapter,
                          const MatrixRef& dh) {
  RequireLayer("LoraBackward", x, w0, adapter);
  RequireShape("LoraBackward", "dh", dh, x.rows(), w0.cols(), "the shape of h: T by D_out");
  const float s = Scale(adapter.alpha, adapter.rank());
  const Matrix u = x * adapter.a;  // [T, r]
  AdapterGrads grads;
  const Matrix du = AdapterGradsFrom(x, adapter, u, s, dh, &grads);
  grads.dx.noalias() = dh * w0.transpose();  // [T, D_in]
  grads.dx.noalias() += du * adapter.a.transpose();
  return grads;
}

// Step 5.
float RegressionLoss(const RegressionTask& task, const Adapter& adapter) {
  RequireLayer("RegressionLoss", task.x, task.w0, adapter);
  RequireShape("RegressionLoss", "task.y", task.y, task.x.rows(), task.w0.cols(), "T by D_out");
  return HalfMeanSquare(Adapted(task.x, task.w0, adapter) - task.y);
}

std::vector<float> TrainAdapter(const RegressionTask& task, float lr, int steps, Adapter* adapter) {
  Require(adapter != nullptr, "TrainAdapter", "adapter must not be null");
  Require(std::isfinite(lr) && lr >= 0.0f, "TrainAdapter",
          fmt::format("lr must be finite and >= 0, got {}", lr));
  Require(steps >= 0, "TrainAdapter", fmt::format("steps must be >= 0, got {}", steps));
  RequireLayer("TrainAdapter", task.x, task.w0, *adapter);
  RequireShape("TrainAdapter", "task.y", task.y, task.x.rows(), task.w0.cols(), "T by D_out");
  std::vector<float> losses;
  losses.reserve(static_cast<std::size_t>(steps) + 1);
  // Each step computes u = x·A once for the forward and the backward pass, and no dx: the
  // task's input has no layer below it.
  const float s = Scale(adapter->alpha, adapter->rank());
  AdapterGrads grads;
  for (int step = 0; step <= steps; ++step) {
    const Matrix u = task.x * adapter->a;
    const Matrix r = AdaptedFrom(task.x, task.w0, u, adapter->b, s) - task.y;
    losses.push_back(HalfMeanSquare(r));
    if (step == steps) break;
    const Matrix dh = r / static_cast<float>(r.size());  // ∂L/∂h of ½·mean(r²)
    AdapterGradsFrom(task.x, *adapter, u, s, dh, &grads);
    adapter->a -= lr * grads.da;
    adapter->b -= lr * grads.db;
  }
  return losses;
}

// Step 6.
absl::Status Merge(LoraLinear* layer) {
  Require(layer != nullptr, "Merge", "layer must not be null");
  if (layer->merged) {
    return absl::FailedPreconditionError("Merge: the layer is merged already; Unmerge it first");
  }
  RequireAdapter("Merge", layer->w, layer->adapter, "layer.w");
  layer->w += Update(layer->adapter);
  layer->merged = true;
  return absl::OkStatus();
}

absl::Status Unmerge(LoraLinear* layer) {
  Require(layer != nullptr, "Unmerge", "layer must not be null");
  if (!layer->merged) {
    return absl::FailedPreconditionError("Unmerge: the layer is not merged; Merge it first");
  }
  RequireAdapter("Unmerge", layer->w, layer->adapter, "layer.w");
  layer->w -= Update(layer->adapter);
  layer->merged = false;
  return absl::OkStatus();
}

Matrix Forward(const LoraLinear& layer, const MatrixRef& x) {
  RequireLayer("Forward", x, layer.w, layer.adapter, "layer.w");
  if (layer.merged) return x * layer.w;
  return Adapted(x, layer.w, layer.adapter);
}

// Step 7.
namespace {

void RequireBlockShapes(std::string_view where, const BlockShapes& shapes) {
  for (auto [name, value] : {std::pair{"d_model", shapes.d_model},
                             {"num_heads", shapes.num_heads},
                             {"num_kv_heads", shapes.num_kv_heads},
                             {"head_dim", shapes.head_dim},
                             {"d_ff", shapes.d_ff}}) {
    Require(value >= 1, where, fmt::format("shapes.{} must be >= 1, got {}", name, value));
  }
}

}  // namespace

std::pair<int, int> TargetShape(const BlockShapes& shapes, Target target) {
  constexpr std::string_view kWhere = "TargetShape";
  RequireBlockShapes(kWhere, shapes);
  const int d = shapes.d_model;
  const int q = shapes.num_heads * shapes.head_dim;
  const int kv = shapes.num_kv_heads * shapes.head_dim;
  switch (target) {
    case Target::kQ:
      return {d, q};
    case Target::kK:
      return {d, kv};
    case Target::kV:
      return {d, kv};
    case Target::kO:
      return {q, d};
    case Target::kGate:
      return {d, shapes.d_ff};
    case Target::kUp:
      return {d, shapes.d_ff};
    case Target::kDown:
      return {shapes.d_ff, d};
  }
  throw InvalidArgument(fmt::format("{}: unknown target {}", kWhere, static_cast<int>(target)));
}

std::int64_t BlockAdapterParams(const BlockShapes& shapes, const std::vector<Target>& targets,
                                int rank) {
  constexpr std::string_view kWhere = "BlockAdapterParams";
  // Checked before the loop, so an empty list of targets is no way around them.
  RequireBlockShapes(kWhere, shapes);
  Require(rank >= 1, kWhere, fmt::format("rank must be >= 1, got {}", rank));
  std::set<Target> seen;
  std::int64_t total = 0;
  for (Target target : targets) {
    Require(seen.insert(target).second, kWhere,
            fmt::format("targets lists {} twice", TargetName(target)));
    const auto [d_in, d_out] = TargetShape(shapes, target);
    RequireRank(kWhere, fmt::format("rank (for {})", TargetName(target)), rank, d_in, d_out);
    total += std::int64_t{rank} * (d_in + d_out);
  }
  return total;
}

AdapterBank::AdapterBank(Matrix w0) : w0_(std::move(w0)) {
  Require(w0_.rows() >= 1 && w0_.cols() >= 1, "AdapterBank",
          fmt::format("w0 must have at least one row and one column, got {}", ShapeOf(w0_)));
}

absl::Status AdapterBank::Add(const std::string& name, Adapter adapter) {
  if (name.empty()) return absl::InvalidArgumentError("AdapterBank::Add: name must not be empty");
  try {
    RequireAdapter("AdapterBank::Add", w0_, adapter, "w0");
  } catch (const InvalidArgument& e) {
    return absl::InvalidArgumentError(fmt::format("adapter \"{}\": {}", name, e.what()));
  }
  if (adapters_.contains(name)) {
    return absl::AlreadyExistsError(
        fmt::format("AdapterBank::Add: an adapter named \"{}\" exists already", name));
  }
  adapters_.emplace(name, std::move(adapter));
  return absl::OkStatus();
}

absl::Status AdapterBank::Remove(std::string_view name) {
  const auto it = adapters_.find(name);
  if (it == adapters_.end()) {
    return absl::NotFoundError(fmt::format("AdapterBank::Remove: no adapter named \"{}\"", name));
  }
  adapters_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<Matrix> AdapterBank::Forward(const MatrixRef& x, std::string_view name) const {
  Require(x.rows() >= 1, "AdapterBank::Forward",
          fmt::format("x must have at least one row, got {}", ShapeOf(x)));
  RequireShape("AdapterBank::Forward", "x", x, -1, w0_.rows(), "columns equal to w0's rows");
  if (name.empty()) return Matrix(x * w0_);
  const auto it = adapters_.find(name);
  if (it == adapters_.end()) {
    return absl::NotFoundError(fmt::format("AdapterBank::Forward: no adapter named \"{}\"", name));
  }
  return Adapted(x, w0_, it->second);
}

}  // namespace llmk::lora
