#include "core/container_report.h"

#include <gtest/gtest.h>

#include <string>

#include "core/rule_profile.h"
#include "core/schema_validator.h"
#include "core/units.h"

namespace ubc {
namespace {

using nlohmann::json;

void ExpectValid(const std::string& schema, const nlohmann::ordered_json& ordered) {
  const json doc = json::parse(ordered.dump());
  auto v = SchemaValidator::Create(schema);
  ASSERT_TRUE(v.ok()) << v.status().message();
  Status s = (*v)->Validate(doc, schema);
  EXPECT_TRUE(s.ok()) << s.message() << "\n" << doc.dump(2);
}

ContainerReport Sample(const std::string& id) {
  ContainerReport c;
  c.id = id;
  c.notify_fds = 1;
  c.processes = 2;
  c.profile = "bc2006";
  c.membership = "cgroup /sys/fs/cgroup/x";
  c.limits.privvmpages = {4096, 5120};
  c.limits.profile = &Bc2006Profile();
  c.limits.privvmpages_source = LimitsSource::kAnnotation;
  c.limits.privvmpages_source_detail = "ubc.privvmpages";
  c.limits.profile_source = LimitsSource::kDefault;
  c.limits.profile_source_detail = "default";
  c.privvmpages = {100, 200, 4096, 5120, 3};
  return c;
}

TEST(ResponseJsonTest, ContainerMatchesSchema) {
  nlohmann::ordered_json doc = ContainerReportJson(Sample("c1"));
  ExpectValid("rest-container.schema.json", doc);
  const json& p = doc["beancounters"]["privvmpages"];
  EXPECT_EQ(p["held"]["pages"], 100);
  EXPECT_EQ(p["held"]["bytes"], 100 * 4096);
  EXPECT_EQ(p["barrier"]["pages"], 4096);
  EXPECT_EQ(p["limit"]["bytes"], 5120 * 4096);
  EXPECT_EQ(p["failcnt"], 3);
  EXPECT_EQ(p["source"], "annotation");
  EXPECT_EQ(p["source_detail"], "ubc.privvmpages");
  EXPECT_EQ(doc["state"], "running");
  EXPECT_EQ(doc["profile_source"], "default");
}

TEST(ResponseJsonTest, ShmpagesIsReportedWithItsSource) {
  ContainerReport c = Sample("c1");
  c.limits.shmpages = {2048, 3072};
  c.limits.shmpages_source = LimitsSource::kConfigFile;
  c.limits.shmpages_source_detail = "/etc/ubc/containers.d/a.json";
  c.shmpages = {512, 1024, 2048, 3072, 4};
  nlohmann::ordered_json doc = ContainerReportJson(c);
  ExpectValid("rest-container.schema.json", doc);
  const json& s = doc["beancounters"]["shmpages"];
  EXPECT_EQ(s["held"]["pages"], 512);
  EXPECT_EQ(s["maxheld"]["bytes"], 1024 * 4096);
  EXPECT_EQ(s["barrier"]["pages"], 2048);
  EXPECT_EQ(s["limit"]["pages"], 3072);
  EXPECT_EQ(s["failcnt"], 4);
  EXPECT_EQ(s["source"], "config-file");
  EXPECT_EQ(s["source_detail"], "/etc/ubc/containers.d/a.json");
  EXPECT_EQ(doc["beancounters"]["privvmpages"]["held"]["pages"], 100);
}

TEST(ResponseJsonTest, ResourcesListEveryRowButTheDummiesWithItsMarker) {
  ContainerReport c = Sample("m");
  c.measured.numfile = BeancounterValues{7, 9, kUnlimitedPages, kUnlimitedPages, 0};
  c.measured.numproc = BeancounterValues{3, 5, 32, 32, 1};
  c.measured.kmemsize = BeancounterValues{81920, 90112, kUnlimitedPages, kUnlimitedPages, 0};
  const nlohmann::ordered_json doc = ContainerReportJson(c);
  ExpectValid("rest-container.schema.json", doc);
  const auto& rows = doc["resources"];
  ASSERT_EQ(rows.size(), 20u);
  EXPECT_EQ(rows[0]["resource"], "kmemsize");
  EXPECT_EQ(rows[0]["unit"], "bytes");
  EXPECT_EQ(rows[0]["tracking"], "measured");
  EXPECT_EQ(rows[0]["held"], 81920);
  EXPECT_EQ(rows[1]["resource"], "lockedpages");
  EXPECT_EQ(rows[1]["tracking"], "measured");  // VmLck, with no limit
  EXPECT_EQ(rows[1]["limit"], kUnlimitedPages);
  EXPECT_EQ(rows[2]["resource"], "privvmpages");
  EXPECT_EQ(rows[2]["tracking"], "enforced");
  EXPECT_EQ(rows[2]["failcnt"], 3);
  EXPECT_EQ(rows[4]["resource"], "numproc");   // the dummy before it is left out
  EXPECT_EQ(rows[4]["tracking"], "enforced");  // a finite limit
  EXPECT_EQ(rows[4]["limit"], 32);
  EXPECT_EQ(rows[18]["resource"], "numfile");
  EXPECT_EQ(rows[18]["maxheld"], 9);
  EXPECT_EQ(rows[19]["resource"], "numiptent");
}

TEST(ResponseJsonTest, UnlimitedHasNullBytes) {
  ContainerReport c = Sample("c1");
  c.privvmpages.limit_pages = kUnlimitedPages;
  c.retired = true;
  nlohmann::ordered_json doc = ContainerReportJson(c);
  ExpectValid("rest-container.schema.json", doc);
  EXPECT_EQ(doc["beancounters"]["privvmpages"]["limit"]["pages"], kUnlimitedPages);
  EXPECT_TRUE(doc["beancounters"]["privvmpages"]["limit"]["bytes"].is_null());
  EXPECT_EQ(doc["state"], "retired");
}

TEST(ResponseJsonTest, ListMatchesSchema) {
  ExpectValid("rest-containers.schema.json", ContainerReportsJson({}));
  ExpectValid("rest-containers.schema.json", ContainerReportsJson({Sample("a"), Sample("b")}));
}

TEST(ResponseJsonTest, MeminfoIsShownWithItsSource) {
  ContainerReport c;
  c.id = "web";
  c.profile = "bc2006";
  c.limits.meminfo = MeminfoMode{MeminfoMode::Kind::kPages, 1024};
  c.limits.meminfo_source = LimitsSource::kAnnotation;
  c.limits.meminfo_source_detail = "ubc.meminfo";
  const nlohmann::ordered_json doc = ContainerReportJson(c);
  EXPECT_EQ(doc["meminfo"]["mode"], "pages:1024");
  EXPECT_EQ(doc["meminfo"]["source"], "annotation");
  EXPECT_EQ(doc["meminfo"]["source_detail"], "ubc.meminfo");
}

}  // namespace
}  // namespace ubc
