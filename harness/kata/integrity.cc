#include "integrity.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <system_error>

#include "absl/status/status.h"
#include "text_util.h"

namespace llmk::kata {
namespace {

namespace fs = std::filesystem;

// SHA-256 through libcrypto's EVP digest interface (OpenSSL, Debian libssl-dev): a context
// owned for the lifetime of one digest, fed in pieces, finished as lower-case hex.
class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) {
    ok_ = context_ != nullptr && EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) == 1;
  }

  void Update(std::string_view bytes) {
    if (ok_ && !bytes.empty()) {
      ok_ = EVP_DigestUpdate(context_.get(), bytes.data(), bytes.size()) == 1;
    }
  }

  // The digest as 64 hex digits; an error if libcrypto failed at any point.
  absl::StatusOr<std::string> FinishHex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (!ok_ || EVP_DigestFinal_ex(context_.get(), digest.data(), &size) != 1 || size != 32) {
      return absl::InternalError("libcrypto could not compute a SHA-256 digest");
    }
    std::string hex;
    hex.reserve(2 * size);
    for (unsigned int i = 0; i < size; ++i) hex += fmt::format("{:02x}", digest[i]);
    return hex;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> context_;
  bool ok_ = false;
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

absl::StatusOr<std::string> Sha256Hex(std::string_view bytes) {
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
