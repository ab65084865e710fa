// Runs a fuzz target's LLVMFuzzerTestOneInput on saved inputs, without libFuzzer, so
// that every compiler (gcc included) replays the seed corpus and the regressions.
//
//   bpe_roundtrip_fuzz_replay fuzz/corpus/bpe_roundtrip fuzz/regressions/bpe_roundtrip
//
// Each argument is a file or a directory (its regular files, sorted, not recursive).
// A missing directory counts as empty; no input at all is an error. A broken property
// aborts inside the target, which fails the run.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool ReadFile(const std::filesystem::path& path, std::string& bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg = argv[i];
    std::error_code error;
    if (std::filesystem::is_directory(arg, error)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(arg)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      inputs.insert(inputs.end(), files.begin(), files.end());
    } else if (std::filesystem::is_regular_file(arg, error)) {
      inputs.push_back(arg);
    } else if (std::filesystem::exists(arg, error)) {
      std::fprintf(stderr, "%s: not a file or a directory\n", argv[i]);
      return 2;
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "no inputs to replay (give files or directories holding some)\n");
    return 2;
  }
  for (const std::filesystem::path& path : inputs) {
    std::string bytes;
    if (!ReadFile(path, bytes)) {
      std::fprintf(stderr, "%s: cannot read the file\n", path.c_str());
      return 2;
    }
    std::fprintf(stderr, "replaying %s (%zu bytes)\n", path.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::fprintf(stderr, "replayed %zu inputs\n", inputs.size());
  return 0;
}
