#include "common/status.h"

namespace tenantsync {

const char* StatusKindName(StatusKind kind) {
  switch (kind) {
    case StatusKind::kOk:
      return "ok";
    case StatusKind::kRetryable:
      return "retryable";
    case StatusKind::kRateLimited:
      return "rate_limited";
    case StatusKind::kConflict:
      return "conflict";
    case StatusKind::kNotFound:
      return "not_found";
    case StatusKind::kPermanent:
      return "permanent";
    case StatusKind::kInvalid:
      return "invalid";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out = StatusKindName(kind_);
  if (http_status_ != 0)
    out +=
        " (" + std::to_string(http_status_) + (error_code_.empty() ? "" : " " + error_code_) + ")";
  out += ": ";
  out += message_;
  return out;
}

}  // namespace tenantsync
