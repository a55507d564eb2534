# Signature schemes and event payload validation (adapters/signature, adapters/events).
if(NOT TARGET GTest::gtest_main)
  find_package(GTest REQUIRED GLOBAL)  # GLOBAL: other test directories link GTest too
endif()
ts_add_test(signature_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/signature_test.cpp LIBS ts_adapters)
ts_add_test(event_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/event_test.cpp LIBS ts_adapters)
