// Solution of kata 01, step 3 (and TrainOnText of step 7): a trainer that does per merge
// only the work the merge causes.
//
// - The corpus is a table of distinct words with counts (CountWords counts each
//   distinct piece once), so a word that occurs 10,000 times is processed once.
// - pair_counts: pair -> occurrences, weighted by word count.
// - where: pair -> the words it occurs in (appended to, never cleaned; a word that no
//   longer holds the pair is simply found not to hold it).
// - heap: a lazy max-heap of (count, pair). Every change of a pair's count pushes a new
//   entry; an entry whose count is no longer the pair's count is stale and skipped when
//   it reaches the top. Ordering: larger count first, then smaller (left, right), which
//   is the documented tie-break.
// A merge visits only the words in where[pair] and updates the counts of the pairs
// around each occurrence: (x, a) (a, b) (b, y) lose one, (x, new) (new, y) gain one.
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "bpe.h"

namespace llmk::bpe {
namespace {

using Key = std::uint64_t;  // (left << 32) | right

constexpr Key PackPair(TokenId left, TokenId right) {
  return (static_cast<Key>(static_cast<std::uint32_t>(left)) << 32) |
         static_cast<std::uint32_t>(right);
}
constexpr Pair UnpackPair(Key key) {
  return {static_cast<TokenId>(key >> 32), static_cast<TokenId>(key & 0xFFFFFFFFu)};
}

struct HeapEntry {
  std::int64_t count;
  Key key;  // smaller key = smaller (left, right), since ids are non-negative
};

// std::push_heap keeps the "largest" on top: larger count, then smaller key.
struct HeapLess {
  bool operator()(const HeapEntry& a, const HeapEntry& b) const {
    if (a.count != b.count) return a.count < b.count;
    return a.key > b.key;
  }
};

class Trainer {
 public:
  Trainer(const std::vector<Word>& words, int num_merges, const TrainOptions& options)
      : num_merges_(num_merges), options_(options) {
    words_.reserve(words.size());
    for (const Word& w : words) {
      if (w.count == 0 || w.tokens.size() < 2) continue;  // can never hold a pair
      words_.push_back(w.tokens);
      counts_.push_back(w.count);
    }
    stamp_.assign(words_.size(), -1);
    for (std::size_t w = 0; w < words_.size(); ++w) {
      const Tokens& t = words_[w];
      for (std::size_t i = 0; i + 1 < t.size(); ++i) {
        const Key key = PackPair(t[i], t[i + 1]);
        pair_counts_[key] += counts_[w];
        AddWhere(key, static_cast<std::int32_t>(w));
      }
    }
    heap_.reserve(pair_counts_.size() * 2);
    for (const auto& [key, count] : pair_counts_) heap_.push_back({count, key});
    std::make_heap(heap_.begin(), heap_.end(), HeapLess());
  }

  std::vector<Merge> Run() {
    const auto started = std::chrono::steady_clock::now();
    std::vector<Merge> merges;
    merges.reserve(static_cast<std::size_t>(num_merges_));
    bool reported_last = true;
    while (static_cast<int>(merges.size()) < num_merges_) {
      HeapEntry best{};
      if (!PopBest(best)) break;
      const TokenId id = kNumBytes + static_cast<TokenId>(merges.size());
      merges.push_back({UnpackPair(best.key), id, best.count});
      Apply(best.key, id, static_cast<int>(merges.size()) - 1);
      reported_last = false;
      if (options_.on_progress && static_cast<int>(merges.size()) % options_.progress_every == 0) {
        reported_last = true;
        if (!Report(merges, started)) return merges;
      }
    }
    if (options_.on_progress && !reported_last) Report(merges, started);
    return merges;
  }

 private:
  bool Report(const std::vector<Merge>& merges,
              std::chrono::steady_clock::time_point started) const {
    TrainProgress p;
    p.merges_done = static_cast<int>(merges.size());
    p.merges_requested = num_merges_;
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    p.merges_per_second = p.seconds > 0 ? p.merges_done / p.seconds : 0.0;
    p.last = merges.back();
    return options_.on_progress(p);
  }

  void AddWhere(Key key, std::int32_t word) {
    std::vector<std::int32_t>& list = where_[key];
    if (list.empty() || list.back() != word) list.push_back(word);
  }

  // The top entry whose count is current; false when no pair is left.
  bool PopBest(HeapEntry& best) {
    while (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), HeapLess());
      const HeapEntry top = heap_.back();
      heap_.pop_back();
      auto it = pair_counts_.find(top.key);
      if (it == pair_counts_.end() || it->second != top.count) continue;  // stale
      if (top.count <= 0) continue;
      best = top;
      return true;
    }
    return false;
  }

  void Change(Key key, std::int64_t delta) {
    std::int64_t& count = pair_counts_[key];
    count += delta;
    touched_.push_back(key);
  }

  // Merges `key` into `id` in every word that holds it, updating the pair counts.
  void Apply(Key key, TokenId id, int round) {
    const Pair pair = UnpackPair(key);
    auto node = where_.extract(key);
    pair_counts_.erase(key);
    if (node.empty()) return;
    touched_.clear();
    for (std::int32_t w : node.mapped()) {
      if (stamp_[static_cast<std::size_t>(w)] == round) continue;  // listed twice
      stamp_[static_cast<std::size_t>(w)] = round;
      Tokens& t = words_[static_cast<std::size_t>(w)];
      const std::int64_t c = counts_[static_cast<std::size_t>(w)];
      // Merge in place: `out` is the write position, tokens before it are final.
      std::size_t out = 0;
      std::size_t i = 0;
      const std::size_t n = t.size();
      bool changed = false;
      while (i < n) {
        if (i + 1 < n && t[i] == pair.left && t[i + 1] == pair.right) {
          changed = true;
          if (out > 0) {  // the left neighbour, possibly a token merged just before
            const TokenId x = t[out - 1];
            Change(PackPair(x, pair.left), -c);
            Change(PackPair(x, id), c);
            AddWhere(PackPair(x, id), w);
          }
          if (i + 2 < n) {  // the right neighbour, still unmerged
            const TokenId y = t[i + 2];
            Change(PackPair(pair.right, y), -c);
            Change(PackPair(id, y), c);
            AddWhere(PackPair(id, y), w);
          }
          t[out++] = id;
          i += 2;
        } else {
          t[out++] = t[i++];
        }
      }
      if (changed) t.resize(out);
    }
    // The merged pair itself was removed above; a decrement of it (as a neighbour of
    // an occurrence next to another) must not bring it back.
    pair_counts_.erase(key);
    std::sort(touched_.begin(), touched_.end());
    touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
    for (Key k : touched_) {
      auto it = pair_counts_.find(k);
      if (it == pair_counts_.end()) continue;
      if (it->second <= 0) {
        pair_counts_.erase(it);
        continue;
      }
      heap_.push_back({it->second, k});
      std::push_heap(heap_.begin(), heap_.end(), HeapLess());
    }
  }

  int num_merges_;
  const TrainOptions& options_;
  std::vector<Tokens> words_;
  std::vector<std::int64_t> counts_;
  std::vector<int> stamp_;  // the round in which a word was last merged
  absl::flat_hash_map<Key, std::int64_t> pair_counts_;
  absl::flat_hash_map<Key, std::vector<std::int32_t>> where_;
  std::vector<HeapEntry> heap_;
  std::vector<Key> touched_;
};

}  // namespace

std::vector<Merge> Train(const std::vector<Word>& words, int num_merges,
                         const TrainOptions& options) {
  Require(num_merges >= 0, "Train", absl::StrFormat("num_merges must be >= 0, got %d", num_merges));
  Require(options.progress_every >= 1, "Train",
          absl::StrFormat("options.progress_every must be >= 1, got %d", options.progress_every));
  for (std::size_t w = 0; w < words.size(); ++w) {
    if (words[w].count < 0) {
      Require(false, "Train",
              absl::StrFormat("words[%d].count must be >= 0, got %d", w, words[w].count));
    }
    for (std::size_t i = 0; i < words[w].tokens.size(); ++i) {
      const TokenId t = words[w].tokens[i];
      if (t < 0 || t >= kNumBytes) {
        Require(false, "Train",
                absl::StrFormat("words[%d].tokens[%d] = %d is not a byte (0..255)", w, i, t));
      }
    }
  }
  Trainer trainer(words, num_merges, options);
  return trainer.Run();
}

std::vector<Merge> TrainOnText(std::string_view text, int vocab_size, const TrainOptions& options) {
  Require(
      vocab_size >= kNumBytes, "TrainOnText",
      absl::StrFormat("vocab_size must be at least 256 (the byte alphabet), got %d", vocab_size));
  return Train(CountWords(text), vocab_size - kNumBytes, options);
}

}  // namespace llmk::bpe
