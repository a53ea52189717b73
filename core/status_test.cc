#include "core/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

// GCC 12 reports the inactive std::string of Result<int>'s variant as maybe
// uninitialized when the test inlines construction and destruction in one
// function (a known false positive of -O2 with std::variant).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace ubc {
namespace {

TEST(StatusTest, OkCarriesNoMessageAndNoErrno) {
  Status s = Status::Ok();
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.message(), "ok");
  EXPECT_EQ(s.error_number(), 0);
}

TEST(StatusTest, ErrorKeepsItsMessage) {
  Status s = Status::Error("privvmpages: not a number");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "privvmpages: not a number");
  EXPECT_EQ(s.error_number(), 0);
}

TEST(StatusTest, FromErrnoNamesTheContextAndKeepsTheErrno) {
  Status s = Status::FromErrno(ENOENT, "opening /proc/42/statm");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "opening /proc/42/statm: No such file or directory");
  EXPECT_EQ(s.error_number(), ENOENT);
}

TEST(StatusTest, WrapPrefixesContextAndKeepsTheErrno) {
  Status s = Status::FromErrno(EMFILE, "accept").Wrap("listener");
  EXPECT_EQ(s.message(), "listener: accept: Too many open files");
  EXPECT_EQ(s.error_number(), EMFILE);
  EXPECT_TRUE(Status::Ok().Wrap("anything").ok());
}

TEST(ResultTest, HoldsAValueOrAnError) {
  Result<int> value = 7;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 7);
  EXPECT_TRUE(value.status().ok());

  Result<int> error = Status::FromErrno(EAGAIN, "read");
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.status().error_number(), EAGAIN);
}

TEST(ResultTest, MovesItsValueOut) {
  Result<std::string> r = std::string(1000, 'x');
  std::string taken = std::move(r).value();
  EXPECT_EQ(taken.size(), 1000u);
}

}  // namespace
}  // namespace ubc
