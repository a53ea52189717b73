#include "ctl/ctl_view.h"

#include <gtest/gtest.h>

#include <string>

#include "core/units.h"

namespace ubc {
namespace {

using nlohmann::json;

json ContainerDoc(const std::string& id, uint64_t held, uint64_t barrier) {
  auto amount = [](uint64_t pages) { return json{{"pages", pages}, {"bytes", pages * 4096}}; };
  return {{"id", id},
          {"state", "running"},
          {"processes", 1},
          {"notify_fds", 1},
          {"profile", "bc2006"},
          {"profile_source", "default"},
          {"profile_source_detail", "default"},
          {"membership", "cgroup"},
          {"beancounters",
           {{"privvmpages",
             {{"held", amount(held)},
              {"maxheld", amount(held)},
              {"barrier", amount(barrier)},
              {"limit", amount(barrier)},
              {"failcnt", 2},
              {"source", "annotation"},
              {"source_detail", "ubc.privvmpages"}}}}}};
}

TEST(CtlViewTest, ParsesContainer) {
  auto c = CtlContainerFromJson(ContainerDoc("a", 10, 100));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->id, "a");
  EXPECT_EQ(c->privvmpages.held_pages, 10u);
  EXPECT_EQ(c->privvmpages.barrier_pages, 100u);
  EXPECT_EQ(c->privvmpages.failcnt, 2u);
  EXPECT_EQ(c->source, "annotation");
  EXPECT_FALSE(CtlContainerFromJson(json{{"id", "a"}}).ok());
  EXPECT_FALSE(CtlContainersFromJson(json::array()).ok());
}

TEST(CtlViewTest, ShmpagesIsParsedAndRenderedWhenPresent) {
  json doc = ContainerDoc("a", 10, 100);
  auto amount = [](uint64_t pages) { return json{{"pages", pages}, {"bytes", pages * 4096}}; };
  doc["beancounters"]["shmpages"] = {
      {"held", amount(7)}, {"maxheld", amount(9)}, {"barrier", amount(50)}, {"limit", amount(60)},
      {"failcnt", 3},      {"source", "api"},      {"source_detail", "api"}};
  auto c = CtlContainerFromJson(doc);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->shmpages.held_pages, 7u);
  EXPECT_EQ(c->shmpages.maxheld_pages, 9u);
  EXPECT_EQ(c->shmpages.limit_pages, 60u);
  EXPECT_EQ(c->shmpages.failcnt, 3u);
  const std::string text = RenderContainer(*c);
  EXPECT_NE(text.find("shmpages"), std::string::npos) << text;
  EXPECT_NE(text.find("limits from api)"), std::string::npos) << text;
  // An older ubcd's document has no shmpages: untracked, not rendered.
  auto old = CtlContainerFromJson(ContainerDoc("b", 10, 100));
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->shmpages.limit_pages, kUnlimitedPages);
  EXPECT_EQ(RenderContainer(*old).find("shmpages"), std::string::npos);
}

TEST(CtlViewTest, LockedpagesIsParsedAndRenderedWhenPresent) {
  json doc = ContainerDoc("a", 10, 100);
  auto amount = [](uint64_t pages) { return json{{"pages", pages}, {"bytes", pages * 4096}}; };
  doc["beancounters"]["lockedpages"] = {{"held", amount(4)},
                                        {"maxheld", amount(8)},
                                        {"barrier", amount(256)},
                                        {"limit", amount(256)},
                                        {"failcnt", 5},
                                        {"source", "annotation"},
                                        {"source_detail", "ubc.lockedpages"}};
  auto c = CtlContainerFromJson(doc);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->lockedpages.held_pages, 4u);
  EXPECT_EQ(c->lockedpages.failcnt, 5u);
  const std::string text = RenderContainer(*c);
  EXPECT_NE(text.find("lockedpages  (pages of 4096 bytes; limits from annotation ubc.lockedpages)"),
            std::string::npos)
      << text;
  auto old = CtlContainerFromJson(ContainerDoc("b", 10, 100));
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(RenderContainer(*old).find("lockedpages"), std::string::npos);
}

TEST(CtlViewTest, StatusMarksTheRowsUbcDoesNotEnforce) {
  json doc = ContainerDoc("web", 10, 100);
  const auto row = [](const char* name, const char* tracking, uint64_t held, uint64_t limit) {
    return json{{"resource", name}, {"unit", "pages"},  {"tracking", tracking}, {"held", held},
                {"maxheld", held},  {"barrier", limit}, {"limit", limit},       {"failcnt", 0}};
  };
  doc["resources"] = {
      row("kmemsize", "measured", 81920, kUnlimitedPages), row("lockedpages", "enforced", 4, 256),
      row("privvmpages", "enforced", 10, 100), row("numtcpsock", "untracked", 0, kUnlimitedPages)};
  auto c = CtlContainerFromJson(doc);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->resources.size(), 4u);
  const std::string text = RenderStatus({*c});
  std::vector<std::string> lines;
  for (size_t at = 0; at < text.size();) {
    const size_t nl = text.find('\n', at);
    lines.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  ASSERT_EQ(lines.size(), 7u) << text;  // version, header, 4 rows, legend
  EXPECT_EQ(lines[0], "Version: 2.5");
  EXPECT_EQ(lines[2].rfind("      web:  kmemsize", 0), 0u) << lines[2];
  EXPECT_EQ(lines[2].substr(lines[2].size() - 8), "measured") << lines[2];
  EXPECT_EQ(lines[3].back(), ' ') << lines[3];  // enforced: no marker
  EXPECT_NE(lines[3].find(" 256 "), std::string::npos) << lines[3];
  EXPECT_EQ(lines[5].substr(lines[5].size() - 9), "untracked") << lines[5];
  EXPECT_EQ(lines[6].rfind("measured: ", 0), 0u) << lines[6];
  // All enforced: no legend.
  doc["resources"] = {row("privvmpages", "enforced", 10, 100)};
  const std::string quiet = RenderStatus({*CtlContainerFromJson(doc)});
  EXPECT_EQ(quiet.find("measured"), std::string::npos) << quiet;
}

TEST(CtlViewTest, TopSortsFullestFirst) {
  json list = {{"containers",
                {ContainerDoc("low", 10, 100), ContainerDoc("high", 90, 100),
                 ContainerDoc("mid", 50, 100)}}};
  auto parsed = CtlContainersFromJson(list);
  ASSERT_TRUE(parsed.ok());
  const std::string text = RenderTop(*parsed, "title");
  const size_t high = text.find("high"), mid = text.find("mid"), low = text.find("low");
  ASSERT_NE(high, std::string::npos);
  EXPECT_LT(high, mid);
  EXPECT_LT(mid, low);
  EXPECT_NE(text.find("90.0%"), std::string::npos) << text;
  EXPECT_EQ(text.rfind("title\nID", 0), 0u) << text;
}

TEST(CtlViewTest, PercentOfUnlimitedIsZero) {
  BeancounterValues v;
  v.held_pages = 5;
  EXPECT_EQ(HeldPercentOfBarrier(v), 0);
  v.barrier_pages = 10;
  EXPECT_EQ(HeldPercentOfBarrier(v), 50);
}

TEST(CtlViewTest, EventsTable) {
  json doc = {{"id", "a"},
              {"events",
               {{{"time", "2026-11-26T00:05:01.000000000Z"},
                 {"time_unix_ns", 1},
                 {"pid", 42},
                 {"comm", "ubc-probe"},
                 {"syscall", "mmap"},
                 {"resource", "privvmpages"},
                 {"requested_pages", 10},
                 {"held_pages", 4090},
                 {"checked", "barrier"},
                 {"bound_pages", 4096},
                 {"errno", 12},
                 {"returned", "ENOMEM"}}}}};
  auto text = RenderEvents(doc);
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_NE(text->find("ubc-probe"), std::string::npos) << *text;
  EXPECT_NE(text->find("ENOMEM"), std::string::npos) << *text;
  EXPECT_FALSE(RenderEvents(json::object()).ok());
}

TEST(CtlViewTest, ErrorReplies) {
  EXPECT_EQ(DescribeErrorReply(404, R"({"error": "no container \"x\""})"),
            "ubcd refused the request (404 Not Found): no container \"x\"");
  EXPECT_NE(DescribeErrorReply(401, R"({"error": "wrong bearer token"})").find("--token-file"),
            std::string::npos);
  EXPECT_EQ(DescribeErrorReply(502, "bad gateway\n"),
            "ubcd refused the request (502 HTTP 502): bad gateway");
}

TEST(CtlViewTest, PercentEncode) {
  EXPECT_EQ(PercentEncodeSegment("web-1_a.b~"), "web-1_a.b~");
  EXPECT_EQ(PercentEncodeSegment("a/b c"), "a%2Fb%20c");
}

}  // namespace
}  // namespace ubc
