# The SCIM 2.0 service provider's pure part (adapters/scim; issue 18, docs/SCIM.md).
if(NOT TARGET GTest::gtest_main)
  find_package(GTest REQUIRED GLOBAL)
endif()
ts_add_test(scim_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/scim_test.cpp LIBS ts_scim
  LABELS unit TIMEOUT 60)
# The SCIM endpoints in-process: temp-dir store, FakeClock, seeded ids (daemon/ingress/scim_*).
ts_add_test(scim_service_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/scim_service_test.cpp
  LIBS ts_daemon ts_fake_clock ts_test_support LABELS unit TIMEOUT 60)
