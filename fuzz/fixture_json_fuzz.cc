// Fuzz target: the fixture loader of the test-support library
// (harness/support/fixture.cc) on arbitrary text.
//
// What it must do on bad input: return InvalidArgument with a message that starts
// "fixture NAME: " (so a test's failure names the file), never crash or throw. On
// good input, the Fixture is consistent:
//   - tolerance atol and rtol are >= 0 (and not NaN);
//   - every key of Keys() is Has(); a matrix key reads with MatrixD and Matrix (same
//     shape) and is refused by Scalar and Int with FixtureError; a number key reads with
//     Scalar, is refused by MatrixD, and Int either gives that number or throws
//     FixtureError (not an integer, or outside int);
//   - a key that is not there throws FixtureError.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "check.h"
#include "llmk/testing/fixture.h"

namespace {

using llmk::testing::Fixture;
using llmk::testing::FixtureError;

constexpr std::string_view kName = "fuzz.json";

template <typename F>
bool ThrowsFixtureError(F&& f) {
  try {
    f();
  } catch (const FixtureError& e) {
    FUZZ_CHECK(std::string_view(e.what()).find(kName) != std::string_view::npos,
               "FixtureError does not name the file: {}", e.what());
    return true;
  }
  return false;
}

void CheckKey(const Fixture& fx, const std::string& key) {
  FUZZ_CHECK(fx.Has(key), "Keys() lists \"{}\" but Has() says no", key);
  if (fx.IsMatrix(key)) {
    const llmk::MatrixD m = fx.MatrixD(key);
    FUZZ_CHECK(m.rows() >= 0 && m.cols() >= 0, "\"{}\" has shape [{}, {}]", key, m.rows(),
               m.cols());
    const llmk::Matrix f = fx.Matrix(key);
    FUZZ_CHECK(f.rows() == m.rows() && f.cols() == m.cols(), "Matrix and MatrixD differ");
    FUZZ_CHECK(ThrowsFixtureError([&] { fx.Scalar(key); }), "Scalar read a matrix");
    FUZZ_CHECK(ThrowsFixtureError([&] { fx.Int(key); }), "Int read a matrix");
  } else {
    const double x = fx.Scalar(key);
    FUZZ_CHECK(ThrowsFixtureError([&] { fx.MatrixD(key); }), "MatrixD read a number");
    int n = 0;
    if (!ThrowsFixtureError([&] { n = fx.Int(key); })) {
      FUZZ_CHECK(static_cast<double>(n) == x, "Int(\"{}\") = {} but the value is {}", key, n, x);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Fixture> fx = Fixture::Parse(text, std::string(kName));
  if (!fx.ok()) {
    FUZZ_CHECK(fx.status().code() == absl::StatusCode::kInvalidArgument, "Parse failed with {}",
               fx.status().ToString());
    const std::string message(fx.status().message());
    FUZZ_CHECK(message.starts_with("fixture fuzz.json: "), "the error does not name the file: {}",
               message);
    return 0;
  }
  FUZZ_CHECK(fx->name() == kName, "name() is \"{}\"", fx->name());
  FUZZ_CHECK(fx->tolerance().atol >= 0 && fx->tolerance().rtol >= 0, "tolerance atol {} rtol {}",
             fx->tolerance().atol, fx->tolerance().rtol);
  for (const std::string& key : fx->Keys()) CheckKey(*fx, key);
  FUZZ_CHECK(ThrowsFixtureError([&] { fx->Scalar("\x01no such key"); }),
             "a missing key did not throw FixtureError");
  return 0;
}
