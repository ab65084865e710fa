// Reading kata.json and the build manifest; naming a kata.
#include "catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_repo.h"

namespace llmk::kata {
namespace {

using ::testing::HasSubstr;

TEST(ParseKataJson, ReadsStepsInOrder) {
  absl::StatusOr<Kata> kata = ParseKataJson(R"({"name": "02_attention", "title": "Attention",
      "timeout_seconds": 20, "steps": [
        {"number": 2, "suite": "Step2_Scores", "title": "Scores", "anchor": "s2"},
        {"number": 1, "suite": "Step1_Projection", "title": "Project X", "functions": ["Project"]}]})",
                                            "kata.json");
  ASSERT_TRUE(kata.ok()) << kata.status();
  EXPECT_EQ(kata->timeout_seconds, 20);
  ASSERT_EQ(kata->steps.size(), 2u);
  EXPECT_EQ(kata->steps[0].suite, "Step1_Projection");
  EXPECT_EQ(kata->steps[0].anchor, "step-1-project-x");  // derived from the heading
  EXPECT_EQ(kata->steps[0].functions, std::vector<std::string>{"Project"});
  EXPECT_EQ(kata->ReadmeLink(kata->steps[1]), "katas/02_attention/README.md#s2");
  EXPECT_EQ(kata->ShortId(), "02");
}

TEST(ParseKataJson, ExplainsWhatIsWrong) {
  EXPECT_THAT(ParseKataJson("{", "k.json").status().message(), HasSubstr("k.json: not a JSON"));
  EXPECT_THAT(ParseKataJson(R"({"name": "x", "steps": []})", "k.json").status().message(),
              HasSubstr("\"steps\" must be a non-empty array"));
  EXPECT_THAT(
      ParseKataJson(R"({"name": "x", "steps": [{"number": 1}]})", "k.json").status().message(),
      HasSubstr("k.json: steps[0]: \"suite\" is missing"));
  EXPECT_THAT(ParseKataJson(R"({"name": "x", "steps": [{"number": 1, "suite": "A"},
                                                       {"number": 1, "suite": "B"}]})",
                            "k.json")
                  .status()
                  .message(),
              HasSubstr("repeats step 1"));
}

TEST(FindKata, AcceptsNumberFullNameAndTopic) {
  testing::FakeRepo repo;
  repo.AddKata("02_attention", "/bin/true");
  repo.AddKata("03_rope", "/bin/true");
  const Catalog catalog = repo.Load();
  for (const char* query : {"02", "2", "02_attention", "attention"}) {
    absl::StatusOr<const Kata*> kata = FindKata(catalog, query);
    ASSERT_TRUE(kata.ok()) << query;
    EXPECT_EQ((*kata)->name, "02_attention");
  }
  EXPECT_EQ(std::string(FindKata(catalog, "softmax").status().message()),
            "no kata \"softmax\"; the katas are: 02_attention, 03_rope");
}

TEST(LoadCatalog, ExplainsAMissingManifest) {
  testing::FakeRepo repo;
  repo.AddKata("02_attention", "/bin/true");
  absl::StatusOr<Catalog> catalog =
      LoadCatalog(repo.root(), repo.build_dir(), /*require_manifest=*/true);
  EXPECT_THAT(catalog.status().message(), HasSubstr("katas.json does not exist"));
  catalog = LoadCatalog(repo.root(), repo.build_dir(), /*require_manifest=*/false);
  ASSERT_TRUE(catalog.ok());
  ASSERT_EQ(catalog->katas.size(), 1u);
  EXPECT_TRUE(catalog->katas[0].learner.binary.empty());
}

TEST(LoadCatalog, ReadsBinariesFromTheManifest) {
  testing::FakeRepo repo;
  repo.AddKata("02_attention", "/bin/true");
  const Catalog catalog = repo.Load();
  ASSERT_EQ(catalog.katas.size(), 1u);
  EXPECT_EQ(catalog.katas[0].learner.target, "02_attention_test");
  EXPECT_EQ(catalog.katas[0].solution.target, "02_attention_solution_test");
  EXPECT_EQ(catalog.katas[0].learner.binary, "/bin/true");
  EXPECT_EQ(catalog.katas[0].dir, "katas/02_attention");
}

TEST(HeadingAnchor, FollowsGithubForAscii) {
  EXPECT_EQ(HeadingAnchor("Step 4: Stable row softmax"), "step-4-stable-row-softmax");
  EXPECT_EQ(HeadingAnchor("Step 1: Project X into Q, K and V"), "step-1-project-x-into-q-k-and-v");
}

}  // namespace
}  // namespace llmk::kata
