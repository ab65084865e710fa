// SHA-256, the tests.sha256 format, the published files and their check.
#include "integrity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "fake_repo.h"

namespace llmk::kata {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The digest, or a failure of the test and "".
std::string Hex(std::string_view bytes) {
  absl::StatusOr<std::string> hex = Sha256Hex(bytes);
  EXPECT_TRUE(hex.ok()) << hex.status();
  return hex.value_or("");
}

// The test vectors of FIPS 180-2, appendix B (and the empty message), through the
// libcrypto wrapper.
TEST(Sha256Hex, MatchesTheStandardVectors) {
  EXPECT_EQ(Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Messages of 55, 56 and 64 bytes sit at the edges of the padding: the length
// fits in the last block, just does not, and a whole block of padding follows.
TEST(Sha256Hex, PadsAtTheBlockEdges) {
  EXPECT_EQ(Hex(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(Hex(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(Hex(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

TEST(Sha256OfFile, HashesTheBytesAndReportsAMissingFile) {
  testing::FakeRepo repo;
  repo.WriteFile("a.txt", "abc");
  absl::StatusOr<std::string> digest = Sha256OfFile(repo.root() / "a.txt");
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(*digest, Hex("abc"));
  absl::StatusOr<std::string> missing = Sha256OfFile(repo.root() / "nope.txt");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.txt"));
}

constexpr char kAbc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kEmpty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(ParseDigests, ReadsSha256sumLinesSortedByPath) {
  const std::string text = std::string(kAbc) + "  katas/b/kata.json\n" +
                           "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855" +
                           "  fixtures/a/x y.json\n";
  absl::StatusOr<Digests> digests = ParseDigests(text, "tests.sha256");
  ASSERT_TRUE(digests.ok()) << digests.status();
  ASSERT_EQ(digests->entries.size(), 2u);
  EXPECT_EQ(digests->entries[0].first, "fixtures/a/x y.json");
  EXPECT_EQ(digests->entries[0].second, kEmpty);  // lower-cased
  ASSERT_NE(digests->Find("katas/b/kata.json"), nullptr);
  EXPECT_EQ(*digests->Find("katas/b/kata.json"), kAbc);
  EXPECT_EQ(digests->Find("katas/b"), nullptr);
  EXPECT_EQ(FormatDigests(*digests),
            std::string(kEmpty) + "  fixtures/a/x y.json\n" + kAbc + "  katas/b/kata.json\n");
}

TEST(ParseDigests, RejectsMalformedLinesNamingTheLine) {
  const std::string good = std::string(kAbc) + "  a.json\n";
  const auto message = [](const std::string& text) {
    return std::string(ParseDigests(text, "t.sha256").status().message());
  };
  EXPECT_THAT(message(good + "abc  b.json\n"), HasSubstr("t.sha256:2: the line does not start"));
  EXPECT_THAT(message(good + std::string(kAbc) + " b.json\n"),
              HasSubstr("t.sha256:2: the digest is not followed by two spaces"));
  EXPECT_THAT(message(good + std::string(kAbc) + "  \n"),
              HasSubstr("t.sha256:2: the path is empty"));
  EXPECT_THAT(message(good + std::string(kAbc) + " *b.json\n"),
              HasSubstr("t.sha256:2: the digest is not followed by two spaces"));
  EXPECT_THAT(message(std::string(kAbc) + "  /etc/passwd\n"),
              HasSubstr("t.sha256:1: \"/etc/passwd\" is absolute"));
  EXPECT_THAT(message(good + good + std::string(kAbc) + "  katas/../../x\n"),
              HasSubstr("t.sha256:3: \"katas/../../x\" climbs out"));
  EXPECT_THAT(message(std::string(kAbc) + "  a//b\n"), HasSubstr("t.sha256:1:"));
  EXPECT_THAT(message(std::string(kAbc) + "  a\\b\n"), HasSubstr("backslash"));
  EXPECT_THAT(message(std::string(kAbc) + "  a.json\r\n"), HasSubstr("control character"));
  EXPECT_THAT(message(good + "\n" + good), HasSubstr("t.sha256:2:"));  // a blank line
  EXPECT_THAT(message(good + good), HasSubstr("\"a.json\" is listed twice"));
  EXPECT_THAT(message(std::string(63, 'a') + "g  a.json\n"), HasSubstr("64 hex digits"));
}

TEST(ParseDigests, AcceptsAnEmptyFile) {
  absl::StatusOr<Digests> digests = ParseDigests("", "t.sha256");
  ASSERT_TRUE(digests.ok()) << digests.status();
  EXPECT_TRUE(digests->entries.empty());
}

// A fake repository with one kata: two test sources, a non-test source, a
// fixture in a subfolder and the shared library.
class PublishedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_.AddKata("02_attention", "/bin/true");
    repo_.AddKata("03_scaling", "/bin/true");
    repo_.WriteFile("katas/02_attention/attention_test.cc", "TEST(A, B) {}\n");
    repo_.WriteFile("katas/02_attention/mask_test.cc", "TEST(M, B) {}\n");
    repo_.WriteFile("katas/02_attention/attention.cc", "stub\n");
    repo_.WriteFile("katas/02_attention/README.md", "# Attention\n");
    repo_.WriteFile("fixtures/02_attention/small.json", "[1, 2]\n");
    repo_.WriteFile("fixtures/02_attention/big/large.json", "[3]\n");
    repo_.WriteFile("fixtures/03_scaling/s.json", "[4]\n");
    repo_.WriteFile("harness/include/llmk/testing/tolerance.h", "#pragma once\n");
    repo_.WriteFile("harness/include/llmk/tensor.h", "#pragma once\n");  // not published
    repo_.WriteFile("harness/support/tolerance.cc", "int x;\n");
    catalog_ = repo_.Load();
    ASSERT_EQ(catalog_.katas.size(), 2u);
  }

  Digests Published() const {
    absl::StatusOr<Digests> digests =
        ComputeDigests(repo_.root(), PublishedFiles(repo_.root(), catalog_.katas));
    EXPECT_TRUE(digests.ok()) << digests.status();
    return digests.ok() ? *digests : Digests{};
  }

  testing::FakeRepo repo_;
  Catalog catalog_;
};

TEST_F(PublishedTest, ListsTestSourcesKataJsonFixturesAndTheSharedLibrary) {
  EXPECT_THAT(
      PublishedKataFiles(repo_.root(), catalog_.katas[0]),
      ElementsAre("fixtures/02_attention/big/large.json", "fixtures/02_attention/small.json",
                  "katas/02_attention/attention_test.cc", "katas/02_attention/kata.json",
                  "katas/02_attention/mask_test.cc"));
  EXPECT_THAT(
      PublishedSharedFiles(repo_.root()),
      ElementsAre("harness/include/llmk/testing/tolerance.h", "harness/support/tolerance.cc"));
  EXPECT_EQ(PublishedFiles(repo_.root(), catalog_.katas).size(), 9u);
}

TEST_F(PublishedTest, AnUntouchedCopyChecksClean) {
  const Digests digests = Published();
  const std::vector<FileCheck> checks = CheckKataFiles(repo_.root(), digests, catalog_.katas[0]);
  ASSERT_EQ(checks.size(), 5u);
  for (const FileCheck& check : checks) {
    EXPECT_EQ(check.state, FileState::kUnchanged) << check.path;
    EXPECT_EQ(check.actual_sha256, check.expected_sha256);
  }
  EXPECT_EQ(CheckSharedFiles(repo_.root(), digests).size(), 2u);
  EXPECT_TRUE(CompareDigests(digests, Published()).empty());
}

TEST_F(PublishedTest, DetectsAChangedAndAMissingFixture) {
  const Digests digests = Published();
  repo_.WriteFile("fixtures/02_attention/small.json", "[1, 2.5]\n");
  std::filesystem::remove(repo_.root() / "fixtures/02_attention/big/large.json");
  std::vector<FileCheck> checks = CheckKataFiles(repo_.root(), digests, catalog_.katas[0]);
  ASSERT_EQ(checks.size(), 5u);
  EXPECT_EQ(checks[0].path, "fixtures/02_attention/big/large.json");
  EXPECT_EQ(checks[0].state, FileState::kMissing);
  EXPECT_EQ(checks[0].actual_sha256, "");
  EXPECT_EQ(checks[1].path, "fixtures/02_attention/small.json");
  EXPECT_EQ(checks[1].state, FileState::kChanged);
  EXPECT_EQ(checks[1].actual_sha256, Hex("[1, 2.5]\n"));
  for (std::size_t i = 2; i < checks.size(); ++i) {
    EXPECT_EQ(checks[i].state, FileState::kUnchanged) << checks[i].path;
  }
  // The other kata is not concerned.
  for (const FileCheck& check : CheckKataFiles(repo_.root(), digests, catalog_.katas[1])) {
    EXPECT_EQ(check.state, FileState::kUnchanged) << check.path;
  }
}

TEST_F(PublishedTest, DetectsAChangedTestSourceAndSharedFile) {
  const Digests digests = Published();
  repo_.WriteFile("katas/02_attention/mask_test.cc", "TEST(M, B) { /* weakened */ }\n");
  repo_.WriteFile("harness/support/tolerance.cc", "int y;\n");
  std::vector<FileCheck> checks = CheckKataFiles(repo_.root(), digests, catalog_.katas[0]);
  ASSERT_EQ(checks.size(), 5u);
  EXPECT_EQ(checks[4].path, "katas/02_attention/mask_test.cc");
  EXPECT_EQ(checks[4].state, FileState::kChanged);
  std::vector<FileCheck> shared = CheckSharedFiles(repo_.root(), digests);
  ASSERT_EQ(shared.size(), 2u);
  EXPECT_EQ(shared[0].state, FileState::kUnchanged);
  EXPECT_EQ(shared[1].state, FileState::kChanged);
}

TEST_F(PublishedTest, CompareDigestsNamesEachStaleFile) {
  const Digests listed = Published();
  repo_.WriteFile("fixtures/02_attention/small.json", "[9]\n");
  repo_.WriteFile("katas/03_scaling/scaling_test.cc", "TEST(S, T) {}\n");
  std::filesystem::remove(repo_.root() / "fixtures/03_scaling/s.json");
  EXPECT_THAT(CompareDigests(listed, Published()),
              ElementsAre("fixtures/02_attention/small.json: changed",
                          "fixtures/03_scaling/s.json: listed, but no longer published",
                          "katas/03_scaling/scaling_test.cc: not listed"));
}

TEST_F(PublishedTest, LoadDigestsReadsWhatFormatDigestsWrote) {
  const Digests digests = Published();
  repo_.WriteFile("tests.sha256", FormatDigests(digests));
  absl::StatusOr<Digests> loaded = LoadDigests(repo_.root() / "tests.sha256");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->entries, digests.entries);
  EXPECT_EQ(LoadDigests(repo_.root() / "none.sha256").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace llmk::kata
