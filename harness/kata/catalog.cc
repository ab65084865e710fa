#include "catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"

namespace llmk::kata {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

absl::StatusOr<std::string> ReadFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("cannot read {}", file.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Reads json[key] as a string; `required` makes a missing key an error.
absl::StatusOr<std::string> StringField(const json& object, std::string_view key,
                                        std::string_view where, bool required) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (!required) return std::string();
    return absl::InvalidArgumentError(fmt::format("{}: \"{}\" is missing", where, key));
  }
  if (!it->is_string()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: \"{}\" must be a string, got {}", where, key, it->dump()));
  }
  return it->get<std::string>();
}

absl::StatusOr<int> IntField(const json& object, std::string_view key, std::string_view where,
                             bool required) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (!required) return 0;
    return absl::InvalidArgumentError(fmt::format("{}: \"{}\" is missing", where, key));
  }
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: \"{}\" must be an integer, got {}", where, key, it->dump()));
  }
  return it->get<int>();
}

absl::StatusOr<Step> ParseStep(const json& object, std::string_view where) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError(fmt::format("{} must be an object", where));
  }
  Step step;
  absl::StatusOr<int> number = IntField(object, "number", where, true);
  if (!number.ok()) return number.status();
  if (*number < 1) {
    return absl::InvalidArgumentError(
        fmt::format("{}: \"number\" must be 1 or more, got {}", where, *number));
  }
  step.number = *number;
  absl::StatusOr<std::string> suite = StringField(object, "suite", where, true);
  if (!suite.ok()) return suite.status();
  step.suite = *suite;
  absl::StatusOr<std::string> title = StringField(object, "title", where, false);
  if (!title.ok()) return title.status();
  step.title = *title;
  absl::StatusOr<std::string> anchor = StringField(object, "anchor", where, false);
  if (!anchor.ok()) return anchor.status();
  step.anchor = anchor->empty() ? HeadingAnchor(fmt::format("Step {}: {}", step.number, step.title))
                                : *anchor;
  if (const auto it = object.find("functions"); it != object.end() && it->is_array()) {
    for (const json& function : *it) {
      if (function.is_string()) step.functions.push_back(function.get<std::string>());
    }
  }
  return step;
}

absl::StatusOr<Binaries> ParseBinaries(const json& object, std::string_view where) {
  Binaries binaries;
  if (!object.is_object()) {
    return absl::InvalidArgumentError(fmt::format("{} must be an object", where));
  }
  for (auto [key, field, required] :
       {std::tuple{"target", &binaries.target, true}, std::tuple{"binary", &binaries.binary, true},
        std::tuple{"bench_target", &binaries.bench_target, false},
        std::tuple{"bench", &binaries.bench, false}}) {
    absl::StatusOr<std::string> value = StringField(object, key, where, required);
    if (!value.ok()) return value.status();
    *field = *value;
  }
  return binaries;
}

// Every katas/NN_*/kata.json of the source tree, in name order.
absl::StatusOr<std::vector<Kata>> ScanSourceTree(const fs::path& root) {
  std::vector<fs::path> files;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(root / "katas", error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.size() > 3 && std::isdigit(name[0]) && std::isdigit(name[1]) &&
        name[2] == '_' && fs::exists(entry.path() / "kata.json")) {
      files.push_back(entry.path() / "kata.json");
    }
  }
  if (error) {
    return absl::NotFoundError(
        fmt::format("cannot list {}: {}", (root / "katas").string(), error.message()));
  }
  std::sort(files.begin(), files.end());
  std::vector<Kata> katas;
  for (const fs::path& file : files) {
    absl::StatusOr<Kata> kata = LoadKataJson(root, file);
    if (!kata.ok()) return kata.status();
    katas.push_back(*std::move(kata));
  }
  return katas;
}

}  // namespace

std::string_view VariantName(Variant variant) {
  return variant == Variant::kLearner ? "learner" : "solution";
}

const Binaries& Kata::Of(Variant variant) const {
  return variant == Variant::kLearner ? learner : solution;
}

std::string Kata::ShortId() const { return name.substr(0, name.find('_')); }

const Step* Kata::FindStep(int number) const {
  for (const Step& step : steps) {
    if (step.number == number) return &step;
  }
  return nullptr;
}

std::string Kata::ReadmeLink(const Step& step) const {
  return fmt::format("{}/README.md#{}", dir, step.anchor);
}

absl::StatusOr<Kata> ParseKataJson(std::string_view json_text, std::string_view where) {
  const json document = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return absl::InvalidArgumentError(fmt::format("{}: not a JSON object", where));
  }
  Kata kata;
  absl::StatusOr<std::string> name = StringField(document, "name", where, true);
  if (!name.ok()) return name.status();
  kata.name = *name;
  absl::StatusOr<std::string> title = StringField(document, "title", where, false);
  if (!title.ok()) return title.status();
  kata.title = title->empty() ? kata.name : *title;
  absl::StatusOr<int> timeout = IntField(document, "timeout_seconds", where, false);
  if (!timeout.ok()) return timeout.status();
  if (*timeout < 0) {
    return absl::InvalidArgumentError(
        fmt::format("{}: \"timeout_seconds\" must not be negative, got {}", where, *timeout));
  }
  kata.timeout_seconds = *timeout;

  const auto steps = document.find("steps");
  if (steps == document.end() || !steps->is_array() || steps->empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: \"steps\" must be a non-empty array", where));
  }
  std::set<int> numbers;
  std::set<std::string> suites;
  for (std::size_t i = 0; i < steps->size(); ++i) {
    absl::StatusOr<Step> step = ParseStep((*steps)[i], fmt::format("{}: steps[{}]", where, i));
    if (!step.ok()) return step.status();
    if (!numbers.insert(step->number).second || !suites.insert(step->suite).second) {
      return absl::InvalidArgumentError(fmt::format("{}: steps[{}] repeats step {} or suite {}",
                                                    where, i, step->number, step->suite));
    }
    kata.steps.push_back(*std::move(step));
  }
  std::sort(kata.steps.begin(), kata.steps.end(),
            [](const Step& a, const Step& b) { return a.number < b.number; });
  kata.dir = "katas/" + kata.name;
  return kata;
}

absl::StatusOr<Kata> LoadKataJson(const fs::path& root, const fs::path& file) {
  absl::StatusOr<std::string> text = ReadFile(file);
  if (!text.ok()) return text.status();
  absl::StatusOr<Kata> kata = ParseKataJson(*text, file.string());
  if (!kata.ok()) return kata.status();
  kata->dir = fs::relative(file.parent_path(), root).generic_string();
  return kata;
}

absl::StatusOr<Catalog> LoadCatalog(const fs::path& root, const fs::path& build_dir,
                                    bool require_manifest) {
  Catalog catalog;
  catalog.root = root;
  catalog.build_dir = build_dir;
  const fs::path manifest_file = build_dir / "katas.json";
  if (!fs::exists(manifest_file)) {
    if (require_manifest) {
      return absl::FailedPreconditionError(
          fmt::format("{} does not exist: the build is not configured. Run ./kata from the "
                      "repository root, or: cmake -S {} -B {}",
                      manifest_file.string(), root.string(), build_dir.string()));
    }
    absl::StatusOr<std::vector<Kata>> katas = ScanSourceTree(root);
    if (!katas.ok()) return katas.status();
    catalog.katas = *std::move(katas);
    return catalog;
  }

  absl::StatusOr<std::string> text = ReadFile(manifest_file);
  if (!text.ok()) return text.status();
  const json manifest = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  const std::string where = manifest_file.string();
  if (manifest.is_discarded() || !manifest.is_object() || !manifest.contains("katas") ||
      !manifest["katas"].is_array()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: not a kata manifest (expected an object with a \"katas\" array); "
                    "re-run cmake to regenerate it",
                    where));
  }
  catalog.has_manifest = true;
  for (std::size_t i = 0; i < manifest["katas"].size(); ++i) {
    const json& entry = manifest["katas"][i];
    const std::string entry_where = fmt::format("{}: katas[{}]", where, i);
    if (!entry.is_object()) {
      return absl::InvalidArgumentError(fmt::format("{} must be an object", entry_where));
    }
    absl::StatusOr<std::string> name = StringField(entry, "name", entry_where, true);
    if (!name.ok()) return name.status();
    absl::StatusOr<std::string> dir = StringField(entry, "dir", entry_where, false);
    if (!dir.ok()) return dir.status();
    const std::string kata_dir = dir->empty() ? "katas/" + *name : *dir;
    absl::StatusOr<Kata> kata = LoadKataJson(root, root / kata_dir / "kata.json");
    if (!kata.ok()) return kata.status();
    if (kata->name != *name) {
      return absl::InvalidArgumentError(
          fmt::format("{}/kata.json names the kata \"{}\" but the build declares \"{}\"", kata_dir,
                      kata->name, *name));
    }
    for (auto [key, binaries] :
         {std::pair{"learner", &kata->learner}, std::pair{"solution", &kata->solution}}) {
      if (!entry.contains(key)) continue;
      absl::StatusOr<Binaries> parsed =
          ParseBinaries(entry[key], fmt::format("{}.{}", entry_where, key));
      if (!parsed.ok()) return parsed.status();
      *binaries = *std::move(parsed);
    }
    catalog.katas.push_back(*std::move(kata));
  }
  return catalog;
}

absl::StatusOr<const Kata*> FindKata(const Catalog& catalog, std::string_view query) {
  std::vector<const Kata*> matches;
  int number = 0;
  const bool is_number = absl::SimpleAtoi(absl::string_view(query.data(), query.size()), &number);
  for (const Kata& kata : catalog.katas) {
    const std::string short_id = kata.ShortId();
    const std::size_t underscore = kata.name.find('_');
    const std::string topic =
        underscore == std::string::npos ? kata.name : kata.name.substr(underscore + 1);
    int kata_number = -1;
    const bool numbered = absl::SimpleAtoi(short_id, &kata_number);
    if (kata.name == query || topic == query || short_id == query ||
        (is_number && numbered && number == kata_number)) {
      matches.push_back(&kata);
    }
  }
  if (matches.size() == 1) return matches.front();
  std::string names;
  for (const Kata& kata : catalog.katas) names += (names.empty() ? "" : ", ") + kata.name;
  if (matches.empty()) {
    return absl::NotFoundError(fmt::format("no kata \"{}\"; the katas are: {}", query,
                                           names.empty() ? std::string("(none)") : names));
  }
  std::string found;
  for (const Kata* kata : matches) found += (found.empty() ? "" : ", ") + kata->name;
  return absl::InvalidArgumentError(
      fmt::format("\"{}\" names more than one kata ({}); use the full name", query, found));
}

std::string HeadingAnchor(std::string_view heading) {
  std::string anchor;
  for (std::size_t i = 0; i < heading.size(); ++i) {
    const auto byte = static_cast<unsigned char>(heading[i]);
    if (byte >= 0x80) {
      anchor.push_back(static_cast<char>(byte));  // letters of other scripts stay
    } else if (std::isalnum(byte) || byte == '_' || byte == '-') {
      anchor.push_back(static_cast<char>(std::tolower(byte)));
    } else if (byte == ' ') {
      anchor.push_back('-');
    }
  }
  return anchor;
}

}  // namespace llmk::kata
