# Installation layout and packaging: systemd unit, sysusers.d, tmpfiles.d, example config, docs
# and the Debian package (CPack). The binary's own install rule lives in daemon/CMakeLists.txt.
#
# Where things go — decided at INSTALL time from the prefix actually used, so that
# `cmake --install build --prefix /tmp/x` (non-root) and `cpack -G DEB` both work from one
# configured tree:
#
#   prefix /usr (distribution packages, the .deb):
#     unit      pkg-config systemd `systemdsystemunitdir`  (Debian 12: /lib/systemd/system)
#     sysusers  pkg-config systemd `sysusersdir`           (/usr/lib/sysusers.d/tenantsync.conf)
#     tmpfiles  pkg-config systemd `tmpfilesdir`           (/usr/lib/tmpfiles.d/tenantsync.conf)
#     config    /etc/tenantsync/tenantsync.toml            (a dpkg conffile in the .deb)
#   any other prefix P (/usr/local, /opt/tenantsync, /tmp/x ...):
#     unit      P/lib/systemd/system/tenantsync.service
#     sysusers  P/lib/sysusers.d/tenantsync.conf
#     tmpfiles  P/lib/tmpfiles.d/tenantsync.conf
#     config    P/etc/tenantsync/tenantsync.toml
#   (without pkg-config data the /usr case falls back to lib/systemd/system, lib/sysusers.d and
#   lib/tmpfiles.d under /usr).
#
# The unit's ExecStart is rendered from systemd/tenantsync.service.in with the install prefix's
# bin directory (P/bin/tenantsync). It always reads /etc/tenantsync/tenantsync.toml: systemd only
# loads units from its own directories, so a non-/usr install is a staging tree to copy from.
# An existing example config is never overwritten by `cmake --install` (it is installed as
# tenantsync.toml.example next to it instead); the .deb marks it as a conffile.
#
# The build tree also gets build/systemd/tenantsync.service, rendered at configure time for
# CMAKE_INSTALL_PREFIX (used by tests and for inspection).

include(GNUInstallDirs)

# pkg-config names for systemd's directories (the `systemd` .pc file, package systemd-dev /
# systemd on Debian 12).
set(_ts_unit_dir "")
set(_ts_sysusers_dir "")
set(_ts_tmpfiles_dir "")
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(TS_SYSTEMD_PC QUIET systemd)
  if(TS_SYSTEMD_PC_FOUND)
    pkg_get_variable(_ts_unit_dir systemd systemdsystemunitdir)
    pkg_get_variable(_ts_sysusers_dir systemd sysusersdir)
    pkg_get_variable(_ts_tmpfiles_dir systemd tmpfilesdir)
  endif()
endif()
if(NOT _ts_unit_dir)
  set(_ts_unit_dir "/usr/lib/systemd/system")
endif()
if(NOT _ts_sysusers_dir)
  set(_ts_sysusers_dir "/usr/lib/sysusers.d")
endif()
if(NOT _ts_tmpfiles_dir)
  set(_ts_tmpfiles_dir "/usr/lib/tmpfiles.d")
endif()
set(TENANTSYNC_SYSTEMD_UNIT_DIR "${_ts_unit_dir}" CACHE STRING
    "systemd system unit directory used when installing to prefix /usr")
set(TENANTSYNC_SYSUSERS_DIR "${_ts_sysusers_dir}" CACHE STRING
    "sysusers.d directory used when installing to prefix /usr")
set(TENANTSYNC_TMPFILES_DIR "${_ts_tmpfiles_dir}" CACHE STRING
    "tmpfiles.d directory used when installing to prefix /usr")

set(TENANTSYNC_SYSTEMD_SOURCE_DIR "${PROJECT_SOURCE_DIR}/systemd")

# Configure-time rendering into the build tree (tests, inspection).
set(TENANTSYNC_UNIT_TEMPLATE "${TENANTSYNC_SYSTEMD_SOURCE_DIR}/tenantsync.service.in")
configure_file("${TENANTSYNC_UNIT_TEMPLATE}" "${PROJECT_BINARY_DIR}/systemd/tenantsync.service" @ONLY)

# Install-time rendering and placement (see the rules above). Everything below runs inside
# cmake_install.cmake, where CMAKE_INSTALL_PREFIX is the prefix of this install and file(INSTALL)
# honours DESTDIR.
install(CODE "
  set(_ts_prefix \"\${CMAKE_INSTALL_PREFIX}\")
  string(REGEX REPLACE \"/+$\" \"\" _ts_prefix \"\${_ts_prefix}\")
  if(_ts_prefix STREQUAL \"/usr\")
    set(_ts_unit_dir \"${TENANTSYNC_SYSTEMD_UNIT_DIR}\")
    set(_ts_sysusers_dir \"${TENANTSYNC_SYSUSERS_DIR}\")
    set(_ts_tmpfiles_dir \"${TENANTSYNC_TMPFILES_DIR}\")
    set(_ts_conf_dir \"/etc/tenantsync\")
  else()
    set(_ts_unit_dir \"\${_ts_prefix}/lib/systemd/system\")
    set(_ts_sysusers_dir \"\${_ts_prefix}/lib/sysusers.d\")
    set(_ts_tmpfiles_dir \"\${_ts_prefix}/lib/tmpfiles.d\")
    set(_ts_conf_dir \"\${_ts_prefix}/${CMAKE_INSTALL_SYSCONFDIR}/tenantsync\")
  endif()
  set(CMAKE_INSTALL_FULL_BINDIR \"\${_ts_prefix}/${CMAKE_INSTALL_BINDIR}\")
  set(CMAKE_INSTALL_FULL_DOCDIR \"\${_ts_prefix}/${CMAKE_INSTALL_DOCDIR}\")
  set(_ts_stage \"${PROJECT_BINARY_DIR}/systemd/install-stage\")
  file(REMOVE_RECURSE \"\${_ts_stage}\")
  configure_file(\"${TENANTSYNC_UNIT_TEMPLATE}\" \"\${_ts_stage}/tenantsync.service\" @ONLY)
  configure_file(\"${TENANTSYNC_SYSTEMD_SOURCE_DIR}/tenantsync.sysusers\" \"\${_ts_stage}/tenantsync.conf\" COPYONLY)
  file(INSTALL DESTINATION \"\${_ts_unit_dir}\" TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES \"\${_ts_stage}/tenantsync.service\")
  file(INSTALL DESTINATION \"\${_ts_sysusers_dir}\" TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES \"\${_ts_stage}/tenantsync.conf\")
  configure_file(\"${TENANTSYNC_SYSTEMD_SOURCE_DIR}/tenantsync.tmpfiles\" \"\${_ts_stage}/tmpfiles/tenantsync.conf\" COPYONLY)
  file(INSTALL DESTINATION \"\${_ts_tmpfiles_dir}\" TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES \"\${_ts_stage}/tmpfiles/tenantsync.conf\")
  # The example config: never overwrite one an operator already edited (checked under DESTDIR,
  # so a package build, which stages into an empty DESTDIR, always ships tenantsync.toml).
  set(_ts_conf_name tenantsync.toml)
  if(EXISTS \"\$ENV{DESTDIR}\${_ts_conf_dir}/tenantsync.toml\")
    set(_ts_conf_name tenantsync.toml.example)
    message(STATUS \"Keeping existing \$ENV{DESTDIR}\${_ts_conf_dir}/tenantsync.toml; example installed as tenantsync.toml.example\")
  endif()
  configure_file(\"${TENANTSYNC_SYSTEMD_SOURCE_DIR}/tenantsync.toml\" \"\${_ts_stage}/conf/\${_ts_conf_name}\" COPYONLY)
  file(INSTALL DESTINATION \"\${_ts_conf_dir}\" TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
       FILES \"\${_ts_stage}/conf/\${_ts_conf_name}\")
")

install(FILES "${PROJECT_SOURCE_DIR}/docs/OPERATIONS.md" "${PROJECT_SOURCE_DIR}/docs/CONFIGURATION.md"
        DESTINATION "${CMAKE_INSTALL_DOCDIR}" OPTIONAL)

# ---------------------------------------------------------------------------------------------
# Debian package: `cpack -G DEB` in the build directory.
set(CPACK_PACKAGE_NAME "tenantsync")
set(CPACK_PACKAGE_VENDOR "tenantsync")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Syncs signed HR/CRM webhooks into an Auth0 tenant")
set(CPACK_PACKAGE_DESCRIPTION
    "tenantsync verifies signed webhooks from systems of record, stores them durably in SQLite and reconciles the desired organizations, users and memberships into Auth0 through one rate-limited writer. Runs as a systemd service.")
set(CPACK_PACKAGE_CONTACT "tenantsync maintainers <tenantsync@example.com>")
set(CPACK_PACKAGE_FILE_NAME "tenantsync_${PROJECT_VERSION}")
# Packages always install to /usr; absolute paths (/etc, /lib/systemd) go through DESTDIR.
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX "/usr")
set(CPACK_GENERATOR "DEB")
set(CPACK_DEBIAN_PACKAGE_NAME "tenantsync")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
find_program(TENANTSYNC_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(TENANTSYNC_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  # systemd-sysusers/systemd-tmpfiles/systemctl are used by the maintainer scripts.
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")
else()
  # Debian 12 runtime libraries of the dependencies in the top CMakeLists.txt.
  # What dpkg-shlibdeps computes on Debian 12 for the binary's shared libraries.
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "systemd, libc6 (>= 2.34), libcpp-httplib0.11 (>= 0.11.4+ds), libfmt9 (>= 9.1.0+ds1), libgcc-s1 (>= 3.0), libspdlog1.10-fmt9, libsqlite3-0 (>= 3.14.0), libssl3 (>= 3.0.0), libstdc++6 (>= 12), libsystemd0, libtomlplusplus3 (>= 3.2.0)")
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
file(WRITE "${PROJECT_BINARY_DIR}/systemd/debian/conffiles" "/etc/tenantsync/tenantsync.toml\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${TENANTSYNC_SYSTEMD_SOURCE_DIR}/debian/postinst"
    "${TENANTSYNC_SYSTEMD_SOURCE_DIR}/debian/prerm"
    "${TENANTSYNC_SYSTEMD_SOURCE_DIR}/debian/postrm"
    "${PROJECT_BINARY_DIR}/systemd/debian/conffiles")
include(CPack)
