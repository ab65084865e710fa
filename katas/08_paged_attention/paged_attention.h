// Kata 08: a paged KV cache (vLLM's PagedAttention) and the attention kernel that reads
// through it.
//
// The API of the kata. The stubs (katas/08_paged_attention/paged_attention.cc) and the
// solution (solutions/08_paged_attention/paged_attention.cc) implement this same header;
// the tests build against both. Read README.md beside this file for the derivation of
// every step.
//
//   paged::BlockAllocator pool(8);                            // step 1: free list
//   absl::StatusOr<int> b = pool.Allocate();                  // step 1: block 0
//   absl::Status s = pool.AddRef(*b);                         // step 2: count 2
//
//   paged::PagedKvCache cache(/*num_blocks=*/8, /*block_size=*/4, /*kv_width=*/2);
//   paged::SeqId a = cache.NewSequence();                     // step 3: id 0
//   s = cache.Append(a, /*token=*/11, key, value);            // step 3: key, value [1, W]
//   s = cache.Free(a);                                        // step 4
//   absl::StatusOr<paged::SeqId> c = cache.Fork(a);           // step 5: shares blocks
//   s = cache.Write(*c, /*position=*/1, 99, key, value);      // step 6: copy-on-write
//   uint64_t h = paged::BlockHash(paged::kRootHash, tokens);  // step 7: prefix sharing
//   absl::StatusOr<llmk::Matrix> out =                        // step 8: [S, H·d]
//       paged::PagedDecodeAttention(cache, {a, *c}, queries, /*num_heads=*/4, 2);
//   paged::CacheStats st = cache.Stats();                     // step 9: accounting
//
// P = physical blocks in the pool, B = block size (token slots per block),
// W = kv_width = Hkv·d (the key, or the value, of one token for all its kv heads),
// L = tokens in a sequence, n = ⌈L / B⌉ logical blocks of a sequence,
// S = sequences in a decode batch, H = query heads, Hkv = key/value heads, d = head width.
//
// Layout. The pool is two float matrices, keys and values, each [P·B, W]: block b owns
// rows b·B .. b·B + B - 1, token slot t of block b is row b·B + t, and within a row kv
// head g occupies columns g·d .. g·d + d - 1. One pool holds one layer; a model keeps one
// pool per layer, all indexed by the same block tables. Beside the floats, every slot
// records the token id written into it (prefix sharing compares token ids).
//
// A sequence's block table maps logical block i (its tokens i·B .. i·B + B - 1) to a
// physical block. Only the last block may be partly filled; slots past the length hold
// whatever was there before (another sequence's old data) and are never read.
//
// Errors, as everywhere in this repository:
//   - a caller's contract violation (a size < 1, a shape that does not fit, a block id
//     outside [0, P), a position outside [0, L), a negative token id) throws
//     llmk::InvalidArgument naming the argument, what was expected and what was given;
//   - an expected runtime condition returns a Status: the pool is out of blocks
//     (ResourceExhausted, and nothing stored changes), a sequence id that does not exist
//     or was freed (NotFound), releasing or sharing a block that is free, or attending
//     over an empty sequence (FailedPrecondition).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "llmk/core.h"

namespace llmk::paged {

// ---------------------------------------------------------------------------------
// Steps 1 and 2: the block allocator.

// Hands out the ids of P fixed-size blocks and counts the references to each. It owns no
// memory, only ids: the cache below keeps the floats. Allocate and Release are O(1).
class BlockAllocator {
 public:
  // An empty pool, only so that a class can hold an allocator it assigns later.
  BlockAllocator() = default;

  // Step 1. A pool of num_blocks blocks, all free. num_blocks >= 1.
  // The free list starts in id order: the first Allocate() returns 0, then 1, ...
  explicit BlockAllocator(int num_blocks);

  // Step 1. P, the number of blocks in the pool.
  int num_blocks() const;

  // Step 1. Takes the block at the head of the free list and gives it a reference count
  // of 1. ResourceExhausted when every block is in use (nothing changes).
  absl::StatusOr<int> Allocate();

  // Steps 1 and 2. Drops one reference to `block`; when its count reaches 0 the block
  // goes back to the head of the free list, so it is the next one Allocate() returns
  // (last in, first out). FailedPrecondition if the block is already free (a double
  // free is reported, never absorbed). 0 <= block < P.
  absl::Status Release(int block);

  // Step 2. Adds one reference to a block in use (one more block table points at it).
  // FailedPrecondition if the block is free. 0 <= block < P.
  absl::Status AddRef(int block);

  // Step 2. The number of references to `block`; 0 means free. 0 <= block < P.
  int RefCount(int block) const;

  // Step 1. How many blocks are free.
  int NumFree() const;

  // Step 1. The free blocks in the order Allocate() would hand them out.
  std::vector<int> FreeList() const;

 private:
  std::vector<int> free_;       // [<= P] a stack of free ids: back() is allocated next
  std::vector<int> ref_count_;  // [P] references per block; 0 = free
};

// ---------------------------------------------------------------------------------
// Step 7: the hash that identifies a full block together with everything before it.

// The parent hash of a sequence's first block.
inline constexpr std::uint64_t kRootHash = 0;

// Step 7. The chained hash of one full block: it mixes the hash of the block before it
// (kRootHash for logical block 0) with the block's token ids, in order. Two full blocks
// get the same hash when their token ids are equal and so are all the token ids before
// them, which is what makes their keys and values equal in a real model. Deterministic:
// the same inputs give the same hash in every run. tokens.size() >= 1.
std::uint64_t BlockHash(std::uint64_t parent_hash, std::span<const int> tokens);

// ---------------------------------------------------------------------------------
// Steps 3 to 7 and 9: the paged KV cache.

using SeqId = int;

// Everything a sequence holds, gathered into contiguous storage (step 3).
struct SequenceContents {
  std::vector<int> tokens;  // [L]
  Matrix keys;              // [L, W]
  Matrix values;            // [L, W]
};

// Step 9. What the pool holds right now.
struct CacheStats {
  int blocks_used = 0;                       // blocks with a reference count >= 1
  int blocks_free = 0;                       // P - blocks_used
  std::int64_t slots_used = 0;               // blocks_used · B
  std::int64_t slots_filled = 0;             // written slots of used blocks, each once
  std::int64_t internal_fragmentation = 0;   // slots_used - slots_filled
  std::int64_t logical_tokens = 0;           // Σ L over live sequences (a shared slot
                                             // counts once per sequence reading it)
  double wasted_fraction = 0.0;              // internal_fragmentation / slots_used;
                                             // 0 when no block is used
};

class PagedKvCache {
 public:
  // Step 3. An empty cache over a pool of num_blocks blocks of block_size token slots,
  // each slot holding a key and a value of kv_width floats. All three >= 1, and
  // num_blocks · block_size must fit in an int.
  PagedKvCache(int num_blocks, int block_size, int kv_width);

  int num_blocks() const;  // P
  int block_size() const;  // B
  int kv_width() const;    // W

  // Step 3. The allocator inside the cache: reference counts and the free list.
  const BlockAllocator& allocator() const;

  // Step 3. Starts an empty sequence (no blocks) and returns its id. Ids are 0, 1, 2, ...
  // in order of creation (forks included) and are never reused, even after Free.
  SeqId NewSequence();

  // Step 3. Appends one token with its key and value (each [1, W]) at position L.
  // A block is allocated only when the sequence has none or its last block is full.
  // Step 6: if the last block is partly filled and shared (count >= 2), it is copied
  // first and the copy takes the write (copy-on-write).
  // Step 7: when the token fills its block, the block is looked up by BlockHash; if an
  // identical full block is already registered, the sequence points at that one instead
  // and the block just filled is released; otherwise this block is registered.
  // NotFound for an unknown sequence; ResourceExhausted when a block is needed and the
  // pool has none (the sequence and every other are unchanged). token >= 0.
  absl::Status Append(SeqId seq, int token, const MatrixRef& key, const MatrixRef& value);

  // Step 3. L, the number of tokens of `seq`. NotFound for an unknown sequence.
  absl::StatusOr<int> Length(SeqId seq) const;

  // Step 3. The physical block of each logical block, [n]. NotFound if unknown.
  absl::StatusOr<std::vector<int>> BlockTable(SeqId seq) const;

  // Step 3. The sequence's tokens, keys and values read through its block table, in
  // order. NotFound if unknown.
  absl::StatusOr<SequenceContents> Read(SeqId seq) const;

  // Step 3. Views of one physical block of the pool: keys and values [B, W] and the
  // token ids of its B slots. Slots past a sequence's length hold stale data.
  // 0 <= block < P.
  Eigen::Map<const Matrix> BlockKeys(int block) const;
  Eigen::Map<const Matrix> BlockValues(int block) const;
  std::span<const int> BlockTokens(int block) const;

  // Step 3. The ids of the live sequences, ascending.
  std::vector<SeqId> Sequences() const;

  // Step 4. Drops the sequence: each of its blocks loses one reference, from the last
  // logical block to the first, and a block whose count reaches 0 returns to the free
  // list. NotFound for an unknown or already freed sequence.
  absl::Status Free(SeqId seq);

  // Step 5. A new sequence (the next id) with the parent's length and a copy of its
  // block table: every block gains a reference, no block is allocated, no float is
  // copied. NotFound for an unknown parent.
  absl::StatusOr<SeqId> Fork(SeqId parent);

  // Step 6. Replaces the token, key and value at `position` (0 <= position < L).
  // If the block holding it is shared, it is copied first and only this sequence's
  // table moves to the copy: the other sequences keep seeing the old contents. A
  // private block is written in place. NotFound for an unknown sequence;
  // ResourceExhausted if a copy is needed and the pool has no free block (nothing
  // changes). token >= 0; key and value [1, W].
  absl::Status Write(SeqId seq, int position, int token, const MatrixRef& key,
                     const MatrixRef& value);

  // Step 9. Blocks used, slots filled, internal fragmentation and the wasted fraction.
  CacheStats Stats() const;

 private:
  struct Sequence {
    std::vector<int> blocks;                // [n] the block table
    int length = 0;                         // L
    std::vector<std::uint64_t> full_hashes; // [number of full blocks] chained BlockHash
  };

  // The block to write logical block `logical` of `seq` into: the block itself when
  // this sequence is its only reader, else a fresh copy that replaces it in the table.
  absl::StatusOr<int> WritableBlock(Sequence& seq, int logical);
  // Drops one reference to `block`, unregistering it from the prefix index when freed.
  void ReleaseBlock(int block);
  // Removes `block` from the prefix index if it is registered there.
  void Unregister(int block);
  // Step 7: the last block of `seq` just became full; share or register it.
  void ShareOrRegisterLastBlock(Sequence& seq);
  // Recomputes seq.full_hashes from logical block `from` on (after a Write).
  void RehashFrom(Sequence& seq, int from);
  void CopySlot(int from_block, int to_block, int slot);

  int block_size_ = 0;                             // B
  int kv_width_ = 0;                               // W
  BlockAllocator allocator_;                       // P blocks
  Matrix keys_;                                    // [P·B, W]
  Matrix values_;                                  // [P·B, W]
  std::vector<int> tokens_;                        // [P·B] token id of each slot
  std::vector<int> fill_;                          // [P] slots written in each block
  std::vector<std::uint64_t> block_hash_;          // [P] hash a registered block is under
  std::vector<bool> registered_;                   // [P] in prefix_index_?
  absl::flat_hash_map<std::uint64_t, int> prefix_index_;  // hash -> full block
  absl::flat_hash_map<SeqId, Sequence> sequences_;        // live sequences
  SeqId next_id_ = 0;
};

// ---------------------------------------------------------------------------------
// Step 8: the paged attention kernel.

// Step 8. Decode attention: one new query per sequence attends over all L tokens of that
// sequence, reading the keys and values through its block table, for any block size.
// Row s of the result is multi-head attention of queries.row(s):
//   for query head h, with kv head g = h / (H / Hkv) and q_h = queries(s, h·d .. h·d+d-1),
//   out(s, h·d ..) = Σ_j softmax_j(q_h · k_j,g / √d) · v_j,g   over the L tokens j,
// where k_j,g is columns g·d .. g·d + d - 1 of token j's key (d = W / Hkv).
//   seqs [S] (S >= 1), queries [S, H·d] -> [S, H·d].
// H >= 1, Hkv >= 1, Hkv divides H and W. NotFound for an unknown sequence;
// FailedPrecondition for a sequence with no tokens.
absl::StatusOr<Matrix> PagedDecodeAttention(const PagedKvCache& cache,
                                            const std::vector<SeqId>& seqs,
                                            const MatrixRef& queries, int num_heads,
                                            int num_kv_heads);

// ---------------------------------------------------------------------------------
// Step 9: accounting for a workload of sequence lengths.

// Slots reserved for a workload and how many of them hold tokens.
struct Reservation {
  std::int64_t reserved_slots = 0;  // token slots set aside
  std::int64_t used_slots = 0;      // Σ L
  std::int64_t wasted_slots = 0;    // reserved - used
  double wasted_fraction = 0.0;     // wasted / reserved; 0 when nothing is reserved
};

// Step 9. A paged cache without sharing: each sequence holds ⌈L / B⌉ blocks of B slots.
// lengths >= 0 each, block_size >= 1.
Reservation PagedReservation(const std::vector<int>& lengths, int block_size);

// Step 9. A contiguous cache reserves max_length slots for every sequence up front.
// 0 <= lengths[i] <= max_length, max_length >= 1.
Reservation ContiguousReservation(const std::vector<int>& lengths, int max_length);

}  // namespace llmk::paged
