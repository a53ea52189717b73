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
