// Solution of kata 01, step 7: the GPT-2 split pattern, hand-written.
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// ASCII characters are classified by a 128-entry table; everything else goes through
// DecodeAt. No allocation: a piece is a (start, end) range of the input.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "bpe.h"
#include "unicode_classes.h"

namespace llmk::bpe {
namespace {

constexpr std::array<CharClass, 128> MakeAsciiClasses() {
  std::array<CharClass, 128> classes{};
  for (int c = 0; c < 128; ++c) {
    classes[static_cast<std::size_t>(c)] =
        unicode_internal::AsciiClassOf(static_cast<char32_t>(c));
  }
  return classes;
}
constexpr std::array<CharClass, 128> kAscii = MakeAsciiClasses();

struct Char {
  CharClass cls;
  int length;
};

inline Char CharAt(std::string_view text, std::size_t pos) {
  const auto b = static_cast<unsigned char>(text[pos]);
  if (b < 0x80) return {kAscii[b], 1};
  const CodePoint cp = DecodeAt(text, pos);
  return {cp.char_class, cp.length};
}

// The end of the run of characters of class `cls` that starts at pos.
inline std::size_t RunEnd(std::string_view text, std::size_t pos, CharClass cls) {
  while (pos < text.size()) {
    const Char c = CharAt(text, pos);
    if (c.cls != cls) break;
    pos += static_cast<std::size_t>(c.length);
  }
  return pos;
}

// 's 't 're 've 'm 'll 'd at text[start] == '\'': the length matched, or 0.
inline std::size_t Contraction(std::string_view text, std::size_t start) {
  if (start + 1 >= text.size()) return 0;
  switch (text[start + 1]) {
    case 's':
    case 't':
    case 'm':
    case 'd':
      return 2;
    case 'r':
    case 'v':
      return start + 2 < text.size() && text[start + 2] == 'e' ? 3 : 0;
    case 'l':
      return start + 2 < text.size() && text[start + 2] == 'l' ? 3 : 0;
    default:
      return 0;
  }
}

}  // namespace

std::size_t PieceEnd(std::string_view text, std::size_t start) {
  Require(start < text.size(), "PieceEnd", "start must be < text.size()");
  if (text[start] == '\'') {
    const std::size_t n = Contraction(text, start);
    if (n > 0) return start + n;
  }
  const Char first = CharAt(text, start);
  // ' ?X+' with the optional space: a space followed by a letter, number or other.
  if (text[start] == ' ' && start + 1 < text.size()) {
    const Char next = CharAt(text, start + 1);
    if (next.cls != CharClass::kSpace) return RunEnd(text, start + 1, next.cls);
  }
  // ' ?X+' without it.
  if (first.cls != CharClass::kSpace) return RunEnd(text, start, first.cls);
  // '\s+(?!\S)': the whole run if it ends the text, else the run minus its last
  // character when that leaves something; otherwise '\s+' takes the single character.
  std::size_t last = start;  // start of the run's last character
  std::size_t end = start + static_cast<std::size_t>(first.length);
  while (end < text.size()) {
    const Char c = CharAt(text, end);
    if (c.cls != CharClass::kSpace) break;
    last = end;
    end += static_cast<std::size_t>(c.length);
  }
  if (end == text.size() || last == start) return end;
  return last;
}

std::vector<std::string_view> Pretokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t end = PieceEnd(text, pos);
    pieces.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return pieces;
}

std::vector<Word> CountWords(std::string_view text) {
  // Every distinct piece once: a hash map from the piece (a view into text) to its count.
  absl::flat_hash_map<std::string_view, std::int64_t> counts;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t end = PieceEnd(text, pos);
    ++counts[text.substr(pos, end - pos)];
    pos = end;
  }
  std::vector<std::pair<std::string_view, std::int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<Word> words;
  words.reserve(sorted.size());
  for (const auto& [piece, count] : sorted) words.push_back({BytesToTokens(piece), count});
  return words;
}

}  // namespace llmk::bpe
