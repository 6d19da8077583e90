// mw-spam-score: runs the inspection engine of a configuration over message files and
// prints the spam rule's score of each, one line per message:
//   path<TAB>score<TAB>spam|ham        (spam: score >= the rule's tag_score)
//   path<TAB>-<TAB>error               (the message could not be read or scored)
// the format bench/spam-corpus.py score reads. Directories are read recursively, files in
// name order. Messages are scored on --threads threads; the lines come out in input order.
//
//   mw-spam-score --config FILE [--rule ID] [--threads N] [--client-ip IP] PATH...
//
// Exit status: 0 done, 1 some message could not be scored, 2 bad usage or configuration.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "milter/content.h"
#include "milter/eml_reader.h"
#include "milter/engine.h"

namespace {

using namespace mailwarden;

int Usage() {
  std::cerr << "usage: mw-spam-score --config FILE [--rule ID] [--threads N] "
               "[--client-ip IP] PATH...\n";
  return 2;
}

struct Scored {
  bool ok = false;
  double score = 0;
  bool spam = false;
};

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, rule_id, client_ip;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--config") {
      config_path = next();
    } else if (a == "--rule") {
      rule_id = next();
    } else if (a == "--client-ip") {
      client_ip = next();
    } else if (a == "--threads") {
      threads = static_cast<unsigned>(std::max(1, std::atoi(next().c_str())));
    } else if (!a.empty() && a[0] == '-') {
      return Usage();
    } else {
      inputs.push_back(a);
    }
  }
  if (config_path.empty() || inputs.empty()) return Usage();
  TuneAllocatorForContent();
  auto config = LoadConfig(config_path);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 2;
  }
  const RuleSpec* rule = nullptr;
  for (const RuleSpec* r : (*config)->RulesFor(CheckHost::kMilter)) {
    if (r->check == "spam" && (rule_id.empty() || r->id == rule_id)) rule = r;
  }
  if (rule == nullptr) {
    std::cerr << "mw-spam-score: " << config_path << " has no spam rule"
              << (rule_id.empty() ? "" : " '" + rule_id + "'") << "\n";
    return 2;
  }
  const double tag = rule->param("tag_score").decimal;
  auto engine = Engine::Build(*config);
  if (!engine.ok()) {
    std::cerr << engine.status().message() << "\n";
    return 2;
  }

  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(in, ec)) {
      std::vector<std::string> found;
      for (const auto& e : std::filesystem::recursive_directory_iterator(in, ec)) {
        if (e.is_regular_file()) found.push_back(e.path().string());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(in);
    }
  }

  std::vector<Scored> results(files.size());
  std::atomic<size_t> next{0};
  const std::string wanted = rule->id;
  auto work = [&] {
    for (size_t i = next++; i < files.size(); i = next++) {
      Envelope env;
      env.client_addr = client_ip;
      env.mail_from = "sender@outside.example";
      env.recipients = {"rcpt@corpus.example"};
      std::unique_ptr<Message> m = (*engine)->NewMessage(env);
      if (!ReadMessageFile(files[i], m.get()).ok()) continue;
      Verdict v = (*engine)->AtEndOfMessage(*m);
      for (const Finding& f : v.findings) {
        if (f.rule_id != wanted || f.check != "spam") continue;
        results[i].ok = true;
        results[i].score = f.evidence.value("score", 0.0);
        results[i].spam = results[i].score >= tag;
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();

  int rc = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!results[i].ok) {
      std::printf("%s\t-\terror\n", files[i].c_str());
      rc = 1;
      continue;
    }
    std::printf("%s\t%.2f\t%s\n", files[i].c_str(), results[i].score,
                results[i].spam ? "spam" : "ham");
  }
  return rc;
}
