// Reference oracles for kata 12 (LoRA): plain loops in double precision, written to be
// read, not to be fast. The adapted output is summed term by term from its definition
// h(t, o) = Σ_i x(t, i)·W₀(i, o) + s·Σ_j (Σ_i x(t, i)·A(i, j))·B(j, o), and each gradient
// is the sum over every path from the parameter to the loss, one scalar at a time.
//
// T = tokens, D_in = inputs, D_out = outputs, r = rank; a weight is [D_in, D_out].
#pragma once

#include "llmk/core.h"

namespace llmk::reference::lora {

// x·W₀ + s·(x·A)·B.   x [T, D_in], w0 [D_in, D_out], a [D_in, r], b [r, D_out]
MatrixD Forward(const MatrixD& x, const MatrixD& w0, const MatrixD& a, const MatrixD& b,
                double scale);

struct Grads {
  MatrixD da;  // [D_in, r]
  MatrixD db;  // [r, D_out]
  MatrixD dx;  // [T, D_in]
};

// The gradients for an upstream dh [T, D_out]:
//   dA(i, j) = s·Σ_t Σ_o x(t, i)·B(j, o)·dh(t, o)
//   dB(j, o) = s·Σ_t (Σ_i x(t, i)·A(i, j))·dh(t, o)
//   dx(t, i) = Σ_o dh(t, o)·(W₀(i, o) + s·Σ_j A(i, j)·B(j, o))
Grads Backward(const MatrixD& x, const MatrixD& w0, const MatrixD& a, const MatrixD& b,
               double scale, const MatrixD& dh);

// ½ · mean over T·D_out of (Forward − y)².
double Loss(const MatrixD& x, const MatrixD& y, const MatrixD& w0, const MatrixD& a,
            const MatrixD& b, double scale);

}  // namespace llmk::reference::lora
