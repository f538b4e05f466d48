# libzmq for Titan's nodes: Debian's libzmq 4.3.4 source with bounded-multipart.patch, built static, so
# that no peer can make a node hold an unbounded multipart message (docs/protocol.md §7). Defines the
# target `titan_zmq` (libzmq and cppzmq's headers); every Titan target links libzmq through it.
#
# TITAN_BOUNDED_LIBZMQ=OFF links the system's libzmq instead: the nodes then log at start that a peer can
# make them hold a message of any number of frames.
option(TITAN_BOUNDED_LIBZMQ "Build libzmq with Titan's bound on received multipart messages" ON)
set(TITAN_LIBZMQ_URL "http://deb.debian.org/debian/pool/main/z/zeromq3/zeromq3_4.3.4.orig.tar.gz"
    CACHE STRING "Where the libzmq 4.3.4 source tarball is downloaded from (a local path works too)")
set(TITAN_LIBZMQ_SHA256 "0ff5a531c9ffaf0dfdc7dc78d13d1383088f454896d252934c429b2554d10559")

add_library(titan_zmq INTERFACE)
if(NOT TITAN_BOUNDED_LIBZMQ)
  target_link_libraries(titan_zmq INTERFACE PkgConfig::ZMQ)
  return()
endif()

include(ExternalProject)
set(_zmq_prefix ${CMAKE_BINARY_DIR}/third_party/libzmq)
find_program(TITAN_PATCH patch REQUIRED)
ExternalProject_Add(libzmq_bounded
  URL ${TITAN_LIBZMQ_URL}
  URL_HASH SHA256=${TITAN_LIBZMQ_SHA256}
  DOWNLOAD_NO_PROGRESS ON
  PATCH_COMMAND ${TITAN_PATCH} -p1 --forward -i ${CMAKE_CURRENT_LIST_DIR}/bounded-multipart.patch
  PREFIX ${_zmq_prefix}
  INSTALL_DIR ${_zmq_prefix}/install
  CMAKE_ARGS -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=<INSTALL_DIR> -DCMAKE_INSTALL_LIBDIR=lib
             -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DBUILD_SHARED=OFF -DBUILD_STATIC=ON -DBUILD_TESTS=OFF
             -DWITH_DOCS=OFF -DWITH_PERF_TOOL=OFF -DENABLE_DRAFTS=OFF -DWITH_LIBBSD=OFF -DWITH_LIBSODIUM=ON
             -DENABLE_CURVE=ON -DENABLE_WS=OFF -DCMAKE_C_COMPILER_LAUNCHER=${CMAKE_C_COMPILER_LAUNCHER}
             -DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}
  BUILD_BYPRODUCTS <INSTALL_DIR>/lib/libzmq.a
  LOG_DOWNLOAD ON
  LOG_CONFIGURE ON
  LOG_BUILD ON
  LOG_INSTALL ON
  LOG_OUTPUT_ON_FAILURE ON)
file(MAKE_DIRECTORY ${_zmq_prefix}/install/include)  # an imported target's include folder must exist now
add_library(libzmq_bounded_static STATIC IMPORTED)
# libsodium and threads are the static library's own dependencies, so CMake links them after it.
set_target_properties(libzmq_bounded_static PROPERTIES IMPORTED_LOCATION ${_zmq_prefix}/install/lib/libzmq.a
                                                       INTERFACE_LINK_LIBRARIES "PkgConfig::SODIUM;Threads::Threads")
add_dependencies(libzmq_bounded_static libzmq_bounded)
target_include_directories(titan_zmq SYSTEM BEFORE INTERFACE ${_zmq_prefix}/install/include)
target_link_libraries(titan_zmq INTERFACE libzmq_bounded_static)
target_compile_definitions(titan_zmq INTERFACE TITAN_BOUNDED_LIBZMQ=1)
