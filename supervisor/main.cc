// ubcd: the ubc supervisor. Thin wiring of config, listener, supervisor and
// status socket; see docs/architecture.md.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "core/embedded_schemas.h"
#include "core/supervisor_config.h"
#include "supervisor/listener.h"
#include "supervisor/log.h"
#include "supervisor/status_server.h"
#include "supervisor/supervisor.h"

namespace {

constexpr char kUsage[] =
    "usage: ubcd [--config FILE]            run the supervisor (embedded default config)\n"
    "       ubcd --status [--json] [--config FILE]\n"
    "                                       print the beancounters of a running ubcd\n"
    "       ubcd --print-default-config     print the embedded default config\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "ubcd: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool status = false, json = false, print_default = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else if (a == "--status") {
      status = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--print-default-config") {
      print_default = true;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fputs(kUsage, stderr);
      return Fail("unknown argument \"" + a + "\"");
    }
  }

  ubc::Result<ubc::SupervisorConfig> config = config_path.empty()
                                                  ? ubc::DefaultSupervisorConfig()
                                                  : ubc::LoadSupervisorConfigFile(config_path);
  if (!config.ok()) return Fail(config.status().message());
  if (print_default) {
    std::string_view text = ubc::EmbeddedFile("ubcd.default.json").value_or("");
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  if (status) {
    ubc::Result<std::string> reply = ubc::QueryStatus(config->status_path, json ? "json" : "text");
    if (!reply.ok()) return Fail(reply.status().message());
    std::fwrite(reply->data(), 1, reply->size(), stdout);
    return 0;
  }

  ubc::LogLevel level;
  if (ubc::ParseLogLevel(config->log_level, &level)) ubc::SetLogLevel(level);

  // Signals are taken synchronously by the main thread; every other thread
  // inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ubc::Supervisor supervisor(*config);
  if (ubc::Status s = supervisor.LoadContainerConfigs(); !s.ok()) return Fail(s.message());

  auto listener = ubc::Listener::Create(
      config->listener_path,
      [&supervisor](const ubc::ContainerProcessState& state, ubc::UniqueFd fd,
                    const ubc::PeerInfo& peer) { supervisor.Attach(state, std::move(fd), peer); });
  if (!listener.ok()) return Fail(listener.status().message());
  auto status_server = ubc::StatusServer::Create(
      config->status_path, [&supervisor](const std::string& request) {
        return request == "json" ? supervisor.StatusJson() : supervisor.StatusText();
      });
  if (!status_server.ok()) {
    ::unlink(config->listener_path.c_str());
    return Fail(status_server.status().message());
  }
  std::thread([&] { (*status_server)->Run(); }).detach();
  std::thread([&] { (*listener)->Run(); }).detach();
  ubc::Log(ubc::LogLevel::kInfo, "listening on " + config->listener_path + ", status on " +
                                     config->status_path);

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      ubc::Status s = supervisor.LoadContainerConfigs();
      ubc::Log(s.ok() ? ubc::LogLevel::kInfo : ubc::LogLevel::kError,
               s.ok() ? "reloaded " + config->containers_dir
                      : "reload failed, previous container configs kept: " + s.message());
      continue;
    }
    ubc::Log(ubc::LogLevel::kInfo, std::string("stopping on ") + strsignal(sig));
    ::unlink(config->listener_path.c_str());
    ::unlink(config->status_path.c_str());
    // Notify threads are blocked in the kernel; the process exit closes
    // their fds.
    std::fflush(stdout);
    std::_Exit(0);
  }
}
