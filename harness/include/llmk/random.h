// A seeded random generator that gives the same numbers on every platform and
// standard library (std::normal_distribution and friends do not).
//
//   llmk::Rng rng(42);
//   double z = rng.Normal();        // N(0, 1)
//   uint64_t i = rng.Below(10);     // uniform in [0, 10)
#pragma once

#include <cstdint>

namespace llmk {

// splitmix64: tiny, fast, and fully specified, so a seed means the same numbers everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t NextU64();
  // Uniform in [0, 1), 53 random bits.
  double Uniform();
  // Uniform in [lo, hi).
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Standard normal (Box-Muller, one value per call).
  double Normal();
  // Uniform integer in [0, n), without modulo bias. n >= 1.
  std::uint64_t Below(std::uint64_t n);

 private:
  std::uint64_t state_;
};

}  // namespace llmk
