# Who may do what through the admin API (issue 16): the pure decisions of daemon/operators/authz.h.
ts_add_test(admin_authz_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/admin_authz_test.cpp LIBS ts_daemon
  LABELS unit TIMEOUT 60)
