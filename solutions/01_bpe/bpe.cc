// Solution of kata 01, steps 1, 2, 6 and 9: pair counts, merging one pair, GPT-2's
// printable byte alphabet, and the merges file. Training is in train.cc, the
// pretokenizer in pretokenize.cc, the tokenizer engine in tokenizer.cc.
#include "bpe.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "unicode_classes.h"

namespace llmk::bpe {

// Step 1: every adjacent pair, overlapping ones included.
PairCounts CountPairs(std::span<const TokenId> tokens) {
  PairCounts counts;
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) ++counts[{tokens[i], tokens[i + 1]}];
  return counts;
}

// Step 1: a word's pairs count as often as the word occurs.
PairCounts CountPairs(const std::vector<Word>& words) {
  PairCounts counts;
  for (const Word& word : words) {
    for (std::size_t i = 0; i + 1 < word.tokens.size(); ++i) {
      counts[{word.tokens[i], word.tokens[i + 1]}] += word.count;
    }
  }
  return counts;
}

// Step 2: left to right; after a replacement the scan resumes after the pair.
Tokens MergePair(std::span<const TokenId> tokens, Pair pair, TokenId new_id) {
  Tokens out;
  out.reserve(tokens.size());
  std::size_t i = 0;
  while (i < tokens.size()) {
    if (i + 1 < tokens.size() && tokens[i] == pair.left && tokens[i + 1] == pair.right) {
      out.push_back(new_id);
      i += 2;
    } else {
      out.push_back(tokens[i++]);
    }
  }
  return out;
}

namespace {

// Step 6: printable bytes keep their value; the 68 others take 256.. in byte order:
// 0..32 -> 256..288, 127..160 -> 289..322, 173 -> 323.
char32_t PrintableCodePoint(std::uint8_t b) {
  if (b <= 32) return 256u + b;
  if (b >= 127 && b <= 160) return 289u + (b - 127u);
  if (b == 173) return 323;
  return b;
}

void AppendUtf8(char32_t c, std::string& out) {  // c < 0x800 here
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// Step 9: a non-negative decimal integer, digits only, at most `max`.
// Debian's abseil has its own string_view type.
absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

// Step 9: one field of a merge line as a non-negative decimal int64, or a message saying
// what it is instead ("is negative", "is not a decimal number", "is too large").
std::string ParseField(std::string_view name, std::string_view text, std::int64_t& value) {
  const auto quoted = [&] { return absl::CHexEscape(AbslView(text.substr(0, 40))); };
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == text.npos;
  if (!digits) {
    if (text.size() > 1 && text.front() == '-' &&
        text.find_first_not_of("0123456789", 1) == text.npos) {
      return absl::StrFormat("%s \"%s\" is negative", name, quoted());
    }
    return absl::StrFormat("%s \"%s\" is not a decimal number", name, quoted());
  }
  value = 0;
  for (char c : text) {
    const int digit = c - '0';
    if (value > (INT64_MAX - digit) / 10) {
      return absl::StrFormat("%s \"%s\" is too large (at most %d)", name, quoted(), INT64_MAX);
    }
    value = value * 10 + digit;
  }
  return "";
}

}  // namespace

std::string ByteToPrintable(std::uint8_t byte) {
  std::string out;
  AppendUtf8(PrintableCodePoint(byte), out);
  return out;
}

std::string PrintableToken(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) AppendUtf8(PrintableCodePoint(static_cast<std::uint8_t>(c)), out);
  return out;
}

std::string BytesFromPrintable(std::string_view printable) {
  std::string out;
  for (std::size_t pos = 0; pos < printable.size();) {
    const CodePoint cp = DecodeAt(printable, pos);
    const char32_t c = cp.value;
    int byte = -1;
    if (cp.length == 1 && static_cast<unsigned char>(printable[pos]) >= 0x80) {
      byte = -1;  // not valid UTF-8
    } else if ((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255)) {
      byte = static_cast<int>(c);
    } else if (c >= 256 && c <= 288) {
      byte = static_cast<int>(c - 256);
    } else if (c >= 289 && c <= 322) {
      byte = static_cast<int>(c - 289 + 127);
    } else if (c == 323) {
      byte = 173;
    }
    if (byte < 0) {
      Require(false, "BytesFromPrintable",
              absl::StrFormat("printable has U+%04X at byte %d, which stands for no byte "
                              "(the alphabet is 33..126, 161..172, 174..255 and "
                              "U+0100..U+0143)",
                              static_cast<std::uint32_t>(c), pos));
    }
    out += static_cast<char>(byte);
    pos += static_cast<std::size_t>(cp.length);
  }
  return out;
}

// Step 9.
std::string SaveMerges(const std::vector<Merge>& merges) {
  std::string out = absl::StrCat("# bpe merges: ", merges.size(),
                                 "; line r makes token 256 + r; fields: left right count\n");
  for (const Merge& m : merges) {
    absl::StrAppend(&out, m.pair.left, " ", m.pair.right, " ", m.count, "\n");
  }
  return out;
}

absl::StatusOr<std::vector<Merge>> LoadMerges(std::string_view text) {
  std::vector<Merge> merges;
  // The bytes of every token so far, and for each merged token its line: a file that
  // makes the same bytes twice is rejected here, not later by the Tokenizer.
  std::vector<std::string> vocab;
  vocab.reserve(kNumBytes);
  for (int b = 0; b < kNumBytes; ++b) vocab.emplace_back(1, static_cast<char>(b));
  absl::flat_hash_map<std::string, int> made_on_line;
  const auto error = [](int line_number, std::string_view message) {
    return absl::InvalidArgumentError(
        absl::StrFormat("LoadMerges: line %d: %s", line_number, message));
  };
  int line_number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    // Fields are separated by exactly one space; say where the layout is wrong.
    for (std::size_t i = 0; i < line.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(line[i]);
      if (c == '\t') {
        return error(line_number, absl::StrFormat("a tab at column %d: fields are separated by "
                                                  "one space (\"left right [count]\")",
                                                  i + 1));
      }
      if (c == ' ' && i == 0) {
        return error(line_number, "a space at the start of the line (a line is \"left right\" "
                                  "or \"left right count\")");
      }
      if (c == ' ' && i + 1 == line.size()) {
        return error(line_number, "a space at the end of the line");
      }
      if (c == ' ' && line[i + 1] == ' ') {
        return error(line_number,
                     absl::StrFormat("two spaces in a row at column %d: fields are separated "
                                     "by one space",
                                     i + 1));
      }
    }
    std::vector<std::string_view> fields;
    for (std::size_t from = 0;;) {
      const std::size_t space = line.find(' ', from);
      fields.push_back(line.substr(from, space == std::string_view::npos ? space : space - from));
      if (space == std::string_view::npos) break;
      from = space + 1;
    }
    if (fields.size() != 2 && fields.size() != 3) {
      return error(line_number,
                   absl::StrFormat("expected 2 or 3 fields (\"left right\" or \"left right "
                                   "count\"; a comment line starts with '#'), got %d",
                                   fields.size()));
    }
    const TokenId id = kNumBytes + static_cast<TokenId>(merges.size());
    std::int64_t parts[2] = {0, 0};
    for (int f = 0; f < 2; ++f) {
      const std::string_view name = f == 0 ? "left" : "right";
      std::string problem = ParseField(name, fields[static_cast<std::size_t>(f)], parts[f]);
      if (problem.empty() && parts[f] >= id) {
        problem = absl::StrFormat(
            "%s %d is not a token made before this merge: this line makes token %d, so left "
            "and right are 0..%d",
            name, parts[f], id, id - 1);
      }
      if (!problem.empty()) return error(line_number, problem);
    }
    std::int64_t count = 0;
    if (fields.size() == 3) {
      if (std::string problem = ParseField("count", fields[2], count); !problem.empty()) {
        return error(line_number, problem);
      }
    }
    std::string bytes = vocab[static_cast<std::size_t>(parts[0])] +
                        vocab[static_cast<std::size_t>(parts[1])];
    auto [at, fresh] = made_on_line.emplace(bytes, line_number);
    if (!fresh) {
      return error(line_number,
                   absl::StrFormat("\"%d %d\" makes \"%s\", which line %d already made: each "
                                   "token is made by one merge",
                                   parts[0], parts[1], absl::CHexEscape(bytes), at->second));
    }
    vocab.push_back(std::move(bytes));
    merges.push_back({{static_cast<TokenId>(parts[0]), static_cast<TokenId>(parts[1])}, id, count});
  }
  return merges;
}

}  // namespace llmk::bpe
