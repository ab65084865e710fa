// The few types every kata, solution and reference shares: the matrix type, the two
// exceptions of the error contract, and helpers that build clear error messages.
//
//   llmk::Matrix q = llmk::Matrix::Zero(3, 2);     // rows are tokens
//   llmk::RequireShape("Attention", "q", q, 3, 2);  // throws llmk::InvalidArgument if not
//   throw llmk::NotImplemented("Softmax");          // what a stub does
#pragma once

#include <Eigen/Core>
#include <stdexcept>
#include <string>
#include <string_view>

namespace llmk {

// Rows are tokens. Row-major so that a token's vector is contiguous.
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// Read-only view of a Matrix, a block of one, or a mapped buffer.
using MatrixRef = Eigen::Ref<const Matrix>;
// Double precision twin, used by reference oracles.
using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A caller broke a function's contract (shape mismatch, out-of-range value).
// The message names the argument, what was expected and what was given.
class InvalidArgument : public std::invalid_argument {
 public:
  explicit InvalidArgument(const std::string& message)
      : std::invalid_argument(message) {}
};

// Thrown by a stub that the learner has not written yet. The harness reports a
// test that fails with it as "todo", not as a failure.
class NotImplemented : public std::logic_error {
 public:
  explicit NotImplemented(std::string_view function)
      : std::logic_error(std::string(kMarker) + std::string(function) +
                         " is not implemented yet (this stub is yours to write)"),
        function_(function) {}

  const std::string& function() const { return function_; }

  // Every NotImplemented message starts with this; the harness searches for it.
  static constexpr std::string_view kMarker = "llmk::NotImplemented: ";

 private:
  std::string function_;
};

// "3x4" for a 3-row, 4-column matrix.
std::string ShapeString(Eigen::Index rows, Eigen::Index cols);
template <typename Derived>
std::string ShapeOf(const Eigen::DenseBase<Derived>& m) {
  return ShapeString(m.rows(), m.cols());
}

// Throws InvalidArgument("<where>: <message>") unless `condition` holds.
void Require(bool condition, std::string_view where, std::string_view message);

// Throws InvalidArgument unless `m` is rows x cols; a negative rows or cols
// means "any". The message reads e.g.
//   "Attention: k must be Nx2 (columns equal to q's), got 3x5".
void RequireShape(std::string_view where, std::string_view name, Eigen::Index rows,
                  Eigen::Index cols, Eigen::Index expected_rows,
                  Eigen::Index expected_cols, std::string_view why = {});
template <typename Derived>
void RequireShape(std::string_view where, std::string_view name,
                  const Eigen::DenseBase<Derived>& m, Eigen::Index expected_rows,
                  Eigen::Index expected_cols, std::string_view why = {}) {
  RequireShape(where, name, m.rows(), m.cols(), expected_rows, expected_cols, why);
}

}  // namespace llmk
