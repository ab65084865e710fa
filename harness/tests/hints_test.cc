// Reading HINTS.md.
#include "hints.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace llmk::kata {
namespace {

using ::testing::HasSubstr;

constexpr char kHints[] = R"(# Hints for 02_attention

Read the README first.

## Step 1: Project X into Q, K and V

### Level 1: nudge
Each row of X is a token.

### Level 2: idea
One matrix product.

```cpp
## Step 9: not a heading inside a code block
```

### Level 3: formula
Q = X · Wq

## Step 2: Scores

### Level 1: nudge
Dot products.

## Appendix
### Level 7: not a step
)";

TEST(ParseHints, ReadsStepsAndLevels) {
  const std::vector<StepHints> hints = ParseHints(kHints);
  ASSERT_EQ(hints.size(), 2u);
  EXPECT_EQ(hints[0].step, 1);
  EXPECT_EQ(hints[0].title, "Project X into Q, K and V");
  ASSERT_EQ(hints[0].levels.size(), 3u);
  EXPECT_EQ(hints[0].levels[0].name, "nudge");
  EXPECT_EQ(hints[0].levels[0].text, "Each row of X is a token.\n");
  EXPECT_THAT(hints[0].levels[1].text, HasSubstr("## Step 9: not a heading"));
  EXPECT_EQ(hints[0].levels[2].text, "Q = X · Wq\n");
  EXPECT_EQ(hints[1].levels.size(), 1u);
  EXPECT_EQ(MaxHintLevel(hints, 1), 3);
}

TEST(FindHint, ExplainsWhatIsMissing) {
  const std::vector<StepHints> hints = ParseHints(kHints);
  absl::StatusOr<Hint> hint = FindHint(hints, 2, 1, "HINTS.md");
  ASSERT_TRUE(hint.ok());
  EXPECT_EQ(hint->text, "Dot products.\n");
  EXPECT_EQ(std::string(FindHint(hints, 2, 3, "HINTS.md").status().message()),
            "HINTS.md has no level 3 hint for step 2 (levels: 1)");
  EXPECT_EQ(std::string(FindHint(hints, 5, 1, "HINTS.md").status().message()),
            "HINTS.md has no hints for step 5 (it has hints for steps: 1, 2)");
}

}  // namespace
}  // namespace llmk::kata
