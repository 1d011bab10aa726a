// `masim search`: per layout kind, the configuration with the highest decode
// tokens/s per GPU (and per dollar) that meets a TPOT SLO and fits in memory,
// over TP/PP/EP degrees, MA Separation's attention:expert split and its TP
// degrees, replication (DP), micro-batches and the load per GPU, on one or
// more systems (hardware + topology + a price per GPU-hour). Every candidate is
// one single-layout scenario, validated like any scenario (a candidate the
// rules reject is counted, never simulated) and simulated on the sweep's
// thread pool. docs/INPUTS.md, "Search".
//
//   {"schema": 1, "name": "seed-search", "base": "../paper/seed_study.json",
//    "slo": {"tpot": "20 ms"}, "price_per_gpu_hour": 1.3,
//    "batch_per_gpu": [8, 16, 24, 32, 48, 64], "micro_batches": [1, 2, 4]}
//
// Why the winner wins: its binding resource (binding.hpp) and what stops it
// from taking more load: the next larger batch per GPU of the same
// configuration misses the SLO (its TPOT), does not fit in memory, or breaks a
// batch rule; and how far the runner-up (the best other configuration) is.
//
//   auto s = load_search("scenarios/search/seed_search.json", d, files);
//   SearchResult r = run_search(*s, 2, files, "0.1.0");
//   std::cout << format_search(*s, r);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/frontend/estimate.hpp"
#include "sim/frontend/files.hpp"
#include "sim/io/diagnostics.hpp"

namespace masim::sweep {

struct SearchSystem {
  std::string name;
  nlohmann::json hardware;  // a path (relative to the base scenario) or an object; null = the base's
  nlohmann::json topology;
  double price_per_gpu_hour = 0.0;  // dollars; 0 = no price given
};

struct SearchSpec {
  std::string file;
  std::string name;
  nlohmann::json base;
  std::string base_file;
  double tpot_slo_ms = 0.0;
  std::vector<SearchSystem> systems;
  std::vector<std::string> kinds;        // layout kinds searched
  std::vector<int> gpus;                 // GPU counts (the first N ranks); empty = the topology's
  std::vector<int> batch_per_gpu;        // empty = the base's batch
  std::vector<int> micro_batches;
  int max_tp = 8;
  std::vector<int> hot_expert_replicas;  // MA Separation
};

std::optional<SearchSpec> load_search(const std::string& path, io::Diagnostics& diags, const frontend::FileSource& files);
bool is_search(const nlohmann::json& doc);  // has "slo" and "base", no "axes"

struct Candidate {
  std::size_t index = 0;
  std::string kind;
  std::string config;       // "TP=4 x DP=4", "MA 8 attention (TP 2) + 8 expert, mb 2", ...
  std::string family;       // config without the load: the key for "the next larger batch"
  std::string system;
  int gpus = 0;
  int batch_per_gpu = 0;
  double price = 0.0;
  nlohmann::json doc;       // the candidate's scenario document
  // Outcome
  std::string status;       // "feasible", "slo" (TPOT over the SLO), "memory", "invalid", "failed"
  std::string reason;
  nlohmann::json row;       // layout_row when simulated
  double tokens_per_s_per_gpu = 0.0;
  double tokens_per_dollar = 0.0;  // tokens/s per GPU x 3600 / price
  double tpot_ms = 0.0;
};

struct KindResult {
  std::string kind;
  std::optional<std::size_t> best;             // by tokens/s per GPU
  std::optional<std::size_t> runner_up;        // the best of another configuration family
  std::optional<std::size_t> best_per_dollar;
  std::optional<std::size_t> next_load;        // the winner's family at the next larger batch per GPU
  std::size_t feasible = 0, simulated = 0, invalid = 0;
};

struct SearchResult {
  std::vector<Candidate> candidates;
  std::vector<KindResult> kinds;
  std::size_t simulated = 0, invalid = 0;
  double seconds = 0.0;
};

std::vector<Candidate> search_candidates(const SearchSpec& s, const frontend::FileSource& files);
SearchResult run_search(const SearchSpec& s, int jobs, const frontend::FileSource& files, const std::string& version);

std::string format_search(const SearchSpec& s, const SearchResult& r);
nlohmann::json search_json(const SearchSpec& s, const SearchResult& r);  // winners, no timing
std::string search_csv(const SearchResult& r);                          // every candidate

}  // namespace masim::sweep
