// Error-path assertions: a bad input must throw llmk::InvalidArgument, and the
// message must name what was wrong.
//
//   EXPECT_INVALID_ARGUMENT(Project(x, w), {"w", "4x2", "3x2"});
//
// A stub that still throws llmk::NotImplemented fails this check with the stub's
// own message, which the harness reports as "todo".
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace llmk::testing {

::testing::AssertionResult ThrowsInvalidArgument(const char* statement_text,
                                                 const std::function<void()>& statement,
                                                 const std::vector<std::string>& must_mention);

}  // namespace llmk::testing

#define EXPECT_INVALID_ARGUMENT(statement, ...)                                   \
  EXPECT_TRUE(::llmk::testing::ThrowsInvalidArgument(                             \
      #statement, [&]() { static_cast<void>(statement); }, __VA_ARGS__))
