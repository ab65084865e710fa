#include "llmk/testing/linalg.h"

#include <Eigen/QR>
#include <Eigen/SVD>

#include "llmk/testing/random.h"

namespace llmk::testing {

std::vector<double> SingularValues(const llmk::MatrixD& m) {
  const Eigen::MatrixXd d = m;
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(d);
  const Eigen::VectorXd s = svd.singularValues();
  return std::vector<double>(s.data(), s.data() + s.size());
}

llmk::MatrixD RandomOrthogonal(Rng& rng, int n) {
  const Eigen::MatrixXd a = RandomMatrix(rng, n, n).cast<double>();
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
  const Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(n, n);
  return q;
}

}  // namespace llmk::testing
