#include "core/json_depth.h"

#include <gtest/gtest.h>

#include <string>

namespace ubc {
namespace {

std::string Nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonDepthTest, AcceptsUpToTheLimit) {
  EXPECT_TRUE(CheckJsonDepth(Nested(kMaxJsonDepth), "x").ok());
  EXPECT_TRUE(CheckJsonDepth(R"({"a": {"b": [1, {"c": []}]}})", "x").ok());
  EXPECT_TRUE(CheckJsonDepth("", "x").ok());
}

TEST(JsonDepthTest, RefusesDeeperNesting) {
  Status s = CheckJsonDepth(Nested(kMaxJsonDepth + 1), "config.json");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "config.json: JSON nested deeper than 32 levels");
  EXPECT_FALSE(CheckJsonDepth(std::string(100000, '{'), "x").ok());
}

TEST(JsonDepthTest, BracketsInsideStringsDoNotCount) {
  const std::string deep_text = "\"" + std::string(1000, '[') + "\\\"" + "\"";
  EXPECT_TRUE(CheckJsonDepth("[" + deep_text + "]", "x").ok());
  // An escaped quote does not end the string.
  EXPECT_TRUE(CheckJsonDepth(R"(["a\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["])", "x").ok());
}

}  // namespace
}  // namespace ubc
