// Your implementation of attention.h. Replace each `throw llmk::NotImplemented(...)`
// with the step's code; README.md derives every step, HINTS.md helps when stuck.
// Run `./kata test 02` after each change.
//
// Validate inputs first: a shape that does not fit throws llmk::InvalidArgument
// naming the argument and the shapes (llmk::RequireShape and llmk::Require in
// llmk/core.h build such messages for you).
#include "attention.h"

namespace llmk::attention {

// Step 1: x · w.
Matrix Project(const MatrixRef& x, const MatrixRef& w) {
  throw NotImplemented("Project");
}

// Step 2: q · kᵀ.
Matrix Scores(const MatrixRef& q, const MatrixRef& k) {
  throw NotImplemented("Scores");
}

// Step 3: scores / √d_k.
Matrix ScaleScores(const MatrixRef& scores, int d_k) {
  throw NotImplemented("ScaleScores");
}

// Step 4: row softmax; subtract each row's max before exp.
Matrix Softmax(const MatrixRef& scores) {
  throw NotImplemented("Softmax");
}

// Step 5: weights · v.
Matrix WeightedSum(const MatrixRef& weights, const MatrixRef& v) {
  throw NotImplemented("WeightedSum");
}

// Step 6: softmax(q · kᵀ / √d) · v, from the functions above.
Matrix Attention(const MatrixRef& q, const MatrixRef& k, const MatrixRef& v) {
  throw NotImplemented("Attention");
}

// Step 6: Attention(x·wq, x·wk, x·wv).
Matrix SelfAttentionHead(const MatrixRef& x, const MatrixRef& wq, const MatrixRef& wk,
                         const MatrixRef& wv) {
  throw NotImplemented("SelfAttentionHead");
}

// Step 7: the columns of head h.
Matrix Head(const MatrixRef& m, int h, int head_dim) {
  throw NotImplemented("Head");
}

// Step 7: heads side by side.
Matrix ConcatHeads(const std::vector<Matrix>& heads) {
  throw NotImplemented("ConcatHeads");
}

// Step 8: which key/value head query head h reads.
int KvHeadFor(int h, int num_heads, int num_kv_heads) {
  throw NotImplemented("KvHeadFor");
}

// Steps 7 and 8: split, attend per head, concatenate, project by wo.
Matrix MultiHeadAttention(const MatrixRef& x, const MultiHeadWeights& w, MultiHeadTrace* trace) {
  throw NotImplemented("MultiHeadAttention");
}

}  // namespace llmk::attention
