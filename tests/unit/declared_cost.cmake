# The Auth0 request cost of a declared plan (issue 15): the estimate against the requests the real
# writer sends for the same change to the in-memory FakeTenant; the live-field warnings.
if(NOT TARGET GTest::gtest_main)
  find_package(GTest REQUIRED)
endif()
ts_add_test(declared_cost_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/declared_cost_test.cpp
  LIBS ts_declared ts_writer_harness)
