#include "last_run.h"

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

namespace llmk::kata {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path LastRunFile(const fs::path& build_dir, const std::string& kata_name) {
  return build_dir / ".kata" / "last_run" / (kata_name + ".json");
}

// Step number -> status token, as recorded; empty if nothing readable is.
std::map<int, std::string> LoadStatuses(const fs::path& file) {
  std::map<int, std::string> statuses;
  std::ifstream in(file);
  if (!in) return statuses;
  std::ostringstream text;
  text << in.rdbuf();
  const json record = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!record.is_object() || !record.contains("steps") || !record["steps"].is_array()) {
    return statuses;
  }
  for (const json& step : record["steps"]) {
    if (step.is_object() && step.contains("number") && step["number"].is_number_integer() &&
        step.contains("status") && step["status"].is_string()) {
      statuses[step["number"].get<int>()] = step["status"].get<std::string>();
    }
  }
  return statuses;
}

}  // namespace

absl::Status SaveLastRun(const fs::path& build_dir, const KataResult& result) {
  const fs::path file = LastRunFile(build_dir, result.name);
  std::map<int, std::string> statuses = LoadStatuses(file);
  for (const StepResult& step : result.steps) {
    if (step.status != StepStatus::kNotRun) {
      statuses[step.number] = std::string(StatusToken(step.status));
    }
  }
  json record = {{"kata", result.name}, {"steps", json::array()}};
  for (const auto& [number, status] : statuses) {
    record["steps"].push_back({{"number", number}, {"status", status}});
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

}  // namespace llmk::kata
