#include "transformer_ref.h"

#include <algorithm>
#include <cmath>

namespace llmk::reference::transformer {
namespace {

constexpr double kPi = 3.14159265358979323846;

MatrixD Columns(const MatrixD& m, Eigen::Index first, Eigen::Index count) {
  MatrixD out(m.rows(), count);
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    for (Eigen::Index j = 0; j < count; ++j) out(i, j) = m(i, first + j);
  }
  return out;
}

MatrixD Add(const MatrixD& a, const MatrixD& b) {
  MatrixD out(a.rows(), a.cols());
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    for (Eigen::Index j = 0; j < a.cols(); ++j) out(i, j) = a(i, j) + b(i, j);
  }
  return out;
}

MatrixD ApplyNorm(const MatrixD& x, const Norm& n, const Settings& s) {
  return s.rms_norm ? RmsNorm(x, n.gamma, s.eps) : LayerNorm(x, n.gamma, n.beta, s.eps);
}

// pre-norm: x + f(norm(x)); post-norm: norm(x + f(x)).
template <typename F>
MatrixD Sublayer(const MatrixD& x, const Norm& n, const Settings& s, F f) {
  if (s.pre_norm) return Add(x, f(ApplyNorm(x, n, s)));
  return ApplyNorm(Add(x, f(x)), n, s);
}

MatrixD Stack(const MatrixD& x, const MatrixD* memory, const std::vector<Block>& blocks,
              const Norm& final_norm, const Settings& s, bool causal) {
  MatrixD h = x;
  for (const Block& b : blocks) h = BlockForward(h, memory, b, s, causal);
  if (s.pre_norm) h = ApplyNorm(h, final_norm, s);
  return h;
}

MatrixD Logits(const Model& m, const MatrixD& h) {
  const MatrixD& head = m.lm_head.size() == 0 ? m.embed : m.lm_head;
  return MatMul(h, head.transpose());
}

}  // namespace

MatrixD Embed(const std::vector<int>& ids, const MatrixD& table) {
  MatrixD out(static_cast<Eigen::Index>(ids.size()), table.cols());
  for (size_t t = 0; t < ids.size(); ++t) {
    for (Eigen::Index j = 0; j < table.cols(); ++j) {
      out(static_cast<Eigen::Index>(t), j) = table(ids[t], j);
    }
  }
  return out;
}

MatrixD Sinusoidal(int num_positions, int model_dim) {
  MatrixD pe(num_positions, model_dim);
  for (int p = 0; p < num_positions; ++p) {
    for (int j = 0; j < model_dim; ++j) {
      const int i = j / 2;
      const double angle = p / std::pow(10000.0, 2.0 * i / model_dim);
      pe(p, j) = j % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  }
  return pe;
}

MatrixD Rope(const MatrixD& x, int head_dim, double base, int first_position) {
  MatrixD out = x;
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    for (Eigen::Index j = 0; j < x.cols(); j += 2) {
      const int i = static_cast<int>(j % head_dim) / 2;
      const double angle =
          static_cast<double>(first_position + t) / std::pow(base, 2.0 * i / head_dim);
      out(t, j) = x(t, j) * std::cos(angle) - x(t, j + 1) * std::sin(angle);
      out(t, j + 1) = x(t, j) * std::sin(angle) + x(t, j + 1) * std::cos(angle);
    }
  }
  return out;
}

MatrixD LayerNorm(const MatrixD& x, const MatrixD& gamma, const MatrixD& beta, double eps) {
  MatrixD out(x.rows(), x.cols());
  const auto n = static_cast<double>(x.cols());
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    double mean = 0.0;
    for (Eigen::Index j = 0; j < x.cols(); ++j) mean += x(t, j);
    mean /= n;
    double var = 0.0;
    for (Eigen::Index j = 0; j < x.cols(); ++j) var += (x(t, j) - mean) * (x(t, j) - mean);
    var /= n;
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
      out(t, j) = gamma(0, j) * (x(t, j) - mean) / std::sqrt(var + eps) + beta(0, j);
    }
  }
  return out;
}

MatrixD RmsNorm(const MatrixD& x, const MatrixD& gamma, double eps) {
  MatrixD out(x.rows(), x.cols());
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    double ms = 0.0;
    for (Eigen::Index j = 0; j < x.cols(); ++j) ms += x(t, j) * x(t, j);
    ms /= static_cast<double>(x.cols());
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
      out(t, j) = gamma(0, j) * x(t, j) / std::sqrt(ms + eps);
    }
  }
  return out;
}

double Relu(double x) { return x > 0.0 ? x : 0.0; }

double Gelu(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / kPi) * (x + 0.044715 * x * x * x)));
}

double Silu(double x) { return x / (1.0 + std::exp(-x)); }

MatrixD Apply(const MatrixD& x, const Linear& l) {
  MatrixD out = MatMul(x, l.w);
  if (l.b.size() != 0) {
    for (Eigen::Index i = 0; i < out.rows(); ++i) {
      for (Eigen::Index j = 0; j < out.cols(); ++j) out(i, j) += l.b(0, j);
    }
  }
  return out;
}

MatrixD FeedForward(const MatrixD& x, const Linear& up, const Linear& gate, const Linear& down,
                    Act act) {
  MatrixD hidden = Apply(x, up);
  const MatrixD g = act == Act::kSwiGlu ? Apply(x, gate) : MatrixD();
  for (Eigen::Index i = 0; i < hidden.rows(); ++i) {
    for (Eigen::Index j = 0; j < hidden.cols(); ++j) {
      switch (act) {
        case Act::kRelu:
          hidden(i, j) = Relu(hidden(i, j));
          break;
        case Act::kGelu:
          hidden(i, j) = Gelu(hidden(i, j));
          break;
        case Act::kSwiGlu:
          hidden(i, j) = Silu(g(i, j)) * hidden(i, j);
          break;
      }
    }
  }
  return Apply(hidden, down);
}

MatrixD MultiHeadAttention(const MatrixD& x, const MatrixD& memory, const Attention& w, int heads,
                           bool causal, bool rope, double rope_base,
                           std::vector<MatrixD>* weights) {
  const Eigen::Index d = x.cols() / heads;
  MatrixD q = Apply(x, w.q);
  MatrixD k = Apply(memory, w.k);
  const MatrixD v = Apply(memory, w.v);
  if (rope) {
    q = Rope(q, static_cast<int>(d), rope_base, 0);
    k = Rope(k, static_cast<int>(d), rope_base, 0);
  }
  if (weights != nullptr) weights->clear();
  MatrixD concat(x.rows(), x.cols());
  for (int h = 0; h < heads; ++h) {
    const MatrixD qh = Columns(q, h * d, d);
    const MatrixD kh = Columns(k, h * d, d);
    const MatrixD vh = Columns(v, h * d, d);
    MatrixD p(x.rows(), memory.rows());
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      // Allowed keys: all, or 0..i when causal.
      const Eigen::Index last = causal ? i : memory.rows() - 1;
      double max_score = -1e300;
      for (Eigen::Index j = 0; j <= last; ++j) {
        double s = 0.0;
        for (Eigen::Index c = 0; c < d; ++c) s += qh(i, c) * kh(j, c);
        p(i, j) = s / std::sqrt(static_cast<double>(d));
        max_score = std::max(max_score, p(i, j));
      }
      double sum = 0.0;
      for (Eigen::Index j = 0; j < memory.rows(); ++j) {
        p(i, j) = j <= last ? std::exp(p(i, j) - max_score) : 0.0;
        sum += p(i, j);
      }
      for (Eigen::Index j = 0; j < memory.rows(); ++j) p(i, j) /= sum;
    }
    const MatrixD oh = MatMul(p, vh);
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      for (Eigen::Index c = 0; c < d; ++c) concat(i, h * d + c) = oh(i, c);
    }
    if (weights != nullptr) weights->push_back(p);
  }
  return Apply(concat, w.o);
}

MatrixD BlockForward(const MatrixD& x, const MatrixD* memory, const Block& b, const Settings& s,
                     bool causal) {
  const bool rope = s.pos == Pos::kRope;
  MatrixD h = Sublayer(x, b.norm1, s, [&](const MatrixD& in) {
    return MultiHeadAttention(in, in, b.self_attn, s.heads, causal, rope, s.rope_base);
  });
  if (memory != nullptr) {
    h = Sublayer(h, b.norm2, s, [&](const MatrixD& in) {
      return MultiHeadAttention(in, *memory, b.cross_attn, s.heads, false, false, s.rope_base);
    });
  }
  const Norm& ffn_norm = memory != nullptr ? b.norm3 : b.norm2;
  return Sublayer(h, ffn_norm, s,
                  [&](const MatrixD& in) { return FeedForward(in, b.up, b.gate, b.down, s.act); });
}

MatrixD Input(const Model& m, const std::vector<int>& ids) {
  MatrixD x = Embed(ids, m.embed);
  const auto t_len = static_cast<int>(ids.size());
  if (m.s.pos == Pos::kSinusoidal) x = Add(x, Sinusoidal(t_len, static_cast<int>(x.cols())));
  if (m.s.pos == Pos::kLearned) x = Add(x, m.pos_embed.topRows(t_len));
  return x;
}

MatrixD EncoderOnly(const Model& m, const std::vector<int>& ids) {
  return Stack(Input(m, ids), nullptr, m.encoder, m.encoder_final, m.s, false);
}

MatrixD DecoderOnly(const Model& m, const std::vector<int>& ids) {
  return Logits(m, Stack(Input(m, ids), nullptr, m.decoder, m.decoder_final, m.s, true));
}

MatrixD EncoderDecoder(const Model& m, const std::vector<int>& source,
                       const std::vector<int>& target) {
  const MatrixD memory = Stack(Input(m, source), nullptr, m.encoder, m.encoder_final, m.s, false);
  return Logits(m, Stack(Input(m, target), &memory, m.decoder, m.decoder_final, m.s, true));
}

}  // namespace llmk::reference::transformer
