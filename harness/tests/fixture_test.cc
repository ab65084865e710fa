// The fixture loader of the test-support library on files that lie about their shape.
#include "llmk/testing/fixture.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdlib>
#include <string>

namespace llmk::testing {
namespace {

// Parses `text` under a 1 GiB address-space limit and exits 0 when the parse fails with an
// error that contains `expected`.
[[noreturn]] void ParseUnderOneGibAndExit(const std::string& text, const std::string& expected) {
  const rlimit limit{rlim_t{1} << 30, rlim_t{1} << 30};
  setrlimit(RLIMIT_AS, &limit);
  const absl::StatusOr<Fixture> fixture = Fixture::Parse(text, "lying.json");
  const bool named =
      !fixture.ok() && std::string(fixture.status().message()).find(expected) != std::string::npos;
  std::_Exit(named ? 0 : 1);
}

// A shape that claims more entries than the data holds is an error naming the row, found
// before the matrix is allocated: under a 1 GiB address-space limit, a [1, 2·10⁸] matrix of
// doubles (1.6 GB) would not fit (found by the fixture_json fuzzer, which ran out of memory).
TEST(Fixture, AShapeLargerThanItsDataIsAnErrorFoundBeforeAllocating) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer cannot run under an address-space limit";
#else
  const std::string text = R"({"tolerance": {"atol": 0, "rtol": 0, "why": "exact"},)"
                           R"( "values": {"m": {"shape": [1, 200000000], "data": [[]]}}})";
  EXPECT_EXIT(ParseUnderOneGibAndExit(text, "row 0"), ::testing::ExitedWithCode(0), "");
#endif
}

}  // namespace
}  // namespace llmk::testing
