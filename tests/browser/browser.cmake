# The console in headless Chromium against the real daemon and auth0-sim (issue 16). Needs
# Debian's chromium, chromium-driver and python3-selenium (scripts/bootstrap); without them the
# script exits 77 and ctest reports the test as skipped, saying what is missing.
# `ctest -L browser`. The screenshots in docs/ come from a run with --screenshots docs
# (docs/ADMIN-API.md, "Console").
# Debian's python3-selenium is installed for the system interpreter (/usr/bin/python3), which a
# python3 earlier on PATH (pyenv, a venv) does not see: prefer it.
find_program(TENANTSYNC_BROWSER_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT TENANTSYNC_BROWSER_PYTHON)
  find_program(TENANTSYNC_BROWSER_PYTHON NAMES python3)
endif()
if(TENANTSYNC_BROWSER_PYTHON)
  add_test(NAME console_browser_test
    COMMAND ${TENANTSYNC_BROWSER_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/console_browser_test.py
            --build-dir ${PROJECT_BINARY_DIR})
  set_tests_properties(console_browser_test PROPERTIES
    LABELS "browser;integration"
    TIMEOUT 120
    SKIP_RETURN_CODE 77)
endif()
