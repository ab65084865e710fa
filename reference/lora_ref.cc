#include "lora_ref.h"

namespace llmk::reference::lora {

MatrixD Forward(const MatrixD& x, const MatrixD& w0, const MatrixD& a, const MatrixD& b,
                double scale) {
  MatrixD h = MatrixD::Zero(x.rows(), w0.cols());
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    for (Eigen::Index o = 0; o < w0.cols(); ++o) {
      double base = 0.0;
      for (Eigen::Index i = 0; i < x.cols(); ++i) base += x(t, i) * w0(i, o);
      double update = 0.0;
      for (Eigen::Index j = 0; j < a.cols(); ++j) {
        double down = 0.0;
        for (Eigen::Index i = 0; i < x.cols(); ++i) down += x(t, i) * a(i, j);
        update += down * b(j, o);
      }
      h(t, o) = base + scale * update;
    }
  }
  return h;
}

Grads Backward(const MatrixD& x, const MatrixD& w0, const MatrixD& a, const MatrixD& b,
               double scale, const MatrixD& dh) {
  Grads g;
  g.da = MatrixD::Zero(a.rows(), a.cols());
  g.db = MatrixD::Zero(b.rows(), b.cols());
  g.dx = MatrixD::Zero(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    for (Eigen::Index j = 0; j < a.cols(); ++j) {
      double sum = 0.0;
      for (Eigen::Index t = 0; t < x.rows(); ++t) {
        for (Eigen::Index o = 0; o < b.cols(); ++o) sum += x(t, i) * b(j, o) * dh(t, o);
      }
      g.da(i, j) = scale * sum;
    }
  }
  for (Eigen::Index j = 0; j < b.rows(); ++j) {
    for (Eigen::Index o = 0; o < b.cols(); ++o) {
      double sum = 0.0;
      for (Eigen::Index t = 0; t < x.rows(); ++t) {
        double down = 0.0;
        for (Eigen::Index i = 0; i < x.cols(); ++i) down += x(t, i) * a(i, j);
        sum += down * dh(t, o);
      }
      g.db(j, o) = scale * sum;
    }
  }
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    for (Eigen::Index i = 0; i < x.cols(); ++i) {
      double sum = 0.0;
      for (Eigen::Index o = 0; o < w0.cols(); ++o) {
        double w = w0(i, o);
        for (Eigen::Index j = 0; j < a.cols(); ++j) w += scale * a(i, j) * b(j, o);
        sum += dh(t, o) * w;
      }
      g.dx(t, i) = sum;
    }
  }
  return g;
}

double Loss(const MatrixD& x, const MatrixD& y, const MatrixD& w0, const MatrixD& a,
            const MatrixD& b, double scale) {
  const MatrixD h = Forward(x, w0, a, b, scale);
  double sum = 0.0;
  for (Eigen::Index t = 0; t < h.rows(); ++t) {
    for (Eigen::Index o = 0; o < h.cols(); ++o) sum += (h(t, o) - y(t, o)) * (h(t, o) - y(t, o));
  }
  return 0.5 * sum / static_cast<double>(h.size());
}

}  // namespace llmk::reference::lora
