# What systemd hears while the daemon migrates its database (daemon/migration_notice.h).
ts_add_test(migration_notice_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/migration_notice_test.cpp
  LIBS ts_daemon ts_test_support LABELS unit TIMEOUT 60)
