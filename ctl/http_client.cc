#include "ctl/http_client.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>

#include <exception>
#include <vector>

namespace ubc {

Result<HttpReply> HttpCall(const std::string& base_url, const std::string& method,
                           const std::string& path_and_query, const std::string& json_body,
                           const std::string& bearer_token, std::chrono::seconds timeout) {
  namespace http = web::http;
  try {
    http::client::http_client_config config;
    config.set_timeout(timeout);
    http::client::http_client client(web::uri(base_url), config);
    http::http_request request(method);
    request.set_request_uri(web::uri(path_and_query));
    if (!bearer_token.empty()) request.headers().add("Authorization", "Bearer " + bearer_token);
    if (!json_body.empty()) {
      // From bytes, not set_body(std::string): that overload reads a std::string
      // buffer through a streambuf<uint8_t>, which UBSan reports (vptr).
      request.set_body(concurrency::streams::bytestream::open_istream(
                           std::vector<unsigned char>(json_body.begin(), json_body.end())),
                       json_body.size(), "application/json");
    }
    http::http_response response = client.request(request).get();
    HttpReply reply;
    reply.http_status = response.status_code();
    reply.body = response.extract_utf8string(true).get();
    return reply;
  } catch (const std::exception& e) {
    return Status::Error("cannot reach ubcd at " + base_url + ": " + e.what() +
                         " (is ubcd running with its REST API enabled? see --url)");
  }
}

}  // namespace ubc
