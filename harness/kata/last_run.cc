#include "last_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "kata_runner.h"

namespace llmk::kata {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path LastRunFile(const fs::path& build_dir, const std::string& kata_name) {
  return build_dir / ".kata" / "last_run" / (kata_name + ".json");
}

struct Record {
  std::map<int, std::string> statuses;  // step number -> status token
  std::string problem;                  // a KataProblem token; empty if none
  std::string problem_detail;
};

// What the file records; empty if nothing readable is.
Record LoadRecord(const fs::path& file) {
  Record out;
  std::ifstream in(file);
  if (!in) return out;
  std::ostringstream text;
  text << in.rdbuf();
  const json record = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!record.is_object() || !record.contains("steps") || !record["steps"].is_array()) {
    return out;
  }
  for (const json& step : record["steps"]) {
    if (step.is_object() && step.contains("number") && step["number"].is_number_integer() &&
        step.contains("status") && step["status"].is_string()) {
      out.statuses[step["number"].get<int>()] = step["status"].get<std::string>();
    }
  }
  if (record.contains("problem") && record["problem"].is_string()) {
    out.problem = record["problem"].get<std::string>();
    if (record.contains("problem_detail") && record["problem_detail"].is_string()) {
      out.problem_detail = record["problem_detail"].get<std::string>();
    }
  }
  return out;
}

std::map<int, std::string> LoadStatuses(const fs::path& file) { return LoadRecord(file).statuses; }

std::optional<StepStatus> StatusOfToken(const std::string& token) {
  constexpr std::array kAll = {
      StepStatus::kPassing, StepStatus::kTodo,     StepStatus::kFailing,
      StepStatus::kCrashed, StepStatus::kTimedOut, StepStatus::kExitedEarly,
      StepStatus::kFlooded, StepStatus::kNoTests,  StepStatus::kNotRun};
  for (StepStatus status : kAll) {
    if (StatusToken(status) == token) return status;
  }
  return std::nullopt;
}

std::optional<KataProblem> ProblemOfToken(const std::string& token) {
  constexpr std::array kAll = {KataProblem::kDoesNotCompile, KataProblem::kNoBinary,
                               KataProblem::kCannotList};
  for (KataProblem problem : kAll) {
    if (ProblemToken(problem) == token) return problem;
  }
  return std::nullopt;
}

// The newest file directly in `dir` (the kata's sources, tests, README), if it is
// newer than `than`: its name.
std::optional<std::string> NewerFile(const fs::path& dir, fs::file_time_type than) {
  std::error_code error;
  std::optional<std::string> newest;
  fs::file_time_type newest_time = than;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    std::error_code file_error;
    if (!it->is_regular_file(file_error)) continue;
    const fs::file_time_type time = it->last_write_time(file_error);
    if (!file_error && time > newest_time) {
      newest_time = time;
      newest = it->path().filename().string();
    }
  }
  return newest;
}

}  // namespace

absl::Status SaveLastRun(const fs::path& build_dir, const KataResult& result) {
  const fs::path file = LastRunFile(build_dir, result.name);
  std::map<int, std::string> statuses = LoadStatuses(file);
  // Steps the kata no longer has are forgotten.
  for (auto it = statuses.begin(); it != statuses.end();) {
    const bool known =
        std::any_of(result.steps.begin(), result.steps.end(),
                    [&](const StepResult& step) { return step.number == it->first; });
    it = known ? std::next(it) : statuses.erase(it);
  }
  for (const StepResult& step : result.steps) {
    if (step.status != StepStatus::kNotRun) {
      statuses[step.number] = std::string(StatusToken(step.status));
    }
  }
  json record = {{"kata", result.name}, {"steps", json::array()}};
  for (const auto& [number, status] : statuses) {
    record["steps"].push_back({{"number", number}, {"status", status}});
  }
  if (result.problem != KataProblem::kNone) {
    record["problem"] = std::string(ProblemToken(result.problem));
    record["problem_detail"] = result.problem_detail;
  }
  std::error_code error;
  fs::create_directories(file.parent_path(), error);
  const fs::path temporary = file.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << record.dump(2) << "\n";
    if (!out) {
      return absl::InternalError(fmt::format("cannot write {}", temporary.string()));
    }
  }
  fs::rename(temporary, file, error);  // atomic: never a half-written record
  if (error) {
    return absl::InternalError(fmt::format("cannot write {}: {}", file.string(), error.message()));
  }
  return absl::OkStatus();
}

std::optional<int> FirstNonPassingStepOfLastRun(const fs::path& build_dir,
                                                const std::string& kata_name) {
  for (const auto& [number, status] : LoadStatuses(LastRunFile(build_dir, kata_name))) {
    if (status != StatusToken(StepStatus::kPassing)) return number;
  }
  return std::nullopt;
}

KataResult LastRunResult(const Kata& kata, const fs::path& root, const fs::path& build_dir) {
  KataResult result = EmptyKataResult(kata, Variant::kLearner);
  const fs::path file = LastRunFile(build_dir, kata.name);
  std::error_code error;
  const fs::file_time_type recorded = fs::last_write_time(file, error);
  if (error) {
    result.note = fmt::format("not run yet ({} steps): ./kata test {} builds and runs it",
                              result.steps.size(), result.short_id);
    return result;
  }
  const Record record = LoadRecord(file);
  for (StepResult& step : result.steps) {
    const auto it = record.statuses.find(step.number);
    if (it == record.statuses.end()) continue;
    step.status = StatusOfToken(it->second).value_or(StepStatus::kNotRun);
  }
  if (const std::optional<KataProblem> problem = ProblemOfToken(record.problem)) {
    result.problem = *problem;
    result.problem_detail = record.problem_detail;
  }
  if (const std::optional<std::string> newer = NewerFile(root / kata.dir, recorded)) {
    result.note = fmt::format("{} changed after this run: ./kata test {} runs it again", *newer,
                              result.short_id);
  }
  return result;
}

}  // namespace llmk::kata
