# bench-auth0-client: achieved rate vs. auth0-sim's rate limit (not a ctest test).
add_executable(bench-auth0-client ${CMAKE_CURRENT_SOURCE_DIR}/auth0_client_bench.cpp)
ts_target_defaults(bench-auth0-client)
target_link_libraries(bench-auth0-client PRIVATE ts_auth0 ts_test_support)
# Next to auth0-sim, which it starts by default.
set_target_properties(bench-auth0-client PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR})
if(TARGET auth0-sim)
  add_dependencies(bench-auth0-client auth0-sim)
endif()
