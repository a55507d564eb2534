# Declared sources wired (issue 15): storage of an apply (revision, optimistic concurrency), the
# state JSON, the `declared` scheme in the configuration and the admin API endpoints.
if(NOT TARGET GTest::gtest_main)
  find_package(GTest REQUIRED)
endif()
ts_add_test(declared_apply_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/declared_apply_test.cpp
  LIBS ts_daemon ts_declared ts_test_support SQLiteCpp)
