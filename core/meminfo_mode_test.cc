#include "core/meminfo_mode.h"

#include <gtest/gtest.h>

namespace ubc {
namespace {

TEST(MeminfoMode, ParsesTheThreeKinds) {
  Result<MeminfoMode> none = ParseMeminfoMode("none");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->kind, MeminfoMode::Kind::kNone);
  Result<MeminfoMode> privvm = ParseMeminfoMode("privvmpages:2");
  ASSERT_TRUE(privvm.ok()) << privvm.status().message();
  EXPECT_EQ(*privvm, (MeminfoMode{MeminfoMode::Kind::kPrivvmpages, 2}));
  Result<MeminfoMode> pages = ParseMeminfoMode("pages:65536");
  ASSERT_TRUE(pages.ok()) << pages.status().message();
  EXPECT_EQ(*pages, (MeminfoMode{MeminfoMode::Kind::kPages, 65536}));
  Result<MeminfoMode> sized = ParseMeminfoMode("pages:256M");
  ASSERT_TRUE(sized.ok()) << sized.status().message();
  EXPECT_EQ(sized->value, 65536u);
  EXPECT_EQ(ParseMeminfoMode(kDefaultMeminfoMode).value(),
            (MeminfoMode{MeminfoMode::Kind::kPrivvmpages, 1}));
  EXPECT_EQ(MeminfoMode{}, ParseMeminfoMode(kDefaultMeminfoMode).value());
}

TEST(MeminfoMode, RoundTripsThroughItsText) {
  for (const char* text : {"none", "privvmpages:1", "privvmpages:1000000", "pages:1"}) {
    Result<MeminfoMode> m = ParseMeminfoMode(text);
    ASSERT_TRUE(m.ok()) << text;
    EXPECT_EQ(FormatMeminfoMode(*m), text);
  }
}

TEST(MeminfoMode, BadTextSaysWhatIsAccepted) {
  for (const char* text : {"", "None", "privvmpages", "privvmpages:", "privvmpages:0",
                           "privvmpages:1.5", "privvmpages:-1", "privvmpages:1000001", "pages:0",
                           "pages:unlimited", "pages:12Q", "swap:1", "privvmpages:1x"}) {
    Result<MeminfoMode> m = ParseMeminfoMode(text);
    ASSERT_FALSE(m.ok()) << text;
    EXPECT_NE(m.status().message().find("accepted: none, privvmpages:N, pages:N"),
              std::string::npos)
        << m.status().message();
  }
}

}  // namespace
}  // namespace ubc
