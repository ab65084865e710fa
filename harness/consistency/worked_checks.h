// Checks the numbers of worked arithmetic that no fixture table holds. A README states
// how a printed number is obtained in a comment placed after the paragraph or code block
// that prints it:
//
//   ```
//   out[1] = 0.280058 + 1.135982 − 1.151951 = 0.2641
//   ```
//   <!-- check: 1.135982 = 4 * attention.json#weights[0,1] -->
//   <!-- check: 56 = ceil(1.1 * 100 * 2 / 4) -->
//
// The expression is evaluated in double, left to right as C++ would; the printed number
// must appear in that block and equal the value to half a unit of its last digit.
// Expressions: numbers, + - * / ^ (also · × −), parentheses, pi, the functions exp log
// sqrt tanh abs ceil floor round min max f32 (rounds to float), and fixture values of the
// kata: file.json#key for a scalar, file.json#key[i,j] for a matrix entry.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace llmk::consistency {

struct WorkedCheck {
  int line = 0;            // 1-based line of the comment
  std::string printed;     // the number as the README prints it ("1.135982")
  std::string expression;  // what it must equal
  std::string block;       // the paragraph or code block before the comment
};

// A fixture value: (file, key, row, col) with row = col = -1 for a scalar.
using FixtureLookup =
    std::function<absl::StatusOr<double>(std::string_view file, std::string_view key, int row,
                                         int col)>;

// Every `<!-- check: NUMBER = EXPRESSION -->` of `markdown`, with the block it refers to.
// A comment that is not of that form is returned with an empty `printed`.
std::vector<WorkedCheck> ReadWorkedChecks(std::string_view markdown);

// Evaluates `expression` in double; InvalidArgument names what could not be read.
absl::StatusOr<double> EvaluateExpression(std::string_view expression,
                                          const FixtureLookup& lookup);

// True when `number` occurs in `text` as a whole number (not inside a longer one);
// U+2212 MINUS SIGN in the text reads as '-'.
bool ContainsNumber(std::string_view text, std::string_view number);

// Every problem of the checks of `markdown`, one message each naming its line: a comment
// that is not `check: NUMBER = EXPRESSION`, a number its block does not print, an
// expression that does not evaluate, a value that differs from the printed number.
// `checked` counts the checks that hold.
std::vector<std::string> VerifyWorkedChecks(std::string_view markdown, const FixtureLookup& lookup,
                                            int* checked = nullptr);

// Decimal fractions of `markdown` printed with at least `digits` significant digits
// (claims about the last bits of a double), each with its 1-based line. Integers are not
// among them: a long integer is a seed or a count, not a rounding claim.
std::vector<std::pair<int, std::string>> LongNumbers(std::string_view markdown, int digits);

}  // namespace llmk::consistency
