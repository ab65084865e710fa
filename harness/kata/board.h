// The text a learner reads: the board (every kata, every step's status, the
// score, what to do next) and, for `kata test`, the details of one step.
//
//   fmt::print("{}", RenderBoard(report, Style::For(stdout)));
//
//   02_attention  Q, K, V: scaled dot-product attention                 3/8
//     passing       Step 1  Project X into Q, K and V
//     todo          Step 4  Stable row softmax
//     crashed       Step 5  Weighted sum of V: crashed in Step 5 (SIGSEGV)
//   ...
//   Score: 3/8 steps passing
//
// With an assignment, performance thresholds or digests (`kata grade`):
//
//     weight 4, earned 1.5 (3 of 8 assigned steps pass)
//     met          41.10x (needs >= 1.50x): causal at least 1.5x faster
//     changed      katas/02_attention/attention_test.cc
//   Score: 7.5/10 (assignment Week 2: attention)
//
//   Next: 02_attention, step 4: Stable row softmax (todo)
//     run   ./kata test 02
//     read  katas/02_attention/README.md#step-4-stable-row-softmax
#pragma once

#include <string>

#include "results.h"
#include "style.h"

namespace llmk::kata {

// One kata: its header line, then one line per step (only the steps that were
// run if `only_run_steps`), then its problem and the evidence, if any.
std::string RenderKata(const KataResult& kata, const Style& style, bool only_run_steps);

// "Score: 3/16 steps passing".
std::string RenderScore(int passing, int total, const Style& style);

// What to do next: the first step that does not pass, the command to run and
// the README section to read; or a well done.
std::string RenderNext(const GradeReport& report, const Style& style);

// Points for people: 7.5 -> "7.5", 10 -> "10", 2/3 -> "0.67".
std::string FormatPoints(double points);

// What a grade adds under a kata's steps: its weight and what it earned (with
// an assignment), each performance threshold ("met      41.10x (needs >=
// 1.50x): ...") and each changed or missing published file.
std::string RenderKataGrade(const KataResult& kata, const GradeReport& report, const Style& style);

// Every kata, the score and what to do next. With an assignment the score line
// is "Score: 7.5/10 (assignment Week 2: attention)".
std::string RenderBoard(const GradeReport& report, const Style& style);

// For one step of `kata test`: its status, the tests that did not pass with
// their failure messages as GoogleTest printed them (cut to a sane length), or
// what the binary did instead of finishing, then the README section and the
// hint command.
std::string RenderStepDetails(const KataResult& kata, const StepResult& step, const Style& style);

}  // namespace llmk::kata
