#include "core/annotations.h"

#include <gtest/gtest.h>

namespace ubc {
namespace {

TEST(AnnotationsTest, NoAnnotationsMeansNothingSet) {
  auto r = ParseUbcAnnotations({});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->any());
  EXPECT_FALSE(r->privvmpages.has_value());
  EXPECT_EQ(r->profile, nullptr);
}

TEST(AnnotationsTest, OtherAnnotationsAreIgnored) {
  auto r = ParseUbcAnnotations({{"io.kubernetes.cri.container-name", "web"},
                                {"org.opencontainers.image.stopSignal", "15"},
                                {"ubcd.something", "x"},
                                {"ubc", "x"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->any());
}

TEST(AnnotationsTest, PrivvmpagesBarrierAndLimit) {
  auto r = ParseUbcAnnotations({{"ubc.privvmpages", "65536:69632"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->privvmpages.has_value());
  EXPECT_EQ(*r->privvmpages, (BarrierLimit{65536, 69632}));
  EXPECT_EQ(r->profile, nullptr);
  EXPECT_TRUE(r->any());
}

TEST(AnnotationsTest, PrivvmpagesSingleValueWithSuffixSetsBoth) {
  auto r = ParseUbcAnnotations({{"ubc.privvmpages", "256M"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r->privvmpages, (BarrierLimit{65536, 65536}));
}

TEST(AnnotationsTest, PrivvmpagesUnlimited) {
  auto r = ParseUbcAnnotations({{"ubc.privvmpages", "unlimited"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r->privvmpages, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
}

TEST(AnnotationsTest, ShmpagesIsItsOwnBeancounter) {
  auto r = ParseUbcAnnotations({{"ubc.shmpages", "16M:20M"}, {"ubc.privvmpages", "1024"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->shmpages.has_value());
  EXPECT_EQ(*r->shmpages, (BarrierLimit{4096, 5120}));
  EXPECT_EQ(*r->privvmpages, (BarrierLimit{1024, 1024}));
  auto only = ParseUbcAnnotations({{"ubc.shmpages", "unlimited"}});
  ASSERT_TRUE(only.ok());
  EXPECT_TRUE(only->any());
  EXPECT_FALSE(only->privvmpages.has_value());
  auto bad = ParseUbcAnnotations({{"ubc.shmpages", "lots"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("annotation ubc.shmpages=\"lots\": ", 0), 0u)
      << bad.status().message();
}

TEST(AnnotationsTest, NumprocCountsTasks) {
  auto r = ParseUbcAnnotations({{"ubc.numproc", "200:240"}, {"ubc.privvmpages", "1024"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->numproc.has_value());
  EXPECT_EQ(*r->numproc, (BarrierLimit{200, 240}));  // tasks, not pages
  EXPECT_EQ(*r->privvmpages, (BarrierLimit{1024, 1024}));
  EXPECT_FALSE(r->shmpages.has_value());
  auto single = ParseUbcAnnotations({{kNumprocAnnotation, "64"}});
  ASSERT_TRUE(single.ok()) << single.status().message();
  EXPECT_EQ(*single->numproc, (BarrierLimit{64, 64}));
  auto only = ParseUbcAnnotations({{"ubc.numproc", "unlimited"}});
  ASSERT_TRUE(only.ok());
  EXPECT_TRUE(only->any());
  EXPECT_EQ(*only->numproc, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
  EXPECT_FALSE(only->privvmpages.has_value());
  auto none = ParseUbcAnnotations({{"ubc.privvmpages", "1024"}});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->numproc.has_value());
}

TEST(AnnotationsTest, NumprocRefusesSizeSuffixes) {
  // 1K tasks is not a thing: a suffix is refused, not taken as 1024.
  auto k = ParseUbcAnnotations({{"ubc.numproc", "1K"}});
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().message(),
            "annotation ubc.numproc=\"1K\": suffix 'K' is not allowed: a count takes no unit");
  auto limit = ParseUbcAnnotations({{"ubc.numproc", "100:2M"}});
  ASSERT_FALSE(limit.ok());
  EXPECT_EQ(limit.status().message(),
            "annotation ubc.numproc=\"100:2M\": limit: suffix 'M' is not allowed: a count takes "
            "no unit");
  auto fraction = ParseUbcAnnotations({{"ubc.numproc", "1.5"}});
  ASSERT_FALSE(fraction.ok());
  EXPECT_EQ(fraction.status().message(),
            "annotation ubc.numproc=\"1.5\": a count must be a whole number");
  auto garbage = ParseUbcAnnotations({{"ubc.numproc", "lots"}});
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.status().message(), "annotation ubc.numproc=\"lots\": not a number");
}

TEST(AnnotationsTest, ProfileBoth) {
  auto r = ParseUbcAnnotations({{"ubc.profile", "openvz"}, {"ubc.privvmpages", "1024:2048"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->profile, &OpenvzProfile());
  EXPECT_EQ(*r->privvmpages, (BarrierLimit{1024, 2048}));
  auto bc = ParseUbcAnnotations({{"ubc.profile", "bc2006"}});
  ASSERT_TRUE(bc.ok());
  EXPECT_EQ(bc->profile, &Bc2006Profile());
}

TEST(AnnotationsTest, BadPrivvmpagesNamesAnnotationAndValue) {
  auto r = ParseUbcAnnotations({{"ubc.privvmpages", "12Q"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "annotation ubc.privvmpages=\"12Q\": unknown suffix 'Q'");
}

TEST(AnnotationsTest, BadLimitHalfKeepsParserDetail) {
  auto r = ParseUbcAnnotations({{"ubc.privvmpages", "1024:x"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "annotation ubc.privvmpages=\"1024:x\": limit: not a number");
}

TEST(AnnotationsTest, EmptyPrivvmpagesIsAnError) {
  auto r = ParseUbcAnnotations({{"ubc.privvmpages", ""}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "annotation ubc.privvmpages=\"\": empty value");
}

TEST(AnnotationsTest, UnknownProfileListsKnownOnes) {
  auto r = ParseUbcAnnotations({{"ubc.profile", "foo"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "annotation ubc.profile=\"foo\": unknown profile (known: bc2006, openvz)");
}

TEST(AnnotationsTest, ProfileIsCaseSensitive) {
  auto r = ParseUbcAnnotations({{"ubc.profile", "OpenVZ"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "annotation ubc.profile=\"OpenVZ\": unknown profile (known: bc2006, openvz)");
}

TEST(AnnotationsTest, MisspeltUbcKeyIsRejected) {
  auto r = ParseUbcAnnotations({{"ubc.privvmpage", "1024"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "annotation ubc.privvmpage: unknown ubc annotation (known: ubc.privvmpages, "
            "ubc.shmpages, ubc.numproc, ubc.lockedpages, ubc.profile, ubc.on_error, ubc.meminfo)");
}

TEST(AnnotationsTest, OnErrorChoosesFailOpenOrClosed) {
  auto open = ParseUbcAnnotations({{"ubc.on_error", "continue"}});
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->on_error, OnError::kContinue);
  auto closed = ParseUbcAnnotations({{"ubc.on_error", "enomem"}});
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(closed->on_error, OnError::kEnomem);
  EXPECT_TRUE(closed->any());
  auto bad = ParseUbcAnnotations({{"ubc.on_error", "crash"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "annotation ubc.on_error=\"crash\": must be \"continue\" or \"enomem\"");
}

TEST(AnnotationsTest, UbcKeyInOtherCaseIsRejected) {
  auto r = ParseUbcAnnotations({{"UBC.privvmpages", "1024"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "annotation UBC.privvmpages: unknown ubc annotation (known: ubc.privvmpages, "
            "ubc.shmpages, ubc.numproc, ubc.lockedpages, ubc.profile, ubc.on_error, ubc.meminfo)");
}

TEST(AnnotationsTest, UnprintableKeyAndValueAreQuotedAndCapped) {
  auto key = ParseUbcAnnotations({{"ubc.\nx", "1"}});
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(
      key.status().message(),
      "annotation \"ubc.\\nx\": unknown ubc annotation (known: ubc.privvmpages, ubc.shmpages, "
      "ubc.numproc, ubc.lockedpages, ubc.profile, ubc.on_error, ubc.meminfo)");
  auto value = ParseUbcAnnotations({{"ubc.profile", std::string(100, 'z') + "\x01"}});
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().message(), "annotation ubc.profile=\"" + std::string(64, 'z') +
                                          "\"...: unknown profile (known: bc2006, openvz)");
}

TEST(AnnotationsTest, LockedpagesTakesSizesLikePrivvmpages) {
  auto r = ParseUbcAnnotations({{"ubc.lockedpages", "32M:40M"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->lockedpages.has_value());
  EXPECT_EQ(*r->lockedpages, (BarrierLimit{8192, 10240}));
  EXPECT_TRUE(r->any());
  EXPECT_FALSE(r->privvmpages.has_value());
  auto pages = ParseUbcAnnotations({{kLockedpagesAnnotation, "256"}});
  ASSERT_TRUE(pages.ok());
  EXPECT_EQ(*pages->lockedpages, (BarrierLimit{256, 256}));
  auto bad = ParseUbcAnnotations({{"ubc.lockedpages", "12Q"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("annotation ubc.lockedpages=\"12Q\": ", 0), 0u)
      << bad.status().message();
  EXPECT_FALSE(ParseUbcAnnotations({{"ubc.privvmpages", "1M"}})->lockedpages.has_value());
}

}  // namespace
}  // namespace ubc
