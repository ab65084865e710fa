// Solution of kata 01, steps 4, 5, 7, 8 and 10: the tokenizer engine.
//
// - Merge ranks are looked up by the packed pair (left id << 32 | right id) in a flat
//   hash table: pair -> the token the two make, whose id is its rank. The table holds
//   every split of every token into two tokens, so it answers "is bytes(a) + bytes(b)
//   a token, and which" without building the bytes: exactly tiktoken's rule.
// - A piece of up to kLinearMax bytes is merged by linear scans over a small array of
//   (token, rank of the pair to its right), as tiktoken does; a longer piece uses a
//   doubly linked list and a min-heap of (rank, position), so a 100 KB run of one
//   letter costs O(n log n), not O(n^2).
// - Encode looks up a whole piece first (most words are one token), then a cache of
//   pieces already encoded; pieces are views into the text and the output vector is
//   the only thing that grows, so the hot path (a piece seen before) does not allocate.
#include <algorithm>
#include <array>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bpe.h"

namespace llmk::bpe {
namespace {

using Key = std::uint64_t;

// Debian's abseil has its own string_view; this adapts std::string_view to it.
inline absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

constexpr Key PackPair(TokenId left, TokenId right) {
  return (static_cast<Key>(static_cast<std::uint32_t>(left)) << 32) |
         static_cast<std::uint32_t>(right);
}

constexpr TokenId kNoRank = std::numeric_limits<TokenId>::max();
constexpr std::size_t kLinearMax = 64;            // longer pieces use the heap
constexpr std::size_t kCacheMaxPieces = 1 << 18;  // then the cache starts over
constexpr std::size_t kCacheMaxTokens = 1 << 22;

// Pair key -> token id: open addressing with linear probing, at most half full. The
// key 0 is a real pair (0, 0), so an empty slot is marked by its id, not its key.
class PairTable {
 public:
  void Build(const std::vector<std::pair<Key, TokenId>>& entries) {
    std::size_t capacity = 16;
    while (capacity < entries.size() * 2) capacity *= 2;  // load factor <= 1/2
    shift_ = 64;
    for (std::size_t c = capacity; c > 1; c >>= 1) --shift_;
    mask_ = capacity - 1;
    slots_.assign(capacity, Slot{0, kEmpty});
    for (const auto& [key, id] : entries) {
      std::size_t i = Home(key);
      while (slots_[i].id != kEmpty && slots_[i].key != key) i = (i + 1) & mask_;
      if (slots_[i].id == kEmpty) slots_[i] = {key, id};
    }
  }
  // The token the pair makes, or kNoRank.
  TokenId Find(Key key) const {
    for (std::size_t i = Home(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key && s.id != kEmpty) return s.id;
      if (s.id == kEmpty) return kNoRank;
    }
  }

 private:
  static constexpr TokenId kEmpty = -1;
  struct Slot {
    Key key;
    TokenId id;
  };
  // Fibonacci hashing: the top bits of key * 2^64 / phi.
  std::size_t Home(Key key) const {
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  std::vector<Slot> slots_{Slot{0, kEmpty}};
  std::size_t mask_ = 0;
  int shift_ = 63;
};

// Step 10: a rank as a decimal below 2^31 - 1, or a message saying what it is instead.
std::string ParseRank(std::string_view s, std::int64_t& value) {
  const std::string quoted = absl::CHexEscape(AbslView(s.substr(0, 20)));
  if (s.empty() || s.find_first_not_of("0123456789") != s.npos) {
    if (s.size() > 1 && s.front() == '-' && s.find_first_not_of("0123456789", 1) == s.npos) {
      return absl::StrFormat("rank \"%s\" is negative", quoted);
    }
    return absl::StrFormat("rank \"%s\" is not a decimal number", quoted);
  }
  value = 0;
  for (char c : s) {
    value = value * 10 + (c - '0');
    if (value >= std::numeric_limits<TokenId>::max()) {
      return absl::StrFormat("rank \"%s\" is too large (ranks are below 2^31 - 1)", quoted);
    }
  }
  return "";
}

}  // namespace

struct Tokenizer::Impl {
  std::vector<std::string> vocab;  // id -> bytes; ordinary tokens, then special tokens
  int num_ordinary = 0;
  absl::flat_hash_map<std::string, TokenId> ids;  // ordinary bytes -> id
  std::array<TokenId, 256> byte_ids{};            // byte -> its single-byte token
  PairTable pair_table;                           // (a, b) -> token of bytes(a)+bytes(b)
  std::vector<std::string> specials;              // special texts, longest first
  std::vector<TokenId> special_ids;               // parallel to specials

  // The piece cache: piece -> tokens [offset, offset + length) of cache_tokens.
  struct Span {
    std::uint32_t offset;
    std::uint32_t length;
  };
  mutable absl::flat_hash_map<std::string, Span> cache;
  mutable std::vector<TokenId> cache_tokens;

  // Scratch space of the merge loops, reused across pieces.
  struct Node {
    TokenId id;
    std::int32_t prev;
    std::int32_t next;
  };
  struct Candidate {
    TokenId rank;
    std::int32_t left;   // node index = position of the left part's first byte
    std::int32_t right;  // node index of the right part when pushed
  };
  mutable std::vector<Node> nodes;
  mutable std::vector<Candidate> heap;

  TokenId Rank(TokenId a, TokenId b) const { return pair_table.Find(PackPair(a, b)); }

  // Every split of every ordinary token into two ordinary tokens.
  void BuildPairTable() {
    std::vector<std::pair<Key, TokenId>> entries;
    for (TokenId id = 0; id < num_ordinary; ++id) {
      const std::string_view bytes = vocab[static_cast<std::size_t>(id)];
      for (std::size_t k = 1; k < bytes.size(); ++k) {
        auto left = ids.find(AbslView(bytes.substr(0, k)));
        if (left == ids.end()) continue;
        auto right = ids.find(AbslView(bytes.substr(k)));
        if (right == ids.end()) continue;
        entries.emplace_back(PackPair(left->second, right->second), id);
      }
    }
    pair_table.Build(entries);
    for (int b = 0; b < 256; ++b) {
      byte_ids[static_cast<std::size_t>(b)] = ids.at(std::string(1, static_cast<char>(b)));
    }
  }

  void MergeLinear(std::string_view piece, Tokens& out) const {
    const std::size_t n = piece.size();
    TokenId tok[kLinearMax];
    TokenId rank[kLinearMax];  // rank[i]: of the pair (tok[i], tok[i + 1])
    for (std::size_t i = 0; i < n; ++i) {
      tok[i] = byte_ids[static_cast<unsigned char>(piece[i])];
    }
    for (std::size_t i = 0; i + 1 < n; ++i) rank[i] = Rank(tok[i], tok[i + 1]);
    std::size_t m = n;
    while (m > 1) {
      std::size_t best = 0;
      for (std::size_t i = 1; i + 1 < m; ++i) {
        if (rank[i] < rank[best]) best = i;  // strict: the leftmost minimum
      }
      if (rank[best] == kNoRank) break;
      tok[best] = rank[best];
      for (std::size_t i = best + 1; i + 1 < m; ++i) {
        tok[i] = tok[i + 1];
        rank[i] = rank[i + 1];
      }
      --m;
      if (best + 1 < m) rank[best] = Rank(tok[best], tok[best + 1]);
      if (best > 0) rank[best - 1] = Rank(tok[best - 1], tok[best]);
    }
    out.insert(out.end(), tok, tok + m);
  }

  void MergeHeap(std::string_view piece, Tokens& out) const {
    const auto n = static_cast<std::int32_t>(piece.size());
    nodes.resize(static_cast<std::size_t>(n));
    heap.clear();
    // Smallest rank on top, then the leftmost position.
    const auto later = [](const Candidate& a, const Candidate& b) {
      return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
    };
    const auto push = [&](std::int32_t left, std::int32_t right) {
      const TokenId r =
          Rank(nodes[static_cast<std::size_t>(left)].id, nodes[static_cast<std::size_t>(right)].id);
      if (r == kNoRank) return;
      heap.push_back({r, left, right});
      std::push_heap(heap.begin(), heap.end(), later);
    };
    for (std::int32_t i = 0; i < n; ++i) {
      nodes[static_cast<std::size_t>(i)] = {
          byte_ids[static_cast<unsigned char>(piece[static_cast<std::size_t>(i)])], i - 1,
          i + 1 < n ? i + 1 : -1};
    }
    for (std::int32_t i = 0; i + 1 < n; ++i) push(i, i + 1);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), later);
      const Candidate c = heap.back();
      heap.pop_back();
      Node& left = nodes[static_cast<std::size_t>(c.left)];
      // Stale if the left part was absorbed (id -1), has another right neighbour now,
      // or either part changed so that the pair no longer has this rank.
      if (left.id < 0 || left.next != c.right) continue;
      Node& right = nodes[static_cast<std::size_t>(c.right)];
      if (Rank(left.id, right.id) != c.rank) continue;
      left.id = c.rank;
      left.next = right.next;
      if (right.next >= 0) nodes[static_cast<std::size_t>(right.next)].prev = c.left;
      right.id = -1;
      right.next = -2;
      if (left.prev >= 0) push(left.prev, c.left);
      if (left.next >= 0) push(c.left, left.next);
    }
    for (std::int32_t i = 0; i >= 0; i = nodes[static_cast<std::size_t>(i)].next) {
      out.push_back(nodes[static_cast<std::size_t>(i)].id);
    }
  }

  void MergePiece(std::string_view piece, Tokens& out) const {
    if (piece.empty()) return;
    if (piece.size() <= kLinearMax) {
      MergeLinear(piece, out);
    } else {
      MergeHeap(piece, out);
    }
  }

  // A piece of Encode: one byte, a whole token, a cached piece, or merged and cached.
  void EncodePieceCached(std::string_view piece, Tokens& out) const {
    if (piece.size() == 1) {
      out.push_back(byte_ids[static_cast<unsigned char>(piece[0])]);
      return;
    }
    if (auto it = cache.find(AbslView(piece)); it != cache.end()) {
      const TokenId* begin = cache_tokens.data() + it->second.offset;
      out.insert(out.end(), begin, begin + it->second.length);
      return;
    }
    const std::size_t first = out.size();
    if (auto it = ids.find(AbslView(piece)); it != ids.end()) {
      out.push_back(it->second);  // the whole piece is a token
    } else {
      MergePiece(piece, out);
    }
    if (cache.size() >= kCacheMaxPieces || cache_tokens.size() >= kCacheMaxTokens) {
      cache.clear();
      cache_tokens.clear();
    }
    const auto offset = static_cast<std::uint32_t>(cache_tokens.size());
    cache_tokens.insert(cache_tokens.end(), out.begin() + static_cast<std::ptrdiff_t>(first),
                        out.end());
    cache.emplace(std::string(piece), Span{offset, static_cast<std::uint32_t>(out.size() - first)});
  }

  // Pretokenizes one stretch of ordinary text; its end is the end for (?!\S).
  void EncodeOrdinaryInto(std::string_view text, Tokens& out) const {
    for (std::size_t pos = 0; pos < text.size();) {
      const std::size_t end = PieceEnd(text, pos);
      EncodePieceCached(text.substr(pos, end - pos), out);
      pos = end;
    }
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

// Step 4: bytes, then one token per merge.
Tokenizer::Tokenizer(const std::vector<Merge>& merges) : impl_(std::make_unique<Impl>()) {
  Impl& im = *impl_;
  im.vocab.reserve(kNumBytes + merges.size());
  for (int b = 0; b < kNumBytes; ++b) {
    im.vocab.emplace_back(1, static_cast<char>(b));
    im.ids.emplace(im.vocab.back(), b);
  }
  for (std::size_t r = 0; r < merges.size(); ++r) {
    const Merge& m = merges[r];
    const TokenId id = kNumBytes + static_cast<TokenId>(r);
    // (Messages are formatted only on failure: this loop runs once per merge.)
    if (m.id != id) {
      Require(false, "Tokenizer",
              absl::StrFormat("merges[%d].id must be %d (256 + r), got %d", r, id, m.id));
    }
    for (TokenId part : {m.pair.left, m.pair.right}) {
      if (part < 0 || part >= id) {
        Require(false, "Tokenizer",
                absl::StrFormat("merges[%d] = (%d, %d) uses token %d, which is not made "
                                "before token %d",
                                r, m.pair.left, m.pair.right, part, id));
      }
    }
    std::string bytes = im.vocab[static_cast<std::size_t>(m.pair.left)] +
                        im.vocab[static_cast<std::size_t>(m.pair.right)];
    auto [it, inserted] = im.ids.emplace(bytes, id);
    if (!inserted) {
      Require(false, "Tokenizer",
              absl::StrFormat("merges[%d] makes \"%s\", which is already token %d", r,
                              absl::CHexEscape(bytes), it->second));
    }
    im.vocab.push_back(std::move(bytes));
  }
  im.num_ordinary = static_cast<int>(im.vocab.size());
  im.BuildPairTable();
}

// Step 10.
absl::StatusOr<Tokenizer> Tokenizer::FromTiktoken(std::string_view rank_file) {
  auto im = std::make_unique<Impl>();
  absl::flat_hash_map<std::int64_t, int> rank_line;  // rank -> line it was given on
  std::vector<std::pair<std::int64_t, std::string>> tokens;
  int line_number = 0;
  std::size_t start = 0;
  while (start < rank_file.size()) {
    std::size_t end = rank_file.find('\n', start);
    if (end == std::string_view::npos) end = rank_file.size();
    std::string_view line = rank_file.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "FromTiktoken: line %d: expected \"<base64 token> <rank>\", got \"%s\" (%s)",
          line_number, absl::CHexEscape(AbslView(line.substr(0, 80))),
          space == std::string_view::npos ? "no space before the rank" : "more than one space"));
    }
    const std::string_view b64 = line.substr(0, space);
    std::string bytes;
    if (!absl::Base64Unescape(AbslView(b64), &bytes) || bytes.empty() ||
        absl::Base64Escape(bytes) != b64) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "FromTiktoken: line %d: \"%s\" is not canonical base64 of a non-empty token "
          "(standard alphabet, '=' padding)",
          line_number, absl::CHexEscape(AbslView(b64.substr(0, 80)))));
    }
    std::int64_t rank = 0;
    if (std::string problem = ParseRank(line.substr(space + 1), rank); !problem.empty()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("FromTiktoken: line %d: %s", line_number, problem));
    }
    auto [at, fresh] = rank_line.emplace(rank, line_number);
    if (!fresh) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "FromTiktoken: line %d: rank %d is a duplicate (already given on line %d)", line_number,
          rank, at->second));
    }
    auto [it, inserted] = im->ids.emplace(bytes, static_cast<TokenId>(rank));
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrFormat("FromTiktoken: line %d: token \"%s\" is a duplicate (already rank %d)",
                          line_number, b64, it->second));
    }
    tokens.emplace_back(rank, std::move(bytes));
  }
  const auto n = static_cast<std::int64_t>(tokens.size());
  std::sort(tokens.begin(), tokens.end());
  for (std::int64_t i = 0; i < n; ++i) {
    if (tokens[static_cast<std::size_t>(i)].first != i) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "FromTiktoken: the ranks must be 0..%d (one per token), but rank %d is missing", n - 1,
          i));
    }
  }
  for (int b = 0; b < 256; ++b) {
    if (!im->ids.contains(std::string(1, static_cast<char>(b)))) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "FromTiktoken: byte 0x%02X has no token: a byte-level vocabulary holds all 256 "
          "single bytes (this file has %d tokens)",
          b, n));
    }
  }
  im->vocab.reserve(tokens.size());
  for (auto& [rank, bytes] : tokens) im->vocab.push_back(std::move(bytes));
  im->num_ordinary = static_cast<int>(im->vocab.size());
  im->BuildPairTable();
  return Tokenizer(std::move(im));
}

std::string Tokenizer::ToTiktoken() const {
  std::string out;
  for (int id = 0; id < impl_->num_ordinary; ++id) {
    absl::StrAppend(&out, absl::Base64Escape(impl_->vocab[static_cast<std::size_t>(id)]), " ", id,
                    "\n");
  }
  return out;
}

int Tokenizer::vocab_size() const { return static_cast<int>(impl_->vocab.size()); }

std::optional<TokenId> Tokenizer::TokenFor(std::string_view bytes) const {
  auto it = impl_->ids.find(AbslView(bytes));
  if (it == impl_->ids.end()) return std::nullopt;
  return it->second;
}

Tokens Tokenizer::EncodePiece(std::string_view piece) const {
  Tokens out;
  impl_->MergePiece(piece, out);
  return out;
}

// Step 5.
const std::string& Tokenizer::TokenBytes(TokenId id) const {
  if (id < 0 || id >= vocab_size()) {
    Require(false, "TokenBytes",
            absl::StrFormat("id = %d is not a token id (vocab_size is %d)", id, vocab_size()));
  }
  return impl_->vocab[static_cast<std::size_t>(id)];
}

std::string Tokenizer::Decode(std::span<const TokenId> ids) const {
  const std::vector<std::string>& vocab = impl_->vocab;
  std::size_t size = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || static_cast<std::size_t>(ids[i]) >= vocab.size()) {
      Require(false, "Decode",
              absl::StrFormat("ids[%d] = %d is not a token id (vocab_size is %d)", i, ids[i],
                              vocab.size()));
    }
    size += vocab[static_cast<std::size_t>(ids[i])].size();
  }
  std::string out;
  out.reserve(size);
  for (TokenId id : ids) out += vocab[static_cast<std::size_t>(id)];
  return out;
}

// Steps 7 and 8: special tokens split the text; each stretch between them is
// pretokenized on its own.
Tokens Tokenizer::Encode(std::string_view text) const {
  const Impl& im = *impl_;
  Tokens out;
  out.reserve(text.size() / 3 + 16);
  if (im.specials.empty()) {
    im.EncodeOrdinaryInto(text, out);
    return out;
  }
  // next[s]: where special s next occurs at or after pos (npos: nowhere).
  std::vector<std::size_t> next(im.specials.size(), 0);
  std::size_t pos = 0;
  for (std::size_t s = 0; s < next.size(); ++s) next[s] = text.find(im.specials[s]);
  while (pos < text.size()) {
    std::size_t best = std::string_view::npos;
    std::size_t which = 0;
    for (std::size_t s = 0; s < next.size(); ++s) {
      if (next[s] != std::string_view::npos && next[s] < pos) {
        next[s] = text.find(im.specials[s], pos);
      }
      // Specials are sorted longest first: on the same start the longest wins.
      if (next[s] < best) {
        best = next[s];
        which = s;
      }
    }
    if (best == std::string_view::npos) break;
    im.EncodeOrdinaryInto(text.substr(pos, best - pos), out);
    out.push_back(im.special_ids[which]);
    pos = best + im.specials[which].size();
  }
  if (pos < text.size()) im.EncodeOrdinaryInto(text.substr(pos), out);
  return out;
}

Tokens Tokenizer::EncodeOrdinary(std::string_view text) const {
  Tokens out;
  out.reserve(text.size() / 3 + 16);
  impl_->EncodeOrdinaryInto(text, out);
  return out;
}

TokenId Tokenizer::AddSpecialToken(std::string_view text) {
  Impl& im = *impl_;
  Require(!text.empty(), "AddSpecialToken", "text must not be empty");
  for (std::size_t s = 0; s < im.specials.size(); ++s) {
    Require(im.specials[s] != text, "AddSpecialToken",
            absl::StrFormat("text \"%s\" is already special token %d", text, im.special_ids[s]));
  }
  const auto id = static_cast<TokenId>(im.vocab.size());
  im.vocab.emplace_back(text);
  // Keep the specials longest first (stable), so that Encode prefers the longest.
  auto at = std::find_if(im.specials.begin(), im.specials.end(),
                         [&](const std::string& s) { return s.size() < text.size(); });
  const auto index = at - im.specials.begin();
  im.specials.insert(at, std::string(text));
  im.special_ids.insert(im.special_ids.begin() + index, id);
  return id;
}

}  // namespace llmk::bpe
