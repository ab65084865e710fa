#include "bench.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

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

}  // namespace

std::optional<double> BenchmarkResult::Counter(std::string_view counter_name) const {
  for (const auto& [key, value] : counters) {
    if (key == counter_name) return value;
  }
  return std::nullopt;
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
    const json& item = list[i];
    const std::string at = fmt::format("{}: performance[{}]", where, i);
    if (!item.is_object() || !item.contains("benchmark") || !item["benchmark"].is_string()) {
      return absl::InvalidArgumentError(at + " needs a \"benchmark\" name");
    }
    PerformanceThreshold t;
    t.what = item.value("what", "");
    t.benchmark = item["benchmark"].get<std::string>();
    t.baseline = item.value("baseline", "");
    t.counter = item.value("counter", "");
    t.cpu_time = item.value("time", "real") == "cpu";
    auto number = [&](const char* key) -> std::optional<double> {
      if (item.contains(key) && item[key].is_number()) return item[key].get<double>();
      return std::nullopt;
    };
    t.min_speedup = number("min_speedup");
    t.min = number("min");
    t.max = number("max");
    const bool speedup = !t.baseline.empty() && t.min_speedup.has_value();
    const bool counter = !t.counter.empty() && (t.min.has_value() || t.max.has_value());
    if (speedup == counter) {
      return absl::InvalidArgumentError(
          at + " must be either {baseline, min_speedup} or {counter, min and/or max}");
    }
    thresholds.push_back(std::move(t));
  }
  return thresholds;
}

absl::StatusOr<std::vector<BenchmarkResult>> ParseBenchmarkJson(std::string_view json_text) {
  const json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object() || !root.contains("benchmarks") ||
      !root["benchmarks"].is_array()) {
    return absl::InvalidArgumentError("the benchmark report is not Google Benchmark JSON");
  }
  static const std::vector<std::string> kKnownFields = {
      "name",       "family_index", "per_family_instance_index", "run_name", "run_type",
      "repetitions", "repetition_index", "threads", "iterations", "real_time", "cpu_time",
      "time_unit", "error_occurred", "error_message", "aggregate_name", "aggregate_unit",
      "big_o", "rms", "complexity_n", "label"};
  std::vector<BenchmarkResult> results;
  for (const json& b : root["benchmarks"]) {
    if (!b.is_object() || !b.contains("name")) continue;
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

}  // namespace llmk::kata
