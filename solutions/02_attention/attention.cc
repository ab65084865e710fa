// Solution of kata 02: scaled dot-product attention, multi-head and grouped-query.
// Each function validates its arguments, then follows the README step it names.
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "attention.h"

namespace llmk::attention {
namespace {

void RequireTokens(std::string_view where, std::string_view name, const MatrixRef& m) {
  Require(m.rows() >= 1, where,
          fmt::format("{} has no rows ({}); attention needs at least one token", name,
                      ShapeOf(m)));
  Require(m.cols() >= 1, where,
          fmt::format("{} has no columns ({}); vectors need at least one entry", name,
                      ShapeOf(m)));
}

}  // namespace

// Step 1: x [T, D] · w [D, d].
Matrix Project(const MatrixRef& x, const MatrixRef& w) {
  RequireTokens("Project", "x", x);
  RequireShape("Project", "w", w, x.cols(), -1,
               fmt::format("rows must equal x's columns; x is {}", ShapeOf(x)));
  Matrix out(x.rows(), w.cols());
  out.noalias() = x * w;
  return out;
}

// Step 2: q [T, d] · kᵀ [d, N].
Matrix Scores(const MatrixRef& q, const MatrixRef& k) {
  RequireTokens("Scores", "q", q);
  RequireTokens("Scores", "k", k);
  RequireShape("Scores", "k", k, -1, q.cols(),
               fmt::format("columns must equal q's columns; q is {}", ShapeOf(q)));
  Matrix out(q.rows(), k.rows());
  out.noalias() = q * k.transpose();
  return out;
}

// Step 3: divide by √d_k so the scores keep unit variance.
Matrix ScaleScores(const MatrixRef& scores, int d_k) {
  Require(d_k >= 1, "ScaleScores", fmt::format("d_k must be at least 1, got {}", d_k));
  const float scale = 1.0f / std::sqrt(static_cast<float>(d_k));
  return scores * scale;
}

// Step 4: p_ij = exp(z_ij - m_i) / Σ_j exp(z_ij - m_i), m_i = max_j z_ij.
Matrix Softmax(const MatrixRef& scores) {
  RequireTokens("Softmax", "scores", scores);
  Matrix p(scores.rows(), scores.cols());
  for (Eigen::Index i = 0; i < scores.rows(); ++i) {
    const float row_max = scores.row(i).maxCoeff();
    p.row(i) = (scores.row(i).array() - row_max).exp().matrix();
    p.row(i) /= p.row(i).sum();
  }
  return p;
}

// Step 5: weights [T, N] · v [N, d_v].
Matrix WeightedSum(const MatrixRef& weights, const MatrixRef& v) {
  RequireTokens("WeightedSum", "weights", weights);
  RequireTokens("WeightedSum", "v", v);
  RequireShape("WeightedSum", "v", v, weights.cols(), -1,
               fmt::format("rows must equal weights' columns; weights is {}",
                           ShapeOf(weights)));
  Matrix out(weights.rows(), v.cols());
  out.noalias() = weights * v;
  return out;
}

// Step 6: the four steps in a row.
Matrix Attention(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v) {
  RequireTokens("Attention", "q", q);
  RequireTokens("Attention", "k", k);
  RequireTokens("Attention", "v", v);
  RequireShape("Attention", "k", k, -1, q.cols(),
               fmt::format("columns must equal q's columns; q is {}", ShapeOf(q)));
  RequireShape("Attention", "v", v, k.rows(), -1,
               fmt::format("one value row per key; k is {}", ShapeOf(k)));
  const Matrix scaled = ScaleScores(Scores(q, k), static_cast<int>(q.cols()));
  return WeightedSum(Softmax(scaled), v);
}

Matrix SelfAttentionHead(const MatrixRef& x, const MatrixRef& wq, const MatrixRef& wk,
                         const MatrixRef& wv) {
  RequireTokens("SelfAttentionHead", "x", x);
  for (const auto& [name, w] : {std::pair<const char*, const MatrixRef*>{"wq", &wq},
                                {"wk", &wk}, {"wv", &wv}}) {
    RequireShape("SelfAttentionHead", name, *w, x.cols(), -1,
                 fmt::format("rows must equal x's columns; x is {}", ShapeOf(x)));
  }
  RequireShape("SelfAttentionHead", "wk", wk, -1, wq.cols(),
               fmt::format("as many columns as wq; wq is {}", ShapeOf(wq)));
  return Attention(Project(x, wq), Project(x, wk), Project(x, wv));
}

// Step 7: columns [h·d, (h+1)·d).
Matrix Head(const MatrixRef& m, int h, int head_dim) {
  Require(head_dim >= 1, "Head", fmt::format("head_dim must be at least 1, got {}", head_dim));
  Require(m.cols() % head_dim == 0, "Head",
          fmt::format("m is {}: its {} columns are not a whole number of heads of width {}",
                      ShapeOf(m), m.cols(), head_dim));
  const Eigen::Index heads = m.cols() / head_dim;
  Require(h >= 0 && h < heads, "Head",
          fmt::format("head index h = {} is out of range [0, {}) for m {} with head_dim {}", h,
                      heads, ShapeOf(m), head_dim));
  return m.middleCols(static_cast<Eigen::Index>(h) * head_dim, head_dim);
}

Matrix ConcatHeads(const std::vector<Matrix>& heads) {
  Require(!heads.empty(), "ConcatHeads", "heads is empty; need at least one head");
  const Eigen::Index rows = heads[0].rows();
  const Eigen::Index d = heads[0].cols();
  for (size_t h = 1; h < heads.size(); ++h) {
    RequireShape("ConcatHeads", fmt::format("heads[{}]", h), heads[h], rows, d,
                 fmt::format("the same shape as heads[0]"));
  }
  Matrix out(rows, d * static_cast<Eigen::Index>(heads.size()));
  for (size_t h = 0; h < heads.size(); ++h) {
    out.middleCols(static_cast<Eigen::Index>(h) * d, d) = heads[h];
  }
  return out;
}

// Step 8: Hkv groups of H / Hkv consecutive query heads.
int KvHeadFor(int h, int num_heads, int num_kv_heads) {
  Require(num_heads >= 1, "KvHeadFor",
          fmt::format("num_heads must be at least 1, got {}", num_heads));
  Require(num_kv_heads >= 1 && num_heads % num_kv_heads == 0, "KvHeadFor",
          fmt::format("num_kv_heads = {} must be at least 1 and divide num_heads = {}",
                      num_kv_heads, num_heads));
  Require(h >= 0 && h < num_heads, "KvHeadFor",
          fmt::format("query head h = {} is out of range [0, {})", h, num_heads));
  return h / (num_heads / num_kv_heads);
}

Matrix MultiHeadAttention(const MatrixRef& x, const MultiHeadWeights& w, MultiHeadTrace* trace) {
  constexpr std::string_view kWhere = "MultiHeadAttention";
  RequireTokens(kWhere, "x", x);
  const Eigen::Index model_dim = x.cols();
  const int heads = w.num_heads;
  const int kv_heads = w.num_kv_heads;
  Require(heads >= 1, kWhere, fmt::format("num_heads must be at least 1, got {}", heads));
  Require(model_dim % heads == 0, kWhere,
          fmt::format("D = {} (x is {}) is not divisible by num_heads = {}", model_dim,
                      ShapeOf(x), heads));
  Require(kv_heads >= 1 && heads % kv_heads == 0, kWhere,
          fmt::format("num_heads = {} is not divisible by num_kv_heads = {}", heads, kv_heads));
  const Eigen::Index d = model_dim / heads;
  RequireShape(kWhere, "wq", w.wq, model_dim, model_dim, "D x D");
  RequireShape(kWhere, "wk", w.wk, model_dim, kv_heads * d, "D x Hkv*d");
  RequireShape(kWhere, "wv", w.wv, model_dim, kv_heads * d, "D x Hkv*d");
  RequireShape(kWhere, "wo", w.wo, model_dim, model_dim, "D x D");

  const Matrix q = Project(x, w.wq);
  const Matrix k = Project(x, w.wk);
  const Matrix v = Project(x, w.wv);
  std::vector<Matrix> outputs;
  outputs.reserve(static_cast<size_t>(heads));
  if (trace != nullptr) {
    trace->weights.clear();
    trace->head_outputs.clear();
  }
  for (int h = 0; h < heads; ++h) {
    const int g = KvHeadFor(h, heads, kv_heads);
    const int dh = static_cast<int>(d);
    const Matrix weights =
        Softmax(ScaleScores(Scores(Head(q, h, dh), Head(k, g, dh)), dh));
    outputs.push_back(WeightedSum(weights, Head(v, g, dh)));
    if (trace != nullptr) {
      trace->weights.push_back(weights);
      trace->head_outputs.push_back(outputs.back());
    }
  }
  Matrix concat = ConcatHeads(outputs);
  Matrix out = Project(concat, w.wo);
  if (trace != nullptr) trace->concat = std::move(concat);
  return out;
}

}  // namespace llmk::attention
