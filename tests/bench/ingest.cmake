# bench-ingest (issue 2): durable ingest throughput/latency vs. a no-op cpp-httplib server.
# Built into <build>/bench/bench-ingest; finds <build>/tenantsync by itself. Not a ctest test.
add_executable(bench-ingest ${CMAKE_CURRENT_SOURCE_DIR}/ingest_bench.cpp)
ts_target_defaults(bench-ingest)
target_link_libraries(bench-ingest PRIVATE ts_test_support ts_adapters PkgConfig::HTTPLIB SQLiteCpp
                      SQLite::SQLite3 CLI11::CLI11 Threads::Threads)
set_target_properties(bench-ingest PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
add_dependencies(bench-ingest tenantsync)
