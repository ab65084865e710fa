#include "worked_checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <numbers>
#include <regex>
#include <sstream>

#include "absl/status/status.h"
#include "markdown_tables.h"

namespace llmk::consistency {
namespace {

constexpr std::string_view kMinus = "\xE2\x88\x92";  // U+2212
constexpr std::string_view kMiddleDot = "\xC2\xB7";  // U+00B7
constexpr std::string_view kTimes = "\xC3\x97";      // U+00D7

std::string NormalizeMinus(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i, kMinus.size()) == kMinus) {
      out += '-';
      i += kMinus.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

bool IsFence(const std::string& line) { return Trim(line).rfind("```", 0) == 0; }

const std::regex& CheckComment() {
  static const std::regex kCheck(R"(^<!--\s*check:\s*(.*?)\s*-->$)");
  return kCheck;
}

// A recursive-descent evaluator over the expression's bytes.
class Parser {
 public:
  Parser(std::string_view text, const FixtureLookup& lookup) : text_(text), lookup_(lookup) {}

  absl::StatusOr<double> Run() {
    const double value = Sum();
    SkipSpace();
    if (error_.empty() && pos_ < text_.size()) {
      Fail(fmt::format("unexpected \"{}\"", text_.substr(pos_)));
    }
    if (!error_.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("expression \"{}\": {}", text_, error_));
    }
    return value;
  }

 private:
  void Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }

  // Consumes `token` (after spaces) if it is next.
  bool Take(std::string_view token) {
    SkipSpace();
    if (text_.substr(pos_, token.size()) != token) return false;
    pos_ += token.size();
    return true;
  }

  double Sum() {
    double value = Product();
    while (error_.empty()) {
      if (Take("+")) {
        value += Product();
      } else if (Take("-") || Take(kMinus)) {
        value -= Product();
      } else {
        break;
      }
    }
    return value;
  }

  double Product() {
    double value = Unary();
    while (error_.empty()) {
      if (Take("*") || Take(kMiddleDot) || Take(kTimes)) {
        value *= Unary();
      } else if (Take("/")) {
        value /= Unary();
      } else {
        break;
      }
    }
    return value;
  }

  double Unary() {
    if (Take("-") || Take(kMinus)) return -Unary();
    if (Take("+")) return Unary();
    const double base = Primary();
    if (Take("^")) return std::pow(base, Unary());
    return base;
  }

  double Primary() {
    SkipSpace();
    if (pos_ >= text_.size()) {
      Fail("ends where a number was expected");
      return 0.0;
    }
    if (Take("(")) {
      const double value = Sum();
      if (!Take(")")) Fail(fmt::format("a \")\" is missing at offset {}", pos_));
      return value;
    }
    const char c = text_[pos_];
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return Number();
    if (std::isalpha(static_cast<unsigned char>(c))) return Name();
    Fail(fmt::format("unexpected \"{}\"", text_.substr(pos_)));
    return 0.0;
  }

  double Number() {
    double value = 0.0;
    const char* begin = text_.data() + pos_;
    const auto [ptr, ec] = std::from_chars(begin, text_.data() + text_.size(), value);
    if (ec != std::errc()) {
      Fail(fmt::format("\"{}\" is not a number", text_.substr(pos_)));
      return 0.0;
    }
    pos_ += static_cast<size_t>(ptr - begin);
    return value;
  }

  std::string Word(std::string_view extra) {
    const size_t begin = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_' ||
            extra.find(text_[pos_]) != std::string_view::npos)) {
      ++pos_;
    }
    return std::string(text_.substr(begin, pos_ - begin));
  }

  int Index() {
    SkipSpace();
    const size_t begin = pos_;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    int value = -1;
    if (pos_ == begin || std::from_chars(text_.data() + begin, text_.data() + pos_, value).ec !=
                             std::errc()) {
      Fail(fmt::format("an index is expected at offset {}", begin));
    }
    return value;
  }

  double Name() {
    const size_t begin = pos_;
    const std::string word = Word(".-");
    if (pos_ < text_.size() && text_[pos_] == '#') {  // file.json#key[i,j]
      ++pos_;
      const std::string key = Word("");
      if (key.empty()) Fail(fmt::format("a fixture key is expected after \"{}#\"", word));
      int row = -1;
      int col = -1;
      if (Take("[")) {
        row = Index();
        if (!Take(",")) Fail("a fixture entry is written [row,col]");
        col = Index();
        if (!Take("]")) Fail("a \"]\" is missing after the fixture entry");
      }
      if (!error_.empty()) return 0.0;
      absl::StatusOr<double> value = lookup_(word, key, row, col);
      if (!value.ok()) {
        Fail(std::string(value.status().message()));
        return 0.0;
      }
      return *value;
    }
    pos_ = begin;
    const std::string name = Word("");
    if (name == "pi") return std::numbers::pi;
    using Fn = double (*)(double);
    static const std::pair<std::string_view, Fn> kOne[] = {
        {"exp", [](double x) { return std::exp(x); }},
        {"log", [](double x) { return std::log(x); }},
        {"sqrt", [](double x) { return std::sqrt(x); }},
        {"tanh", [](double x) { return std::tanh(x); }},
        {"abs", [](double x) { return std::abs(x); }},
        {"ceil", [](double x) { return std::ceil(x); }},
        {"floor", [](double x) { return std::floor(x); }},
        {"round", [](double x) { return std::round(x); }},
        {"f32", [](double x) { return static_cast<double>(static_cast<float>(x)); }},
    };
    for (const auto& [fname, f] : kOne) {
      if (name != fname) continue;
      if (!Take("(")) Fail(fmt::format("\"{}\" needs its argument in parentheses", name));
      const double x = Sum();
      if (!Take(")")) Fail(fmt::format("a \")\" is missing after the argument of {}", name));
      return f(x);
    }
    if (name == "min" || name == "max") {
      if (!Take("(")) Fail(fmt::format("\"{}\" needs its arguments in parentheses", name));
      double value = Sum();
      while (error_.empty() && Take(",")) {
        const double next = Sum();
        value = name == "min" ? std::min(value, next) : std::max(value, next);
      }
      if (!Take(")")) Fail(fmt::format("a \")\" is missing after the arguments of {}", name));
      return value;
    }
    Fail(fmt::format("unknown name \"{}\"", name));
    return 0.0;
  }

  std::string_view text_;
  const FixtureLookup& lookup_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

std::vector<WorkedCheck> ReadWorkedChecks(std::string_view markdown) {
  const std::vector<std::string> lines = Lines(markdown);
  // For each closing fence, the line of its opening fence.
  std::vector<int> opened_at(lines.size(), -1);
  std::vector<bool> in_code(lines.size(), false);
  int open = -1;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (IsFence(lines[i])) {
      if (open < 0) {
        open = static_cast<int>(i);
      } else {
        opened_at[i] = open;
        open = -1;
      }
      in_code[i] = true;
      continue;
    }
    in_code[i] = open >= 0;
  }

  std::vector<WorkedCheck> checks;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (in_code[i]) continue;
    const std::string t = Trim(lines[i]);
    if (t.rfind("<!--", 0) != 0 || t.find("check:") == std::string::npos) continue;
    WorkedCheck check;
    check.line = static_cast<int>(i + 1);
    std::smatch m;
    if (std::regex_match(t, m, CheckComment())) {
      const std::string body = m[1];
      const auto eq = body.find('=');
      if (eq != std::string::npos) {
        check.printed = NormalizeMinus(Trim(std::string_view(body).substr(0, eq)));
        check.expression = Trim(std::string_view(body).substr(eq + 1));
      }
    }
    // The block before: skip blank lines and other check comments.
    int j = static_cast<int>(i) - 1;
    while (j >= 0) {
      const std::string s = Trim(lines[static_cast<size_t>(j)]);
      if (!s.empty() && !std::regex_match(s, CheckComment())) break;
      --j;
    }
    if (j >= 0) {
      int first = j;
      if (opened_at[static_cast<size_t>(j)] >= 0) {
        first = opened_at[static_cast<size_t>(j)];
      } else {
        while (first > 0 && !Trim(lines[static_cast<size_t>(first - 1)]).empty() &&
               !IsFence(lines[static_cast<size_t>(first - 1)])) {
          --first;
        }
      }
      for (int k = first; k <= j; ++k) check.block += lines[static_cast<size_t>(k)] + "\n";
    }
    checks.push_back(std::move(check));
  }
  return checks;
}

absl::StatusOr<double> EvaluateExpression(std::string_view expression,
                                          const FixtureLookup& lookup) {
  return Parser(expression, lookup).Run();
}

bool ContainsNumber(std::string_view text, std::string_view number) {
  if (number.empty()) return false;
  const std::string haystack = NormalizeMinus(text);
  const std::string needle = NormalizeMinus(number);
  const auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    const size_t end = at + needle.size();
    const char before = at > 0 ? haystack[at - 1] : ' ';
    // A '-' glued to the number makes it another (negative) number.
    if (digit(before) || before == '.' || (before == '-' && needle.front() != '-')) continue;
    if (end < haystack.size()) {
      const char after = haystack[end];
      if (digit(after)) continue;
      if (after == '.' && end + 1 < haystack.size() && digit(haystack[end + 1])) continue;
    }
    return true;
  }
  return false;
}

std::vector<std::string> VerifyWorkedChecks(std::string_view markdown, const FixtureLookup& lookup,
                                            int* checked) {
  std::vector<std::string> problems;
  int held = 0;
  for (const WorkedCheck& check : ReadWorkedChecks(markdown)) {
    const std::string where = fmt::format("README.md line {}", check.line);
    const std::optional<TableNumber> printed = ParseTableNumber(check.printed);
    if (check.expression.empty() || !printed) {
      problems.push_back(fmt::format(
          "{}: a check comment must read <!-- check: NUMBER = EXPRESSION -->", where));
      continue;
    }
    if (!ContainsNumber(check.block, check.printed)) {
      problems.push_back(fmt::format("{}: {} is not printed in the block just before the check",
                                     where, check.printed));
      continue;
    }
    const absl::StatusOr<double> value = EvaluateExpression(check.expression, lookup);
    if (!value.ok()) {
      problems.push_back(fmt::format("{}: {}", where, std::string(value.status().message())));
      continue;
    }
    // The README prints rounded values: half a unit of the last printed digit.
    const double allowed = 0.5 * std::pow(10.0, -printed->decimals) * (1 + 1e-9);
    if (!(std::abs(printed->value - *value) <= allowed)) {
      problems.push_back(fmt::format("{}: the README prints {}, but {} = {:.17g}", where,
                                     check.printed, check.expression, *value));
      continue;
    }
    ++held;
  }
  if (checked != nullptr) *checked = held;
  return problems;
}

std::vector<std::pair<int, std::string>> LongNumbers(std::string_view markdown, int digits) {
  static const std::regex kNumber(R"(\d+\.\d+)");
  std::vector<std::pair<int, std::string>> found;
  const std::vector<std::string> lines = Lines(markdown);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (std::regex_match(Trim(lines[i]), CheckComment())) continue;
    for (std::sregex_iterator it(lines[i].begin(), lines[i].end(), kNumber), end; it != end;
         ++it) {
      const std::string number = it->str();
      const auto first = number.find_first_not_of("0.");
      if (first == std::string::npos) continue;
      const auto significant = std::count_if(number.begin() + static_cast<long>(first),
                                             number.end(), [](char c) { return c != '.'; });
      if (significant >= digits) found.emplace_back(static_cast<int>(i + 1), number);
    }
  }
  return found;
}

}  // namespace llmk::consistency
