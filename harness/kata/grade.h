// Builds and runs katas, one after the other, each isolated from the others: a
// kata that does not compile or whose binary misbehaves is reported, and the
// grade goes on with the next.
//
//   GradeReport report = GradeKatas(katas, Variant::kLearner, options,
//                                   CmakeBuilder(build_dir, 2), PrintProgress);
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "builder.h"
#include "catalog.h"
#include "kata_runner.h"
#include "results.h"

namespace llmk::kata {

// Receives a line of progress ("building 02_attention_test ...").
using ProgressFunction = std::function<void(std::string_view line)>;

// Builds the kata's test target for `variant` (unless `build` is empty), then
// runs it. A failed build is reported as kDoesNotCompile with the first lines of
// the errors.
KataResult BuildAndRunKata(const Kata& kata, Variant variant, const RunOptions& options,
                           const BuildFunction& build, const ProgressFunction& progress);

// BuildAndRunKata for every kata, in order.
GradeReport GradeKatas(const std::vector<Kata>& katas, Variant variant, const RunOptions& options,
                       const BuildFunction& build, const ProgressFunction& progress);

}  // namespace llmk::kata
