#include "assignment.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/status/status.h"

namespace llmk::kata {
namespace {

using nlohmann::json;

absl::Status Error(std::string_view where, std::string_view field, std::string_view what) {
  if (field.empty()) return absl::InvalidArgumentError(fmt::format("{}: {}", where, what));
  return absl::InvalidArgumentError(fmt::format("{}: {}: {}", where, field, what));
}

// An error if `object` has a key not in `keys`: a typo must not pass unnoticed.
absl::Status CheckKeys(const json& object, std::initializer_list<std::string_view> keys,
                       std::string_view where, std::string_view field) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
    std::string known;
    for (std::string_view k : keys) known += fmt::format("{}{}", known.empty() ? "" : ", ", k);
    const std::string at = field.empty() ? key : fmt::format("{}.{}", field, key);
    return Error(where, at, fmt::format("unknown field (the fields are: {})", known));
  }
  return absl::OkStatus();
}

// A finite number, or an error naming the field and what it got.
absl::StatusOr<double> Number(const json& value, std::string_view where, std::string_view field) {
  if (!value.is_number() || !std::isfinite(value.get<double>())) {
    return Error(where, field, fmt::format("must be a finite number, got {}", value.dump()));
  }
  return value.get<double>();
}

absl::StatusOr<AssignedKata> ParseKata(const json& item, std::string_view where,
                                       const std::string& field, const Catalog& catalog) {
  if (!item.is_object()) {
    return Error(where, field, fmt::format("must be an object, got {}", item.dump()));
  }
  if (absl::Status keys = CheckKeys(
          item, {"kata", "weight", "steps", "time_limit_seconds", "performance"}, where, field);
      !keys.ok()) {
    return keys;
  }
  const auto name = item.find("kata");
  if (name == item.end()) return Error(where, field, "needs a \"kata\" (its name or number)");
  if (!name->is_string()) {
    return Error(where, field + ".kata", fmt::format("must be a string, got {}", name->dump()));
  }
  absl::StatusOr<const Kata*> found = FindKata(catalog, name->get<std::string>());
  if (!found.ok()) return Error(where, field + ".kata", std::string(found.status().message()));
  const Kata& kata = **found;

  AssignedKata assigned;
  assigned.kata = kata.name;
  if (const auto it = item.find("weight"); it != item.end()) {
    absl::StatusOr<double> weight = Number(*it, where, field + ".weight");
    if (!weight.ok()) return weight.status();
    if (*weight < 0) {
      return Error(where, field + ".weight", fmt::format("must not be negative, got {}", *weight));
    }
    assigned.weight = *weight;
  }
  if (const auto it = item.find("steps"); it != item.end()) {
    if (!it->is_array() || it->empty()) {
      return Error(where, field + ".steps",
                   fmt::format("must be a non-empty list of step numbers (leave it out to grade "
                               "every step), got {}",
                               it->dump()));
    }
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& step = (*it)[i];
      const std::string at = fmt::format("{}.steps[{}]", field, i);
      if (!step.is_number_integer()) {
        return Error(where, at, fmt::format("must be a step number, got {}", step.dump()));
      }
      const auto number = step.get<std::int64_t>();
      if (number < 1 || number > 1000 || kata.FindStep(static_cast<int>(number)) == nullptr) {
        std::string steps;
        for (const Step& s : kata.steps)
          steps += fmt::format("{}{}", steps.empty() ? "" : ", ", s.number);
        return Error(
            where, at,
            fmt::format("kata {} has no step {} (its steps: {})", kata.name, number, steps));
      }
      if (std::find(assigned.steps.begin(), assigned.steps.end(), number) != assigned.steps.end()) {
        return Error(where, at, fmt::format("step {} is listed twice", number));
      }
      assigned.steps.push_back(static_cast<int>(number));
    }
    std::sort(assigned.steps.begin(), assigned.steps.end());
  }
  if (const auto it = item.find("time_limit_seconds"); it != item.end()) {
    absl::StatusOr<double> limit = Number(*it, where, field + ".time_limit_seconds");
    if (!limit.ok()) return limit.status();
    if (*limit <= 0) {
      return Error(where, field + ".time_limit_seconds",
                   fmt::format("must be more than 0, got {}", *limit));
    }
    assigned.time_limit_seconds = *limit;
  }
  if (const auto it = item.find("performance"); it != item.end()) {
    if (!it->is_array()) {
      return Error(where, field + ".performance",
                   fmt::format("must be a list of thresholds, got {}", it->dump()));
    }
    if (catalog.has_manifest && !it->empty() && kata.learner.bench_target.empty()) {
      return Error(where, field + ".performance",
                   fmt::format("kata {} has no benchmark", kata.name));
    }
    for (std::size_t i = 0; i < it->size(); ++i) {
      absl::StatusOr<PerformanceThreshold> threshold =
          ParseThreshold((*it)[i], fmt::format("{}: {}.performance[{}]", where, field, i),
                         /*weight_allowed=*/true);
      if (!threshold.ok()) return threshold.status();
      assigned.performance.push_back(*std::move(threshold));
    }
  }
  return assigned;
}

}  // namespace

double Assignment::MaxScore() const {
  double total = 0;
  for (const AssignedKata& kata : katas) {
    total += kata.weight;
    for (const PerformanceThreshold& threshold : kata.performance) total += threshold.weight;
  }
  return total;
}

absl::StatusOr<Assignment> ParseAssignment(std::string_view json_text, std::string_view where,
                                           const Catalog& catalog) {
  const json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Error(where, "", "not valid JSON");
  if (!root.is_object()) return Error(where, "", "must be a JSON object");
  if (absl::Status keys = CheckKeys(root, {"schema", "title", "integrity", "katas"}, where, "");
      !keys.ok()) {
    return keys;
  }
  const auto schema = root.find("schema");
  if (schema == root.end()) return Error(where, "schema", "missing (\"llmk-assignment/1\")");
  if (!schema->is_string() || schema->get<std::string>() != "llmk-assignment/1") {
    return Error(where, "schema",
                 fmt::format("unknown schema {} (expected \"llmk-assignment/1\")", schema->dump()));
  }
  Assignment assignment;
  if (const auto it = root.find("title"); it != root.end()) {
    if (!it->is_string()) {
      return Error(where, "title", fmt::format("must be a string, got {}", it->dump()));
    }
    assignment.title = it->get<std::string>();
  }
  if (const auto it = root.find("integrity"); it != root.end()) {
    if (*it == "fail") {
      assignment.integrity = IntegrityPolicy::kFail;
    } else if (*it != "report") {
      return Error(where, "integrity",
                   fmt::format("must be \"report\" or \"fail\", got {}", it->dump()));
    }
  }
  const auto katas = root.find("katas");
  if (katas == root.end()) return Error(where, "katas", "missing (the list of graded katas)");
  if (!katas->is_array() || katas->empty()) {
    return Error(where, "katas", fmt::format("must be a non-empty list, got {}", katas->dump()));
  }
  for (std::size_t i = 0; i < katas->size(); ++i) {
    const std::string field = fmt::format("katas[{}]", i);
    absl::StatusOr<AssignedKata> kata = ParseKata((*katas)[i], where, field, catalog);
    if (!kata.ok()) return kata.status();
    for (std::size_t j = 0; j < assignment.katas.size(); ++j) {
      if (assignment.katas[j].kata == kata->kata) {
        return Error(where, field + ".kata",
                     fmt::format("kata {} is already listed as katas[{}]", kata->kata, j));
      }
    }
    assignment.katas.push_back(*std::move(kata));
  }
  return assignment;
}

absl::StatusOr<Assignment> LoadAssignment(const std::filesystem::path& file,
                                          const Catalog& catalog) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int error = errno;
    return absl::NotFoundError(
        fmt::format("{}: cannot read it: {}", file.string(), std::strerror(error)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseAssignment(text.str(), file.string(), catalog);
}

}  // namespace llmk::kata
