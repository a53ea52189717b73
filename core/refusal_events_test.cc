#include "core/refusal_events.h"

#include <gtest/gtest.h>

namespace ubc {
namespace {

RefusalEvent Event(int pid) {
  RefusalEvent e;
  e.pid = pid;
  return e;
}

TEST(RefusalEventsTest, KeepsTheNewestInOrder) {
  RefusalEvents ring(3);
  for (int pid = 1; pid <= 5; ++pid) ring.Add(Event(pid));
  std::vector<RefusalEvent> list = ring.List();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].pid, 3);
  EXPECT_EQ(list[2].pid, 5);
  EXPECT_EQ(ring.dropped(), 2u);
}

TEST(RefusalEventsTest, EmptyAndZeroCapacity) {
  RefusalEvents ring(0);
  EXPECT_TRUE(ring.List().empty());
  ring.Add(Event(7));
  ring.Add(Event(8));
  ASSERT_EQ(ring.List().size(), 1u);
  EXPECT_EQ(ring.List()[0].pid, 8);
}

}  // namespace
}  // namespace ubc
