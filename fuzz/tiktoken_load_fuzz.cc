// Fuzz target: the two vocabulary file readers of kata 01 (solutions/01_bpe) on
// arbitrary bytes. Both readers get the whole input.
//
// Tokenizer::FromTiktoken(x): an InvalidArgument status, or a tokenizer that
//   - round-trips a few strings (Decode(Encode(s)) == s, all ids in [0, V)),
//   - maps every byte to a token and has V ordinary tokens with ids 0..V-1,
//   - writes a rank file that loads again to the same vocabulary and encodings.
// LoadMerges(x): an InvalidArgument status, or merges with ids 256 + r that use only
// earlier tokens, that SaveMerges writes and LoadMerges reads back unchanged; and the
// Tokenizer of those merges either throws llmk::InvalidArgument (two merges make the
// same bytes, a documented contract violation) or round-trips the same strings.
// Any other exception escapes and is reported as a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "bpe.h"
#include "check.h"
#include "llmk/core.h"

namespace {

using llmk::bpe::Merge;
using llmk::bpe::TokenId;
using llmk::bpe::Tokenizer;
using llmk::bpe::Tokens;

constexpr std::string_view kSamples[] = {"",
                                         "a",
                                         "hello world",
                                         "  two  spaces\n\nand lines\t",
                                         "it's 42!",
                                         "caf\xc3\xa9 \xf0\x9f\x98\x80",
                                         std::string_view("\0\xff\x80 raw bytes", 14)};

void CheckRoundTrips(const Tokenizer& tok) {
  for (std::string_view s : kSamples) {
    const Tokens ids = tok.Encode(s);
    for (TokenId id : ids) {
      FUZZ_CHECK(id >= 0 && id < tok.vocab_size(), "id {} is not a token (V = {})", id,
                 tok.vocab_size());
    }
    FUZZ_CHECK(tok.Decode(ids) == s, "Decode(Encode(\"{}\")) differs", s);
  }
}

void CheckTiktoken(std::string_view text) {
  absl::StatusOr<Tokenizer> tok = Tokenizer::FromTiktoken(text);
  if (!tok.ok()) {
    FUZZ_CHECK(tok.status().code() == absl::StatusCode::kInvalidArgument,
               "FromTiktoken failed with {}", tok.status().ToString());
    FUZZ_CHECK(!tok.status().message().empty(), "FromTiktoken failed without a message");
    return;
  }
  const int v = tok->vocab_size();
  FUZZ_CHECK(v >= 256, "a loaded vocabulary of {} tokens lacks some bytes", v);
  for (int b = 0; b < 256; ++b) {
    FUZZ_CHECK(tok->TokenFor(std::string(1, static_cast<char>(b))).has_value(),
               "byte {} has no token", b);
  }
  for (TokenId id = 0; id < v; ++id) {
    const std::string& bytes = tok->TokenBytes(id);
    FUZZ_CHECK(!bytes.empty(), "token {} is empty", id);
    FUZZ_CHECK(tok->TokenFor(bytes) == id, "TokenFor(TokenBytes({})) is not {}", id, id);
  }
  CheckRoundTrips(*tok);
  absl::StatusOr<Tokenizer> again = Tokenizer::FromTiktoken(tok->ToTiktoken());
  FUZZ_CHECK(again.ok(), "FromTiktoken(ToTiktoken()) failed: {}", again.status().ToString());
  FUZZ_CHECK(again->vocab_size() == v, "the rewritten file has {} tokens, not {}",
             again->vocab_size(), v);
  for (std::string_view s : kSamples) {
    FUZZ_CHECK(again->Encode(s) == tok->Encode(s),
               "the rewritten file encodes \"{}\" "
               "differently",
               s);
  }
}

void CheckMerges(std::string_view text) {
  absl::StatusOr<std::vector<Merge>> merges = llmk::bpe::LoadMerges(text);
  if (!merges.ok()) {
    FUZZ_CHECK(merges.status().code() == absl::StatusCode::kInvalidArgument,
               "LoadMerges failed with {}", merges.status().ToString());
    FUZZ_CHECK(!merges.status().message().empty(), "LoadMerges failed without a message");
    return;
  }
  for (std::size_t r = 0; r < merges->size(); ++r) {
    const Merge& m = (*merges)[r];
    const TokenId id = static_cast<TokenId>(256 + r);
    FUZZ_CHECK(m.id == id, "merge {} has id {}, not {}", r, m.id, id);
    FUZZ_CHECK(m.pair.left >= 0 && m.pair.left < id && m.pair.right >= 0 && m.pair.right < id,
               "merge {} uses ({}, {}), not made before {}", r, m.pair.left, m.pair.right, id);
    FUZZ_CHECK(m.count >= 0, "merge {} has count {}", r, m.count);
  }
  absl::StatusOr<std::vector<Merge>> again = llmk::bpe::LoadMerges(llmk::bpe::SaveMerges(*merges));
  FUZZ_CHECK(again.ok(), "LoadMerges(SaveMerges()) failed: {}", again.status().ToString());
  FUZZ_CHECK(*again == *merges, "LoadMerges(SaveMerges(m)) != m");
  if (merges->size() > 2000) return;  // keep each run fast
  try {
    const Tokenizer tok(*merges);
    FUZZ_CHECK(tok.vocab_size() == static_cast<int>(256 + merges->size()), "V = {} for {} merges",
               tok.vocab_size(), merges->size());
    CheckRoundTrips(tok);
  } catch (const llmk::InvalidArgument&) {
    // Two merges make the same bytes: the documented contract violation.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckTiktoken(text);
  CheckMerges(text);
  return 0;
}
