#include "core/prometheus_text.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "core/units.h"

namespace ubc {
namespace {

bool HasLine(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

TEST(PrometheusTextTest, EscapesLabelValues) {
  EXPECT_EQ(EscapePrometheusLabelValue("plain-id_1"), "plain-id_1");
  EXPECT_EQ(EscapePrometheusLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(PrometheusTextTest, FormatsFloatsShortest) {
  EXPECT_EQ(FormatPrometheusFloat(5e-6), "5e-06");
  EXPECT_EQ(FormatPrometheusFloat(2.5e-5), "2.5e-05");
  EXPECT_EQ(FormatPrometheusFloat(0.001), "0.001");
  EXPECT_EQ(FormatPrometheusFloat(1.0), "1");
  EXPECT_EQ(FormatPrometheusFloat(1.0 / 0.0), "+Inf");
}

TEST(PrometheusTextTest, BeancounterSamplesPerContainerAndResource) {
  MetricsContainer c;
  c.id = "web\"1";
  c.notify_fds = 2;
  c.processes = 3;
  c.privvmpages = {4196, 4200, 16384, kUnlimitedPages, 7};
  c.shmpages = {512, 600, 2048, 3072, 2};
  const std::string text = RenderPrometheusMetrics({c}, DecisionMetricsSnapshot{});
  const std::string labels = "{container=\"web\\\"1\",resource=\"privvmpages\"}";
  EXPECT_TRUE(HasLine(text, "# TYPE ubc_beancounter_held_pages gauge")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_beancounter_held_pages" + labels + " 4196")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_beancounter_maxheld_pages" + labels + " 4200")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_beancounter_barrier_pages" + labels + " 16384")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_beancounter_limit_pages" + labels + " 9223372036854775807"));
  EXPECT_TRUE(HasLine(text, "# TYPE ubc_beancounter_failcnt_total counter")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_beancounter_failcnt_total" + labels + " 7")) << text;
  const std::string shm = "{container=\"web\\\"1\",resource=\"shmpages\"}";
  EXPECT_TRUE(HasLine(text, "ubc_beancounter_held_pages" + shm + " 512")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_beancounter_maxheld_pages" + shm + " 600")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_beancounter_barrier_pages" + shm + " 2048")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_beancounter_limit_pages" + shm + " 3072")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_beancounter_failcnt_total" + shm + " 2")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_container_notify_fds{container=\"web\\\"1\"} 2")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_container_processes{container=\"web\\\"1\"} 3")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_containers{state=\"running\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_containers{state=\"retired\"} 0")) << text;
}

TEST(PrometheusTextTest, DecisionsBySyscallAndVerdict) {
  DecisionMetricsSnapshot s;
  s.decisions[static_cast<size_t>(MetricSyscall::kMmap)]
             [static_cast<size_t>(MetricVerdict::kRefused)] = 5;
  const std::string text = RenderPrometheusMetrics({}, s);
  EXPECT_TRUE(HasLine(text, "# TYPE ubc_decisions_total counter"));
  EXPECT_TRUE(HasLine(text, "ubc_decisions_total{syscall=\"mmap\",verdict=\"refused\"} 5"));
  EXPECT_TRUE(HasLine(text, "ubc_decisions_total{syscall=\"brk\",verdict=\"allowed\"} 0"));
}

TEST(PrometheusTextTest, HistogramBucketsAreCumulative) {
  DecisionMetricsSnapshot s;
  s.latency_buckets[0] = 2;                              // <= 5us
  s.latency_buckets[2] = 3;                              // <= 25us
  s.latency_buckets[kLatencyBucketsSeconds.size()] = 1;  // +Inf
  s.latency_sum_seconds = 1.5;
  s.latency_count = 5;  // a racy snapshot: _count follows the buckets
  const std::string text = RenderPrometheusMetrics({}, s);
  EXPECT_TRUE(HasLine(text, "# TYPE ubc_decision_latency_seconds histogram"));
  EXPECT_TRUE(HasLine(text, "ubc_decision_latency_seconds_bucket{le=\"5e-06\"} 2")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_decision_latency_seconds_bucket{le=\"1e-05\"} 2")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_decision_latency_seconds_bucket{le=\"2.5e-05\"} 5")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_decision_latency_seconds_bucket{le=\"1\"} 5")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_decision_latency_seconds_bucket{le=\"+Inf\"} 6")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_decision_latency_seconds_sum 1.5")) << text;
  EXPECT_TRUE(HasLine(text, "ubc_decision_latency_seconds_count 6")) << text;
}

TEST(PrometheusTextTest, EveryFamilyHasHelpAndTypeOnceAndEndsWithNewline) {
  MetricsContainer a, b;
  a.id = "a";
  b.id = "b";
  b.retired = true;
  const std::string text = RenderPrometheusMetrics({a, b}, DecisionMetricsSnapshot{});
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  size_t types = 0, helps = 0;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind("# TYPE ", 0) == 0) ++types;
    if (l.rfind("# HELP ", 0) == 0) ++helps;
  }
  EXPECT_EQ(types, 16u);
  EXPECT_EQ(helps, 16u);
  EXPECT_TRUE(HasLine(text, "ubc_containers{state=\"retired\"} 1"));
}

TEST(PrometheusTextTest, EveryRowHasItsMarkerAndTrackedRowsTheirValues) {
  MetricsContainer c;
  c.id = "web";
  c.privvmpages = {4196, 4200, 16384, kUnlimitedPages, 7};
  c.measured.numproc = BeancounterValues{5, 9, 64, 64, 3};
  c.numproc_enforced = true;
  c.measured.numfile = BeancounterValues{12, 40, kUnlimitedPages, kUnlimitedPages, 0};
  const std::string text = RenderPrometheusMetrics({c}, DecisionMetricsSnapshot{});
  EXPECT_TRUE(HasLine(
      text,
      "ubc_resource_tracking{container=\"web\",resource=\"numproc\",tracking=\"enforced\"} 1"))
      << text;
  EXPECT_TRUE(HasLine(
      text,
      "ubc_resource_tracking{container=\"web\",resource=\"numfile\",tracking=\"measured\"} 1"));
  EXPECT_TRUE(HasLine(text,
                      "ubc_resource_tracking{container=\"web\",resource=\"kmemsize\",tracking="
                      "\"untracked\"} 1"));
  EXPECT_TRUE(HasLine(text,
                      "ubc_resource_tracking{container=\"web\",resource=\"lockedpages\",tracking="
                      "\"measured\"} 1"));
  EXPECT_TRUE(
      HasLine(text, "ubc_resource_held{container=\"web\",resource=\"numproc\",unit=\"tasks\"} 5"));
  EXPECT_TRUE(HasLine(
      text, "ubc_resource_limit{container=\"web\",resource=\"numproc\",unit=\"tasks\"} 64"));
  EXPECT_TRUE(HasLine(
      text, "ubc_resource_failcnt_total{container=\"web\",resource=\"numproc\",unit=\"tasks\"} 3"));
  EXPECT_TRUE(HasLine(
      text, "ubc_resource_maxheld{container=\"web\",resource=\"numfile\",unit=\"files\"} 40"));
  EXPECT_TRUE(HasLine(
      text, "ubc_resource_held{container=\"web\",resource=\"privvmpages\",unit=\"pages\"} 4196"));
  // Untracked rows have a marker and no values; dummy rows neither.
  EXPECT_EQ(text.find("resource=\"kmemsize\",unit="), std::string::npos);
  EXPECT_EQ(text.find("\"dummy\""), std::string::npos);
}

}  // namespace
}  // namespace ubc
