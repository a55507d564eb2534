# systemd integration (issue 7): the sd_notify protocol against a fake NOTIFY_SOCKET, SIGTERM
# drain, SIGHUP reload, online backup, and the unit/sysusers/tmpfiles/example config themselves.
ts_add_test(systemd_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/systemd_test.cpp
  LIBS ts_test_support ts_adapters SQLiteCpp SQLite::SQLite3
  LABELS integration TIMEOUT 120)
target_compile_definitions(systemd_test PRIVATE
  TENANTSYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(systemd_test tenantsync)
