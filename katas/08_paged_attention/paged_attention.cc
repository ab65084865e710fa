// Your implementation of paged_attention.h. Replace each `throw llmk::NotImplemented(...)`
// with the step's code; README.md derives every step, HINTS.md helps when stuck.
// Run `./kata test 08` after each change.
//
// Validate inputs first: a contract violation throws llmk::InvalidArgument naming the
// argument and the value (llmk::Require and llmk::RequireShape in llmk/core.h build such
// messages). Expected runtime conditions return a Status instead:
// absl::ResourceExhaustedError, absl::NotFoundError, absl::FailedPreconditionError.
//
// The private members declared in the header are the ones the solution uses; the tests
// only call the public API.
#include "paged_attention.h"

namespace llmk::paged {

// ---------------------------------------------------------------------------------
// Steps 1 and 2: the block allocator.

// Step 1: every block free, the free list in id order (0 is handed out first).
BlockAllocator::BlockAllocator(int num_blocks) { throw NotImplemented("BlockAllocator"); }

// Step 1: P.
int BlockAllocator::num_blocks() const { throw NotImplemented("BlockAllocator::num_blocks"); }

// Step 1: take the head of the free list, count 1; ResourceExhausted when none is free.
absl::StatusOr<int> BlockAllocator::Allocate() {
  throw NotImplemented("BlockAllocator::Allocate");
}

// Steps 1 and 2: one reference less; at 0 back to the head of the free list.
absl::Status BlockAllocator::Release(int block) {
  throw NotImplemented("BlockAllocator::Release");
}

// Step 2: one reference more, for a block in use.
absl::Status BlockAllocator::AddRef(int block) { throw NotImplemented("BlockAllocator::AddRef"); }

// Step 2: the count of one block.
int BlockAllocator::RefCount(int block) const {
  throw NotImplemented("BlockAllocator::RefCount");
}

// Step 1: how many blocks are free.
int BlockAllocator::NumFree() const { throw NotImplemented("BlockAllocator::NumFree"); }

// Step 1: the free blocks, next to be allocated first.
std::vector<int> BlockAllocator::FreeList() const {
  throw NotImplemented("BlockAllocator::FreeList");
}

// ---------------------------------------------------------------------------------
// Step 7: the chained hash of a full block.

std::uint64_t BlockHash(std::uint64_t parent_hash, std::span<const int> tokens) {
  throw NotImplemented("BlockHash");
}

// ---------------------------------------------------------------------------------
// Step 3: block tables and appends.

PagedKvCache::PagedKvCache(int num_blocks, int block_size, int kv_width) {
  throw NotImplemented("PagedKvCache");
}

int PagedKvCache::num_blocks() const { throw NotImplemented("PagedKvCache::num_blocks"); }
int PagedKvCache::block_size() const { throw NotImplemented("PagedKvCache::block_size"); }
int PagedKvCache::kv_width() const { throw NotImplemented("PagedKvCache::kv_width"); }

const BlockAllocator& PagedKvCache::allocator() const {
  throw NotImplemented("PagedKvCache::allocator");
}

// Step 3: a new empty sequence with the next id.
SeqId PagedKvCache::NewSequence() { throw NotImplemented("PagedKvCache::NewSequence"); }

// Step 3: slot L mod B of logical block L / B; allocate only when the last block is full.
// Step 6: copy a shared partial last block before writing. Step 7: share or register a
// block that became full.
absl::Status PagedKvCache::Append(SeqId seq, int token, const MatrixRef& key,
                                  const MatrixRef& value) {
  throw NotImplemented("PagedKvCache::Append");
}

// Step 3: L.
absl::StatusOr<int> PagedKvCache::Length(SeqId seq) const {
  throw NotImplemented("PagedKvCache::Length");
}

// Step 3: the block table.
absl::StatusOr<std::vector<int>> PagedKvCache::BlockTable(SeqId seq) const {
  throw NotImplemented("PagedKvCache::BlockTable");
}

// Step 3: token j is slot j mod B of block table[j / B].
absl::StatusOr<SequenceContents> PagedKvCache::Read(SeqId seq) const {
  throw NotImplemented("PagedKvCache::Read");
}

// Step 3: rows b·B .. b·B + B - 1 of the pool.
Eigen::Map<const Matrix> PagedKvCache::BlockKeys(int block) const {
  throw NotImplemented("PagedKvCache::BlockKeys");
}

Eigen::Map<const Matrix> PagedKvCache::BlockValues(int block) const {
  throw NotImplemented("PagedKvCache::BlockValues");
}

std::span<const int> PagedKvCache::BlockTokens(int block) const {
  throw NotImplemented("PagedKvCache::BlockTokens");
}

// Step 3: the live ids, ascending.
std::vector<SeqId> PagedKvCache::Sequences() const {
  throw NotImplemented("PagedKvCache::Sequences");
}

// ---------------------------------------------------------------------------------
// Step 4: release every block of the sequence, last logical block first.

absl::Status PagedKvCache::Free(SeqId seq) { throw NotImplemented("PagedKvCache::Free"); }

// ---------------------------------------------------------------------------------
// Step 5: a new sequence sharing every block of the parent.

absl::StatusOr<SeqId> PagedKvCache::Fork(SeqId parent) {
  throw NotImplemented("PagedKvCache::Fork");
}

// ---------------------------------------------------------------------------------
// Step 6: copy the block first if it is shared, then write.

absl::Status PagedKvCache::Write(SeqId seq, int position, int token, const MatrixRef& key,
                                 const MatrixRef& value) {
  throw NotImplemented("PagedKvCache::Write");
}

// ---------------------------------------------------------------------------------
// Step 8: decode attention through the block tables.

absl::StatusOr<Matrix> PagedDecodeAttention(const PagedKvCache& cache,
                                            const std::vector<SeqId>& seqs,
                                            const MatrixRef& queries, int num_heads,
                                            int num_kv_heads) {
  throw NotImplemented("PagedDecodeAttention");
}

// ---------------------------------------------------------------------------------
// Step 9: accounting.

CacheStats PagedKvCache::Stats() const { throw NotImplemented("PagedKvCache::Stats"); }

// Step 9: ⌈L / B⌉·B slots per sequence.
Reservation PagedReservation(const std::vector<int>& lengths, int block_size) {
  throw NotImplemented("PagedReservation");
}

// Step 9: max_length slots per sequence.
Reservation ContiguousReservation(const std::vector<int>& lengths, int max_length) {
  throw NotImplemented("ContiguousReservation");
}

}  // namespace llmk::paged
