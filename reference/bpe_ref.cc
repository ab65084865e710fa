#include "bpe_ref.h"

#include <cstddef>
#include <stdexcept>

// The character classes are the kata's definition of \p{L}, \p{N} and \s.
#include "llmk/unicode_classes.h"

namespace llmk::reference::bpe {

std::map<PairKey, std::int64_t> CountPairs(const std::vector<std::pair<Ids, std::int64_t>>& words) {
  std::map<PairKey, std::int64_t> counts;
  for (const auto& [tokens, count] : words) {
    for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
      counts[{tokens[i], tokens[i + 1]}] += count;
    }
  }
  return counts;
}

Ids MergePair(const Ids& tokens, PairKey pair, int new_id) {
  Ids out;
  std::size_t i = 0;
  while (i < tokens.size()) {
    if (i + 1 < tokens.size() && tokens[i] == pair.first && tokens[i + 1] == pair.second) {
      out.push_back(new_id);
      i += 2;
    } else {
      out.push_back(tokens[i]);
      i += 1;
    }
  }
  return out;
}

std::vector<Merge> Train(const std::vector<std::pair<std::string, std::int64_t>>& words,
                         int num_merges) {
  std::vector<std::pair<Ids, std::int64_t>> state;
  for (const auto& [text, count] : words) {
    Ids tokens;
    for (char c : text) tokens.push_back(static_cast<unsigned char>(c));
    state.emplace_back(tokens, count);
  }
  std::vector<Merge> merges;
  for (int r = 0; r < num_merges; ++r) {
    const std::map<PairKey, std::int64_t> counts = CountPairs(state);
    // The map is ordered by pair, so the first pair with the largest count is the
    // smallest of the tied pairs.
    PairKey best{};
    std::int64_t best_count = 0;
    for (const auto& [pair, count] : counts) {
      if (count > best_count) {
        best = pair;
        best_count = count;
      }
    }
    if (best_count == 0) break;
    const int id = 256 + r;
    merges.push_back({best.first, best.second, id, best_count});
    for (auto& [tokens, count] : state) tokens = MergePair(tokens, best, id);
  }
  return merges;
}

std::vector<std::string> Vocabulary(const std::vector<Merge>& merges) {
  std::vector<std::string> vocabulary;
  for (int b = 0; b < 256; ++b) vocabulary.push_back(std::string(1, static_cast<char>(b)));
  for (const Merge& m : merges) {
    vocabulary.push_back(vocabulary.at(static_cast<std::size_t>(m.left)) +
                         vocabulary.at(static_cast<std::size_t>(m.right)));
  }
  return vocabulary;
}

std::map<std::string, int> Ranks(const std::vector<std::string>& vocabulary) {
  std::map<std::string, int> ranks;
  for (std::size_t id = 0; id < vocabulary.size(); ++id) {
    ranks.emplace(vocabulary[id], static_cast<int>(id));  // keeps the first (lowest) id
  }
  return ranks;
}

namespace {

using llmk::bpe::CharClass;

struct Char {
  std::size_t offset;  // byte offset in the text
  std::size_t length;  // bytes
  CharClass cls;
  bool is_space_char;  // exactly U+0020, the optional space of " ?X+"
};

std::vector<Char> DecodeChars(std::string_view text) {
  std::vector<Char> chars;
  for (std::size_t pos = 0; pos < text.size();) {
    const llmk::bpe::CodePoint cp = llmk::bpe::DecodeAt(text, pos);
    chars.push_back({pos, static_cast<std::size_t>(cp.length), cp.char_class, text[pos] == ' '});
    pos += static_cast<std::size_t>(cp.length);
  }
  return chars;
}

// " ?X+" at chars[i]: the number of characters matched, 0 if no match.
std::size_t MatchOptionalSpaceThenRun(const std::vector<Char>& chars, std::size_t i, CharClass x) {
  // First try with the optional space, as a greedy '?' does.
  if (chars[i].is_space_char && i + 1 < chars.size() && chars[i + 1].cls == x) {
    std::size_t j = i + 1;
    while (j < chars.size() && chars[j].cls == x) ++j;
    return j - i;
  }
  if (chars[i].cls == x) {
    std::size_t j = i;
    while (j < chars.size() && chars[j].cls == x) ++j;
    return j - i;
  }
  return 0;
}

}  // namespace

std::vector<std::string> Pretokenize(std::string_view text) {
  const std::vector<Char> chars = DecodeChars(text);
  std::vector<std::string> pieces;
  std::size_t i = 0;
  while (i < chars.size()) {
    std::size_t matched = 0;  // characters
    // 's|'t|'re|'ve|'m|'ll|'d
    const std::string_view rest = text.substr(chars[i].offset);
    for (std::string_view c : {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}) {
      if (rest.substr(0, c.size()) == c) {
        matched = c.size();  // ASCII: one character per byte
        break;
      }
    }
    // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+'
    for (CharClass x : {CharClass::kLetter, CharClass::kNumber, CharClass::kOther}) {
      if (matched == 0) matched = MatchOptionalSpaceThenRun(chars, i, x);
    }
    // '\s+(?!\S)': the longest run of whitespace that is followed by whitespace or by
    // the end; backtrack one character at a time.
    if (matched == 0 && chars[i].cls == CharClass::kSpace) {
      std::size_t run = 0;
      while (i + run < chars.size() && chars[i + run].cls == CharClass::kSpace) ++run;
      for (std::size_t k = run; k >= 1 && matched == 0; --k) {
        const std::size_t next = i + k;
        if (next == chars.size() || chars[next].cls == CharClass::kSpace) matched = k;
      }
      // '\s+'
      if (matched == 0) matched = run;
    }
    if (matched == 0) throw std::logic_error("reference Pretokenize: no alternative matched");
    const std::size_t begin = chars[i].offset;
    const std::size_t end = i + matched < chars.size() ? chars[i + matched].offset : text.size();
    pieces.emplace_back(text.substr(begin, end - begin));
    i += matched;
  }
  return pieces;
}

Ids EncodePiece(std::string_view piece, const std::map<std::string, int>& ranks) {
  std::vector<std::string> parts;
  for (char c : piece) parts.push_back(std::string(1, c));
  while (parts.size() > 1) {
    std::size_t best_i = 0;
    int best_rank = -1;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      auto it = ranks.find(parts[i] + parts[i + 1]);
      if (it != ranks.end() && (best_rank < 0 || it->second < best_rank)) {
        best_rank = it->second;
        best_i = i;
      }
    }
    if (best_rank < 0) break;
    parts[best_i] += parts[best_i + 1];
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(best_i) + 1);
  }
  Ids ids;
  for (const std::string& part : parts) ids.push_back(ranks.at(part));
  return ids;
}

Ids Encode(std::string_view text, const std::map<std::string, int>& ranks,
           const std::map<std::string, int>& specials) {
  Ids ids;
  std::string ordinary;
  const auto flush = [&]() {
    for (const std::string& piece : Pretokenize(ordinary)) {
      auto whole = ranks.find(piece);
      if (whole != ranks.end()) {
        ids.push_back(whole->second);
      } else {
        for (int id : EncodePiece(piece, ranks)) ids.push_back(id);
      }
    }
    ordinary.clear();
  };
  std::size_t pos = 0;
  while (pos < text.size()) {
    // The longest special token that starts here, if any.
    const std::pair<const std::string, int>* match = nullptr;
    for (const auto& special : specials) {
      if (text.substr(pos, special.first.size()) == special.first &&
          (match == nullptr || special.first.size() > match->first.size())) {
        match = &special;
      }
    }
    if (match != nullptr) {
      flush();
      ids.push_back(match->second);
      pos += match->first.size();
    } else {
      ordinary += text[pos];
      ++pos;
    }
  }
  flush();
  return ids;
}

std::string Decode(const Ids& ids, const std::vector<std::string>& vocabulary) {
  std::string out;
  for (int id : ids) out += vocabulary.at(static_cast<std::size_t>(id));
  return out;
}

}  // namespace llmk::reference::bpe
