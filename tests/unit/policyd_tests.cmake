# Unit tests of mailwarden-policyd; included from tests/unit/CMakeLists.txt, which defines
# mw_unit_test() (GoogleTest, gtest_discover_tests).
mw_unit_test(policyd_test
  ${CMAKE_CURRENT_LIST_DIR}/policy_request_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/policy_rules_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/policy_server_test.cc
)
target_link_libraries(policyd_test PRIVATE mw_policyd)
