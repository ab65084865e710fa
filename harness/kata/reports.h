// The grade report in the formats `kata grade --format` offers. Each format is
// documented in harness/README.md; JSON and JUnit XML are always well-formed
// whatever bytes a test binary printed (invalid UTF-8 and control characters
// are replaced, XML and JSON special characters escaped).
//
//   std::string xml = JunitReport(report);
#pragma once

#include <string>

#include "results.h"

namespace llmk::kata {

// {"schema": "llmk-kata-grade/1", "variant": ..., "passed": ..., "score": ...,
//  "katas": [...]}; see harness/README.md.
std::string JsonReport(const GradeReport& report);

// JUnit XML: one <testsuite> per step ("02_attention.Step4_Softmax"), one
// <testcase> per test; todo and failing tests are <failure>s, a crash, hang,
// early exit or flood is an <error>, a kata that does not build is an <error>.
std::string JunitReport(const GradeReport& report);

// A markdown summary (for a CI job summary): the score, a table of every step,
// then the details of every step that does not pass.
std::string MarkdownReport(const GradeReport& report);

// One self-contained HTML page (no network, no scripts needed to read it): the
// score, the board with a progress bar per step, each performance result as a
// bar against its threshold, and any changed test or fixture.
std::string HtmlReport(const GradeReport& report);

// The outcome names the reports use: "passed", "todo", "failed", "skipped",
// "not_run".
std::string_view OutcomeToken(TestOutcome outcome);

// Escapes text for XML content and attribute values.
std::string XmlEscape(std::string_view text);

}  // namespace llmk::kata
