# Unit tests of mailwarden-policyd; included from tests/unit/CMakeLists.txt, which defines
# mw_unit_test() (GoogleTest, gtest_discover_tests).
mw_unit_test(policyd_test
  ${CMAKE_CURRENT_LIST_DIR}/account_checks_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/policy_request_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/policy_rules_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/policy_server_test.cc
)
target_link_libraries(policyd_test PRIVATE mw_policyd)

find_program(MW_PYTHON3 python3 REQUIRED)

# A private server as a ctest fixture named NAME: the tests fixture.NAME.start and
# fixture.NAME.stop run tests/integration/SCRIPT start|stop DIR (FIXTURES_SETUP and
# FIXTURES_CLEANUP NAME); the tests needing it say FIXTURES_REQUIRED NAME and read what the
# script wrote in DIR.
function(mw_service_fixture name script dir)
  foreach(action start stop)
    add_test(NAME fixture.${name}.${action}
             COMMAND ${MW_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/integration/${script} ${action}
                     ${dir})
  endforeach()
  set_tests_properties(fixture.${name}.start PROPERTIES FIXTURES_SETUP ${name} LABELS unit
                       ENVIRONMENT PYTHONDONTWRITEBYTECODE=1)
  set_tests_properties(fixture.${name}.stop PROPERTIES FIXTURES_CLEANUP ${name} LABELS unit
                       ENVIRONMENT PYTHONDONTWRITEBYTECODE=1)
endfunction()

# The account directory on a real SQLite file and on a real PostgreSQL server, and the admin
# commands on top of it. The PostgreSQL server is a fixture: a private cluster started before
# the tests (tests/integration/mwpostgres.py, on a free loopback port, in this build tree so
# that two build trees never share one; its URI in postgres-fixture/dsn) and stopped after
# them. MW_TEST_POSTGRES_DSN names that file. Not mw_unit_test(): the discovered tests need
# the fixture.
set(MW_POSTGRES_FIXTURE_DIR ${CMAKE_CURRENT_BINARY_DIR}/postgres-fixture)
mw_service_fixture(postgres mwpostgres.py ${MW_POSTGRES_FIXTURE_DIR})
add_executable(account_store_test
  ${CMAKE_CURRENT_LIST_DIR}/account_store_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/accounts_cli_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/pg_account_marks_test.cc
)
target_link_libraries(account_store_test PRIVATE GTest::gtest GTest::gtest_main mw_policyd
                      PkgConfig::SQLITE3 PkgConfig::LIBPQ)
# DISCOVERY_TIMEOUT before PROPERTIES: after it, it would end the property list.
gtest_discover_tests(account_store_test DISCOVERY_TIMEOUT 30
  PROPERTIES LABELS unit FIXTURES_REQUIRED postgres
             ENVIRONMENT "MW_TEST_POSTGRES_DSN=${MW_POSTGRES_FIXTURE_DIR}/dsn")

# Sender rate limits: the counter stores on a real SQLite file and a real Redis server, and
# the rate_limit rule. The Redis server is a fixture: a private redis-server started before
# the tests (tests/integration/mwredis.py, on a free loopback port; its URL in
# redis-fixture/url) and stopped after them. Not mw_unit_test(): the discovered tests need
# the fixture and its URL.
set(MW_REDIS_FIXTURE_DIR ${CMAKE_CURRENT_BINARY_DIR}/redis-fixture)
mw_service_fixture(redis mwredis.py ${MW_REDIS_FIXTURE_DIR})
add_executable(rate_limit_test ${CMAKE_CURRENT_LIST_DIR}/rate_limit_test.cc)
target_link_libraries(rate_limit_test PRIVATE GTest::gtest GTest::gtest_main mw_policyd
                      PkgConfig::SQLITE3)
target_compile_definitions(rate_limit_test PRIVATE MW_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
gtest_discover_tests(rate_limit_test DISCOVERY_TIMEOUT 30
  PROPERTIES LABELS unit FIXTURES_REQUIRED redis
             ENVIRONMENT MW_TEST_REDIS_URL_FILE=${MW_REDIS_FIXTURE_DIR}/url)

# Change marks of the SQLite stores and the lookup caches that keep answers by them.
mw_unit_test(change_marks_test ${CMAKE_CURRENT_LIST_DIR}/change_marks_test.cc)
target_link_libraries(change_marks_test PRIVATE mw_policyd PkgConfig::SQLITE3)

# Dovecot's quota and last-login dicts on a real SQLite file, merged into the directory.
mw_unit_test(dovecot_dicts_test ${CMAKE_CURRENT_LIST_DIR}/dovecot_dicts_test.cc)
target_link_libraries(dovecot_dicts_test PRIVATE mw_policyd PkgConfig::SQLITE3)
