// FakeProcessView (test-only): a ProcessView over an in-memory set of
// processes, so that the supervisor decides scripted notifications in unit
// tests without /proc.
//
// Every container it makes members for sees the same FakeProcesses: one
// process (tgid kTgid) whose statm data is `data_pages`, or a failure to read
// it (`fail`), or an exception (`throw_in_sample`). Targets read the same
// data; Contains() says `member_tgid` is theirs. Thread-safe: the test thread changes FakeProcesses
// under its mutex while notify threads read it.
#pragma once

#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>

#include "supervisor/process_view.h"

namespace ubc {

struct FakeProcesses {
  static constexpr int kTgid = 100;
  std::mutex mu;
  uint64_t data_pages = 0;
  bool fail = false;             // Sample() and reads fail (/proc unreadable)
  bool throw_in_sample = false;  // Sample() throws std::bad_alloc
  int members_made = 0;
  int samples = 0;
  int member_tgid = kTgid;                         // the one process Contains() says is a member
  std::optional<uint64_t> stack_hard_limit_bytes;  // nullopt: unreadable
  int located = 0;                                 // Locate() calls
};

class FakeLocation : public ProcessLocation {
 public:
  explicit FakeLocation(int tgid) : tgid_(tgid) {}
  int tgid() const override { return tgid_; }
  std::optional<std::string_view> CgroupPath(std::string_view) override { return std::nullopt; }
  bool PidNamespace(dev_t*, ino_t*) override { return false; }

 private:
  int tgid_;
};

class FakeContainerMembers : public ContainerMembers {
 public:
  explicit FakeContainerMembers(FakeProcesses& p) : p_(p) {}
  Status Sample(MembersSample* out) override {
    std::lock_guard<std::mutex> lock(p_.mu);
    ++p_.samples;
    if (p_.throw_in_sample) throw std::bad_alloc();
    if (p_.fail) return Status::Error("/proc unreadable");
    out->data_pages = p_.data_pages;
    out->processes = 1;
    ++out->generation;
    out->data_pages_by_tgid.assign(1, {FakeProcesses::kTgid, p_.data_pages});
    return Status::Ok();
  }
  CallProgress Progress(int, int, const std::array<uint64_t, 6>&) override {
    return CallProgress::kDone;
  }
  int ThreadGroupOf(int) override { return FakeProcesses::kTgid; }
  void ExpectNewProcess(int) override {}
  bool ChildrenReaped(int) override { return false; }
  void NoteProcess(int) override {}
  std::string Describe() const override { return "fake processes"; }
  bool Contains(ProcessLocation& where) override {
    std::lock_guard<std::mutex> lock(p_.mu);
    return where.tgid() == p_.member_tgid;
  }

 private:
  FakeProcesses& p_;
};

class FakeCallTarget : public CallTarget {
 public:
  explicit FakeCallTarget(FakeProcesses& p) : p_(p) {}
  void Reset(uint64_t, int) override {}
  std::string Comm() override { return "fake"; }
  Result<uint64_t> DataPages() override {
    std::lock_guard<std::mutex> lock(p_.mu);
    if (p_.fail) return Status::Error("gone");
    return p_.data_pages;
  }
  Result<std::vector<MapEntry>> Maps() override { return std::vector<MapEntry>{}; }
  Result<ImageFacts> Image() override { return ImageFacts{0, 0x555555000000}; }

 private:
  FakeProcesses& p_;
};

class FakeProcessView : public ProcessView {
 public:
  explicit FakeProcessView(FakeProcesses& p) : p_(p) {}
  std::unique_ptr<ContainerMembers> Members(int, int) override {
    std::lock_guard<std::mutex> lock(p_.mu);
    ++p_.members_made;
    return std::make_unique<FakeContainerMembers>(p_);
  }
  std::unique_ptr<CallTarget> Target(const Notifier&) override {
    return std::make_unique<FakeCallTarget>(p_);
  }
  std::unique_ptr<ProcessLocation> Locate(int tgid) override {
    std::lock_guard<std::mutex> lock(p_.mu);
    ++p_.located;
    return std::make_unique<FakeLocation>(tgid);
  }
  std::optional<uint64_t> StackHardLimitBytes(int) override {
    std::lock_guard<std::mutex> lock(p_.mu);
    return p_.stack_hard_limit_bytes;
  }

 private:
  FakeProcesses& p_;
};

}  // namespace ubc
