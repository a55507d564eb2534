# HR/CRM vendor connectors and the mapping (issue 18 item 2; docs/CONNECTORS.md).
if(NOT TARGET GTest::gtest_main)
  find_package(GTest REQUIRED GLOBAL)
endif()
foreach(v bamboohr hibob personio hubspot time)
  ts_add_test(vendor_${v}_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/vendor_${v}_test.cpp
    LIBS ts_vendors LABELS unit TIMEOUT 60)
endforeach()
ts_add_test(vendor_api_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/vendor_api_test.cpp
  LIBS ts_vendors ts_fake_clock LABELS unit TIMEOUT 60)
ts_add_test(mapping_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mapping_test.cpp
  LIBS ts_mapping LABELS unit TIMEOUT 60)
ts_add_test(vendor_config_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/vendor_config_test.cpp
  LIBS ts_daemon ts_test_support LABELS unit TIMEOUT 60)
# The connector stage (daemon/ingress/vendor_stage): temp-dir store, FakeClock, scripted VendorApi.
ts_add_test(vendor_stage_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/vendor_stage_test.cpp
  LIBS ts_daemon ts_fake_clock ts_test_support LABELS unit TIMEOUT 60)
