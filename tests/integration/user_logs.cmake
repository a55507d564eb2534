# A user's Auth0 activity end to end (issue 14): logins through auth0-sim's /__sim/login, a block
# by tenantsync, and `tenantsync user ID --logs` (table and --json) through the real binaries.
ts_add_test(user_logs_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/user_logs_test.cpp
  LIBS ts_test_support
  LABELS integration TIMEOUT 300)
add_dependencies(user_logs_test tenantsync auth0-sim)
