#include "export.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "absl/status/status.h"
#include "catalog.h"
#include "integrity.h"

namespace llmk::kata {
namespace {

namespace fs = std::filesystem;

// Folders never copied, at any depth: builds, version control, caches.
bool SkippedFolder(const std::string& name) {
  return name == ".git" || name == "build" || name.starts_with("build-") || name == "__pycache__" ||
         name == ".cache";
}

// The full repository's own checks (they need solutions/ or fuzz/).
bool RepositoryOnly(std::string_view path) {
  return path == "tools/selftest" || path == "tools/ci";
}

// One thing to copy, relative to the root.
struct Entry {
  std::string path;
  fs::file_type type = fs::file_type::regular;
};

absl::Status FsError(std::string_view what, const fs::path& path, const std::error_code& error) {
  return absl::InternalError(fmt::format("{} {}: {}", what, path.string(), error.message()));
}

// The kata that a path of katas/, fixtures/ or tools/recompute/ belongs to, or
// "" for a path shared by every kata.
std::string KataOf(std::string_view path, const std::set<std::string>& all_katas) {
  for (std::string_view top : {"katas/", "fixtures/", "tools/recompute/"}) {
    if (!path.starts_with(top)) continue;
    std::string_view rest = path.substr(top.size());
    std::string name(rest.substr(0, rest.find('/')));
    if (top == "tools/recompute/" && rest.find('/') == std::string_view::npos) {
      name = fs::path(name).stem().string();  // tools/recompute/NAME.py
    }
    return all_katas.contains(name) ? name : "";
  }
  return "";
}

// Files of katas/ that the shared code includes (none today: the character classes that
// reference/bpe_ref.cc uses are in harness/include/llmk/): the copy needs them even without
// their kata.
void AddIncludedKataFiles(const fs::path& root, std::vector<Entry>& entries) {
  std::set<std::string> have;
  for (const Entry& entry : entries) have.insert(entry.path);
  std::vector<Entry> added;
  for (const Entry& entry : entries) {
    if (entry.type != fs::file_type::regular || entry.path.starts_with("katas/")) continue;
    const fs::path file(entry.path);
    if (file.extension() != ".cc" && file.extension() != ".h") continue;
    std::ifstream in(root / file);
    std::string line;
    while (std::getline(in, line)) {
      constexpr std::string_view kInclude = "#include \"";
      if (!line.starts_with(kInclude)) continue;
      const std::size_t end = line.find('"', kInclude.size());
      if (end == std::string::npos) continue;
      const std::string included =
          (file.parent_path() / line.substr(kInclude.size(), end - kInclude.size()))
              .lexically_normal()
              .generic_string();
      std::error_code error;
      if (included.starts_with("katas/") && !have.contains(included) &&
          fs::is_regular_file(root / included, error)) {
        have.insert(included);
        added.push_back({included, fs::file_type::regular});
      }
    }
  }
  entries.insert(entries.end(), added.begin(), added.end());
}

// Every file, folder and symlink the copy takes, in walk order (parents first).
absl::StatusOr<std::vector<Entry>> Plan(const fs::path& root,
                                        const std::set<std::string>& all_katas,
                                        const std::set<std::string>& exported) {
  std::vector<Entry> entries;
  std::error_code error;
  for (const std::string& top : ExportedRootEntries()) {
    const fs::path from = root / top;
    const fs::file_status status = fs::symlink_status(from, error);
    if (error || status.type() == fs::file_type::not_found) {
      error.clear();
      continue;  // an optional entry (.clang-tidy, tools/) that this repository lacks
    }
    entries.push_back({top, status.type()});
    if (status.type() != fs::file_type::directory) continue;
    fs::recursive_directory_iterator it(from, error), end;
    for (; !error && it != end; it.increment(error)) {
      const std::string relative = it->path().lexically_relative(root).generic_string();
      const fs::file_type type = it->symlink_status(error).type();
      if (error) return FsError("cannot read", it->path(), error);
      const std::string kata = KataOf(relative, all_katas);
      const bool skipped =
          (type == fs::file_type::directory && SkippedFolder(it->path().filename().string())) ||
          RepositoryOnly(relative) || (!kata.empty() && !exported.contains(kata));
      if (skipped) {
        if (type == fs::file_type::directory) it.disable_recursion_pending();
        continue;
      }
      if (type != fs::file_type::directory && type != fs::file_type::regular &&
          type != fs::file_type::symlink) {
        continue;  // sockets, fifos: nothing a build reads
      }
      entries.push_back({relative, type});
    }
    if (error) return FsError("cannot read", from, error);
  }
  AddIncludedKataFiles(root, entries);
  return entries;
}

absl::Status WriteText(const fs::path& file, std::string_view text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    return absl::InternalError(
        fmt::format("cannot write {}: {}", file.string(), std::strerror(errno)));
  }
  return absl::OkStatus();
}

// The note at the top of the copy's README: the README describes the whole
// repository, and the copy is a part of it.
std::string HandoutNote(const ExportRequest& request, const std::vector<std::string>& katas) {
  std::string note =
      "> **This is a learner's copy** (made with `kata export`). It holds no `solutions/`: what\n"
      "> this README says about them (`--variant solution`, what `./kata selftest` proves) is\n"
      "> about the full repository. `sha256sum -c tests.sha256` checks that the tests and\n"
      "> fixtures are the ones handed out.\n";
  if (!request.assignment_json.empty()) {
    std::string names;
    for (const std::string& kata : katas) names += (names.empty() ? "`" : ", `") + kata + "`";
    const std::string title =
        request.assignment_title.empty() ? "" : fmt::format(" \"{}\"", request.assignment_title);
    note += fmt::format(
        ">\n> The assignment{} is `assignment.json`; its katas: {}.\n"
        "> Grade it with `./kata grade --assignment assignment.json`.\n",
        title, names);
  }
  return note;
}

// Copies `entries` from `root` into `to` and writes what the export adds.
absl::StatusOr<ExportSummary> Fill(const ExportRequest& request, const std::vector<Entry>& entries,
                                   const std::vector<std::string>& katas, const fs::path& to) {
  ExportSummary summary;
  summary.katas = katas;
  std::error_code error;
  for (const Entry& entry : entries) {
    const fs::path from = request.root / entry.path;
    const fs::path dest = to / entry.path;
    switch (entry.type) {
      case fs::file_type::directory:
        fs::create_directory(dest, error);
        if (error) return FsError("cannot create", dest, error);
        break;
      case fs::file_type::symlink:
        fs::copy_symlink(from, dest, error);
        if (error) return FsError("cannot copy the link", from, error);
        break;
      default: {
        fs::create_directories(dest.parent_path(), error);  // a file of an unexported kata
        if (error) return FsError("cannot create", dest.parent_path(), error);
        fs::copy_file(from, dest, error);
        if (error) return FsError("cannot copy", from, error);
        // Keeps the launcher and the scripts executable.
        fs::permissions(dest, fs::status(from).permissions(), error);
        if (error) return FsError("cannot set the permissions of", dest, error);
        ++summary.files;
      }
    }
  }

  // The published files of the copy, as they are now.
  std::vector<Kata> exported;
  for (const std::string& name : katas) {
    Kata kata;
    kata.name = name;
    kata.dir = "katas/" + name;
    exported.push_back(std::move(kata));
  }
  absl::StatusOr<Digests> digests = ComputeDigests(to, PublishedFiles(to, exported));
  if (!digests.ok()) return digests.status();
  summary.published = digests->entries.size();
  if (absl::Status status = WriteText(to / "tests.sha256", FormatDigests(*digests)); !status.ok()) {
    return status;
  }
  ++summary.files;

  if (!request.assignment_json.empty()) {
    if (absl::Status status = WriteText(to / "assignment.json", request.assignment_json);
        !status.ok()) {
      return status;
    }
    ++summary.files;
  }

  const fs::path readme = to / "README.md";
  if (fs::is_regular_file(readme, error)) {
    std::ifstream in(readme, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    // The note goes under the title, if the README opens with one.
    std::string body = text.str();
    std::size_t at = 0;
    if (body.starts_with("# ")) {
      at = body.find('\n');
      at = at == std::string::npos ? body.size() : at + 1;
    }
    body.insert(at,
                at == 0 ? HandoutNote(request, katas) + "\n" : "\n" + HandoutNote(request, katas));
    if (absl::Status status = WriteText(readme, body); !status.ok()) {
      return status;
    }
  }
  return summary;
}

}  // namespace

const std::vector<std::string>& ExportedRootEntries() {
  static const std::vector<std::string> kEntries = {
      ".clang-format", ".clang-tidy", ".gitignore", "CMakeLists.txt", "CMakePresets.json",
      "README.md",     "cmake",       "fixtures",   "harness",        "kata",
      "katas",         "reference",   "tools"};
  return kEntries;
}

absl::StatusOr<ExportSummary> ExportCopy(const ExportRequest& request) {
  std::error_code error;
  const fs::path katas_dir = request.root / "katas";
  if (!fs::is_directory(katas_dir, error)) {
    return absl::FailedPreconditionError(
        fmt::format("{} is not a folder: --root must name the repository", katas_dir.string()));
  }

  // The destination: absent, or an empty folder. Never written over.
  fs::path dir = fs::absolute(request.dir, error).lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();  // "handout/" names "handout"
  if (error || request.dir.empty() || !dir.has_filename()) {
    return absl::InvalidArgumentError(
        fmt::format("cannot use \"{}\" as the copy's folder", request.dir.string()));
  }
  const fs::file_status dir_status = fs::symlink_status(dir, error);
  if (dir_status.type() != fs::file_type::not_found) {
    if (dir_status.type() != fs::file_type::directory) {
      return absl::FailedPreconditionError(
          fmt::format("{} exists and is not a folder; kata export writes only into a new or "
                      "empty folder",
                      dir.string()));
    }
    if (!fs::is_empty(dir, error) || error) {
      return absl::FailedPreconditionError(
          fmt::format("{} is not empty; kata export writes only into a new or empty folder "
                      "(it never writes over a copy in use)",
                      dir.string()));
    }
  }

  // The katas: every folder of katas/, or those asked for.
  std::set<std::string> all_katas;
  for (fs::directory_iterator it(katas_dir, error), end; !error && it != end; it.increment(error)) {
    if (it->is_directory() && !SkippedFolder(it->path().filename().string())) {
      all_katas.insert(it->path().filename().string());
    }
  }
  if (error) return FsError("cannot read", katas_dir, error);
  std::set<std::string> exported;
  for (const std::string& name : request.katas) {
    if (!all_katas.contains(name)) {
      return absl::NotFoundError(
          fmt::format("there is no kata {} in {}", name, katas_dir.string()));
    }
    exported.insert(name);
  }
  if (request.katas.empty()) exported = all_katas;

  absl::StatusOr<std::vector<Entry>> entries = Plan(request.root, all_katas, exported);
  if (!entries.ok()) return entries.status();

  // Assemble beside the destination, then rename: all or nothing.
  fs::create_directories(dir.parent_path(), error);
  if (error) return FsError("cannot create", dir.parent_path(), error);
  std::string pattern = (dir.parent_path() / ("." + dir.filename().string() + ".export-XXXXXX"));
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(
        fmt::format("cannot create a folder beside {}: {}", dir.string(), std::strerror(errno)));
  }
  const fs::path staging = pattern;
  absl::StatusOr<ExportSummary> summary =
      Fill(request, *entries, std::vector<std::string>(exported.begin(), exported.end()), staging);
  if (summary.ok()) {
    fs::permissions(staging,
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                        fs::perms::others_read | fs::perms::others_exec,
                    error);
    if (!error) fs::rename(staging, dir, error);  // replaces an empty folder
    if (error) summary = FsError("cannot move the copy to", dir, error);
  }
  if (!summary.ok()) {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
  }
  return summary;
}

}  // namespace llmk::kata
