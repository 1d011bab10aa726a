// masim-calibrate-torch: measures the production implementations a deployment
// runs, through libtorch's C++ API (issue 17), where masim-calibrate measures
// masim's own kernels (kernels/cuda):
//
//   attention  decode attention through at::scaled_dot_product_attention (the
//              backend PyTorch's dispatcher picks: FlashAttention or cuDNN), GQA as
//              a deployment packs it: the G query heads of one KV head are G query
//              rows of one attention problem over that head's cache (FlashAttention's
//              and FlashInfer's GQA decode layout), so no KV head is copied. Written
//              as a one-table profile ("kernels": "production") for
//              `masim-profile merge`.
//   steps      whole decode and prefill steps of the models in a steps file, each op
//              a libtorch call (at::linear -> cuBLAS, at::rms_norm, SDPA, at::topk,
//              at::_grouped_mm or a loop of at::mm for the experts, whichever is
//              faster per op), captured in one CUDA graph as a serving engine
//              replays it; plus every op alone, in a graph of that op over all
//              layers. `masim-profile production-steps` prices the same steps.
//   tables     production tables of dense GEMMs (at::linear), prefill attention
//              (SDPA, causal) and expert GEMMs (at::_grouped_mm or a loop of at::mm).
//   smallops   production tables of the unfused small ops PyTorch runs between the
//              GEMMs (at::rms_norm, softmax + topk, silu * up, index_select permute,
//              index_select + bmm combine, residual adds), as the steps call them.
//   power      NVML board power over >= 1 s runs of a compute-bound GEMM, GEMMs of
//              falling intensity, a GEMV, a device copy and GQA decode attention,
//              with the SM clock, for the power model's fit.
//
// Timing (as calibrate/harness.hpp): a pilot of 3 eager launches estimates t;
// N = 600 us / t launches (1..64), rotating over buffer sets that together
// exceed 3x L2, are captured in a CUDA graph (at::cuda::CUDAGraph, so libtorch's
// allocator serves the capture); after 2 warm-up replays the graph is replayed
// for a window with a CUDA event between replays; each replay gives one sample
// (replay time / N); the time is the median.
//
//   masim-calibrate-torch attention -o att.json [--quick] [--seed 1] [--deadline-s 200]
//   masim-calibrate-torch steps calibrate/validation/production-steps.json -o steps.json
//   masim-calibrate-torch power -o power.json [--seconds 1.5]
//
// Exit codes: 0 ok, 1 a check failed, 2 bad arguments, 3 environment (CUDA, file).
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGraph.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <torch/torch.h>
#include <torch/version.h>

#ifndef TORCH_VERSION
#define TORCH_VERSION "unknown"
#endif

#if __has_include(<ATen/ops/_grouped_mm.h>)
#include <ATen/ops/_grouped_mm.h>
#define MASIM_HAVE_GROUPED_MM 1
#endif
#if __has_include(<ATen/ops/_fused_sdp_choice.h>)
#include <ATen/ops/_fused_sdp_choice.h>
#define MASIM_HAVE_SDP_CHOICE 1
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "calibrate/nvml.hpp"

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

#define CK(call)                                                                                    \
  do {                                                                                              \
    cudaError_t e_ = (call);                                                                        \
    if (e_ != cudaSuccess) {                                                                        \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(3);                                                                                 \
    }                                                                                               \
  } while (0)

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Writes `path` atomically: a temporary beside it, then rename.
void write_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f) {
      std::fprintf(stderr, "%s: cannot write\n", tmp.c_str());
      std::exit(3);
    }
  }
  std::filesystem::rename(tmp, path);
}

at::TensorOptions bf16() { return at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA); }

struct Sample {
  double median_us = 0, min_us = 0, p90_us = 0;
  int launches = 0, replays = 0;
};

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const std::size_t i = static_cast<std::size_t>(pos);
  const double f = pos - static_cast<double>(i);
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v.back();
}

struct TimingOpts {
  double target_us = 600;
  int max_launches = 64;
  double window_ms = 6;
  int min_replays = 6;
  int max_replays = 200;
};

// op(i) enqueues launch i on the current stream (a side stream, set in main).
Sample time_graph(const std::function<void(int)>& op, const TimingOpts& o) {
  cudaStream_t s = at::cuda::getCurrentCUDAStream().stream();
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  op(0);
  CK(cudaStreamSynchronize(s));
  CK(cudaEventRecord(a, s));
  for (int i = 0; i < 3; ++i) op(i);
  CK(cudaEventRecord(b, s));
  CK(cudaEventSynchronize(b));
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, a, b));
  const double pilot_us = std::max(1e-3, ms * 1e3 / 3);
  const int n = std::clamp(static_cast<int>(o.target_us / pilot_us), 1, o.max_launches);
  at::cuda::CUDAGraph g;
  g.capture_begin();
  for (int i = 0; i < n; ++i) op(i);
  g.capture_end();
  g.replay();
  g.replay();
  CK(cudaStreamSynchronize(s));
  const double replay_us = pilot_us * n;
  const int reps = std::clamp(static_cast<int>(o.window_ms * 1e3 / replay_us), o.min_replays, o.max_replays);
  std::vector<cudaEvent_t> ev(static_cast<std::size_t>(reps) + 1);
  for (auto& e : ev) CK(cudaEventCreate(&e));
  CK(cudaEventRecord(ev[0], s));
  for (int r = 0; r < reps; ++r) {
    g.replay();
    CK(cudaEventRecord(ev[static_cast<std::size_t>(r) + 1], s));
  }
  CK(cudaEventSynchronize(ev.back()));
  std::vector<double> us;
  for (int r = 0; r < reps; ++r) {
    float m = 0;
    CK(cudaEventElapsedTime(&m, ev[static_cast<std::size_t>(r)], ev[static_cast<std::size_t>(r) + 1]));
    us.push_back(m * 1e3 / n);
  }
  for (auto& e : ev) CK(cudaEventDestroy(e));
  CK(cudaEventDestroy(a));
  CK(cudaEventDestroy(b));
  Sample out;
  out.median_us = quantile(us, 0.5);
  out.min_us = *std::min_element(us.begin(), us.end());
  out.p90_us = quantile(us, 0.9);
  out.launches = n;
  out.replays = reps;
  return out;
}

json provenance(const std::vector<std::string>& args) {
  const cudaDeviceProp* p = at::cuda::getCurrentDeviceProperties();
  char uuid[64];
  const unsigned char* u = reinterpret_cast<const unsigned char*>(p->uuid.bytes);
  std::snprintf(uuid, sizeof uuid, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  int rt = 0, drv = 0;
  cudaRuntimeGetVersion(&rt);
  cudaDriverGetVersion(&drv);
  auto ver = [](int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); };
  masim::calibrate::Nvml nvml;
  json j = {{"gpu_name", p->name},
            {"gpu_uuid", uuid},
            {"sm_count", p->multiProcessorCount},
            {"l2_bytes", static_cast<double>(p->l2CacheSize)},
            {"hbm_bytes", static_cast<double>(p->totalGlobalMem)},
            {"cuda_runtime_version", ver(rt)},
            {"cuda_driver_version", ver(drv)},
            {"driver_version", nvml.driver_version()},
            {"date_utc", utc_now()},
            {"masim_version", std::string("0.1.0 torch ") + TORCH_VERSION + " cudnn " +
                                  std::to_string(at::detail::getCUDAHooks().versionCuDNN())},
            {"arguments", args}};
  return j;
}

double rel_err(const at::Tensor& got, const at::Tensor& want) {
  const auto g = got.to(at::kFloat), w = want.to(at::kFloat);
  return (g - w).norm().item<double>() / std::max(1e-30, w.norm().item<double>());
}

std::size_t l2_bytes() { return static_cast<std::size_t>(at::cuda::getCurrentDeviceProperties()->l2CacheSize); }

// Buffer sets so that they exceed 3x L2 together (at most 32).
int rotation(double bytes_per_set) {
  return std::clamp(static_cast<int>(std::ceil(3.0 * static_cast<double>(l2_bytes()) / std::max(1.0, bytes_per_set))),
                    1, 32);
}

// ---------------------------------------------------------------- decode attention
// One decode attention problem: `streams` = batch x kv_heads KV streams of
// `context` keys, `group` query heads per KV head, head dim d. The batch/head split
// of the streams: kv_heads = 8 when streams is a multiple of 8, else 1 (FlashAttention
// schedules batch x heads alike); model shapes pass their own.
struct DecodeShape {
  std::int64_t batch, kv_heads, context, group, d;
};

struct DecodeBuffers {
  std::vector<at::Tensor> q, k, v;
};

DecodeBuffers decode_buffers(const DecodeShape& s) {
  const double kv_bytes = 2.0 * s.batch * s.kv_heads * s.context * s.d * 2;
  const int sets = rotation(kv_bytes);
  DecodeBuffers b;
  for (int i = 0; i < sets; ++i) {
    b.q.push_back(at::randn({s.batch, s.kv_heads, s.group, s.d}, bf16()));
    b.k.push_back(at::randn({s.batch, s.kv_heads, s.context, s.d}, bf16()));
    b.v.push_back(at::randn({s.batch, s.kv_heads, s.context, s.d}, bf16()));
  }
  return b;
}

at::Tensor decode_sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  return at::scaled_dot_product_attention(q, k, v);
}

int sdp_choice(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, bool causal, bool gqa) {
#ifdef MASIM_HAVE_SDP_CHOICE
  return static_cast<int>(at::_fused_sdp_choice(q, k, v, {}, 0.0, causal, std::nullopt, gqa));
#else
  (void)q, (void)k, (void)v, (void)causal, (void)gqa;
  return -2;
#endif
}

const char* sdp_name(int c) {
  switch (c) {
    case 0: return "math";
    case 1: return "flash";
    case 2: return "efficient";
    case 3: return "cudnn";
    case 4: return "overrideable";
    default: return "unknown";
  }
}

// Times one decode shape; status "ok", "wrong" or "skipped".
json measure_decode(const DecodeShape& s, double cap_bytes, const TimingOpts& topt) {
  const double kv_bytes = 2.0 * s.batch * s.kv_heads * s.context * s.d * 2;
  if (kv_bytes > cap_bytes) return json{{"status", "skipped"}};
  DecodeBuffers b = decode_buffers(s);
  // Check: the first sequence against an fp32 softmax(q k^T / sqrt(d)) v.
  at::Tensor o = decode_sdpa(b.q[0], b.k[0], b.v[0]);
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.d));
  at::Tensor q0 = b.q[0].narrow(0, 0, 1).to(at::kFloat), k0 = b.k[0].narrow(0, 0, 1).to(at::kFloat),
             v0 = b.v[0].narrow(0, 0, 1).to(at::kFloat);
  at::Tensor ref = at::matmul(at::softmax(at::matmul(q0, k0.transpose(-2, -1)) * scale, -1), v0);
  const double err = rel_err(o.narrow(0, 0, 1), ref);
  const bool finite = at::isfinite(o).all().item<bool>();
  if (!finite || err > 2e-2) return json{{"status", "wrong"}, {"rel_err", err}};
  const int sets = static_cast<int>(b.q.size());
  const Sample t = time_graph([&](int i) { (void)decode_sdpa(b.q[i % sets], b.k[i % sets], b.v[i % sets]); }, topt);
  return json{{"status", "ok"},         {"time_us", t.median_us}, {"time_min_us", t.min_us},
              {"time_p90_us", t.p90_us}, {"rel_err", err},        {"backend", sdp_name(sdp_choice(b.q[0], b.k[0], b.v[0], false, false))},
              {"launches", t.launches}, {"replays", t.replays}};
}

DecodeShape table_shape(double streams, double context, double group) {
  const auto s = static_cast<std::int64_t>(streams);
  const std::int64_t kv = s % 8 == 0 ? 8 : 1;
  return DecodeShape{s / kv, kv, static_cast<std::int64_t>(context), static_cast<std::int64_t>(group), 128};
}

struct ModelShape {
  std::string name;
  int layers = 0, hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, experts = 0, top_k = 0, expert_ffn = 0,
      shared_ffn = 0;
  bool norm_topk = true;
};

std::vector<ModelShape> read_models(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    std::fprintf(stderr, "%s: cannot open\n", path.c_str());
    std::exit(3);
  }
  json j;
  try {
    j = json::parse(f);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), e.what());
    std::exit(2);
  }
  std::vector<ModelShape> out;
  for (const json& m : j.at("models")) {
    ModelShape s;
    s.name = m.at("name").get<std::string>();
    s.layers = m.at("num_layers").get<int>();
    s.hidden = m.at("hidden_size").get<int>();
    s.heads = m.at("num_heads").get<int>();
    s.kv_heads = m.at("num_kv_heads").get<int>();
    s.head_dim = m.at("head_dim").get<int>();
    s.experts = m.at("num_experts").get<int>();
    s.top_k = m.at("top_k").get<int>();
    s.expert_ffn = m.at("expert_ffn_size").get<int>();
    s.shared_ffn = m.value("shared_expert_ffn_size", 0);
    s.norm_topk = m.value("norm_topk_prob", true);
    out.push_back(s);
  }
  return out;
}

int cmd_attention(const std::vector<std::string>& args, const std::string& out, bool quick, std::uint64_t seed,
                  double deadline_s, const std::string& models_path) {
  const auto t0 = Clock::now();
  // Dense in kv_streams (= batch x KV heads): SDPA's decode kernels launch CTAs per
  // (batch, head, KV split), so their time steps with the waves over the SMs
  // between powers of two (issue 17: batches 17, 35, 37 ran 15-40% slower than
  // their power-of-two neighbours suggest). Every multiple of 8 up to 512 (batch
  // 1-64 at 8 KV heads), every 64 up to 1024, every 128 up to 2048 (2,380 points,
  // about 2.5 min at the last run's ~65 ms a point); context and group coarser
  // than before (SDPA's time was within 3% across groups 1-8 at equal KV bytes).
  std::vector<double> streams = {1, 2, 4};
  for (double v = 8; v <= 512; v += 8) streams.push_back(v);
  for (double v = 576; v <= 1024; v += 64) streams.push_back(v);
  for (double v = 1152; v <= 2048; v += 128) streams.push_back(v);
  for (double v : {3072.0, 4096.0}) streams.push_back(v);
  std::vector<double> context = {128, 512, 1024, 2048, 4096, 8192, 16384};
  std::vector<double> group = {1, 4, 8, 16};
  if (quick) {
    streams = {8, 64, 512};
    context = {512, 2048};
    group = {1, 4};
  }
  const double cap = 24.0 * 1073741824.0;
  TimingOpts topt;
  json table = {{"name", "attention_decode_d128"},
                {"op", "attention_decode"},
                {"dtype", "bf16"},
                {"head_dim", 128},
                {"kernels", "production"},
                {"implementation",
                 std::string("libtorch ") + TORCH_VERSION +
                     " at::scaled_dot_product_attention (dispatcher's backend, see notes), GQA packed as G query rows "
                     "per KV head; table shapes split kv_streams as batch x 8 KV heads (x 1 when not a multiple of 8)"},
                {"axes", {"kv_streams", "context", "group"}},
                {"grid", {{"kv_streams", streams}, {"context", context}, {"group", group}}}};
  std::vector<double> time_us, tmin, tp90;
  std::vector<std::string> status;
  std::map<std::string, int> backends;
  int wrong = 0;
  std::size_t done = 0;
  const std::size_t total = streams.size() * context.size() * group.size();
  for (double s : streams) {
    for (double c : context) {
      for (double g : group) {
        json r = deadline_s > 0 && seconds_since(t0) > deadline_s ? json{{"status", "skipped"}}
                                                                   : measure_decode(table_shape(s, c, g), cap, topt);
        const std::string st = r.at("status");
        status.push_back(st);
        const double nan = std::nan("");
        time_us.push_back(st == "ok" ? r.at("time_us").get<double>() : nan);
        tmin.push_back(st == "ok" ? r.at("time_min_us").get<double>() : nan);
        tp90.push_back(st == "ok" ? r.at("time_p90_us").get<double>() : nan);
        if (st == "ok") ++backends[r.at("backend").get<std::string>()];
        if (st == "wrong") {
          ++wrong;
          std::printf("WRONG s=%g c=%g g=%g rel_err %s\n", s, c, g, r.dump().c_str());
        }
        if (++done % 200 == 0) std::printf("[%zu/%zu] %.0f s\n", done, total, seconds_since(t0));
      }
      c10::cuda::CUDACachingAllocator::emptyCache();
    }
  }
  auto nulls = [](const std::vector<double>& v) {
    json a = json::array();
    for (double x : v) a.push_back(std::isfinite(x) ? json(x) : json(nullptr));
    return a;
  };
  table["time_us"] = nulls(time_us);
  table["time_min_us"] = nulls(tmin);
  table["time_p90_us"] = nulls(tp90);
  table["status"] = status;
  // Held-out shapes: random off-grid ones in the grid's box, and the decode
  // attention of the steps file's models at batch 8-256, context 512-4096 with
  // their own batch x KV-head split (what `masim-profile merge` prices against the fit).
  std::mt19937_64 rng(seed);
  auto uni = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  json holdout = json::array(), model_holdout = json::array();
  const int n_random = quick ? 4 : 24;
  for (int i = 0; i < n_random && !(deadline_s > 0 && seconds_since(t0) > deadline_s); ++i) {
    const double s = std::round(std::exp(uni(std::log(streams.front()), std::log(streams.back()))));
    const double c = std::round(std::exp(uni(std::log(context.front()), std::log(4096.0))));
    const double g = group[static_cast<std::size_t>(uni(0, static_cast<double>(group.size()) - 1e-9))];
    json r = measure_decode(table_shape(s, c, g), cap, topt);
    if (r.at("status") == "ok") holdout.push_back(json{{"at", {s, c, g}}, {"time_us", r.at("time_us")}});
  }
  if (!models_path.empty()) {
    const int draws = quick ? 1 : 8;
    for (const ModelShape& m : read_models(models_path)) {
      if (m.head_dim != 128) continue;
      for (int i = 0; i < draws && !(deadline_s > 0 && seconds_since(t0) > deadline_s); ++i) {
        const auto b = static_cast<std::int64_t>(std::round(std::exp(uni(std::log(8.0), std::log(256.0)))));
        const auto c = static_cast<std::int64_t>(std::round(uni(512, 4096)));
        const std::int64_t g = m.heads / m.kv_heads;
        json r = measure_decode(DecodeShape{b, m.kv_heads, c, g, 128}, cap, topt);
        if (r.at("status") != "ok") continue;
        model_holdout.push_back(json{{"at", {static_cast<double>(b * m.kv_heads), static_cast<double>(c),
                                             static_cast<double>(g)}},
                                     {"time_us", r.at("time_us")},
                                     {"source", m.name + " b=" + std::to_string(b) + " c=" + std::to_string(c) +
                                                    " attention (torch)"}});
      }
    }
  }
  table["holdout"] = holdout;
  table["model_holdout"] = model_holdout;
  std::string bl;
  for (const auto& [k, v] : backends) bl += (bl.empty() ? "" : ", ") + k + " " + std::to_string(v);
  json prof = {{"schema", 1},
               {"kind", "masim-calibration-profile"},
               {"provenance", provenance(args)},
               {"ceilings", json::object()},
               {"ops", json::array({table})},
               {"notes",
                {"attention_decode_d128 (production): SDPA backends the dispatcher chose over the grid: " + bl,
                 "measured by masim-calibrate-torch attention in " + std::to_string(static_cast<int>(seconds_since(t0))) +
                     " s"}}};
  write_atomic(out, prof.dump(1) + "\n");
  std::printf("attention: %zu points (%s), %d wrong, %zu + %zu held out, %.0f s -> %s\n", total, bl.c_str(), wrong,
              holdout.size(), model_holdout.size(), seconds_since(t0), out.c_str());
  return wrong == 0 ? 0 : 1;
}

// ---------------------------------------------------------------- more tables
// A profile-format table measured point by point: `measure(x)` returns the
// median us (NaN: skipped or failed) for grid point x (axes in table order).
json grid_table(const std::string& name, const std::string& op, const std::string& implementation,
                const std::vector<std::string>& axes, const std::vector<std::vector<double>>& grid, double deadline_s,
                Clock::time_point t0, const std::function<double(const std::vector<double>&)>& measure,
                int& measured) {
  std::size_t total = 1;
  for (const auto& g : grid) total *= g.size();
  json t = {{"name", name}, {"op", op}, {"dtype", "bf16"}, {"kernels", "production"},
            {"implementation", implementation}, {"axes", axes}};
  json g = json::object();
  for (std::size_t a = 0; a < axes.size(); ++a) g[axes[a]] = grid[a];
  t["grid"] = g;
  json times = json::array();
  std::vector<std::string> status;
  std::vector<std::size_t> idx(axes.size(), 0);
  for (std::size_t f = 0; f < total; ++f) {
    std::vector<double> x;
    std::size_t rem = f;
    for (std::size_t a = axes.size(); a-- > 0;) {
      idx[a] = rem % grid[a].size();
      rem /= grid[a].size();
    }
    for (std::size_t a = 0; a < axes.size(); ++a) x.push_back(grid[a][idx[a]]);
    double us = std::nan("");
    if (!(deadline_s > 0 && seconds_since(t0) > deadline_s)) us = measure(x);
    if (std::isfinite(us)) {
      times.push_back(us);
      status.push_back("ok");
      ++measured;
    } else {
      times.push_back(nullptr);
      status.push_back("skipped");
    }
    if ((f + 1) % 400 == 0) std::printf("  %s [%zu/%zu] %.0f s\n", name.c_str(), f + 1, total, seconds_since(t0));
    if ((f + 1) % 50 == 0) c10::cuda::CUDACachingAllocator::emptyCache();
  }
  t["time_us"] = times;
  t["status"] = status;
  return t;
}

// Dense GEMMs through at::linear (y = x W^T, what nn.Linear runs), prefill
// attention through SDPA (causal; GQA 4 query heads per KV head through
// enable_gqa), and the expert GEMMs through at::_grouped_mm or a loop of at::mm,
// the faster per point (as the steps run them), each a production table.
int cmd_tables(const std::vector<std::string>& args, const std::string& out, double deadline_s, bool quick) {
  const auto t0 = Clock::now();
  const double cap = 16.0 * 1073741824.0;
  TimingOpts topt;
  std::vector<json> tables;
  std::vector<std::string> notes;
  const double share = deadline_s > 0 ? deadline_s / 3 : 0;
  {  // gemm_bf16
    std::vector<double> m = {1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192};
    std::vector<double> n = {8, 16, 32, 60, 64, 128, 256, 512, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 28672};
    std::vector<double> k = {256, 512, 1024, 2048, 4096, 8192, 16384};
    if (quick) {
      m = {1, 64};
      n = {1024, 4096};
      k = {1024, 4096};
    }
    int got = 0;
    json t = grid_table(
        "gemm_bf16", "gemm", std::string("libtorch ") + TORCH_VERSION + " at::linear (cuBLAS as PyTorch calls it)",
        {"m", "n", "k"}, {m, n, k}, share, t0,
        [&](const std::vector<double>& x) {
          const auto M = static_cast<std::int64_t>(x[0]), N = static_cast<std::int64_t>(x[1]),
                     K = static_cast<std::int64_t>(x[2]);
          if (2.0 * M * N * K > 4e12) return std::nan("");
          const int sets = rotation(2.0 * N * K);
          std::vector<at::Tensor> w;
          for (int i = 0; i < sets; ++i) w.push_back(at::randn({N, K}, bf16()));
          at::Tensor a = at::randn({M, K}, bf16());
          // Check the first rows against an fp32 product.
          const std::int64_t r = std::min<std::int64_t>(M, 8);
          at::Tensor y = at::linear(a, w[0]).narrow(0, 0, r);
          const double err = rel_err(y, at::matmul(a.narrow(0, 0, r).to(at::kFloat), w[0].to(at::kFloat).t()));
          if (!(err < 2e-2)) return std::nan("");
          return time_graph([&](int i) { (void)at::linear(a, w[static_cast<std::size_t>(i % sets)]); }, topt).median_us;
        },
        got);
    t["alignment"] = {{"n", 8}};
    notes.push_back("gemm_bf16 (production): " + std::to_string(got) + " points through at::linear");
    tables.push_back(t);
  }
  {  // attention_prefill_d128
    std::vector<double> qs = {8, 16, 32, 64, 128, 256, 512, 1024};
    std::vector<double> seq = {128, 256, 512, 1024, 2048, 4096, 8192};
    if (quick) {
      qs = {32};
      seq = {512, 1024};
    }
    int got = 0;
    std::map<std::string, int> backends;
    const double t1 = seconds_since(t0);
    json t = grid_table(
        "attention_prefill_d128", "attention_prefill",
        std::string("libtorch ") + TORCH_VERSION +
            " at::scaled_dot_product_attention causal (dispatcher's backend), GQA: 4 query heads per KV head "
            "(enable_gqa); q_streams as batch x 32 heads (x q_streams heads when fewer)",
        {"q_streams", "seq"}, {qs, seq}, share > 0 ? t1 + share : 0, t0,
        [&](const std::vector<double>& x) {
          const auto q = static_cast<std::int64_t>(x[0]), S = static_cast<std::int64_t>(x[1]);
          const std::int64_t H = q >= 32 ? 32 : q, B = q / H, KV = std::max<std::int64_t>(1, H / 4), D = 128;
          if (2.0 * B * H * S * D * 2 > cap) return std::nan("");
          at::Tensor qq = at::randn({B, H, S, D}, bf16()), k = at::randn({B, KV, S, D}, bf16()),
                     v = at::randn({B, KV, S, D}, bf16());
          at::Tensor o = at::scaled_dot_product_attention(qq, k, v, {}, 0.0, true, std::nullopt, true);
          // Check the first head of the first sequence against an fp32 causal softmax.
          const std::int64_t s0 = std::min<std::int64_t>(S, 256);
          at::Tensor q0 = qq.narrow(0, 0, 1).narrow(1, 0, 1).narrow(2, 0, s0).to(at::kFloat);
          at::Tensor k0 = k.narrow(0, 0, 1).narrow(1, 0, 1).narrow(2, 0, s0).to(at::kFloat);
          at::Tensor v0 = v.narrow(0, 0, 1).narrow(1, 0, 1).narrow(2, 0, s0).to(at::kFloat);
          at::Tensor sc = at::matmul(q0, k0.transpose(-2, -1)) / std::sqrt(static_cast<double>(D));
          sc = sc.masked_fill(at::ones({s0, s0}, sc.options().dtype(at::kBool)).triu(1), -INFINITY);
          const double err = rel_err(o.narrow(0, 0, 1).narrow(1, 0, 1).narrow(2, 0, s0), at::matmul(at::softmax(sc, -1), v0));
          if (!(err < 3e-2)) {
            std::printf("  prefill q=%lld s=%lld: rel_err %.3g\n", static_cast<long long>(q), static_cast<long long>(S), err);
            return std::nan("");
          }
          ++backends[sdp_name(sdp_choice(qq, k, v, true, true))];
          return time_graph([&](int) { (void)at::scaled_dot_product_attention(qq, k, v, {}, 0.0, true, std::nullopt, true); },
                            topt)
              .median_us;
        },
        got);
    t["head_dim"] = 128;
    std::string bl;
    for (const auto& [kk, vv] : backends) bl += (bl.empty() ? "" : ", ") + kk + " " + std::to_string(vv);
    notes.push_back("attention_prefill_d128 (production): " + std::to_string(got) + " points; SDPA backends: " + bl);
    tables.push_back(t);
  }
  {  // grouped_gemm_bf16
    std::vector<double> groups = {1, 2, 4, 8, 16, 32, 64, 128};
    std::vector<double> mpg = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
    std::vector<double> n = {1024, 2048, 4096, 8192, 16384, 32768};
    std::vector<double> k = {512, 1024, 2048, 4096, 8192, 16384};
    if (quick) {
      groups = {8};
      mpg = {4, 64};
      n = {2048};
      k = {2048};
    }
    int got = 0, grouped_wins = 0;
    const double t1 = seconds_since(t0);
    json t = grid_table(
        "grouped_gemm_bf16", "grouped_gemm",
        std::string("libtorch ") + TORCH_VERSION +
            " expert GEMMs: at::_grouped_mm (2-D x 3-D with offsets) or a loop of at::mm, the faster per point",
        {"groups", "m_per_group", "n", "k"}, {groups, mpg, n, k}, share > 0 ? t1 + share : 0, t0,
        [&](const std::vector<double>& x) {
          const auto G = static_cast<std::int64_t>(x[0]), M = static_cast<std::int64_t>(x[1]),
                     N = static_cast<std::int64_t>(x[2]), K = static_cast<std::int64_t>(x[3]);
          const double wbytes = 2.0 * G * N * K;
          if (wbytes > 8.0 * 1073741824.0 || 2.0 * G * M * N * K > 4e12) return std::nan("");
          const int sets = rotation(wbytes);
          std::vector<at::Tensor> w;
          for (int i = 0; i < sets; ++i) w.push_back(at::randn({G, N, K}, bf16()));
          at::Tensor a = at::randn({G * M, K}, bf16());
          std::vector<int> offs;
          for (std::int64_t g = 1; g <= G; ++g) offs.push_back(static_cast<int>(g * M));
          at::Tensor offs_t = at::tensor(offs, at::TensorOptions().dtype(at::kInt)).to(at::kCUDA);
          at::Tensor out = at::empty({G * M, N}, bf16());
          auto loop = [&](const at::Tensor& wt) {
            for (std::int64_t g = 0; g < G; ++g) {
              at::Tensor dst = out.narrow(0, g * M, M);
              at::mm_out(dst, a.narrow(0, g * M, M), wt[g].t());
            }
          };
          loop(w[0]);
          const at::Tensor ref = out.clone();
          double best = time_graph([&](int i) { loop(w[static_cast<std::size_t>(i % sets)]); }, topt).median_us;
#ifdef MASIM_HAVE_GROUPED_MM
          try {
            at::Tensor y = at::_grouped_mm(a, w[0].transpose(-2, -1), offs_t);
            if (rel_err(y, ref) < 2e-2) {
              const double gm = time_graph(
                  [&](int i) { (void)at::_grouped_mm(a, w[static_cast<std::size_t>(i % sets)].transpose(-2, -1), offs_t); },
                  topt).median_us;
              if (gm < best) {
                best = gm;
                ++grouped_wins;
              }
            }
          } catch (const std::exception&) {
          }
#endif
          return best;
        },
        got);
    notes.push_back("grouped_gemm_bf16 (production): " + std::to_string(got) + " points, at::_grouped_mm faster at " +
                    std::to_string(grouped_wins) + ", the loop of at::mm at the rest");
    tables.push_back(t);
  }
  notes.push_back("measured by masim-calibrate-torch tables in " + std::to_string(static_cast<int>(seconds_since(t0))) + " s");
  json prof = {{"schema", 1},       {"kind", "masim-calibration-profile"}, {"provenance", provenance(args)},
               {"ceilings", json::object()}, {"ops", tables},                  {"notes", notes}};
  write_atomic(out, prof.dump(1) + "\n");
  for (const auto& s : notes) std::printf("%s\n", s.c_str());
  return 0;
}

// ---------------------------------------------------------------- small ops
// The unfused small ops PyTorch runs between the GEMMs and attention, each
// exactly as cmd_steps' layers call it (build_layers), as production tables
// ("kernels": "production") on token x width grids spanning the shipped models
// (hidden 2048, 4096, 7168; expert FFN 768-14336; 8-256 experts, top-1..8):
//   rmsnorm      at::rms_norm over [tokens, width], bf16 weight
//   router_topk  at::softmax (fp32) + at::topk + renormalize + cast to bf16, over
//                [tokens, experts] bf16 logits
//   swiglu       at::silu(gu[:, :w]) * gu[:, w:] over a [tokens, 2w] gate/up output
//   permute      index_select of [tokens, width] rows into tokens x top_k expert slots
//   unpermute    index_select of the slots back to token order + at::bmm with the
//                [tokens, 1, top_k] routing weights (the weighted combine)
//   elementwise  at::add of 2 operands, add(add(a, b), c) of 3 (the residual adds)
// Each point's inputs rotate over buffer sets exceeding 3x L2 (rotation(): at most
// 32 sets, so shapes under L2 / 10 stay partly L2-resident across launches, as
// they are in a step whose previous op just wrote them), timed in a CUDA graph
// (time_graph); each result is checked against an fp32 reference first.
int cmd_smallops(const std::vector<std::string>& args, const std::string& out, double deadline_s, bool quick) {
  const auto t0 = Clock::now();
  TimingOpts topt;
  std::vector<json> tables;
  std::vector<std::string> notes;
  std::vector<double> tokens = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
  std::vector<double> hidden = {512, 1024, 1536, 2048, 3072, 4096, 5120, 7168, 8192};
  std::vector<double> ffn = {256, 512, 768, 1024, 1408, 2048, 4096, 5632, 8192, 14336};
  std::vector<double> rows = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536};
  std::vector<double> experts = {8, 16, 32, 64, 128, 256};
  std::vector<double> topk = {1, 2, 4, 6, 8};
  std::vector<double> perm_width = {1024, 2048, 4096, 7168};
  std::vector<double> elements;
  for (double e = 1024; e <= 134217728; e *= 2) {
    elements.push_back(e);
    if (e * 1.5 < 134217728) elements.push_back(e * 1.5);
  }
  if (quick) {
    tokens = {8, 256};
    hidden = {2048, 4096};
    ffn = {768, 14336};
    rows = {16, 4096};
    experts = {8, 128};
    topk = {2, 8};
    perm_width = {4096};
    elements = {32768, 1048576};
  }
  const std::string lib = std::string("libtorch ") + TORCH_VERSION + " ";
  const double share = deadline_s > 0 ? deadline_s / 6 : 0;
  auto deadline_of = [&](int i) { return share > 0 ? share * (i + 1) : 0.0; };
  auto bytes_sets = [](double bytes) { return rotation(bytes); };
  auto note = [&](const std::string& name, int got, const json& t, int wrong) {
    notes.push_back(name + " (production): " + std::to_string(got) + " of " + std::to_string(t["time_us"].size()) +
                    " points measured, " + std::to_string(wrong) + " wrong");
  };
  int total_wrong = 0;
  auto ok_or_wrong = [&](double err, double tol, const char* what, const std::vector<double>& x) {
    if (err < tol) return true;
    ++total_wrong;
    std::printf("  WRONG %s at", what);
    for (double v : x) std::printf(" %g", v);
    std::printf(": rel_err %.3g\n", err);
    return false;
  };
  {  // rmsnorm
    int got = 0;
    const int before = total_wrong;
    json t = grid_table(
        "rmsnorm", "rmsnorm", lib + "at::rms_norm (eps 1e-6, bf16 weight)", {"tokens", "width"}, {tokens, hidden},
        deadline_of(0), t0,
        [&](const std::vector<double>& x) {
          const auto T = static_cast<std::int64_t>(x[0]), W = static_cast<std::int64_t>(x[1]);
          const int sets = bytes_sets(2.0 * 2 * T * W);
          std::vector<at::Tensor> in;
          for (int i = 0; i < sets; ++i) in.push_back(at::randn({T, W}, bf16()));
          const at::Tensor w = at::randn({W}, bf16());
          const at::Tensor y = at::rms_norm(in[0], {W}, w, 1e-6);
          const at::Tensor xf = in[0].to(at::kFloat);
          const at::Tensor ref = xf * at::rsqrt(xf.pow(2).mean(-1, true) + 1e-6) * w.to(at::kFloat);
          if (!ok_or_wrong(rel_err(y, ref), 2e-2, "rmsnorm", x)) return std::nan("");
          return time_graph([&](int i) { (void)at::rms_norm(in[static_cast<std::size_t>(i % sets)], {W}, w, 1e-6); },
                            topt)
              .median_us;
        },
        got);
    note("rmsnorm", got, t, total_wrong - before);
    tables.push_back(t);
  }
  {  // router_topk
    int got = 0;
    const int before = total_wrong;
    json t = grid_table(
        "router_topk", "router_topk",
        lib + "at::softmax (fp32) + at::topk + renormalize (w / w.sum) + cast to bf16 over bf16 logits",
        {"tokens", "experts", "top_k"}, {tokens, experts, topk}, deadline_of(1), t0,
        [&](const std::vector<double>& x) {
          const auto T = static_cast<std::int64_t>(x[0]), E = static_cast<std::int64_t>(x[1]),
                     K = static_cast<std::int64_t>(x[2]);
          if (K > E) return std::nan("");
          const int sets = bytes_sets(2.0 * T * E + 6.0 * T * K);
          std::vector<at::Tensor> in;
          for (int i = 0; i < sets; ++i) in.push_back(at::randn({T, E}, bf16()));
          auto run = [&](const at::Tensor& logits) {
            at::Tensor p = at::softmax(logits, -1, at::kFloat);
            auto [w, idx] = at::topk(p, K);
            (void)idx;
            w = w / w.sum(-1, true);
            return w.to(at::kBFloat16);
          };
          const at::Tensor got_w = run(in[0]);
          const at::Tensor pf = at::softmax(in[0].to(at::kFloat), -1);
          const at::Tensor top = std::get<0>(at::sort(pf, -1, true)).narrow(1, 0, K);
          if (!ok_or_wrong(rel_err(got_w, top / top.sum(-1, true)), 2e-2, "router_topk", x)) return std::nan("");
          return time_graph([&](int i) { (void)run(in[static_cast<std::size_t>(i % sets)]); }, topt).median_us;
        },
        got);
    note("router_topk", got, t, total_wrong - before);
    tables.push_back(t);
  }
  {  // swiglu
    int got = 0;
    const int before = total_wrong;
    json t = grid_table(
        "swiglu", "swiglu", lib + "at::silu(gu[:, :w]) * gu[:, w:] over a [tokens, 2w] gate/up output (two kernels)",
        {"tokens", "width"}, {rows, ffn}, deadline_of(2), t0,
        [&](const std::vector<double>& x) {
          const auto T = static_cast<std::int64_t>(x[0]), W = static_cast<std::int64_t>(x[1]);
          if (6.0 * T * W > 4.0 * 1073741824.0) return std::nan("");
          const int sets = bytes_sets(2.0 * 3 * T * W);
          std::vector<at::Tensor> in;
          for (int i = 0; i < sets; ++i) in.push_back(at::randn({T, 2 * W}, bf16()));
          auto run = [&](const at::Tensor& gu) { return at::silu(gu.narrow(1, 0, W)) * gu.narrow(1, W, W); };
          const at::Tensor g = in[0].narrow(1, 0, W).to(at::kFloat), u = in[0].narrow(1, W, W).to(at::kFloat);
          if (!ok_or_wrong(rel_err(run(in[0]), g * at::sigmoid(g) * u), 2e-2, "swiglu", x)) return std::nan("");
          return time_graph([&](int i) { (void)run(in[static_cast<std::size_t>(i % sets)]); }, topt).median_us;
        },
        got);
    note("swiglu", got, t, total_wrong - before);
    tables.push_back(t);
  }
  // Balanced routing as cmd_steps uses it: slot s = t*k + j goes to expert s mod 8,
  // laid out expert by expert; perm[p] is the token of slot position p, inv its inverse.
  auto routing = [](std::int64_t T, std::int64_t K) {
    const std::int64_t slots = T * K, E = 8;
    std::vector<std::int64_t> perm, inv(static_cast<std::size_t>(slots));
    std::int64_t pos = 0;
    for (std::int64_t e = 0; e < E; ++e) {
      for (std::int64_t s = e; s < slots; s += E) {
        perm.push_back(s / K);
        inv[static_cast<std::size_t>(s)] = pos++;
      }
    }
    const auto li = at::TensorOptions().dtype(at::kLong);
    return std::make_pair(at::tensor(perm, li).to(at::kCUDA), at::tensor(inv, li).to(at::kCUDA));
  };
  {  // permute
    int got = 0;
    const int before = total_wrong;
    json t = grid_table(
        "permute", "permute", lib + "index_select of [tokens, width] rows into tokens x top_k expert slots",
        {"tokens", "width", "top_k"}, {tokens, perm_width, topk}, deadline_of(3), t0,
        [&](const std::vector<double>& x) {
          const auto T = static_cast<std::int64_t>(x[0]), W = static_cast<std::int64_t>(x[1]),
                     K = static_cast<std::int64_t>(x[2]);
          const int sets = bytes_sets(2.0 * T * W * (1 + K));
          std::vector<at::Tensor> in;
          for (int i = 0; i < sets; ++i) in.push_back(at::randn({T, W}, bf16()));
          const at::Tensor perm = routing(T, K).first;
          const at::Tensor y = in[0].index_select(0, perm);
          const at::Tensor ref = in[0].to(at::kFloat).index_select(0, perm);
          if (!ok_or_wrong(rel_err(y, ref), 1e-3, "permute", x)) return std::nan("");
          return time_graph([&](int i) { (void)in[static_cast<std::size_t>(i % sets)].index_select(0, perm); }, topt)
              .median_us;
        },
        got);
    note("permute", got, t, total_wrong - before);
    tables.push_back(t);
  }
  {  // unpermute
    int got = 0;
    const int before = total_wrong;
    json t = grid_table(
        "unpermute", "unpermute",
        lib + "index_select of the tokens x top_k slots back to token order + at::bmm with [tokens, 1, top_k] "
              "routing weights (the weighted combine)",
        {"tokens", "width", "top_k"}, {tokens, perm_width, topk}, deadline_of(4), t0,
        [&](const std::vector<double>& x) {
          const auto T = static_cast<std::int64_t>(x[0]), W = static_cast<std::int64_t>(x[1]),
                     K = static_cast<std::int64_t>(x[2]);
          const int sets = bytes_sets(2.0 * T * W * (1 + K));
          std::vector<at::Tensor> in;
          for (int i = 0; i < sets; ++i) in.push_back(at::randn({T * K, W}, bf16()));
          const at::Tensor topw = at::rand({T, K}, bf16());
          const at::Tensor inv = routing(T, K).second;
          auto run = [&](const at::Tensor& d) {
            return at::bmm(topw.unsqueeze(1), d.index_select(0, inv).view({T, K, W})).squeeze(1);
          };
          const at::Tensor ref =
              (in[0].to(at::kFloat).index_select(0, inv).view({T, K, W}) * topw.to(at::kFloat).unsqueeze(2)).sum(1);
          if (!ok_or_wrong(rel_err(run(in[0]), ref), 2e-2, "unpermute", x)) return std::nan("");
          return time_graph([&](int i) { (void)run(in[static_cast<std::size_t>(i % sets)]); }, topt).median_us;
        },
        got);
    note("unpermute", got, t, total_wrong - before);
    tables.push_back(t);
  }
  {  // elementwise
    int got = 0;
    const int before = total_wrong;
    json t = grid_table(
        "elementwise", "elementwise", lib + "at::add (2 operands) or at::add(at::add(a, b), c) (3 operands, two kernels)",
        {"elements", "operands"}, {elements, {2, 3}}, deadline_of(5), t0,
        [&](const std::vector<double>& x) {
          const auto N = static_cast<std::int64_t>(x[0]);
          const int ops = static_cast<int>(x[1]);
          const int sets = bytes_sets(2.0 * N * (ops + 1));
          std::vector<at::Tensor> a, b, c;
          for (int i = 0; i < sets; ++i) {
            a.push_back(at::randn({N}, bf16()));
            b.push_back(at::randn({N}, bf16()));
            if (ops == 3) c.push_back(at::randn({N}, bf16()));
          }
          auto run = [&](std::size_t i) { return ops == 3 ? at::add(at::add(a[i], b[i]), c[i]) : at::add(a[i], b[i]); };
          at::Tensor ref = a[0].to(at::kFloat) + b[0].to(at::kFloat);
          if (ops == 3) ref = ref + c[0].to(at::kFloat);
          if (!ok_or_wrong(rel_err(run(0), ref), 2e-2, "elementwise", x)) return std::nan("");
          return time_graph([&](int i) { (void)run(static_cast<std::size_t>(i % sets)); }, topt).median_us;
        },
        got);
    note("elementwise", got, t, total_wrong - before);
    tables.push_back(t);
  }
  notes.push_back("measured by masim-calibrate-torch smallops in " + std::to_string(static_cast<int>(seconds_since(t0))) +
                  " s");
  json prof = {{"schema", 1},       {"kind", "masim-calibration-profile"}, {"provenance", provenance(args)},
               {"ceilings", json::object()}, {"ops", tables},                  {"notes", notes}};
  write_atomic(out, prof.dump(1) + "\n");
  for (const auto& s : notes) std::printf("%s\n", s.c_str());
  return total_wrong == 0 ? 0 : 1;
}

// ---------------------------------------------------------------- steps
// One layer of a step: its tensors and its ops, in masim's op order and labels
// (sim/workload/layer_ops.hpp), each a closure of libtorch calls.
struct Layer {
  at::Tensor x, w_in_norm, w_post_norm, w_qkv, w_o, w_router, w_gu, w_down, w_sgu, w_sdown;
  at::Tensor k_cache, v_cache;
  at::Tensor h, qkv, o, y, x1, h2, logits, topw, xs, gu, act, d, comb, sh_gu, sh_act, sh_d, out;
  at::Tensor gu_out, d_out;  // loop form outputs
  std::vector<std::pair<std::string, std::function<void()>>> ops;
};

struct Step {
  ModelShape m;
  bool prefill = false;
  std::int64_t batch = 0, context = 0, tokens = 0;
  std::vector<std::int64_t> counts;  // rows per expert (balanced routing)
  at::Tensor perm, inv_perm, offs;
  std::vector<std::int64_t> starts;
  std::vector<Layer> layers;
  std::map<std::string, std::string> form;  // "expert_gate_up" -> "grouped_mm" | "loop"
};

// Balanced routing: slot j of token t goes to expert (t*k + j) mod E, so every
// expert gets tokens*k/E rows (+1 for some) and a token never meets one expert twice.
void balanced_routing(Step& st) {
  const int E = st.m.experts, k = st.m.top_k;
  const std::int64_t slots = st.tokens * k;
  st.counts.assign(static_cast<std::size_t>(E), 0);
  std::vector<std::vector<std::int64_t>> by(static_cast<std::size_t>(E));
  for (std::int64_t s = 0; s < slots; ++s) by[static_cast<std::size_t>(s % E)].push_back(s);
  std::vector<std::int64_t> perm_token, inv(static_cast<std::size_t>(slots));
  std::vector<int> offs;
  std::int64_t pos = 0;
  for (int e = 0; e < E; ++e) {
    st.starts.push_back(pos);
    for (std::int64_t s : by[static_cast<std::size_t>(e)]) {
      perm_token.push_back(s / k);
      inv[static_cast<std::size_t>(s)] = pos++;
    }
    st.counts[static_cast<std::size_t>(e)] = static_cast<std::int64_t>(by[static_cast<std::size_t>(e)].size());
    offs.push_back(static_cast<int>(pos));
  }
  const auto li = at::TensorOptions().dtype(at::kLong);
  st.perm = at::tensor(perm_token, li).to(at::kCUDA);
  st.inv_perm = at::tensor(inv, li).to(at::kCUDA);
  st.offs = at::tensor(offs, at::TensorOptions().dtype(at::kInt)).to(at::kCUDA);
}

void grouped(Step& st, const at::Tensor& in, const at::Tensor& w, at::Tensor& out, at::Tensor& loop_out,
             const std::string& form) {
  // w: [E, N, K]; in: [slots, K] in expert order; out: [slots, N].
#ifdef MASIM_HAVE_GROUPED_MM
  if (form == "grouped_mm") {
    out = at::_grouped_mm(in, w.transpose(-2, -1), st.offs);
    return;
  }
#endif
  for (std::size_t e = 0; e < st.counts.size(); ++e) {
    if (st.counts[e] == 0) continue;
    at::Tensor dst = loop_out.narrow(0, st.starts[e], st.counts[e]);
    at::mm_out(dst, in.narrow(0, st.starts[e], st.counts[e]), w[static_cast<std::int64_t>(e)].t());
  }
  out = loop_out;
}

void build_layers(Step& st, int n_layers) {
  const ModelShape& m = st.m;
  const std::int64_t T = st.tokens, H = m.hidden, NH = m.heads, KV = m.kv_heads, D = m.head_dim;
  const std::int64_t E = m.experts, F = m.expert_ffn, K = m.top_k, SF = m.shared_ffn;
  const double eps = 1e-6;
  for (int l = 0; l < n_layers; ++l) {
    Layer L;
    const float ws = 0.02f;
    L.x = at::randn({T, H}, bf16());
    L.w_in_norm = at::ones({H}, bf16());
    L.w_post_norm = at::ones({H}, bf16());
    L.w_qkv = at::randn({(NH + 2 * KV) * D, H}, bf16()) * ws;
    L.w_o = at::randn({H, NH * D}, bf16()) * ws;
    L.w_router = at::randn({E, H}, bf16()) * ws;
    L.w_gu = at::randn({E, 2 * F, H}, bf16()) * ws;
    L.w_down = at::randn({E, H, F}, bf16()) * ws;
    if (SF > 0) {
      L.w_sgu = at::randn({2 * SF, H}, bf16()) * ws;
      L.w_sdown = at::randn({H, SF}, bf16()) * ws;
    }
    if (!st.prefill) {
      L.k_cache = at::randn({st.batch, KV, st.context, D}, bf16());
      L.v_cache = at::randn({st.batch, KV, st.context, D}, bf16());
    }
    L.gu_out = at::empty({T * K, 2 * F}, bf16());
    L.d_out = at::empty({T * K, H}, bf16());
    st.layers.push_back(std::move(L));
  }
  for (int l = 0; l < n_layers; ++l) {
    Layer* Lp = &st.layers[static_cast<std::size_t>(l)];
    Layer* prev = l > 0 ? &st.layers[static_cast<std::size_t>(l - 1)] : nullptr;
    Step* S = &st;
    auto& ops = Lp->ops;
    ops.emplace_back("input_norm", [=] {
      if (prev && prev->out.defined()) Lp->x = prev->out;  // the residual stream flows layer to layer
      Lp->h = at::rms_norm(Lp->x, {H}, Lp->w_in_norm, eps);
    });
    ops.emplace_back("qkv_proj", [=] { Lp->qkv = at::linear(Lp->h, Lp->w_qkv); });
    if (!S->prefill) {
      ops.emplace_back("kv_append", [=] {
        const std::int64_t B = S->batch, C = S->context;
        Lp->k_cache.narrow(2, C - 1, 1).copy_(Lp->qkv.narrow(1, NH * D, KV * D).view({B, KV, 1, D}));
        Lp->v_cache.narrow(2, C - 1, 1).copy_(Lp->qkv.narrow(1, (NH + KV) * D, KV * D).view({B, KV, 1, D}));
      });
      ops.emplace_back("attention", [=] {
        const std::int64_t B = S->batch;
        at::Tensor q = Lp->qkv.narrow(1, 0, NH * D).view({B, KV, NH / KV, D});
        Lp->o = at::scaled_dot_product_attention(q, Lp->k_cache, Lp->v_cache).reshape({B, NH * D});
      });
    } else {
      ops.emplace_back("attention", [=] {
        const std::int64_t B = S->batch, Sq = S->context;
        at::Tensor t = Lp->qkv.view({B, Sq, NH + 2 * KV, D});
        at::Tensor q = t.narrow(2, 0, NH).transpose(1, 2);
        at::Tensor k = t.narrow(2, NH, KV).transpose(1, 2);
        at::Tensor v = t.narrow(2, NH + KV, KV).transpose(1, 2);
        at::Tensor o = at::scaled_dot_product_attention(q, k, v, {}, 0.0, true, std::nullopt, KV != NH);
        Lp->o = o.transpose(1, 2).reshape({B * Sq, NH * D});
      });
    }
    ops.emplace_back("o_proj", [=] { Lp->y = at::linear(Lp->o, Lp->w_o); });
    ops.emplace_back("residual", [=] { Lp->x1 = at::add(Lp->x, Lp->y); });
    ops.emplace_back("post_attn_norm", [=] { Lp->h2 = at::rms_norm(Lp->x1, {H}, Lp->w_post_norm, eps); });
    ops.emplace_back("router", [=] { Lp->logits = at::linear(Lp->h2, Lp->w_router); });
    ops.emplace_back("router_topk", [=] {
      at::Tensor p = at::softmax(Lp->logits, -1, at::kFloat);
      auto [w, idx] = at::topk(p, K);
      (void)idx;  // routing is balanced (balanced_routing), as masim is given
      if (S->m.norm_topk) w = w / w.sum(-1, true);
      Lp->topw = w.to(at::kBFloat16);
    });
    ops.emplace_back("permute", [=] { Lp->xs = Lp->h2.index_select(0, S->perm); });
    ops.emplace_back("expert_gate_up",
                     [=] { grouped(*S, Lp->xs, Lp->w_gu, Lp->gu, Lp->gu_out, S->form["expert_gate_up"]); });
    ops.emplace_back("expert_swiglu", [=] { Lp->act = at::silu(Lp->gu.narrow(1, 0, F)) * Lp->gu.narrow(1, F, F); });
    ops.emplace_back("expert_down",
                     [=] { grouped(*S, Lp->act, Lp->w_down, Lp->d, Lp->d_out, S->form["expert_down"]); });
    if (SF > 0) {
      ops.emplace_back("shared_gate_up", [=] { Lp->sh_gu = at::linear(Lp->h2, Lp->w_sgu); });
      ops.emplace_back("shared_swiglu",
                       [=] { Lp->sh_act = at::silu(Lp->sh_gu.narrow(1, 0, SF)) * Lp->sh_gu.narrow(1, SF, SF); });
      ops.emplace_back("shared_down", [=] { Lp->sh_d = at::linear(Lp->sh_act, Lp->w_sdown); });
    }
    ops.emplace_back("unpermute", [=] {
      at::Tensor y = Lp->d.index_select(0, S->inv_perm).view({T, K, H});
      Lp->comb = at::bmm(Lp->topw.unsqueeze(1), y).squeeze(1);
    });
    ops.emplace_back("residual#2", [=] {
      Lp->out = SF > 0 ? at::add(at::add(Lp->x1, Lp->comb), Lp->sh_d) : at::add(Lp->x1, Lp->comb);
    });
  }
}

void run_all(Step& st) {
  for (Layer& L : st.layers) {
    for (auto& [label, fn] : L.ops) fn();
  }
}

Sample time_label(Step& st, const std::string& label) {
  const int L = static_cast<int>(st.layers.size());
  TimingOpts o;
  o.max_launches = std::max(1, 16 / L);
  o.min_replays = 5;
  o.max_replays = 50;
  return time_graph(
      [&](int) {
        for (Layer& y : st.layers) {
          for (auto& [lb, fn] : y.ops) {
            if (lb == label) fn();
          }
        }
      },
      o);
}

json run_step(const ModelShape& m, bool prefill, std::int64_t batch, std::int64_t context, int layers) {
  Step st;
  st.m = m;
  st.prefill = prefill;
  st.batch = batch;
  st.context = context;
  st.tokens = prefill ? batch * context : batch;
  st.form["expert_gate_up"] = "loop";
  st.form["expert_down"] = "loop";
  balanced_routing(st);
  build_layers(st, layers);
  run_all(st);  // eager: every intermediate exists, cuBLAS and SDPA plans made
  CK(cudaStreamSynchronize(at::cuda::getCurrentCUDAStream().stream()));
  json forms = json::object();
  // Expert GEMMs: at::_grouped_mm (CUTLASS grouped GEMM) or a loop of at::mm, the faster per op.
#ifdef MASIM_HAVE_GROUPED_MM
  for (const std::string op : {"expert_gate_up", "expert_down"}) {
    const Sample loop = time_label(st, op);
    at::Tensor loop_result = (op == "expert_gate_up" ? st.layers[0].gu : st.layers[0].d).clone();
    st.form[op] = "grouped_mm";
    double err = 1;
    double gm = 1e30;
    try {
      run_all(st);
      at::Tensor g = (op == "expert_gate_up" ? st.layers[0].gu : st.layers[0].d);
      err = rel_err(g, loop_result);
      if (err < 2e-2) gm = time_label(st, op).median_us;
    } catch (const std::exception& e) {
      std::printf("  %s: _grouped_mm refused (%.80s)\n", op.c_str(), e.what());
    }
    st.form[op] = gm < loop.median_us ? "grouped_mm" : "loop";
    forms[op] = {{"loop_us", loop.median_us / layers},
                 {"grouped_mm_us", gm < 1e29 ? json(gm / layers) : json(nullptr)},
                 {"grouped_mm_rel_err", err},
                 {"chosen", st.form[op]}};
    run_all(st);
  }
#endif
  CK(cudaStreamSynchronize(at::cuda::getCurrentCUDAStream().stream()));
  // The whole step in one graph.
  TimingOpts o;
  o.max_launches = 1;
  o.min_replays = 10;
  o.max_replays = 40;
  o.window_ms = 20;
  const Sample e2e = time_graph([&](int) { run_all(st); }, o);
  const at::Tensor out1 = st.layers.back().out.clone();
  run_all(st);
  const bool finite = at::isfinite(st.layers.back().out).all().item<bool>();
  json ops = json::array();
  std::vector<std::string> labels;
  for (auto& [lb, fn] : st.layers[0].ops) labels.push_back(lb);
  for (const std::string& lb : labels) {
    const Sample t = time_label(st, lb);
    json r = {{"op", lb}, {"measured_us", t.median_us / layers}};
    if (st.form.count(lb)) r["form"] = st.form[lb];
    ops.push_back(r);
  }
  json rep = {{"model", m.name},
              {"phase", prefill ? "prefill" : "decode"},
              {"batch", batch},
              {prefill ? "seq" : "context", context},
              {"tokens", st.tokens},
              {"layers_run", layers},
              {"tokens_per_expert", st.counts},
              {"step_measured_us", e2e.median_us},
              {"step_min_us", e2e.min_us},
              {"step_p90_us", e2e.p90_us},
              {"finite", finite},
              {"expert_forms", forms},
              {"ops", ops}};
  (void)out1;
  return rep;
}

int cmd_steps(const std::vector<std::string>& args, const std::string& steps_path, const std::string& out,
              double deadline_s, bool quick) {
  const auto t0 = Clock::now();
  std::ifstream f(steps_path);
  if (!f) {
    std::fprintf(stderr, "%s: cannot open\n", steps_path.c_str());
    return 3;
  }
  const json spec = json::parse(f);
  const auto models = read_models(steps_path);
  json steps = json::array();
  int bad = 0;
  const int max_layers = spec.value("layers_run", 4);
  for (const std::string phase : {"decode", "prefill"}) {
    const json& grid = spec.at(phase);
    for (const ModelShape& m : models) {
      for (const json& bc : grid) {
        if (deadline_s > 0 && seconds_since(t0) > deadline_s) break;
        const std::int64_t b = bc.at(0), c = bc.at(1);
        if (quick && steps.size() >= 2) break;
        const int layers = std::min(m.layers, max_layers);
        json r;
        try {
          r = run_step(m, phase == std::string("prefill"), b, c, layers);
        } catch (const std::exception& e) {
          std::printf("%s %s b=%lld c=%lld: %.200s\n", m.name.c_str(), phase.c_str(), static_cast<long long>(b),
                      static_cast<long long>(c), e.what());
          ++bad;
          continue;
        }
        if (!r.at("finite").get<bool>()) ++bad;
        std::printf("%-20s %-7s b=%-4lld c=%-5lld %9.1f us (%d layers)  [%.0f s]\n", m.name.c_str(), phase.c_str(),
                    static_cast<long long>(b), static_cast<long long>(c), r.at("step_measured_us").get<double>(),
                    layers, seconds_since(t0));
        steps.push_back(r);
        c10::cuda::CUDACachingAllocator::emptyCache();
      }
    }
  }
  json rep = {{"kind", "masim-production-steps"}, {"provenance", provenance(args)}, {"steps_file", steps_path},
              {"steps", steps}};
  write_atomic(out, rep.dump(1) + "\n");
  std::printf("steps: %zu measured, %d failed, %.0f s -> %s\n", steps.size(), bad, seconds_since(t0), out.c_str());
  return bad == 0 ? 0 : 1;
}

// ---------------------------------------------------------------- power
// Each run replays a graph of one op for `seconds` while the host samples NVML's
// power and SM clock every 50 ms; the board's energy counter over the window
// gives the mean power.
int cmd_power(const std::vector<std::string>& args, const std::string& out, double seconds) {
  masim::calibrate::Nvml nvml;
  if (!nvml.available()) {
    std::fprintf(stderr, "NVML unavailable: %s\n", nvml.error().c_str());
    return 3;
  }
  const cudaDeviceProp* p = at::cuda::getCurrentDeviceProperties();
  char bus[32];
  std::snprintf(bus, sizeof bus, "%08x:%02x:%02x.0", p->pciDomainID, p->pciBusID, p->pciDeviceID);
  nvml.select_by_pci_bus_id(bus);
  json runs = json::array();
  cudaStream_t s = at::cuda::getCurrentCUDAStream().stream();
  auto sample_window = [&](const std::string& name, const json& shape, const std::function<void(int)>& op,
                           double flops, double bytes, int sets) -> void {
    std::printf("power: %s\n", name.c_str());
    std::fflush(stdout);
    double per_us = 0;
    int n = 1;
    std::unique_ptr<at::cuda::CUDAGraph> g;
    if (op) {
      const Sample t = time_graph(op, TimingOpts{});
      per_us = t.median_us;
      n = std::clamp(static_cast<int>(20000.0 / std::max(1e-3, per_us)), 1, 4096);
      n = std::max(sets, n - n % sets);
      g = std::make_unique<at::cuda::CUDAGraph>();
      g->capture_begin();
      for (int i = 0; i < n; ++i) op(i);
      g->capture_end();
      g->replay();
      CK(cudaStreamSynchronize(s));
    }
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    // Warm for 0.5 s so the clock and power settle, then the measured window.
    auto enqueue_for = [&](double secs) {
      int reps = 0;
      if (g) {
        const double replay_s = std::max(1e-6, per_us * n * 1e-6);
        reps = std::max(1, static_cast<int>(secs / replay_s));
        for (int r = 0; r < reps; ++r) g->replay();
      }
      return reps;
    };
    if (g) {
      enqueue_for(0.5);
      CK(cudaStreamSynchronize(s));
    }
    std::vector<double> pw, clk;
    const auto e0 = nvml.energy_mj();
    const auto w0 = Clock::now();
    CK(cudaEventRecord(a, s));
    const int reps = enqueue_for(seconds);
    CK(cudaEventRecord(b, s));
    while (g ? cudaEventQuery(b) == cudaErrorNotReady : seconds_since(w0) < seconds) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (auto v = nvml.power_w()) pw.push_back(*v);
      if (auto c = nvml.clock_mhz(1, false)) clk.push_back(*c);
    }
    CK(cudaEventSynchronize(b));
    const double wall = seconds_since(w0);
    const auto e1 = nvml.energy_mj();
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, a, b));
    const double gpu_s = g ? ms * 1e-3 : wall;
    const double launches = static_cast<double>(reps) * n;
    const double op_us = g && launches > 0 ? gpu_s * 1e6 / launches : 0;
    json r = {{"run", name},
              {"shape", shape},
              {"window_s", gpu_s},
              {"wall_s", wall},
              {"op_us", op_us},
              {"flops_per_s", op_us > 0 ? flops / (op_us * 1e-6) : 0},
              {"bytes_per_s", op_us > 0 ? bytes / (op_us * 1e-6) : 0},
              {"flops", flops},
              {"bytes", bytes},
              {"power_samples", pw.size()},
              {"power_mean_w", pw.empty() ? 0 : quantile(pw, 0.5)},
              {"sm_clock_median_mhz", clk.empty() ? 0 : quantile(clk, 0.5)},
              {"sm_clock_min_mhz", clk.empty() ? 0 : quantile(clk, 0.0)}};
    if (e0 && e1 && *e1 > *e0) r["energy_power_w"] = static_cast<double>(*e1 - *e0) * 1e-3 / wall;
    std::printf("  %.3f s, %.2f us/op, %.1f TFLOP/s, %.0f GB/s, power %.0f W (samples %.0f W), SM %.0f MHz\n", gpu_s,
                op_us, r["flops_per_s"].get<double>() * 1e-12, r["bytes_per_s"].get<double>() * 1e-9,
                r.value("energy_power_w", 0.0), r["power_mean_w"].get<double>(), r["sm_clock_median_mhz"].get<double>());
    runs.push_back(r);
    CK(cudaEventDestroy(a));
    CK(cudaEventDestroy(b));
  };
  sample_window("idle", json::object(), nullptr, 0, 0, 1);
  // GEMMs C[m,n] = A[m,k] W[n,k]^T through at::linear, n = k = 8192, weights
  // rotated past L2 where they are read once per op.
  for (std::int64_t m : {8192, 2048, 512, 128, 32, 1}) {
    const std::int64_t n = 8192, k = 8192;
    const double wbytes = 2.0 * n * k;
    const int sets = m >= 2048 ? 1 : rotation(wbytes);
    std::vector<at::Tensor> w;
    for (int i = 0; i < sets; ++i) w.push_back(at::randn({n, k}, bf16()));
    at::Tensor a = at::randn({m, k}, bf16());
    const double flops = 2.0 * m * n * k, bytes = 2.0 * (m * k + n * k + m * n);
    sample_window(m <= 32 ? "gemv_m" + std::to_string(m) : "gemm_m" + std::to_string(m),
                  json{{"op", "gemm"}, {"m", m}, {"n", n}, {"k", k}}, [&](int i) { (void)at::linear(a, w[static_cast<std::size_t>(i % sets)]); }, flops, bytes, sets);
  }
  {
    const std::int64_t n = std::int64_t{1} << 29;  // 1 GiB of bf16
    at::Tensor src = at::randn({n}, bf16()), dst = at::empty({n}, bf16());
    sample_window("copy_1gib", json{{"op", "memcpy"}, {"bytes", 2 * n}}, [&](int) { dst.copy_(src); }, 0, 2.0 * 2 * n,
                  1);
  }
  {
    const DecodeShape sh{128, 8, 4096, 4, 128};
    DecodeBuffers b = decode_buffers(sh);
    const int sets = static_cast<int>(b.q.size());
    const double bytes = 2.0 * sh.batch * sh.kv_heads * sh.context * sh.d * 2;
    const double flops = 4.0 * sh.batch * sh.kv_heads * sh.group * sh.context * sh.d;
    sample_window("attention_gqa_decode_b128_kv8_g4_c4096",
                  json{{"op", "attention_decode"}, {"batch", sh.batch}, {"kv_heads", sh.kv_heads}, {"group", sh.group},
                       {"context", sh.context}, {"head_dim", sh.d}},
                  [&](int i) { (void)decode_sdpa(b.q[i % sets], b.k[i % sets], b.v[i % sets]); }, flops, bytes, sets);
  }
  sample_window("idle_after", json::object(), nullptr, 0, 0, 1);
  json rep = {{"kind", "masim-power-readings"},
              {"provenance", provenance(args)},
              {"clocks_mhz", {{"sm_max", nvml.clock_mhz(1, true).value_or(0)}}},
              {"power_limit_w", nvml.power_limit_w().value_or(0.0)},
              {"runs", runs}};
  write_atomic(out, rep.dump(1) + "\n");
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: masim-calibrate-torch attention -o OUT [--quick] [--seed S] [--deadline-s N] [--models STEPS.json]\n"
               "       masim-calibrate-torch steps STEPS.json -o OUT [--deadline-s N] [--quick]\n"
               "       masim-calibrate-torch power -o OUT [--seconds S]\n"
               "       masim-calibrate-torch tables -o OUT [--deadline-s N] [--quick]\n"
               "       masim-calibrate-torch smallops -o OUT [--deadline-s N] [--quick]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  if (argc < 2) return usage();
  const std::string cmd = args[1];
  std::string out, positional, models;
  bool quick = false;
  std::uint64_t seed = 1;
  double deadline = 0, seconds = 1.5;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return args[++i];
    };
    try {
      if (a == "-o") out = next();
      else if (a == "--quick") quick = true;
      else if (a == "--seed") seed = std::stoull(next());
      else if (a == "--deadline-s") deadline = std::stod(next());
      else if (a == "--seconds") seconds = std::stod(next());
      else if (a == "--models") models = next();
      else if (!a.empty() && a[0] != '-' && positional.empty()) positional = a;
      else {
        std::fprintf(stderr, "unknown argument %s\n", a.c_str());
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "bad value for %s\n", a.c_str());
      return 2;
    }
  }
  if (out.empty()) return usage();
  if (seconds < 1.0) {
    std::fprintf(stderr, "--seconds must be at least 1 (NVML averages power over up to a second)\n");
    return 2;
  }
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "no CUDA device\n");
    return 3;
  }
  torch::manual_seed(seed);
  c10::InferenceMode guard_inference;
  c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool();
  c10::cuda::CUDAStreamGuard guard(stream);
  if (cmd == "attention") return cmd_attention(args, out, quick, seed, deadline, models);
  if (cmd == "tables") return cmd_tables(args, out, deadline, quick);
  if (cmd == "smallops") return cmd_smallops(args, out, deadline, quick);
  if (cmd == "steps") {
    if (positional.empty()) return usage();
    return cmd_steps(args, positional, out, deadline, quick);
  }
  if (cmd == "power") return cmd_power(args, out, seconds);
  return usage();
}
