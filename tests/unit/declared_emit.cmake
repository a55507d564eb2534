# Declared state written back (issue 15 item 5): the emitter of `tenantsync export` (YAML, JSON)
# and the Auth0 Deploy CLI layout (reading and writing), checked by round trips.
if(NOT TARGET GTest::gtest_main)
  find_package(GTest REQUIRED)
endif()
ts_add_test(declared_emit_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/declared_emit_test.cpp
            LIBS ts_declared)
ts_add_test(declared_deploy_cli_test
            SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/declared_deploy_cli_test.cpp LIBS ts_declared)
