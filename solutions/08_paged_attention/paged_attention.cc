// Solution of kata 08: the paged KV cache and its decode-attention kernel.
// README.md in katas/08_paged_attention derives every step.
#include "paged_attention.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace llmk::paged {

namespace {

// Require, with the message formatted only when the check fails: these checks run on every
// Allocate, Release and Append, where building a string each time would dominate.
template <typename... Args>
void Check(bool condition, std::string_view where, fmt::format_string<Args...> format,
           Args&&... args) {
  if (!condition) {
    throw InvalidArgument(
        fmt::format("{}: {}", where, fmt::format(format, std::forward<Args>(args)...)));
  }
}

void RequireBlock(std::string_view where, int block, int num_blocks) {
  Check(block >= 0 && block < num_blocks, where,
          "block = {} is outside [0, {})", block, num_blocks);
}

absl::Status UnknownSequence(std::string_view where, SeqId seq) {
  return absl::NotFoundError(
      fmt::format("{}: sequence {} does not exist (never created, or freed)", where, seq));
}

}  // namespace

// ---------------------------------------------------------------------------------
// Steps 1 and 2: the block allocator.

// Step 1: every block free; the stack holds P-1 .. 0 so that back() = 0 is handed out
// first.
BlockAllocator::BlockAllocator(int num_blocks) {
  Check(num_blocks >= 1, "BlockAllocator",
          "num_blocks must be >= 1, got {}", num_blocks);
  ref_count_.assign(static_cast<size_t>(num_blocks), 0);
  free_.reserve(static_cast<size_t>(num_blocks));
  for (int b = num_blocks - 1; b >= 0; --b) free_.push_back(b);
}

int BlockAllocator::num_blocks() const { return static_cast<int>(ref_count_.size()); }

// Step 1: pop the head of the free list, O(1).
absl::StatusOr<int> BlockAllocator::Allocate() {
  if (free_.empty()) {
    return absl::ResourceExhaustedError(
        fmt::format("Allocate: all {} blocks are in use", num_blocks()));
  }
  const int block = free_.back();
  free_.pop_back();
  ref_count_[static_cast<size_t>(block)] = 1;
  return block;
}

// Step 2: count down; at zero push the block back on the head of the free list, O(1).
absl::Status BlockAllocator::Release(int block) {
  RequireBlock("Release", block, num_blocks());
  int& count = ref_count_[static_cast<size_t>(block)];
  if (count == 0) {
    return absl::FailedPreconditionError(
        fmt::format("Release: block {} is already free (double free)", block));
  }
  if (--count == 0) free_.push_back(block);
  return absl::OkStatus();
}

// Step 2: one more reader of a block in use.
absl::Status BlockAllocator::AddRef(int block) {
  RequireBlock("AddRef", block, num_blocks());
  int& count = ref_count_[static_cast<size_t>(block)];
  if (count == 0) {
    return absl::FailedPreconditionError(
        fmt::format("AddRef: block {} is free; only a block in use can be shared", block));
  }
  ++count;
  return absl::OkStatus();
}

int BlockAllocator::RefCount(int block) const {
  RequireBlock("RefCount", block, num_blocks());
  return ref_count_[static_cast<size_t>(block)];
}

int BlockAllocator::NumFree() const { return static_cast<int>(free_.size()); }

std::vector<int> BlockAllocator::FreeList() const {
  return std::vector<int>(free_.rbegin(), free_.rend());
}

// ---------------------------------------------------------------------------------
// Step 7: the chained block hash.

namespace {
// splitmix64's finalizer: a bijection on 64 bits in which every input bit flips about
// half of the output bits.
std::uint64_t Mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}
}  // namespace

// h = mix(parent + φ); for each token t in order: h = mix(h ⊕ t + φ); then mix in the count.
std::uint64_t BlockHash(std::uint64_t parent_hash, std::span<const int> tokens) {
  Require(!tokens.empty(), "BlockHash", "tokens must hold at least one token id, got 0");
  constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
  std::uint64_t h = Mix(parent_hash + kGolden);
  for (const int t : tokens) {
    h = Mix((h ^ static_cast<std::uint64_t>(static_cast<std::uint32_t>(t))) + kGolden);
  }
  return Mix(h ^ static_cast<std::uint64_t>(tokens.size()));
}

// ---------------------------------------------------------------------------------
// Step 3: block tables and appends.

PagedKvCache::PagedKvCache(int num_blocks, int block_size, int kv_width) {
  Check(num_blocks >= 1, "PagedKvCache",
          "num_blocks must be >= 1, got {}", num_blocks);
  Check(block_size >= 1, "PagedKvCache",
          "block_size must be >= 1, got {}", block_size);
  Check(kv_width >= 1, "PagedKvCache",
          "kv_width must be >= 1, got {}", kv_width);
  Check(static_cast<std::int64_t>(num_blocks) * block_size <= INT_MAX, "PagedKvCache",
          "num_blocks · block_size = {} · {} does not fit in an int", num_blocks,
                      block_size);
  block_size_ = block_size;
  kv_width_ = kv_width;
  allocator_ = BlockAllocator(num_blocks);
  const Eigen::Index slots = static_cast<Eigen::Index>(num_blocks) * block_size;
  keys_ = Matrix::Zero(slots, kv_width);
  values_ = Matrix::Zero(slots, kv_width);
  tokens_.assign(static_cast<size_t>(slots), -1);
  fill_.assign(static_cast<size_t>(num_blocks), 0);
  block_hash_.assign(static_cast<size_t>(num_blocks), 0);
  registered_.assign(static_cast<size_t>(num_blocks), false);
}

int PagedKvCache::num_blocks() const { return allocator_.num_blocks(); }
int PagedKvCache::block_size() const { return block_size_; }
int PagedKvCache::kv_width() const { return kv_width_; }
const BlockAllocator& PagedKvCache::allocator() const { return allocator_; }

SeqId PagedKvCache::NewSequence() {
  const SeqId id = next_id_++;
  sequences_.emplace(id, Sequence{});
  return id;
}

absl::Status PagedKvCache::Append(SeqId seq, int token, const MatrixRef& key,
                                  const MatrixRef& value) {
  Check(token >= 0, "Append", "token must be >= 0, got {}", token);
  RequireShape("Append", "key", key, 1, kv_width_, "one token, kv_width floats");
  RequireShape("Append", "value", value, 1, kv_width_, "one token, kv_width floats");
  const auto it = sequences_.find(seq);
  if (it == sequences_.end()) return UnknownSequence("Append", seq);
  Sequence& s = it->second;

  // Step 3: the token goes to slot L mod B of logical block L / B.
  const int slot = s.length % block_size_;
  int block = 0;
  if (slot == 0) {
    // No block yet, or the last one is full: the only case that allocates.
    absl::StatusOr<int> fresh = allocator_.Allocate();
    if (!fresh.ok()) {
      return absl::ResourceExhaustedError(fmt::format(
          "Append: sequence {} needs a new block and all {} are in use", seq, num_blocks()));
    }
    block = *fresh;
    fill_[static_cast<size_t>(block)] = 0;
    s.blocks.push_back(block);
  } else {
    // Step 6: a shared partial last block is copied before the write.
    absl::StatusOr<int> writable =
        WritableBlock(s, static_cast<int>(s.blocks.size()) - 1);
    if (!writable.ok()) {
      return absl::ResourceExhaustedError(
          fmt::format("Append: sequence {} shares its last block and no block is free "
                      "for the copy",
                      seq));
    }
    block = *writable;
  }
  const Eigen::Index row = static_cast<Eigen::Index>(block) * block_size_ + slot;
  keys_.row(row) = key.row(0);
  values_.row(row) = value.row(0);
  tokens_[static_cast<size_t>(row)] = token;
  fill_[static_cast<size_t>(block)] = slot + 1;
  ++s.length;
  // Step 7: a block that just became full is shared with an identical one or registered.
  if (slot + 1 == block_size_) ShareOrRegisterLastBlock(s);
  return absl::OkStatus();
}

absl::StatusOr<int> PagedKvCache::Length(SeqId seq) const {
  const auto it = sequences_.find(seq);
  if (it == sequences_.end()) return UnknownSequence("Length", seq);
  return it->second.length;
}

absl::StatusOr<std::vector<int>> PagedKvCache::BlockTable(SeqId seq) const {
  const auto it = sequences_.find(seq);
  if (it == sequences_.end()) return UnknownSequence("BlockTable", seq);
  return it->second.blocks;
}

absl::StatusOr<SequenceContents> PagedKvCache::Read(SeqId seq) const {
  const auto it = sequences_.find(seq);
  if (it == sequences_.end()) return UnknownSequence("Read", seq);
  const Sequence& s = it->second;
  SequenceContents out;
  out.tokens.resize(static_cast<size_t>(s.length));
  out.keys.resize(s.length, kv_width_);
  out.values.resize(s.length, kv_width_);
  for (int j = 0; j < s.length; ++j) {
    // Token j lives in slot j mod B of physical block table[j / B].
    const int block = s.blocks[static_cast<size_t>(j / block_size_)];
    const Eigen::Index row = static_cast<Eigen::Index>(block) * block_size_ + j % block_size_;
    out.tokens[static_cast<size_t>(j)] = tokens_[static_cast<size_t>(row)];
    out.keys.row(j) = keys_.row(row);
    out.values.row(j) = values_.row(row);
  }
  return out;
}

Eigen::Map<const Matrix> PagedKvCache::BlockKeys(int block) const {
  RequireBlock("BlockKeys", block, num_blocks());
  return Eigen::Map<const Matrix>(keys_.data() + static_cast<Eigen::Index>(block) *
                                                     block_size_ * kv_width_,
                                  block_size_, kv_width_);
}

Eigen::Map<const Matrix> PagedKvCache::BlockValues(int block) const {
  RequireBlock("BlockValues", block, num_blocks());
  return Eigen::Map<const Matrix>(values_.data() + static_cast<Eigen::Index>(block) *
                                                       block_size_ * kv_width_,
                                  block_size_, kv_width_);
}

std::span<const int> PagedKvCache::BlockTokens(int block) const {
  RequireBlock("BlockTokens", block, num_blocks());
  return std::span<const int>(tokens_).subspan(static_cast<size_t>(block) * block_size_,
                                               static_cast<size_t>(block_size_));
}

std::vector<SeqId> PagedKvCache::Sequences() const {
  std::vector<SeqId> ids;
  ids.reserve(sequences_.size());
  for (const auto& [id, s] : sequences_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// ---------------------------------------------------------------------------------
// Step 4: freeing a sequence.

absl::Status PagedKvCache::Free(SeqId seq) {
  const auto it = sequences_.find(seq);
  if (it == sequences_.end()) return UnknownSequence("Free", seq);
  const std::vector<int>& blocks = it->second.blocks;
  // Last block first: the free list then hands the blocks out again in table order.
  for (auto b = blocks.rbegin(); b != blocks.rend(); ++b) ReleaseBlock(*b);
  sequences_.erase(it);
  return absl::OkStatus();
}

void PagedKvCache::ReleaseBlock(int block) {
  if (allocator_.RefCount(block) == 1) Unregister(block);
  const absl::Status released = allocator_.Release(block);
  // Every block in a table holds a reference: a failure here is a bug of this class.
  if (!released.ok()) throw std::logic_error(std::string(released.message()));
}

// ---------------------------------------------------------------------------------
// Step 5: fork.

absl::StatusOr<SeqId> PagedKvCache::Fork(SeqId parent) {
  const auto it = sequences_.find(parent);
  if (it == sequences_.end()) return UnknownSequence("Fork", parent);
  Sequence child = it->second;  // table, length and hashes; no float is copied
  for (const int b : child.blocks) {
    const absl::Status shared = allocator_.AddRef(b);
    if (!shared.ok()) throw std::logic_error(std::string(shared.message()));
  }
  const SeqId id = next_id_++;
  sequences_.emplace(id, std::move(child));
  return id;
}

// ---------------------------------------------------------------------------------
// Step 6: copy-on-write.

absl::StatusOr<int> PagedKvCache::WritableBlock(Sequence& seq, int logical) {
  const int block = seq.blocks[static_cast<size_t>(logical)];
  if (allocator_.RefCount(block) == 1) {
    // Written in place: its contents change, so it no longer matches its hash.
    Unregister(block);
    return block;
  }
  absl::StatusOr<int> copy = allocator_.Allocate();
  if (!copy.ok()) return copy.status();
  const int filled = fill_[static_cast<size_t>(block)];
  for (int t = 0; t < filled; ++t) CopySlot(block, *copy, t);
  fill_[static_cast<size_t>(*copy)] = filled;
  seq.blocks[static_cast<size_t>(logical)] = *copy;
  ReleaseBlock(block);  // count >= 2, so it stays in use for the other readers
  return *copy;
}

void PagedKvCache::CopySlot(int from_block, int to_block, int slot) {
  const Eigen::Index from = static_cast<Eigen::Index>(from_block) * block_size_ + slot;
  const Eigen::Index to = static_cast<Eigen::Index>(to_block) * block_size_ + slot;
  keys_.row(to) = keys_.row(from);
  values_.row(to) = values_.row(from);
  tokens_[static_cast<size_t>(to)] = tokens_[static_cast<size_t>(from)];
}

absl::Status PagedKvCache::Write(SeqId seq, int position, int token, const MatrixRef& key,
                                 const MatrixRef& value) {
  Check(token >= 0, "Write", "token must be >= 0, got {}", token);
  RequireShape("Write", "key", key, 1, kv_width_, "one token, kv_width floats");
  RequireShape("Write", "value", value, 1, kv_width_, "one token, kv_width floats");
  const auto it = sequences_.find(seq);
  if (it == sequences_.end()) return UnknownSequence("Write", seq);
  Sequence& s = it->second;
  Check(position >= 0 && position < s.length, "Write",
          "position = {} is outside [0, {}) for sequence {}", position,
                      s.length, seq);
  const int logical = position / block_size_;
  absl::StatusOr<int> block = WritableBlock(s, logical);
  if (!block.ok()) {
    return absl::ResourceExhaustedError(fmt::format(
        "Write: sequence {} shares the block of position {} and no block is free for "
        "the copy",
        seq, position));
  }
  const Eigen::Index row =
      static_cast<Eigen::Index>(*block) * block_size_ + position % block_size_;
  keys_.row(row) = key.row(0);
  values_.row(row) = value.row(0);
  tokens_[static_cast<size_t>(row)] = token;
  // The chain of hashes from this block on now describes other token ids.
  if (logical < static_cast<int>(s.full_hashes.size())) RehashFrom(s, logical);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------
// Step 7: prefix sharing.

void PagedKvCache::ShareOrRegisterLastBlock(Sequence& seq) {
  const int logical = static_cast<int>(seq.blocks.size()) - 1;
  const int block = seq.blocks.back();
  const std::uint64_t parent =
      logical == 0 ? kRootHash : seq.full_hashes[static_cast<size_t>(logical - 1)];
  const std::span<const int> tokens = BlockTokens(block);
  const std::uint64_t h = BlockHash(parent, tokens);
  seq.full_hashes.push_back(h);

  const auto hit = prefix_index_.find(h);
  if (hit == prefix_index_.end()) {
    // First full block with this prefix: later sequences can find it.
    prefix_index_.emplace(h, block);
    block_hash_[static_cast<size_t>(block)] = h;
    registered_[static_cast<size_t>(block)] = true;
    return;
  }
  const int other = hit->second;
  // A 64-bit hash can collide: share only if the token ids really are equal (otherwise
  // keep the private block, unregistered).
  const std::span<const int> other_tokens = BlockTokens(other);
  if (!std::equal(tokens.begin(), tokens.end(), other_tokens.begin())) return;
  const absl::Status shared = allocator_.AddRef(other);
  if (!shared.ok()) throw std::logic_error(std::string(shared.message()));
  seq.blocks.back() = other;
  ReleaseBlock(block);  // private (count 1): straight back to the free list
}

void PagedKvCache::Unregister(int block) {
  if (!registered_[static_cast<size_t>(block)]) return;
  const auto it = prefix_index_.find(block_hash_[static_cast<size_t>(block)]);
  if (it != prefix_index_.end() && it->second == block) prefix_index_.erase(it);
  registered_[static_cast<size_t>(block)] = false;
}

void PagedKvCache::RehashFrom(Sequence& seq, int from) {
  for (size_t i = static_cast<size_t>(from); i < seq.full_hashes.size(); ++i) {
    const std::uint64_t parent = i == 0 ? kRootHash : seq.full_hashes[i - 1];
    seq.full_hashes[i] = BlockHash(parent, BlockTokens(seq.blocks[i]));
  }
}

// ---------------------------------------------------------------------------------
// Step 8: decode attention through the block table.

absl::StatusOr<Matrix> PagedDecodeAttention(const PagedKvCache& cache,
                                            const std::vector<SeqId>& seqs,
                                            const MatrixRef& queries, int num_heads,
                                            int num_kv_heads) {
  constexpr std::string_view kWhere = "PagedDecodeAttention";
  Require(!seqs.empty(), kWhere, "seqs must name at least one sequence, got 0");
  Check(num_heads >= 1, kWhere, "num_heads must be >= 1, got {}", num_heads);
  Check(num_kv_heads >= 1 && num_heads % num_kv_heads == 0, kWhere,
          "num_kv_heads = {} must be >= 1 and divide num_heads = {}",
                      num_kv_heads, num_heads);
  const int width = cache.kv_width();
  Check(width % num_kv_heads == 0, kWhere,
          "num_kv_heads = {} must divide the cache's kv_width = {}", num_kv_heads,
                      width);
  const int d = width / num_kv_heads;
  RequireShape(kWhere, "queries", queries, static_cast<Eigen::Index>(seqs.size()),
               static_cast<Eigen::Index>(num_heads) * d,
               fmt::format("one row per sequence, num_heads · d = {} · {}", num_heads, d));

  const int block_size = cache.block_size();
  const int group = num_heads / num_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  Matrix out(queries.rows(), queries.cols());
  Matrix scores;  // [H, L] for the sequence at hand
  for (size_t s = 0; s < seqs.size(); ++s) {
    absl::StatusOr<std::vector<int>> table = cache.BlockTable(seqs[s]);
    if (!table.ok()) return table.status();
    const int length = *cache.Length(seqs[s]);
    if (length == 0) {
      return absl::FailedPreconditionError(fmt::format(
          "PagedDecodeAttention: sequence {} holds no tokens to attend to", seqs[s]));
    }
    const Eigen::Index row = static_cast<Eigen::Index>(s);
    const int num_logical = static_cast<int>(table->size());
    scores.resize(num_heads, length);
    // Pass 1: scores, one block at a time through the table. Every head reads the block
    // while it is in cache: for query head h, the n_i rows of the block times q_h, where
    // the last block holds n_i = L − i·B < B tokens (its other slots are stale).
    for (int i = 0; i < num_logical; ++i) {
      const Eigen::Map<const Matrix> keys = cache.BlockKeys((*table)[static_cast<size_t>(i)]);
      const int n_i = std::min(block_size, length - i * block_size);
      for (int h = 0; h < num_heads; ++h) {
        const int g = h / group;  // the kv head of query head h
        scores.row(h).segment(i * block_size, n_i).noalias() =
            queries.row(row).segment(h * d, d) *
            keys.block(0, g * d, n_i, d).transpose();
      }
    }
    // Softmax of each head's row (max subtracted, step 4 of kata 02), with 1/√d folded in.
    for (int h = 0; h < num_heads; ++h) {
      const float max_score = scores.row(h).maxCoeff();
      scores.row(h) = ((scores.row(h).array() - max_score) * scale).exp().matrix();
      scores.row(h) /= scores.row(h).sum();
    }
    // Pass 2: the weighted sum of the values, again block by block.
    out.row(row).setZero();
    for (int i = 0; i < num_logical; ++i) {
      const Eigen::Map<const Matrix> values =
          cache.BlockValues((*table)[static_cast<size_t>(i)]);
      const int n_i = std::min(block_size, length - i * block_size);
      for (int h = 0; h < num_heads; ++h) {
        const int g = h / group;
        out.row(row).segment(h * d, d).noalias() +=
            scores.row(h).segment(i * block_size, n_i) * values.block(0, g * d, n_i, d);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Step 9: accounting.

CacheStats PagedKvCache::Stats() const {
  CacheStats st;
  st.blocks_free = allocator_.NumFree();
  st.blocks_used = num_blocks() - st.blocks_free;
  st.slots_used = static_cast<std::int64_t>(st.blocks_used) * block_size_;
  for (int b = 0; b < num_blocks(); ++b) {
    if (allocator_.RefCount(b) > 0) st.slots_filled += fill_[static_cast<size_t>(b)];
  }
  st.internal_fragmentation = st.slots_used - st.slots_filled;
  for (const auto& [id, s] : sequences_) st.logical_tokens += s.length;
  st.wasted_fraction = st.slots_used == 0 ? 0.0
                                          : static_cast<double>(st.internal_fragmentation) /
                                                static_cast<double>(st.slots_used);
  return st;
}

namespace {
Reservation Finish(Reservation r) {
  r.wasted_slots = r.reserved_slots - r.used_slots;
  r.wasted_fraction = r.reserved_slots == 0 ? 0.0
                                            : static_cast<double>(r.wasted_slots) /
                                                  static_cast<double>(r.reserved_slots);
  return r;
}
}  // namespace

Reservation PagedReservation(const std::vector<int>& lengths, int block_size) {
  Check(block_size >= 1, "PagedReservation",
          "block_size must be >= 1, got {}", block_size);
  Reservation r;
  for (size_t i = 0; i < lengths.size(); ++i) {
    const int length = lengths[i];
    Check(length >= 0, "PagedReservation",
            "lengths[{}] must be >= 0, got {}", i, length);
    // ⌈L / B⌉ blocks of B slots.
    const std::int64_t blocks = (static_cast<std::int64_t>(length) + block_size - 1) / block_size;
    r.reserved_slots += blocks * block_size;
    r.used_slots += length;
  }
  return Finish(r);
}

Reservation ContiguousReservation(const std::vector<int>& lengths, int max_length) {
  Check(max_length >= 1, "ContiguousReservation",
          "max_length must be >= 1, got {}", max_length);
  Reservation r;
  for (size_t i = 0; i < lengths.size(); ++i) {
    const int length = lengths[i];
    Check(length >= 0 && length <= max_length, "ContiguousReservation",
            "lengths[{}] = {} is outside [0, max_length = {}]", i, length,
                        max_length);
    r.reserved_slots += max_length;
    r.used_slots += length;
  }
  return Finish(r);
}

}  // namespace llmk::paged
