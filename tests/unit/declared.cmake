# Declared state (issue 15): the file parser and its validation, the differ and the plan renderer.
if(NOT TARGET GTest::gtest_main)
  find_package(GTest REQUIRED)
endif()
ts_add_test(declared_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/declared_test.cpp LIBS ts_declared)
