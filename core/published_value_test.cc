#include "core/published_value.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace ubc {
namespace {

struct Pair {
  uint64_t a = 0;
  uint64_t b = 0;  // always a * 3 when written: a torn read would break it
  uint64_t c = 0;
};

TEST(PublishedValueTest, ReadsWhatWasPublished) {
  PublishedValue<Pair> v;
  EXPECT_EQ(v.Read().a, 0u);
  v.Publish({4, 12, 7});
  Pair p = v.Read();
  EXPECT_EQ(p.a, 4u);
  EXPECT_EQ(p.b, 12u);
  EXPECT_EQ(p.c, 7u);
}

TEST(PublishedValueTest, ReadersNeverSeeAHalfWrittenValue) {
  PublishedValue<Pair> v;
  v.Publish({0, 0, 1});
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> torn{0}, reads{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) {
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        Pair p = v.Read();
        if (p.b != p.a * 3 || p.c != p.a + 1) torn.fetch_add(1);
        reads.fetch_add(1);
      }
    });
  }
  // Publishes until the readers have read plenty while writes were going on.
  for (uint64_t i = 1; i <= 200000 || reads.load() < 100000; ++i) v.Publish({i, i * 3, i + 1});
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
}

}  // namespace
}  // namespace ubc
