# Auth0 client (adapters/auth0): unit tests over a scripted fake transport and a FakeClock; the
# in-memory FakeTenant (tests/support/fake_tenant.h) behind the Auth0Api interface.
if(NOT TARGET GTest::gtest_main)
  find_package(GTest REQUIRED)
endif()
ts_add_test(auth0_client_rate_limiter_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/auth0_rate_limiter_test.cpp LIBS ts_auth0 ts_fake_clock TIMEOUT 60)
ts_add_test(auth0_client_transport_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/auth0_transport_test.cpp LIBS ts_auth0 TIMEOUT 60)
ts_add_test(auth0_client_unit_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/auth0_client_test.cpp LIBS ts_auth0 TIMEOUT 60)
ts_add_test(fake_tenant_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fake_tenant_test.cpp LIBS ts_fake_tenant TIMEOUT 60)
ts_add_test(auth0_imports_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/auth0_imports_test.cpp LIBS ts_auth0
  LABELS unit TIMEOUT 60)
