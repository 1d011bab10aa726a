#include "calibrate/run.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "calibrate/benches.hpp"
#include "calibrate/collectives.hpp"
#include "calibrate/model_shapes.hpp"
#include "kernels/cuda/check.hpp"
#include "kernels/reference/numeric.hpp"
#include "sim/io/diagnostics.hpp"
#include "sim/profile/derive.hpp"
#include "sim/profile/fit.hpp"
#include "sim/profile/op_map.hpp"

namespace masim::calibrate {

using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Which list a point belongs to: the grid, the random holdout or the model holdout.
enum class PointKind { kGrid, kHoldout, kModel };

std::string point_key(const std::string& table, PointKind kind, const std::vector<double>& x) {
  const char* tag = kind == PointKind::kGrid ? "|g|" : (kind == PointKind::kHoldout ? "|h|" : "|m|");
  return table + tag + json(x).dump();
}

PointKind kind_of(const json& record) {
  if (record.value("model", false)) return PointKind::kModel;
  return record.value("holdout", false) ? PointKind::kHoldout : PointKind::kGrid;
}

std::string describe_point(const Bench& b, const std::vector<double>& x) {
  const auto& axes = profile::canonical_axes(b.kind());
  std::ostringstream s;
  for (std::size_t a = 0; a < x.size(); ++a) s << (a ? " " : "") << axes[a] << "=" << x[a];
  return s.str();
}

std::string fmt_duration(double s) {
  char buf[32];
  if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  }
  return buf;
}

class Progress {
 public:
  explicit Progress(std::size_t total) : total_(total), tty_(isatty(2) != 0), start_(clock::now()) {}
  void step(const std::string& table, const std::string& what, const std::string& result) {
    ++done_;
    const double el = std::chrono::duration<double>(clock::now() - start_).count();
    const double eta = done_ > 0 ? el / static_cast<double>(done_) * static_cast<double>(total_ - done_) : 0;
    char head[64];
    std::snprintf(head, sizeof head, "[%5zu/%zu] ", done_, total_);
    if (tty_) {
      std::fprintf(stderr, "\r\033[K%s%s %s  %s  ETA %s", head, table.c_str(), what.c_str(), result.c_str(),
                   fmt_duration(eta).c_str());
      std::fflush(stderr);
    } else if (done_ % 100 == 0 || done_ == total_) {
      std::printf("%s%s %s  %s  elapsed %s ETA %s\n", head, table.c_str(), what.c_str(), result.c_str(),
                  fmt_duration(el).c_str(), fmt_duration(eta).c_str());
      std::fflush(stdout);
    }
  }
  void line(const std::string& s) {
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::printf("%s\n", s.c_str());
    std::fflush(stdout);
  }
  void skip() { ++done_; }

 private:
  using clock = std::chrono::steady_clock;
  std::size_t total_;
  std::size_t done_ = 0;
  bool tty_;
  clock::time_point start_;
};

struct Grid {
  std::vector<std::vector<double>> axes;
  std::size_t points() const {
    std::size_t n = 1;
    for (const auto& a : axes) n *= a.size();
    return n;
  }
  std::vector<double> at(std::size_t f) const {
    std::vector<double> x(axes.size());
    for (std::size_t a = axes.size(); a-- > 0;) {
      x[a] = axes[a][f % axes[a].size()];
      f /= axes[a].size();
    }
    return x;
  }
};

}  // namespace

json measure_point(Device& dev, Bench& b, const std::vector<double>& x, bool holdout, double memory_cap_gib,
                   const TimingOptions& timing, std::uint64_t seed) {
  json r = {{"table", b.table()}, {"x", x}, {"holdout", holdout}};
  const std::size_t cap = static_cast<std::size_t>(memory_cap_gib * 1073741824.0);
  const std::size_t per_set = b.set_bytes(x);
  const std::size_t shared = b.shared_bytes(x);
  if (b.over_compute_cap(x)) {
    r["status"] = "skipped";
    r["detail"] = "over the compute cap";
    return r;
  }
  if (per_set + shared > cap || per_set + shared + (1u << 20) > dev.arena_bytes()) {
    r["status"] = "skipped";
    r["detail"] = "needs " + std::to_string((per_set + shared) >> 20) + " MiB, over the memory cap";
    return r;
  }
  // Enough buffer sets that consecutive launches never find their inputs in L2.
  const std::size_t rotate = 3 * dev.l2_bytes();
  int sets = per_set == 0 ? 1 : static_cast<int>(std::clamp<std::size_t>((rotate + per_set - 1) / per_set, 1, 32));
  while (sets > 1 && per_set * static_cast<std::size_t>(sets) + shared > cap) --sets;
  dev.reset();
  try {
    if (!b.prepare(dev, x, sets, seed)) {
      r["status"] = "unsupported";
      b.release();
      return r;
    }
    const CheckResult c = b.check(dev);
    r["rel_error"] = std::isfinite(c.rel_error) ? json(c.rel_error) : json(nullptr);
    if (!c.ok) {
      r["status"] = "wrong";
      r["detail"] = c.detail;
      b.release();
      return r;
    }
    const Timing t = measure(dev, [&](int i) { b.launch(dev, i % sets); }, b.capturable(), timing);
    r["status"] = "ok";
    r["time_us"] = b.interdecile_mean() ? t.mid_mean_us : t.median_us;
    r["time_min_us"] = t.min_us;
    r["time_p90_us"] = t.p90_us;
    r["spread_pct"] = t.spread_pct;
    r["power_w"] = std::isfinite(t.power_w) ? json(t.power_w) : json(nullptr);
    r["launches"] = t.launches_per_replay;
    r["replays"] = t.replays;
    r["graph"] = t.graph;
    if (const std::string v = b.variant(); !v.empty()) r["variant"] = v;
    r["sets"] = sets;
  } catch (const kernels::cuda::DeviceError& e) {
    b.release();
    // A sticky error (illegal address, ...) poisons the context: stop the run.
    const cudaError_t sticky = cudaDeviceSynchronize();
    if (sticky != cudaSuccess) throw;
    (void)cudaGetLastError();
    r["status"] = "error";
    r["detail"] = e.what();
    return r;
  }
  b.release();
  return r;
}

namespace {

double num(const json& r, const char* key) {
  auto it = r.find(key);
  return (it != r.end() && it->is_number()) ? it->get<double>() : kNaN;
}

std::string summary_line(const Bench& b, const profile::OpTable& t, const std::map<std::string, int>& counts) {
  std::ostringstream s;
  s << b.table() << ": " << t.points() << " grid points";
  for (const auto& [status, n] : counts) s << ", " << n << " " << status;
  char buf[300];
  std::snprintf(buf, sizeof buf,
                "; leave-one-out median %.2f%% p95 %.2f%%; holdout (%d) median %.2f%% p95 %.2f%%; model shapes (%d) "
                "median %.2f%% p95 %.2f%%",
                t.loo_interpolation.median_abs_pct, t.loo_interpolation.p95_abs_pct, t.holdout_error.points,
                t.holdout_error.median_abs_pct, t.holdout_error.p95_abs_pct, t.model_holdout_error.points,
                t.model_holdout_error.median_abs_pct, t.model_holdout_error.p95_abs_pct);
  return s.str() + buf;
}

}  // namespace

Rng holdout_rng(std::uint64_t seed, const std::string& table) {
  return Rng(kernels::mix64(seed ^ std::hash<std::string>{}(table)));
}

int run_calibration(const RunOptions& opt) {
  Device dev(static_cast<std::size_t>((opt.memory_cap_gib + 2) * 1073741824.0));
  dev.blas().set_tune_margin(opt.gemm_tune_margin);
  dev.blas().set_tune_neighbors(opt.gemm_tune_neighbors);
  const bool heuristic_gemm = opt.gemm_algo == "heuristic";
  if (heuristic_gemm) dev.blas().set_algo_policy(kernels::cuda::Blas::AlgoPolicy::kHeuristic);
  profile::Profile prof;
  prof.provenance = dev.provenance();
  prof.provenance.date_utc = utc_now();
  prof.provenance.masim_version = MASIM_VERSION_STRING;
  prof.provenance.git_commit = opt.git_commit;
  prof.provenance.arguments = opt.arguments;
  std::printf("masim-calibrate run on %s (%s), %d SMs, L2 %.0f MiB, driver %s, CUDA %s, cuBLAS %s, NCCL %s\n",
              prof.provenance.gpu_name.c_str(), prof.provenance.gpu_uuid.c_str(), prof.provenance.sm_count,
              prof.provenance.l2_bytes / 1048576.0, prof.provenance.driver_version.c_str(),
              prof.provenance.cuda_runtime_version.c_str(), prof.provenance.cublas_version.c_str(),
              prof.provenance.nccl_version.empty() ? "-" : prof.provenance.nccl_version.c_str());
  if (!dev.nvml().available()) std::printf("NVML unavailable (%s): no power readings\n", dev.nvml().error().c_str());

  // Journal: resume from it, or start it.
  const std::string journal_path = opt.out + ".journal.jsonl";
  std::map<std::string, json> done;
  if (opt.resume) {
    std::ifstream in(journal_path);
    std::string line;
    bool first = true;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;  // a torn last line
      if (first) {
        first = false;
        if (j.value("gpu_uuid", "") != prof.provenance.gpu_uuid) {
          throw io::EnvironmentError("journal " + journal_path + " was written on GPU " + j.value("gpu_uuid", "?") +
                                     ", this is " + prof.provenance.gpu_uuid + "; not resuming");
        }
        continue;
      }
      done[point_key(j.value("table", ""), kind_of(j), j["x"].get<std::vector<double>>())] = j;
    }
    std::printf("resuming: %zu points already in %s\n", done.size(), journal_path.c_str());
  }
  std::ofstream journal(journal_path, opt.resume ? std::ios::app : std::ios::trunc);
  if (!journal) throw io::EnvironmentError("cannot write " + journal_path);
  if (!opt.resume || done.empty()) {
    journal << json{{"gpu_uuid", prof.provenance.gpu_uuid}, {"gpu_name", prof.provenance.gpu_name},
                    {"date_utc", prof.provenance.date_utc}}
                   .dump()
            << "\n";
    journal.flush();
  }

  // Decode attention's tensor-core variant must pass its reference check on a few
  // shapes before the run relies on it; otherwise the CUDA-core kernels measure every group.
  int decode_variant = opt.decode_variant;
  const int probe_variant = opt.decode_variant >= 2 ? opt.decode_variant : 4;  // 4: the automatic choice
  for (int d : {128, 64}) {
    if (decode_variant == 1) break;
    auto probe = make_decode_bench(d, probe_variant);
    for (const std::vector<double>& x : {std::vector<double>{3, 700, 4}, std::vector<double>{64, 2048, 8},
                                         std::vector<double>{2, 300, 16}}) {
      const json r = measure_point(dev, *probe, x, false, 4, TimingOptions{1, 1, 0.1, 1, 1, 0}, opt.seed + 17);
      if (r.value("status", "") != "ok") {
        decode_variant = 1;
        std::printf("decode attention tensor-core self-test failed at d=%d %s: %s; using CUDA cores for every group\n",
                    d, json(x).dump().c_str(), r.dump().c_str());
      }
    }
  }
  if (decode_variant != 1) std::printf("decode attention tensor-core self-test passed (variant %d)\n", probe_variant);
  auto benches = all_benches(decode_variant, opt.grids);
  std::vector<Bench*> selected;
  for (auto& b : benches) {
    if (opt.only.empty() || std::find(opt.only.begin(), opt.only.end(), b->table()) != opt.only.end()) {
      selected.push_back(b.get());
    }
  }
  // Holdout shapes are drawn up front (seeded), so a resumed run draws the same ones.
  std::map<std::string, std::vector<std::vector<double>>> holdouts;
  std::size_t total = 0;
  for (Bench* b : selected) {
    Rng rng = holdout_rng(opt.seed, b->table());
    auto& h = holdouts[b->table()];
    for (int i = 0; i < opt.holdout; ++i) h.push_back(b->random_point(rng, opt.quick));
    total += Grid{b->grid(opt.quick)}.points() + h.size();
  }
  // The model holdout: off-grid shapes of the validation models' decode steps.
  std::map<std::string, std::vector<ModelShape>> model_holdouts;
  if (opt.model_draws > 0) {
    io::Diagnostics md;
    const auto files = opt.model_scenarios.empty() ? default_model_scenarios() : opt.model_scenarios;
    const auto models = load_models(files, md);
    if (!md.empty()) std::printf("%s", md.format("model holdout: some scenarios were not loaded").c_str());
    const auto all = model_shapes(models, opt.model_draws, opt.seed);
    for (const Bench* b : selected) {
      // Shapes recorded as they are measured; a grid point is not a holdout.
      auto list = off_grid_shapes(all, b->table(), b->grid(opt.quick));
      total += list.size();
      if (!list.empty()) model_holdouts[b->table()] = std::move(list);
    }
  }
  Progress progress(total);
  const auto started = std::chrono::steady_clock::now();
  bool out_of_time = false;
  int wrong = 0;
  std::uint64_t point_seed = opt.seed;
  for (Bench* b : selected) {
    const auto table_started = std::chrono::steady_clock::now();
    const Grid g{b->grid(opt.quick)};
    profile::OpTable t;
    t.name = b->table();
    t.kind = b->kind();
    t.dtype = b->dtype();
    t.head_dim = b->head_dim();
    t.implementation = b->implementation();
    if (heuristic_gemm && (t.name == "gemm_bf16" || t.name == "gemm_fp8")) {
      // What a framework's GEMM runs: cuBLASLt's heuristic top-1, never timed.
      t.implementation = t.name == "gemm_fp8"
                             ? "cublasLtMatmul fp8 e4m3 TN, bf16 out, heuristic top-1 algorithm (kernels/cuda/blas)"
                             : "cublasLtMatmul bf16 TN, fp32 accumulate, heuristic top-1 algorithm "
                               "(cublasLtMatmulAlgoGetHeuristic's first result, as frameworks call it; kernels/cuda/blas)";
      t.kernels = profile::kKernelsProduction;
    }
    t.axes = profile::canonical_axes(b->kind());
    t.grid = g.axes;
    t.quanta = b->quanta();
    t.alignment = b->alignment();
    t.iso_along = b->iso_bytes().along;
    t.iso_offset = b->iso_bytes().offset;
    std::map<std::string, int> counts;
    auto run_one = [&](const std::vector<double>& x, PointKind kind) -> json {
      const bool holdout = kind != PointKind::kGrid;
      point_seed = kernels::mix64(point_seed + 1);
      const std::string key = point_key(b->table(), kind, x);
      auto it = done.find(key);
      if (it != done.end()) {
        progress.skip();
        return it->second;
      }
      if (opt.deadline_s > 0 &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() > opt.deadline_s) {
        // Not journaled: a resumed run measures it.
        if (!out_of_time) progress.line("deadline reached: the remaining points are left for --resume");
        out_of_time = true;
        progress.skip();
        return json{{"table", b->table()}, {"x", x}, {"holdout", holdout}, {"status", "skipped"},
                    {"detail", "deadline"}};
      }
      json r = measure_point(dev, *b, x, holdout, opt.memory_cap_gib, opt.timing, point_seed);
      if (kind == PointKind::kModel) r["model"] = true;
      journal << r.dump() << "\n";
      journal.flush();
      const std::string status = r.value("status", "?");
      std::string result = status;
      if (status == "ok") {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.2f us", r["time_us"].get<double>());
        result = buf;
      } else if (r.contains("detail")) {
        result += " (" + r["detail"].get<std::string>() + ")";
      }
      if (status == "wrong" || status == "error") {
        progress.line("  " + b->table() + " " + describe_point(*b, x) + ": " + result);
      }
      progress.step(b->table(), describe_point(*b, x), result);
      return r;
    };
    // Held-out points are spread evenly through the grid walk rather than measured
    // after it, so a drift of the machine (a host link slowing down, clocks)
    // touches the grid and the holdouts alike instead of showing up as fit error.
    const auto& rand_list = holdouts[b->table()];
    const auto& model_list = model_holdouts[b->table()];
    const std::size_t held = rand_list.size() + model_list.size();
    std::vector<std::size_t> slot_of(held);  // grid index before which held-out point h runs
    for (std::size_t h = 0; h < held; ++h) {
      slot_of[h] = static_cast<std::size_t>((static_cast<double>(h) + 0.5) * static_cast<double>(g.points()) /
                                            static_cast<double>(held));
    }
    std::size_t next_held = 0;
    auto run_held = [&](std::size_t h) {
      const bool model = h >= rand_list.size();
      const std::vector<double>& x = model ? model_list[h - rand_list.size()].x : rand_list[h];
      const json r = run_one(x, model ? PointKind::kModel : PointKind::kHoldout);
      if (r.value("status", "") == "wrong") ++wrong;
      if (r.value("status", "") != "ok") return;
      profile::HoldoutPoint hp;
      hp.at = x;
      hp.time_us = num(r, "time_us");
      if (model) {
        hp.source = model_list[h - rand_list.size()].source;
        t.model_holdout.push_back(hp);
      } else {
        t.holdout.push_back(hp);
      }
    };
    for (std::size_t f = 0; f < g.points(); ++f) {
      while (next_held < held && slot_of[next_held] <= f) run_held(next_held++);
      const json r = run_one(g.at(f), PointKind::kGrid);
      const std::string status = r.value("status", "error");
      ++counts[status];
      if (status == "wrong") ++wrong;
      const bool ok = status == "ok";
      t.time_us.push_back(ok ? num(r, "time_us") : kNaN);
      t.time_min_us.push_back(ok ? num(r, "time_min_us") : kNaN);
      t.time_p90_us.push_back(ok ? num(r, "time_p90_us") : kNaN);
      t.spread_pct.push_back(ok ? num(r, "spread_pct") : kNaN);
      t.power_w.push_back(ok ? num(r, "power_w") : kNaN);
      t.status.push_back(status);
    }
    while (next_held < held) run_held(next_held++);
    prof.ops.push_back(std::move(t));
    char took[96];
    std::snprintf(took, sizeof took, ": done (%zu grid points, %.1f s)", g.points(),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - table_started).count());
    progress.line(b->table() + took);
  }

  // Ceilings: the best rates seen (copy: bytes read + written).
  for (const profile::OpTable& t : prof.ops) {
    for (std::size_t f = 0; f < t.points(); ++f) {
      const double us = t.time_us[f];
      if (!(us > 0)) continue;
      const models::Op op = profile::representative_op(t, t.point(f));
      if (t.name == "memcpy_d2d") {
        prof.ceilings.copy_bytes_per_s = std::max(prof.ceilings.copy_bytes_per_s, op.bytes.as_double() / (us * 1e-6));
      } else if (t.name == "gemm_bf16") {
        prof.ceilings.bf16_flops_per_s = std::max(prof.ceilings.bf16_flops_per_s, op.flops.count() / (us * 1e-6));
      } else if (t.name == "gemm_fp8") {
        prof.ceilings.fp8_flops_per_s = std::max(prof.ceilings.fp8_flops_per_s, op.flops.count() / (us * 1e-6));
      }
    }
  }
  // The fp32 vector rate is not measured: the datasheet of this GPU, when known.
  for (const std::string& key : profile::datasheet_keys()) {
    const auto ds = profile::datasheet(key);
    if (ds && profile::same_gpu_name(ds->gpu_name, prof.provenance.gpu_name)) {
      prof.ceilings.vector_fp32_flops_per_s = ds->vector_fp32_flops_per_s;
      prof.ceilings.sources = ds->sources;
    }
  }
  for (std::size_t i = 0; i < prof.ops.size(); ++i) {
    profile::refresh_errors(prof.ops[i], prof.ceilings);
    std::map<std::string, int> counts;
    for (const std::string& s : prof.ops[i].status) ++counts[s];
    progress.line(summary_line(*selected[i], prof.ops[i], counts));
  }
  if (opt.collectives && !out_of_time) {
    try {
      prof.collectives = single_process_collectives(dev, opt.quick);
    } catch (const std::exception& e) {
      prof.notes.push_back(std::string("collectives not measured: ") + e.what());
      progress.line(std::string("collectives not measured: ") + e.what());
    }
  }
  prof.notes.push_back("times are medians over CUDA-graph replays of back-to-back launches with inputs rotated "
                       "against L2 (calibrate/harness.hpp), pinned-host copies the interdecile mean of the replays "
                       "(calibrate/timing.hpp); power_w is NVML board power: the energy counter over windows of at least 0.5 s, else the board power reading (averaged by NVML over about a second)");
  profile::write_profile(prof, opt.out);
  if (out_of_time) prof.notes.push_back("incomplete: the run stopped at its deadline; resume it to finish");
  std::printf("wrote %s (%zu op tables, %zu collective tables); %d wrong results%s\n", opt.out.c_str(),
              prof.ops.size(), prof.collectives.size(), wrong, out_of_time ? "; INCOMPLETE (deadline)" : "");
  return wrong > 0 ? 1 : 0;
}

}  // namespace masim::calibrate
