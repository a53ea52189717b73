#include "supervisor/rest_server.h"

#include <cpprest/http_listener.h>
#include <pplx/threadpool.h>

#include <exception>
#include <utility>
#include <vector>

#include "core/rest_api.h"
#include "supervisor/log.h"
#include "supervisor/supervisor.h"

namespace ubc {
namespace {

namespace http = web::http;
using http::experimental::listener::http_listener;

// The API is a handful of small reads; a few threads keep its footprint small
// (cpprestsdk defaults to 40). Applies only before the pool's first use.
constexpr size_t kHttpThreads = 4;
constexpr size_t kReadChunkBytes = 16 * 1024;

class SupervisorBackend : public RestBackend {
 public:
  explicit SupervisorBackend(Supervisor& supervisor) : supervisor_(supervisor) {}
  std::vector<ContainerReport> ListContainers() override { return supervisor_.ListContainers(); }
  std::optional<ContainerReport> GetContainer(const std::string& id) override {
    return supervisor_.GetContainer(id);
  }
  bool SetLimits(const std::string& id, const LimitsChange& change) override {
    return supervisor_.SetLimits(id, change);
  }
  std::optional<std::vector<RefusalEvent>> Events(const std::string& id) override {
    return supervisor_.Events(id);
  }
  DecisionMetricsSnapshot Metrics() override { return supervisor_.Metrics(); }

 private:
  Supervisor& supervisor_;
};

// The request body as it arrives, capped: once over the cap the rest is read
// and dropped so memory stays bounded and the client still gets its 413.
struct BodyReader {
  concurrency::streams::streambuf<uint8_t> source;
  std::string data;
  bool too_large = false;
  std::vector<uint8_t> chunk = std::vector<uint8_t>(kReadChunkBytes);
};

pplx::task<void> ReadBody(std::shared_ptr<BodyReader> reader) {
  return reader->source.getn(reader->chunk.data(), reader->chunk.size())
      .then([reader](size_t n) -> pplx::task<void> {
        if (n == 0) return pplx::task_from_result();
        if (!reader->too_large) {
          if (reader->data.size() + n > kMaxRestBodyBytes) {
            reader->too_large = true;
            reader->data.clear();
          } else {
            reader->data.append(reinterpret_cast<const char*>(reader->chunk.data()), n);
          }
        }
        return ReadBody(reader);
      });
}

std::string Header(const http::http_request& request, const char* name) {
  auto it = request.headers().find(name);
  return it == request.headers().end() ? std::string() : it->second;
}

void Reply(http::http_request request, const RestResponse& r) {
  http::http_response response(static_cast<http::status_code>(r.http_status));
  if (!r.allow.empty()) response.headers().add("Allow", r.allow);
  if (r.www_authenticate) response.headers().add("WWW-Authenticate", "Bearer realm=\"ubcd\"");
  response.headers().add("Cache-Control", "no-store");
  response.set_body(r.body, r.content_type);
  request.reply(response).then([](pplx::task<void> sent) {
    try {
      sent.get();
    } catch (const std::exception& e) {
      // The client went away; nothing to answer.
      Log(LogLevel::kDebug, std::string("rest: reply not sent: ") + e.what());
    }
  });
}

}  // namespace

struct RestServer::Impl {
  std::string url;
  std::mutex token_mu;  // SetToken from main, reads from the HTTP threads
  std::string token;
  SupervisorBackend backend;
  std::unique_ptr<http_listener> listener;

  Impl(std::string u, std::string t, Supervisor& s)
      : url(std::move(u)), token(std::move(t)), backend(s) {}

  std::string Token() {
    std::lock_guard<std::mutex> lock(token_mu);
    return token;
  }

  void Handle(http::http_request request) {
    try {
      auto reader = std::make_shared<BodyReader>();
      reader->source = request.body().streambuf();
      // A declared length over the cap is refused without buffering any of it.
      if (request.headers().content_length() > kMaxRestBodyBytes) reader->too_large = true;
      RestRequest rest;
      rest.method = request.method();
      // resource(): path, query and fragment still percent-encoded, also for an
      // absolute-form request target ("GET http://host/path").
      rest.path = request.request_uri().resource().to_string();
      rest.authorization = Header(request, "Authorization");
      ReadBody(reader).then([this, request, reader, rest](pplx::task<void> done) mutable {
        try {
          done.get();
          rest.body = std::move(reader->data);
          rest.body_too_large = reader->too_large;
          Reply(request, HandleRestRequest(rest, backend, Token()));
        } catch (const std::exception& e) {
          Log(LogLevel::kWarning, std::string("rest: ") + rest.method + " " +
                                      rest.path.substr(0, 200) + ": " + e.what());
          try {
            Reply(request, RestErrorResponse(400, "cannot read the request body"));
          } catch (const std::exception&) {
            // The connection is gone.
          }
        }
      });
    } catch (const std::exception& e) {
      Log(LogLevel::kError, std::string("rest: request failed: ") + e.what());
      try {
        Reply(request, RestErrorResponse(500, "internal error"));
      } catch (const std::exception&) {
        // The connection is gone.
      }
    }
  }
};

RestServer::RestServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RestServer::~RestServer() {
  if (!impl_ || !impl_->listener) return;
  try {
    impl_->listener->close().wait();
  } catch (const std::exception& e) {
    Log(LogLevel::kWarning, std::string("rest: closing the listener: ") + e.what());
  }
}

const std::string& RestServer::url() const { return impl_->url; }

void RestServer::SetToken(std::string token) {
  std::lock_guard<std::mutex> lock(impl_->token_mu);
  impl_->token = std::move(token);
}

Result<std::unique_ptr<RestServer>> RestServer::Start(const RestConfig& config, std::string token,
                                                      Supervisor& supervisor) {
  const bool ipv6 = config.address.find(':') != std::string::npos && config.address.front() != '[';
  const std::string host = ipv6 ? "[" + config.address + "]" : config.address;
  const std::string url = "http://" + host + ":" + std::to_string(config.port);
  auto impl = std::make_unique<Impl>(url, std::move(token), supervisor);
  try {
    static const bool pool_sized = [] {
      crossplat::threadpool::initialize_with_threads(kHttpThreads);
      return true;
    }();
    (void)pool_sized;
    // cpprestsdk's Linux listener ignores http_listener_config's timeout:
    // an idle connection costs one fd until the client closes it
    // (docs/rest-api.md, Configuration).
    impl->listener = std::make_unique<http_listener>(web::uri(url));
    Impl* raw = impl.get();
    const auto handler = [raw](http::http_request request) { raw->Handle(request); };
    impl->listener->support(handler);
    // cpprestsdk answers OPTIONS and TRACE itself unless they have their own
    // handler; TRACE would echo the Authorization header back.
    impl->listener->support(http::methods::OPTIONS, handler);
    impl->listener->support(http::methods::TRCE, handler);
    impl->listener->open().wait();
  } catch (const std::exception& e) {
    impl->listener.reset();
    return Status::Error("rest api on " + url + ": " + e.what());
  }
  return std::unique_ptr<RestServer>(new RestServer(std::move(impl)));
}

}  // namespace ubc
