// `kata digests [--out FILE]`, `kata digests --check [--digests FILE]`: the
// published digests (tests.sha256).
// `kata export DIR [--assignment FILE]`: a learner's copy without solutions/.
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "assignment.h"
#include "export.h"
#include "integrity.h"
#include "verbs.h"

namespace llmk::kata {
namespace {

namespace fs = std::filesystem;

// The digests of every published file of the tree as it is now.
absl::StatusOr<Digests> CurrentDigests(const Context& ctx) {
  absl::StatusOr<Catalog> catalog =
      LoadCatalog(ctx.root, ctx.build_dir, /*require_manifest=*/false);
  if (!catalog.ok()) return catalog.status();
  return ComputeDigests(ctx.root, PublishedFiles(ctx.root, catalog->katas));
}

}  // namespace

int DigestsVerb(const Context& ctx, const std::string& out_file, bool check,
                const std::string& digests_file) {
  absl::StatusOr<Digests> current = CurrentDigests(ctx);
  if (!current.ok()) {
    PrintError(ctx, current.status());
    return kExitNotPassing;
  }
  if (check) {
    const fs::path listed_file =
        digests_file.empty() ? ctx.root / "tests.sha256" : fs::path(digests_file);
    const std::string regenerate =
        fmt::format("regenerate it: ./kata digests --out {}",
                    digests_file.empty() ? std::string("tests.sha256") : listed_file.string());
    absl::StatusOr<Digests> listed = LoadDigests(listed_file);
    if (!listed.ok()) {
      PrintError(ctx, listed.status());
      PrintError(ctx, regenerate);
      return kExitNotPassing;
    }
    const std::vector<std::string> stale = CompareDigests(*listed, *current);
    if (stale.empty()) {
      fmt::print(ctx.out, "{} lists the {} published files as they are.\n", listed_file.string(),
                 current->entries.size());
      return kExitOk;
    }
    PrintError(ctx, fmt::format("{} is out of date ({} {}):", listed_file.string(), stale.size(),
                                stale.size() == 1 ? "file" : "files"));
    for (const std::string& line : stale) fmt::print(ctx.err, "  {}\n", line);
    PrintError(ctx, regenerate);
    return kExitNotPassing;
  }

  const std::string text = FormatDigests(*current);
  if (out_file.empty()) {
    fmt::print(ctx.out, "{}", text);
    return kExitOk;
  }
  std::ofstream out(out_file, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    PrintError(ctx, fmt::format("cannot write {}", out_file));
    return kExitNotPassing;
  }
  fmt::print(ctx.out, "Wrote the digests of {} published files to {}.\n", current->entries.size(),
             out_file);
  return kExitOk;
}

int ExportVerb(const Context& ctx, const std::string& dir, const std::string& assignment_file) {
  ExportRequest request;
  request.root = ctx.root;
  request.dir = dir;
  if (!assignment_file.empty()) {
    absl::StatusOr<Catalog> catalog =
        LoadCatalog(ctx.root, ctx.build_dir, /*require_manifest=*/false);
    if (!catalog.ok()) {
      PrintError(ctx, catalog.status());
      return kExitNotPassing;
    }
    absl::StatusOr<Assignment> assignment = LoadAssignment(assignment_file, *catalog);
    if (!assignment.ok()) {
      PrintError(ctx, assignment.status());
      return kExitNotPassing;
    }
    std::ifstream in(assignment_file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    request.assignment_json = text.str();
    request.assignment_title = assignment->title;
    for (const AssignedKata& kata : assignment->katas) request.katas.push_back(kata.kata);
  }
  absl::StatusOr<ExportSummary> summary = ExportCopy(request);
  if (!summary.ok()) {
    PrintError(ctx, summary.status());
    return kExitNotPassing;
  }
  std::string names;
  for (const std::string& kata : summary->katas) names += (names.empty() ? "" : ", ") + kata;
  fmt::print(ctx.out,
             "Exported {} katas ({}) to {}: {} files, no solutions/; tests.sha256 lists {} "
             "published files{}.\nThe learner starts with: cd {} && ./kata\n",
             summary->katas.size(), names, dir, summary->files, summary->published,
             assignment_file.empty() ? "" : ", assignment.json is the assignment", dir);
  return kExitOk;
}

}  // namespace llmk::kata
