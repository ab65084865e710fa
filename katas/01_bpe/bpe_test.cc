// Tests of kata 01, one suite per step of README.md. Each step checks the hand-derived
// fixtures first (fixtures/01_bpe/*.json), then properties and random inputs against
// the naive oracle in reference/bpe_ref.h, then bad inputs.
#include "bpe.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "bpe_ref.h"
#include "llmk/testing/testing.h"
#include "llmk/testing/utf8.h"
#include "unicode_classes.h"

namespace llmk::bpe {
namespace {

namespace ref = ::llmk::reference::bpe;
using ::llmk::testing::KataFixture;
using ::llmk::testing::Rng;
using ::llmk::testing::Utf8;
using ::llmk::testing::Tolerance;

constexpr Tolerance kExact{0, 0};

const ::llmk::testing::Fixture& WordsFx() { return KataFixture("01_bpe/words.json"); }
const ::llmk::testing::Fixture& AaabFx() { return KataFixture("01_bpe/aaabdaaabac.json"); }
const ::llmk::testing::Fixture& ByteLevelFx() { return KataFixture("01_bpe/byte_level.json"); }
const ::llmk::testing::Fixture& PretokenizeFx() { return KataFixture("01_bpe/pretokenize.json"); }
const ::llmk::testing::Fixture& SpecialsFx() { return KataFixture("01_bpe/specials.json"); }
const ::llmk::testing::Fixture& TiktokenFx() { return KataFixture("01_bpe/tiktoken.json"); }

// The inputs of the worked examples (the fixtures hold the numbers derived from them).
const std::vector<std::string> kWordTexts = {"low", "lower", "newest", "widest"};
constexpr std::string_view kAaab = "aaabdaaabac";
constexpr std::string_view kEndOfText = "<|endoftext|>";

// ---------------------------------------------------------------------------------
// Conversions between the API's types and fixture matrices.

Tokens Row(const ::llmk::testing::Fixture& fx, std::string_view key) {
  const MatrixD m = fx.MatrixD(key);
  Tokens out;
  for (Eigen::Index j = 0; j < m.cols(); ++j) out.push_back(static_cast<TokenId>(m(0, j)));
  return out;
}

MatrixD PairMatrix(const PairCounts& counts) {  // rows [left, right, count]
  MatrixD m(static_cast<Eigen::Index>(counts.size()), 3);
  Eigen::Index i = 0;
  for (const auto& [pair, count] : counts) {
    m.row(i++) << pair.left, pair.right, static_cast<double>(count);
  }
  return m;
}

MatrixD MergeMatrix(const std::vector<Merge>& merges) {  // rows [left, right, id, count]
  MatrixD m(static_cast<Eigen::Index>(merges.size()), 4);
  for (std::size_t r = 0; r < merges.size(); ++r) {
    m.row(static_cast<Eigen::Index>(r)) << merges[r].pair.left, merges[r].pair.right, merges[r].id,
        static_cast<double>(merges[r].count);
  }
  return m;
}

MatrixD MergeMatrix(const std::vector<ref::Merge>& merges) {
  MatrixD m(static_cast<Eigen::Index>(merges.size()), 4);
  for (std::size_t r = 0; r < merges.size(); ++r) {
    m.row(static_cast<Eigen::Index>(r)) << merges[r].left, merges[r].right, merges[r].id,
        static_cast<double>(merges[r].count);
  }
  return m;
}

std::vector<Merge> MergesFrom(const ::llmk::testing::Fixture& fx) {
  const MatrixD m = fx.MatrixD("merges");
  std::vector<Merge> merges;
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    merges.push_back({{static_cast<TokenId>(m(r, 0)), static_cast<TokenId>(m(r, 1))},
                      static_cast<TokenId>(m(r, 2)),
                      static_cast<std::int64_t>(m(r, 3))});
  }
  return merges;
}

std::vector<Word> FixtureWords() {
  const MatrixD counts = WordsFx().MatrixD("word_counts");
  std::vector<Word> words;
  for (std::size_t w = 0; w < kWordTexts.size(); ++w) {
    words.push_back({BytesToTokens(kWordTexts[w]),
                     static_cast<std::int64_t>(counts(static_cast<Eigen::Index>(w), 0))});
  }
  return words;
}

MatrixD OffsetMatrix(std::string_view text, const std::vector<std::string_view>& pieces) {
  MatrixD m(static_cast<Eigen::Index>(pieces.size()), 2);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const auto start = static_cast<double>(pieces[i].data() - text.data());
    m.row(static_cast<Eigen::Index>(i)) << start, start + static_cast<double>(pieces[i].size());
  }
  return m;
}

std::vector<std::string> Strings(const std::vector<std::string_view>& views) {
  return {views.begin(), views.end()};
}

// The ordinary tokens of a tokenizer as the reference's bytes -> rank map.
std::map<std::string, int> RanksOf(const Tokenizer& tok, int num_ordinary) {
  std::map<std::string, int> ranks;
  for (TokenId id = 0; id < num_ordinary; ++id) ranks.emplace(tok.TokenBytes(id), id);
  return ranks;
}

std::vector<std::pair<std::string, std::int64_t>> RefWords(const std::vector<Word>& words) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const Word& w : words) {
    std::string text;
    for (TokenId t : w.tokens) text += static_cast<char>(t);
    out.emplace_back(text, w.count);
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Seeded random inputs.

std::string RandomBytes(Rng& rng, std::size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng.Below(256));
  return s;
}

std::string RandomString(Rng& rng, std::string_view alphabet, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += alphabet[rng.Below(alphabet.size())];
  return s;
}

std::vector<Word> RandomWords(Rng& rng, std::string_view alphabet, int max_words, int max_len) {
  std::vector<Word> words;
  const int n = 1 + static_cast<int>(rng.Below(static_cast<std::uint64_t>(max_words)));
  for (int w = 0; w < n; ++w) {
    const auto len = 1 + rng.Below(static_cast<std::uint64_t>(max_len));
    words.push_back({BytesToTokens(RandomString(rng, alphabet, len)),
                     static_cast<std::int64_t>(1 + rng.Below(5))});
  }
  return words;
}

// Text made of fragments that exercise every alternative of the split pattern.
std::string RandomText(Rng& rng, std::size_t fragments) {
  static const std::vector<std::string> kFragments = {
      "the",
      " the",
      "cat",
      " sat",
      " on",
      " a",
      " mat",
      "The",
      " dog",
      " ran",
      "low",
      "lower",
      " newest",
      " widest",
      "'s",
      "'t",
      "'re",
      "'ve",
      "'m",
      "'ll",
      "'d",
      "'",
      "''",
      "'S",
      " '",
      "don",
      "42",
      " 2024",
      "7",
      " ",
      "  ",
      "   ",
      "\n",
      "\n\n",
      "\t",
      " \n",
      "\r\n",
      "!",
      "!!",
      " ?",
      ".",
      ",",
      "...",
      " --",
      "(",
      ")",
      "\"",
      "$",
      "€",
      " €",
      "café",
      " Ελλάδα",
      "東京",
      " 東京",
      "½",
      "²",
      "٣٤",
      "e\xCC\x81",
      "\xC2\xA0",
      "\xE3\x80\x80",
      "\xF0\x9F\x99\x82",
      "\xFF",
      "\x80",
      "\xC3",
      "aaaa",
      "aaab",
  };
  std::string s;
  for (std::size_t i = 0; i < fragments; ++i) s += kFragments[rng.Below(kFragments.size())];
  return s;
}

// A tokenizer trained on seeded random text, shared by several tests.
const std::string& TrainingText() {
  static const std::string text = [] {
    Rng rng(2024);
    return RandomText(rng, 4000);
  }();
  return text;
}

// ---------------------------------------------------------------------------------
// Step 1: count adjacent pairs.

TEST(Step1_CountPairs, FixtureAaabdaaabac) {
  EXPECT_ALLCLOSE(PairMatrix(CountPairs(BytesToTokens(kAaab))), AaabFx().MatrixD("pairs_1"),
                  kExact);
}

TEST(Step1_CountPairs, FixtureWordTable) {
  EXPECT_ALLCLOSE(PairMatrix(CountPairs(FixtureWords())), WordsFx().MatrixD("pairs_1"), kExact);
}

TEST(Step1_CountPairs, OverlappingPairsCountTwice) {
  const PairCounts counts = CountPairs(BytesToTokens("aaa"));
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts.at({'a', 'a'}), 2) << "\"aaa\" holds (a, a) at positions 0 and 1";
  EXPECT_TRUE(CountPairs(BytesToTokens("")).empty());
  EXPECT_TRUE(CountPairs(BytesToTokens("x")).empty()) << "one token has no pair";
}

TEST(Step1_CountPairs, WordsWeighTheirPairsByTheirCount) {
  const std::vector<Word> words = {
      {BytesToTokens("ab"), 3}, {BytesToTokens("abb"), 2}, {BytesToTokens("ba"), 0}};
  const PairCounts counts = CountPairs(words);
  EXPECT_EQ(counts.at({'a', 'b'}), 5);
  EXPECT_EQ(counts.at({'b', 'b'}), 2);
  const auto ba = counts.find({'b', 'a'});
  EXPECT_TRUE(ba == counts.end() || ba->second == 0) << "a word that occurs 0 times adds nothing";
}

TEST(Step1_CountPairs, MatchesReferenceOnRandomWords) {
  Rng rng(101);
  for (int trial = 0; trial < 50; ++trial) {
    const std::vector<Word> words = RandomWords(rng, "abcd", 8, 12);
    std::vector<std::pair<ref::Ids, std::int64_t>> ref_words;
    for (const Word& w : words)
      ref_words.emplace_back(ref::Ids(w.tokens.begin(), w.tokens.end()), w.count);
    MatrixD expected(0, 3);
    for (const auto& [pair, count] : ref::CountPairs(ref_words)) {
      expected.conservativeResize(expected.rows() + 1, 3);
      expected.row(expected.rows() - 1) << pair.first, pair.second, static_cast<double>(count);
    }
    EXPECT_ALLCLOSE(PairMatrix(CountPairs(words)), expected, kExact);
  }
}

// ---------------------------------------------------------------------------------
// Step 2: merge one pair.

TEST(Step2_MergePair, FixtureAaabdaaabacAfterEachMerge) {
  const std::vector<Merge> merges = MergesFrom(AaabFx());
  Tokens tokens = BytesToTokens(kAaab);
  for (std::size_t k = 0; k < merges.size(); ++k) {
    tokens = MergePair(tokens, merges[k].pair, merges[k].id);
    EXPECT_EQ(tokens, Row(AaabFx(), absl::StrCat("after_", k + 1))) << "after merge " << k + 1;
  }
}

TEST(Step2_MergePair, FixtureWordPairCountsAfterEachMerge) {
  const std::vector<Merge> merges = MergesFrom(WordsFx());
  std::vector<Word> words = FixtureWords();
  for (std::size_t k = 0; k < merges.size(); ++k) {
    for (Word& w : words) w.tokens = MergePair(w.tokens, merges[k].pair, merges[k].id);
    if (k + 1 < merges.size()) {
      SCOPED_TRACE(::testing::Message() << "pair counts after " << k + 1 << " merges");
      EXPECT_ALLCLOSE(PairMatrix(CountPairs(words)),
                      WordsFx().MatrixD(absl::StrCat("pairs_", k + 2)), kExact);
    }
  }
  for (std::size_t w = 0; w < words.size(); ++w) {
    EXPECT_EQ(words[w].tokens, Row(WordsFx(), kWordTexts[w] + "_tokens")) << kWordTexts[w];
  }
}

TEST(Step2_MergePair, ReplacesLeftToRightWithoutOverlap) {
  const Pair aa{'a', 'a'};
  EXPECT_EQ(MergePair(BytesToTokens("aaa"), aa, 256), (Tokens{256, 'a'}));
  EXPECT_EQ(MergePair(BytesToTokens("aaaa"), aa, 256), (Tokens{256, 256}));
  EXPECT_EQ(MergePair(BytesToTokens("baaab"), aa, 300), (Tokens{'b', 300, 'a', 'b'}));
  EXPECT_EQ(MergePair(BytesToTokens("abc"), aa, 256), BytesToTokens("abc"));
  EXPECT_EQ(MergePair(Tokens{}, aa, 256), Tokens{});
  EXPECT_EQ(MergePair(Tokens{7, 9, 7, 9}, Pair{7, 9}, 7), (Tokens{7, 7}))
      << "the new id may equal an old one; the scan must not re-read what it wrote";
}

TEST(Step2_MergePair, MatchesReferenceOnRandomSequences) {
  Rng rng(202);
  for (int trial = 0; trial < 200; ++trial) {
    const Tokens tokens = BytesToTokens(RandomString(rng, "ab", 1 + rng.Below(20)));
    const Pair pair{static_cast<TokenId>('a' + rng.Below(2)),
                    static_cast<TokenId>('a' + rng.Below(2))};
    const ref::Ids expected =
        ref::MergePair(ref::Ids(tokens.begin(), tokens.end()), {pair.left, pair.right}, 256);
    EXPECT_EQ(MergePair(tokens, pair, 256), Tokens(expected.begin(), expected.end()));
  }
}

// ---------------------------------------------------------------------------------
// Step 3: training.

TEST(Step3_Train, FixtureWordTableTenMerges) {
  EXPECT_ALLCLOSE(MergeMatrix(Train(FixtureWords(), 10)), WordsFx().MatrixD("merges"), kExact);
}

TEST(Step3_Train, FixtureAaabdaaabacThreeMerges) {
  const std::vector<Word> words = {{BytesToTokens(kAaab), 1}};
  EXPECT_ALLCLOSE(MergeMatrix(Train(words, 3)), AaabFx().MatrixD("merges"), kExact);
}

TEST(Step3_Train, TiesGoToTheSmallestPair) {
  // (c, d) and (a, b) both occur twice; (a, b) is smaller, whatever the word order.
  const std::vector<Word> words = {{BytesToTokens("cd"), 2}, {BytesToTokens("ab"), 2}};
  const std::vector<Merge> merges = Train(words, 2);
  ASSERT_EQ(merges.size(), 2u);
  EXPECT_EQ(merges[0], (Merge{{'a', 'b'}, 256, 2}));
  EXPECT_EQ(merges[1], (Merge{{'c', 'd'}, 257, 2}));
  // Left id first: (b, z) < (c, a) even though 'z' > 'a'.
  const std::vector<Word> words2 = {{BytesToTokens("ca"), 1}, {BytesToTokens("bz"), 1}};
  EXPECT_EQ(Train(words2, 1).at(0).pair, (Pair{'b', 'z'}));
}

TEST(Step3_Train, StopsWhenNoPairIsLeft) {
  const std::vector<Word> words = {{BytesToTokens("abc"), 4}, {BytesToTokens("x"), 9}};
  const std::vector<Merge> merges = Train(words, 10);
  EXPECT_EQ(merges.size(), 2u) << "\"abc\" becomes one token after two merges";
  EXPECT_TRUE(Train(words, 0).empty());
  EXPECT_TRUE(Train({}, 5).empty());
}

TEST(Step3_Train, MatchesReferenceOnRandomWordTables) {
  Rng rng(303);
  for (int trial = 0; trial < 60; ++trial) {
    const std::string_view alphabet = trial % 3 == 0 ? "ab" : trial % 3 == 1 ? "abc" : "aab ";
    const std::vector<Word> words = RandomWords(rng, alphabet, 10, 14);
    SCOPED_TRACE(::testing::Message() << "trial " << trial);
    EXPECT_ALLCLOSE(MergeMatrix(Train(words, 40)), MergeMatrix(ref::Train(RefWords(words), 40)),
                    kExact);
  }
}

TEST(Step3_Train, KPlusOneMergesExtendTheKMergeTable) {
  const std::vector<Word> words = CountWords(TrainingText());
  const std::vector<Merge> longest = Train(words, 60);
  ASSERT_EQ(longest.size(), 60u);
  for (int k : {0, 1, 2, 7, 30, 59}) {
    const std::vector<Merge> shorter = Train(words, k);
    EXPECT_EQ(shorter, std::vector<Merge>(longest.begin(), longest.begin() + k)) << "k = " << k;
  }
}

TEST(Step3_Train, DeterministicWhateverTheWordOrder) {
  std::vector<Word> words = CountWords(TrainingText());
  const std::vector<Merge> first = Train(words, 80);
  EXPECT_EQ(Train(words, 80), first);
  std::reverse(words.begin(), words.end());
  EXPECT_EQ(Train(words, 80), first);
  Rng rng(304);
  for (std::size_t i = words.size(); i > 1; --i) std::swap(words[i - 1], words[rng.Below(i)]);
  EXPECT_EQ(Train(words, 80), first);
}

TEST(Step3_Train, ReportsProgress) {
  std::vector<TrainProgress> reports;
  TrainOptions options;
  options.progress_every = 4;
  options.on_progress = [&](const TrainProgress& p) {
    reports.push_back(p);
    return true;
  };
  const std::vector<Merge> merges = Train(CountWords(TrainingText()), 10, options);
  ASSERT_EQ(merges.size(), 10u);
  ASSERT_EQ(reports.size(), 3u) << "after merges 4 and 8, then once at the end (10)";
  EXPECT_EQ(reports[0].merges_done, 4);
  EXPECT_EQ(reports[1].merges_done, 8);
  EXPECT_EQ(reports[2].merges_done, 10);
  for (const TrainProgress& p : reports) {
    EXPECT_EQ(p.merges_requested, 10);
    EXPECT_GE(p.seconds, 0.0);
    EXPECT_GE(p.merges_per_second, 0.0);
    EXPECT_EQ(p.last, merges[static_cast<std::size_t>(p.merges_done - 1)]);
  }
}

TEST(Step3_Train, StopsWhenTheCallbackSaysSo) {
  TrainOptions options;
  options.progress_every = 1;
  int calls = 0;
  options.on_progress = [&](const TrainProgress& p) {
    ++calls;
    return p.merges_done < 3;
  };
  const std::vector<Word> words = CountWords(TrainingText());
  const std::vector<Merge> merges = Train(words, 50, options);
  EXPECT_EQ(merges.size(), 3u);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(merges, Train(words, 3)) << "the merges made before stopping are kept";
}

TEST(Step3_Train, RejectsBadArguments) {
  const std::vector<Word> words = {{BytesToTokens("ab"), 1}};
  EXPECT_INVALID_ARGUMENT(Train(words, -1), {"num_merges", "-1"});
  EXPECT_INVALID_ARGUMENT(Train({{Tokens{97, 300}, 1}}, 1), {"words[0]", "300"});
  EXPECT_INVALID_ARGUMENT(Train({{Tokens{97, 98}, 1}, {Tokens{97}, -2}}, 1),
                          {"words[1]", "count", "-2"});
  TrainOptions options;
  options.progress_every = 0;
  options.on_progress = [](const TrainProgress&) { return true; };
  EXPECT_INVALID_ARGUMENT(Train(words, 1, options), {"progress_every", "0"});
}

// ---------------------------------------------------------------------------------
// Step 4: encoding by merge rank.

TEST(Step4_EncodeByRank, VocabularyOfTheFixtureMerges) {
  const Tokenizer tok(MergesFrom(WordsFx()));
  EXPECT_EQ(tok.vocab_size(), 266);
  EXPECT_EQ(tok.TokenFor("est"), 257);
  EXPECT_EQ(tok.TokenFor("widest"), 265);
  EXPECT_EQ(tok.TokenFor("w"), 'w');
  EXPECT_EQ(tok.TokenFor("we"), std::nullopt);
  EXPECT_EQ(tok.TokenFor(""), std::nullopt);
}

TEST(Step4_EncodeByRank, FixtureNewWords) {
  const Tokenizer tok(MergesFrom(WordsFx()));
  for (std::string_view word : {"lowest", "newer", "wider"}) {
    EXPECT_EQ(tok.EncodePiece(word), Row(WordsFx(), "encoded_" + std::string(word))) << word;
  }
}

TEST(Step4_EncodeByRank, FixtureAaab) {
  const Tokenizer tok(MergesFrom(AaabFx()));
  EXPECT_EQ(tok.EncodePiece(kAaab), Row(AaabFx(), "after_3"));
  EXPECT_EQ(tok.EncodePiece("aabaaab"), Row(AaabFx(), "encoded_aabaaab"));
}

TEST(Step4_EncodeByRank, TrainingWordsEncodeAsTrainingLeftThem) {
  const Tokenizer tok(MergesFrom(WordsFx()));
  for (const std::string& word : kWordTexts) {
    EXPECT_EQ(tok.EncodePiece(word), Row(WordsFx(), word + "_tokens")) << word;
  }
}

TEST(Step4_EncodeByRank, NoMergesMeansOneTokenPerByte) {
  const Tokenizer tok(std::vector<Merge>{});
  EXPECT_EQ(tok.vocab_size(), 256);
  EXPECT_EQ(tok.EncodePiece("hi!"), BytesToTokens("hi!"));
  EXPECT_EQ(tok.EncodePiece(""), Tokens{});
}

TEST(Step4_EncodeByRank, MatchesReplayingTheMergesAndTheReference) {
  Rng rng(404);
  for (int trial = 0; trial < 30; ++trial) {
    const std::string_view alphabet = trial % 2 == 0 ? "ab" : "abcab ";
    const std::vector<Merge> merges = Train(RandomWords(rng, alphabet, 10, 16), 30);
    const Tokenizer tok(merges);
    const std::map<std::string, int> ranks = RanksOf(tok, tok.vocab_size());
    for (int p = 0; p < 10; ++p) {
      // Up to 150 bytes: long enough for an engine's long-piece path.
      const std::string piece = RandomString(rng, alphabet, 1 + rng.Below(p < 8 ? 24 : 150));
      Tokens replay = BytesToTokens(piece);
      for (const Merge& m : merges) replay = MergePair(replay, m.pair, m.id);
      const ref::Ids expected = ref::EncodePiece(piece, ranks);
      const Tokens actual = tok.EncodePiece(piece);
      EXPECT_EQ(actual, Tokens(expected.begin(), expected.end())) << "piece \"" << piece << "\"";
      EXPECT_EQ(actual, replay) << "piece \"" << piece << "\"";
    }
  }
}

TEST(Step4_EncodeByRank, LongRunOfOneLetterIsNotQuadratic) {
  // Six merges on one word of 64 a's: aa, aaaa, ... up to 64 a's.
  const Tokenizer tok(Train({{BytesToTokens(std::string(64, 'a')), 1}}, 6));
  const TokenId a64 = *tok.TokenFor(std::string(64, 'a'));
  // Doubling sizes up to 100 KB; an O(n^2) merge loop runs out of time early and
  // stops here instead of hanging.
  double seconds = 0;
  for (std::size_t n = 1600; n <= 102400; n *= 2) {
    const auto start = std::chrono::steady_clock::now();
    const Tokens tokens = tok.EncodePiece(std::string(n, 'a'));
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_EQ(tokens, Tokens(n / 64, a64)) << n << " a's are " << n / 64 << " tokens of 64";
    ASSERT_LT(seconds, 3.0) << "encoding runs of up to " << n << " a's took " << seconds
                            << " s: the merge loop is quadratic in the piece length. Use a "
                               "linked list and a heap for long pieces (README, Step 4).";
  }
}

void Build(const std::vector<Merge>& merges) { Tokenizer tok(merges); }

TEST(Step4_EncodeByRank, RejectsMergesThatDoNotBuildAVocabulary) {
  EXPECT_INVALID_ARGUMENT(Build({{{'a', 'b'}, 300, 1}}), {"merges[0]", "256", "300"});
  EXPECT_INVALID_ARGUMENT(Build({{{'a', 'b'}, 256, 1}, {{'a', 257}, 257, 1}}),
                          {"merges[1]", "257"});
  EXPECT_INVALID_ARGUMENT(Build({{{-1, 'b'}, 256, 1}}), {"merges[0]", "-1"});
  EXPECT_INVALID_ARGUMENT(Build({{{'a', 'a'}, 256, 1}, {{'a', 'a'}, 257, 1}}),
                          {"merges[1]", "already", "256"});
}

// ---------------------------------------------------------------------------------
// Step 5: decoding.

TEST(Step5_Decode, FixtureTokensDecodeToTheirText) {
  const Tokenizer aaab(MergesFrom(AaabFx()));
  EXPECT_EQ(aaab.Decode(Row(AaabFx(), "after_3")), kAaab);
  EXPECT_EQ(aaab.TokenBytes(258), "aaab");
  const Tokenizer words(MergesFrom(WordsFx()));
  EXPECT_EQ(words.Decode(Row(WordsFx(), "encoded_lowest")), "lowest");
  EXPECT_EQ(words.Decode(Row(WordsFx(), "encoded_newer")), "newer");
  EXPECT_EQ(words.TokenBytes(265), "widest");
  EXPECT_EQ(words.TokenBytes('w'), "w");
}

TEST(Step5_Decode, EmptyIsEmpty) {
  const Tokenizer tok(MergesFrom(AaabFx()));
  EXPECT_EQ(tok.Decode(Tokens{}), "");
}

TEST(Step5_Decode, InvertsEncodePiece) {
  const Tokenizer tok(Train(CountWords(TrainingText()), 200));
  Rng rng(505);
  for (int trial = 0; trial < 100; ++trial) {
    const std::string piece = RandomText(rng, 1 + rng.Below(3));
    EXPECT_EQ(tok.Decode(tok.EncodePiece(piece)), piece);
  }
}

TEST(Step5_Decode, RejectsIdsThatAreNotTokens) {
  const Tokenizer tok(MergesFrom(AaabFx()));  // 259 tokens
  EXPECT_INVALID_ARGUMENT(tok.Decode(Tokens{97, 259}), {"ids[1]", "259"});
  EXPECT_INVALID_ARGUMENT(tok.Decode(Tokens{-1}), {"ids[0]", "-1"});
  EXPECT_INVALID_ARGUMENT(tok.TokenBytes(70000), {"70000"});
  EXPECT_INVALID_ARGUMENT(tok.TokenBytes(-5), {"-5"});
}

// ---------------------------------------------------------------------------------
// Step 6: the byte-level alphabet.

char32_t StandIn(int byte) {
  return DecodeAt(ByteToPrintable(static_cast<std::uint8_t>(byte)), 0).value;
}

// The 256 bytes in the order of their stand-ins: GPT-2's ranks of the single bytes.
std::vector<int> BytesByStandIn() {
  std::vector<int> bytes(256);
  for (int b = 0; b < 256; ++b) bytes[static_cast<std::size_t>(b)] = b;
  std::sort(bytes.begin(), bytes.end(), [](int a, int b) { return StandIn(a) < StandIn(b); });
  return bytes;
}

TEST(Step6_ByteLevel, FixturePrintableStandIns) {
  const MatrixD m = ByteLevelFx().MatrixD("printable");
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    const auto byte = static_cast<std::uint8_t>(m(i, 0));
    EXPECT_EQ(ByteToPrintable(byte), Utf8(static_cast<char32_t>(m(i, 1))))
        << "byte " << static_cast<int>(byte);
  }
  EXPECT_EQ(ByteToPrintable(' '), "\xC4\xA0") << "a space is \"Ġ\" (U+0120)";
  EXPECT_EQ(ByteToPrintable('\n'), "\xC4\x8A") << "a newline is \"Ċ\" (U+010A)";
}

TEST(Step6_ByteLevel, FixtureGpt2ByteRanksAreTheStandInOrder) {
  const std::vector<int> order = BytesByStandIn();
  const MatrixD m = ByteLevelFx().MatrixD("gpt2_rank");
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    EXPECT_EQ(order[static_cast<std::size_t>(m(i, 1))], static_cast<int>(m(i, 0)))
        << "rank " << m(i, 1);
  }
}

TEST(Step6_ByteLevel, TheAlphabetIsOneToOne) {
  std::set<std::string> seen;
  std::string all;
  for (int b = 0; b < 256; ++b) {
    const std::string p = ByteToPrintable(static_cast<std::uint8_t>(b));
    EXPECT_TRUE(seen.insert(p).second) << "byte " << b << " shares its stand-in";
    const CodePoint cp = DecodeAt(p, 0);
    EXPECT_EQ(static_cast<std::size_t>(cp.length), p.size()) << "one character per byte";
    EXPECT_NE(cp.char_class, CharClass::kSpace) << "stand-ins are never whitespace";
    all += static_cast<char>(b);
  }
  EXPECT_EQ(BytesFromPrintable(PrintableToken(all)), all);
  EXPECT_EQ(PrintableToken(" the\n"), "\xC4\xA0the\xC4\x8A");
  EXPECT_EQ(BytesFromPrintable("\xC4\xA0world"), " world");
  EXPECT_EQ(PrintableToken(""), "");
}

TEST(Step6_ByteLevel, RejectsCharactersOutsideTheAlphabet) {
  EXPECT_INVALID_ARGUMENT(BytesFromPrintable("a b"), {"printable"});
  EXPECT_INVALID_ARGUMENT(BytesFromPrintable("\xE2\x82\xAC"), {"printable", "20AC"});
  EXPECT_INVALID_ARGUMENT(BytesFromPrintable("x\xFF"), {"printable"});
}

TEST(Step6_ByteLevel, AnyBytesRoundTrip) {
  const Tokenizer tok(Train(CountWords(TrainingText()), 300));
  Rng rng(606);
  EXPECT_EQ(tok.Decode(tok.EncodePiece("")), "");
  for (int trial = 0; trial < 200; ++trial) {
    const std::string bytes = RandomBytes(rng, rng.Below(40));  // mostly invalid UTF-8
    const Tokens ids = tok.EncodePiece(bytes);
    EXPECT_EQ(tok.Decode(ids), bytes);
    for (TokenId id : ids) ASSERT_LT(id, tok.vocab_size());
  }
}

// ---------------------------------------------------------------------------------
// Step 7: GPT-2 pretokenization.

const std::string kEnglish = "I'm sure you'll see:  42 cats,\nthey've  won!!! \n\n";
const std::string kUnicode = "Ελλάδα 東京 café ½ x² €5\u00a0ok ٣٤ e\u0301 \xF0\x9F\x99\x82!";

TEST(Step7_Pretokenize, FixtureEnglish) {
  EXPECT_ALLCLOSE(OffsetMatrix(kEnglish, Pretokenize(kEnglish)), PretokenizeFx().MatrixD("english"),
                  kExact);
}

TEST(Step7_Pretokenize, FixtureUnicode) {
  EXPECT_ALLCLOSE(OffsetMatrix(kUnicode, Pretokenize(kUnicode)), PretokenizeFx().MatrixD("unicode"),
                  kExact);
}

TEST(Step7_Pretokenize, Contractions) {
  EXPECT_EQ(Strings(Pretokenize("don't")), (std::vector<std::string>{"don", "'t"}));
  EXPECT_EQ(Strings(Pretokenize("DON'T")), (std::vector<std::string>{"DON", "'", "T"}))
      << "the contractions are lowercase only";
  EXPECT_EQ(Strings(Pretokenize("we'll'd")), (std::vector<std::string>{"we", "'ll", "'d"}));
  EXPECT_EQ(Strings(Pretokenize("''s")), (std::vector<std::string>{"''", "s"}))
      << "a run of punctuation swallows the apostrophe";
  EXPECT_EQ(Strings(Pretokenize(" 's")), (std::vector<std::string>{" '", "s"}));
}

TEST(Step7_Pretokenize, WhitespaceRuns) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Strings(Pretokenize("a  b")), (V{"a", " ", " b"}));
  EXPECT_EQ(Strings(Pretokenize("a\n\nb")), (V{"a", "\n", "\n", "b"}));
  EXPECT_EQ(Strings(Pretokenize("a \tb")), (V{"a", " ", "\t", "b"}));
  EXPECT_EQ(Strings(Pretokenize("a   ")), (V{"a", "   "})) << "a run that ends the text";
  EXPECT_EQ(Strings(Pretokenize(" ")), (V{" "}));
  EXPECT_EQ(Strings(Pretokenize("x \u3000y")), (V{"x", " ", "\u3000", "y"}))
      << "U+3000 is whitespace of three bytes; backtracking steps back one character";
  EXPECT_EQ(Strings(Pretokenize(" 42 !?")), (V{" 42", " !?"}));
  EXPECT_TRUE(Pretokenize("").empty());
}

TEST(Step7_Pretokenize, InvalidUtf8IsOtherByteByByte) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Strings(Pretokenize("a\xFF\xFE"
                                "b")),
            (V{"a", "\xFF\xFE", "b"}));
  EXPECT_EQ(Strings(Pretokenize(" \x80x")), (V{" \x80", "x"}));
  EXPECT_EQ(Strings(Pretokenize("\xC3")), (V{"\xC3"})) << "a sequence cut short";
}

TEST(Step7_Pretokenize, PieceEndAgreesWithPretokenize) {
  const std::vector<std::string_view> pieces = Pretokenize(kEnglish);
  std::size_t pos = 0;
  for (std::string_view piece : pieces) {
    EXPECT_EQ(PieceEnd(kEnglish, pos), pos + piece.size());
    pos += piece.size();
  }
}

TEST(Step7_Pretokenize, MatchesReferenceOnRandomText) {
  Rng rng(707);
  for (int trial = 0; trial < 300; ++trial) {
    const std::string text = RandomText(rng, rng.Below(30));
    const std::vector<std::string_view> pieces = Pretokenize(text);
    std::string joined;
    for (std::string_view p : pieces) {
      EXPECT_FALSE(p.empty());
      joined += p;
    }
    EXPECT_EQ(joined, text) << "pieces concatenate back to the text";
    EXPECT_EQ(Strings(pieces), ref::Pretokenize(text))
        << "text \"" << absl::CHexEscape(text) << "\"";
  }
}

// Letters and numbers of every script, not only the common ones: tiktoken's \p{L} joins a
// Tibetan letter and a CJK ideograph into one piece, a Thai vowel sign (a mark, Mn) is not
// a letter, and scripts beyond the first plane count too.
TEST(Step7_Pretokenize, LettersAndNumbersOfEveryScript) {
  const struct {
    std::string text;
    std::vector<std::string> pieces;
  } kCases[] = {
      {"\u0F40\u4E00", {"\u0F40\u4E00"}},                         // Tibetan KA, CJK one
      {" \u0E01\u0E32 x", {" \u0E01\u0E32", " x"}},               // Thai KO KAI, SARA AA
      {"\u0E01\u0E31", {"\u0E01", "\u0E31"}},                     // SARA MAI HAN-AKAT is Mn
      {"\U00010300\U00010301", {"\U00010300\U00010301"}},         // Old Italic letters
      {"\u1040\u1041 \U0001D7CE", {"\u1040\u1041", " \U0001D7CE"}},  // Myanmar, math digits
      {"\u16A0\u16EE", {"\u16A0", "\u16EE"}},                     // a rune letter, a rune number (Nl)
      {"a\u2160\u3007", {"a", "\u2160\u3007"}},                   // Nl: Roman numeral, ideographic zero
      {"\u0531\U0001F642\u0561", {"\u0531", "\U0001F642", "\u0561"}},  // an emoji is neither
  };
  for (const auto& [text, pieces] : kCases) {
    EXPECT_EQ(Strings(Pretokenize(text)), pieces) << "text \"" << absl::CHexEscape(text) << "\"";
  }
}

// Random text over all of Unicode (every plane, assigned or not, with spaces, digits and
// ASCII mixed in), pretokenized and encoded exactly as the reference does.
TEST(Step7_Pretokenize, MatchesReferenceOnAllOfUnicode) {
  const Tokenizer tok(TrainOnText(TrainingText(), 256 + 100));
  const std::map<std::string, int> ranks = RanksOf(tok, tok.vocab_size());
  Rng rng(7070);
  const auto random_code_point = [&]() -> char32_t {
    switch (rng.Below(5)) {
      case 0:
        return static_cast<char32_t>(" \t\n0a'"[rng.Below(6)]);
      case 1:
        return static_cast<char32_t>(0x80 + rng.Below(0x800 - 0x80));
      case 2: {
        const char32_t c = static_cast<char32_t>(0x800 + rng.Below(0x10000 - 0x800));
        return c >= 0xD800 && c <= 0xDFFF ? char32_t{0x3000} : c;  // no surrogates
      }
      default:
        return static_cast<char32_t>(0x10000 + rng.Below(0x110000 - 0x10000));
    }
  };
  for (int trial = 0; trial < 400; ++trial) {
    std::string text;
    const std::size_t n = 1 + rng.Below(24);
    for (std::size_t i = 0; i < n; ++i) text += Utf8(random_code_point());
    EXPECT_EQ(Strings(Pretokenize(text)), ref::Pretokenize(text))
        << "text \"" << absl::CHexEscape(text) << "\"";
    const ref::Ids expected = ref::Encode(text, ranks);
    EXPECT_EQ(tok.Encode(text), Tokens(expected.begin(), expected.end()))
        << "text \"" << absl::CHexEscape(text) << "\"";
  }
}

TEST(Step7_Pretokenize, CountWordsCountsEachDistinctPieceOnce) {
  const std::vector<Word> words = CountWords("the cat the cat the");
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(words[0].tokens, BytesToTokens(" cat"));
  EXPECT_EQ(words[0].count, 2);
  EXPECT_EQ(words[1].tokens, BytesToTokens(" the"));
  EXPECT_EQ(words[1].count, 2);
  EXPECT_EQ(words[2].tokens, BytesToTokens("the"));
  EXPECT_EQ(words[2].count, 1);
  EXPECT_TRUE(CountWords("").empty());
}

TEST(Step7_Pretokenize, TrainOnTextTrainsOnTheWordTable) {
  EXPECT_EQ(TrainOnText(TrainingText(), 256 + 50), Train(CountWords(TrainingText()), 50));
  EXPECT_TRUE(TrainOnText(TrainingText(), 256).empty());
}

TEST(Step7_Pretokenize, RejectsVocabularyBelowTheByteAlphabet) {
  EXPECT_INVALID_ARGUMENT(TrainOnText("some text", 255), {"vocab_size", "256", "255"});
  EXPECT_INVALID_ARGUMENT(TrainOnText("some text", 0), {"vocab_size", "0"});
}

TEST(Step7_Pretokenize, EncodeNeverMergesAcrossPieces) {
  const Tokenizer tok(TrainOnText(TrainingText(), 256 + 300));
  Rng rng(708);
  const std::string text = RandomText(rng, 400);
  std::vector<std::size_t> boundaries;  // piece ends
  for (std::string_view p : Pretokenize(text)) {
    boundaries.push_back(static_cast<std::size_t>(p.data() - text.data()) + p.size());
  }
  std::size_t pos = 0;
  for (TokenId id : tok.Encode(text)) {
    const std::size_t end = pos + tok.TokenBytes(id).size();
    // No piece boundary strictly inside the token.
    auto it = std::upper_bound(boundaries.begin(), boundaries.end(), pos);
    ASSERT_TRUE(it == boundaries.end() || *it >= end)
        << "token " << id << " covers bytes [" << pos << ", " << end
        << ") across the piece boundary at " << *it;
    pos = end;
  }
  EXPECT_EQ(pos, text.size());
}

TEST(Step7_Pretokenize, EncodeMatchesReference) {
  const Tokenizer tok(TrainOnText(TrainingText(), 256 + 300));
  const std::map<std::string, int> ranks = RanksOf(tok, tok.vocab_size());
  Rng rng(709);
  for (int trial = 0; trial < 100; ++trial) {
    const std::string text = RandomText(rng, rng.Below(40));
    const ref::Ids expected = ref::Encode(text, ranks);
    EXPECT_EQ(tok.Encode(text), Tokens(expected.begin(), expected.end()))
        << "text \"" << absl::CHexEscape(text) << "\"";
  }
}

TEST(Step7_Pretokenize, AWholePieceThatIsATokenIsThatToken) {
  const Tokenizer tok(MergesFrom(WordsFx()));
  EXPECT_EQ(tok.Encode("newest widest"), (Tokens{262, ' ', 265}))
      << "\" widest\" is not a token: it encodes as ' ' and \"widest\"";
  EXPECT_EQ(tok.Encode("lowest"), Row(WordsFx(), "encoded_lowest"));
}

TEST(Step7_Pretokenize, RoundTripsRandomBytesIncludingInvalidUtf8) {
  const Tokenizer tok(TrainOnText(TrainingText(), 256 + 300));
  Rng rng(710);
  EXPECT_EQ(tok.Encode(""), Tokens{});
  for (int trial = 0; trial < 300; ++trial) {
    const std::string bytes = RandomBytes(rng, rng.Below(64));
    EXPECT_EQ(tok.Decode(tok.Encode(bytes)), bytes) << absl::CHexEscape(bytes);
    const std::string text = RandomText(rng, rng.Below(20));
    EXPECT_EQ(tok.Decode(tok.Encode(text)), text) << absl::CHexEscape(text);
  }
}

TEST(Step7_Pretokenize, RoundTripsLongRuns) {
  const Tokenizer tok(
      TrainOnText(TrainingText() + std::string(300, ' ') + std::string(300, 'a'), 256 + 300));
  for (const std::string& text :
       {std::string(5000, 'a'), std::string(5000, ' '), std::string(3000, '\n'),
        std::string(2000, ' ') + "x" + std::string(2000, '\t'), std::string(4000, '!'),
        std::string(3000, '7') + " " + std::string(1000, 'z')}) {
    EXPECT_EQ(tok.Decode(tok.Encode(text)), text) << "a run of " << text.size() << " bytes";
  }
}

TEST(Step7_Pretokenize, EncodingIsDeterministic) {
  const std::vector<Merge> merges = TrainOnText(TrainingText(), 256 + 200);
  const Tokenizer a(merges);
  const Tokenizer b(merges);
  Rng rng(711);
  const std::string text = RandomText(rng, 500);
  const Tokens first = a.Encode(text);
  EXPECT_EQ(a.Encode(text), first) << "a second call (with whatever it cached) agrees";
  EXPECT_EQ(b.Encode(text), first) << "a fresh tokenizer agrees";
}

// ---------------------------------------------------------------------------------
// Step 8: special tokens.

Tokenizer AaabWithEndOfText() {
  Tokenizer tok(MergesFrom(AaabFx()));
  tok.AddSpecialToken(kEndOfText);
  return tok;
}

TEST(Step8_SpecialTokens, FixtureSpecialInTheMiddle) {
  const Tokenizer tok = AaabWithEndOfText();
  EXPECT_EQ(tok.Encode("aaabd<|endoftext|>aaabac"), Row(SpecialsFx(), "middle"));
}

TEST(Step8_SpecialTokens, FixtureAdjacentSpecials) {
  const Tokenizer tok = AaabWithEndOfText();
  EXPECT_EQ(tok.Encode("<|endoftext|><|endoftext|>"), Row(SpecialsFx(), "adjacent"));
}

TEST(Step8_SpecialTokens, FixtureEncodeOrdinaryTreatsThemAsText) {
  const Tokenizer tok = AaabWithEndOfText();
  EXPECT_EQ(tok.EncodeOrdinary("a<|endoftext|>"), Row(SpecialsFx(), "ordinary"));
}

TEST(Step8_SpecialTokens, GetTheNextIdAndDecodeToTheirText) {
  Tokenizer tok(MergesFrom(AaabFx()));
  EXPECT_EQ(tok.AddSpecialToken(kEndOfText), 259);
  EXPECT_EQ(tok.AddSpecialToken("<|pad|>"), 260);
  EXPECT_EQ(tok.vocab_size(), 261);
  EXPECT_EQ(tok.TokenBytes(259), kEndOfText);
  EXPECT_EQ(tok.TokenFor(kEndOfText), std::nullopt) << "TokenFor finds ordinary tokens only";
  const std::string text = "x<|pad|>aaab<|endoftext|>";
  EXPECT_EQ(tok.Decode(tok.Encode(text)), text);
}

TEST(Step8_SpecialTokens, PartialSpecialsAreOrdinaryText) {
  const Tokenizer tok = AaabWithEndOfText();
  EXPECT_EQ(tok.Encode("<|endoftext|"), tok.EncodeOrdinary("<|endoftext|"));
  EXPECT_EQ(tok.Encode("<|endoftext"), tok.EncodeOrdinary("<|endoftext"));
  Tokens expected = tok.EncodeOrdinary("<|endof");
  expected.push_back(259);
  EXPECT_EQ(tok.Encode("<|endof<|endoftext|>"), expected)
      << "a special that starts inside an unfinished one is still found";
}

TEST(Step8_SpecialTokens, LeftmostThenLongestWins) {
  Tokenizer tok(MergesFrom(AaabFx()));
  const TokenId start = tok.AddSpecialToken("<|start|>");
  const TokenId start_user = tok.AddSpecialToken("<|start|>user");
  const TokenId bracket = tok.AddSpecialToken("[x]");
  const TokenId overlap = tok.AddSpecialToken("x]y");
  EXPECT_EQ(tok.Encode("<|start|>user"), (Tokens{start_user})) << "longest at the same start";
  EXPECT_EQ(tok.Encode("<|start|>use"), (Tokens{start, 'u', 's', 'e'}));
  // "[x]" and "x]y" overlap in "[x]y": the one that starts first wins.
  EXPECT_EQ(tok.Encode("[x]y"), (Tokens{bracket, 'y'}));
  EXPECT_EQ(tok.Encode("x]y[x]"), (Tokens{overlap, bracket}));
}

TEST(Step8_SpecialTokens, SplitTheTextBeforePretokenization) {
  const Tokenizer tok = AaabWithEndOfText();
  // Before a special, the two spaces end their stretch of text, so "\s+(?!\S)" takes
  // both; in ordinary text the second space would start " <".
  Tokens expected = tok.EncodeOrdinary("x  ");
  expected.push_back(259);
  EXPECT_EQ(tok.Encode("x  <|endoftext|>"), expected);
  EXPECT_NE(tok.Encode("x  <|endoftext|>"), tok.EncodeOrdinary("x  <|endoftext|>"));
}

TEST(Step8_SpecialTokens, MatchReferenceOnRandomText) {
  Tokenizer tok(TrainOnText(TrainingText(), 256 + 200));
  const int ordinary = tok.vocab_size();
  const std::map<std::string, int> ranks = RanksOf(tok, ordinary);
  std::map<std::string, int> specials;
  for (std::string s : {"<|endoftext|>", "<|end|>", "<|endoftext|>!", "aaab"}) {
    specials[s] = tok.AddSpecialToken(s);
  }
  Rng rng(808);
  const std::vector<std::string> bits = {
      "<|endoftext|>", "<|end", "oftext|>", "<|end|>", "!", " ", "  ", "a", "aa", "b", "\n", "x"};
  for (int trial = 0; trial < 200; ++trial) {
    std::string text = RandomText(rng, rng.Below(4));
    for (std::uint64_t k = rng.Below(8); k > 0; --k) text += bits[rng.Below(bits.size())];
    const ref::Ids expected = ref::Encode(text, ranks, specials);
    EXPECT_EQ(tok.Encode(text), Tokens(expected.begin(), expected.end()))
        << "text \"" << absl::CHexEscape(text) << "\"";
    EXPECT_EQ(tok.Decode(tok.Encode(text)), text);
  }
}

TEST(Step8_SpecialTokens, RejectsEmptyAndRepeatedSpecials) {
  Tokenizer tok(MergesFrom(AaabFx()));
  EXPECT_INVALID_ARGUMENT(tok.AddSpecialToken(""), {"text", "empty"});
  tok.AddSpecialToken(kEndOfText);
  EXPECT_INVALID_ARGUMENT(tok.AddSpecialToken(kEndOfText), {"<|endoftext|>", "259"});
}

// ---------------------------------------------------------------------------------
// Step 9: saving and loading merges.

::testing::AssertionResult IsInvalidArgument(const absl::Status& status,
                                             const std::vector<std::string>& must_mention) {
  if (status.ok()) return ::testing::AssertionFailure() << "returned OK, expected an error";
  if (status.code() != absl::StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure() << "expected code InvalidArgument, got " << status;
  }
  for (const std::string& word : must_mention) {
    if (status.message().find(word) == std::string_view::npos) {
      return ::testing::AssertionFailure()
             << "the message \"" << status.message() << "\" does not mention \"" << word << "\"";
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(Step9_SaveLoadMerges, RoundTripsTheFixtureMerges) {
  for (const auto* fx : {&WordsFx(), &AaabFx()}) {
    const std::vector<Merge> merges = MergesFrom(*fx);
    const absl::StatusOr<std::vector<Merge>> loaded = LoadMerges(SaveMerges(merges));
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(*loaded, merges);
  }
}

TEST(Step9_SaveLoadMerges, WritesOneMergePerLineAfterAComment) {
  const std::string saved = SaveMerges(MergesFrom(AaabFx()));
  ASSERT_FALSE(saved.empty());
  EXPECT_EQ(saved.front(), '#');
  const std::size_t body = saved.find('\n') + 1;
  EXPECT_EQ(saved.substr(body), "97 97 4\n97 98 2\n256 257 2\n");
}

TEST(Step9_SaveLoadMerges, ReadsCommentsBlankLinesAndTwoFieldLines) {
  const absl::StatusOr<std::vector<Merge>> loaded =
      LoadMerges("# my merges\n\n97 97\r\n256 97 5\n# done\n");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*loaded, (std::vector<Merge>{{{97, 97}, 256, 0}, {{256, 97}, 257, 5}}));
  const absl::StatusOr<std::vector<Merge>> empty = LoadMerges("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(Step9_SaveLoadMerges, LoadedMergesEncodeTheSame) {
  const std::vector<Merge> merges = TrainOnText(TrainingText(), 256 + 150);
  const absl::StatusOr<std::vector<Merge>> loaded = LoadMerges(SaveMerges(merges));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Tokenizer a(merges);
  const Tokenizer b(*loaded);
  Rng rng(909);
  const std::string text = RandomText(rng, 300);
  EXPECT_EQ(b.Encode(text), a.Encode(text));
}

TEST(Step9_SaveLoadMerges, RejectsLinesThatDoNotParse) {
  EXPECT_TRUE(IsInvalidArgument(LoadMerges("97\n").status(), {"line 1"}));
  EXPECT_TRUE(IsInvalidArgument(LoadMerges("97 97\n97 x\n").status(), {"line 2"}));
  EXPECT_TRUE(IsInvalidArgument(LoadMerges("97  97\n").status(), {"line 1"}));
  EXPECT_TRUE(IsInvalidArgument(LoadMerges("97 97 1 2\n").status(), {"line 1"}));
  EXPECT_TRUE(IsInvalidArgument(LoadMerges("97 97 -3\n").status(), {"line 1", "-3"}));
  EXPECT_TRUE(IsInvalidArgument(LoadMerges("-1 97\n").status(), {"line 1"}));
}

TEST(Step9_SaveLoadMerges, RejectsTokensNotMadeYet) {
  EXPECT_TRUE(IsInvalidArgument(LoadMerges("97 256\n").status(), {"line 1", "256"}));
  EXPECT_TRUE(IsInvalidArgument(LoadMerges("# c\n97 97\n300 97\n").status(), {"line 3", "300"}));
}

// Every kind of bad merge file, each with what its message must say: the line, and the
// actual problem (not a generic "does not parse").
TEST(Step9_SaveLoadMerges, EveryBadFileGetsAMessageNamingTheProblem) {
  const struct {
    std::string file;
    std::vector<std::string> must_mention;
  } kBad[] = {
      {"97\n", {"line 1", "2 or 3 fields", "got 1"}},
      {"97 97 1 2\n", {"line 1", "got 4"}},
      {"97 97 # made by hand\n", {"line 1", "got 6", "'#'"}},
      {"x y\n", {"line 1", "left \"x\" is not a decimal number"}},
      {"97 y\n", {"line 1", "right \"y\" is not a decimal number"}},
      {"97 +97\n", {"line 1", "right \"+97\" is not a decimal number"}},
      {"\xff\xfe 97\n", {"line 1", "left \"\\xff\\xfe\" is not a decimal number"}},
      {"97 97 5x\n", {"line 1", "count \"5x\" is not a decimal number"}},
      {"97  97\n", {"line 1", "two spaces in a row at column 3"}},
      {" 97 97\n", {"line 1", "space at the start"}},
      {"97 97 \n", {"line 1", "space at the end"}},
      {"97\t97\n", {"line 1", "tab at column 3"}},
      {"-1 97\n", {"line 1", "left \"-1\" is negative"}},
      {"97 97 -3\n", {"line 1", "count \"-3\" is negative"}},
      {"97 97 100000000000000000000\n", {"line 1", "count", "is too large"}},
      {"97 99999999999999999999\n", {"line 1", "right", "is too large"}},
      {"97 256\n", {"line 1", "right 256 is not a token made before this merge", "token 256"}},
      {"# c\n97 97\n300 97\n", {"line 3", "left 300", "0..256"}},
      {"97 97\n97 97\n", {"line 2", "\"aa\"", "line 1 already made"}},
      // Two different pairs with the same bytes: (aa, a) and (a, aa) both make "aaa".
      {"97 97\n256 97\n97 256\n", {"line 3", "\"aaa\"", "line 2 already made"}},
  };
  for (const auto& [file, must_mention] : kBad) {
    EXPECT_TRUE(IsInvalidArgument(LoadMerges(file).status(), must_mention))
        << "file \"" << absl::CHexEscape(file) << "\"";
  }
}

// What LoadMerges accepts, the Tokenizer accepts: a duplicate is the file's problem,
// reported as a status, never an exception from the constructor later.
TEST(Step9_SaveLoadMerges, AcceptedFilesAlwaysMakeATokenizer) {
  Rng rng(1919);
  int accepted = 0;
  int rejected = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string file;
    const int lines = 1 + static_cast<int>(rng.Below(6));
    for (int r = 0; r < lines; ++r) {
      // Parts among the bytes a, b and the tokens made so far: duplicates are likely.
      const auto part = [&] {
        if (r == 0 || rng.Below(2) == 0) return 97 + static_cast<int>(rng.Below(2));
        return 256 + static_cast<int>(rng.Below(static_cast<std::uint64_t>(r)));
      };
      const int left = part();
      const int right = part();
      file += absl::StrCat(left, " ", right, "\n");
    }
    const absl::StatusOr<std::vector<Merge>> merges = LoadMerges(file);
    if (!merges.ok()) {
      ++rejected;
      continue;
    }
    ++accepted;
    EXPECT_NO_THROW(Tokenizer{*merges}) << "file \"" << absl::CHexEscape(file) << "\"";
  }
  EXPECT_GT(accepted, 20);
  EXPECT_GT(rejected, 20);
}

// ---------------------------------------------------------------------------------
// Step 10: tiktoken rank files.

std::string RankLine(std::string_view bytes, int rank) {
  return absl::StrCat(absl::Base64Escape(std::string(bytes)), " ", rank, "\n");
}

// Byte b has rank 255 - b; then "aa", "ab", "aaab" (the aaabdaaabac merges).
std::string ReversedRankFile() {
  std::string file;
  for (int b = 255; b >= 0; --b) file += RankLine(std::string(1, static_cast<char>(b)), 255 - b);
  file += RankLine("aa", 256) + RankLine("ab", 257) + RankLine("aaab", 258);
  return file;
}

TEST(Step10_Tiktoken, FixtureReversedByteRanks) {
  const absl::StatusOr<Tokenizer> tok = Tokenizer::FromTiktoken(ReversedRankFile());
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ(tok->vocab_size(), 259);
  EXPECT_EQ(tok->TokenFor("a"), 255 - 'a');
  EXPECT_EQ(tok->TokenFor("aaab"), 258);
  EXPECT_EQ(tok->TokenBytes(0), "\xFF");
  EXPECT_EQ(tok->Encode(kAaab), Row(TiktokenFx(), "reversed_encoded"));
  EXPECT_EQ(tok->Decode(Row(TiktokenFx(), "reversed_encoded")), kAaab);
}

TEST(Step10_Tiktoken, Gpt2ByteOrderAndAFewMerges) {
  // GPT-2 ranks the 256 bytes by their printable stand-in (Step 6): '!' is 0, 't' 83,
  // 'h' 71, 'e' 68, ' ' 220. Then three merges of its style.
  const std::vector<int> order = BytesByStandIn();
  std::string file;
  for (int rank = 0; rank < 256; ++rank) {
    file +=
        RankLine(std::string(1, static_cast<char>(order[static_cast<std::size_t>(rank)])), rank);
  }
  file += RankLine(" t", 256) + RankLine("he", 257) + RankLine(" the", 258);
  const absl::StatusOr<Tokenizer> tok = Tokenizer::FromTiktoken(file);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ(tok->TokenFor("!"), 0);
  EXPECT_EQ(tok->TokenFor(" "), 220);
  EXPECT_EQ(tok->Encode("the"), (Tokens{83, 257}));
  EXPECT_EQ(tok->Encode(" the the"), (Tokens{258, 258}));
  EXPECT_EQ(tok->Encode("\n"), (Tokens{198}));
}

TEST(Step10_Tiktoken, AWholePieceTokenNeedsNoMergePath) {
  // "xyz" is a token but neither "xy" nor "yz" is: merging alone cannot reach it, the
  // whole-piece rule of Encode can.
  std::string file;
  for (int b = 0; b < 256; ++b) file += RankLine(std::string(1, static_cast<char>(b)), b);
  file += RankLine("xyz", 256);
  const absl::StatusOr<Tokenizer> tok = Tokenizer::FromTiktoken(file);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ(tok->Encode("xyz"), (Tokens{256}));
  EXPECT_EQ(tok->EncodePiece("xyz"), (Tokens{'x', 'y', 'z'}));
  EXPECT_EQ(tok->Encode("xyzxyz"), (Tokens{'x', 'y', 'z', 'x', 'y', 'z'}));
}

TEST(Step10_Tiktoken, ToTiktokenRoundTrips) {
  Tokenizer trained(TrainOnText(TrainingText(), 256 + 200));
  const std::string file = trained.ToTiktoken();
  EXPECT_EQ(file.substr(0, file.find('\n') + 1), "AA== 0\n") << "byte 0 has rank 0";
  trained.AddSpecialToken(kEndOfText);
  EXPECT_EQ(trained.ToTiktoken(), file) << "special tokens are not part of the format";
  const absl::StatusOr<Tokenizer> loaded = Tokenizer::FromTiktoken(file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->vocab_size(), 256 + 200);
  Rng rng(1010);
  for (int trial = 0; trial < 20; ++trial) {
    const std::string text = RandomText(rng, 50);
    EXPECT_EQ(loaded->EncodeOrdinary(text), trained.EncodeOrdinary(text));
  }
}

TEST(Step10_Tiktoken, AcceptsCrLfAndBlankLines) {
  std::string file;
  for (int b = 0; b < 256; ++b) {
    std::string line = RankLine(std::string(1, static_cast<char>(b)), b);
    line.insert(line.size() - 1, "\r");
    file += line + (b % 50 == 0 ? "\n" : "");
  }
  const absl::StatusOr<Tokenizer> tok = Tokenizer::FromTiktoken(file);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ(tok->vocab_size(), 256);
}

std::string ByteLines() {
  std::string file;
  for (int b = 0; b < 256; ++b) file += RankLine(std::string(1, static_cast<char>(b)), b);
  return file;
}

TEST(Step10_Tiktoken, RejectsMalformedBase64) {
  // 256 good lines (lines 1..256), then the bad one on line 257.
  for (std::string bad : {"YW!= 256\n", "YQ 256\n", "YR== 256\n", "YWJj= 256\n", " 256\n"}) {
    EXPECT_TRUE(IsInvalidArgument(Tokenizer::FromTiktoken(ByteLines() + bad).status(),
                                  {"line 257", "base64"}))
        << "line \"" << absl::CHexEscape(bad) << "\"";
  }
}

TEST(Step10_Tiktoken, RejectsDuplicateRanksAndTokens) {
  EXPECT_TRUE(IsInvalidArgument(
      Tokenizer::FromTiktoken(ByteLines() + RankLine("ab", 256) + RankLine("cd", 256)).status(),
      {"line 258", "256", "duplicate"}));
  EXPECT_TRUE(IsInvalidArgument(
      Tokenizer::FromTiktoken(ByteLines() + RankLine("ab", 256) + RankLine("ab", 257)).status(),
      {"line 258", "duplicate"}));
}

TEST(Step10_Tiktoken, RejectsLinesWithoutARank) {
  EXPECT_TRUE(IsInvalidArgument(Tokenizer::FromTiktoken(ByteLines() + "YWI=\n").status(),
                                {"line 257", "no space before the rank"}));
  EXPECT_TRUE(IsInvalidArgument(Tokenizer::FromTiktoken(ByteLines() + "YWI= 256 1\n").status(),
                                {"line 257", "more than one space"}));
  EXPECT_TRUE(IsInvalidArgument(Tokenizer::FromTiktoken(ByteLines() + "YWI=  256\n").status(),
                                {"line 257", "more than one space"}));
  EXPECT_TRUE(IsInvalidArgument(Tokenizer::FromTiktoken(ByteLines() + "YWI= x\n").status(),
                                {"line 257", "rank \"x\" is not a decimal number"}));
  EXPECT_TRUE(IsInvalidArgument(Tokenizer::FromTiktoken(ByteLines() + "YWI= -4\n").status(),
                                {"line 257", "rank \"-4\" is negative"}));
  EXPECT_TRUE(IsInvalidArgument(Tokenizer::FromTiktoken(ByteLines() + "YWI= 2147483647\n").status(),
                                {"line 257", "rank \"2147483647\" is too large"}));
  EXPECT_TRUE(
      IsInvalidArgument(Tokenizer::FromTiktoken(ByteLines() + "YWI= 99999999999999999999\n").status(),
                        {"line 257", "is too large"}));
}

TEST(Step10_Tiktoken, RejectsAVocabularyBelowTheByteAlphabet) {
  std::string file;
  for (int b = 0; b < 255; ++b) file += RankLine(std::string(1, static_cast<char>(b)), b);
  EXPECT_TRUE(IsInvalidArgument(Tokenizer::FromTiktoken(file).status(), {"256", "0xFF"}));
  EXPECT_TRUE(IsInvalidArgument(Tokenizer::FromTiktoken("").status(), {"256"}));
}

TEST(Step10_Tiktoken, RejectsGapsInTheRanks) {
  EXPECT_TRUE(IsInvalidArgument(Tokenizer::FromTiktoken(ByteLines() + RankLine("ab", 300)).status(),
                                {"256", "missing"}));
}

}  // namespace
}  // namespace llmk::bpe
