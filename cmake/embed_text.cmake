# Writes a C++ source whose function returns the text of one file, for data
# built into the binary (no files needed at run time).
#   cmake -DIN=<file> -DOUT=<file.cc> -DHEADER=<include> -DNAMESPACE=<ns> -DFUNCTION=<name> -P embed_text.cmake
file(READ ${IN} text)
string(FIND "${text}" ")embedded\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains ')embedded\"', the raw string delimiter of embed_text.cmake")
endif()
file(WRITE ${OUT}.tmp "// Generated from ${IN} by cmake/embed_text.cmake; do not edit.
#include \"${HEADER}\"

namespace ${NAMESPACE} {

std::string_view ${FUNCTION}() {
  return R\"embedded(${text})embedded\";
}

}  // namespace ${NAMESPACE}
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
