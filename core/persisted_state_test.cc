#include "core/persisted_state.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/units.h"

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

TEST(PersistedStateTest, NumprocCountersAndApiLimitRoundTrip) {
  PersistedState state;
  PersistedContainer c;
  c.maxheld_pages = 10;
  c.numproc_maxheld = 37;  // tasks
  c.numproc_failcnt = 4;
  c.api_numproc = BarrierLimit{200, 240};
  state["a"] = c;
  PersistedContainer only_limit;
  only_limit.api_numproc = BarrierLimit{kUnlimitedPages, kUnlimitedPages};
  state["b"] = only_limit;
  const std::string text = SerializePersistedState(state);
  EXPECT_NE(text.find("\"numproc_maxheld\": 37"), std::string::npos) << text;
  EXPECT_NE(text.find("\"api_numproc\""), std::string::npos) << text;
  Result<PersistedState> back = ParsePersistedState(text, "s.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, state);
  // Counters at zero are not written, as for shmpages.
  PersistedState quiet;
  quiet["q"] = PersistedContainer{1, 0, std::nullopt};
  EXPECT_EQ(SerializePersistedState(quiet).find("numproc"), std::string::npos);
}

TEST(PersistedStateTest, OldFilesWithoutNumprocStillLoad) {
  Result<PersistedState> old = ParsePersistedState(
      R"({"version": 1, "containers": {"a": {"maxheld": 5, "failcnt": 1, "shm_maxheld": 2,
          "shm_failcnt": 0, "api_shmpages": {"barrier": 3, "limit": 4}}}})",
      "s.json");
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ(old->at("a").numproc_maxheld, 0u);
  EXPECT_EQ(old->at("a").numproc_failcnt, 0u);
  EXPECT_FALSE(old->at("a").api_numproc.has_value());
  EXPECT_EQ(old->at("a").api_shmpages, (BarrierLimit{3, 4}));
}

TEST(PersistedStateTest, BadNumprocFieldsAreNamed) {
  for (const auto& [text, needle] : std::vector<std::pair<std::string, std::string>>{
           {R"({"containers": {"a": {"numproc_failcnt": -1}}})", "numproc_failcnt"},
           {R"({"containers": {"a": {"numproc_maxheld": "x"}}})", "numproc_maxheld"},
           {R"({"containers": {"a": {"api_numproc": {"barrier": 1}}}})",
            "/containers/a/api_numproc"},
           {R"({"containers": {"a": {"api_numproc": 5}}})", "/containers/a/api_numproc"},
       }) {
    Result<PersistedState> bad = ParsePersistedState(text, "s.json");
    ASSERT_FALSE(bad.ok()) << text;
    EXPECT_NE(bad.status().message().find(needle), std::string::npos)
        << text << ": " << bad.status().message();
  }
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

TEST(PersistedStateTest, LockedCountersAndApiLimitRoundTrip) {
  PersistedState state;
  PersistedContainer c;
  c.maxheld_pages = 10;
  c.locked_maxheld_pages = 300;
  c.locked_failcnt = 2;
  c.api_lockedpages = BarrierLimit{256, 512};
  state["a"] = c;
  const std::string text = SerializePersistedState(state);
  EXPECT_NE(text.find("\"locked_maxheld\": 300"), std::string::npos) << text;
  EXPECT_NE(text.find("\"api_lockedpages\""), std::string::npos) << text;
  Result<PersistedState> back = ParsePersistedState(text, "s.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, state);
  PersistedState quiet;
  quiet["q"] = PersistedContainer{1, 0, std::nullopt};
  EXPECT_EQ(SerializePersistedState(quiet).find("locked"), std::string::npos);
  // Files written before lockedpages load with none.
  Result<PersistedState> old =
      ParsePersistedState(R"({"containers": {"a": {"maxheld": 5, "failcnt": 1}}})", "s.json");
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ(old->at("a").locked_maxheld_pages, 0u);
  EXPECT_FALSE(old->at("a").api_lockedpages.has_value());
  for (const auto& [bad_text, needle] : std::vector<std::pair<std::string, std::string>>{
           {R"({"containers": {"a": {"locked_failcnt": -1}}})", "locked_failcnt"},
           {R"({"containers": {"a": {"api_lockedpages": {"limit": 1}}}})",
            "/containers/a/api_lockedpages"},
       }) {
    Result<PersistedState> bad = ParsePersistedState(bad_text, "s.json");
    ASSERT_FALSE(bad.ok()) << bad_text;
    EXPECT_NE(bad.status().message().find(needle), std::string::npos)
        << bad_text << ": " << bad.status().message();
  }
}

TEST(PersistedStateTest, ApiMeminfoRoundTripsAndBadOnesAreNamed) {
  PersistedState state;
  PersistedContainer c;
  c.api_meminfo = MeminfoMode{MeminfoMode::Kind::kPages, 4096};
  state["a"] = c;
  const std::string text = SerializePersistedState(state);
  EXPECT_NE(text.find("\"api_meminfo\": \"pages:4096\""), std::string::npos) << text;
  Result<PersistedState> back = ParsePersistedState(text, "s.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, state);
  for (const char* bad : {R"({"containers": {"a": {"api_meminfo": "swap:1"}}})",
                          R"({"containers": {"a": {"api_meminfo": 7}}})"}) {
    Result<PersistedState> r = ParsePersistedState(bad, "s.json");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("/containers/a/api_meminfo"), std::string::npos)
        << r.status().message();
  }
}

}  // namespace
}  // namespace ubc
