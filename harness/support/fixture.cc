#include "llmk/testing/fixture.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/status/status.h"

namespace llmk::testing {
namespace {

using nlohmann::json;

absl::Status Malformed(const std::string& name, const std::string& what) {
  return absl::InvalidArgumentError(fmt::format("fixture {}: {}", name, what));
}

absl::StatusOr<double> Number(const json& value, const std::string& name,
                              const std::string& where) {
  if (!value.is_number()) {
    return Malformed(name, fmt::format("{} must be a number, got {}", where, value.dump()));
  }
  return value.get<double>();
}

absl::StatusOr<llmk::MatrixD> ParseMatrix(const json& value, const std::string& name,
                                          const std::string& key) {
  if (!value.contains("shape") || !value.contains("data")) {
    return Malformed(name, fmt::format("\"{}\" must have \"shape\" and \"data\"", key));
  }
  const json& shape = value["shape"];
  // Bounded so that a huge dimension cannot wrap to a negative Eigen::Index.
  constexpr std::uint64_t kMaxDim = std::numeric_limits<int>::max();
  if (!shape.is_array() || shape.size() != 2 || !shape[0].is_number_unsigned() ||
      !shape[1].is_number_unsigned() || shape[0].get<std::uint64_t>() > kMaxDim ||
      shape[1].get<std::uint64_t>() > kMaxDim) {
    return Malformed(name, fmt::format("\"{}\".shape must be [rows, cols] of "
                                       "integers in [0, {}], got {}",
                                       key, kMaxDim, shape.dump()));
  }
  const auto rows = shape[0].get<Eigen::Index>();
  const auto cols = shape[1].get<Eigen::Index>();
  const json& data = value["data"];
  if (!data.is_array() || static_cast<Eigen::Index>(data.size()) != rows) {
    return Malformed(
        name, fmt::format("\"{}\".data must be a list of {} rows (shape {}), got {}", key, rows,
                          shape.dump(),
                          data.is_array() ? fmt::format("{} rows", data.size()) : "no list"));
  }
  // Every row is checked against the shape before the matrix is allocated, so a shape that
  // claims more than the data holds costs nothing.
  for (Eigen::Index i = 0; i < rows; ++i) {
    const json& row = data[static_cast<size_t>(i)];
    if (!row.is_array() || static_cast<Eigen::Index>(row.size()) != cols) {
      return Malformed(name, fmt::format("\"{}\" row {} must hold {} numbers (shape {}), got {}",
                                         key, i, cols, shape.dump(), row.dump()));
    }
  }
  llmk::MatrixD m(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i) {
    const json& row = data[static_cast<size_t>(i)];
    for (Eigen::Index j = 0; j < cols; ++j) {
      absl::StatusOr<double> x =
          Number(row[static_cast<size_t>(j)], name, fmt::format("\"{}\"[{}][{}]", key, i, j));
      if (!x.ok()) return x.status();
      m(i, j) = *x;
    }
  }
  return m;
}

}  // namespace

absl::StatusOr<Fixture> Fixture::Parse(std::string_view text, std::string name) {
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Malformed(name, "is not valid JSON");
  if (!root.is_object()) return Malformed(name, "top level must be an object");
  Fixture fx;
  fx.name_ = std::move(name);
  if (root.contains("about") && root["about"].is_string()) {
    fx.about_ = root["about"].get<std::string>();
  }
  if (!root.contains("tolerance") || !root["tolerance"].is_object()) {
    return Malformed(fx.name_, "needs a \"tolerance\" object with atol, rtol and why");
  }
  const json& tol = root["tolerance"];
  for (const char* field : {"atol", "rtol"}) {
    if (!tol.contains(field)) {
      return Malformed(fx.name_, fmt::format("tolerance.{} is missing", field));
    }
    absl::StatusOr<double> x = Number(tol[field], fx.name_, fmt::format("tolerance.{}", field));
    if (!x.ok()) return x.status();
    if (!(*x >= 0)) return Malformed(fx.name_, fmt::format("tolerance.{} must be >= 0", field));
  }
  if (!tol.contains("why") || !tol["why"].is_string() || tol["why"].get<std::string>().empty()) {
    return Malformed(fx.name_, "tolerance.why must say where the tolerance comes from");
  }
  fx.tolerance_ = {tol["atol"].get<double>(), tol["rtol"].get<double>()};
  if (!root.contains("values") || !root["values"].is_object()) {
    return Malformed(fx.name_, "needs a \"values\" object");
  }
  for (const auto& [key, value] : root["values"].items()) {
    if (value.is_number()) {
      fx.values_.emplace(key, value.get<double>());
    } else if (value.is_object()) {
      absl::StatusOr<llmk::MatrixD> m = ParseMatrix(value, fx.name_, key);
      if (!m.ok()) return m.status();
      fx.values_.emplace(key, *std::move(m));
    } else {
      return Malformed(fx.name_, fmt::format("value \"{}\" must be a number or a "
                                             "{{shape, data}} matrix, got {}",
                                             key, value.dump()));
    }
  }
  return fx;
}

absl::StatusOr<Fixture> Fixture::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(fmt::format("fixture {}: cannot open the file", path));
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

bool Fixture::Has(std::string_view key) const { return values_.find(key) != values_.end(); }

std::vector<std::string> Fixture::Keys() const {
  std::vector<std::string> keys;
  for (const auto& [key, value] : values_) keys.push_back(key);
  return keys;
}

bool Fixture::IsMatrix(std::string_view key) const {
  auto it = values_.find(key);
  return it != values_.end() && std::holds_alternative<llmk::MatrixD>(it->second);
}

llmk::MatrixD Fixture::MatrixD(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    throw FixtureError(fmt::format("fixture {} has no value \"{}\"", name_, key));
  }
  if (!std::holds_alternative<llmk::MatrixD>(it->second)) {
    throw FixtureError(fmt::format("fixture {}: \"{}\" is a number, not a matrix", name_, key));
  }
  return std::get<llmk::MatrixD>(it->second);
}

llmk::Matrix Fixture::Matrix(std::string_view key) const { return MatrixD(key).cast<float>(); }

double Fixture::Scalar(std::string_view key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    throw FixtureError(fmt::format("fixture {} has no value \"{}\"", name_, key));
  }
  if (!std::holds_alternative<double>(it->second)) {
    throw FixtureError(fmt::format("fixture {}: \"{}\" is a matrix, not a number", name_, key));
  }
  return std::get<double>(it->second);
}

int Fixture::Int(std::string_view key) const {
  const double x = Scalar(key);
  if (x != std::floor(x)) {
    throw FixtureError(fmt::format("fixture {}: \"{}\" = {} is not an integer", name_, key, x));
  }
  // Checked before the cast: converting a double outside int's range is undefined.
  if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max()) {
    throw FixtureError(
        fmt::format("fixture {}: \"{}\" = {} does not fit in an int", name_, key, x));
  }
  return static_cast<int>(x);
}

const Fixture& KataFixture(const std::string& relative_path) {
  static std::mutex mu;
  static std::map<std::string, Fixture> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(relative_path);
  if (it != cache.end()) return it->second;
  absl::StatusOr<Fixture> fx =
      Fixture::FromFile(std::string(LLMK_FIXTURE_DIR) + "/" + relative_path);
  if (!fx.ok()) throw FixtureError(std::string(fx.status().message()));
  return cache.emplace(relative_path, *std::move(fx)).first->second;
}

}  // namespace llmk::testing
