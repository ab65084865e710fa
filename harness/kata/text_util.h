// Small text helpers for printing what untrusted programs wrote: cutting long
// output to a readable size, making bytes safe to embed in JSON and XML, and
// padding columns that hold UTF-8 (kata titles use "Qᵀ", "√d_k").
//
//   std::string shown = llmk::kata::FirstLines(output, 40);   // "...\n... (12 more lines)"
//   std::string safe = llmk::kata::CleanText(raw_bytes);        // valid UTF-8, no escape codes
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace llmk::kata {

// Splits on '\n'; a trailing newline does not make an empty last line.
std::vector<std::string_view> SplitLines(std::string_view text);

// Returns the first `max_lines` lines of `text` (and at most `max_chars`
// characters), followed by "... (N more lines)" when something was cut.
std::string FirstLines(std::string_view text, std::size_t max_lines, std::size_t max_chars = 8000);

// Returns the last `max_lines` lines of `text`, preceded by
// "... (N earlier lines)" when something was cut.
std::string LastLines(std::string_view text, std::size_t max_lines);

// Cuts every line longer than `max_chars` bytes (at a UTF-8 boundary), marking
// the cut with " [...]".
std::string ClipLongLines(std::string_view text, std::size_t max_chars);

// Prefixes every line of `text` with `prefix`.
std::string Indent(std::string_view text, std::string_view prefix);

// Removes trailing spaces, tabs, carriage returns and newlines.
std::string_view TrimRight(std::string_view text);
// Removes leading and trailing whitespace.
std::string_view Trim(std::string_view text);

// Makes arbitrary bytes printable and embeddable: removes ANSI escape sequences,
// replaces invalid UTF-8 with U+FFFD and control characters other than tab and
// newline with U+FFFD ('\r' is dropped).
std::string CleanText(std::string_view bytes);

// Number of terminal columns `utf8` takes, counting one per code point.
std::size_t DisplayWidth(std::string_view utf8);

// Pads `utf8` with spaces to `width` columns (never cuts it).
std::string PadRight(std::string_view utf8, std::size_t width);

}  // namespace llmk::kata
