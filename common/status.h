// Status and Result<T>: errors as values at module boundaries.
//
// The set of kinds is closed; callers decide what to do from the kind alone, never from message
// text. Library exceptions (SQLiteCpp, toml++, nlohmann::json, httplib) are caught inside the
// module that calls the library and turned into one of these.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace tenantsync {

enum class StatusKind {
  kOk,
  kRetryable,    // transient: 5xx, timeouts, connection errors, storage busy; try again later
  kRateLimited,  // the peer asked us to wait until retry_at()
  kConflict,     // the object already exists (e.g. Auth0 409, duplicate event)
  kNotFound,     // the object does not exist
  kPermanent,    // the peer refused the request; retrying the same request cannot help
  kInvalid,      // our input or the peer's answer is malformed
};

const char* StatusKindName(StatusKind kind);

class Status {
 public:
  Status() = default;  // OK

  static Status Ok() { return Status(); }
  static Status Retryable(std::string msg) {
    return Status(StatusKind::kRetryable, std::move(msg));
  }
  static Status RateLimited(std::chrono::system_clock::time_point until, std::string msg) {
    Status s(StatusKind::kRateLimited, std::move(msg));
    s.retry_at_ = until;
    return s;
  }
  static Status Conflict(std::string msg) { return Status(StatusKind::kConflict, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(StatusKind::kNotFound, std::move(msg)); }
  static Status Permanent(std::string msg) {
    return Status(StatusKind::kPermanent, std::move(msg));
  }
  static Status Invalid(std::string msg) { return Status(StatusKind::kInvalid, std::move(msg)); }

  bool ok() const { return kind_ == StatusKind::kOk; }
  StatusKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  // Only meaningful for kRateLimited: the wall-clock time after which a retry may succeed.
  std::optional<std::chrono::system_clock::time_point> retry_at() const { return retry_at_; }

  // Remote details (Auth0's statusCode and errorCode), when the error came from a peer.
  int http_status() const { return http_status_; }
  const std::string& error_code() const { return error_code_; }
  Status& WithHttp(int http_status, std::string error_code) {
    http_status_ = http_status;
    error_code_ = std::move(error_code);
    return *this;
  }

  // "<kind>: <message>" for logs and operator output.
  std::string ToString() const;

 private:
  Status(StatusKind kind, std::string msg) : kind_(kind), message_(std::move(msg)) {}

  StatusKind kind_ = StatusKind::kOk;
  std::string message_;
  std::optional<std::chrono::system_clock::time_point> retry_at_;
  int http_status_ = 0;
  std::string error_code_;
};

// Result<T>: a value or a non-OK Status.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace tenantsync
