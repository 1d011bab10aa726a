// masim-calibrate: measures kernels and collectives on a GPU node, fits cost
// models and writes a calibration profile; validates masim's predictions
// against a real decode step. docs/CALIBRATION.md says how to run it.
//
// Exit codes: 0 ok; 1 a measurement or validation came out wrong; 2 bad input
// (arguments, scenario, profile); 3 environment (CUDA, cuBLAS, NCCL, files).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "calibrate/collectives.hpp"
#include "calibrate/device.hpp"
#include "calibrate/quality.hpp"
#include "calibrate/recheck.hpp"
#include "calibrate/run.hpp"
#include "calibrate/validate.hpp"
#include "kernels/cuda/check.hpp"
#include "sim/io/cli_args.hpp"
#include "sim/io/diagnostics.hpp"

namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (!s.empty() && pos <= s.size()) {
    const std::size_t comma = s.find(',', pos);
    out.push_back(s.substr(pos, comma - pos));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace masim::calibrate;
  CLI::App app{"masim-calibrate: measure kernels and collectives on this GPU node, write a calibration profile, "
               "validate masim against a real decode step"};
  app.set_version_flag("--version", std::string("masim-calibrate ") + MASIM_VERSION_STRING);
  app.require_subcommand(1);

  RunOptions run;
  std::string only;
  auto* run_cmd = app.add_subcommand("run", "Measure every op family on its grid and write the profile");
  run_cmd->add_option("-o,--out", run.out, "Profile to write (atomically)")->required();
  run_cmd->add_flag("--resume", run.resume, "Continue from OUT.journal.jsonl (same GPU only)");
  run_cmd->add_flag("--quick", run.quick, "Small grids: a smoke test, not a profile to commit");
  run_cmd->add_option("--only", only, "Comma-separated tables to measure (default: all)");
  run_cmd->add_option("--holdout", run.holdout, "Random off-grid shapes per table")->check(CLI::Range(0, 10000));
  run_cmd->add_option("--memory-cap-gib", run.memory_cap_gib, "Largest buffer footprint per point")
      ->check(CLI::Range(1.0, 1000.0));
  run_cmd->add_option("--seed", run.seed, "Seed of inputs and holdout shapes");
  run_cmd->add_option("--model-draws", run.model_draws,
                      "Batch/context draws per model for the model-shape holdout (0: none)")
      ->check(CLI::Range(0, 10000));
  run_cmd->add_option("--model-scenarios", run.model_scenarios, "Scenarios of the model-shape holdout")
      ->check(CLI::ExistingFile);
  run_cmd->add_option("--git-commit", run.git_commit, "Commit of the sources (recorded in the profile)");
  run_cmd->add_option("--window-ms", run.timing.window_ms, "Replay time per point")->check(CLI::Range(1.0, 10000.0));
  run_cmd->add_flag("!--no-collectives", run.collectives, "Skip the NCCL collectives");
  run_cmd->add_option("--decode-variant", run.decode_variant,
                      "Decode attention kernel: 0 automatic, 1 CUDA cores, 2/3 tensor cores, 4 balanced split-KV")
      ->check(CLI::Range(0, 4));
  run_cmd->add_option("--gemm-tune-margin", run.gemm_tune_margin,
                      "Keep cublasGemmEx's algorithm unless another is faster by more than this fraction (0: fastest wins)")
      ->check(CLI::Range(0.0, 0.9));
  run_cmd->add_flag("--gemm-tune-neighbors,!--no-gemm-tune-neighbors", run.gemm_tune_neighbors,
                    "GEMM tuning also times the heuristic's algorithms for m + 1 and m rounded up to 128 (default on)");
  run_cmd->add_option("--gemm-algo", run.gemm_algo,
                      "GEMM algorithm: tuned (timed per shape, masim's kernels) or heuristic (cuBLASLt's first "
                      "choice, as frameworks run it; tables recorded as production kernels)")
      ->check(CLI::IsMember({"tuned", "heuristic"}));
  run_cmd->add_option("--gemm-extra-n", run.grids.gemm_extra_n, "Extra gemm_bf16 grid columns n (e.g. 60)")
      ->delimiter(',')
      ->check(CLI::Range(1.0, 16384.0));
  run_cmd->add_flag("--grouped-dense-nk", run.grids.grouped_dense_nk,
                    "Experiment: grouped_gemm_bf16's n and k at 1.5x steps to 8192 (not powers of two to 16384)");
  run_cmd->add_flag("--grouped-dense-groups", run.grids.grouped_dense_groups,
                    "Experiment: grouped_gemm_bf16's group counts at 1.5x steps, not only powers of two");
  run_cmd->add_option("--deadline-s", run.deadline_s, "Stop measuring after this long; finish later with --resume");

  ValidateOptions val;
  auto* val_cmd = app.add_subcommand("validate", "Run the scenario's real decode step and compare it with masim");
  val_cmd->add_option("scenario", val.scenario, "Scenario file")->required()->check(CLI::ExistingFile);
  val_cmd->add_option("--profile", val.profile, "Profile (default: the scenario's)");
  val_cmd->add_option("--layers", val.layers, "Layers to run (default: all that fit)")->check(CLI::Range(1, 100000));
  val_cmd->add_option("-o,--out", val.out, "JSON report");
  val_cmd->add_option("--replays", val.replays, "Graph replays timed")->check(CLI::Range(3, 10000));
  val_cmd->add_option("--grouped-mode", val.grouped_mode, "Expert GEMMs: auto, grouped (cublasGemmGroupedBatchedEx) or loop")
      ->check(CLI::IsMember({"auto", "grouped", "loop"}));
  val_cmd->add_option("--gemm-tune-margin", val.gemm_tune_margin,
                      "As run's --gemm-tune-margin (use the profile's value)")
      ->check(CLI::Range(0.0, 0.9));
  val_cmd->add_flag("--gemm-tune-neighbors,!--no-gemm-tune-neighbors", val.gemm_tune_neighbors,
                    "As run's --gemm-tune-neighbors (use the profile's setting; default on)");
  val_cmd->add_option("--attention-variant", val.attention_variant,
                      "Decode attention: 0 auto, 1 CUDA cores, 2 tensor cores (64-key tiles), 3 (32-key tiles), "
                      "4 tensor cores, balanced split-KV")
      ->check(CLI::Range(0, 4));

  QualityOptions qual;
  auto* qual_cmd = app.add_subcommand("quality", "Kernel-quality figures (achieved rates, attention vs copy, grouped vs dense)");
  qual_cmd->add_option("-o,--out", qual.out, "JSON report");
  qual_cmd->add_flag("--quick", qual.quick, "Fewer shapes");

  RecheckOptions rc;
  std::string rc_only;
  auto* rc_cmd = app.add_subcommand("recheck",
                                    "Measure fresh off-grid shapes against a profile's fits (grids not re-measured)");
  rc_cmd->add_option("profile", rc.profile, "Profile to check")->required()->check(CLI::ExistingFile);
  rc_cmd->add_option("-o,--out", rc.out, "Copy of the profile with the re-measured holdouts (atomically)")->required();
  rc_cmd->add_option("--seed", rc.seed, "Seed of the shapes and inputs (use one the profile's run did not)");
  rc_cmd->add_option("--holdout", rc.holdout, "Random off-grid shapes per table")->check(CLI::Range(1, 100000));
  rc_cmd->add_option("--model-draws", rc.model_draws, "Batch/context draws per validation model (0: none)")
      ->check(CLI::Range(0, 10000));
  rc_cmd->add_option("--only", rc_only, "Comma-separated tables (default: all)");
  rc_cmd->add_option("--window-ms", rc.timing.window_ms, "Replay time per shape")->check(CLI::Range(1.0, 10000.0));
  rc_cmd->add_option("--deadline-s", rc.deadline_s, "Stop measuring after this long");
  rc_cmd->add_option("--gemm-tune-margin", rc.gemm_tune_margin, "As run's (use the profile's value)")
      ->check(CLI::Range(0.0, 0.9));
  rc_cmd->add_flag("--gemm-tune-neighbors,!--no-gemm-tune-neighbors", rc.gemm_tune_neighbors,
                   "As run's (use the profile's setting; default on)");

  CollectiveOptions coll;
  auto* coll_cmd = app.add_subcommand("nccl", "NCCL collectives over several GPUs, one process per GPU (or MPI ranks)");
  coll_cmd->add_option("--ranks", coll.ranks, "Processes/GPUs (default: all visible)")->check(CLI::Range(1, 4096));
  coll_cmd->add_flag("--mpi", coll.use_mpi, "Started by mpirun: one MPI rank per GPU, across nodes");
  coll_cmd->add_flag("--quick", coll.quick, "Fewer sizes");
  coll_cmd->add_option("-o,--out", coll.out, "Profile-format JSON with the collective tables (rank 0)");

  auto* info_cmd = app.add_subcommand("info", "Print this GPU's provenance as the profile would record it");

  if (auto code = masim::io::parse_args(app, argc, argv)) return *code;
  std::vector<std::string> args(argv, argv + argc);
  try {
    if (*run_cmd) {
      run.arguments = args;
      run.only = split_commas(only);
      return run_calibration(run);
    }
    if (*rc_cmd) {
      rc.arguments = args;
      rc.only = split_commas(rc_only);
      return run_recheck(rc);
    }
    if (*val_cmd) return run_validate(val);
    if (*qual_cmd) return run_quality(qual);
    if (*coll_cmd) {
      coll.arguments = args;
      return run_collectives_multi(coll, argc, argv);
    }
    if (*info_cmd) {
      Device dev(0, 0);
      masim::profile::Provenance p = dev.provenance();
      nlohmann::json j = {{"gpu_name", p.gpu_name},       {"gpu_uuid", p.gpu_uuid},
                          {"sm_count", p.sm_count},       {"l2_bytes", p.l2_bytes},
                          {"hbm_bytes", p.hbm_bytes},     {"clocks_mhz", p.clocks_mhz},
                          {"driver_version", p.driver_version}, {"cuda_runtime_version", p.cuda_runtime_version},
                          {"cuda_driver_version", p.cuda_driver_version}, {"cublas_version", p.cublas_version},
                          {"nccl_version", p.nccl_version}, {"nvml", dev.nvml().available() ? "ok" : dev.nvml().error()}};
      std::printf("%s\n", j.dump(1).c_str());
      return 0;
    }
  } catch (const masim::io::InputError& e) {
    std::fprintf(stderr, "%s", e.diagnostics().format("nothing was run").c_str());
    return 2;
  } catch (const masim::kernels::cuda::DeviceError& e) {
    std::fprintf(stderr, "masim-calibrate: %s\n", e.what());
    return 3;
  } catch (const masim::io::EnvironmentError& e) {
    std::fprintf(stderr, "masim-calibrate: %s\n", e.what());
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "masim-calibrate: %s\n", e.what());
    return 3;
  }
  return 0;
}
