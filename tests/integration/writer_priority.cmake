ts_add_test(writer_priority_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/writer_priority_test.cpp
  LIBS ts_writer_harness
  LABELS integration TIMEOUT 120)
