// Your implementation of bpe.h. Replace each `throw llmk::NotImplemented(...)` with the
// step's code; README.md derives every step, HINTS.md helps when stuck.
// Run `./kata test 01` after each change.
//
// Validate inputs first: a contract violation throws llmk::InvalidArgument naming the
// argument and the value (llmk::Require in llmk/core.h builds such messages). A file
// that does not parse is not a contract violation: return absl::InvalidArgumentError.
//
// Useful here: std::map and std::set, absl::flat_hash_map ("absl/container/
// flat_hash_map.h"), absl::Base64Escape / absl::Base64Unescape
// ("absl/strings/escaping.h"), absl::StrFormat ("absl/strings/str_format.h"), and
// DecodeAt / ClassOf from unicode_classes.h for Step 7.
#include "bpe.h"

#include "unicode_classes.h"

namespace llmk::bpe {

// Step 1: count every adjacent pair.
PairCounts CountPairs(std::span<const TokenId> tokens) { throw NotImplemented("CountPairs"); }

// Step 1: the same over a word table, each word weighted by its count.
PairCounts CountPairs(const std::vector<Word>& words) { throw NotImplemented("CountPairs"); }

// Step 2: replace the pair left to right, without overlaps.
Tokens MergePair(std::span<const TokenId> tokens, Pair pair, TokenId new_id) {
  throw NotImplemented("MergePair");
}

// Step 3: repeat "count, pick the most frequent pair, merge it" num_merges times.
std::vector<Merge> Train(const std::vector<Word>& words, int num_merges,
                         const TrainOptions& options) {
  throw NotImplemented("Train");
}

// Step 6: GPT-2's printable stand-in of a byte.
std::string ByteToPrintable(std::uint8_t byte) { throw NotImplemented("ByteToPrintable"); }

std::string PrintableToken(std::string_view bytes) { throw NotImplemented("PrintableToken"); }

std::string BytesFromPrintable(std::string_view printable) {
  throw NotImplemented("BytesFromPrintable");
}

// Step 7: the GPT-2 split pattern, one piece at a time.
std::size_t PieceEnd(std::string_view text, std::size_t start) { throw NotImplemented("PieceEnd"); }

std::vector<std::string_view> Pretokenize(std::string_view text) {
  throw NotImplemented("Pretokenize");
}

std::vector<Word> CountWords(std::string_view text) { throw NotImplemented("CountWords"); }

std::vector<Merge> TrainOnText(std::string_view text, int vocab_size, const TrainOptions& options) {
  throw NotImplemented("TrainOnText");
}

// Step 9: the merges file.
std::string SaveMerges(const std::vector<Merge>& merges) { throw NotImplemented("SaveMerges"); }

absl::StatusOr<std::vector<Merge>> LoadMerges(std::string_view text) {
  throw NotImplemented("LoadMerges");
}

// The tokenizer. What it holds is yours to choose: the bytes of every token, a map
// from bytes to id, the special tokens, ...
struct Tokenizer::Impl {};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

// Step 4: ids 0..255 are the bytes, merges[r] makes 256 + r.
Tokenizer::Tokenizer(const std::vector<Merge>& merges) {
  throw NotImplemented("Tokenizer::Tokenizer");
}

// Step 10: the tiktoken rank file.
absl::StatusOr<Tokenizer> Tokenizer::FromTiktoken(std::string_view rank_file) {
  throw NotImplemented("Tokenizer::FromTiktoken");
}

std::string Tokenizer::ToTiktoken() const { throw NotImplemented("Tokenizer::ToTiktoken"); }

// Step 4.
int Tokenizer::vocab_size() const { throw NotImplemented("Tokenizer::vocab_size"); }

std::optional<TokenId> Tokenizer::TokenFor(std::string_view bytes) const {
  throw NotImplemented("Tokenizer::TokenFor");
}

Tokens Tokenizer::EncodePiece(std::string_view piece) const {
  throw NotImplemented("Tokenizer::EncodePiece");
}

// Step 5.
const std::string& Tokenizer::TokenBytes(TokenId id) const {
  throw NotImplemented("Tokenizer::TokenBytes");
}

std::string Tokenizer::Decode(std::span<const TokenId> ids) const {
  throw NotImplemented("Tokenizer::Decode");
}

// Steps 7 and 8.
Tokens Tokenizer::Encode(std::string_view text) const { throw NotImplemented("Tokenizer::Encode"); }

Tokens Tokenizer::EncodeOrdinary(std::string_view text) const {
  throw NotImplemented("Tokenizer::EncodeOrdinary");
}

TokenId Tokenizer::AddSpecialToken(std::string_view text) {
  throw NotImplemented("Tokenizer::AddSpecialToken");
}

}  // namespace llmk::bpe
