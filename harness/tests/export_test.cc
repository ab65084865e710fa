// `kata export`: a learner's copy holds no solutions/, only the asked-for katas,
// and never writes over a folder that has something in it.
#include "export.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "fake_repo.h"
#include "integrity.h"
#include "verbs.h"

namespace llmk::kata {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadText(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every path under `dir`, relative to it.
std::set<std::string> Tree(const fs::path& dir) {
  std::set<std::string> paths;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    paths.insert(fs::relative(entry.path(), dir).generic_string());
  }
  return paths;
}

// A small repository: two katas with solutions, fixtures and recompute
// scripts, the shared library, a launcher, build folders and .git.
class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string name : {"02_attention", "04_causal_mask"}) {
      repo_.AddKata(name, "/bin/true");
      repo_.WriteFile("katas/" + name + "/" + name + "_test.cc", "TEST(" + name + ", T) {}\n");
      repo_.WriteFile("katas/" + name + "/topic.cc", "// stub of " + name + "\n");
      repo_.WriteFile("katas/" + name + "/README.md", "# " + name + "\n");
      repo_.WriteFile("solutions/" + name + "/topic.cc", "// solution of " + name + "\n");
      repo_.WriteFile("fixtures/" + name + "/values.json", "{\"" + name + "\": 1}\n");
      repo_.WriteFile("tools/recompute/" + name + ".py", "print('" + name + "')\n");
    }
    repo_.WriteFile("katas/02_attention/build/stale.o", "object");  // a learner's build
    repo_.WriteFile("CMakeLists.txt", "project(x)\n");
    repo_.WriteFile("README.md", "# Katas\n\nsolutions/ holds the answers.\n");
    repo_.WriteFile("cmake/llmk.cmake", "# llmk_kata\n");
    repo_.WriteFile("harness/include/llmk/testing/tolerance.h", "#pragma once\n");
    repo_.WriteFile("harness/support/tolerance.cc", "int x;\n");
    repo_.WriteFile("reference/oracle.cc", "int y;\n");
    repo_.WriteFile("tools/selftest/grade_copies.sh", "#!/bin/sh\n");
    repo_.WriteFile("kata", "#!/bin/sh\necho kata\n");
    fs::permissions(repo_.root() / "kata",
                    fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                    fs::perm_options::add);
    repo_.WriteFile(".git/HEAD", "ref: refs/heads/main\n");
    repo_.WriteFile("build-ci/CMakeCache.txt", "x\n");
    repo_.WriteFile("docs/assignments/week.json", "{}\n");
    repo_.WriteFile("notes-for-instructors.md", "answers\n");
    repo_.Load();
  }

  fs::path Destination() const { return out_.root() / "copy"; }

  ExportSummary MustExport(const ExportRequest& request) {
    absl::StatusOr<ExportSummary> summary = ExportCopy(request);
    EXPECT_TRUE(summary.ok()) << summary.status();
    return summary.ok() ? *summary : ExportSummary{};
  }

  ExportRequest Request() const {
    ExportRequest request;
    request.root = repo_.root();
    request.dir = Destination();
    return request;
  }

  testing::FakeRepo repo_;
  testing::FakeRepo out_;  // just a fresh folder for the copies
};

TEST_F(ExportTest, HoldsNoSolutionsAndNoBuilds) {
  const ExportSummary summary = MustExport(Request());
  EXPECT_THAT(summary.katas, ElementsAre("02_attention", "04_causal_mask"));
  const std::set<std::string> tree = Tree(Destination());
  for (const std::string& path : tree) {
    EXPECT_FALSE(path.starts_with("solutions")) << path;
    EXPECT_FALSE(path.starts_with("build")) << path;
    EXPECT_FALSE(path.starts_with(".git")) << path;
    EXPECT_FALSE(path.starts_with("docs")) << path;
    EXPECT_THAT(path, Not(HasSubstr("/build"))) << path;
  }
  for (const char* path :
       {"CMakeLists.txt", "cmake/llmk.cmake", "kata", "reference/oracle.cc",
        "harness/support/tolerance.cc", "katas/02_attention/topic.cc",
        "katas/04_causal_mask/04_causal_mask_test.cc", "fixtures/02_attention/values.json",
        "tools/recompute/04_causal_mask.py", "tests.sha256"}) {
    EXPECT_TRUE(tree.contains(path)) << path;
  }
  EXPECT_FALSE(tree.contains("notes-for-instructors.md"));
  EXPECT_FALSE(tree.contains("tools/selftest"));
  EXPECT_FALSE(tree.contains("assignment.json"));
  EXPECT_EQ(ReadText(Destination() / "katas/02_attention/topic.cc"), "// stub of 02_attention\n");
  // The launcher stays executable.
  EXPECT_NE(fs::status(Destination() / "kata").permissions() & fs::perms::owner_exec,
            fs::perms::none);
  EXPECT_EQ(summary.files, 20u);
}

TEST_F(ExportTest, ListsThePublishedFilesOfTheCopy) {
  const ExportSummary summary = MustExport(Request());
  absl::StatusOr<Digests> digests = LoadDigests(Destination() / "tests.sha256");
  ASSERT_TRUE(digests.ok()) << digests.status();
  std::vector<std::string> paths;
  for (const auto& [path, digest] : digests->entries) paths.push_back(path);
  EXPECT_THAT(
      paths,
      ElementsAre("fixtures/02_attention/values.json", "fixtures/04_causal_mask/values.json",
                  "harness/include/llmk/testing/tolerance.h", "harness/support/tolerance.cc",
                  "katas/02_attention/02_attention_test.cc", "katas/02_attention/kata.json",
                  "katas/04_causal_mask/04_causal_mask_test.cc", "katas/04_causal_mask/kata.json"));
  EXPECT_EQ(summary.published, 8u);
  EXPECT_EQ(*digests->Find("fixtures/02_attention/values.json"),
            Sha256Hex("{\"02_attention\": 1}\n").value());
}

TEST_F(ExportTest, PutsAHandoutNoteUnderTheTitle) {
  MustExport(Request());
  const std::string readme = ReadText(Destination() / "README.md");
  EXPECT_TRUE(readme.starts_with("# Katas\n\n> **This is a learner's copy**")) << readme;
  EXPECT_THAT(readme, HasSubstr("sha256sum -c tests.sha256"));
  EXPECT_THAT(readme, HasSubstr("\n\nsolutions/ holds the answers.\n"));
}

TEST_F(ExportTest, WithKatasTakesOnlyThoseAndTheAssignment) {
  ExportRequest request = Request();
  request.katas = {"04_causal_mask"};
  request.assignment_json = R"({"schema": "llmk-assignment/1", "katas": [{"kata": "04"}]})";
  request.assignment_title = "Week 1";
  const ExportSummary summary = MustExport(request);
  EXPECT_THAT(summary.katas, ElementsAre("04_causal_mask"));
  const std::set<std::string> tree = Tree(Destination());
  for (const std::string& path : tree) {
    EXPECT_THAT(path, Not(HasSubstr("02_attention"))) << path;
  }
  EXPECT_TRUE(tree.contains("katas/04_causal_mask/topic.cc"));
  EXPECT_TRUE(tree.contains("tools/recompute/04_causal_mask.py"));
  EXPECT_EQ(ReadText(Destination() / "assignment.json"), request.assignment_json);
  absl::StatusOr<Digests> digests = LoadDigests(Destination() / "tests.sha256");
  ASSERT_TRUE(digests.ok()) << digests.status();
  EXPECT_EQ(digests->entries.size(), 5u);  // 3 of the kata, 2 shared
  EXPECT_THAT(ReadText(Destination() / "README.md"),
              HasSubstr("The assignment \"Week 1\" is `assignment.json`; its katas: "
                        "`04_causal_mask`."));
}

// reference/ may include a provided header of a kata; the copy takes that file
// alone when the kata is not exported.
TEST_F(ExportTest, TakesTheKataFilesThatReferenceIncludes) {
  repo_.WriteFile("reference/oracle.cc", "#include \"../katas/02_attention/classes.h\"\n");
  repo_.WriteFile("katas/02_attention/classes.h", "#pragma once\n");
  ExportRequest request = Request();
  request.katas = {"04_causal_mask"};
  MustExport(request);
  std::set<std::string> of_02;
  for (const std::string& path : Tree(Destination())) {
    if (path.find("02_attention") != std::string::npos) of_02.insert(path);
  }
  EXPECT_THAT(of_02, ElementsAre("katas/02_attention", "katas/02_attention/classes.h"));
}

TEST_F(ExportTest, RefusesANonEmptyFolderAndWritesNothing) {
  fs::create_directories(Destination());
  std::ofstream(Destination() / "my_work.cc") << "// a learner's work\n";
  absl::StatusOr<ExportSummary> summary = ExportCopy(Request());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(summary.status().message(), HasSubstr(Destination().string() + " is not empty"));
  EXPECT_THAT(Tree(Destination()), ElementsAre("my_work.cc"));
  EXPECT_EQ(ReadText(Destination() / "my_work.cc"), "// a learner's work\n");
  EXPECT_THAT(Tree(out_.root()), ElementsAre("build", "copy", "copy/my_work.cc"));
}

TEST_F(ExportTest, RefusesAFileInTheWay) {
  std::ofstream(Destination()) << "x";
  absl::StatusOr<ExportSummary> summary = ExportCopy(Request());
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(summary.status().message(), HasSubstr("is not a folder"));
  EXPECT_EQ(ReadText(Destination()), "x");
}

TEST_F(ExportTest, FillsAnEmptyFolder) {
  fs::create_directories(Destination());
  ExportRequest request = Request();
  request.dir = Destination().string() + "/";
  MustExport(request);
  EXPECT_TRUE(fs::exists(Destination() / "katas/02_attention/kata.json"));
  // Nothing is left beside it.
  EXPECT_EQ(std::distance(fs::directory_iterator(out_.root()), fs::directory_iterator()), 2);
}

TEST_F(ExportTest, RefusesAnUnknownKataAndWritesNothing) {
  ExportRequest request = Request();
  request.katas = {"02_attention", "07_kv_cache"};
  absl::StatusOr<ExportSummary> summary = ExportCopy(request);
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(summary.status().message(), HasSubstr("there is no kata 07_kv_cache"));
  EXPECT_FALSE(fs::exists(Destination()));
}

TEST_F(ExportTest, RefusesARootWithoutKatas) {
  ExportRequest request = Request();
  request.root = out_.root();
  absl::StatusOr<ExportSummary> summary = ExportCopy(request);
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(summary.status().message(), HasSubstr("--root must name the repository"));
  EXPECT_FALSE(fs::exists(Destination()));
}

// The verbs, through the same Context the command line builds.
class ExportVerbTest : public ExportTest {
 protected:
  void SetUp() override {
    ExportTest::SetUp();
    ctx_.root = repo_.root();
    ctx_.build_dir = repo_.build_dir();
    ctx_.out = out_file_;
    ctx_.err = err_file_;
  }
  void TearDown() override {
    std::fclose(out_file_);
    std::fclose(err_file_);
  }
  static std::string Read(std::FILE* file) { return testing::ReadAll(file); }

  std::FILE* out_file_ = std::tmpfile();
  std::FILE* err_file_ = std::tmpfile();
  Context ctx_;
};

TEST_F(ExportVerbTest, ExportsTheKatasOfAnAssignment) {
  const std::string assignment = R"({"schema": "llmk-assignment/1", "title": "Masks",
      "katas": [{"kata": "04", "weight": 2}]})";
  repo_.WriteFile("week.json", assignment);
  EXPECT_EQ(ExportVerb(ctx_, Destination().string(), (repo_.root() / "week.json").string()),
            kExitOk)
      << Read(err_file_);
  EXPECT_THAT(Read(out_file_), HasSubstr("Exported 1 katas (04_causal_mask)"));
  EXPECT_TRUE(fs::exists(Destination() / "katas/04_causal_mask/kata.json"));
  EXPECT_FALSE(fs::exists(Destination() / "katas/02_attention"));
  EXPECT_EQ(ReadText(Destination() / "assignment.json"), assignment);
}

TEST_F(ExportVerbTest, ABadAssignmentWritesNothing) {
  repo_.WriteFile("week.json", R"({"schema": "llmk-assignment/1", "katas": [{"kata": "99"}]})");
  EXPECT_EQ(ExportVerb(ctx_, Destination().string(), (repo_.root() / "week.json").string()),
            kExitNotPassing);
  EXPECT_THAT(Read(err_file_), HasSubstr("week.json"));
  EXPECT_FALSE(fs::exists(Destination()));
}

TEST_F(ExportVerbTest, DigestsCheckNamesEachStaleFileAndTheCommand) {
  EXPECT_EQ(DigestsVerb(ctx_, (repo_.root() / "tests.sha256").string(), false, ""), kExitOk);
  EXPECT_EQ(DigestsVerb(ctx_, "", true, ""), kExitOk);
  EXPECT_THAT(Read(out_file_), HasSubstr("lists the 8 published files as they are"));
  repo_.WriteFile("fixtures/04_causal_mask/values.json", "{}\n");
  repo_.WriteFile("katas/02_attention/more_test.cc", "TEST(A, B) {}\n");
  EXPECT_EQ(DigestsVerb(ctx_, "", true, ""), kExitNotPassing);
  const std::string err = Read(err_file_);
  EXPECT_THAT(err, HasSubstr("tests.sha256 is out of date (2 files):\n"
                             "  fixtures/04_causal_mask/values.json: changed\n"
                             "  katas/02_attention/more_test.cc: not listed\n"));
  EXPECT_THAT(err, HasSubstr("regenerate it: ./kata digests --out tests.sha256"));
}

}  // namespace
}  // namespace llmk::kata
