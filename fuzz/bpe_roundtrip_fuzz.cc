// Fuzz target: the byte-level BPE tokenizer of kata 01 (solutions/01_bpe) on arbitrary
// bytes.
//
// One tokenizer is trained once on a small fixed text (byte-level alphabet, GPT-2
// pretokenization) and given the special token "<|endoftext|>". For any input x:
//   - Decode(Encode(x)) == x and Decode(EncodeOrdinary(x)) == x; every id is a token;
//   - encoding is deterministic (a second Encode gives the same ids);
//   - Pretokenize(x) is a split of x into non-empty pieces, each ending at PieceEnd;
//   - BytesFromPrintable(PrintableToken(x)) == x; BytesFromPrintable(x) either throws
//     llmk::InvalidArgument or gives bytes whose printable form is x;
//   - Decode of the input read as int32 ids either is the concatenation of TokenBytes
//     (all ids in [0, V)) or throws llmk::InvalidArgument (some id is not a token).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "bpe.h"
#include "check.h"
#include "llmk/core.h"

namespace {

using llmk::bpe::TokenId;
using llmk::bpe::Tokenizer;
using llmk::bpe::Tokens;

constexpr std::string_view kTrainingText =
    "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs!\n"
    "  It's 2024, and we'll count 1234567 tokens\ttwice -- or thrice?\n"
    "caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 "
    "emoji, accents and CJK.\r\n";
constexpr std::string_view kSpecial = "<|endoftext|>";

const Tokenizer& TheTokenizer() {
  static const Tokenizer* tokenizer = [] {
    auto* t = new Tokenizer(llmk::bpe::TrainOnText(kTrainingText, 256 + 64));
    t->AddSpecialToken(kSpecial);
    return t;
  }();
  return *tokenizer;
}

std::string Decoded(const Tokenizer& tok, const Tokens& ids) {
  for (TokenId id : ids) {
    FUZZ_CHECK(id >= 0 && id < tok.vocab_size(), "id {} is not a token (V = {})", id,
               tok.vocab_size());
  }
  return tok.Decode(ids);
}

void CheckEncoding(const Tokenizer& tok, std::string_view text) {
  const Tokens ids = tok.Encode(text);
  FUZZ_CHECK(Decoded(tok, ids) == text, "Decode(Encode(x)) != x for {} bytes", text.size());
  FUZZ_CHECK(tok.Encode(text) == ids, "Encode is not deterministic ({} bytes)", text.size());
  const Tokens ordinary = tok.EncodeOrdinary(text);
  FUZZ_CHECK(Decoded(tok, ordinary) == text, "Decode(EncodeOrdinary(x)) != x");
  // Without special tokens in x, both encodings agree.
  if (text.find(kSpecial) == std::string_view::npos) {
    FUZZ_CHECK(ordinary == ids, "Encode and EncodeOrdinary differ on text without {}", kSpecial);
  }
}

void CheckPretokenize(std::string_view text) {
  const std::vector<std::string_view> pieces = llmk::bpe::Pretokenize(text);
  std::size_t at = 0;
  for (std::string_view piece : pieces) {
    FUZZ_CHECK(!piece.empty(), "an empty piece at byte {}", at);
    FUZZ_CHECK(text.substr(at, piece.size()) == piece, "pieces do not concatenate to x");
    FUZZ_CHECK(llmk::bpe::PieceEnd(text, at) == at + piece.size(),
               "PieceEnd({}) = {} but the piece ends at {}", at, llmk::bpe::PieceEnd(text, at),
               at + piece.size());
    at += piece.size();
  }
  FUZZ_CHECK(at == text.size(), "pieces cover {} of {} bytes", at, text.size());
}

void CheckPrintable(std::string_view text) {
  const std::string printable = llmk::bpe::PrintableToken(text);
  FUZZ_CHECK(llmk::bpe::BytesFromPrintable(printable) == text,
             "BytesFromPrintable(PrintableToken(x)) != x");
  try {
    const std::string bytes = llmk::bpe::BytesFromPrintable(text);
    FUZZ_CHECK(llmk::bpe::PrintableToken(bytes) == text,
               "BytesFromPrintable accepted x but PrintableToken does not give x back");
  } catch (const llmk::InvalidArgument&) {
    // Not a printable form: the documented error.
  }
}

void CheckDecodeIds(const Tokenizer& tok, const std::uint8_t* data, std::size_t size) {
  Tokens ids(size / 4);
  if (!ids.empty()) std::memcpy(ids.data(), data, ids.size() * 4);
  // Mostly small ids, so that valid sequences are common: keep the low bits of most.
  bool all_valid = true;
  std::string expected;
  for (TokenId& id : ids) {
    if (id >= 0 && (id & 0x40000000) == 0) id %= tok.vocab_size() + 2;
    if (id < 0 || id >= tok.vocab_size()) {
      all_valid = false;
    } else {
      expected += tok.TokenBytes(id);
    }
  }
  try {
    const std::string decoded = tok.Decode(ids);
    FUZZ_CHECK(all_valid, "Decode accepted an id that is not a token");
    FUZZ_CHECK(decoded == expected, "Decode differs from the concatenated TokenBytes");
  } catch (const llmk::InvalidArgument&) {
    FUZZ_CHECK(!all_valid, "Decode threw on ids that are all tokens");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Tokenizer& tok = TheTokenizer();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckEncoding(tok, text);
  CheckPretokenize(text);
  CheckPrintable(text);
  CheckDecodeIds(tok, data, size);
  return 0;
}
