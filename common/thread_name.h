// SetCurrentThreadName: names the calling thread (what `top -H`, `ps -L`, gdb and
// /proc/PID/task/TID/comm show), so an operator or a benchmark can tell where the daemon's CPU
// goes. Linux keeps at most 15 bytes; longer names are cut. Never fails: naming is best effort.
#pragma once

#include <string_view>

namespace tenantsync {

void SetCurrentThreadName(std::string_view name);

}  // namespace tenantsync
