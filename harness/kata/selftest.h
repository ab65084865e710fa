// The repository's check of its own tests: against the solutions every test
// passes, against the stubs every test fails (a test that passes on a stub
// asserts nothing about the learner's code), every test belongs to a step and
// every step has tests; then the other CTest tests (consistency, recompute,
// harness) pass.
//
//   SelftestTally tally = RunSelftest(catalog, options, print);
//   fmt::print("selftest: {} passed, {} failed\n", tally.Passed(), tally.Failed());
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "catalog.h"
#include "grade.h"
#include "kata_runner.h"
#include "results.h"

namespace llmk::kata {

struct SelftestTally {
  int solution_passed = 0;   // solution tests that passed
  int solution_failed = 0;   // solution tests that did not
  int stub_failed = 0;       // stub tests that failed, as they must
  int stub_passed = 0;       // stub tests that passed (or were skipped): rule broken
  int structure_failed = 0;  // builds, listings, steps without tests, tests in no step
  int ctest_passed = 0;
  int ctest_failed = 0;
  // One line per broken rule: "02_attention: passes on the stub: Step4_Softmax.RowsSumToOne".
  std::vector<std::string> problems;
  // Things worth knowing that break no rule (a stub that crashes instead of
  // throwing NotImplemented).
  std::vector<std::string> notes;

  int Passed() const { return solution_passed + stub_failed + ctest_passed; }
  int Failed() const { return solution_failed + stub_passed + structure_failed + ctest_failed; }
};

// Checks one kata's two runs against the rule and adds to `tally`.
void CheckKataRule(const KataResult& solution, const KataResult& learner, SelftestTally& tally);

// The counts of a CTest run, from its "N% tests passed, F tests failed out of T"
// line ("No tests were found" is 0 of 0). found = false if neither is there.
struct CtestSummary {
  bool found = false;
  int passed = 0;
  int failed = 0;
};
CtestSummary ParseCtestSummary(std::string_view output);

struct SelftestOptions {
  RunOptions run;
  int jobs = 2;
};

// Builds everything, checks every kata, runs `ctest -LE "learner|solution"`.
SelftestTally RunSelftest(const Catalog& catalog, const SelftestOptions& options,
                          const ProgressFunction& print);

}  // namespace llmk::kata
