#include "core/decision_metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace ubc {
namespace {

TEST(DecisionMetricsTest, CountsBySyscallAndVerdict) {
  DecisionMetrics m;
  m.Record(MetricSyscallFor(9), MetricVerdict::kAllowed);
  m.Record(MetricSyscallFor(9), MetricVerdict::kRefused);
  m.Record(MetricSyscallFor(12), MetricVerdict::kRefused);
  m.Record(MetricSyscallFor(999), MetricVerdict::kUndecided);
  DecisionMetricsSnapshot s = m.Snapshot();
  auto at = [&](MetricSyscall c, MetricVerdict v) {
    return s.decisions[static_cast<size_t>(c)][static_cast<size_t>(v)];
  };
  EXPECT_EQ(at(MetricSyscall::kMmap, MetricVerdict::kAllowed), 1u);
  EXPECT_EQ(at(MetricSyscall::kMmap, MetricVerdict::kRefused), 1u);
  EXPECT_EQ(at(MetricSyscall::kBrk, MetricVerdict::kRefused), 1u);
  EXPECT_EQ(at(MetricSyscall::kOther, MetricVerdict::kUndecided), 1u);
  EXPECT_EQ(MetricSyscallName(MetricSyscall::kMremap), "mremap");
  EXPECT_EQ(MetricVerdictName(MetricVerdict::kRefused), "refused");
}

TEST(DecisionMetricsTest, LatencyLandsInTheRightBucket) {
  DecisionMetrics m;
  m.RecordLatency(5000);        // exactly 5 us: first
  m.RecordLatency(20000);       // 20 us: <= 25 us
  m.RecordLatency(3000000000);  // 3 s: +Inf
  DecisionMetricsSnapshot s = m.Snapshot();
  EXPECT_EQ(s.latency_buckets[0], 1u);
  EXPECT_EQ(s.latency_buckets[2], 1u);
  EXPECT_EQ(s.latency_buckets.back(), 1u);
  EXPECT_EQ(s.latency_count, 3u);
  EXPECT_NEAR(s.latency_sum_seconds, 3.000025, 1e-9);
}

TEST(DecisionMetricsTest, ConcurrentRecordsAreAllCounted) {
  DecisionMetrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        m.Record(MetricSyscall::kMmap, MetricVerdict::kAllowed);
        m.RecordLatency(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(m.Snapshot().decisions[0][0], 40000u);
  EXPECT_EQ(m.Snapshot().latency_count, 40000u);
}

}  // namespace
}  // namespace ubc
