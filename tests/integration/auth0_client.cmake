# Auth0 client against auth0-sim over real HTTP (adapters/auth0).
if(NOT TARGET GTest::gtest_main)
  find_package(GTest REQUIRED)
endif()
foreach(part calls resilience)
  ts_add_test(auth0_client_${part}_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/auth0_client_${part}_test.cpp
    LIBS ts_auth0 ts_test_support
    LABELS integration TIMEOUT 120)
  if(TARGET auth0-sim)
    add_dependencies(auth0_client_${part}_test auth0-sim)
  endif()
endforeach()
