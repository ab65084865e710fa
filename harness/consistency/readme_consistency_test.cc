// For every kata: the README derivation and the fixtures agree number for number,
// every step of kata.json has its README section and its three tiers of hints, and
// every fixture matrix the tests check is shown in the derivation.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "llmk/testing/fixture.h"
#include "markdown_tables.h"

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

}  // namespace
}  // namespace llmk::consistency
