# Third-party dependencies, all from Debian 12 packages (scripts/install_deps.sh).
# On the GPU machine (no apt) the same packages are unpacked with `dpkg -x` into .devdeps/
# (scripts/device/fetch_deps.sh) and found through CMAKE_PREFIX_PATH.

find_package(nlohmann_json 3.10 REQUIRED)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)  # src/data: gzip man pages, changelogs, dictd files

# C libraries: prefer the static archive so binaries run where the shared one is absent.
function(blockattn_find_c_lib var header)
  find_path(${var}_INCLUDE_DIR ${header} REQUIRED)
  find_library(${var}_LIBRARY NAMES ${ARGN} REQUIRED)
  add_library(blockattn::${var} INTERFACE IMPORTED)
  target_include_directories(blockattn::${var} INTERFACE ${${var}_INCLUDE_DIR})
  target_link_libraries(blockattn::${var} INTERFACE ${${var}_LIBRARY})
endfunction()

blockattn_find_c_lib(pcre2 pcre2.h libpcre2-8.a pcre2-8)
blockattn_find_c_lib(utf8proc utf8proc.h libutf8proc.a utf8proc)
blockattn_find_c_lib(xxhash xxhash.h libxxhash.a xxhash)
blockattn_find_c_lib(zstd zstd.h libzstd.a zstd)
# hiredis (libhiredis-dev, 0.14 on Debian 12): the Redis tier (src/cache/redis_tier.cpp). Found
# through pkg-config where its .pc file is right; the .pc file's prefix is /usr, so under
# .devdeps/ (GPU machine) the hints miss and CMAKE_PREFIX_PATH finds the files instead.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_hiredis QUIET hiredis>=0.14)
endif()
find_path(hiredis_INCLUDE_DIR hiredis/hiredis.h HINTS ${PC_hiredis_INCLUDEDIR}/.. REQUIRED)
find_library(hiredis_LIBRARY NAMES libhiredis.a hiredis HINTS ${PC_hiredis_LIBDIR} REQUIRED)
add_library(blockattn::hiredis INTERFACE IMPORTED)
target_include_directories(blockattn::hiredis INTERFACE ${hiredis_INCLUDE_DIR})
target_link_libraries(blockattn::hiredis INTERFACE ${hiredis_LIBRARY})
message(STATUS "hiredis: ${hiredis_LIBRARY} (pkg-config: ${PC_hiredis_VERSION})")
target_compile_definitions(blockattn::pcre2 INTERFACE PCRE2_CODE_UNIT_WIDTH=8 PCRE2_STATIC)
target_compile_definitions(blockattn::utf8proc INTERFACE UTF8PROC_STATIC)

add_library(blockattn_deps_base INTERFACE)
add_library(blockattn::deps_base ALIAS blockattn_deps_base)
target_link_libraries(blockattn_deps_base INTERFACE
  nlohmann_json::nlohmann_json blockattn::pcre2 blockattn::utf8proc blockattn::xxhash
  blockattn::zstd blockattn::hiredis ZLIB::ZLIB Threads::Threads ${CMAKE_DL_LIBS})

if(BLOCKATTN_WITH_SENTENCEPIECE)
  find_path(sentencepiece_INCLUDE_DIR sentencepiece_processor.h)
  find_library(sentencepiece_LIBRARY NAMES sentencepiece)
  if(NOT (sentencepiece_INCLUDE_DIR AND sentencepiece_LIBRARY))
    message(WARNING "libsentencepiece not found: building without tokenizer.model support")
    set(BLOCKATTN_WITH_SENTENCEPIECE OFF CACHE BOOL "" FORCE)
  endif()
endif()

find_package(CLI11 REQUIRED)
add_library(blockattn_deps_cli INTERFACE)
add_library(blockattn::deps_cli ALIAS blockattn_deps_cli)
target_link_libraries(blockattn_deps_cli INTERFACE CLI11::CLI11)

# cpp-httplib: Debian ships it as a header plus a shared library built with OpenSSL, zlib and
# brotli support. Its classes change layout with those options, so we compile with the same
# definitions (cpp-httplib.pc's Cflags) and their headers (libssl-dev, libbrotli-dev, zlib1g-dev).
if(BLOCKATTN_WITH_TORCH)
  find_path(httplib_INCLUDE_DIR httplib.h REQUIRED)
  find_library(httplib_LIBRARY NAMES cpp-httplib REQUIRED)
  find_path(httplib_OPENSSL_INCLUDE_DIR openssl/ssl.h REQUIRED)
  find_path(httplib_BROTLI_INCLUDE_DIR brotli/decode.h REQUIRED)
  add_library(blockattn::httplib INTERFACE IMPORTED)
  target_include_directories(blockattn::httplib INTERFACE ${httplib_INCLUDE_DIR}
    ${httplib_OPENSSL_INCLUDE_DIR} ${httplib_BROTLI_INCLUDE_DIR})
  target_compile_definitions(blockattn::httplib INTERFACE CPPHTTPLIB_OPENSSL_SUPPORT
    CPPHTTPLIB_ZLIB_SUPPORT CPPHTTPLIB_BROTLI_SUPPORT)
  target_link_libraries(blockattn::httplib INTERFACE ${httplib_LIBRARY} ZLIB::ZLIB Threads::Threads)
endif()
