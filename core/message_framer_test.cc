#include "core/message_framer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/container_state.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;

// A missing fixture is a failure naming it (ReadFileForTest).
std::string ReadFixture(const std::string& name) {
  return ReadFileForTest(fs::path(UBC_SOURCE_ROOT) / "tests/fixtures/messages" / name);
}

std::vector<std::string> Drain(MessageFramer& f) {
  std::vector<std::string> out;
  while (auto m = f.NextMessage()) out.push_back(*m);
  return out;
}

TEST(MessageFramerTest, OneMessageInOneChunk) {
  MessageFramer f(4096);
  EXPECT_TRUE(f.Append(R"({"a":1})").ok());
  EXPECT_EQ(Drain(f), (std::vector<std::string>{R"({"a":1})"}));
  EXPECT_EQ(f.buffered_bytes(), 0u);
}

TEST(MessageFramerTest, NothingUntilTheObjectCloses) {
  MessageFramer f(4096);
  EXPECT_TRUE(f.Append(R"({"a":{"b":1})").ok());
  EXPECT_EQ(f.NextMessage(), std::nullopt);
  EXPECT_EQ(f.buffered_bytes(), 12u);
  EXPECT_TRUE(f.Append("}").ok());
  EXPECT_EQ(f.NextMessage(), R"({"a":{"b":1}})");
}

TEST(MessageFramerTest, SplitAtEveryOffsetOfRealMessages) {
  for (const char* name :
       {"runc_create.json", "crun_create.json", "podman_with_annotations.json"}) {
    const std::string msg = ReadFixture(name);
    // crun's pretty-printed message ends with a newline after its '}'.
    std::string expected = msg;
    while (!expected.empty() && expected.back() == '\n') expected.pop_back();
    for (size_t cut = 0; cut <= msg.size(); ++cut) {
      MessageFramer f(65536);
      ASSERT_TRUE(f.Append(std::string_view(msg).substr(0, cut)).ok());
      if (cut < expected.size()) {
        EXPECT_EQ(f.NextMessage(), std::nullopt) << name << " " << cut;
      }
      ASSERT_TRUE(f.Append(std::string_view(msg).substr(cut)).ok());
      const auto got = Drain(f);
      ASSERT_EQ(got, (std::vector<std::string>{expected})) << name << " cut at " << cut;
      EXPECT_TRUE(ParseContainerProcessState(got[0]).ok());
      EXPECT_EQ(f.buffered_bytes(), 0u);
    }
  }
}

TEST(MessageFramerTest, ByteAtATime) {
  const std::string msg = ReadFixture("crun_exec.json");
  MessageFramer f(65536);
  for (char c : msg) ASSERT_TRUE(f.Append(std::string_view(&c, 1)).ok());
  const auto got = Drain(f);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(ParseContainerProcessState(got[0]).ok());
}

TEST(MessageFramerTest, TwoMessagesInOneChunkWithWhitespaceBetween) {
  MessageFramer f(4096);
  EXPECT_TRUE(f.Append(" \r\n\t{\"a\":1}\n  {\"b\":[{}]}\n{\"c\"").ok());
  EXPECT_EQ(Drain(f), (std::vector<std::string>{R"({"a":1})", R"({"b":[{}]})"}));
  EXPECT_EQ(f.buffered_bytes(), 4u);
  EXPECT_TRUE(f.Append(":2}").ok());
  EXPECT_EQ(Drain(f), (std::vector<std::string>{R"({"c":2})"}));
}

TEST(MessageFramerTest, BuffersCompleteMessagesUntilTaken) {
  MessageFramer f(4096);
  EXPECT_TRUE(f.Append("{}{}{\"x\"").ok());
  EXPECT_EQ(f.buffered_bytes(), 8u);
  EXPECT_EQ(f.NextMessage(), "{}");
  EXPECT_EQ(f.buffered_bytes(), 6u);
}

TEST(MessageFramerTest, BracesInsideStringsDoNotCount) {
  MessageFramer f(4096);
  const std::string msg = R"({"a":"}}}{","b":"{"})";
  EXPECT_TRUE(f.Append(msg).ok());
  EXPECT_EQ(Drain(f), (std::vector<std::string>{msg}));
}

TEST(MessageFramerTest, EscapedQuotesAndBackslashes) {
  MessageFramer f(4096);
  // "\"}" is a string holding a quote and a brace; "\\" ends with an escaped
  // backslash, so the quote after it closes the string.
  const std::string msg = R"({"a":"\"}","b":"\\","c":"\\\"{"})";
  EXPECT_TRUE(f.Append(msg).ok());
  EXPECT_EQ(Drain(f), (std::vector<std::string>{msg}));
  for (size_t cut = 0; cut <= msg.size(); ++cut) {
    MessageFramer g(4096);
    ASSERT_TRUE(g.Append(msg.substr(0, cut)).ok());
    ASSERT_TRUE(g.Append(msg.substr(cut)).ok());
    EXPECT_EQ(Drain(g), (std::vector<std::string>{msg})) << cut;
  }
}

TEST(MessageFramerTest, MessageAtTheBoundIsFine) {
  const std::string msg = R"({"a":"xxxx"})";  // 12 bytes
  MessageFramer f(msg.size());
  EXPECT_TRUE(f.Append(msg).ok());
  EXPECT_EQ(f.NextMessage(), msg);
}

TEST(MessageFramerTest, OversizedMessageIsAnErrorBeforeItEnds) {
  MessageFramer f(11);
  EXPECT_TRUE(f.Append(R"({"a":"xxx)").ok());  // 9 bytes
  Status s = f.Append(R"(xxx)");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "message framer: message larger than 11 bytes");
  EXPECT_TRUE(f.poisoned());
  EXPECT_EQ(f.buffered_bytes(), 0u);
}

TEST(MessageFramerTest, WhitespaceBetweenMessagesDoesNotCountTowardsTheBound) {
  MessageFramer f(4);
  EXPECT_TRUE(f.Append(std::string(100, ' ') + "{}" + std::string(100, '\n') + "{\"\"}").ok());
  EXPECT_EQ(Drain(f), (std::vector<std::string>{"{}", "{\"\"}"}));
}

TEST(MessageFramerTest, GarbageOutsideAnObject) {
  MessageFramer f(4096);
  Status s = f.Append("hello");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "message framer: unexpected byte 'h' outside a JSON object");
}

TEST(MessageFramerTest, TopLevelArrayIsRefused) {
  MessageFramer f(4096);
  Status s = f.Append(R"([{"a":1}])");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "message framer: unexpected byte '[' outside a JSON object");
}

TEST(MessageFramerTest, StrayClosingBraceIsRefused) {
  MessageFramer f(4096);
  Status s = f.Append("{}}");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "message framer: unexpected byte '}' outside a JSON object");
  // Poisoned: even the complete message before the error is not delivered.
  EXPECT_EQ(f.NextMessage(), std::nullopt);
}

TEST(MessageFramerTest, NonPrintableGarbageIsShownInHex) {
  MessageFramer f(4096);
  Status s = f.Append("\x01");
  EXPECT_EQ(s.message(), "message framer: unexpected byte 0x01 outside a JSON object");
}

TEST(MessageFramerTest, NulByteIsAnErrorEvenInsideAString) {
  MessageFramer f(4096);
  EXPECT_TRUE(f.Append(R"({"a":")").ok());
  Status s = f.Append(std::string_view("x\0y", 3));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "message framer: NUL byte in stream");
  MessageFramer g(4096);
  EXPECT_EQ(g.Append(std::string_view("\0", 1)).message(), "message framer: NUL byte in stream");
}

TEST(MessageFramerTest, PoisonedFramerKeepsFailing) {
  MessageFramer f(4096);
  ASSERT_FALSE(f.Append("x").ok());
  Status again = f.Append("{}");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.message(), "message framer: unexpected byte 'x' outside a JSON object");
  EXPECT_EQ(f.NextMessage(), std::nullopt);
  EXPECT_EQ(f.buffered_bytes(), 0u);
}

TEST(MessageFramerTest, EmptyAppendIsHarmless) {
  MessageFramer f(4096);
  EXPECT_TRUE(f.Append("").ok());
  EXPECT_EQ(f.NextMessage(), std::nullopt);
  EXPECT_FALSE(f.poisoned());
}

}  // namespace
}  // namespace ubc
