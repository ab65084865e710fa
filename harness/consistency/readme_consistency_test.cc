// For every kata: the README derivation and the fixtures agree number for number,
// every step of kata.json has its README section and its three tiers of hints, and
// every fixture matrix the tests check is shown in the derivation.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numbers>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "llmk/testing/fixture.h"
#include "markdown_tables.h"
#include "worked_checks.h"

namespace llmk::consistency {
namespace {

namespace fs = std::filesystem;
using ::llmk::testing::Fixture;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> Katas() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(fs::path(LLMK_SOURCE_DIR) / "katas")) {
    if (fs::exists(entry.path() / "kata.json")) names.push_back(entry.path().filename());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class KataConsistency : public ::testing::TestWithParam<std::string> {
 protected:
  fs::path KataDir() const { return fs::path(LLMK_SOURCE_DIR) / "katas" / GetParam(); }
  fs::path FixtureDir() const { return fs::path(LLMK_FIXTURE_DIR) / GetParam(); }
  nlohmann::json Meta() const { return nlohmann::json::parse(ReadFile(KataDir() / "kata.json")); }
};

TEST_P(KataConsistency, KataJsonListsStepsInOrder) {
  const nlohmann::json meta = Meta();
  ASSERT_TRUE(meta.contains("steps") && meta["steps"].is_array());
  ASSERT_FALSE(meta["steps"].empty());
  int expected = 1;
  for (const auto& step : meta["steps"]) {
    EXPECT_EQ(step.value("number", 0), expected);
    const std::string suite = step.value("suite", "");
    EXPECT_EQ(suite.rfind(fmt::format("Step{}_", expected), 0), 0u)
        << "suite " << suite << " must start with Step" << expected << "_";
    EXPECT_FALSE(step.value("title", "").empty());
    EXPECT_FALSE(step.value("anchor", "").empty());
    ++expected;
  }
}

TEST_P(KataConsistency, ReadmeHasASectionPerStep) {
  const std::vector<std::string> headings = Headings(ReadFile(KataDir() / "README.md"), 2);
  for (const auto& step : Meta()["steps"]) {
    const std::string heading =
        fmt::format("Step {}: {}", step["number"].get<int>(), step["title"].get<std::string>());
    EXPECT_NE(std::find(headings.begin(), headings.end(), heading), headings.end())
        << "README.md has no section \"## " << heading << "\"";
  }
}

TEST_P(KataConsistency, HintsHaveThreeLevelsPerStep) {
  const std::string hints = ReadFile(KataDir() / "HINTS.md");
  ASSERT_FALSE(hints.empty()) << "HINTS.md is missing or empty";
  for (const auto& step : Meta()["steps"]) {
    const std::string heading = fmt::format("## Step {}: {}", step["number"].get<int>(),
                                            step["title"].get<std::string>());
    const auto at = hints.find(heading + "\n");
    ASSERT_NE(at, std::string::npos) << "HINTS.md has no section \"" << heading << "\"";
    auto end = hints.find("\n## ", at + heading.size());
    const std::string section = hints.substr(at, end == std::string::npos ? end : end - at);
    for (int level = 1; level <= 3; ++level) {
      EXPECT_NE(section.find(fmt::format("\n### Level {}:", level)), std::string::npos)
          << heading << " has no \"### Level " << level << ":\" hint";
    }
  }
}

TEST_P(KataConsistency, EveryNumberTableEqualsItsFixture) {
  const std::string readme = ReadFile(KataDir() / "README.md");
  std::map<std::string, Fixture> fixtures;
  int checked = 0;
  for (const MarkdownTable& table : ReadTables(readme)) {
    if (table.fixture_file.empty()) {
      EXPECT_FALSE(table.numeric) << "README.md line " << table.line
                                  << ": a number table without a <!-- fixture: file#key --> "
                                     "marker; every number table must be tied to a fixture";
      continue;
    }
    const std::string where = fmt::format("README.md line {} ({}#{})", table.marker_line,
                                          table.fixture_file, table.fixture_key);
    if (!fixtures.contains(table.fixture_file)) {
      absl::StatusOr<Fixture> fx = Fixture::FromFile(FixtureDir() / table.fixture_file);
      ASSERT_TRUE(fx.ok()) << where << ": " << fx.status();
      fixtures.emplace(table.fixture_file, *std::move(fx));
    }
    const Fixture& fx = fixtures.at(table.fixture_file);
    ASSERT_TRUE(fx.IsMatrix(table.fixture_key)) << where << ": no matrix of that name";
    ASSERT_FALSE(table.rows.empty()) << where << ": the marker is not followed by a table";
    const MatrixD expected = fx.MatrixD(table.fixture_key);
    ASSERT_EQ(static_cast<Eigen::Index>(table.rows.size()), expected.rows())
        << where << ": the table has " << table.rows.size() << " rows, the fixture "
        << ShapeOf(expected);
    for (Eigen::Index i = 0; i < expected.rows(); ++i) {
      std::vector<TableNumber> numbers;
      const auto& cells = table.rows[static_cast<size_t>(i)];
      for (size_t c = 0; c < cells.size(); ++c) {
        std::optional<TableNumber> n = ParseTableNumber(cells[c]);
        if (n) {
          numbers.push_back(*n);
        } else {
          EXPECT_EQ(c, 0u) << where << " row " << i << ": cell \"" << cells[c]
                           << "\" is not a number (only the first column may be a label)";
        }
      }
      ASSERT_EQ(static_cast<Eigen::Index>(numbers.size()), expected.cols())
          << where << " row " << i << ": " << numbers.size() << " numbers, the fixture "
          << ShapeOf(expected);
      for (Eigen::Index j = 0; j < expected.cols(); ++j) {
        const TableNumber& n = numbers[static_cast<size_t>(j)];
        // The README prints rounded values: half a unit of the last printed digit.
        const double allowed = 0.5 * std::pow(10.0, -n.decimals) * (1 + 1e-9);
        EXPECT_LE(std::abs(n.value - expected(i, j)), allowed)
            << where << " entry (" << i << ", " << j << "): README shows " << cells[j]
            << ", fixture holds " << expected(i, j);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 0) << "README.md shows no fixture table";
}

TEST_P(KataConsistency, EveryFixtureMatrixIsShownInTheReadme) {
  const std::string readme = ReadFile(KataDir() / "README.md");
  std::set<std::string> shown;
  for (const MarkdownTable& table : ReadTables(readme)) {
    if (!table.fixture_file.empty()) shown.insert(table.fixture_file + "#" + table.fixture_key);
  }
  if (!fs::exists(FixtureDir())) GTEST_SKIP() << "no fixtures for this kata";
  for (const auto& entry : fs::directory_iterator(FixtureDir())) {
    if (entry.path().extension() != ".json") continue;
    absl::StatusOr<Fixture> fx = Fixture::FromFile(entry.path());
    ASSERT_TRUE(fx.ok()) << fx.status();
    for (const std::string& key : fx->Keys()) {
      if (!fx->IsMatrix(key)) continue;
      const std::string id = entry.path().filename().string() + "#" + key;
      EXPECT_TRUE(shown.contains(id)) << id << " is checked by the tests but not shown in "
                                      << "README.md (add a table with <!-- fixture: " << id
                                      << " -->)";
    }
  }
}

// Fixture values of one kata for the check expressions, each file parsed once.
class KataLookup {
 public:
  explicit KataLookup(fs::path dir) : dir_(std::move(dir)) {}

  absl::StatusOr<double> operator()(std::string_view file, std::string_view key, int row,
                                    int col) {
    const std::string name(file);
    if (!fixtures_.contains(name)) {
      absl::StatusOr<Fixture> fx = Fixture::FromFile(dir_ / name);
      if (!fx.ok()) return fx.status();
      fixtures_.emplace(name, *std::move(fx));
    }
    const Fixture& fx = fixtures_.at(name);
    const std::string id = fmt::format("{}#{}", file, key);
    if (!fx.Has(key)) return absl::NotFoundError(fmt::format("{} does not exist", id));
    if (row < 0) {
      if (fx.IsMatrix(key)) {
        return absl::InvalidArgumentError(
            fmt::format("{} is a matrix: name an entry, {}[row,col]", id, id));
      }
      return fx.Scalar(key);
    }
    if (!fx.IsMatrix(key)) {
      return absl::InvalidArgumentError(fmt::format("{} is not a matrix", id));
    }
    const MatrixD m = fx.MatrixD(key);
    if (row >= m.rows() || col >= m.cols()) {
      return absl::OutOfRangeError(fmt::format("{}[{},{}] is outside its shape {}", id, row, col,
                                               ShapeOf(m)));
    }
    return m(row, col);
  }

 private:
  fs::path dir_;
  std::map<std::string, Fixture> fixtures_;
};

FixtureLookup LookupFor(const fs::path& dir) {
  auto lookup = std::make_shared<KataLookup>(dir);
  return [lookup](std::string_view file, std::string_view key, int row, int col) {
    return (*lookup)(file, key, row, col);
  };
}

TEST_P(KataConsistency, EveryWorkedCheckHolds) {
  const std::string readme = ReadFile(KataDir() / "README.md");
  for (const std::string& problem : VerifyWorkedChecks(readme, LookupFor(FixtureDir()))) {
    ADD_FAILURE() << problem;
  }
}

// A number printed with 13 or more significant digits claims the last bits of a double;
// such a claim must be a check, evaluated in double.
TEST_P(KataConsistency, DoublePrecisionClaimsAreChecked) {
  const std::string readme = ReadFile(KataDir() / "README.md");
  std::set<std::string> checked;
  for (const WorkedCheck& check : ReadWorkedChecks(readme)) checked.insert(check.printed);
  for (const auto& [line, number] : LongNumbers(readme, 13)) {
    EXPECT_TRUE(checked.contains(number))
        << "README.md line " << line << ": " << number
        << " has 13 or more significant digits; add <!-- check: " << number
        << " = EXPRESSION --> after its block so the claim is evaluated in double";
  }
}

INSTANTIATE_TEST_SUITE_P(AllKatas, KataConsistency, ::testing::ValuesIn(Katas()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return "kata_" + param.param;
                         });

// The reader itself.
TEST(MarkdownTables, ReadsMarkedAndUnmarkedTables) {
  const std::string md =
      "# T\n<!-- fixture: a.json#Q -->\n\n| tok | x | y |\n|---|---|---|\n| the | 1.5 | -2 |\n"
      "\ntext\n| name | role |\n|---|---|\n| Q | query |\n\n| a | b |\n|--|--|\n| 1 | 2 |\n";
  const std::vector<MarkdownTable> tables = ReadTables(md);
  ASSERT_EQ(tables.size(), 3u);
  EXPECT_EQ(tables[0].fixture_file, "a.json");
  EXPECT_EQ(tables[0].fixture_key, "Q");
  EXPECT_TRUE(tables[0].numeric);
  ASSERT_EQ(tables[0].rows.size(), 1u);
  EXPECT_EQ(tables[0].rows[0][2], "-2");
  EXPECT_FALSE(tables[1].numeric);
  EXPECT_TRUE(tables[2].numeric);
  EXPECT_TRUE(tables[2].fixture_file.empty());
}

TEST(MarkdownTables, ParsesPrintedNumbers) {
  EXPECT_EQ(ParseTableNumber("-0.5000")->decimals, 4);
  EXPECT_DOUBLE_EQ(ParseTableNumber("\xE2\x88\x92" "2.25")->value, -2.25);
  EXPECT_DOUBLE_EQ(ParseTableNumber("**3**")->value, 3.0);
  EXPECT_FALSE(ParseTableNumber("3x4").has_value());
  EXPECT_FALSE(ParseTableNumber("the").has_value());
}

// The worked-arithmetic checks themselves.
absl::StatusOr<double> NoFixtures(std::string_view file, std::string_view key, int, int) {
  return absl::NotFoundError(fmt::format("{}#{} does not exist", file, key));
}

double Eval(std::string_view expression) {
  absl::StatusOr<double> value = EvaluateExpression(expression, NoFixtures);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.value_or(std::nan(""));
}

TEST(WorkedChecks, EvaluatesInDoubleLeftToRight) {
  EXPECT_EQ(Eval("1.1 * 10"), 11.0);  // the exact product is a tie, rounded to even
  EXPECT_EQ(Eval("1.1 * 100"), 110.00000000000001);
  EXPECT_EQ(Eval("ceil(1.1 * 100 * 2 / 4)"), 56.0);
  EXPECT_EQ(Eval("1.1 * (100 * 2 / 4)"), 1.1 * 50.0);
  EXPECT_EQ(Eval("2 + 3 * 4 ^ 2 / 8"), 8.0);
  EXPECT_EQ(Eval("-2^2"), -4.0);
  EXPECT_EQ(Eval("2^3^2"), 512.0);
  EXPECT_EQ(Eval("10 - 4 - 3"), 3.0);
  EXPECT_EQ(Eval("2 \xC2\xB7 3 \xC3\x97 4 \xE2\x88\x92 1"), 23.0);  // · × −
  EXPECT_DOUBLE_EQ(Eval("exp(log(2)) + sqrt(16) + abs(-1) + floor(2.5) + round(2.5)"), 12.0);
  EXPECT_EQ(Eval("max(1, 5, 3) - min(4, 2)"), 3.0);
  EXPECT_EQ(Eval("f32(0.1)"), static_cast<double>(0.1f));
  EXPECT_DOUBLE_EQ(Eval("tanh(0) + pi"), std::numbers::pi);
}

TEST(WorkedChecks, NamesWhatDoesNotEvaluate) {
  for (const char* bad : {"2 +", "(1 + 2", "foo(1)", "exp 1", "1 $ 2", "a.json#q[1]",
                          "a.json#", "max(1, 2"}) {
    const absl::StatusOr<double> value = EvaluateExpression(bad, NoFixtures);
    ASSERT_FALSE(value.ok()) << bad;
    EXPECT_NE(value.status().message().find(bad), std::string_view::npos) << value.status();
  }
  EXPECT_THAT(std::string(EvaluateExpression("1 + b.json#w[0,1]", NoFixtures).status().message()),
              ::testing::HasSubstr("b.json#w does not exist"));
}

TEST(WorkedChecks, ReadsFixtureValues) {
  const FixtureLookup lookup = [](std::string_view file, std::string_view key, int row,
                                  int col) -> absl::StatusOr<double> {
    if (file == "a.json" && key == "w" && row == 0 && col == 1) return 0.25;
    if (file == "a.json" && key == "d_k" && row < 0 && col < 0) return 4.0;
    return absl::NotFoundError("no");
  };
  EXPECT_EQ(*EvaluateExpression("4 * a.json#w[0, 1] + a.json#d_k", lookup), 5.0);
}

TEST(WorkedChecks, TiesEachCheckToTheBlockBeforeIt) {
  const std::string md =
      "para one 7\n\n```\nx = 0.5 + 1.25\n```\n\n<!-- check: 1.25 = 5/4 -->\n"
      "<!-- check: 0.5 = 1/2 -->\n\nsecond paragraph\nwith 3 in it\n<!-- check: 3 = 1+2 -->\n"
      "```\n<!-- check: 9 = 9 -->\n```\n";
  const std::vector<WorkedCheck> checks = ReadWorkedChecks(md);
  ASSERT_EQ(checks.size(), 3u);  // the one inside a code block is code, not a check
  EXPECT_EQ(checks[0].line, 7);
  EXPECT_EQ(checks[0].printed, "1.25");
  EXPECT_EQ(checks[0].expression, "5/4");
  EXPECT_EQ(checks[0].block, "```\nx = 0.5 + 1.25\n```\n");
  EXPECT_EQ(checks[1].block, checks[0].block);
  EXPECT_EQ(checks[2].block, "second paragraph\nwith 3 in it\n");
}

TEST(WorkedChecks, FindsWholeNumbersOnly) {
  EXPECT_TRUE(ContainsNumber("= 0.280058 + 1.135982 \xE2\x88\x92 1.151951", "1.151951"));
  EXPECT_TRUE(ContainsNumber("x = \xE2\x88\x92" "2.5,", "-2.5"));
  EXPECT_FALSE(ContainsNumber("x = \xE2\x88\x92" "2.5", "2.5"));  // the sign is part of it
  EXPECT_FALSE(ContainsNumber("1.1359820", "1.135982"));
  EXPECT_FALSE(ContainsNumber("21.135982", "1.135982"));
  EXPECT_FALSE(ContainsNumber("12.5", "12"));
  EXPECT_TRUE(ContainsNumber("is 12.", "12"));
}

// The mistakes the checks exist for: a rounded product printed as the exact one, a claim
// about double rounding that double arithmetic contradicts, a number the text lost.
TEST(WorkedChecks, ReportsEveryKindOfMistake) {
  const FixtureLookup lookup = [](std::string_view, std::string_view, int,
                                  int) -> absl::StatusOr<double> { return 0.28399541; };
  const std::string md =
      "```\n0.283995\xC2\xB7" "4 = 1.135980\n```\n<!-- check: 1.135980 = 4 * w.json#w[0,2] -->\n\n"
      "1.1 \xC2\xB7 10 is 11.000000000000002\n<!-- check: 11.000000000000002 = 1.1 * 10 -->\n\n"
      "ceiling 12\n<!-- check: 12 = ceil(1.1 * 10) -->\n\n"
      "the sum is 1.736185\n<!-- check: 1.736186 = 1.7361854 -->\n\n"
      "text\n<!-- check: 2 -->\n\n"
      "good 0.5\n<!-- check: 0.5 = 1/2 -->\n";
  int checked = 0;
  const std::vector<std::string> problems = VerifyWorkedChecks(md, lookup, &checked);
  EXPECT_EQ(checked, 1);
  ASSERT_EQ(problems.size(), 5u) << ::testing::PrintToString(problems);
  EXPECT_THAT(problems[0], ::testing::HasSubstr("line 4: the README prints 1.135980"));
  EXPECT_THAT(problems[1], ::testing::HasSubstr("line 7: the README prints 11.000000000000002"));
  EXPECT_THAT(problems[2], ::testing::HasSubstr("line 10: the README prints 12"));
  EXPECT_THAT(problems[3], ::testing::HasSubstr("line 13: 1.736186 is not printed"));
  EXPECT_THAT(problems[4], ::testing::HasSubstr("line 16: a check comment must read"));
}

TEST(WorkedChecks, FindsDoublePrecisionClaims) {
  const auto found = LongNumbers(
      "a 11.000000000000002 b 0.000335463\n1234567890123.4 and 12345678901234\n"
      "<!-- check: 1.0000000000001 = 1 -->\n",
      13);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0], std::make_pair(1, std::string("11.000000000000002")));
  EXPECT_EQ(found[1], std::make_pair(2, std::string("1234567890123.4")));
}

}  // namespace
}  // namespace llmk::consistency
