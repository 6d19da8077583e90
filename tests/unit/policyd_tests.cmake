# Unit tests of mailwarden-policyd; included from tests/unit/CMakeLists.txt, which defines
# mw_unit_test() (GoogleTest, gtest_discover_tests).
mw_unit_test(policyd_test
  ${CMAKE_CURRENT_LIST_DIR}/account_checks_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/policy_request_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/policy_rules_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/policy_server_test.cc
)
target_link_libraries(policyd_test PRIVATE mw_policyd)

# The account directory on a real SQLite file, and the admin commands on top of it.
mw_unit_test(account_store_test
  ${CMAKE_CURRENT_LIST_DIR}/account_store_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/accounts_cli_test.cc
)
target_link_libraries(account_store_test PRIVATE mw_policyd PkgConfig::SQLITE3)

# Sender rate limits: the counter store on a real SQLite file, and the rate_limit rule.
mw_unit_test(rate_limit_test ${CMAKE_CURRENT_LIST_DIR}/rate_limit_test.cc)
target_link_libraries(rate_limit_test PRIVATE mw_policyd PkgConfig::SQLITE3)

# Dovecot's quota and last-login dicts on a real SQLite file, merged into the directory.
mw_unit_test(dovecot_dicts_test ${CMAKE_CURRENT_LIST_DIR}/dovecot_dicts_test.cc)
target_link_libraries(dovecot_dicts_test PRIVATE mw_policyd PkgConfig::SQLITE3)
