#include "core/ubc_table.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "core/units.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

// Golden files are written by hand from docs/ubc-semantics.md §6, not by this code.
// A missing golden file is a failure naming it (ReadFileForTest).
std::string ReadGolden(const std::string& name) {
  return ReadFileForTest(std::string(UBC_SOURCE_ROOT) + "/tests/golden/" + name);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<ContainerCounters> TwoContainers() {
  ContainerCounters a;
  a.ctid = "101";
  a.privvmpages = BeancounterValues{12345, 23456, 65536, 69632, 3};
  ContainerCounters b;
  b.ctid = "web-frontend-7";  // wider than the uid column: printf widens, never truncates
  // Values above LONG_MAX must print unsigned.
  b.privvmpages = BeancounterValues{4096, UINT64_MAX, kUnlimitedPages, 1, 9223372036854775808ULL};
  return {a, b};
}

TEST(RenderUserBeancounters, NoContainersMatchesGolden) {
  EXPECT_EQ(RenderUserBeancounters({}), ReadGolden("user_beancounters_empty.txt"));
}

TEST(RenderUserBeancounters, TwoContainersMatchGolden) {
  EXPECT_EQ(RenderUserBeancounters(TwoContainers()), ReadGolden("user_beancounters_two.txt"));
}

TEST(RenderUserBeancounters, HeaderLinesExactly) {
  const std::vector<std::string> lines = Lines(RenderUserBeancounters({}));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "Version: 2.5");
  EXPECT_EQ(lines[1],
            "       uid  resource                     held              maxheld              "
            "barrier                limit              failcnt");
}

TEST(RenderUserBeancounters, ReferenceSampleRows) {
  // The three rows shown in docs/ubc-semantics.md §6, for container 101. The
  // sample's lockedpages bounds come from a config ubc does not track yet, so
  // only the layout of that row is compared.
  ContainerCounters c;
  c.ctid = "101";
  c.privvmpages = BeancounterValues{12345, 23456, 65536, 69632, 3};
  const std::vector<std::string> lines = Lines(RenderUserBeancounters({c}));
  ASSERT_EQ(lines.size(), 2u + 24u);
  EXPECT_EQ(lines[2],
            "      101:  kmemsize                        0                    0  "
            "9223372036854775807  9223372036854775807                    0");
  EXPECT_EQ(lines[4],
            "            privvmpages                 12345                23456                "
            "65536                69632                    3");
  EXPECT_EQ(lines[3].substr(0, 24), "            lockedpages ");
}

TEST(RenderUserBeancounters, OrderAndUidColumn) {
  const std::vector<std::string> lines = Lines(RenderUserBeancounters(TwoContainers()));
  ASSERT_EQ(lines.size(), 2u + 2u * 24u);
  const char* order[] = {
      "kmemsize",   "lockedpages", "privvmpages",  "shmpages",     "dummy",       "numproc",
      "physpages",  "vmguarpages", "oomguarpages", "numtcpsock",   "numflock",    "numpty",
      "numsiginfo", "tcpsndbuf",   "tcprcvbuf",    "othersockbuf", "dgramrcvbuf", "numothersock",
      "dcachesize", "numfile",     "dummy",        "dummy",        "dummy",       "numiptent"};
  for (size_t container = 0; container < 2; ++container) {
    for (size_t i = 0; i < 24; ++i) {
      const std::string& line = lines[2 + container * 24 + i];
      std::istringstream fields(line);
      std::string first;
      fields >> first;
      if (i == 0) {
        EXPECT_EQ(first, container == 0 ? "101:" : "web-frontend-7:");
        std::string resource;
        fields >> resource;
        EXPECT_EQ(resource, order[i]);
      } else {
        EXPECT_EQ(line.substr(0, 12), "            ") << "row " << i;
        EXPECT_EQ(first, order[i]) << "row " << i;
      }
    }
  }
}

}  // namespace
}  // namespace ubc
