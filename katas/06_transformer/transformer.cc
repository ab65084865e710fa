// Your implementation of transformer.h. Replace each `throw llmk::NotImplemented(...)`
// with the step's code; README.md derives every step, HINTS.md helps when stuck.
// Run `./kata test 06` after each change.
//
// Validate inputs first: a shape that does not fit throws llmk::InvalidArgument
// naming the argument and the shapes (llmk::RequireShape and llmk::Require in
// llmk/core.h build such messages for you). Kata 02's attention is yours to reuse:
// copy what you need into this file (each kata builds on its own).
#include "transformer.h"

namespace llmk::transformer {

// Step 1: row ids[t] of the table, for every t.
Matrix EmbedTokens(const std::vector<int>& ids, const MatrixRef& table) {
  throw NotImplemented("EmbedTokens");
}

// Step 2: sin on even columns, cos on odd ones.
Matrix SinusoidalPositions(int num_positions, int model_dim) {
  throw NotImplemented("SinusoidalPositions");
}

// Step 3: rotate each pair of each head by its position's angle.
Matrix ApplyRope(const MatrixRef& x, int head_dim, float base, int first_position) {
  throw NotImplemented("ApplyRope");
}

// Step 4: centre, divide by the standard deviation, scale and shift.
Matrix LayerNorm(const MatrixRef& x, const MatrixRef& gamma, const MatrixRef& beta, float eps) {
  throw NotImplemented("LayerNorm");
}

// Step 4: divide by the root mean square, scale.
Matrix RmsNorm(const MatrixRef& x, const MatrixRef& gamma, float eps) {
  throw NotImplemented("RmsNorm");
}

// Step 4: one of the two by kind.
Matrix ApplyNorm(const MatrixRef& x, const NormWeights& w, NormKind kind, float eps) {
  throw NotImplemented("ApplyNorm");
}

// Step 5: x·W + b.
Matrix Linear(const MatrixRef& x, const LinearWeights& w) { throw NotImplemented("Linear"); }

// Step 5: max(0, x).
Matrix Relu(const MatrixRef& x) { throw NotImplemented("Relu"); }

// Step 5: the tanh form of GELU.
Matrix Gelu(const MatrixRef& x) { throw NotImplemented("Gelu"); }

// Step 5: x·σ(x).
Matrix Silu(const MatrixRef& x) { throw NotImplemented("Silu"); }

// Step 5: expand to F, activate (or gate), contract back to D.
Matrix FeedForward(const MatrixRef& x, const FfnWeights& w, Activation activation,
                   FfnTrace* trace) {
  throw NotImplemented("FeedForward");
}

// Step 6: project, split into heads, (rotate,) score, mask, softmax, mix, concat, project.
Matrix MultiHeadAttention(const MatrixRef& x, const MatrixRef& memory, const AttentionWeights& w,
                          int num_heads, const AttentionOptions& options, AttentionTrace* trace) {
  throw NotImplemented("MultiHeadAttention");
}

// Step 7: x + f(norm(x)) or norm(x + f(x)).
Matrix Residual(const MatrixRef& x, const NormWeights& norm, const Config& config,
                const Sublayer& sublayer) {
  throw NotImplemented("Residual");
}

// Step 8: do the numbers of the configuration fit together?
void ValidateConfig(const Config& config) { throw NotImplemented("ValidateConfig"); }

// Step 8: self-attention without a mask, then the FFN, each in its residual.
Matrix EncoderBlock(const MatrixRef& x, const BlockWeights& w, const Config& config,
                    BlockTrace* trace) {
  throw NotImplemented("EncoderBlock");
}

// Step 9: masked self-attention, then the FFN.
Matrix DecoderBlock(const MatrixRef& x, const BlockWeights& w, const Config& config,
                    BlockTrace* trace) {
  throw NotImplemented("DecoderBlock");
}

// Step 9: masked self-attention, cross-attention to memory, then the FFN.
Matrix DecoderBlock(const MatrixRef& x, const MatrixRef& memory, const BlockWeights& w,
                    const Config& config, BlockTrace* trace) {
  throw NotImplemented("DecoderBlock");
}

// Step 10: token embeddings plus positions.
Matrix InputEmbeddings(const std::vector<int>& ids, const Model& model, StackTrace* trace) {
  throw NotImplemented("InputEmbeddings");
}

// Step 10: encoder blocks, then the final norm of a pre-norm stack.
Matrix EncoderStack(const MatrixRef& x, const StackWeights& stack, const Config& config,
                    StackTrace* trace) {
  throw NotImplemented("EncoderStack");
}

// Step 10: decoder blocks without cross-attention, then the final norm.
Matrix DecoderStack(const MatrixRef& x, const StackWeights& stack, const Config& config,
                    StackTrace* trace) {
  throw NotImplemented("DecoderStack");
}

// Step 10: decoder blocks that cross-attend to memory, then the final norm.
Matrix DecoderStack(const MatrixRef& x, const MatrixRef& memory, const StackWeights& stack,
                    const Config& config, StackTrace* trace) {
  throw NotImplemented("DecoderStack");
}

// Step 10: h · Eᵀ.
Matrix OutputLogits(const MatrixRef& h, const Model& model) {
  throw NotImplemented("OutputLogits");
}

// Step 10: embeddings, encoder stack.
Matrix EncoderOnlyForward(const std::vector<int>& ids, const Model& model, ModelTrace* trace) {
  throw NotImplemented("EncoderOnlyForward");
}

// Step 10: embeddings, decoder stack, logits.
Matrix DecoderOnlyForward(const std::vector<int>& ids, const Model& model, ModelTrace* trace) {
  throw NotImplemented("DecoderOnlyForward");
}

// Step 10: encoder on the source, decoder on the target reading the encoder, logits.
Matrix EncoderDecoderForward(const std::vector<int>& source, const std::vector<int>& target,
                             const Model& model, ModelTrace* trace) {
  throw NotImplemented("EncoderDecoderForward");
}

// Step 11: add up the sizes of every tensor of the configuration.
ParameterCount CountParameters(const Config& config) { throw NotImplemented("CountParameters"); }

}  // namespace llmk::transformer
