// Reference byte-pair encoding: every step done the slowest obvious way, written to be
// read, not to be fast. Tests compare the kata's code with it on random inputs, and
// the benchmark measures the kata's engine against it.
//
// Deliberately independent of katas/01_bpe/bpe.h: plain std types, its own loops.
// Only the character classes (harness/include/llmk/unicode_classes.h) are shared, because
// they are part of the kata's definition of pretokenization, not of its solution.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmk::reference::bpe {

using Ids = std::vector<int>;
using PairKey = std::pair<int, int>;

struct Merge {
  int left = 0;
  int right = 0;
  int id = 0;
  std::int64_t count = 0;
};

// Counts of adjacent pairs over (tokens, count) words, each word weighted by its count.
std::map<PairKey, std::int64_t> CountPairs(const std::vector<std::pair<Ids, std::int64_t>>& words);

// Left-to-right, non-overlapping replacement of `pair` by `new_id`.
Ids MergePair(const Ids& tokens, PairKey pair, int new_id);

// Training by the book: every round recounts all pairs of all words, takes the most
// frequent (ties: smallest (left, right)), and merges it everywhere. Words are byte
// strings with counts; merge r makes id 256 + r.
std::vector<Merge> Train(const std::vector<std::pair<std::string, std::int64_t>>& words,
                         int num_merges);

// id -> bytes for ids 0..255 + merges.size() - 1.
std::vector<std::string> Vocabulary(const std::vector<Merge>& merges);

// bytes -> id; for repeated bytes the lowest id.
std::map<std::string, int> Ranks(const std::vector<std::string>& vocabulary);

// The GPT-2 split pattern tried literally at every position: each alternative in order,
// with the backtracking of \s+(?!\S) done one character at a time.
std::vector<std::string> Pretokenize(std::string_view text);

// tiktoken's rule on one piece: start from single bytes; repeatedly merge the leftmost
// adjacent pair whose concatenation has the lowest rank; map the parts to their ranks.
// Every single byte must have a rank.
Ids EncodePiece(std::string_view piece, const std::map<std::string, int>& ranks);

// Full encoding: split on special tokens (leftmost, then longest), pretokenize the text
// between them, a piece that is itself a token is that token, others go to EncodePiece.
Ids Encode(std::string_view text, const std::map<std::string, int>& ranks,
           const std::map<std::string, int>& specials = {});

// Concatenates vocabulary[id] for every id (ids must be valid).
std::string Decode(const Ids& ids, const std::vector<std::string>& vocabulary);

}  // namespace llmk::reference::bpe
