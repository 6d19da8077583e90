# Unit tests of `mailwarden` (audit/); included from tests/unit/CMakeLists.txt, which
# defines mw_unit_test() (GoogleTest, gtest_discover_tests).
mw_unit_test(audit_test
  ${CMAKE_CURRENT_LIST_DIR}/forward_list_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/sieve_scan_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/ldif_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/postfix_tables_test.cc
)
target_link_libraries(audit_test PRIVATE mw_audit)
