#include "supervisor/container_registry.h"

#include <gtest/gtest.h>

#include "core/stack_headroom.h"
#include "tests/unit/fake_process_view.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

ContainerProcessState State(const std::string& id, const std::string& privvmpages = "") {
  ContainerProcessState s;
  s.id = id;
  s.status = "creating";
  s.pid = 4242;
  if (!privvmpages.empty()) s.annotations["ubc.privvmpages"] = privvmpages;
  return s;
}

SupervisorConfig Config(uint32_t retire_after_seconds = 60) {
  Result<SupervisorConfig> c = DefaultSupervisorConfig();
  EXPECT_TRUE(c.ok());
  SupervisorConfig config = *c;
  config.retire_after_seconds = retire_after_seconds;
  return config;
}

class ContainerRegistryTest : public ::testing::Test {
 protected:
  ContainerRegistryTest() : view_(processes_) {}
  FakeProcesses processes_;
  FakeProcessView view_;
};

TEST_F(ContainerRegistryTest, OneContainerPerIdWhateverTheNumberOfFds) {
  ContainerRegistry registry(Config(), view_, {});
  std::shared_ptr<Container> a = registry.Attach(State("c1", "1000:1100"), 1, false);
  std::shared_ptr<Container> b = registry.Attach(State("c1", "1000:1100"), 1, false);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->notify_fds.load(), 2);
  EXPECT_EQ(processes_.members_made, 1);
  EXPECT_EQ(registry.All().size(), 1u);
  EXPECT_EQ(registry.Find("c1"), a);
  EXPECT_EQ(registry.Find("c2"), nullptr);
}

TEST_F(ContainerRegistryTest, LimitsComeFromTheAnnotationElseTheDefaults) {
  ContainerRegistry registry(Config(), view_, {});
  std::shared_ptr<Container> annotated = registry.Attach(State("a", "1000:1100"), 1, false);
  std::shared_ptr<Container> plain = registry.Attach(State("p"), 1, false);
  ContainerReport r = registry.Report(*annotated);
  EXPECT_EQ(r.privvmpages.barrier_pages, 1000u);
  EXPECT_EQ(r.privvmpages.limit_pages, 1100u);
  EXPECT_EQ(r.limits.privvmpages_source, LimitsSource::kAnnotation);
  EXPECT_EQ(r.membership, "fake processes");
  ContainerReport d = registry.Report(*plain);
  EXPECT_EQ(d.privvmpages.barrier_pages, 65536u);  // the embedded default config
  EXPECT_EQ(d.limits.privvmpages_source, LimitsSource::kDefault);
}

TEST_F(ContainerRegistryTest, AContainersDFileMatchesByIdWhenNoAnnotationSays) {
  TempDir dir("ubc-registry-test");
  dir.Write("10-db.json", R"({"match": {"ids": ["db-*"]}, "privvmpages": "2000:2200"})");
  SupervisorConfig config = Config();
  config.containers_dir = dir.path().string();
  ContainerRegistry registry(config, view_, {});
  ASSERT_TRUE(registry.LoadContainerConfigs().ok());
  std::shared_ptr<Container> c = registry.Attach(State("db-1"), 1, false);
  EXPECT_EQ(registry.Report(*c).privvmpages.barrier_pages, 2000u);
  EXPECT_EQ(registry.Report(*c).limits.privvmpages_source, LimitsSource::kConfigFile);
}

TEST_F(ContainerRegistryTest, TheLastFdRetiresAndANewContainerOfTheIdStartsAfresh) {
  ContainerRegistry registry(Config(), view_, {});
  std::shared_ptr<Container> c = registry.Attach(State("c1", "1000"), 1, false);
  (void)registry.Attach(State("c1", "1000"), 1, false);
  EXPECT_EQ(registry.Detach(c), 1);
  EXPECT_FALSE(registry.Report(*c).retired);
  EXPECT_EQ(registry.Detach(c), 0);
  EXPECT_TRUE(registry.Report(*c).retired);
  std::shared_ptr<Container> again = registry.Attach(State("c1", "1000"), 1, false);
  EXPECT_NE(again, c);
  EXPECT_FALSE(registry.Report(*again).retired);
}

TEST_F(ContainerRegistryTest, RetiredContainersExpire) {
  ContainerRegistry registry(Config(/*retire_after_seconds=*/0), view_, {});
  std::shared_ptr<Container> c = registry.Attach(State("c1", "1000"), 1, false);
  EXPECT_EQ(registry.Detach(c), 0);
  EXPECT_EQ(registry.Find("c1"), nullptr);
  EXPECT_TRUE(registry.All().empty());
}

TEST_F(ContainerRegistryTest, LiveLimitsApplyAndArePersisted) {
  ContainerRegistry registry(Config(), view_, {});
  std::shared_ptr<Container> c = registry.Attach(State("c1", "1000"), 1, false);
  EXPECT_FALSE(registry.SetLimits("nope", {BarrierLimit{1, 2}, std::nullopt}));
  ASSERT_TRUE(registry.SetLimits("c1", {BarrierLimit{500, 600}, std::nullopt}));
  ContainerReport r = registry.Report(*c);
  EXPECT_EQ(r.privvmpages.barrier_pages, 500u);
  EXPECT_EQ(r.limits.privvmpages_source, LimitsSource::kApi);
  PersistedState state = registry.Persistable();
  ASSERT_TRUE(state["c1"].api_privvmpages.has_value());
  EXPECT_EQ(state["c1"].api_privvmpages->limit_pages, 600u);
  EXPECT_FALSE(state["c1"].api_shmpages.has_value());

  // shmpages alone: privvmpages keeps its live value.
  ASSERT_TRUE(registry.SetLimits("c1", {std::nullopt, BarrierLimit{70, 80}}));
  r = registry.Report(*c);
  EXPECT_EQ(r.shmpages.barrier_pages, 70u);
  EXPECT_EQ(r.shmpages.limit_pages, 80u);
  EXPECT_EQ(r.limits.shmpages_source, LimitsSource::kApi);
  EXPECT_EQ(r.privvmpages.barrier_pages, 500u);
  state = registry.Persistable();
  ASSERT_TRUE(state["c1"].api_shmpages.has_value());
  EXPECT_EQ(*state["c1"].api_shmpages, (BarrierLimit{70, 80}));
}

TEST_F(ContainerRegistryTest, ARecoveredContainerGetsItsRecordBackAndANewOneDoesNot) {
  PersistedState restored;
  restored["c1"].maxheld_pages = 777;
  restored["c1"].failcnt = 5;
  restored["c1"].api_privvmpages = BarrierLimit{300, 400};
  restored["c1"].api_shmpages = BarrierLimit{30, 40};
  restored["c1"].shm_maxheld_pages = 12;
  ContainerRegistry registry(Config(), view_, restored);
  std::shared_ptr<Container> recovered = registry.Attach(State("c1", "1000"), 1, true);
  ContainerReport r = registry.Report(*recovered);
  EXPECT_EQ(r.privvmpages.maxheld_pages, 777u);
  EXPECT_EQ(r.privvmpages.failcnt, 5u);
  EXPECT_EQ(r.privvmpages.barrier_pages, 300u);  // the live change wins over the annotation
  EXPECT_EQ(r.shmpages.barrier_pages, 30u);
  EXPECT_EQ(r.limits.shmpages_source, LimitsSource::kApi);
  EXPECT_EQ(r.shmpages.maxheld_pages, 12u);
  (void)registry.Detach(recovered);
  std::shared_ptr<Container> fresh = registry.Attach(State("c1", "1000"), 1, false);
  EXPECT_EQ(registry.Report(*fresh).privvmpages.failcnt, 0u);
  EXPECT_EQ(registry.Report(*fresh).privvmpages.barrier_pages, 1000u);
}

TEST_F(ContainerRegistryTest, BadAnnotationsFallBackToFilesAndDefaults) {
  ContainerRegistry registry(Config(), view_, {});
  std::shared_ptr<Container> c = registry.Attach(State("c1", "12Q"), 1, false);
  EXPECT_EQ(registry.Report(*c).limits.privvmpages_source, LimitsSource::kDefault);
}

TEST_F(ContainerRegistryTest, TheHeadroomIsTheInitsStackHardLimitWhenFiniteAndSane) {
  ContainerRegistry registry(Config(), view_, {});
  processes_.stack_hard_limit_bytes = uint64_t{16} << 20;
  EXPECT_EQ(registry.Attach(State("s16"), 1, false)->accounting->fast_path_headroom_pages(), 4096u);
  processes_.stack_hard_limit_bytes = kUnlimitedStackBytes;
  EXPECT_EQ(registry.Attach(State("unl"), 1, false)->accounting->fast_path_headroom_pages(),
            kDefaultStackHeadroomPages);
  processes_.stack_hard_limit_bytes = uint64_t{1} << 30;  // past the 64 MiB cap
  EXPECT_EQ(registry.Attach(State("big"), 1, false)->accounting->fast_path_headroom_pages(),
            kDefaultStackHeadroomPages);
  processes_.stack_hard_limit_bytes.reset();  // unreadable
  EXPECT_EQ(registry.Attach(State("unk"), 1, false)->accounting->fast_path_headroom_pages(),
            kDefaultStackHeadroomPages);
}

TEST_F(ContainerRegistryTest, AProcessIsFoundInTheRunningContainerThatHoldsIt) {
  ContainerRegistry registry(Config(), view_, {});
  std::shared_ptr<Container> c = registry.Attach(State("c1"), 1, false);
  FakeLocation member(FakeProcesses::kTgid);
  FakeLocation stranger(FakeProcesses::kTgid + 1);
  EXPECT_EQ(registry.FindByProcess(member), c);
  EXPECT_EQ(registry.FindByProcess(stranger), nullptr);
  (void)registry.Detach(c);  // retired: its processes are gone
  EXPECT_EQ(registry.FindByProcess(member), nullptr);
}

}  // namespace
}  // namespace ubc
