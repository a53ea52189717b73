#include "core/decision.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace ubc {
namespace {

TEST(DecisionTest, FailOpenLetsAnUndecidableCallRun) {
  Decision d;
  d.undecidable = true;
  ApplyOnError(OnError::kContinue, d);
  EXPECT_EQ(d.action, Decision::Action::kContinue);
  EXPECT_FALSE(d.refused);
}

TEST(DecisionTest, FailClosedRefusesAnUndecidableCallWithEnomemWithoutARefusal) {
  Decision d;
  d.undecidable = true;
  ApplyOnError(OnError::kEnomem, d);
  EXPECT_EQ(d.action, Decision::Action::kFail);
  EXPECT_EQ(d.error_number, ENOMEM);
  EXPECT_FALSE(d.refused);  // failcnt is for the beancounter's refusals only
}

TEST(DecisionTest, ADecidedCallIsLeftAsItIs) {
  Decision d;
  d.action = Decision::Action::kReturn;
  d.return_value = 0x1000;
  d.refused = true;
  ApplyOnError(OnError::kEnomem, d);
  EXPECT_EQ(d.action, Decision::Action::kReturn);
  EXPECT_EQ(d.return_value, 0x1000u);
}

TEST(DecisionTest, UndecidableDecisionCarriesItsNoteAndThePolicy) {
  Decision open = UndecidableDecision(OnError::kContinue, "arguments lost in a restart");
  EXPECT_TRUE(open.undecidable);
  EXPECT_EQ(open.action, Decision::Action::kContinue);
  EXPECT_EQ(open.note, "arguments lost in a restart");
  Decision closed = UndecidableDecision(OnError::kEnomem, "internal error");
  EXPECT_EQ(closed.action, Decision::Action::kFail);
  EXPECT_EQ(closed.error_number, ENOMEM);
}

}  // namespace
}  // namespace ubc
