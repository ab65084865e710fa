// Loads the hand-computed fixtures of fixtures/NN_topic/*.json.
//
//   const llmk::testing::Fixture& fx = llmk::testing::KataFixture("02_attention/single_head.json");
//   llmk::Matrix q = fx.Matrix("Q");      // shape checked against the file's "shape"
//   int d_k = fx.Int("d_k");
//   EXPECT_ALLCLOSE(Project(x, wq), q, fx.tolerance());
//
// File format:
//   {"about": "...",
//    "tolerance": {"atol": 1e-4, "rtol": 0, "why": "rounded to 4 decimals"},
//    "values": {"Q": {"shape": [3, 2], "data": [[1, 2], [3, 4], [5, 6]]}, "d_k": 2}}
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "llmk/core.h"
#include "llmk/testing/tolerance.h"

namespace llmk::testing {

// A fixture file that could not be used, or a key it does not hold.
class FixtureError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Fixture {
 public:
  // Parses fixture text; `name` is used in error messages.
  static absl::StatusOr<Fixture> Parse(std::string_view text, std::string name);
  // Reads and parses a file; NotFound if it does not exist.
  static absl::StatusOr<Fixture> FromFile(const std::string& path);

  const std::string& name() const { return name_; }
  const std::string& about() const { return about_; }
  const Tolerance& tolerance() const { return tolerance_; }

  bool Has(std::string_view key) const;
  // Keys in file order of appearance is not kept; sorted.
  std::vector<std::string> Keys() const;
  bool IsMatrix(std::string_view key) const;

  // Throw FixtureError naming the file and key when absent or of the wrong kind
  // (for Int: also when the number is not an integer that fits in an int).
  llmk::Matrix Matrix(std::string_view key) const;
  llmk::MatrixD MatrixD(std::string_view key) const;
  double Scalar(std::string_view key) const;
  int Int(std::string_view key) const;

 private:
  std::string name_;
  std::string about_;
  Tolerance tolerance_;
  std::map<std::string, std::variant<double, llmk::MatrixD>, std::less<>> values_;
};

// Loads fixtures/<relative_path> once per test binary; throws FixtureError with
// the file name and the reason if it is missing or malformed.
const Fixture& KataFixture(const std::string& relative_path);

}  // namespace llmk::testing
