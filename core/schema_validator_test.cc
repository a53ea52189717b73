#include "core/schema_validator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kRoot = UBC_SOURCE_ROOT;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::vector<fs::path> JsonFilesIn(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::shared_ptr<const SchemaValidator> MustCreate(std::string_view name) {
  auto v = SchemaValidator::Create(name);
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() ? *v : nullptr;
}

TEST(SchemaValidatorTest, UnknownSchemaIsAnError) {
  auto v = SchemaValidator::Create("nope.schema.json");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "schema nope.schema.json: not embedded in this binary");
}

TEST(SchemaValidatorTest, EmbeddedSchemasCompile) {
  EXPECT_NE(MustCreate("ubcd-config.schema.json"), nullptr);
  EXPECT_NE(MustCreate("container-config.schema.json"), nullptr);
}

TEST(SchemaValidatorTest, ValidDocumentIsOk) {
  auto v = MustCreate("container-config.schema.json");
  ASSERT_NE(v, nullptr);
  Status s = v->Validate(json::parse(R"({"match": {"ids": ["c1"]}, "privvmpages": "1024:2048"})"),
                         "a.json");
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(SchemaValidatorTest, UnknownPropertyNamesItsPointer) {
  auto v = MustCreate("container-config.schema.json");
  ASSERT_NE(v, nullptr);
  Status s = v->Validate(json::parse(R"({"match": {"ids": ["c1"]}, "privvmpage": "1024"})"),
                         "/etc/ubc/containers.d/a.json");
  EXPECT_EQ(s.message(),
            "/etc/ubc/containers.d/a.json: /privvmpage (\"1024\"): unknown property "
            "(known: $comment, lockedpages, match, meminfo, numproc, on_error, privvmpages, "
            "profile, shmpages)");
}

TEST(SchemaValidatorTest, PatternViolationShowsValue) {
  auto v = MustCreate("container-config.schema.json");
  ASSERT_NE(v, nullptr);
  Status s =
      v->Validate(json::parse(R"({"match": {"ids": ["c1"]}, "privvmpages": "12Q"})"), "a.json");
  EXPECT_EQ(s.message(),
            "a.json: /privvmpages (\"12Q\"): must be a vzctl value such as \"65536:69632\", "
            "\"256M:272M\", \"1.5G\" or \"unlimited\"");
}

TEST(SchemaValidatorTest, MissingRequiredPropertyPointsAtParent) {
  auto v = MustCreate("container-config.schema.json");
  ASSERT_NE(v, nullptr);
  Status s = v->Validate(json::parse(R"({"profile": "bc2006"})"), "a.json");
  EXPECT_EQ(s.message(), "a.json: /: missing required property 'match'");
}

TEST(SchemaValidatorTest, ArrayItemPointer) {
  auto v = MustCreate("container-config.schema.json");
  ASSERT_NE(v, nullptr);
  Status s = v->Validate(json::parse(R"({"match": {"names": ["web", 7]}})"), "a.json");
  EXPECT_EQ(s.message(), "a.json: /match/names/1 (7): must be a string");
}

TEST(SchemaValidatorTest, PointerTokensAreEscaped) {
  auto v = MustCreate("container-config.schema.json");
  ASSERT_NE(v, nullptr);
  Status s = v->Validate(json::parse(R"({"match": {"ids": ["c1"]}, "a/b~c": true})"), "a.json");
  EXPECT_EQ(s.message(),
            "a.json: /a~1b~0c (true): unknown property (known: $comment, lockedpages, match, "
            "meminfo, numproc, on_error, privvmpages, profile, shmpages)");
}

TEST(SchemaValidatorTest, EveryViolationIsReported) {
  auto v = MustCreate("ubcd-config.schema.json");
  ASSERT_NE(v, nullptr);
  Status s = v->Validate(json::parse(R"({"log_level": "loud", "state_dir": "run"})"), "u.json");
  EXPECT_EQ(s.message(),
            "u.json: /log_level (\"loud\"): must be one of \"error\", \"warning\", \"info\", "
            "\"debug\"; /state_dir (\"run\"): must be an absolute path");
}

TEST(SchemaValidatorTest, BoundsAreWordedFromTheSchema) {
  auto v = MustCreate("ubcd-config.schema.json");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->Validate(json::parse(R"({"retire_after_seconds": 86401})"), "u.json").message(),
            "u.json: /retire_after_seconds (86401): must be at most 86400");
  EXPECT_EQ(v->Validate(json::parse(R"({"retire_after_seconds": -1})"), "u.json").message(),
            "u.json: /retire_after_seconds (-1): must be at least 0");
}

TEST(SchemaValidatorTest, NestedUnknownPropertyListsItsSiblings) {
  auto v = MustCreate("ubcd-config.schema.json");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->Validate(json::parse(R"({"defaults": {"privvmpage": "1"}})"), "u.json").message(),
            "u.json: /defaults/privvmpage (\"1\"): unknown property (known: lockedpages, meminfo, "
            "numproc, on_error, privvmpages, profile, shmpages)");
}

TEST(SchemaValidatorTest, ValueInMessageIsEscapedAndCapped) {
  auto v = MustCreate("ubcd-config.schema.json");
  ASSERT_NE(v, nullptr);
  json doc = {{"log_level", "\x1b[31m" + std::string(100, 'a')}};
  EXPECT_EQ(v->Validate(doc, "u.json").message(),
            "u.json: /log_level (\"\\u001b[31m" + std::string(53, 'a') +
                "...): must be one of \"error\", \"warning\", \"info\", \"debug\"");
}

TEST(SchemaValidatorTest, WrongRootType) {
  auto v = MustCreate("ubcd-config.schema.json");
  ASSERT_NE(v, nullptr);
  Status s = v->Validate(json::parse("[1]"), "u.json");
  EXPECT_EQ(s.message(), "u.json: /: must be an object");
}

TEST(SchemaValidatorTest, OverlongStringIsRefusedBeforeRegexMatching) {
  // std::regex would overflow the stack on a string this long.
  auto v = MustCreate("container-config.schema.json");
  ASSERT_NE(v, nullptr);
  json doc = {{"match", {{"ids", {"c1"}}}}, {"privvmpages", std::string(200000, '1')}};
  EXPECT_EQ(v->Validate(doc, "a.json").message(),
            "a.json: /privvmpages: string longer than 4096 bytes");
  json key_doc = {{"match", {{"ids", {"c1"}}}}, {std::string(5000, 'k'), 1}};
  EXPECT_EQ(v->Validate(key_doc, "a.json").message(),
            "a.json: /" + std::string(5000, 'k') + ": string longer than 4096 bytes");
  json at_bound = {{"match", {{"ids", {std::string(1024, 'x')}}}},
                   {"$comment", std::string(4096, ' ')}};
  EXPECT_TRUE(v->Validate(at_bound, "a.json").ok());
}

TEST(SchemaValidatorTest, SharedValidatorIsUsableFromManyThreads) {
  auto v = MustCreate("container-config.schema.json");
  ASSERT_NE(v, nullptr);
  const json good = json::parse(R"({"match": {"ids": ["c*"]}, "privvmpages": "256M:272M"})");
  const json bad = json::parse(R"({"match": {"ids": ["c*"]}, "privvmpages": "256Q"})");
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (!v->Validate(good, "a.json").ok()) ++failures[t];
        if (v->Validate(bad, "a.json").ok()) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

// Fixture layout: tests/fixtures/schemas/<schema>/valid/*.json must pass;
// invalid/X.json must fail and X.json.pointer holds the JSON pointer the error
// must name.
void CheckFixtures(const std::string& schema) {
  auto v = MustCreate(schema + ".schema.json");
  ASSERT_NE(v, nullptr);
  const fs::path base = kRoot / "tests/fixtures/schemas" / schema;
  const auto valid = JsonFilesIn(base / "valid");
  const auto invalid = JsonFilesIn(base / "invalid");
  EXPECT_GE(valid.size(), 3u);
  EXPECT_GE(invalid.size(), 5u);
  for (const fs::path& path : valid) {
    json doc = json::parse(ReadFileForTest(path), nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << path;
    Status s = v->Validate(doc, path.string());
    EXPECT_TRUE(s.ok()) << s.message();
  }
  for (const fs::path& path : invalid) {
    json doc = json::parse(ReadFileForTest(path), nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << path;
    fs::path pointer_file = path;
    pointer_file += ".pointer";
    ASSERT_TRUE(fs::exists(pointer_file)) << pointer_file;
    const std::string pointer = Trim(ReadFileForTest(pointer_file));
    Status s = v->Validate(doc, path.string());
    ASSERT_FALSE(s.ok()) << path;
    const std::string prefix = path.string() + ": ";
    EXPECT_EQ(s.message().rfind(prefix, 0), 0u) << s.message();
    const bool names_pointer = s.message().find(": " + pointer + ": ") != std::string::npos ||
                               s.message().find(": " + pointer + " (") != std::string::npos;
    EXPECT_TRUE(names_pointer) << path << " wants " << pointer << ", got: " << s.message();
  }
}

TEST(SchemaFixturesTest, UbcdConfig) { CheckFixtures("ubcd-config"); }
TEST(SchemaFixturesTest, ContainerConfig) { CheckFixtures("container-config"); }

TEST(SchemaExamplesTest, EveryShippedExampleValidates) {
  auto ubcd = MustCreate("ubcd-config.schema.json");
  auto container = MustCreate("container-config.schema.json");
  ASSERT_NE(ubcd, nullptr);
  ASSERT_NE(container, nullptr);
  std::vector<std::pair<fs::path, const SchemaValidator*>> examples = {
      {kRoot / "examples/ubcd.json", ubcd.get()},
      {kRoot / "examples/ubcd.default.json", ubcd.get()},
  };
  for (const fs::path& path : JsonFilesIn(kRoot / "examples/containers.d")) {
    examples.emplace_back(path, container.get());
  }
  EXPECT_GE(examples.size(), 4u);
  for (const auto& [path, validator] : examples) {
    ASSERT_TRUE(fs::exists(path)) << path;
    json doc = json::parse(ReadFileForTest(path), nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << path;
    Status s = validator->Validate(doc, path.string());
    EXPECT_TRUE(s.ok()) << s.message();
  }
}

}  // namespace
}  // namespace ubc
