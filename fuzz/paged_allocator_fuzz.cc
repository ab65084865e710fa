// Fuzz target: the paged KV cache of kata 08 (solutions/08_paged_attention) driven by
// an operation stream decoded from the input, checked against a plain model after
// every operation.
//
// Input: three bytes choose P (1..8 blocks), B (1..4 slots) and W (1..3 floats), then
// each operation is an opcode byte and its argument bytes:
//   NewSequence | Append(seq, token) | Free(seq) | Fork(seq) | Write(seq, pos, token)
//   | Allocate / Release(b) / AddRef(b) on a separate BlockAllocator of P blocks.
// A sequence argument may name a live, a freed or a never-created id.
//
// Checked after each operation (the model keeps each live sequence's tokens; a token's
// key and value are a function of the token and its position, as in a real model):
//   - Read gives the model's tokens, keys and values; Length and BlockTable agree;
//   - every block's RefCount is the number of block-table entries pointing at it (no
//     block owned twice without a reference each), and the free list is exactly the
//     blocks with count 0, without repeats: free + used == P;
//   - Append and Write return ResourceExhausted exactly when they need a block and none
//     is free, and then nothing changes;
//   - a freed or unknown sequence is NotFound for every operation;
//   - Stats adds up.
// The separate BlockAllocator is checked against reference counts and a LIFO free list.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "check.h"
#include "llmk/core.h"
#include "paged_attention.h"

namespace {

using llmk::Matrix;
using llmk::paged::BlockAllocator;
using llmk::paged::PagedKvCache;
using llmk::paged::SeqId;
using Code = absl::StatusCode;

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return at_ >= size_; }
  std::uint8_t Next() { return at_ < size_ ? data_[at_++] : 0; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

// The key (sign +1) or value (sign -1) of `token` at `position`: exact in float.
Matrix Row(int token, int position, int width, float sign) {
  Matrix row(1, width);
  for (int j = 0; j < width; ++j) row(0, j) = sign * (token * 64 + position + j * 0.25f);
  return row;
}

class Driver {
 public:
  Driver(int p, int b, int w) : p_(p), b_(b), w_(w), cache_(p, b, w), pool_(p) {}

  void Run(Input& in) {
    for (int ops = 0; ops < 4000 && !in.empty(); ++ops) {
      switch (in.Next() % 8) {
        case 0:
          NewSequence();
          break;
        case 1:
        case 2: {
          const SeqId s = Pick(in);
          Append(s, in.Next() % 4);
          break;
        }
        case 3:
          Free(Pick(in));
          break;
        case 4:
          Fork(Pick(in));
          break;
        case 5: {
          const SeqId s = Pick(in);
          const int pos = in.Next();
          Write(s, pos, in.Next() % 4);
          break;
        }
        case 6:
          PoolAllocate();
          break;
        default:
          PoolRefOp(in.Next());
          break;
      }
      CheckCache();
      CheckPool();
    }
  }

 private:
  // A live, freed or never-created id.
  SeqId Pick(Input& in) { return static_cast<SeqId>(in.Next() % (next_id_ + 1)); }
  bool Live(SeqId s) const { return model_.contains(s); }

  void NewSequence() {
    const SeqId s = cache_.NewSequence();
    FUZZ_CHECK(s == next_id_, "NewSequence gave {}, expected {}", s, next_id_);
    ++next_id_;
    model_[s] = {};
  }

  void ExpectNotFound(const absl::Status& status, const char* what, SeqId s) {
    FUZZ_CHECK(status.code() == Code::kNotFound, "{}({}) of a sequence that is not live: {}", what,
               s, status.ToString());
  }

  // Whether writing into logical block `logical` of `s` needs a fresh block.
  bool NeedsBlockAt(SeqId s, int logical) {
    const std::vector<int> table = *cache_.BlockTable(s);
    if (logical >= static_cast<int>(table.size())) return true;
    return cache_.allocator().RefCount(table[logical]) >= 2;
  }

  void Append(SeqId s, int token) {
    const Matrix key_before = Row(token, 0, w_, 1);
    if (!Live(s)) {
      ExpectNotFound(cache_.Append(s, token, key_before, key_before), "Append", s);
      return;
    }
    const int length = static_cast<int>(model_[s].size());
    const bool needs = length % b_ == 0 || NeedsBlockAt(s, length / b_);
    const bool exhausted = needs && cache_.allocator().NumFree() == 0;
    const Snapshot before = Take();
    const absl::Status status =
        cache_.Append(s, token, Row(token, length, w_, 1), Row(token, length, w_, -1));
    if (exhausted) {
      FUZZ_CHECK(status.code() == Code::kResourceExhausted,
                 "Append with no free block (needed: {}) gave {}", needs, status.ToString());
      FUZZ_CHECK(Take() == before, "a failed Append changed the cache");
      return;
    }
    FUZZ_CHECK(status.ok(), "Append (a block needed: {}, {} free) failed: {}", needs,
               before.num_free, status.ToString());
    model_[s].push_back(token);
  }

  void Free(SeqId s) {
    const absl::Status status = cache_.Free(s);
    if (!Live(s)) {
      ExpectNotFound(status, "Free", s);
      return;
    }
    FUZZ_CHECK(status.ok(), "Free({}) failed: {}", s, status.ToString());
    model_.erase(s);
  }

  void Fork(SeqId s) {
    const int free_before = cache_.allocator().NumFree();
    const absl::StatusOr<SeqId> child = cache_.Fork(s);
    if (!Live(s)) {
      ExpectNotFound(child.status(), "Fork", s);
      return;
    }
    FUZZ_CHECK(child.ok(), "Fork({}) failed: {}", s, child.status().ToString());
    FUZZ_CHECK(*child == next_id_, "Fork gave {}, expected {}", *child, next_id_);
    FUZZ_CHECK(cache_.allocator().NumFree() == free_before, "Fork allocated blocks");
    ++next_id_;
    model_[*child] = model_[s];
  }

  void Write(SeqId s, int position_byte, int token) {
    const Matrix row = Row(token, 0, w_, 1);
    if (!Live(s)) {
      ExpectNotFound(cache_.Write(s, 0, token, row, row), "Write", s);
      return;
    }
    const int length = static_cast<int>(model_[s].size());
    if (length == 0 || position_byte >= 250) {
      // Outside [0, L): the caller's contract violation.
      const int position = length == 0 ? 0 : length + position_byte % 3;
      bool threw = false;
      try {
        (void)cache_.Write(s, position, token, row, row);
      } catch (const llmk::InvalidArgument&) {
        threw = true;
      }
      FUZZ_CHECK(threw, "Write at position {} of a sequence of {} tokens did not throw", position,
                 length);
      return;
    }
    const int position = position_byte % length;
    const bool needs = NeedsBlockAt(s, position / b_);
    const bool exhausted = needs && cache_.allocator().NumFree() == 0;
    const Snapshot before = Take();
    const absl::Status status =
        cache_.Write(s, position, token, Row(token, position, w_, 1), Row(token, position, w_, -1));
    if (exhausted) {
      FUZZ_CHECK(status.code() == Code::kResourceExhausted,
                 "Write needing a copy with no free block gave {}", status.ToString());
      FUZZ_CHECK(Take() == before, "a failed Write changed the cache");
      return;
    }
    FUZZ_CHECK(status.ok(), "Write (copy needed: {}) failed: {}", needs, status.ToString());
    model_[s][position] = token;
  }

  // What must not change when an operation fails.
  struct Snapshot {
    std::map<SeqId, std::vector<int>> tables;
    std::map<SeqId, std::vector<int>> tokens;
    std::vector<int> free_list;
    int num_free = 0;
    bool operator==(const Snapshot&) const = default;
  };

  Snapshot Take() const {
    Snapshot snap;
    for (SeqId s : cache_.Sequences()) {
      snap.tables[s] = *cache_.BlockTable(s);
      snap.tokens[s] = cache_.Read(s)->tokens;
    }
    snap.free_list = cache_.allocator().FreeList();
    snap.num_free = cache_.allocator().NumFree();
    return snap;
  }

  void CheckCache() {
    std::vector<int> references(p_, 0);
    std::int64_t logical_tokens = 0;
    std::vector<SeqId> live;
    for (const auto& [s, tokens] : model_) live.push_back(s);
    FUZZ_CHECK(cache_.Sequences() == live, "Sequences() lists {} ids, the model {}",
               cache_.Sequences().size(), live.size());
    for (const auto& [s, tokens] : model_) {
      const int length = static_cast<int>(tokens.size());
      logical_tokens += length;
      FUZZ_CHECK(*cache_.Length(s) == length, "Length({}) = {}, expected {}", s, *cache_.Length(s),
                 length);
      const std::vector<int> table = *cache_.BlockTable(s);
      FUZZ_CHECK(static_cast<int>(table.size()) == (length + b_ - 1) / b_,
                 "sequence {} of {} tokens has {} blocks (B = {})", s, length, table.size(), b_);
      for (int block : table) {
        FUZZ_CHECK(block >= 0 && block < p_, "block id {} outside [0, {})", block, p_);
        ++references[block];
      }
      const llmk::paged::SequenceContents contents = *cache_.Read(s);
      FUZZ_CHECK(contents.tokens == tokens, "sequence {} reads other tokens", s);
      for (int i = 0; i < length; ++i) {
        FUZZ_CHECK(contents.keys.row(i) == Row(tokens[i], i, w_, 1),
                   "sequence {} position {}: wrong key", s, i);
        FUZZ_CHECK(contents.values.row(i) == Row(tokens[i], i, w_, -1),
                   "sequence {} position {}: wrong value", s, i);
      }
    }
    const llmk::paged::BlockAllocator& alloc = cache_.allocator();
    int used = 0;
    for (int block = 0; block < p_; ++block) {
      FUZZ_CHECK(alloc.RefCount(block) == references[block],
                 "block {} has RefCount {} but {} table entries point at it", block,
                 alloc.RefCount(block), references[block]);
      if (references[block] > 0) ++used;
    }
    const std::vector<int> free_list = alloc.FreeList();
    const std::set<int> free_set(free_list.begin(), free_list.end());
    FUZZ_CHECK(free_set.size() == free_list.size(), "the free list repeats a block");
    for (int block : free_list) {
      FUZZ_CHECK(block >= 0 && block < p_ && references[block] == 0,
                 "block {} is on the free list and in use", block);
    }
    FUZZ_CHECK(alloc.NumFree() == static_cast<int>(free_list.size()),
               "NumFree {} but the free list holds {}", alloc.NumFree(), free_list.size());
    FUZZ_CHECK(alloc.NumFree() + used == p_, "free {} + used {} != P {}", alloc.NumFree(), used,
               p_);
    const llmk::paged::CacheStats st = cache_.Stats();
    FUZZ_CHECK(st.blocks_used == used && st.blocks_free == p_ - used,
               "Stats: {} used {} free, expected {} {}", st.blocks_used, st.blocks_free, used,
               p_ - used);
    FUZZ_CHECK(st.slots_used == static_cast<std::int64_t>(used) * b_, "Stats.slots_used");
    FUZZ_CHECK(st.slots_filled >= 0 && st.slots_filled <= st.slots_used, "Stats.slots_filled");
    FUZZ_CHECK(st.internal_fragmentation == st.slots_used - st.slots_filled,
               "Stats.internal_fragmentation");
    FUZZ_CHECK(st.logical_tokens == logical_tokens, "Stats.logical_tokens {} expected {}",
               st.logical_tokens, logical_tokens);
    // Not live (freed or never made): NotFound everywhere.
    const SeqId gone = next_id_;  // never created
    for (SeqId s : {gone, FirstFreed()}) {
      if (s < 0) continue;
      ExpectNotFound(cache_.Length(s).status(), "Length", s);
      ExpectNotFound(cache_.BlockTable(s).status(), "BlockTable", s);
      ExpectNotFound(cache_.Read(s).status(), "Read", s);
    }
  }

  SeqId FirstFreed() const {
    for (SeqId s = 0; s < next_id_; ++s) {
      if (!Live(s)) return s;
    }
    return -1;
  }

  // The separate allocator: reference counts and a LIFO free list in the model.
  void PoolAllocate() {
    const absl::StatusOr<int> block = pool_.Allocate();
    if (pool_free_.empty()) {
      FUZZ_CHECK(block.status().code() == Code::kResourceExhausted,
                 "Allocate with no free block gave {}", block.status().ToString());
      return;
    }
    FUZZ_CHECK(block.ok(), "Allocate with {} free failed: {}", pool_free_.size(),
               block.status().ToString());
    FUZZ_CHECK(*block == pool_free_.back(), "Allocate gave {}, the free list's head is {}", *block,
               pool_free_.back());
    pool_free_.pop_back();
    pool_refs_[*block] = 1;
  }

  void PoolRefOp(std::uint8_t arg) {
    const int block = (arg >> 1) % (p_ + 1);  // P itself is out of range
    const bool release = arg & 1;
    if (block == p_) {
      bool threw = false;
      try {
        (void)(release ? pool_.Release(block) : pool_.AddRef(block));
      } catch (const llmk::InvalidArgument&) {
        threw = true;
      }
      FUZZ_CHECK(threw, "block id {} (P = {}) did not throw", block, p_);
      return;
    }
    const absl::Status status = release ? pool_.Release(block) : pool_.AddRef(block);
    if (pool_refs_[block] == 0) {
      FUZZ_CHECK(status.code() == Code::kFailedPrecondition, "{} of free block {} gave {}",
                 release ? "Release" : "AddRef", block, status.ToString());
      return;
    }
    FUZZ_CHECK(status.ok(), "{} of block {} failed: {}", release ? "Release" : "AddRef", block,
               status.ToString());
    if (!release) {
      ++pool_refs_[block];
    } else if (--pool_refs_[block] == 0) {
      pool_free_.push_back(block);
    }
  }

  void CheckPool() {
    // FreeList() is in allocation order; the model's stack hands out its back() first.
    const std::vector<int> expected(pool_free_.rbegin(), pool_free_.rend());
    FUZZ_CHECK(pool_.FreeList() == expected,
               "the allocator's free list differs from the "
               "model's ({} vs {} blocks)",
               pool_.FreeList().size(), expected.size());
    FUZZ_CHECK(pool_.NumFree() == static_cast<int>(pool_free_.size()), "NumFree differs");
    for (int block = 0; block < p_; ++block) {
      FUZZ_CHECK(pool_.RefCount(block) == pool_refs_[block], "RefCount({}) = {}, expected {}",
                 block, pool_.RefCount(block), pool_refs_[block]);
    }
  }

  int p_, b_, w_;
  PagedKvCache cache_;
  std::map<SeqId, std::vector<int>> model_;  // live sequences and their tokens
  SeqId next_id_ = 0;
  BlockAllocator pool_;
  std::vector<int> pool_refs_ = std::vector<int>(p_, 0);
  std::vector<int> pool_free_ = InitialFreeList(p_);  // back() is allocated next

  static std::vector<int> InitialFreeList(int p) {
    std::vector<int> ids(p);
    for (int i = 0; i < p; ++i) ids[i] = p - 1 - i;  // 0 first
    return ids;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const int p = 1 + in.Next() % 8;
  const int b = 1 + in.Next() % 4;
  const int w = 1 + in.Next() % 3;
  Driver driver(p, b, w);
  driver.Run(in);
  return 0;
}
