#include "markdown_tables.h"

#include <charconv>
#include <regex>
#include <sstream>

namespace llmk::consistency {
namespace {

bool IsTableRow(const std::string& line) {
  const std::string t = Trim(line);
  return t.size() >= 2 && t.front() == '|';
}

bool IsSeparatorRow(const std::string& line) {
  const std::string t = Trim(line);
  if (!IsTableRow(t)) return false;
  return t.find_first_not_of("|-: ") == std::string::npos && t.find('-') != std::string::npos;
}

std::vector<std::string> Cells(const std::string& line) {
  std::string t = Trim(line);
  if (!t.empty() && t.front() == '|') t.erase(0, 1);
  if (!t.empty() && t.back() == '|') t.pop_back();
  std::vector<std::string> cells;
  std::string cell;
  for (char c : t) {
    if (c == '|') {
      cells.push_back(Trim(cell));
      cell.clear();
    } else {
      cell += c;
    }
  }
  cells.push_back(Trim(cell));
  return cells;
}

}  // namespace

std::string Trim(std::string_view s) {
  const auto begin = s.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return "";
  const auto end = s.find_last_not_of(" \t\r");
  return std::string(s.substr(begin, end - begin + 1));
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in{std::string(text)};
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::optional<TableNumber> ParseTableNumber(std::string_view cell) {
  std::string s = Trim(cell);
  // Strip emphasis and code marks: **0.5**, `0.5`.
  std::erase_if(s, [](char c) { return c == '*' || c == '`'; });
  // U+2212 MINUS SIGN is written by some editors; read it as '-'.
  const std::string minus = "\xE2\x88\x92";
  if (s.rfind(minus, 0) == 0) s = "-" + s.substr(minus.size());
  if (s.empty()) return std::nullopt;
  const char* first = s.data();
  if (*first == '+') ++first;
  double value = 0.0;
  auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  TableNumber n;
  n.value = value;
  const auto dot = s.find('.');
  const auto exp = s.find_first_of("eE");
  if (dot != std::string::npos) {
    n.decimals = static_cast<int>((exp == std::string::npos ? s.size() : exp) - dot - 1);
  }
  if (exp != std::string::npos) n.decimals -= std::stoi(s.substr(exp + 1));
  return n;
}

std::vector<MarkdownTable> ReadTables(std::string_view markdown) {
  static const std::regex kMarker(R"(<!--\s*fixture:\s*([^#\s]+)#(\S+)\s*-->)");
  const std::vector<std::string> lines = Lines(markdown);
  std::vector<MarkdownTable> tables;
  std::optional<MarkdownTable> pending;  // a marker waiting for its table
  bool in_code = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string t = Trim(lines[i]);
    if (t.rfind("```", 0) == 0) {
      in_code = !in_code;
      continue;
    }
    if (in_code) continue;
    std::smatch m;
    if (std::regex_search(t, m, kMarker)) {
      if (pending) tables.push_back(*pending);  // a marker with no table after it
      pending = MarkdownTable{};
      pending->fixture_file = m[1];
      pending->fixture_key = m[2];
      pending->marker_line = static_cast<int>(i + 1);
      continue;
    }
    if (t.empty()) continue;
    if (IsTableRow(t) && i + 1 < lines.size() && IsSeparatorRow(lines[i + 1])) {
      MarkdownTable table = pending ? *pending : MarkdownTable{};
      pending.reset();
      table.line = static_cast<int>(i + 1);
      size_t j = i + 2;
      for (; j < lines.size() && IsTableRow(lines[j]); ++j) {
        std::vector<std::string> cells = Cells(lines[j]);
        for (size_t c = 1; c < cells.size(); ++c) {
          if (ParseTableNumber(cells[c])) table.numeric = true;
        }
        if (cells.size() == 1 && ParseTableNumber(cells[0])) table.numeric = true;
        table.rows.push_back(std::move(cells));
      }
      tables.push_back(std::move(table));
      i = j - 1;
      continue;
    }
    if (pending) {  // the marker is followed by prose, not a table
      tables.push_back(*pending);
      pending.reset();
    }
  }
  if (pending) tables.push_back(*pending);
  return tables;
}

std::vector<std::string> Headings(std::string_view markdown, int level) {
  const std::string prefix = std::string(static_cast<size_t>(level), '#') + " ";
  std::vector<std::string> headings;
  bool in_code = false;
  for (const std::string& line : Lines(markdown)) {
    if (Trim(line).rfind("```", 0) == 0) in_code = !in_code;
    if (!in_code && line.rfind(prefix, 0) == 0) headings.push_back(Trim(line.substr(prefix.size())));
  }
  return headings;
}

}  // namespace llmk::consistency
