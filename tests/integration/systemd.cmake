# systemd integration (issue 7): the sd_notify protocol against a fake NOTIFY_SOCKET, SIGTERM
# drain, SIGHUP reload, online backup, and the unit/sysusers/tmpfiles/example config themselves.
ts_add_test(systemd_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/systemd_test.cpp
  LIBS ts_test_support ts_adapters SQLiteCpp SQLite::SQLite3
  LABELS integration TIMEOUT 120)
target_compile_definitions(systemd_test PRIVATE
  TENANTSYNC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(systemd_test tenantsync auth0-sim)

# The Debian package builds and carries the binary, unit, sysusers, tmpfiles and example config.
add_test(NAME deb_package
  COMMAND sh -c "rm -rf deb-test && ${CMAKE_CPACK_COMMAND} -G DEB --config ${PROJECT_BINARY_DIR}/CPackConfig.cmake -B deb-test >cpack.log 2>&1 || { cat cpack.log; exit 1; }; \
deb=$(ls deb-test/*.deb) && dpkg-deb -c $deb > contents.txt && \
for f in ./usr/bin/tenantsync tenantsync.service sysusers.d/tenantsync.conf tmpfiles.d/tenantsync.conf ./etc/tenantsync/tenantsync.toml; do \
grep -q \"$f\" contents.txt || { echo \"missing $f in $deb\"; cat contents.txt; exit 1; }; done; \
dpkg-deb -I $deb | grep -q postinst || { echo 'no postinst'; exit 1; }; echo \"$deb ok\""
  WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(deb_package PROPERTIES LABELS integration TIMEOUT 300)
