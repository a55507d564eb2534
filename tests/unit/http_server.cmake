# The event-loop HTTP server (issue 13): head parser, answer writer, in-process loop on loopback.
ts_add_test(http_server_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/http_server_test.cpp LIBS ts_daemon)
