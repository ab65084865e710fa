// Kata 01: byte-pair encoding, from the hand-worked merges to a tokenizer that loads a
// published vocabulary.
//
// The API of the kata. The stubs (katas/01_bpe/bpe.cc) and the solution
// (solutions/01_bpe/*.cc) implement this same header; the tests build against both.
// README.md beside this file derives every step on small examples.
//
//   std::vector<bpe::Word> words = bpe::CountWords(text);          // steps 7, 1
//   std::vector<bpe::Merge> merges = bpe::Train(words, 1000);        // steps 1 to 3
//   bpe::Tokenizer tok(merges);                                      // step 4
//   tok.AddSpecialToken("<|endoftext|>");                            // step 8
//   bpe::Tokens ids = tok.Encode("Hello world<|endoftext|>");        // steps 4, 7, 8
//   std::string back = tok.Decode(ids);                              // step 5
//   absl::StatusOr<bpe::Tokenizer> gpt2 = bpe::Tokenizer::FromTiktoken(file_text);  // 10
//
// V = vocabulary size: 256 byte tokens + one token per merge (+ special tokens).
// Token ids: 0..255 are the single bytes (id b is byte b) and merge r makes id 256 + r,
// except in a tokenizer loaded from a rank file, where every id is the file's rank.
//
// Errors: a caller's contract violation (an id that is not a token, a vocabulary smaller
// than the 256 bytes, a merge that uses a token not made yet) throws llmk::InvalidArgument
// naming the argument and the value. A file that does not parse (LoadMerges,
// FromTiktoken) is an expected condition: an absl::Status with code kInvalidArgument whose
// message names the line.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "llmk/core.h"

namespace llmk::bpe {

using TokenId = std::int32_t;
using Tokens = std::vector<TokenId>;

// The byte alphabet: ids 0..255 are the single bytes.
inline constexpr TokenId kNumBytes = 256;

// Two adjacent tokens, left then right. Ordered by left, then right.
struct Pair {
  TokenId left = 0;
  TokenId right = 0;
  friend auto operator<=>(const Pair&, const Pair&) = default;
};

// How often each adjacent pair occurs, ordered by pair.
using PairCounts = std::map<Pair, std::int64_t>;

// One distinct word of a corpus and how many times it occurs. Training works on words
// (pieces of text that merges never cross), each counted once with its multiplicity.
struct Word {
  Tokens tokens;           // starts as the word's bytes
  std::int64_t count = 0;  // occurrences in the corpus, >= 0
};

// One learned merge: the pair of tokens that becomes the new token `id`.
struct Merge {
  Pair pair;
  TokenId id = 0;          // 256 + r for the r-th merge (r from 0)
  std::int64_t count = 0;  // occurrences of the pair when training chose it; 0 if unknown
  friend bool operator==(const Merge&, const Merge&) = default;
};

// The tokens of a byte string before any merge: token i is byte i.
inline Tokens BytesToTokens(std::string_view bytes) {
  Tokens tokens;
  tokens.reserve(bytes.size());
  for (char c : bytes) tokens.push_back(static_cast<unsigned char>(c));
  return tokens;
}

// ---------------------------------------------------------------------------------
// Step 1: count adjacent pairs.

// Counts every adjacent pair (tokens[i], tokens[i+1]). Overlapping pairs count:
// "aaa" holds the pair (a, a) twice.
PairCounts CountPairs(std::span<const TokenId> tokens);

// Counts the pairs of every word, each weighted by the word's count.
PairCounts CountPairs(const std::vector<Word>& words);

// ---------------------------------------------------------------------------------
// Step 2: merge one pair.

// Replaces every occurrence of `pair` by `new_id`, scanning left to right; an
// occurrence that overlaps one already replaced is not replaced ("aaa" with (a, a)
// becomes [new_id, a]).
Tokens MergePair(std::span<const TokenId> tokens, Pair pair, TokenId new_id);

// ---------------------------------------------------------------------------------
// Step 3: training.

// What Train reports while it runs.
struct TrainProgress {
  int merges_done = 0;             // merges made so far
  int merges_requested = 0;        // num_merges
  double seconds = 0.0;            // since Train started
  double merges_per_second = 0.0;  // merges_done / seconds
  Merge last;                      // the merge just made
};

struct TrainOptions {
  // Called after every `progress_every`-th merge, and once more after the last merge
  // if that one was not reported yet. Returning false stops training at once: Train
  // returns the merges made so far. Empty: no reports.
  std::function<bool(const TrainProgress&)> on_progress;
  int progress_every = 1000;  // >= 1
};

// Learns up to num_merges merges from a word table. Each round counts the pairs of all
// words (weighted by word count), picks the most frequent pair, breaks ties by the
// smallest pair (left id first, then right id), gives it the next id (256 + r) and
// merges it in every word. Stops early when no pair is left (every word is one token).
// Word order does not matter. Words must hold bytes only (ids 0..255), counts >= 0,
// num_merges >= 0.
std::vector<Merge> Train(const std::vector<Word>& words, int num_merges,
                         const TrainOptions& options = {});

// ---------------------------------------------------------------------------------
// Step 6: the byte-level alphabet, as GPT-2 prints it.

// The printable character that stands for `byte` in GPT-2's vocabulary files, as UTF-8.
// Bytes that are printable and not a space (33..126, 161..172, 174..255) stand for
// themselves (as code points of the same value); the other 68 bytes (0..32, 127..160,
// 173), in increasing order, take the code points 256, 257, ... 323. So ' ' is "Ġ"
// (U+0120) and '\n' is "Ċ" (U+010A).
std::string ByteToPrintable(std::uint8_t byte);

// The printable form of a token's bytes: ByteToPrintable of each byte, concatenated.
std::string PrintableToken(std::string_view bytes);

// The inverse of PrintableToken. Throws InvalidArgument if `printable` holds a character
// that is not one of the 256 printable stand-ins (or is not valid UTF-8).
std::string BytesFromPrintable(std::string_view printable);

// ---------------------------------------------------------------------------------
// Step 7: pretokenization with the GPT-2 split pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// with the character classes of unicode_classes.h.

// The end of the piece that starts at text[start] (start < text.size()): the
// alternatives of the pattern are tried in order at `start`, each greedy, and the
// first that matches gives the piece. The end of `text` is the end of the input (the
// lookahead (?!\S) sees nothing beyond it).
std::size_t PieceEnd(std::string_view text, std::size_t start);

// Splits text into pieces that concatenate back to text; merges never cross pieces.
std::vector<std::string_view> Pretokenize(std::string_view text);

// The word table of a text: each distinct piece once, with its tokens (bytes) and
// how often it occurs, sorted by the piece's bytes.
std::vector<Word> CountWords(std::string_view text);

// Trains a byte-level vocabulary of vocab_size tokens on text: the 256 bytes and
// vocab_size - 256 merges learned from CountWords(text). vocab_size >= 256.
std::vector<Merge> TrainOnText(std::string_view text, int vocab_size,
                               const TrainOptions& options = {});

// ---------------------------------------------------------------------------------
// Step 9: saving and loading merges.

// One merge per line, "left right count", in merge order, after a comment line
// starting with '#'. Line r makes token 256 + r.
std::string SaveMerges(const std::vector<Merge>& merges);

// Reads what SaveMerges writes. Blank lines and lines starting with '#' are skipped;
// every other line is "left right" or "left right count" (decimal, single spaces).
// Any problem gives InvalidArgument naming the line and what is wrong with it: a layout
// that is not one space between 2 or 3 fields (a tab, two spaces, a space at either end),
// a field that is not a decimal number, is negative or does not fit an int64, a token not
// made by an earlier line (left or right >= 256 + r), or a merge whose bytes an earlier
// line already made (every file LoadMerges accepts makes a Tokenizer).
absl::StatusOr<std::vector<Merge>> LoadMerges(std::string_view text);

// ---------------------------------------------------------------------------------
// Steps 4, 5, 7, 8 and 10: a tokenizer.
//
// Encoding rule (tiktoken's): a piece starts as one token per byte; while some
// adjacent pair of tokens (a, b) concatenates to the bytes of a token, the pair whose
// token has the lowest id (the rank) is merged, the leftmost one on ties.
//
// Not thread-safe: Encode may fill a cache. Use one Tokenizer per thread.
class Tokenizer {
 public:
  // Step 4. The vocabulary of `merges`: ids 0..255 are the bytes, merges[r] makes
  // 256 + r from the bytes of its pair. Throws InvalidArgument if merges[r].id is not
  // 256 + r, if its pair uses an id >= 256 + r, or if its bytes are already a token.
  explicit Tokenizer(const std::vector<Merge>& merges);

  // Step 10. Loads a tiktoken rank file: one token per line, "<base64 bytes> <rank>".
  // The token ids are the ranks. InvalidArgument status naming the line if a line is
  // not "base64 space rank", the base64 is not canonical (standard alphabet, '='
  // padding) or decodes to nothing, a rank is repeated, or two lines hold the same
  // bytes; and, for the whole file, if the ranks are not 0..n-1 or a single byte is
  // missing (a byte-level vocabulary has all 256).
  static absl::StatusOr<Tokenizer> FromTiktoken(std::string_view rank_file);

  // Step 10. The ordinary tokens as a rank file, in id order (special tokens are not
  // part of the format). FromTiktoken(ToTiktoken()) encodes like this tokenizer.
  std::string ToTiktoken() const;

  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // Step 4. V: ordinary tokens plus special tokens.
  int vocab_size() const;

  // Step 4. The ordinary token whose bytes are exactly `bytes`, if any.
  std::optional<TokenId> TokenFor(std::string_view bytes) const;

  // Step 4. Encodes one piece by the encoding rule above, with no pretokenization and
  // no special tokens. Every byte string encodes.
  Tokens EncodePiece(std::string_view piece) const;

  // Step 5. The bytes of token `id` (the text of a special token).
  // Throws InvalidArgument unless 0 <= id < vocab_size().
  const std::string& TokenBytes(TokenId id) const;

  // Step 5. The concatenated bytes of `ids`. Throws InvalidArgument naming the index
  // and the value of the first id that is not a token.
  std::string Decode(std::span<const TokenId> ids) const;

  // Steps 7 and 8. Encodes text: special tokens are matched first (Step 8), the text
  // between them is pretokenized (Step 7) and each piece encoded: a piece whose bytes
  // are a token becomes that token, any other piece is EncodePiece(piece).
  Tokens Encode(std::string_view text) const;

  // Step 8. Like Encode, but special tokens are ordinary text.
  Tokens EncodeOrdinary(std::string_view text) const;

  // Step 8. Registers a special token: it gets the id vocab_size() (returned), is
  // matched whole in Encode and never split. Where two special tokens could match,
  // the one that starts first wins, and of those the longest. Throws InvalidArgument
  // if text is empty or already a special token.
  TokenId AddSpecialToken(std::string_view text);

 private:
  struct Impl;  // yours to define in bpe.cc
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmk::bpe
