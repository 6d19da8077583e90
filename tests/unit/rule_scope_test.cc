#include "common/rule_scope.h"

#include <gtest/gtest.h>

#include "common/config.h"
#include "tests/unit/test_files.h"

namespace mailwarden {
namespace {

// The scope of the only rule in a rules file whose rule carries `conditions`.
struct Loaded {
  std::shared_ptr<const Config> config;
  RuleScope scope;
};

Loaded Load(const std::string& conditions, const std::string& extra = "") {
  auto config =
      testing::ConfigWithRules("  - id: r\n    check: message_size\n" + conditions, extra);
  auto scope = RuleScope::Build(config->rules[0]);
  EXPECT_TRUE(scope.ok());
  return {config, *scope};
}

ScopeInput Input(const std::string& sender, const std::vector<std::string>& rcpts,
                 bool auth = false, const std::string& ip = "203.0.113.1") {
  static std::vector<std::vector<std::string>> keep;  // recipients outlive the views
  static std::vector<std::string> senders, ips;
  keep.push_back(rcpts);
  senders.push_back(sender);
  ips.push_back(ip);
  ScopeInput in;
  in.sender = senders.back();
  in.recipients = keep.back();
  in.authenticated = auth;
  in.client_address = ips.back();
  return in;
}

TEST(Locality, DirectionFromDomainsAuthAndTrustedNetworks) {
  auto loaded = Load("", "domains:\n  internal: [bacgiang.gov.vn]\ntrusted_networks: [10.0.0.0/8]\n");
  auto locality = Locality::Build(*loaded.config);
  ASSERT_TRUE(locality.ok());
  const Locality& l = *locality;
  EXPECT_EQ(l.Classify(Input("x@gmail.com", {"y@so.bacgiang.gov.vn"})), Direction::kInbound);
  EXPECT_EQ(l.Classify(Input("y@bacgiang.gov.vn", {"z@bacgiang.gov.vn"})), Direction::kInternal);
  EXPECT_EQ(l.Classify(Input("y@bacgiang.gov.vn", {"z@bacgiang.gov.vn", "q@gmail.com"})),
            Direction::kOutbound);
  EXPECT_EQ(l.Classify(Input("x@notbacgiang.gov.vn", {"q@gmail.com"})), Direction::kExternal);
  EXPECT_EQ(l.Classify(Input("x@gmail.com", {"q@gmail.com"}, /*auth=*/true)),
            Direction::kOutbound);
  EXPECT_EQ(l.Classify(Input("", {"q@gmail.com"}, false, "10.1.2.3")), Direction::kOutbound);
  EXPECT_FALSE(l.IsInternalDomain("xbacgiang.gov.vn"));
}

TEST(RuleScope, WhenNeedsEveryKeyExceptAnyKey) {
  auto s = Load("    when: { direction: [inbound, external], authenticated: false }\n"
                "    except: { senders: [\"@partner.example\"], client_networks: [192.0.2.0/24] }\n")
               .scope;
  EXPECT_TRUE(s.Applies(Input("a@gmail.com", {"b@x"}), Direction::kInbound));
  EXPECT_FALSE(s.Applies(Input("a@gmail.com", {"b@x"}), Direction::kOutbound));
  EXPECT_FALSE(s.Applies(Input("a@gmail.com", {"b@x"}, /*auth=*/true), Direction::kInbound));
  EXPECT_FALSE(s.Applies(Input("a@partner.example", {"b@x"}), Direction::kInbound));
  EXPECT_FALSE(s.Applies(Input("a@gmail.com", {"b@x"}, false, "192.0.2.7"), Direction::kInbound));
  EXPECT_TRUE(s.needs_recipients());
}

TEST(RuleScope, ExceptRecipientsNeedsAllOfThem) {
  auto s = Load("    except: { recipients: [it@bacgiang.gov.vn] }\n").scope;
  EXPECT_FALSE(s.Applies(Input("a@b.c", {"it@bacgiang.gov.vn"}), Direction::kInbound));
  // Adding the excepted address to a message does not exempt its other recipients.
  EXPECT_TRUE(s.Applies(Input("a@b.c", {"it@bacgiang.gov.vn", "boss@bacgiang.gov.vn"}),
                        Direction::kInbound));
  auto w = Load("    when: { recipients: [\"@bacgiang.gov.vn\"] }\n").scope;
  EXPECT_TRUE(w.Applies(Input("a@b.c", {"q@gmail.com", "x@bacgiang.gov.vn"}), Direction::kInbound));
  EXPECT_FALSE(w.Applies(Input("a@b.c", {"q@gmail.com"}), Direction::kInbound));
}

TEST(RuleScope, NoConditionsAppliesEverywhere) {
  auto s = Load("").scope;
  EXPECT_TRUE(s.Applies(Input("", {}), Direction::kExternal));
  EXPECT_FALSE(s.needs_recipients());
}

TEST(RuleScope, BadConditionsAreConfigErrorsWithPositions) {
  testing::TempDir dir;
  dir.Write("r.yaml",
            "version: 1\nrules:\n  - id: r\n    check: message_size\n"
            "    when: { direction: [sideways], client_networks: [10.0.0.1/8], colour: red }\n"
            "    except: []\n");
  std::string path = dir.Write("c.yaml", "version: 1\nrule_files: [r.yaml]\n");
  auto config = LoadConfig(path);
  ASSERT_FALSE(config.ok());
  const std::string& e = config.status().message();
  std::string r = dir.Path("r.yaml");
  EXPECT_NE(e.find(r + ":5:25: direction: 'sideways'"), std::string::npos) << e;
  EXPECT_NE(e.find(r + ":5:54: client_networks: '10.0.0.1/8'"), std::string::npos) << e;
  EXPECT_NE(e.find(r + ":5:67: when: unknown key 'colour'"), std::string::npos) << e;
  EXPECT_NE(e.find(r + ":6:13: except: expected a mapping"), std::string::npos) << e;
}

}  // namespace
}  // namespace mailwarden
