#include "text_util.h"

#include <gtest/gtest.h>

namespace llmk::kata {
namespace {

TEST(CleanText, MakesBytesSafe) {
  EXPECT_EQ(CleanText("plain\ttext\n"), "plain\ttext\n");
  EXPECT_EQ(CleanText("\x1b[31mred\x1b[0m"), "red");
  EXPECT_EQ(CleanText("a\r\nb"), "a\nb");
  EXPECT_EQ(CleanText("bad \xff byte"), "bad \xEF\xBF\xBD byte");
  EXPECT_EQ(CleanText("nul \x01"), "nul \xEF\xBF\xBD");
  EXPECT_EQ(CleanText("Q·Kᵀ √d"), "Q·Kᵀ √d");
  EXPECT_EQ(CleanText("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
}

TEST(FirstLines, CutsAndSaysHowMuch) {
  EXPECT_EQ(FirstLines("a\nb\nc\n", 2), "a\nb\n... (1 more lines)\n");
  EXPECT_EQ(FirstLines("a\nb\n", 5), "a\nb\n");
  EXPECT_EQ(LastLines("a\nb\nc\n", 2), "... (1 earlier lines)\nb\nc\n");
}

TEST(DisplayWidth, CountsCodePoints) {
  EXPECT_EQ(DisplayWidth("Scores Q·Kᵀ"), 11u);
  EXPECT_EQ(PadRight("√d", 4), "√d  ");
}

}  // namespace
}  // namespace llmk::kata
