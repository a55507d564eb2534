// Auth0Observer: how the metrics module watches Auth0 traffic without the client depending on it.
#pragma once

#include <string_view>

namespace tenantsync {

class Auth0Observer {
 public:
  virtual ~Auth0Observer() = default;
  // Called once per HTTP attempt (retries included), from the calling thread, after the answer
  // or the transport failure. `endpoint_template` names the operation with ids replaced, e.g.
  // "PATCH /api/v2/clients/{id}"; `status` is the HTTP status, 0 for a transport failure;
  // `seconds` is the attempt's wall duration (rate-limit waits excluded). Must be thread-safe
  // and cheap; it must not call back into the client.
  virtual void OnRequest(std::string_view endpoint_template, int status, double seconds) = 0;
};

}  // namespace tenantsync
