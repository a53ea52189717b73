#include "core/persisted_state.h"

#include <gtest/gtest.h>

namespace ubc {
namespace {

TEST(PersistedStateTest, RoundTrips) {
  PersistedState state;
  state["web-1"] = PersistedContainer{1234, 7, BarrierLimit{100, 200}};
  state["db"] = PersistedContainer{9, 0, std::nullopt};
  Result<PersistedState> back = ParsePersistedState(SerializePersistedState(state), "s.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, state);
}

TEST(PersistedStateTest, ShmCountersRoundTripAndOldFilesHaveNone) {
  PersistedState state;
  state["web-1"] = PersistedContainer{1234, 7, std::nullopt, 300, 2};
  Result<PersistedState> back = ParsePersistedState(SerializePersistedState(state), "s.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, state);
  // A state file written before shmpages existed.
  Result<PersistedState> old =
      ParsePersistedState(R"({"containers": {"a": {"maxheld": 5, "failcnt": 1}}})", "s.json");
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ(old->at("a").shm_maxheld_pages, 0u);
  EXPECT_EQ(old->at("a").shm_failcnt, 0u);
  Result<PersistedState> bad = ParsePersistedState(
      R"({"containers": {"a": {"maxheld": 5, "failcnt": 1, "shm_failcnt": "x"}}})", "s.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("shm_failcnt"), std::string::npos);
}

TEST(PersistedStateTest, ApiShmpagesRoundTrips) {
  PersistedState state;
  state["a"] = PersistedContainer{1, 0, std::nullopt, 0, 0, BarrierLimit{30, 40}};
  Result<PersistedState> back = ParsePersistedState(SerializePersistedState(state), "s.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, state);
  Result<PersistedState> bad =
      ParsePersistedState(R"({"containers": {"a": {"api_shmpages": {"barrier": 1}}}})", "s.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("api_shmpages"), std::string::npos)
      << bad.status().message();
}

TEST(PersistedStateTest, EmptyDocument) {
  Result<PersistedState> back = ParsePersistedState(SerializePersistedState({}), "s.json");
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->empty());
}

TEST(PersistedStateTest, BadInputNamesTheField) {
  EXPECT_NE(ParsePersistedState("{", "s.json").status().message().find("s.json"),
            std::string::npos);
  Result<PersistedState> r =
      ParsePersistedState(R"({"containers": {"a": {"failcnt": -1}}})", "s.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/containers/a"), std::string::npos);
  EXPECT_FALSE(
      ParsePersistedState(R"({"containers": {"a": {"api_privvmpages": {"barrier": 1}}}})", "s.json")
          .ok());
}

}  // namespace
}  // namespace ubc
