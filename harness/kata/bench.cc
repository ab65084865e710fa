#include "bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/status/status.h"
#include "child_process.h"
#include "temp_dir.h"
#include "text_util.h"

namespace llmk::kata {
namespace {

using nlohmann::json;

double ToNanoseconds(double value, const std::string& unit) {
  if (unit == "us") return value * 1e3;
  if (unit == "ms") return value * 1e6;
  if (unit == "s") return value * 1e9;
  return value;  // "ns"
}

const BenchmarkResult* Find(const std::vector<BenchmarkResult>& results, const std::string& name) {
  for (const BenchmarkResult& r : results) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

// Why a benchmark gives no usable number, or empty when it does.
std::string Unusable(const BenchmarkResult* r, const std::string& name) {
  if (r == nullptr) return fmt::format("{} did not run (no such benchmark in the report)", name);
  if (r->error) return fmt::format("{} failed: {}", name, r->error_message);
  return "";
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<double> BenchmarkResult::Counter(std::string_view counter_name) const {
  for (const auto& [key, value] : counters) {
    if (key == counter_name) return value;
  }
  return std::nullopt;
}

absl::StatusOr<PerformanceThreshold> ParseThreshold(const json& item, std::string_view at,
                                                    bool weight_allowed) {
  if (!item.is_object()) {
    return absl::InvalidArgumentError(fmt::format("{}: must be an object", at));
  }
  static const std::vector<std::string> kKeys = {"what",    "benchmark", "baseline", "min_speedup",
                                                 "counter", "min",       "max",      "time"};
  for (const auto& [key, value] : item.items()) {
    const bool known = std::find(kKeys.begin(), kKeys.end(), key) != kKeys.end() ||
                       (weight_allowed && key == "weight");
    if (!known) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: unknown field \"{}\" (fields: what, benchmark, baseline, min_speedup, counter, "
          "min, max, time{})",
          at, key, weight_allowed ? ", weight" : ""));
    }
  }
  auto text = [&](const char* key, bool required) -> absl::StatusOr<std::string> {
    const auto it = item.find(key);
    if (it == item.end()) {
      if (required) return absl::InvalidArgumentError(fmt::format("{} needs a \"{}\"", at, key));
      return std::string();
    }
    if (!it->is_string() || it->get<std::string>().empty()) {
      return absl::InvalidArgumentError(
          fmt::format("{}.{} must be a non-empty string, got {}", at, key, it->dump()));
    }
    return it->get<std::string>();
  };
  auto number = [&](const char* key) -> absl::StatusOr<std::optional<double>> {
    const auto it = item.find(key);
    if (it == item.end()) return std::optional<double>();
    if (!it->is_number() || !std::isfinite(it->get<double>())) {
      return absl::InvalidArgumentError(
          fmt::format("{}.{} must be a finite number, got {}", at, key, it->dump()));
    }
    return std::optional<double>(it->get<double>());
  };
  PerformanceThreshold t;
  absl::StatusOr<std::string> what = text("what", false);
  absl::StatusOr<std::string> benchmark = text("benchmark", true);
  absl::StatusOr<std::string> baseline = text("baseline", false);
  absl::StatusOr<std::string> counter = text("counter", false);
  absl::StatusOr<std::string> time = text("time", false);
  for (const absl::StatusOr<std::string>* field : {&what, &benchmark, &baseline, &counter, &time}) {
    if (!field->ok()) return field->status();
  }
  absl::StatusOr<std::optional<double>> min_speedup = number("min_speedup");
  absl::StatusOr<std::optional<double>> min = number("min");
  absl::StatusOr<std::optional<double>> max = number("max");
  absl::StatusOr<std::optional<double>> weight = number("weight");
  for (const absl::StatusOr<std::optional<double>>* field : {&min_speedup, &min, &max, &weight}) {
    if (!field->ok()) return field->status();
  }
  if (!time->empty() && *time != "real" && *time != "cpu") {
    return absl::InvalidArgumentError(
        fmt::format("{}.time must be \"real\" or \"cpu\", got \"{}\"", at, *time));
  }
  if (weight->has_value() && **weight < 0) {
    return absl::InvalidArgumentError(
        fmt::format("{}.weight must not be negative, got {}", at, **weight));
  }
  t.what = *what;
  t.benchmark = *benchmark;
  t.baseline = *baseline;
  t.counter = *counter;
  t.cpu_time = *time == "cpu";
  t.min_speedup = *min_speedup;
  t.min = *min;
  t.max = *max;
  if (weight->has_value()) t.weight = **weight;
  const bool speedup = !t.baseline.empty() || t.min_speedup.has_value();
  const bool bound = !t.counter.empty() || t.min.has_value() || t.max.has_value();
  const bool complete_speedup = !t.baseline.empty() && t.min_speedup.has_value();
  const bool complete_bound = !t.counter.empty() && (t.min.has_value() || t.max.has_value());
  if (speedup == bound || (speedup && !complete_speedup) || (bound && !complete_bound)) {
    return absl::InvalidArgumentError(
        std::string(at) +
        std::string(" must be either {baseline, min_speedup} or {counter, min and/or max}"));
  }
  return t;
}

absl::StatusOr<std::vector<PerformanceThreshold>> ParsePerformance(std::string_view kata_json,
                                                                   std::string_view where) {
  const json root = json::parse(kata_json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError(fmt::format("{}: not a JSON object", where));
  }
  std::vector<PerformanceThreshold> thresholds;
  if (!root.contains("performance")) return thresholds;
  const json& list = root["performance"];
  if (!list.is_array()) {
    return absl::InvalidArgumentError(fmt::format("{}: \"performance\" must be a list", where));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    absl::StatusOr<PerformanceThreshold> t = ParseThreshold(
        list[i], fmt::format("{}: performance[{}]", where, i), /*weight_allowed=*/false);
    if (!t.ok()) return t.status();
    thresholds.push_back(*std::move(t));
  }
  return thresholds;
}

absl::StatusOr<std::vector<BenchmarkResult>> ParseBenchmarkJson(std::string_view json_text) {
  const json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object() || !root.contains("benchmarks") ||
      !root["benchmarks"].is_array()) {
    return absl::InvalidArgumentError("the benchmark report is not Google Benchmark JSON");
  }
  static const std::vector<std::string> kKnownFields = {"name",
                                                        "family_index",
                                                        "per_family_instance_index",
                                                        "run_name",
                                                        "run_type",
                                                        "repetitions",
                                                        "repetition_index",
                                                        "threads",
                                                        "iterations",
                                                        "real_time",
                                                        "cpu_time",
                                                        "time_unit",
                                                        "error_occurred",
                                                        "error_message",
                                                        "aggregate_name",
                                                        "aggregate_unit",
                                                        "big_o",
                                                        "rms",
                                                        "complexity_n",
                                                        "label"};
  std::vector<BenchmarkResult> results;
  for (const json& b : root["benchmarks"]) {
    if (!b.is_object() || !b.contains("name")) continue;
    // The report comes from a learner's binary: a field of the wrong type is an error
    // (value() and get() throw on one), never an exception out of the harness.
    for (const char* field : {"name", "run_type", "time_unit", "error_message"}) {
      if (b.contains(field) && !b[field].is_string()) {
        return absl::InvalidArgumentError(fmt::format(
            "the benchmark report's \"{}\" must be a string, got {}", field, b[field].dump()));
      }
    }
    for (const char* field : {"real_time", "cpu_time"}) {
      if (b.contains(field) && !b[field].is_number()) {
        return absl::InvalidArgumentError(fmt::format(
            "the benchmark report's \"{}\" must be a number, got {}", field, b[field].dump()));
      }
    }
    // A threshold finds its benchmark by name: a run without one can be nobody's.
    if (b["name"].get_ref<const std::string&>().empty()) {
      return absl::InvalidArgumentError(
          "the benchmark report has a benchmark whose \"name\" is empty");
    }
    if (b.contains("error_occurred") && !b["error_occurred"].is_boolean()) {
      return absl::InvalidArgumentError(
          fmt::format("the benchmark report's \"error_occurred\" must be true or false, got {}",
                      b["error_occurred"].dump()));
    }
    if (b.value("run_type", "iteration") != "iteration") continue;
    BenchmarkResult r;
    r.name = b["name"].get<std::string>();
    const std::string unit = b.value("time_unit", "ns");
    r.real_ns = ToNanoseconds(b.value("real_time", 0.0), unit);
    r.cpu_ns = ToNanoseconds(b.value("cpu_time", 0.0), unit);
    r.error = b.value("error_occurred", false);
    r.error_message = b.value("error_message", "");
    for (const auto& [key, value] : b.items()) {
      if (!value.is_number()) continue;
      if (std::find(kKnownFields.begin(), kKnownFields.end(), key) != kKnownFields.end()) continue;
      r.counters.emplace_back(key, value.get<double>());
    }
    results.push_back(std::move(r));
  }
  return results;
}

std::vector<ThresholdResult> CheckThresholds(const std::vector<PerformanceThreshold>& thresholds,
                                             const std::vector<BenchmarkResult>& results) {
  std::vector<ThresholdResult> out;
  for (const PerformanceThreshold& t : thresholds) {
    ThresholdResult r;
    r.threshold = t;
    const BenchmarkResult* bench = Find(results, t.benchmark);
    std::string problem = Unusable(bench, t.benchmark);
    if (!t.baseline.empty()) {
      const BenchmarkResult* base = Find(results, t.baseline);
      if (problem.empty()) problem = Unusable(base, t.baseline);
      if (problem.empty()) {
        const double time = t.cpu_time ? bench->cpu_ns : bench->real_ns;
        const double base_time = t.cpu_time ? base->cpu_ns : base->real_ns;
        if (time > 0) r.measured = base_time / time;
      }
      if (r.measured) {
        r.passed = *r.measured >= *t.min_speedup;
        r.detail = fmt::format("{:.2f}x (needs >= {:.2f}x)", *r.measured, *t.min_speedup);
      }
    } else if (problem.empty()) {
      r.measured = bench->Counter(t.counter);
      if (!r.measured) problem = fmt::format("{} has no counter \"{}\"", t.benchmark, t.counter);
      if (r.measured) {
        r.passed = (!t.min || *r.measured >= *t.min) && (!t.max || *r.measured <= *t.max);
        std::string bound;
        if (t.min) bound += fmt::format(">= {:.4g}", *t.min);
        if (t.max) bound += fmt::format("{}<= {:.4g}", bound.empty() ? "" : ", ", *t.max);
        r.detail = fmt::format("{} = {:.4g} (needs {})", t.counter, *r.measured, bound);
      }
    }
    if (!problem.empty()) {
      r.passed = false;
      r.detail = problem;
    }
    out.push_back(std::move(r));
  }
  return out;
}

BenchmarkRun BuildAndRunBenchmark(const Kata& kata, Variant variant,
                                  const BenchmarkOptions& options, const BuildFunction& build,
                                  const ProgressFunction& progress) {
  BenchmarkRun run;
  const Binaries& binaries = kata.Of(variant);
  if (binaries.bench_target.empty() || binaries.bench.empty()) {
    run.problem = fmt::format("{} has no benchmark", kata.name);
    return run;
  }
  if (build) {
    if (progress) progress(fmt::format("building {} ...", binaries.bench_target));
    const BuildResult built = build(binaries.bench_target);
    if (!built.ok) {
      run.problem = fmt::format("the benchmark {} does not compile", binaries.bench_target);
      run.problem_output = built.errors;
      return run;
    }
  }
  absl::StatusOr<TempDir> tmp = TempDir::Create("kata-bench");
  if (!tmp.ok()) {
    run.problem = std::string(tmp.status().message());
    return run;
  }
  const std::filesystem::path report = tmp->path() / "bench.json";
  ChildSpec spec;
  spec.argv = {binaries.bench, "--benchmark_out=" + report.string(), "--benchmark_out_format=json"};
  // A BENCHMARK_FILTER in the shell must not change what runs.
  spec.env_drop_prefixes = {"BENCHMARK_"};
  spec.working_dir = std::filesystem::path(binaries.bench).parent_path().string();
  spec.timeout = options.timeout;
  spec.flood_limit_bytes = options.flood_limit_bytes;
  if (options.memory_limit_bytes > 0) spec.address_space_limit_bytes = options.memory_limit_bytes;
  if (progress) {
    progress(fmt::format("running {} (this takes a while) ...", binaries.bench_target));
  }
  const ChildOutcome outcome = RunChild(spec);
  run.output = CleanText(outcome.output);
  if (outcome.end != ChildEnd::kExited || outcome.exit_code != 0) {
    run.problem = fmt::format("the benchmark {} did not finish: {}", binaries.bench_target,
                              DescribeEnd(outcome));
    run.problem_output = LastLines(run.output, 30);
    return run;
  }
  absl::StatusOr<std::vector<BenchmarkResult>> results = ParseBenchmarkJson(ReadAll(report));
  if (!results.ok()) {
    run.problem =
        fmt::format("{}: {}", binaries.bench_target, std::string(results.status().message()));
    return run;
  }
  run.results = *std::move(results);
  return run;
}

}  // namespace llmk::kata
