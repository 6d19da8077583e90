# Unit and golden tests of the MIME engine (milter/mime); included from
# tests/unit/CMakeLists.txt, which defines mw_unit_test() (GoogleTest, gtest_discover_tests).
mw_unit_test(mime_test
  ${CMAKE_CURRENT_LIST_DIR}/mime_decoders_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mime_header_words_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mime_parser_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/mime_golden_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/tnef_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/arj_test.cc
)
# arj_test builds ARJ archives with zlib's crc32, independent of the reader's own CRC.
find_package(ZLIB REQUIRED)
target_link_libraries(mime_test PRIVATE mw_mime ZLIB::ZLIB)
target_compile_definitions(mime_test PRIVATE MW_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
