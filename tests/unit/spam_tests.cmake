# Unit tests of the spam check (milter/spam, milter/checks/spam); included from
# tests/unit/CMakeLists.txt, which defines mw_unit_test() (GoogleTest, gtest_discover_tests).
mw_unit_test(spam_rules_test ${CMAKE_CURRENT_LIST_DIR}/spam_rules_test.cc)
mw_unit_test(spam_bayes_test ${CMAKE_CURRENT_LIST_DIR}/spam_bayes_test.cc)
mw_unit_test(spam_net_test ${CMAKE_CURRENT_LIST_DIR}/spam_dnsbl_test.cc
             ${CMAKE_CURRENT_LIST_DIR}/spam_external_scorer_test.cc
             ${CMAKE_CURRENT_LIST_DIR}/resolve_test.cc)
mw_unit_test(spam_view_test ${CMAKE_CURRENT_LIST_DIR}/spam_view_test.cc
             ${CMAKE_CURRENT_LIST_DIR}/spam_heuristics_test.cc)
mw_unit_test(spam_check_test ${CMAKE_CURRENT_LIST_DIR}/spam_check_test.cc)
foreach(t spam_rules_test spam_bayes_test spam_net_test spam_view_test spam_check_test)
  target_link_libraries(${t} PRIVATE mw_engine)
  target_compile_definitions(${t} PRIVATE MW_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
endforeach()
