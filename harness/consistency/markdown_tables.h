// Reads the number tables of a kata README and the fixture each one is tied to:
//
//   <!-- fixture: single_head.json#Q -->
//   | token | Q[:,0] | Q[:,1] |
//   |---|---|---|
//   | the | 1.5000 | -0.5000 |
//
// The first column may be a text label; every other data cell is a number.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmk::consistency {

struct TableNumber {
  double value = 0.0;
  int decimals = 0;  // digits after the point as printed
};

struct MarkdownTable {
  int line = 0;                   // 1-based line of the header row
  std::string fixture_file;       // from the marker; empty when unmarked
  std::string fixture_key;        // from the marker
  int marker_line = 0;            // 0 when unmarked
  std::vector<std::vector<std::string>> rows;  // data rows, cells trimmed
  bool numeric = false;           // some data cell past the first column is a number
};

// Parses a number as printed in a README ("-0.5000", "1", "−2.25"); nullopt if the
// cell is not exactly one number.
std::optional<TableNumber> ParseTableNumber(std::string_view cell);

// Every table of `markdown`, with the fixture marker that precedes it (blank lines
// allowed in between). A marker followed by something other than a table gives a
// table with no rows at the marker's line.
std::vector<MarkdownTable> ReadTables(std::string_view markdown);

// The text without leading and trailing blanks (spaces, tabs, carriage returns).
std::string Trim(std::string_view s);

// The lines of `text`, without their newlines.
std::vector<std::string> Lines(std::string_view text);

// Level-2 headings ("## ...") without the hashes.
std::vector<std::string> Headings(std::string_view markdown, int level);

}  // namespace llmk::consistency
