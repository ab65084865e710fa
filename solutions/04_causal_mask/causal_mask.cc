// Solution of kata 04: causal masks, a masked softmax that is defined for fully masked
// rows, causal attention, and padding masks for a batch. Each function validates its
// arguments, then follows the README step it names.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "causal_mask.h"

namespace llmk::causal {
namespace {

constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

template <typename Derived>
void RequireNonEmpty(std::string_view where, std::string_view name,
                     const Eigen::DenseBase<Derived>& m) {
  Require(m.rows() >= 1 && m.cols() >= 1, where,
          fmt::format("{} is {}; it needs at least one row and one column", name, ShapeOf(m)));
}

void RequireTokenCount(std::string_view where, int num_tokens) {
  Require(num_tokens >= 1, where,
          fmt::format("num_tokens must be at least 1, got {}", num_tokens));
}

}  // namespace

// Step 1: token i sees tokens 0..i.
Mask CausalMask(int num_tokens) {
  RequireTokenCount("CausalMask", num_tokens);
  Mask mask(num_tokens, num_tokens);
  for (int i = 0; i < num_tokens; ++i) {
    for (int j = 0; j < num_tokens; ++j) mask(i, j) = j <= i;
  }
  return mask;
}

// Step 2: z(i, j) = scores(i, j) where allowed, -inf where not.
Matrix ApplyMask(const MatrixRef& scores, const Mask& mask) {
  RequireNonEmpty("ApplyMask", "scores", scores);
  RequireShape("ApplyMask", "mask", mask, scores.rows(), scores.cols(),
               fmt::format("the shape of scores, {}", ShapeOf(scores)));
  Matrix z(scores.rows(), scores.cols());
  for (Eigen::Index i = 0; i < scores.rows(); ++i) {
    for (Eigen::Index j = 0; j < scores.cols(); ++j) {
      z(i, j) = mask(i, j) ? scores(i, j) : kMinusInf;
    }
  }
  return z;
}

// Step 3: p_ij = exp(z_ij - m_i) / Σ_l exp(z_il - m_i), m_i = max of the row's
// unmasked entries; a row with no unmasked entry (m_i = -inf) is all zeros, because
// (-inf) - (-inf) would be NaN.
Matrix MaskedSoftmax(const MatrixRef& masked_scores) {
  RequireNonEmpty("MaskedSoftmax", "masked_scores", masked_scores);
  Matrix p(masked_scores.rows(), masked_scores.cols());
  for (Eigen::Index i = 0; i < masked_scores.rows(); ++i) {
    float row_max = kMinusInf;
    for (Eigen::Index j = 0; j < masked_scores.cols(); ++j) {
      const float z = masked_scores(i, j);
      if (std::isnan(z) || z == -kMinusInf) {
        throw InvalidArgument(fmt::format(
            "MaskedSoftmax: masked_scores row {} holds {} at column {}; entries must be "
            "finite or -inf",
            i, z, j));
      }
      row_max = std::max(row_max, z);
    }
    if (row_max == kMinusInf) {  // fully masked: the documented row of zeros
      p.row(i).setZero();
      continue;
    }
    float sum = 0.0f;
    for (Eigen::Index j = 0; j < masked_scores.cols(); ++j) {
      // exp(-inf - m) = exp(-inf) = 0 for a finite m: masked entries get exactly 0.
      p(i, j) = std::exp(masked_scores(i, j) - row_max);
      sum += p(i, j);
    }
    p.row(i) /= sum;  // sum >= 1: the max contributes exp(0) = 1
  }
  return p;
}

// Step 4: MaskedSoftmax(ApplyMask(q·kᵀ / √d, mask)) · v.
Matrix MaskedAttention(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v,
                       const Mask& mask, Matrix* weights) {
  constexpr std::string_view kWhere = "MaskedAttention";
  RequireNonEmpty(kWhere, "q", q);
  RequireNonEmpty(kWhere, "k", k);
  RequireNonEmpty(kWhere, "v", v);
  RequireShape(kWhere, "k", k, -1, q.cols(),
               fmt::format("columns must equal q's columns; q is {}", ShapeOf(q)));
  RequireShape(kWhere, "v", v, k.rows(), -1,
               fmt::format("one value row per key; k is {}", ShapeOf(k)));
  RequireShape(kWhere, "mask", mask, q.rows(), k.rows(),
               fmt::format("one row per query, one column per key; q is {}, k is {}",
                           ShapeOf(q), ShapeOf(k)));
  Matrix scores(q.rows(), k.rows());
  scores.noalias() = q * k.transpose();
  scores *= 1.0f / std::sqrt(static_cast<float>(q.cols()));
  Matrix p = MaskedSoftmax(ApplyMask(scores, mask));
  Matrix out(q.rows(), v.cols());
  out.noalias() = p * v;
  if (weights != nullptr) *weights = std::move(p);
  return out;
}

Matrix CausalAttention(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v,
                       Matrix* weights) {
  constexpr std::string_view kWhere = "CausalAttention";
  RequireNonEmpty(kWhere, "q", q);
  RequireShape(kWhere, "k", k, q.rows(), q.cols(),
               fmt::format("self-attention: one key per query, as wide as q; q is {}",
                           ShapeOf(q)));
  RequireShape(kWhere, "v", v, q.rows(), -1,
               fmt::format("one value row per token; q is {}", ShapeOf(q)));
  RequireNonEmpty(kWhere, "v", v);
  return MaskedAttention(q, k, v, CausalMask(static_cast<int>(q.rows())), weights);
}

// Step 5: the columns of real tokens are allowed, for every query.
Mask KeyPaddingMask(int num_tokens, int length, PadSide side) {
  RequireTokenCount("KeyPaddingMask", num_tokens);
  Require(length >= 0 && length <= num_tokens, "KeyPaddingMask",
          fmt::format("length = {} is outside [0, num_tokens = {}]", length, num_tokens));
  const int first_real = side == PadSide::kRight ? 0 : num_tokens - length;
  Mask mask(num_tokens, num_tokens);
  for (int j = 0; j < num_tokens; ++j) {
    mask.col(j).setConstant(j >= first_real && j < first_real + length);
  }
  return mask;
}

Mask CombineMasks(const Mask& a, const Mask& b) {
  RequireShape("CombineMasks", "b", b, a.rows(), a.cols(),
               fmt::format("the shape of a, {}", ShapeOf(a)));
  return a.array() && b.array();
}

std::vector<Mask> BatchMasks(const std::vector<int>& lengths, int num_tokens, PadSide side) {
  Require(!lengths.empty(), "BatchMasks", "lengths is empty; a batch needs a sequence");
  RequireTokenCount("BatchMasks", num_tokens);
  for (size_t b = 0; b < lengths.size(); ++b) {
    Require(lengths[b] >= 0 && lengths[b] <= num_tokens, "BatchMasks",
            fmt::format("lengths[{}] = {} is outside [0, num_tokens = {}]", b, lengths[b],
                        num_tokens));
  }
  const Mask causal = CausalMask(num_tokens);
  std::vector<Mask> masks;
  masks.reserve(lengths.size());
  for (int length : lengths) {
    masks.push_back(CombineMasks(causal, KeyPaddingMask(num_tokens, length, side)));
  }
  return masks;
}

std::vector<Matrix> BatchedCausalAttention(const std::vector<Matrix>& q,
                                           const std::vector<Matrix>& k,
                                           const std::vector<Matrix>& v,
                                           const std::vector<int>& lengths, PadSide side,
                                           std::vector<Matrix>* weights) {
  constexpr std::string_view kWhere = "BatchedCausalAttention";
  const size_t batch = lengths.size();
  Require(batch >= 1, kWhere, "lengths is empty; a batch needs a sequence");
  for (const auto& [name, parts] : {std::pair<const char*, const std::vector<Matrix>*>{"q", &q},
                                    {"k", &k}, {"v", &v}}) {
    Require(parts->size() == batch, kWhere,
            fmt::format("batch size mismatch: {} has {} sequences, lengths has {}", name,
                        parts->size(), batch));
  }
  RequireNonEmpty(kWhere, "q[0]", q[0]);
  RequireNonEmpty(kWhere, "v[0]", v[0]);
  const Eigen::Index t = q[0].rows();
  for (size_t b = 0; b < batch; ++b) {
    RequireShape(kWhere, fmt::format("q[{}]", b), q[b], t, q[0].cols(),
                 fmt::format("the shape of q[0], {}", ShapeOf(q[0])));
    RequireShape(kWhere, fmt::format("k[{}]", b), k[b], t, q[0].cols(),
                 fmt::format("the shape of q[0], {}", ShapeOf(q[0])));
    RequireShape(kWhere, fmt::format("v[{}]", b), v[b], t, v[0].cols(),
                 fmt::format("T rows like q[0] ({}), as wide as v[0] ({})", ShapeOf(q[0]),
                             ShapeOf(v[0])));
  }
  const std::vector<Mask> masks = BatchMasks(lengths, static_cast<int>(t), side);
  std::vector<Matrix> out;
  out.reserve(batch);
  if (weights != nullptr) weights->assign(batch, Matrix());
  for (size_t b = 0; b < batch; ++b) {
    out.push_back(MaskedAttention(q[b], k[b], v[b], masks[b],
                                  weights != nullptr ? &(*weights)[b] : nullptr));
  }
  return out;
}

}  // namespace llmk::causal
