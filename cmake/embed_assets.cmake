# Writes a C++ source that holds every file below ROOT, plus the EXTRA files
# (a ;-list, served under their base names), as byte arrays for the
# dashboard routes (one binary: no files needed at run time).
#   cmake -DROOT=<dir> -DEXTRA=<file|file...> -DOUT=<file.cc> -P embed_assets.cmake
file(GLOB_RECURSE files RELATIVE ${ROOT} ${ROOT}/*)
string(REPLACE "|" ";" EXTRA "${EXTRA}")
file(MAKE_DIRECTORY ${OUT}.dir)
foreach(x ${EXTRA})
  get_filename_component(name ${x} NAME)
  file(COPY_FILE ${x} ${OUT}.dir/${name} ONLY_IF_DIFFERENT)
  list(APPEND files ${name})
endforeach()
list(SORT files)
set(arrays "")
set(entries "")
set(i 0)
foreach(f ${files})
  if(EXISTS ${ROOT}/${f})
    file(READ ${ROOT}/${f} hex HEX)
  else()
    file(READ ${OUT}.dir/${f} hex HEX)
  endif()
  string(LENGTH "${hex}" hex_len)
  if(hex_len EQUAL 0)
    set(bytes "0")
    set(size 0)
  else()
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
    math(EXPR size "${hex_len} / 2")
  endif()
  get_filename_component(ext ${f} LAST_EXT)
  set(type "application/octet-stream")
  if(ext STREQUAL ".html")
    set(type "text/html; charset=utf-8")
  elseif(ext STREQUAL ".js")
    set(type "text/javascript; charset=utf-8")
  elseif(ext STREQUAL ".css")
    set(type "text/css; charset=utf-8")
  elseif(ext STREQUAL ".svg")
    set(type "image/svg+xml")
  elseif(ext STREQUAL ".png")
    set(type "image/png")
  elseif(ext STREQUAL ".json")
    set(type "application/json")
  endif()
  string(APPEND arrays "const unsigned char a${i}[] = {${bytes}};\n")
  string(APPEND entries "      {\"${f}\", \"${type}\", std::string_view(reinterpret_cast<const char*>(a${i}), ${size})},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from web/dashboard (and uPlot from web/node_modules) by cmake/embed_assets.cmake; do not edit.
#include \"api/web_assets.h\"

namespace adclick::api {
namespace {
${arrays}}  // namespace

const std::vector<web_asset>& web_assets() {
  static const std::vector<web_asset> all = {
${entries}  };
  return all;
}

}  // namespace adclick::api
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
