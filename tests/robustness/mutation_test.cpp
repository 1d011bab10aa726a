// Robustness of the input front end: every shipped scenario, hardware file,
// model (native and Hugging Face) and topology, mutated many seeded ways
// (tests/robustness/mutate.hpp), then checked in-process through the entry point
// `masim check` uses (frontend::check_file), alone and through a scenario that
// references it. For every mutation:
//   - nothing crashes and no exception escapes (check_file documents none);
//   - ok is true exactly when there are no diagnostics;
//   - every diagnostic names a readable file, has a message, and its JSON Pointer
//     resolves in that file as mutated (or names a key missing from an object there);
//   - a mutation that certainly breaks the input gives at least one diagnostic.
// And "all problems at once": two independent breaking mutations give at least
// two diagnostics.
//
// Scale: MASIM_ROBUSTNESS_MUTATIONS (per file, default 300; 40 under AddressSanitizer) and
// MASIM_ROBUSTNESS_SEED (default 20251129) in the environment.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/frontend/scenario.hpp"
#include "tests/robustness/harness.hpp"
#include "tests/robustness/mutate.hpp"
#include "tests/test_time.hpp"

using namespace masim;
using namespace masim::robustness;

namespace {

// Under AddressSanitizer (the asan preset, Debug) every check is ~50x slower.
#if defined(MASIM_TEST_ASAN)
constexpr std::uint64_t kDefaultMutations = 40;
#else
constexpr std::uint64_t kDefaultMutations = 300;
#endif

std::uint64_t env_or(const char* name, std::uint64_t def) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : def;
}

std::uint64_t hash(const std::string& s) {  // FNV-1a: a per-file seed that does not depend on file order
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

struct Outcome {
  bool ok = false;
  io::Diagnostics diags;
  std::string exception;  // non-empty when one escaped
};

Outcome check(Vfs& vfs, const std::string& vpath) {
  Outcome o;
  try {
    o.ok = frontend::check_file(vpath, o.diags, vfs.source()).ok;
  } catch (const std::exception& e) {
    o.exception = std::string("exception: ") + e.what();
  } catch (...) {
    o.exception = "a non-standard exception";
  }
  return o;
}

// Failures by kind, with the first few examples of each.
class Failures {
 public:
  void add(const std::string& kind, const std::string& example) {
    auto& [count, examples] = by_kind_[kind];
    ++count;
    if (examples.size() < 4) examples.push_back(example);
  }
  void report() const {
    for (const auto& [kind, entry] : by_kind_) {
      std::string text = kind + ": " + std::to_string(entry.first) + " mutations; for example:\n";
      for (const std::string& e : entry.second) text += e + "\n";
      FAIL_CHECK(text);
    }
  }
  bool empty() const { return by_kind_.empty(); }
  std::size_t count() const {
    std::size_t n = 0;
    for (const auto& [kind, entry] : by_kind_) n += static_cast<std::size_t>(entry.first);
    return n;
  }

 private:
  std::map<std::string, std::pair<int, std::vector<std::string>>> by_kind_;
};

std::string describe(const CorpusFile& f, const Mutation& m, const std::string& checked, const Outcome& o) {
  std::string s = "  " + f.repo_path + " [" + to_string(m.op) + "] " + m.what + "\n  checked " + checked + ": " +
                  std::to_string(o.diags.size()) + " diagnostics";
  if (!o.exception.empty()) s += "; " + o.exception;
  s += "\n";
  for (std::size_t i = 0; i < o.diags.items().size() && i < 3; ++i) {
    const io::Diagnostic& d = o.diags.items()[i];
    s += "    " + d.file + ":" + (d.pointer.empty() ? "/" : d.pointer) + ": " + d.message + "\n";
  }
  return s;
}

// With MASIM_ROBUSTNESS_DUMP=DIR, every failing mutated file is written to
// DIR/<file name>.<hash>.json, a reproducer for masim check.
void dump_reproducer(const CorpusFile& f, const Mutation& m) {
  const char* dir = std::getenv("MASIM_ROBUSTNESS_DUMP");
  if (dir == nullptr || *dir == '\0') return;
  const std::string name = f.repo_path.substr(f.repo_path.rfind('/') + 1);
  std::ofstream(std::string(dir) + "/" + name + "." + std::to_string(hash(m.text) % 1000000007) + ".json") << m.text;
}

// The checks every outcome must pass; `must_fail`: the mutation certainly broke the input.
void judge(Vfs& vfs, const CorpusFile& f, const Mutation& m, const std::string& checked, const Outcome& o,
           bool must_fail, Failures& fails) {
  const std::size_t failures_before = fails.count();
  if (!o.exception.empty()) {
    fails.add("an exception escaped check_file", describe(f, m, checked, o));
    return;
  }
  if (o.ok != o.diags.empty()) fails.add("ok disagrees with the diagnostics", describe(f, m, checked, o));
  const std::string bad = diagnostic_problems(o.diags, vfs.source());
  if (!bad.empty()) fails.add("malformed diagnostic", describe(f, m, checked, o) + bad);
  if (must_fail && o.diags.empty()) fails.add("an invalid input was accepted", describe(f, m, checked, o));
  if (fails.count() != failures_before) dump_reproducer(f, m);
}

}  // namespace

TEST_CASE("robustness: every shipped input and every host scenario checks clean unmutated") {
  Vfs vfs = Vfs::shipped();
  // 3 hardware files, 6 models, 15 topologies, 5 scenarios (docs/INPUTS.md, topologies/README.md).
  REQUIRE(vfs.corpus().size() >= 29);
  for (const CorpusFile& f : vfs.corpus()) {
    CAPTURE(f.repo_path);
    const Outcome alone = check(vfs, Vfs::path(f.repo_path));
    CHECK_MESSAGE(alone.ok, (alone.diags.format_lines() + alone.exception));
    if (!f.host.empty()) {
      const Outcome host = check(vfs, f.host);
      CHECK_MESSAGE(host.ok, (host.diags.format_lines() + host.exception));
    }
  }
}

TEST_CASE("robustness: seeded mutations of every shipped input never crash and are reported well") {
  Vfs vfs = Vfs::shipped();
  const std::uint64_t per_file = env_or("MASIM_ROBUSTNESS_MUTATIONS", kDefaultMutations);
  const std::uint64_t seed = env_or("MASIM_ROBUSTNESS_SEED", 20251129);
  Failures fails;
  std::array<int, kNumOps> applied{}, invalid{}, rejected{};
  int total = 0;
  for (const CorpusFile& f : vfs.corpus()) {
    const std::string vpath = Vfs::path(f.repo_path);
    const std::string original = vfs.text(vpath);
    const Mutator mutator(f.kind, original);
    Rng rng(seed ^ hash(f.repo_path));
    for (std::uint64_t n = 0; n < per_file; ++n) {
      // Every op in turn (a random site each), so each file meets every kind of mutation.
      const Mutation m = n < kNumOps ? mutator.apply(static_cast<Op>(n), rng) : mutator.random(rng);
      if (!m.applied) continue;
      ++total;
      const int op = static_cast<int>(m.op);
      ++applied[op];
      const bool must_fail = m.expect == Expect::kInvalid;
      invalid[op] += must_fail ? 1 : 0;
      vfs.set(vpath, m.text);
      const Outcome alone = check(vfs, vpath);
      rejected[op] += alone.diags.empty() ? 0 : 1;
      judge(vfs, f, m, "alone", alone, must_fail, fails);
      if (!f.host.empty()) judge(vfs, f, m, "via " + f.host, check(vfs, f.host), must_fail, fails);
      vfs.set(vpath, original);
    }
  }
  std::string summary = "mutations: " + std::to_string(total) + " (op: applied / certainly invalid / rejected)";
  for (int i = 0; i < kNumOps; ++i) {
    summary += std::string("\n  ") + to_string(static_cast<Op>(i)) + ": " + std::to_string(applied[i]) + " / " +
               std::to_string(invalid[i]) + " / " + std::to_string(rejected[i]);
  }
  MESSAGE(summary);
  // Every kind of mutation ran, and the oracle had invalid cases to judge.
  for (int i = 0; i < kNumOps; ++i) CHECK_MESSAGE(applied[i] > 0, to_string(static_cast<Op>(i)));
  CHECK(total >= static_cast<int>(vfs.corpus().size() * per_file * 9 / 10));
  fails.report();
}

TEST_CASE("robustness: two independent problems are both reported (all problems at once)") {
  Vfs vfs = Vfs::shipped();
  const std::uint64_t seed = env_or("MASIM_ROBUSTNESS_SEED", 20251129);
  // Keys whose loss changes what kind of file masim thinks it is (frontend::detect_kind),
  // and an HF config's model_type (nothing else is judged without it).
  const std::map<DocKind, std::vector<std::string>> kind_keys = {
      {DocKind::kScenario, {"layouts", "workload"}},
      {DocKind::kHardware, {"peak_flops", "hbm_bandwidth"}},
      {DocKind::kModel, {"num_layers", "hidden_size"}},
      {DocKind::kHfConfig, {"model_type", "hidden_size"}},
      {DocKind::kTopology, {"generator", "vertices", "links"}}};
  const Op local_ops[] = {Op::kRenameKey, Op::kChangeType, Op::kNumber, Op::kUnit, Op::kDuplicateRank, Op::kDanglingPath};
  Failures fails;
  int pairs = 0;
  for (const CorpusFile& f : vfs.corpus()) {
    const std::string vpath = Vfs::path(f.repo_path);
    const std::string original = vfs.text(vpath);
    const nlohmann::json root = nlohmann::json::parse(original);
    const auto& avoid = kind_keys.at(f.kind);
    auto usable = [&](const Mutation& m) {
      return m.applied && m.expect == Expect::kInvalid && !m.top_key.empty() &&
             std::find(avoid.begin(), avoid.end(), m.top_key) == avoid.end();
    };
    Rng rng(seed ^ hash(f.repo_path) ^ 0x5a5a);
    int made = 0;
    for (int attempt = 0; attempt < 200 && made < 6; ++attempt) {
      const Mutation first = Mutator(f.kind, original).apply(local_ops[rng.below(std::size(local_ops))], rng);
      if (!usable(first)) continue;
      const Mutation second = Mutator(f.kind, first.text).apply(local_ops[rng.below(std::size(local_ops))], rng);
      // A different member of the original (not, say, the key the first one renamed).
      if (!usable(second) || second.top_key == first.top_key || !root.contains(second.top_key)) continue;
      ++made;
      Mutation both = second;
      both.op = Op::kCompound;
      both.what = first.what + "; " + second.what;
      vfs.set(vpath, both.text);
      const Outcome o = check(vfs, vpath);
      judge(vfs, f, both, "alone", o, true, fails);  // pointers resolve in the mutated file
      vfs.set(vpath, original);
      if (o.exception.empty() && o.diags.size() < 2) {
        fails.add("two independent problems, fewer than two diagnostics", describe(f, both, "alone", o));
      }
    }
    pairs += made;
  }
  MESSAGE("pairs of independent problems: " << pairs);
  CHECK(pairs >= static_cast<int>(vfs.corpus().size()) * 3);
  fails.report();
}

TEST_CASE("robustness: a structural topology problem is reported in the topology's file, also through a scenario") {
  // Found by the mutation test: Topology::build ran with the scenario's file name,
  // so a duplicate vertex id in a topology file was reported as
  // "<scenario>:/vertices/17/id", a pointer that does not exist in the scenario.
  Vfs vfs = Vfs::shipped();
  const std::string topo = Vfs::path("topologies/dgx-a100.json");
  nlohmann::json doc = nlohmann::json::parse(vfs.text(topo));
  doc["vertices"].push_back(doc["vertices"][9]);  // a second "n0.nic0", index 17
  vfs.set(topo, doc.dump(2));
  for (const std::string& checked : {topo, Vfs::path("scenarios/robustness/host-dgx-a100.json")}) {
    CAPTURE(checked);
    const Outcome o = check(vfs, checked);
    REQUIRE(o.diags.size() == 1);
    CHECK(o.diags.items()[0].file == topo);
    CHECK(o.diags.items()[0].pointer == "/vertices/17/id");
    CHECK(o.diags.items()[0].message == "duplicate vertex id \"n0.nic0\" (first defined at /vertices/9)");
  }
}

TEST_CASE("robustness: an infinite generator bandwidth is one problem at the generator's key") {
  // Found by the mutation test ("1e308 GB/s" overflows to +inf): the generator
  // accepted it and Topology::build reported 32 problems at /links/N/bandwidth,
  // pointers that do not exist in a generator-form file. Fixed in sim/topology
  // (29526a3: bandwidths in [1 MB/s, 1 PB/s]).
  Vfs vfs = Vfs::shipped();
  const std::string topo = Vfs::path("topologies/hgx-h100-x2.json");
  nlohmann::json doc = nlohmann::json::parse(vfs.text(topo));
  doc["generator"]["nvlink_per_gpu"] = "1e308 GB/s";
  vfs.set(topo, doc.dump(2));
  const Outcome o = check(vfs, topo);
  REQUIRE(o.diags.size() == 1);
  CHECK(o.diags.items()[0].pointer == "/generator/nvlink_per_gpu");
  CHECK(diagnostic_problems(o.diags, vfs.source()).empty());
}

TEST_CASE("robustness: the largest degrees the parser accepts, several in one layout, are reported, not overflowed") {
  // Each degree may be up to 2^20 (docs/INPUTS.md); products of two or three of
  // them overflow a 32-bit int. Found by reading validate.cpp after the mutation
  // test's huge_pair op: attention_tp x attention_replicas = 2^32 wrapped to 0 and
  // "attention GPUs % 0" divided by zero; tp x pp x dp and ep x dp overflowed.
  const int big = 1 << 20;
  const std::vector<nlohmann::json> layouts = {
      {{"name", "x"}, {"kind", "ma_separation"},
       {"ma", {{"attention_gpus", {0, 1}}, {"expert_gpus", {2}}, {"attention_tp", big}, {"attention_replicas", 4096}}}},
      {{"name", "x"}, {"kind", "ma_separation"},
       {"ma", {{"attention_gpus", {0, 1}}, {"expert_gpus", {2}}, {"attention_tp", big}, {"attention_replicas", big}}}},
      {{"name", "x"}, {"kind", "tp_pp"}, {"tp", big}, {"pp", big}, {"dp", big}},
      {{"name", "x"}, {"kind", "tp_pp"}, {"tp", 4096}, {"pp", 1}, {"dp", big}},
      {{"name", "x"}, {"kind", "ep"}, {"ep", big}, {"dp", big}},
      {{"name", "x"}, {"kind", "ep"}, {"ep", 4096}, {"dp", big}},
      {{"name", "x"}, {"kind", "pp"}, {"pp", big}, {"stage_parallelism", "tp"}, {"tp", big}, {"dp", big}},
      {{"name", "x"}, {"kind", "tp"}, {"tp", 65536}, {"dp", 65536}},
  };
  Vfs vfs = Vfs::shipped();
  const std::string path = Vfs::path("scenarios/paper/seed_study.json");
  const std::string original = vfs.text(path);
  for (const nlohmann::json& l : layouts) {
    CAPTURE(l.dump());
    nlohmann::json doc = nlohmann::json::parse(original);
    doc["layouts"] = nlohmann::json::array({l});
    vfs.set(path, doc.dump(2));
    const Outcome o = check(vfs, path);
    CHECK(o.exception.empty());
    CHECK_FALSE(o.ok);
    CHECK(diagnostic_problems(o.diags, vfs.source()).empty());
    // The layout is too big for the 16-GPU topology, and says so.
    bool exceeds = false;
    for (const io::Diagnostic& d : o.diags.items()) {
      if (d.pointer == "/layouts/0" && d.message.rfind("expected a layout of at most 16 GPUs", 0) == 0) exceeds = true;
    }
    const bool ma = l["kind"] == "ma_separation";  // 3 GPUs: fits; its group rule fails instead
    CHECK_MESSAGE(exceeds != ma, o.diags.format_lines());
  }
}

TEST_CASE("robustness: values nested 100,000 deep anywhere are reported or ignored, never a stack overflow") {
  // Found while writing the fuzz target: SourceMap::record_tree walked every value
  // recursively, so a layout holding [[[...]]] 200,000 deep crashed masim check
  // (SIGSEGV). The JSON parser itself is iterative. The documents are built as
  // text: copying such a json value would recurse in the test too.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  struct Case {
    std::string file;       // repository path of the file that gets the deep value
    std::string anchor;     // text after which `"key": deep,` is inserted
    std::string key;        // one the object does not have yet (a JSON object keeps the last of two)
    std::string checked;    // what to check (virtual path)
  };
  const std::vector<Case> cases = {
      {"scenarios/paper/seed_study.json", "{\"name\": \"TP=8\",", "gpus", "scenarios/paper/seed_study.json"},
      {"scenarios/paper/seed_study.json", "{\"name\": \"TP=8\",", "_note", "scenarios/paper/seed_study.json"},
      {"scenarios/paper/seed_study.json", "\"workload\": {", "_note", "scenarios/paper/seed_study.json"},
      {"scenarios/paper/seed_study.json", "\"ma\": {", "attention_gpus_", "scenarios/paper/seed_study.json"},
      {"scenarios/hardware/a100-sxm4-80gb.json", "\"schema\": 1,", "id", "scenarios/robustness/host-a100-sxm4-80gb.json"},
      {"scenarios/models/seed-moe-4l.json", "\"schema\": 1,", "moe_layer", "scenarios/robustness/host-seed-moe-4l.json"},
      {"scenarios/models/mixtral-8x7b.config.json", "{", "rope_scaling", "scenarios/robustness/host-mixtral-8x7b.config.json"},
      {"topologies/dgx-a100.json", "{\"id\": \"n0.gpu0\",", "_note", "scenarios/robustness/host-dgx-a100.json"},
      {"topologies/dgx-a100-x2.json", "\"generator\": {", "rails", "scenarios/paper/seed_study.json"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.file);
    CAPTURE(c.key);
    Vfs vfs = Vfs::shipped();
    const std::string vpath = Vfs::path(c.file);
    std::string text = vfs.text(vpath);
    const auto at = text.find(c.anchor);
    REQUIRE(at != std::string::npos);
    text.insert(at + c.anchor.size(), " \"" + c.key + "\": " + deep + ",");
    vfs.set(vpath, text);
    for (const std::string& checked : {vpath, Vfs::path(c.checked)}) {
      const Outcome o = check(vfs, checked);
      CHECK(o.exception.empty());
      CHECK(o.ok == o.diags.empty());
      CHECK(diagnostic_problems(o.diags, vfs.source()).empty());
      // A documentation key or an HF key masim does not read is fine; anything else is a problem.
      const bool ignored = c.key == "_note" || c.key == "rope_scaling";
      CHECK(o.ok == ignored);
    }
  }
}

TEST_CASE("robustness: references to a device, a directory or a FIFO are reported, never read") {
  // Found by reading FileSource::read: "hardware": "/dev/zero" was read until the
  // memory ran out (std::bad_alloc, exit 1), and a FIFO would block forever.
  Vfs vfs = Vfs::shipped();
  const std::string path = Vfs::path("scenarios/paper/seed_study.json");
  const nlohmann::json original = nlohmann::json::parse(vfs.text(path));
  const std::string dir = source_path("topologies");
  struct Case {
    const char* key;
    std::string target;
  };
  for (const Case& c : {Case{"hardware", "/dev/zero"}, Case{"model", "/dev/null"}, Case{"topology", dir},
                        Case{"profile", "/dev/zero"}}) {
    CAPTURE(c.key);
    nlohmann::json doc = original;
    doc[c.key] = c.target;
    vfs.set(path, doc.dump(2));
    const Outcome o = check(vfs, path);
    CHECK(o.exception.empty());
    REQUIRE(o.diags.size() == 1);
    CHECK(o.diags.items()[0].file == path);
    CHECK(o.diags.items()[0].pointer == std::string("/") + c.key);
    CHECK(o.diags.items()[0].message.rfind("cannot read file \"" + c.target + "\"", 0) == 0);
  }
}

TEST_CASE("robustness: a number beyond the range of a double is invalid JSON, not an internal error") {
  // Found by the fuzz target: nlohmann::json throws out_of_range (406), not
  // parse_error, for "1e400"; it escaped check_file and masim check exited 1.
  Vfs vfs = Vfs::shipped();
  const std::string scenario = Vfs::path("scenarios/paper/seed_study.json");
  const std::string model = Vfs::path("scenarios/models/seed-moe-4l.json");
  std::string text = vfs.text(model);
  const auto at = text.find("\"num_layers\": 4");
  REQUIRE(at != std::string::npos);
  text.replace(at, 15, "\"num_layers\": 1e400");
  vfs.set(model, text);
  for (const std::string& checked : {model, scenario}) {
    CAPTURE(checked);
    const Outcome o = check(vfs, checked);
    CHECK(o.exception.empty());
    REQUIRE(o.diags.size() == 1);
    CHECK(o.diags.items()[0].file == model);
    CHECK(o.diags.items()[0].pointer.empty());
    const std::size_t line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + at, '\n'));
    CHECK(o.diags.items()[0].message ==
          "invalid JSON at line " + std::to_string(line) +
              ", column 17: number overflow parsing '1e400' (outside the range of a double)");
  }
}
