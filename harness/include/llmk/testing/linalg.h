// Dense linear algebra that tests need and katas do not compute themselves: singular values
// and random orthogonal matrices, compiled once here (Eigen's SVD and QR are among the
// slowest templates to build) instead of in every test that uses them.
//
//   std::vector<double> s = llmk::testing::SingularValues(m);         // descending
//   llmk::MatrixD q = llmk::testing::RandomOrthogonal(rng, 8);        // qᵀ·q = I
#pragma once

#include <vector>

#include "llmk/core.h"
#include "llmk/random.h"

namespace llmk::testing {

// The singular values of m, in double, descending; min(rows, cols) of them.
std::vector<double> SingularValues(const llmk::MatrixD& m);

// A random n x n orthogonal matrix: the Q of the QR factorization of a matrix of N(0, 1)
// entries drawn from rng (RandomMatrix's order). n >= 1.
llmk::MatrixD RandomOrthogonal(Rng& rng, int n);

}  // namespace llmk::testing
