#include "core/rest_api.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/embedded_schemas.h"
#include "core/rule_profile.h"
#include "core/schema_validator.h"
#include "core/units.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kRoot = UBC_SOURCE_ROOT;

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

// An in-memory ubcd.
class FakeBackend : public RestBackend {
 public:
  std::map<std::string, ContainerReport> containers;
  std::map<std::string, std::vector<RefusalEvent>> events;
  DecisionMetricsSnapshot metrics;
  int set_calls = 0;
  std::optional<LimitsChange> last_change;  // what the last SetLimits was given

  std::vector<ContainerReport> ListContainers() override {
    std::vector<ContainerReport> out;
    for (auto& [id, c] : containers) out.push_back(c);
    return out;
  }
  std::optional<ContainerReport> GetContainer(const std::string& id) override {
    auto it = containers.find(id);
    if (it == containers.end()) return std::nullopt;
    return it->second;
  }
  bool SetLimits(const std::string& id, const LimitsChange& change) override {
    ++set_calls;
    last_change = change;
    auto it = containers.find(id);
    if (it == containers.end()) return false;
    if (change.privvmpages) {
      it->second.privvmpages.barrier_pages = change.privvmpages->barrier_pages;
      it->second.privvmpages.limit_pages = change.privvmpages->limit_pages;
      it->second.limits.privvmpages_source = LimitsSource::kApi;
      it->second.limits.privvmpages_source_detail = "api";
    }
    if (change.shmpages) {
      it->second.shmpages.barrier_pages = change.shmpages->barrier_pages;
      it->second.shmpages.limit_pages = change.shmpages->limit_pages;
      it->second.limits.shmpages_source = LimitsSource::kApi;
      it->second.limits.shmpages_source_detail = "api";
    }
    return true;
  }
  std::optional<std::vector<RefusalEvent>> Events(const std::string& id) override {
    if (!containers.count(id)) return std::nullopt;
    return events[id];
  }
  DecisionMetricsSnapshot Metrics() override { return metrics; }
};

class HandlerTest : public testing::Test {
 protected:
  void SetUp() override { backend_.containers["c1"] = Sample("c1"); }
  RestResponse Do(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::string& auth = "Bearer sekrit") {
    RestRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    r.authorization = auth;
    return HandleRestRequest(r, backend_, "sekrit");
  }
  void ExpectError(const RestResponse& r, int status, const std::string& needle) {
    EXPECT_EQ(r.http_status, status) << r.body;
    json doc = json::parse(r.body, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << r.body;
    ExpectValid("rest-error.schema.json", doc);
    EXPECT_NE(doc.value("error", "").find(needle), std::string::npos) << r.body;
  }
  FakeBackend backend_;
};

// --- routing

TEST(RouteTest, KnownPaths) {
  EXPECT_EQ(RouteRestPath("/healthz").target->route, RestRoute::kHealthz);
  EXPECT_EQ(RouteRestPath("/metrics").target->route, RestRoute::kMetrics);
  EXPECT_EQ(RouteRestPath("/v1/user_beancounters").target->route, RestRoute::kUserBeancounters);
  EXPECT_EQ(RouteRestPath("/v1/containers").target->route, RestRoute::kContainers);
  EXPECT_EQ(RouteRestPath("/v1/containers?x=1").target->route, RestRoute::kContainers);
  auto one = RouteRestPath("/v1/containers/web-1");
  ASSERT_TRUE(one.target);
  EXPECT_EQ(one.target->route, RestRoute::kContainer);
  EXPECT_EQ(one.target->container_id, "web-1");
  auto ev = RouteRestPath("/v1/containers/web-1/events");
  ASSERT_TRUE(ev.target);
  EXPECT_EQ(ev.target->route, RestRoute::kContainerEvents);
  EXPECT_EQ(ev.target->container_id, "web-1");
}

TEST(RouteTest, IdsArePercentDecoded) {
  auto r = RouteRestPath("/v1/containers/a%20b%3Ac/events");
  ASSERT_TRUE(r.target);
  EXPECT_EQ(r.target->container_id, "a b:c");
}

TEST(RouteTest, IdWithSlashOrControlIsRefused) {
  for (const char* path :
       {"/v1/containers/a%2Fb", "/v1/containers/a%2fb/events", "/v1/containers/a%0Ab"}) {
    auto r = RouteRestPath(path);
    EXPECT_FALSE(r.target) << path;
    EXPECT_EQ(r.error.http_status, 400) << path;
  }
  auto bad = RouteRestPath("/v1/containers/a%zz");
  EXPECT_FALSE(bad.target);
  EXPECT_EQ(bad.error.http_status, 400);
}

TEST(RouteTest, UnknownPathsAre404) {
  for (const char* path :
       {"/", "", "/v1", "/v1/containers/", "/v1/containers//events", "/v1/containers/a/b",
        "/v1/containers/a/events/x", "/v2/containers", "/healthz/", "/v1/containersx"}) {
    auto r = RouteRestPath(path);
    EXPECT_FALSE(r.target) << path;
    EXPECT_EQ(r.error.http_status, 404) << path;
  }
}

TEST(RouteTest, PercentDecode) {
  EXPECT_EQ(PercentDecode("abc"), "abc");
  EXPECT_EQ(PercentDecode("%41%62"), "Ab");
  EXPECT_EQ(PercentDecode("%"), std::nullopt);
  EXPECT_EQ(PercentDecode("%4"), std::nullopt);
  EXPECT_EQ(PercentDecode("%G1"), std::nullopt);
}

TEST(BearerTokenTest, Matches) {
  EXPECT_TRUE(BearerTokenMatches("Bearer abc", "abc"));
  EXPECT_TRUE(BearerTokenMatches("bearer  abc ", "abc"));
  EXPECT_FALSE(BearerTokenMatches("Bearer abd", "abc"));
  EXPECT_FALSE(BearerTokenMatches("Bearer ab", "abc"));
  EXPECT_FALSE(BearerTokenMatches("Bearer abcd", "abc"));
  EXPECT_FALSE(BearerTokenMatches("Basic abc", "abc"));
  EXPECT_FALSE(BearerTokenMatches("", "abc"));
  EXPECT_FALSE(BearerTokenMatches("Bearer ", ""));
}

// --- limits bodies

TEST(LimitsChangeTest, VzctlString) {
  auto c = ParseLimitsChange(R"({"privvmpages": "1024:2048"})", false);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->privvmpages, (BarrierLimit{1024, 2048}));
  auto m = ParseLimitsChange(R"({"privvmpages": "16M"})", true);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->privvmpages, (BarrierLimit{4096, 4096}));
}

TEST(LimitsChangeTest, ObjectWithPagesOrValues) {
  auto c = ParseLimitsChange(R"({"privvmpages": {"barrier": 1024, "limit": 2048}})", false);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->privvmpages, (BarrierLimit{1024, 2048}));
  auto s = ParseLimitsChange(R"({"privvmpages": {"barrier": "16M", "limit": "unlimited"}})", true);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->privvmpages, (BarrierLimit{4096, kUnlimitedPages}));
}

TEST(LimitsChangeTest, ShmpagesAloneOrWithPrivvmpages) {
  auto c = ParseLimitsChange(R"({"shmpages": "8M:12M"})", false);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->shmpages, (BarrierLimit{2048, 3072}));
  EXPECT_FALSE(c->privvmpages.has_value());
  auto both = ParseLimitsChange(
      R"({"privvmpages": "16M", "shmpages": {"barrier": 10, "limit": "unlimited"}})", true);
  ASSERT_TRUE(both.ok()) << both.status().message();
  EXPECT_EQ(both->privvmpages, (BarrierLimit{4096, 4096}));
  EXPECT_EQ(both->shmpages, (BarrierLimit{10, kUnlimitedPages}));
  // PUT replaces the limits object, whose privvmpages is required.
  auto put = ParseLimitsChange(R"({"shmpages": "1"})", true);
  ASSERT_FALSE(put.ok());
  EXPECT_NE(put.status().message().find("/privvmpages: required"), std::string::npos);
  for (const char* body : {R"({"shmpages": "12Q"})", R"({"shmpages": 5})",
                           R"({"shmpages": "2048:1024"})", R"({"shmpages": {"limit": 1}})"}) {
    auto bad = ParseLimitsChange(body, false);
    ASSERT_FALSE(bad.ok()) << body;
    EXPECT_NE(bad.status().message().find("/shmpages"), std::string::npos)
        << body << ": " << bad.status().message();
  }
}

TEST(LimitsChangeTest, NumprocTakesTasks) {
  // An integer is both bounds, in tasks.
  auto n = ParseLimitsChange(R"({"numproc": 240})", false);
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n->numproc, (BarrierLimit{240, 240}));
  EXPECT_FALSE(n->privvmpages.has_value());
  EXPECT_FALSE(n->shmpages.has_value());
  EXPECT_TRUE(n->any());
  for (const auto& [body, want] : std::vector<std::pair<std::string, BarrierLimit>>{
           {R"({"numproc": 0})", {0, 0}},
           {R"({"numproc": "200:240"})", {200, 240}},
           {R"({"numproc": " 64 "})", {64, 64}},
           {R"({"numproc": "unlimited"})", {kUnlimitedPages, kUnlimitedPages}},
           {R"({"numproc": "100:unlimited"})", {100, kUnlimitedPages}},
           {R"({"numproc": {"barrier": 200, "limit": 240}})", {200, 240}},
           {R"({"numproc": {"barrier": "200", "limit": "unlimited"}})", {200, kUnlimitedPages}},
           {R"({"numproc": 9223372036854775807})", {kUnlimitedPages, kUnlimitedPages}},
       }) {
    auto c = ParseLimitsChange(body, false);
    ASSERT_TRUE(c.ok()) << body << ": " << c.status().message();
    EXPECT_EQ(c->numproc, want) << body;
  }
  auto all = ParseLimitsChange(R"({"privvmpages": "16M", "shmpages": "8M", "numproc": 100})", true);
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(all->privvmpages, (BarrierLimit{4096, 4096}));
  EXPECT_EQ(all->shmpages, (BarrierLimit{2048, 2048}));
  EXPECT_EQ(all->numproc, (BarrierLimit{100, 100}));
  auto without = ParseLimitsChange(R"({"privvmpages": "16M"})", true);
  ASSERT_TRUE(without.ok()) << without.status().message();
  EXPECT_FALSE(without->numproc.has_value());
}

TEST(LimitsChangeTest, NumprocPutStillNeedsPrivvmpages) {
  auto put = ParseLimitsChange(R"({"numproc": 100})", true);
  ASSERT_FALSE(put.ok());
  EXPECT_NE(put.status().message().find("/privvmpages: required"), std::string::npos)
      << put.status().message();
  EXPECT_NE(put.status().message().find("numproc and lockedpages when given"), std::string::npos)
      << put.status().message();
  auto patch = ParseLimitsChange(R"({"numproc": 100})", false);
  EXPECT_TRUE(patch.ok()) << patch.status().message();
}

TEST(LimitsChangeTest, NumprocRefusesSuffixesAndNamesTheField) {
  for (const auto& [body, needle] : std::vector<std::pair<std::string, std::string>>{
           {R"({"numproc": "1K"})", "/numproc (\"1K\")"},
           {R"({"numproc": "100:2M"})", "/numproc (\"100:2M\")"},
           {R"({"numproc": "1.5"})", "/numproc (\"1.5\")"},
           {R"({"numproc": -1})", "/numproc (-1)"},
           {R"({"numproc": 1.5})", "/numproc (1.5): must be a number of tasks"},
           {R"({"numproc": true})", "/numproc (true): must be a number of tasks"},
           {R"({"numproc": null})", "/numproc (null): must be a number of tasks"},
           {R"({"numproc": [1]})", "/numproc ([1]): must be a number of tasks"},
           {R"({"numproc": "240:200"})", "/numproc: barrier 240 is above limit 200"},
           {R"({"numproc": {"barrier": 300, "limit": 200}})",
            "/numproc: barrier 300 is above limit 200"},
           {R"({"numproc": {"barrier": "2M", "limit": 300}})", "/numproc/barrier"},
           {R"({"numproc": {"barrier": 1, "limit": 1.5}})", "/numproc/limit"},
           {R"({"numproc": {"barrier": 1}})", "/numproc"},
           {R"({"numproc": {"barrier": 1, "limit": 2, "x": 3}})", "/numproc"},
       }) {
    auto c = ParseLimitsChange(body, false);
    ASSERT_FALSE(c.ok()) << body;
    EXPECT_NE(c.status().message().find(needle), std::string::npos)
        << body << ": " << c.status().message();
  }
}

TEST(LimitsChangeTest, GarbageNamesTheField) {
  for (const auto& [body, needle] : std::vector<std::pair<std::string, std::string>>{
           {"", "empty request body"},
           {"{", "not valid JSON"},
           {"[]", "request body: /"},
           {"{}", "request body: /"},
           {R"({"privvmpages": "12Q"})", "/privvmpages"},
           {R"({"privvmpages": 5})", "/privvmpages"},
           {R"({"privvmpages": {"barrier": 1}})", "/privvmpages"},
           {R"({"privvmpages": {"barrier": -1, "limit": 2}})", "/privvmpages"},
           {R"({"privvmpages": {"barrier": 1, "limit": 2, "x": 1}})", "/privvmpages"},
           {R"({"privvmpages": "2048:1024"})", "/privvmpages: barrier 2048 is above limit 1024"},
           {R"({"privmpages": "1"})", "/privmpages"},
       }) {
    auto c = ParseLimitsChange(body, false);
    ASSERT_FALSE(c.ok()) << body;
    EXPECT_NE(c.status().message().find(needle), std::string::npos)
        << body << ": " << c.status().message();
  }
}

TEST(LimitsChangeTest, PutNeedsTheWholeObject) {
  // Today the object has one field, so a PUT without it is an empty object.
  auto c = ParseLimitsChange(R"({})", true);
  ASSERT_FALSE(c.ok());
}

// --- response JSON against the schemas

TEST(ResponseJsonTest, ListAndOneShareTheContainerDefinition) {
  // The two schemas cannot $ref each other (each is validated alone), so the
  // container definition is duplicated; this keeps the copies identical.
  json one = json::parse(*EmbeddedFile("rest-container.schema.json"));
  json list = json::parse(*EmbeddedFile("rest-containers.schema.json"));
  for (const char* key : {"type", "additionalProperties", "required", "properties"}) {
    EXPECT_EQ(one[key], list["definitions"]["container"][key]) << key;
  }
  for (const auto& [name, def] : one["definitions"].items()) {
    EXPECT_EQ(def, list["definitions"][name]) << name;
  }
}

TEST(ResponseJsonTest, EventsMatchSchema) {
  RefusalEvent e;
  e.time_unix_ns = 1764115501123456789;
  e.pid = 42;
  e.comm = "ubc-probe";
  e.syscall = "mmap";
  e.requested_pages = 10;
  e.held_pages = 4090;
  e.checked = ChargeCheck::kBarrier;
  e.bound_pages = 4096;
  e.error_number = ENOMEM;
  RefusalEvent brk = e;
  brk.syscall = "brk";
  brk.error_number = 0;
  RefusalEvent exec = e;
  exec.syscall = "execve";
  exec.checked = ChargeCheck::kLimit;
  exec.error_number = 0;
  exec.signal_number = SIGKILL;
  nlohmann::ordered_json doc = RestEventsJson("c1", {e, brk, exec});
  ExpectValid("rest-events.schema.json", doc);
  EXPECT_EQ(doc["events"][0]["time"], "2025-11-26T00:05:01.123456789Z");
  EXPECT_EQ(doc["events"][0]["returned"], "ENOMEM");
  EXPECT_EQ(doc["events"][0]["errno"], ENOMEM);
  EXPECT_EQ(doc["events"][0]["checked"], "barrier");
  EXPECT_EQ(doc["events"][0]["signal"], 0);
  EXPECT_EQ(doc["events"][1]["returned"], "old break");
  EXPECT_EQ(doc["events"][2]["returned"], "killed (signal 9)");
  EXPECT_EQ(doc["events"][2]["signal"], SIGKILL);
  EXPECT_EQ(doc["events"][2]["errno"], 0);
  ExpectValid("rest-events.schema.json", RestEventsJson("c1", {}));
}

TEST(ResponseJsonTest, Rfc3339) {
  EXPECT_EQ(FormatRfc3339Nanos(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(FormatRfc3339Nanos(1000000001), "1970-01-01T00:00:01.000000001Z");
}

// --- the handler

TEST_F(HandlerTest, Healthz) {
  RestResponse r = Do("GET", "/healthz");
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.body, "ok\n");
}

TEST_F(HandlerTest, GetContainerAndList) {
  RestResponse one = Do("GET", "/v1/containers/c1");
  EXPECT_EQ(one.http_status, 200);
  EXPECT_EQ(one.content_type, "application/json");
  ExpectValid("rest-container.schema.json", json::parse(one.body));
  RestResponse list = Do("GET", "/v1/containers", "", "");
  EXPECT_EQ(list.http_status, 200);
  EXPECT_EQ(json::parse(list.body)["containers"].size(), 1u);
}

TEST_F(HandlerTest, UnknownContainerIs404) {
  ExpectError(Do("GET", "/v1/containers/nope"), 404, "no container \"nope\"");
  ExpectError(Do("GET", "/v1/containers/nope/events"), 404, "nope");
  ExpectError(Do("PATCH", "/v1/containers/nope", R"({"privvmpages": "1"})"), 404, "nope");
  // A huge id is echoed cut short, never whole.
  const std::string huge(1 << 20, 'a');
  RestResponse r = Do("GET", "/v1/containers/" + huge);
  ExpectError(r, 404, "no container \"" + std::string(200, 'a') + "...\"");
  EXPECT_LT(r.body.size(), 512u);
}

TEST_F(HandlerTest, BadMethodIs405WithAllow) {
  RestResponse r = Do("DELETE", "/v1/containers/c1");
  ExpectError(r, 405, "DELETE");
  EXPECT_EQ(r.allow, "GET, PATCH, PUT");
  RestResponse m = Do("POST", "/metrics");
  ExpectError(m, 405, "POST");
  EXPECT_EQ(m.allow, "GET");
  EXPECT_EQ(Do("PATCH", "/v1/containers").allow, "GET");
}

TEST_F(HandlerTest, UserBeancountersIsTheProcLayout) {
  RestResponse r = Do("GET", "/v1/user_beancounters");
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.content_type.rfind("text/plain", 0), 0u);
  EXPECT_EQ(r.body.rfind("Version: 2.5\n", 0), 0u) << r.body;
  EXPECT_NE(r.body.find("       c1:  kmemsize"), std::string::npos) << r.body;
}

TEST_F(HandlerTest, Metrics) {
  RestResponse r = Do("GET", "/metrics");
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.content_type.rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_NE(
      r.body.find("ubc_beancounter_failcnt_total{container=\"c1\",resource=\"privvmpages\"} 3"),
      std::string::npos)
      << r.body;
}

TEST_F(HandlerTest, Events) {
  RefusalEvent e;
  e.syscall = "mmap";
  e.error_number = ENOMEM;
  backend_.events["c1"] = {e};
  RestResponse r = Do("GET", "/v1/containers/c1/events");
  EXPECT_EQ(r.http_status, 200);
  json doc = json::parse(r.body);
  ExpectValid("rest-events.schema.json", doc);
  EXPECT_EQ(doc["events"].size(), 1u);
}

TEST_F(HandlerTest, PatchChangesLimits) {
  RestResponse r = Do("PATCH", "/v1/containers/c1", R"({"privvmpages": "1024:2048"})");
  EXPECT_EQ(r.http_status, 200) << r.body;
  json doc = json::parse(r.body);
  ExpectValid("rest-container.schema.json", doc);
  EXPECT_EQ(doc["beancounters"]["privvmpages"]["barrier"]["pages"], 1024);
  EXPECT_EQ(doc["beancounters"]["privvmpages"]["limit"]["pages"], 2048);
  EXPECT_EQ(doc["beancounters"]["privvmpages"]["source"], "api");
}

TEST_F(HandlerTest, PatchChangesShmpagesOnly) {
  RestResponse r = Do("PATCH", "/v1/containers/c1", R"({"shmpages": "100:200"})");
  EXPECT_EQ(r.http_status, 200) << r.body;
  json doc = json::parse(r.body);
  ExpectValid("rest-container.schema.json", doc);
  EXPECT_EQ(doc["beancounters"]["shmpages"]["barrier"]["pages"], 100);
  EXPECT_EQ(doc["beancounters"]["shmpages"]["limit"]["pages"], 200);
  EXPECT_EQ(doc["beancounters"]["shmpages"]["source"], "api");
  EXPECT_NE(doc["beancounters"]["privvmpages"]["source"], "api");
}

TEST_F(HandlerTest, PatchPassesNumprocToTheBackend) {
  RestResponse r = Do("PATCH", "/v1/containers/c1", R"({"numproc": "200:240"})");
  EXPECT_EQ(r.http_status, 200) << r.body;
  ASSERT_TRUE(backend_.last_change.has_value());
  EXPECT_EQ(backend_.last_change->numproc, (BarrierLimit{200, 240}));
  EXPECT_FALSE(backend_.last_change->privvmpages.has_value());
  EXPECT_FALSE(backend_.last_change->shmpages.has_value());
  ExpectError(Do("PATCH", "/v1/containers/c1", R"({"numproc": "1K"})"), 400, "/numproc");
  EXPECT_EQ(backend_.set_calls, 1);
  RestResponse put =
      Do("PUT", "/v1/containers/c1", R"({"privvmpages": "1024:2048", "numproc": 64})");
  EXPECT_EQ(put.http_status, 200) << put.body;
  EXPECT_EQ(backend_.last_change->numproc, (BarrierLimit{64, 64}));
  ExpectError(Do("PUT", "/v1/containers/c1", R"({"numproc": 64})"), 400, "/privvmpages");
  EXPECT_EQ(backend_.set_calls, 2);
}

TEST_F(HandlerTest, PutNeedsEveryField) {
  ExpectError(Do("PUT", "/v1/containers/c1", R"({})"), 400, "/");
  RestResponse ok =
      Do("PUT", "/v1/containers/c1", R"({"privvmpages": {"barrier": 1, "limit": 2}})");
  EXPECT_EQ(ok.http_status, 200) << ok.body;
}

TEST_F(HandlerTest, MutationsNeedTheToken) {
  RestResponse none = Do("PATCH", "/v1/containers/c1", R"({"privvmpages": "1"})", "");
  ExpectError(none, 401, "Bearer");
  EXPECT_TRUE(none.www_authenticate);
  RestResponse wrong = Do("PUT", "/v1/containers/c1", R"({"privvmpages": "1"})", "Bearer nope");
  ExpectError(wrong, 401, "wrong bearer token");
  EXPECT_TRUE(wrong.www_authenticate);
  EXPECT_EQ(backend_.set_calls, 0);
  // Reads need no token.
  EXPECT_EQ(Do("GET", "/v1/containers/c1", "", "").http_status, 200);
}

TEST_F(HandlerTest, GarbageBodyIs400AndChangesNothing) {
  ExpectError(Do("PATCH", "/v1/containers/c1", "garbage"), 400, "not valid JSON");
  ExpectError(Do("PATCH", "/v1/containers/c1", R"({"privvmpages": "12Q"})"), 400, "/privvmpages");
  EXPECT_EQ(backend_.set_calls, 0);
  EXPECT_EQ(backend_.containers["c1"].privvmpages.barrier_pages, 4096u);
}

TEST_F(HandlerTest, OversizedBodyIs413) {
  RestRequest r;
  r.method = "PATCH";
  r.path = "/v1/containers/c1";
  r.authorization = "Bearer sekrit";
  r.body_too_large = true;
  ExpectError(HandleRestRequest(r, backend_, "sekrit"), 413, "65536");
  r.method = "GET";
  ExpectError(HandleRestRequest(r, backend_, "sekrit"), 413, "65536");
}

// --- schema fixtures: tests/fixtures/schemas/<schema>/valid/*.json must pass;
// invalid/X.json must fail naming the JSON pointer in X.json.pointer.

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void CheckFixtures(const std::string& schema,
                   const std::function<Status(const std::string&)>& check) {
  const fs::path base = kRoot / "tests/fixtures/schemas" / schema;
  size_t valid = 0, invalid = 0;
  for (const std::string kind : {"valid", "invalid"}) {
    for (const auto& entry : fs::directory_iterator(base / kind)) {
      if (entry.path().extension() != ".json") continue;
      Status s = check(ReadFileForTest(entry.path()));
      if (kind == "valid") {
        ++valid;
        EXPECT_TRUE(s.ok()) << entry.path() << ": " << s.message();
        continue;
      }
      ++invalid;
      ASSERT_FALSE(s.ok()) << entry.path();
      fs::path pointer_file = entry.path();
      pointer_file += ".pointer";
      const std::string pointer = Trim(ReadFileForTest(pointer_file));
      ASSERT_FALSE(pointer.empty()) << pointer_file;
      const bool names_pointer = s.message().find(": " + pointer + ": ") != std::string::npos ||
                                 s.message().find(": " + pointer + " (") != std::string::npos;
      EXPECT_TRUE(names_pointer) << entry.path() << " wants " << pointer
                                 << ", got: " << s.message();
    }
  }
  EXPECT_GE(valid, 3u) << schema;
  EXPECT_GE(invalid, 5u) << schema;
}

Status ValidateWith(const std::string& schema, const std::string& text) {
  auto v = SchemaValidator::Create(schema + ".schema.json");
  if (!v.ok()) return v.status();
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return Status::Error("fixture is not JSON");
  return (*v)->Validate(doc, "fixture");
}

TEST(RestSchemaFixturesTest, LimitsRequest) {
  // Through the parser: schema plus the checks no schema can state (barrier <= limit).
  CheckFixtures("rest-limits",
                [](const std::string& text) { return ParseLimitsChange(text, false).status(); });
}

TEST(RestSchemaFixturesTest, Responses) {
  for (const char* schema : {"rest-container", "rest-containers", "rest-events", "rest-error"}) {
    CheckFixtures(schema, [schema](const std::string& text) { return ValidateWith(schema, text); });
  }
}

TEST(LimitsChangeTest, LockedpagesTakesVzSizesAndObjects) {
  auto pair = ParseLimitsChange(R"({"lockedpages": "8M:16M"})", false);
  ASSERT_TRUE(pair.ok()) << pair.status().message();
  EXPECT_EQ(pair->lockedpages, (BarrierLimit{2048, 4096}));
  EXPECT_FALSE(pair->privvmpages.has_value());
  auto object =
      ParseLimitsChange(R"({"lockedpages": {"barrier": 100, "limit": "unlimited"}})", false);
  ASSERT_TRUE(object.ok()) << object.status().message();
  EXPECT_EQ(object->lockedpages, (BarrierLimit{100, kUnlimitedPages}));
  auto put = ParseLimitsChange(R"({"privvmpages": "1G", "lockedpages": "64M"})", true);
  ASSERT_TRUE(put.ok()) << put.status().message();
  EXPECT_EQ(put->lockedpages, (BarrierLimit{16384, 16384}));
  auto bad = ParseLimitsChange(R"({"lockedpages": "8X"})", false);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/lockedpages"), std::string::npos)
      << bad.status().message();
  auto number = ParseLimitsChange(R"({"lockedpages": 12})", false);
  ASSERT_FALSE(number.ok());
  EXPECT_NE(number.status().message().find("/lockedpages (12)"), std::string::npos)
      << number.status().message();
}

}  // namespace
}  // namespace ubc
