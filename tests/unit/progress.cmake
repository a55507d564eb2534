# Progress of a burst (issue 17 item 2): the pure model of daemon/operators/progress.h.
ts_add_test(progress_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/progress_test.cpp LIBS ts_daemon
  LABELS unit TIMEOUT 60)
