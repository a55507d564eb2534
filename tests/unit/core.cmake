ts_add_test(config_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/config_test.cpp LIBS ts_daemon ts_test_support)
ts_add_test(store_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/store_test.cpp LIBS ts_storage ts_test_support SQLiteCpp)
ts_add_test(crypto_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/crypto_test.cpp LIBS ts_common)
ts_add_test(guard_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/guard_test.cpp LIBS ts_daemon ts_test_support)
