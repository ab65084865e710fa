// Benchmarks of kata 01 on real English text: your tokenizer against the naive reference
// (reference/bpe_ref.h), in the same process, on the same jobs.
//   ./kata bench 01        (or run build/katas/01_bpe/01_bpe_bench)
//
// The text is read at run time from the Debian package `fortunes` (every fortune file
// in /usr/share/games/fortunes, about 2.6 MB); without it, from the licence texts in
// /usr/share/common-licenses (about 0.24 MB), said so on stderr. Nothing is copied into
// the repository. Install the package with: sudo apt-get install fortunes
//
//   BM_Encode            encodes the first 1 MB with an 8,000-merge vocabulary trained
//                        on the whole text (warm piece cache, as in a long-running server)
//   BM_EncodeColdCache   the same with a fresh tokenizer every iteration
//   BM_ReferenceEncode   the reference on the same 1 MB with the same vocabulary
//   BM_Train/100         TrainOnText: pretokenize, count words, 100 merges, whole text
//   BM_ReferenceTrain/100  the same job done by the reference
//   BM_Train/8000        8,000 merges on the whole text (the engine's target: < 2 s)
// Counters: MB/s (10^6 bytes per second of CPU time) and merges/s. At exit a summary on
// stderr gives the ratios of the implementation to the reference.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bpe.h"
#include "bpe_ref.h"

namespace {

namespace bpe = llmk::bpe;
namespace ref = llmk::reference::bpe;
namespace fs = std::filesystem;

constexpr int kVocabMerges = 8000;
constexpr std::size_t kEncodeBytes = 1 << 20;
constexpr double kTrainGuardSeconds = 20.0;  // a slow trainer is stopped, not waited for

struct Corpus {
  std::string text;
  std::string source;
};

// Every regular file of `dir`, sorted by name, concatenated; symbolic links (the
// fortunes' *.u8 aliases, GPL -> GPL-3) and the fortunes' *.dat indexes are skipped.
std::string ReadDirectory(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_symlink() || !entry.is_regular_file() || entry.path().extension() == ".dat") {
      continue;
    }
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::string text;
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    text += content.str();
  }
  return text;
}

const Corpus& GetCorpus() {
  static const Corpus corpus = [] {
    Corpus c;
    c.text = ReadDirectory("/usr/share/games/fortunes");
    if (!c.text.empty()) {
      c.source = "/usr/share/games/fortunes (Debian package fortunes)";
    } else {
      std::fprintf(stderr,
                   "01_bpe bench: /usr/share/games/fortunes is missing; install the Debian "
                   "package with `sudo apt-get install fortunes`. Falling back to "
                   "/usr/share/common-licenses.\n");
      c.text = ReadDirectory("/usr/share/common-licenses");
      c.source = "/usr/share/common-licenses";
    }
    if (!c.text.empty()) {
      std::fprintf(stderr, "01_bpe bench: %zu bytes of text from %s\n", c.text.size(),
                   c.source.c_str());
    }
    return c;
  }();
  return corpus;
}

// False (and the benchmark skipped with the reason) when there is no text.
bool HaveCorpus(benchmark::State& state) {
  if (GetCorpus().text.empty()) {
    state.SkipWithError(
        "no English text: install the Debian package `fortunes` (sudo apt-get install "
        "fortunes); /usr/share/common-licenses is empty too");
    return false;
  }
  return true;
}

std::string_view EncodeText() {
  const std::string& text = GetCorpus().text;
  return std::string_view(text).substr(0, std::min(text.size(), kEncodeBytes));
}

// The vocabulary every encoding benchmark uses: 8,000 merges trained on the whole text by
// the implementation under test, stopped after kTrainGuardSeconds if it is slower.
struct Vocabulary {
  std::vector<bpe::Merge> merges;
  std::map<std::string, int> ranks;  // for the reference
  std::string error;
};

const Vocabulary& GetVocabulary() {
  static const Vocabulary vocab = [] {
    Vocabulary v;
    bpe::TrainOptions options;
    options.progress_every = 100;
    options.on_progress = [](const bpe::TrainProgress& p) {
      return p.seconds < kTrainGuardSeconds;
    };
    try {
      v.merges = bpe::TrainOnText(GetCorpus().text, bpe::kNumBytes + kVocabMerges, options);
      const bpe::Tokenizer tok(v.merges);
      for (int id = 0; id < tok.vocab_size(); ++id) v.ranks.emplace(tok.TokenBytes(id), id);
    } catch (const std::exception& e) {
      v.error = e.what();
      return v;
    }
    if (static_cast<int>(v.merges.size()) < kVocabMerges) {
      std::fprintf(stderr,
                   "01_bpe bench: the encoding vocabulary has %zu merges, not %d (training "
                   "stopped after %.0f s or ran out of pairs)\n",
                   v.merges.size(), kVocabMerges, kTrainGuardSeconds);
    }
    return v;
  }();
  return vocab;
}

bool HaveVocabulary(benchmark::State& state) {
  if (!HaveCorpus(state)) return false;
  if (!GetVocabulary().error.empty()) {
    state.SkipWithError(("training the vocabulary failed: " + GetVocabulary().error).c_str());
    return false;
  }
  return true;
}

// Seconds per iteration of the last run of each benchmark, for the closing summary.
std::map<std::string, double> g_seconds;
std::map<std::string, double> g_amount;  // bytes or merges per iteration

void Record(const std::string& name, double seconds, benchmark::IterationCount iterations,
            double amount) {
  if (iterations == 0) return;
  g_seconds[name] = seconds / static_cast<double>(iterations);
  g_amount[name] = amount;
}

// CPU time of this thread, as Google Benchmark reports by default: on a machine shared
// with other work, wall-clock time measures the other work too.
double ThreadSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

void SetMegabytes(benchmark::State& state, double bytes) {
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes) * state.iterations());
  state.counters["MB/s"] =
      benchmark::Counter(bytes * 1e-6, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Encode(benchmark::State& state) {
  if (!HaveVocabulary(state)) return;
  const std::string_view text = EncodeText();
  try {
    const bpe::Tokenizer tok(GetVocabulary().merges);
    benchmark::DoNotOptimize(tok.Encode(text).size());  // warm the piece cache
    const double start = ThreadSeconds();
    for (auto _ : state) {
      bpe::Tokens ids = tok.Encode(text);
      benchmark::DoNotOptimize(ids.data());
    }
    Record("encode", ThreadSeconds() - start, state.iterations(), static_cast<double>(text.size()));
    state.counters["tokens"] = static_cast<double>(tok.Encode(text).size());
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  SetMegabytes(state, static_cast<double>(text.size()));
}

void BM_EncodeColdCache(benchmark::State& state) {
  if (!HaveVocabulary(state)) return;
  const std::string_view text = EncodeText();
  try {
    for (auto _ : state) {
      state.PauseTiming();
      const bpe::Tokenizer tok(GetVocabulary().merges);
      state.ResumeTiming();
      bpe::Tokens ids = tok.Encode(text);
      benchmark::DoNotOptimize(ids.data());
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  SetMegabytes(state, static_cast<double>(text.size()));
}

void BM_ReferenceEncode(benchmark::State& state) {
  if (!HaveVocabulary(state)) return;
  const std::string_view text = EncodeText();
  const double start = ThreadSeconds();
  for (auto _ : state) {
    ref::Ids ids = ref::Encode(text, GetVocabulary().ranks);
    benchmark::DoNotOptimize(ids.data());
  }
  Record("reference encode", ThreadSeconds() - start, state.iterations(),
         static_cast<double>(text.size()));
  SetMegabytes(state, static_cast<double>(text.size()));
}

void BM_Train(benchmark::State& state) {
  if (!HaveCorpus(state)) return;
  const int merges = static_cast<int>(state.range(0));
  bpe::TrainOptions options;
  options.progress_every = 100;
  bool stopped = false;
  options.on_progress = [&](const bpe::TrainProgress& p) {
    stopped = p.seconds >= kTrainGuardSeconds;
    return !stopped;
  };
  std::size_t made = 0;
  try {
    const double start = ThreadSeconds();
    for (auto _ : state) {
      std::vector<bpe::Merge> result =
          bpe::TrainOnText(GetCorpus().text, bpe::kNumBytes + merges, options);
      made = result.size();
      benchmark::DoNotOptimize(result.data());
      if (stopped) {
        state.SkipWithError("training was stopped after 20 s; it is far from the target");
        break;
      }
    }
    Record("train " + std::to_string(merges), ThreadSeconds() - start, state.iterations(),
           static_cast<double>(made));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  if (stopped) return;
  state.counters["merges/s"] =
      benchmark::Counter(static_cast<double>(made), benchmark::Counter::kIsIterationInvariantRate);
  SetMegabytes(state, static_cast<double>(GetCorpus().text.size()));
}

// The reference's whole job: its own pretokenizer, a std::map of words, naive training.
void BM_ReferenceTrain(benchmark::State& state) {
  if (!HaveCorpus(state)) return;
  const int merges = static_cast<int>(state.range(0));
  std::size_t made = 0;
  const double start = ThreadSeconds();
  for (auto _ : state) {
    std::map<std::string, std::int64_t> counts;
    for (std::string& piece : ref::Pretokenize(GetCorpus().text)) ++counts[std::move(piece)];
    const std::vector<std::pair<std::string, std::int64_t>> words(counts.begin(), counts.end());
    std::vector<ref::Merge> result = ref::Train(words, merges);
    made = result.size();
    benchmark::DoNotOptimize(result.data());
  }
  Record("reference train " + std::to_string(merges), ThreadSeconds() - start, state.iterations(),
         static_cast<double>(made));
  state.counters["merges/s"] =
      benchmark::Counter(static_cast<double>(made), benchmark::Counter::kIsIterationInvariantRate);
  SetMegabytes(state, static_cast<double>(GetCorpus().text.size()));
}

BENCHMARK(BM_Encode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EncodeColdCache)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReferenceEncode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Train)->Arg(100)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReferenceTrain)->Arg(100)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Train)->Arg(kVocabMerges)->Unit(benchmark::kMillisecond);

// The ratios, printed once at exit (to stderr, so that JSON output stays clean).
struct Summary {
  ~Summary() {
    const auto rate = [](const std::string& name) {
      auto s = g_seconds.find(name);
      return s == g_seconds.end() || s->second <= 0 ? 0.0 : g_amount[name] / s->second;
    };
    const double enc = rate("encode");
    const double enc_ref = rate("reference encode");
    if (enc > 0 && enc_ref > 0) {
      std::fprintf(stderr,
                   "01_bpe summary: encoding %.1f MB/s, reference %.2f MB/s: %.0fx "
                   "(CPU time)\n",
                   enc * 1e-6, enc_ref * 1e-6, enc / enc_ref);
    }
    const double tr = rate("train 100");
    const double tr_ref = rate("reference train 100");
    if (tr > 0 && tr_ref > 0) {
      std::fprintf(stderr,
                   "01_bpe summary: training 100 merges %.0f merges/s, reference %.1f "
                   "merges/s: %.0fx\n",
                   tr, tr_ref, tr / tr_ref);
    }
    auto big = g_seconds.find("train " + std::to_string(kVocabMerges));
    if (big != g_seconds.end()) {
      std::fprintf(
          stderr, "01_bpe summary: %d merges on %zu bytes in %.2f s of CPU (%.0f merges/s)\n",
          kVocabMerges, GetCorpus().text.size(), big->second, g_amount[big->first] / big->second);
    }
  }
} g_summary;

}  // namespace
