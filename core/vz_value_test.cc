#include "core/vz_value.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "core/units.h"

namespace ubc {
namespace {

struct ValueCase {
  const char* text;
  uint64_t pages;
};

class ParseVzValueOk : public testing::TestWithParam<ValueCase> {};

TEST_P(ParseVzValueOk, Pages) {
  const ValueCase& c = GetParam();
  Result<uint64_t> r = ParseVzValuePages(c.text);
  ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().message();
  EXPECT_EQ(*r, c.pages) << c.text;
}

INSTANTIATE_TEST_SUITE_P(
    Values, ParseVzValueOk,
    testing::Values(
        // plain integers are pages
        ValueCase{"0", 0}, ValueCase{"1", 1}, ValueCase{"65536", 65536}, ValueCase{"007", 7},
        // unlimited, any case
        ValueCase{"unlimited", kUnlimitedPages}, ValueCase{"UNLIMITED", kUnlimitedPages},
        ValueCase{"Unlimited", kUnlimitedPages},
        // P: pages
        ValueCase{"10P", 10}, ValueCase{"10p", 10}, ValueCase{"1.5P", 2}, ValueCase{"0P", 0},
        // B: bytes, rounded up to pages
        ValueCase{"0B", 0}, ValueCase{"1B", 1}, ValueCase{"4096B", 1}, ValueCase{"4097B", 2},
        ValueCase{"8192b", 2},
        // K: KiB
        ValueCase{"4K", 1}, ValueCase{"1K", 1}, ValueCase{"5K", 2}, ValueCase{"8k", 2},
        ValueCase{"0.5K", 1}, ValueCase{"12K", 3},
        // M: MiB
        ValueCase{"1M", 256}, ValueCase{"256M", 65536}, ValueCase{"272M", 69632},
        ValueCase{"1m", 256}, ValueCase{"1.5M", 384}, ValueCase{"0.001M", 1},
        // G: GiB
        ValueCase{"1G", 262144}, ValueCase{"1.5G", 393216}, ValueCase{"2g", 524288},
        ValueCase{"1.1G", 288359},  // 288358.4 pages, rounded up
        ValueCase{".5G", 131072}, ValueCase{"1.G", 262144},
        // T: TiB
        ValueCase{"1T", 268435456}, ValueCase{"0.25t", 67108864},
        // blanks around the value are tolerated
        ValueCase{" 42 ", 42}, ValueCase{"\t1M", 256},
        // integers are exact beyond double precision
        ValueCase{"9007199254740993", 9007199254740993ULL},
        ValueCase{"9223372036854775806", 9223372036854775806ULL},
        // LONG_MAX and above clamp to unlimited
        ValueCase{"9223372036854775807", kUnlimitedPages},
        ValueCase{"9223372036854775808", kUnlimitedPages},
        ValueCase{"18446744073709551615", kUnlimitedPages},
        ValueCase{"99999999999999999999999", kUnlimitedPages},
        ValueCase{"99999999999T", kUnlimitedPages},
        ValueCase{"36028797018963967M", 9223372036854775552ULL},  // (2^55-1) * 256 pages
        ValueCase{"36028797018963968M", kUnlimitedPages},         // 2^63 pages
        ValueCase{"18446744073709551615B", 4503599627370496ULL},  // ceil((2^64-1)/4096)
        ValueCase{"18446744073709551615K", 4611686018427387904ULL}));

TEST(ParseVzValue, HugeFractionClamps) {
  Result<uint64_t> r = ParseVzValuePages("99999999999999999999999.5G");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, kUnlimitedPages);
}

struct ErrorCase {
  const char* text;
  const char* message;
};

class ParseVzValueError : public testing::TestWithParam<ErrorCase> {};

TEST_P(ParseVzValueError, Message) {
  const ErrorCase& c = GetParam();
  Result<uint64_t> r = ParseVzValuePages(c.text);
  ASSERT_FALSE(r.ok()) << c.text << " parsed as " << *r;
  EXPECT_EQ(r.status().message(), c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Errors, ParseVzValueError,
    testing::Values(ErrorCase{"12Q", "invalid value \"12Q\": unknown suffix 'Q'"},
                    ErrorCase{"", "invalid value \"\": empty value"},
                    ErrorCase{"   ", "invalid value \"   \": empty value"},
                    ErrorCase{"-1", "invalid value \"-1\": negative values are not allowed"},
                    ErrorCase{"-1G", "invalid value \"-1G\": negative values are not allowed"},
                    ErrorCase{"+1", "invalid value \"+1\": not a number"},
                    ErrorCase{"abc", "invalid value \"abc\": not a number"},
                    ErrorCase{"G", "invalid value \"G\": not a number"},
                    ErrorCase{".", "invalid value \".\": not a number"},
                    ErrorCase{"nan", "invalid value \"nan\": not a number"},
                    ErrorCase{"NaN", "invalid value \"NaN\": not a number"},
                    ErrorCase{"inf", "invalid value \"inf\": not a number"},
                    ErrorCase{"infinity", "invalid value \"infinity\": not a number"},
                    ErrorCase{"unlimitedX", "invalid value \"unlimitedX\": not a number"},
                    ErrorCase{"1e30", "invalid value \"1e30\": unknown suffix 'e'"},
                    ErrorCase{"0x10", "invalid value \"0x10\": unknown suffix 'x'"},
                    ErrorCase{"12GB",
                              "invalid value \"12GB\": trailing characters after suffix 'G'"},
                    ErrorCase{"1Mx", "invalid value \"1Mx\": trailing characters after suffix 'M'"},
                    ErrorCase{"12 G", "invalid value \"12 G\": unexpected character ' '"},
                    ErrorCase{"1.5.5", "invalid value \"1.5.5\": unexpected character '.'"},
                    ErrorCase{"1,5G", "invalid value \"1,5G\": unexpected character ','"},
                    ErrorCase{"1:2", "invalid value \"1:2\": unexpected character ':'"}));

TEST(ParseVzBarrierLimit, Pair) {
  Result<BarrierLimit> r = ParseVzBarrierLimit("65536:69632");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->barrier_pages, 65536u);
  EXPECT_EQ(r->limit_pages, 69632u);
}

TEST(ParseVzBarrierLimit, SuffixedPairFromSampleConfig) {
  Result<BarrierLimit> r = ParseVzBarrierLimit("256M:272M");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (BarrierLimit{65536, 69632}));
}

TEST(ParseVzBarrierLimit, SingleValueSetsBoth) {
  Result<BarrierLimit> r = ParseVzBarrierLimit("2048");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (BarrierLimit{2048, 2048}));
}

TEST(ParseVzBarrierLimit, UnlimitedLimit) {
  Result<BarrierLimit> r = ParseVzBarrierLimit("33792:unlimited");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (BarrierLimit{33792, kUnlimitedPages}));
}

TEST(ParseVzBarrierLimit, BarrierAboveLimitIsAccepted) {
  // vzctl never checks barrier <= limit (docs/ubc-semantics.md §1).
  Result<BarrierLimit> r = ParseVzBarrierLimit("100:50");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (BarrierLimit{100, 50}));
}

TEST(ParseVzBarrierLimit, Errors) {
  const ErrorCase cases[] = {
      {"1:2:3", "invalid value \"1:2:3\": more than one ':'"},
      {"::", "invalid value \"::\": more than one ':'"},
      {"65536:", "invalid value \"65536:\": limit: empty value"},
      {":5", "invalid value \":5\": barrier: empty value"},
      {"12Q:5", "invalid value \"12Q:5\": barrier: unknown suffix 'Q'"},
      {"5:-1", "invalid value \"5:-1\": limit: negative values are not allowed"},
      {"", "invalid value \"\": empty value"},
      {"x", "invalid value \"x\": not a number"},
  };
  for (const ErrorCase& c : cases) {
    Result<BarrierLimit> r = ParseVzBarrierLimit(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().message(), c.message) << c.text;
  }
}

TEST(FormatVzValue, Pages) {
  EXPECT_EQ(FormatVzValuePages(0), "0");
  EXPECT_EQ(FormatVzValuePages(65536), "65536");
  EXPECT_EQ(FormatVzValuePages(kUnlimitedPages - 1), "9223372036854775806");
  EXPECT_EQ(FormatVzValuePages(kUnlimitedPages), "unlimited");
}

TEST(FormatVzValue, BarrierLimit) {
  EXPECT_EQ(FormatVzBarrierLimit({65536, 69632}), "65536:69632");
  EXPECT_EQ(FormatVzBarrierLimit({33792, kUnlimitedPages}), "33792:unlimited");
  EXPECT_EQ(FormatVzBarrierLimit({kUnlimitedPages, kUnlimitedPages}), "unlimited:unlimited");
}

TEST(FormatVzValue, RoundTrips) {
  for (const char* text : {"0", "1", "65536:69632", "33792:unlimited", "unlimited:unlimited"}) {
    Result<BarrierLimit> r = ParseVzBarrierLimit(text);
    ASSERT_TRUE(r.ok()) << text;
    const std::string formatted = FormatVzBarrierLimit(*r);
    Result<BarrierLimit> again = ParseVzBarrierLimit(formatted);
    ASSERT_TRUE(again.ok()) << formatted;
    EXPECT_EQ(*again, *r) << text;
  }
}

// --- counts (numproc: tasks), not pages

TEST(ParseVzCount, IntegersAndUnlimited) {
  const std::pair<const char*, uint64_t> cases[] = {
      {"0", 0},
      {"1", 1},
      {"240", 240},
      {"007", 7},
      {" 42\t", 42},
      {"unlimited", kUnlimitedPages},
      {"UNLIMITED", kUnlimitedPages},
      {"9223372036854775806", 9223372036854775806ULL},
      {"9223372036854775807", kUnlimitedPages},
      {"18446744073709551615", kUnlimitedPages},
      {"99999999999999999999999", kUnlimitedPages},
  };
  for (const auto& [text, count] : cases) {
    Result<uint64_t> r = ParseVzCount(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().message();
    EXPECT_EQ(*r, count) << text;
  }
}

TEST(ParseVzCount, SuffixesFractionsAndGarbageAreRefused) {
  const ErrorCase cases[] = {
      {"1K", "invalid value \"1K\": suffix 'K' is not allowed: a count takes no unit"},
      {"64k", "invalid value \"64k\": suffix 'k' is not allowed: a count takes no unit"},
      {"2M", "invalid value \"2M\": suffix 'M' is not allowed: a count takes no unit"},
      {"1G", "invalid value \"1G\": suffix 'G' is not allowed: a count takes no unit"},
      {"1T", "invalid value \"1T\": suffix 'T' is not allowed: a count takes no unit"},
      {"10P", "invalid value \"10P\": suffix 'P' is not allowed: a count takes no unit"},
      {"100B", "invalid value \"100B\": suffix 'B' is not allowed: a count takes no unit"},
      {"1.5", "invalid value \"1.5\": a count must be a whole number"},
      {"1.", "invalid value \"1.\": a count must be a whole number"},
      {".5", "invalid value \".5\": not a number"},
      {"", "invalid value \"\": empty value"},
      {"  ", "invalid value \"  \": empty value"},
      {"-1", "invalid value \"-1\": negative values are not allowed"},
      {"+1", "invalid value \"+1\": not a number"},
      {"abc", "invalid value \"abc\": not a number"},
      {"12Q", "invalid value \"12Q\": unexpected character 'Q'"},
      {"1e3", "invalid value \"1e3\": unexpected character 'e'"},
      {"0x10", "invalid value \"0x10\": unexpected character 'x'"},
      {"1 2", "invalid value \"1 2\": unexpected character ' '"},
      {"1:2", "invalid value \"1:2\": unexpected character ':'"},
  };
  for (const ErrorCase& c : cases) {
    Result<uint64_t> r = ParseVzCount(c.text);
    ASSERT_FALSE(r.ok()) << c.text << " parsed as " << *r;
    EXPECT_EQ(r.status().message(), c.message) << c.text;
  }
}

TEST(ParseVzCountBarrierLimit, PairSingleAndUnlimited) {
  Result<BarrierLimit> pair = ParseVzCountBarrierLimit("200:240");
  ASSERT_TRUE(pair.ok()) << pair.status().message();
  EXPECT_EQ(*pair, (BarrierLimit{200, 240}));  // tasks, though the fields say pages
  Result<BarrierLimit> single = ParseVzCountBarrierLimit("512");
  ASSERT_TRUE(single.ok()) << single.status().message();
  EXPECT_EQ(*single, (BarrierLimit{512, 512}));
  Result<BarrierLimit> open = ParseVzCountBarrierLimit(" 100 : unlimited ");
  ASSERT_TRUE(open.ok()) << open.status().message();
  EXPECT_EQ(*open, (BarrierLimit{100, kUnlimitedPages}));
  Result<BarrierLimit> none = ParseVzCountBarrierLimit("unlimited");
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_EQ(*none, (BarrierLimit{kUnlimitedPages, kUnlimitedPages}));
  // As for pages, barrier <= limit is the callers' concern.
  Result<BarrierLimit> swapped = ParseVzCountBarrierLimit("50:10");
  ASSERT_TRUE(swapped.ok()) << swapped.status().message();
  EXPECT_EQ(*swapped, (BarrierLimit{50, 10}));
}

TEST(ParseVzCountBarrierLimit, Errors) {
  const ErrorCase cases[] = {
      {"1K:2K",
       "invalid value \"1K:2K\": barrier: suffix 'K' is not allowed: a count takes no unit"},
      {"100:1M",
       "invalid value \"100:1M\": limit: suffix 'M' is not allowed: a count takes no unit"},
      {"64K", "invalid value \"64K\": suffix 'K' is not allowed: a count takes no unit"},
      {"1:2:3", "invalid value \"1:2:3\": more than one ':'"},
      {"100:", "invalid value \"100:\": limit: empty value"},
      {":5", "invalid value \":5\": barrier: empty value"},
      {"5:-1", "invalid value \"5:-1\": limit: negative values are not allowed"},
      {"1.5:2", "invalid value \"1.5:2\": barrier: a count must be a whole number"},
      {"", "invalid value \"\": empty value"},
  };
  for (const ErrorCase& c : cases) {
    Result<BarrierLimit> r = ParseVzCountBarrierLimit(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().message(), c.message) << c.text;
  }
}

TEST(ParseVzCountBarrierLimit, RoundTripsThroughFormat) {
  for (const char* text : {"0", "240", "200:240", "100:unlimited", "unlimited:unlimited"}) {
    Result<BarrierLimit> r = ParseVzCountBarrierLimit(text);
    ASSERT_TRUE(r.ok()) << text;
    Result<BarrierLimit> again = ParseVzCountBarrierLimit(FormatVzBarrierLimit(*r));
    ASSERT_TRUE(again.ok()) << text;
    EXPECT_EQ(*again, *r) << text;
  }
}

}  // namespace
}  // namespace ubc
