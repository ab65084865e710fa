#include "integrity.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <system_error>

#include "absl/status/status.h"
#include "text_util.h"

namespace llmk::kata {
namespace {

namespace fs = std::filesystem;

// SHA-256 as FIPS 180-4 section 6.2 defines it: 512-bit blocks, 64 rounds,
// big-endian words; the message is padded with 0x80, zeros and its length in
// bits as a 64-bit big-endian number (section 5.1.1).
class Sha256 {
 public:
  void Update(std::string_view bytes) {
    length_bits_ += static_cast<std::uint64_t>(bytes.size()) * 8;
    while (!bytes.empty()) {
      const std::size_t take = std::min(bytes.size(), kBlockBytes - buffered_);
      std::memcpy(block_.data() + buffered_, bytes.data(), take);
      buffered_ += take;
      bytes.remove_prefix(take);
      if (buffered_ == kBlockBytes) {
        Compress();
        buffered_ = 0;
      }
    }
  }

  std::string FinishHex() {
    const std::uint64_t length_bits = length_bits_;
    block_[buffered_++] = 0x80;
    if (buffered_ > kBlockBytes - 8) {  // no room for the length: one more block
      std::fill(block_.begin() + static_cast<std::ptrdiff_t>(buffered_), block_.end(), 0);
      Compress();
      buffered_ = 0;
    }
    std::fill(block_.begin() + static_cast<std::ptrdiff_t>(buffered_), block_.end() - 8, 0);
    for (int i = 0; i < 8; ++i) {
      block_[kBlockBytes - 1 - static_cast<std::size_t>(i)] =
          static_cast<std::uint8_t>(length_bits >> (8 * i));
    }
    Compress();
    std::string hex;
    hex.reserve(64);
    for (std::uint32_t word : h_) hex += fmt::format("{:08x}", word);
    return hex;
  }

 private:
  static constexpr std::size_t kBlockBytes = 64;
  // The first 32 bits of the fractional parts of the cube roots of the first
  // 64 primes (section 4.2.2).
  static constexpr std::array<std::uint32_t, 64> kK = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};

  static std::uint32_t Rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

  void Compress() {
    // Message schedule W_0..W_63 (section 6.2.2 step 1).
    std::array<std::uint32_t, 64> w{};
    for (std::size_t t = 0; t < 16; ++t) {
      w[t] = (std::uint32_t{block_[4 * t]} << 24) | (std::uint32_t{block_[4 * t + 1]} << 16) |
             (std::uint32_t{block_[4 * t + 2]} << 8) | std::uint32_t{block_[4 * t + 3]};
    }
    for (std::size_t t = 16; t < 64; ++t) {
      const std::uint32_t s0 = Rotr(w[t - 15], 7) ^ Rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      const std::uint32_t s1 = Rotr(w[t - 2], 17) ^ Rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    // Steps 2-4: the 64 rounds, then add the working variables into H.
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3];
    std::uint32_t e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (std::size_t t = 0; t < 64; ++t) {
      const std::uint32_t sum1 = Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25);
      const std::uint32_t ch = (e & f) ^ (~e & g);
      const std::uint32_t t1 = h + sum1 + ch + kK[t] + w[t];
      const std::uint32_t sum0 = Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22);
      const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      const std::uint32_t t2 = sum0 + maj;
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
  }

  // Initial hash value: the fractional parts of the square roots of the first
  // 8 primes (section 5.3.3).
  std::array<std::uint32_t, 8> h_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::array<std::uint8_t, kBlockBytes> block_{};
  std::size_t buffered_ = 0;
  std::uint64_t length_bits_ = 0;
};

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Why `path` cannot be listed in a digests file, or empty if it can: it must be
// relative, '/'-separated, without empty, "." or ".." parts.
std::string PathProblem(std::string_view path) {
  if (path.empty()) return "the path is empty";
  if (path.front() == '/') return fmt::format("\"{}\" is absolute; paths are relative", path);
  if (path.find('\\') != std::string_view::npos) {
    return fmt::format("\"{}\" holds a backslash; paths are '/'-separated", path);
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20) {
      return fmt::format("the path \"{}\" holds a control character", CleanText(path));
    }
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part == "..") return fmt::format("\"{}\" climbs out with \"..\"", path);
    if (part.empty() || part == ".") {
      return fmt::format("\"{}\" has an empty or \".\" part", path);
    }
    start = end + 1;
  }
  return "";
}

// The regular files under root/dir (recursively), relative to root, '/'-separated.
void AddFilesUnder(const fs::path& root, std::string_view dir, std::vector<std::string>& files) {
  std::error_code error;
  const fs::path top = root / dir;
  if (!fs::is_directory(top, error)) return;
  for (fs::recursive_directory_iterator it(top, error), end; !error && it != end;
       it.increment(error)) {
    if (it->is_regular_file(error)) {
      files.push_back(it->path().lexically_relative(root).generic_string());
    }
  }
}

bool HasPrefix(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::vector<FileCheck> CheckUnder(const fs::path& root, const Digests& digests,
                                  const std::vector<std::string>& prefixes) {
  std::vector<FileCheck> checks;
  for (const auto& entry : digests.entries) {
    // Named references, not a structured binding: clang 14 cannot capture one in a lambda.
    const std::string& path = entry.first;
    const std::string& digest = entry.second;
    const bool covered = std::any_of(prefixes.begin(), prefixes.end(),
                                     [&](const std::string& p) { return HasPrefix(path, p); });
    if (!covered) continue;
    FileCheck check;
    check.path = path;
    check.expected_sha256 = digest;
    absl::StatusOr<std::string> actual = Sha256OfFile(root / path);
    if (!actual.ok()) {
      check.state = FileState::kMissing;
    } else {
      check.actual_sha256 = *actual;
      check.state = *actual == digest ? FileState::kUnchanged : FileState::kChanged;
    }
    checks.push_back(std::move(check));
  }
  return checks;
}

const std::vector<std::string>& SharedDirs() {
  static const std::vector<std::string> kDirs = {"harness/include/llmk/testing/",
                                                 "harness/support/"};
  return kDirs;
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  Sha256 hash;
  hash.Update(bytes);
  return hash.FinishHex();
}

absl::StatusOr<std::string> Sha256OfFile(const fs::path& file) {
  std::error_code error;
  if (!fs::is_regular_file(file, error)) {
    return absl::NotFoundError(fmt::format("{}: no such file", file.string()));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot be read", file.string()));
  Sha256 hash;
  std::array<char, 1 << 16> buffer{};
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hash.Update(std::string_view(buffer.data(), static_cast<std::size_t>(in.gcount())));
  }
  if (in.bad()) return absl::NotFoundError(fmt::format("{}: read error", file.string()));
  return hash.FinishHex();
}

const std::string* Digests::Find(std::string_view path) const {
  const auto it = std::lower_bound(entries.begin(), entries.end(), path,
                                   [](const std::pair<std::string, std::string>& entry,
                                      std::string_view p) { return entry.first < p; });
  if (it == entries.end() || it->first != path) return nullptr;
  return &it->second;
}

absl::StatusOr<Digests> ParseDigests(std::string_view text, std::string_view where) {
  Digests digests;
  const std::vector<std::string_view> lines = SplitLines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const auto error = [&](std::string_view what) {
      return absl::InvalidArgumentError(fmt::format(
          "{}:{}: {} (expected \"SHA256  PATH\": 64 hex digits, two spaces, a relative path)",
          where, i + 1, what));
    };
    if (line.size() < 64 || !std::all_of(line.begin(), line.begin() + 64, IsHexDigit)) {
      return error("the line does not start with 64 hex digits");
    }
    if (line.substr(64, 2) != "  ") return error("the digest is not followed by two spaces");
    const std::string_view path = line.substr(66);
    if (const std::string problem = PathProblem(path); !problem.empty()) return error(problem);
    std::string digest(line.substr(0, 64));
    std::transform(digest.begin(), digest.end(), digest.begin(),
                   [](char c) { return (c >= 'A' && c <= 'F') ? static_cast<char>(c + 32) : c; });
    digests.entries.emplace_back(std::string(path), std::move(digest));
  }
  std::stable_sort(digests.entries.begin(), digests.entries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 1; i < digests.entries.size(); ++i) {
    if (digests.entries[i].first == digests.entries[i - 1].first) {
      return absl::InvalidArgumentError(
          fmt::format("{}: \"{}\" is listed twice", where, digests.entries[i].first));
    }
  }
  return digests;
}

absl::StatusOr<Digests> LoadDigests(const fs::path& file) {
  std::error_code error;
  if (!fs::is_regular_file(file, error)) {
    return absl::NotFoundError(fmt::format("{}: no such file", file.string()));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot be read", file.string()));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ParseDigests(text, file.string());
}

std::string FormatDigests(const Digests& digests) {
  std::string text;
  for (const auto& [path, digest] : digests.entries) text += fmt::format("{}  {}\n", digest, path);
  return text;
}

std::vector<std::string> PublishedKataFiles(const fs::path& root, const Kata& kata) {
  std::vector<std::string> files;
  std::error_code error;
  const fs::path dir = root / kata.dir;
  if (fs::is_directory(dir, error)) {
    for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
      const std::string name = it->path().filename().string();
      const bool test_source = name.size() > 8 && name.ends_with("_test.cc");
      if (it->is_regular_file(error) && (test_source || name == "kata.json")) {
        files.push_back(fs::path(kata.dir).generic_string() + "/" + name);
      }
    }
  }
  AddFilesUnder(root, "fixtures/" + kata.name, files);
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> PublishedSharedFiles(const fs::path& root) {
  std::vector<std::string> files;
  for (const std::string& dir : SharedDirs()) AddFilesUnder(root, dir, files);
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> PublishedFiles(const fs::path& root, const std::vector<Kata>& katas) {
  std::vector<std::string> files = PublishedSharedFiles(root);
  for (const Kata& kata : katas) {
    std::vector<std::string> own = PublishedKataFiles(root, kata);
    files.insert(files.end(), own.begin(), own.end());
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

absl::StatusOr<Digests> ComputeDigests(const fs::path& root,
                                       const std::vector<std::string>& files) {
  Digests digests;
  for (const std::string& file : files) {
    if (const std::string problem = PathProblem(file); !problem.empty()) {
      return absl::InvalidArgumentError(fmt::format("cannot publish a digest: {}", problem));
    }
    absl::StatusOr<std::string> digest = Sha256OfFile(root / file);
    if (!digest.ok()) return digest.status();
    digests.entries.emplace_back(file, *std::move(digest));
  }
  std::sort(digests.entries.begin(), digests.entries.end());
  digests.entries.erase(std::unique(digests.entries.begin(), digests.entries.end()),
                        digests.entries.end());
  return digests;
}

std::vector<FileCheck> CheckKataFiles(const fs::path& root, const Digests& digests,
                                      const Kata& kata) {
  return CheckUnder(root, digests,
                    {fs::path(kata.dir).generic_string() + "/", "fixtures/" + kata.name + "/"});
}

std::vector<FileCheck> CheckSharedFiles(const fs::path& root, const Digests& digests) {
  return CheckUnder(root, digests, SharedDirs());
}

std::vector<std::string> CompareDigests(const Digests& listed, const Digests& current) {
  std::vector<std::string> stale;
  for (const auto& [path, digest] : listed.entries) {
    const std::string* now = current.Find(path);
    if (now == nullptr) {
      stale.push_back(fmt::format("{}: listed, but no longer published", path));
    } else if (*now != digest) {
      stale.push_back(fmt::format("{}: changed", path));
    }
  }
  for (const auto& [path, digest] : current.entries) {
    if (listed.Find(path) == nullptr) stale.push_back(fmt::format("{}: not listed", path));
  }
  std::sort(stale.begin(), stale.end());
  return stale;
}

}  // namespace llmk::kata
