# Generates a C++ source embedding every file of daemon/console/assets/ (run at build time so that
# editing an asset rebuilds the binary; no download, no npm). Each file becomes a string literal
# of escaped bytes, so no byte of an asset can end the literal early.
#   -DASSETS_DIR=<dir> -DOUTPUT=<file.cpp>
file(GLOB files RELATIVE "${ASSETS_DIR}" "${ASSETS_DIR}/*")
list(SORT files)
set(body "")
foreach(name ${files})
  if(IS_DIRECTORY "${ASSETS_DIR}/${name}")
    continue()
  endif()
  file(READ "${ASSETS_DIR}/${name}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  # 64 bytes (128 hex digits) per line of the generated source.
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${hex}")
  string(REPEAT "\\\\x[0-9a-f][0-9a-f]" 64 line_pattern)
  string(REGEX REPLACE "(${line_pattern})" "\\1\"\n     \"" escaped "${escaped}")
  string(APPEND body "    {\"${name}\", std::string_view(\"${escaped}\", ${size})},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from daemon/console/assets/ by daemon/console/embed_assets.cmake. Do not edit.\n#include \"daemon/console/console.h\"\n\nnamespace tenantsync {\n\nconst std::vector<ConsoleAsset>& EmbeddedConsoleAssets() {\n  static const std::vector<ConsoleAsset> kAssets = {\n${body}  };\n  return kAssets;\n}\n\n}  // namespace tenantsync\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
