#include "calibrate/validate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <numeric>

#include <nlohmann/json.hpp>

#include "calibrate/device.hpp"
#include "calibrate/harness.hpp"
#include "kernels/cuda/blas.hpp"
#include "kernels/cuda/check.hpp"
#include "kernels/cuda/kernels.hpp"
#include "kernels/reference/numeric.hpp"
#include "sim/frontend/scenario.hpp"
#include "sim/models/model_params.hpp"
#include "sim/profile/cost_model.hpp"
#include "sim/workload/layer_ops.hpp"

namespace masim::calibrate {

namespace kc = kernels::cuda;
using kc::Bf16;
using nlohmann::json;

namespace {

// Device allocations owned for the length of the validation.
class Buffers {
 public:
  ~Buffers() {
    for (void* p : ptrs_) cudaFree(p);
  }
  template <typename T>
  T* get(std::size_t count) {
    void* p = nullptr;
    MASIM_CUDA_CHECK(cudaMalloc(&p, std::max<std::size_t>(count, 1) * sizeof(T)));
    ptrs_.push_back(p);
    return static_cast<T*>(p);
  }

 private:
  std::vector<void*> ptrs_;
};

struct Layer {
  bool moe = false;
  Bf16 *ln1 = nullptr, *wqkv = nullptr, *wo = nullptr, *ln2 = nullptr;
  Bf16 *kc = nullptr, *vc = nullptr;
  Bf16* wr = nullptr;                      // router [E, H]
  std::vector<Bf16*> w1, w2;               // experts: [2F, H], [H, F]
  Bf16 *ws1 = nullptr, *ws2 = nullptr;     // shared (fused) or dense FFN
  std::unique_ptr<kc::GroupedGemm> gate_up, down;
  std::vector<std::int64_t> counts;
};

std::int64_t layer_weight_bytes(const spec::ModelSpec& m, bool moe) {
  const std::int64_t h = m.hidden_size, d = m.head_dim;
  const std::int64_t kv = m.attention == spec::AttentionKind::kMHA ? m.num_heads : m.num_kv_heads;
  std::int64_t e = 2 * h + (m.num_heads + 2 * kv) * d * h + h * m.num_heads * d;
  if (moe) {
    e += std::int64_t{m.num_experts} * h + std::int64_t{m.num_experts} * 3 * m.expert_ffn_size * h;
    e += 3 * std::int64_t{m.num_shared_experts} * m.shared_expert_ffn_size * h;
  } else {
    e += 3 * std::int64_t{m.dense_ffn_size} * h;
  }
  return 2 * e;
}

double pct(double pred, double meas) { return meas > 0 ? 100.0 * (pred - meas) / meas : 0.0; }

}  // namespace

int run_validate(const ValidateOptions& opt) {
  io::Diagnostics diags;
  auto scen = frontend::load_scenario(opt.scenario, diags);
  if (!scen) {
    std::fprintf(stderr, "%s", diags.format("nothing was run").c_str());
    return 2;
  }
  const spec::ModelSpec& m = scen->model;
  const int B = scen->workload.batch;
  const int C = scen->workload.context_length;
  const int H = m.hidden_size, D = m.head_dim, NH = m.num_heads;
  const int KV = m.attention == spec::AttentionKind::kMHA ? m.num_heads : m.num_kv_heads;
  const int E = m.num_experts, K = m.top_k, F = m.expert_ffn_size;
  const int FS = m.num_shared_experts * m.shared_expert_ffn_size;
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "%s: %s\n", opt.scenario.c_str(), why.c_str());
    return 2;
  };
  if (m.attention == spec::AttentionKind::kMLA) return fail("MLA attention is not implemented by the validation kernels");
  if (!kc::decode_attention_supported(NH, KV, D)) return fail("head_dim or GQA grouping not supported by decode_attention");
  if (H % 8 || F % 8 || FS % 8 || m.dense_ffn_size % 8) return fail("widths must be multiples of 8");
  if (E > 256 || K > 8) return fail("router kernel supports at most 256 experts and top-8");
  const std::string profile_path = !opt.profile.empty() ? opt.profile : scen->profile_path;
  if (profile_path.empty()) return fail("no profile: pass --profile or set the scenario's \"profile\"");
  io::Diagnostics pd;
  auto prof = profile::load_profile(profile_path, pd);
  if (!prof) {
    std::fprintf(stderr, "%s", pd.format("nothing was run").c_str());
    return 2;
  }
  profile::ProfileCostModel cost(std::move(*prof), profile_path, scen->hardware.gpu);
  const models::RooflineCostModel roof(scen->hardware.gpu);

  Device dev(0, 0);  // no arena: the step allocates its own buffers
  dev.blas().set_tune_margin(opt.gemm_tune_margin);
  dev.blas().set_tune_neighbors(opt.gemm_tune_neighbors);
  std::printf("validate %s: %s, batch %d, context %d, on %s\n", opt.scenario.c_str(), m.name.c_str(), B, C,
              dev.props().name);
  if (!profile::same_gpu_name(cost.profile().provenance.gpu_name, dev.props().name)) {
    std::printf("warning: profile is for %s, this GPU is %s\n", cost.profile().provenance.gpu_name.c_str(),
                dev.props().name);
  }

  // How many layers fit.
  std::size_t free_b = 0, total_b = 0;
  MASIM_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  const std::int64_t kv_bytes = 2LL * B * KV * C * D * 2;
  const std::int64_t act_bytes = 64LL * B * std::max({H, 2 * F * K, 2 * std::max(FS, m.dense_ffn_size), (NH + 2 * KV) * D}) + (1LL << 30);
  int layers = opt.layers > 0 ? std::min(opt.layers, m.num_layers) : m.num_layers;
  auto need = [&](int n) {
    std::int64_t b = act_bytes;
    for (int l = 0; l < n; ++l) b += layer_weight_bytes(m, models::is_moe_layer(m, l)) + kv_bytes;
    return b;
  };
  const std::int64_t budget = static_cast<std::int64_t>(free_b) - (3LL << 30);
  while (layers > 1 && need(layers) > budget) --layers;
  if (need(layers) > budget) return fail("one layer does not fit on this GPU");
  std::printf("running %d of %d layers (%.1f GiB)\n", layers, m.num_layers, static_cast<double>(need(layers)) / 1073741824.0);

  Buffers buf;
  cudaStream_t s = dev.stream();
  kc::Blas& blas = dev.blas();
  std::uint64_t seed = scen->seed * 1000003ull;
  auto rnd = [&](std::size_t n, float scale) {
    Bf16* p = buf.get<Bf16>(n);
    MASIM_CUDA_CHECK(kc::fill_random_bf16(p, static_cast<std::int64_t>(n), ++seed, scale, s));
    return p;
  };
  // Weights ~ U(-a, a) with a = sqrt(3 / fan_in): unit-variance outputs.
  auto wscale = [](int fan_in) { return std::sqrt(3.0f / static_cast<float>(fan_in)); };
  std::vector<Layer> L(static_cast<std::size_t>(layers));
  for (int l = 0; l < layers; ++l) {
    Layer& y = L[static_cast<std::size_t>(l)];
    y.moe = models::is_moe_layer(m, l);
    y.ln1 = rnd(H, 1.0f);
    y.ln2 = rnd(H, 1.0f);
    y.wqkv = rnd(static_cast<std::size_t>(NH + 2 * KV) * D * H, wscale(H));
    y.wo = rnd(static_cast<std::size_t>(H) * NH * D, wscale(NH * D));
    y.kc = rnd(static_cast<std::size_t>(B) * KV * C * D, 1.0f);
    y.vc = rnd(static_cast<std::size_t>(B) * KV * C * D, 1.0f);
    if (y.moe) {
      y.wr = rnd(static_cast<std::size_t>(E) * H, wscale(H));
      for (int e = 0; e < E; ++e) {
        y.w1.push_back(rnd(static_cast<std::size_t>(2) * F * H, wscale(H)));
        y.w2.push_back(rnd(static_cast<std::size_t>(H) * F, wscale(F)));
      }
      if (FS > 0) {
        y.ws1 = rnd(static_cast<std::size_t>(2) * FS * H, wscale(H));
        y.ws2 = rnd(static_cast<std::size_t>(H) * FS, wscale(FS));
      }
    } else {
      y.ws1 = rnd(static_cast<std::size_t>(2) * m.dense_ffn_size * H, wscale(H));
      y.ws2 = rnd(static_cast<std::size_t>(H) * m.dense_ffn_size, wscale(m.dense_ffn_size));
    }
  }
  // Activations (reused by every layer except the residual stream, one buffer per layer boundary).
  std::vector<Bf16*> x(static_cast<std::size_t>(layers) + 1);
  x[0] = rnd(static_cast<std::size_t>(B) * H, 1.0f);
  for (int l = 1; l <= layers; ++l) x[static_cast<std::size_t>(l)] = buf.get<Bf16>(static_cast<std::size_t>(B) * H);
  const std::size_t BH = static_cast<std::size_t>(B) * H;
  Bf16* xn = buf.get<Bf16>(BH);
  Bf16* qkv = buf.get<Bf16>(static_cast<std::size_t>(B) * (NH + 2 * KV) * D);
  Bf16* attn = buf.get<Bf16>(static_cast<std::size_t>(B) * NH * D);
  Bf16* ao = buf.get<Bf16>(BH);
  Bf16* hres = buf.get<Bf16>(BH);
  Bf16* hn = buf.get<Bf16>(BH);
  float* logits = buf.get<float>(static_cast<std::size_t>(B) * std::max(E, 1));
  auto* idx = buf.get<std::int32_t>(static_cast<std::size_t>(B) * std::max(K, 1));
  float* wts = buf.get<float>(static_cast<std::size_t>(B) * std::max(K, 1));
  auto* counts = buf.get<std::int32_t>(static_cast<std::size_t>(std::max(E, 1)));
  auto* offsets = buf.get<std::int32_t>(static_cast<std::size_t>(std::max(E, 1)) + 1);
  auto* cursors = buf.get<std::int32_t>(static_cast<std::size_t>(std::max(E, 1)));
  auto* slot_row = buf.get<std::int32_t>(static_cast<std::size_t>(B) * std::max(K, 1));
  const std::size_t BK = static_cast<std::size_t>(B) * std::max(K, 1);
  Bf16* rows = buf.get<Bf16>(BK * H);
  Bf16* gu = buf.get<Bf16>(BK * 2 * std::max(F, 8));
  Bf16* act = buf.get<Bf16>(BK * std::max(F, 8));
  Bf16* ey = buf.get<Bf16>(BK * H);
  Bf16* moe_out = buf.get<Bf16>(BH);
  const int FW = std::max({FS, m.dense_ffn_size, 8});
  Bf16* sgu = buf.get<Bf16>(static_cast<std::size_t>(B) * 2 * FW);
  Bf16* sact = buf.get<Bf16>(static_cast<std::size_t>(B) * FW);
  Bf16* sy = buf.get<Bf16>(BH);
  const int splits = kc::decode_attention_splits(B, NH, KV, C, dev.sm_count(), opt.attention_variant, D);
  void* ws = buf.get<char>(kc::decode_attention_workspace_bytes(B, NH, D, splits));
  MASIM_CUDA_CHECK(cudaStreamSynchronize(s));

  // The step as (label, launch) per layer, labels numbered like masim's op lists.
  using Step = std::vector<std::pair<std::string, std::function<void()>>>;
  auto build_layer = [&](int l) {
    Layer* Y = &L[static_cast<std::size_t>(l)];
    Bf16* xin = x[static_cast<std::size_t>(l)];
    Bf16* xout = x[static_cast<std::size_t>(l) + 1];
    Step st;
    st.emplace_back("input_norm", [=] { MASIM_CUDA_CHECK(kc::rmsnorm(xin, Y->ln1, xn, B, H, 1e-6f, s)); });
    st.emplace_back("qkv_proj", [=, &blas] { blas.gemm_bf16(xn, Y->wqkv, qkv, B, static_cast<std::int64_t>(NH + 2 * KV) * D, H); });
    st.emplace_back("attention", [=] {
      MASIM_CUDA_CHECK(kc::kv_append(qkv, static_cast<std::int64_t>(NH + 2 * KV) * D, NH, KV, D, B, C - 1, C, Y->kc, Y->vc, s));
      kc::DecodeAttentionArgs a;
      a.q = qkv;
      a.k = Y->kc;
      a.v = Y->vc;
      a.out = attn;
      a.q_stride = static_cast<std::int64_t>(NH + 2 * KV) * D;
      a.out_stride = static_cast<std::int64_t>(NH) * D;
      a.batch = B;
      a.heads = NH;
      a.kv_heads = KV;
      a.head_dim = D;
      a.context = C;
      a.cache_capacity = C;
      a.splits = splits;
      a.workspace = ws;
      a.variant = opt.attention_variant;
      MASIM_CUDA_CHECK(kc::decode_attention(a, s));
    });
    st.emplace_back("o_proj", [=, &blas] { blas.gemm_bf16(attn, Y->wo, ao, B, H, static_cast<std::int64_t>(NH) * D); });
    st.emplace_back("residual", [=] { MASIM_CUDA_CHECK(kc::add(xin, ao, nullptr, hres, static_cast<std::int64_t>(BH), s)); });
    st.emplace_back("post_attn_norm", [=] { MASIM_CUDA_CHECK(kc::rmsnorm(hres, Y->ln2, hn, B, H, 1e-6f, s)); });
    if (Y->moe) {
      st.emplace_back("router", [=, &blas] { blas.gemm_bf16_f32(hn, Y->wr, logits, B, E, H); });
      st.emplace_back("router_topk", [=] { MASIM_CUDA_CHECK(kc::router_topk(logits, B, E, K, true, idx, wts, counts, s)); });
      st.emplace_back("permute", [=] {
        MASIM_CUDA_CHECK(kc::moe_permute(hn, idx, counts, B, H, K, E, offsets, cursors, slot_row, rows, s));
      });
      st.emplace_back("expert_gate_up", [Y] { Y->gate_up->run(); });
      st.emplace_back("expert_swiglu", [=] { MASIM_CUDA_CHECK(kc::swiglu(gu, act, static_cast<std::int64_t>(B) * K, F, s)); });
      st.emplace_back("expert_down", [Y] { Y->down->run(); });
      if (FS > 0) {
        st.emplace_back("shared_gate_up", [=, &blas] { blas.gemm_bf16(hn, Y->ws1, sgu, B, 2LL * FS, H); });
        st.emplace_back("shared_swiglu", [=] { MASIM_CUDA_CHECK(kc::swiglu(sgu, sact, B, FS, s)); });
        st.emplace_back("shared_down", [=, &blas] { blas.gemm_bf16(sact, Y->ws2, sy, B, H, FS); });
      }
      st.emplace_back("unpermute", [=] { MASIM_CUDA_CHECK(kc::moe_unpermute(ey, slot_row, wts, B, H, K, moe_out, s)); });
      st.emplace_back("residual", [=] {
        MASIM_CUDA_CHECK(kc::add(hres, moe_out, FS > 0 ? sy : nullptr, xout, static_cast<std::int64_t>(BH), s));
      });
    } else {
      const int DF = m.dense_ffn_size;
      st.emplace_back("ffn_gate_up", [=, &blas] { blas.gemm_bf16(hn, Y->ws1, sgu, B, 2LL * DF, H); });
      st.emplace_back("ffn_swiglu", [=] { MASIM_CUDA_CHECK(kc::swiglu(sgu, sact, B, DF, s)); });
      st.emplace_back("ffn_down", [=, &blas] { blas.gemm_bf16(sact, Y->ws2, sy, B, H, DF); });
      st.emplace_back("residual", [=] { MASIM_CUDA_CHECK(kc::add(hres, sy, nullptr, xout, static_cast<std::int64_t>(BH), s)); });
    }
    // Number repeated labels within the layer: "residual", "residual#2".
    std::map<std::string, int> seen;
    for (auto& [label, fn] : st) {
      const int n = ++seen[label];
      if (n > 1) label += "#" + std::to_string(n);
    }
    return st;
  };

  // Eager pass: run layer by layer, reading each MoE layer's expert counts to plan its grouped GEMMs.
  std::vector<Step> steps;
  for (int l = 0; l < layers; ++l) {
    Step st = build_layer(l);
    Layer& y = L[static_cast<std::size_t>(l)];
    for (auto& [label, fn] : st) {
      if (label == "expert_gate_up") {
        MASIM_CUDA_CHECK(cudaStreamSynchronize(s));
        std::vector<std::int32_t> c(static_cast<std::size_t>(E));
        MASIM_CUDA_CHECK(cudaMemcpy(c.data(), counts, sizeof(std::int32_t) * c.size(), cudaMemcpyDeviceToHost));
        y.counts.assign(c.begin(), c.end());
        std::vector<kc::GroupedGemm::Group> g1, g2;
        std::int64_t off = 0;
        for (int e = 0; e < E; ++e) {
          const std::int64_t n = c[static_cast<std::size_t>(e)];
          g1.push_back({rows + off * H, y.w1[static_cast<std::size_t>(e)], gu + off * 2 * F, n});
          g2.push_back({act + off * F, y.w2[static_cast<std::size_t>(e)], ey + off * H, n});
          off += n;
        }
        const auto mode = opt.grouped_mode == "loop"      ? kc::GroupedGemm::Mode::kLoop
                          : opt.grouped_mode == "grouped" ? kc::GroupedGemm::Mode::kGroupedBatched
                                                          : kc::GroupedGemm::Mode::kAuto;
        y.gate_up = std::make_unique<kc::GroupedGemm>(blas, g1, 2LL * F, H, mode);
        y.down = std::make_unique<kc::GroupedGemm>(blas, g2, H, F, mode);
      }
      fn();
    }
    steps.push_back(std::move(st));
  }
  MASIM_CUDA_CHECK(cudaStreamSynchronize(s));
  auto checksum = [&]() {
    std::vector<Bf16> h(BH);
    MASIM_CUDA_CHECK(cudaMemcpy(h.data(), x[static_cast<std::size_t>(layers)], sizeof(Bf16) * BH, cudaMemcpyDeviceToHost));
    double sum = 0;
    std::size_t bad = 0;
    for (Bf16 v : h) {
      const float f = kernels::bf16_to_float(v);
      if (!std::isfinite(f)) ++bad;
      sum += std::fabs(f);
    }
    return std::make_pair(sum, bad);
  };
  const auto eager = checksum();

  // End to end: the whole step in one graph.
  TimingOptions topt;
  topt.target_graph_us = 0;  // one step per replay
  topt.max_launches_per_graph = 1;
  topt.min_replays = opt.replays;
  topt.max_replays = opt.replays;
  topt.warmup_replays = 3;
  auto run_all = [&](int) {
    for (auto& st : steps) {
      for (auto& [label, fn] : st) fn();
    }
  };
  const Timing e2e = measure(dev, run_all, true, topt);
  const auto replayed = checksum();
  // Replays recompute the step from the same input: the output must match the eager pass
  // (up to the order of fp32 atomics, none of which feed the output here) and be finite.
  const bool deterministic = eager.second == 0 && replayed.second == 0 &&
                             std::fabs(eager.first - replayed.first) <= 1e-3 * std::max(1.0, eager.first);
  std::printf("end to end: %.3f ms per step (median of %d graph replays, spread %.1f%%, graph %s); output %s "
              "(sum |x| eager %.6g, replayed %.6g; non-finite %zu, %zu)\n",
              e2e.median_us * 1e-3, e2e.replays, e2e.spread_pct, e2e.graph ? "yes" : "NO",
              deterministic ? "finite and identical to the eager run" : "DIFFERS from the eager run or not finite",
              eager.first, replayed.first, eager.second, replayed.second);

  // Per op: that op alone over all layers, per layer.
  std::vector<std::string> keys;
  for (const auto& st : steps) {
    for (const auto& [label, fn] : st) {
      if (std::find(keys.begin(), keys.end(), label) == keys.end()) keys.push_back(label);
    }
  }
  std::map<std::string, double> measured_us;   // summed over layers
  for (const std::string& key : keys) {
    auto run_op = [&](int) {
      for (auto& st : steps) {
        for (auto& [label, fn] : st) {
          if (label == key) fn();
        }
      }
    };
    // Many launches per replay (as in the calibration), so a model with few layers
    // does not carry one graph launch per handful of kernels.
    TimingOptions per_op = topt;
    per_op.target_graph_us = 600;
    per_op.max_launches_per_graph = 64;
    per_op.min_replays = 10;
    per_op.max_replays = 50;
    const Timing t = measure(dev, run_op, true, per_op);
    measured_us[key] = t.median_us;
  }

  // masim's prediction for the same layers and routing.
  std::map<std::string, double> pred_us, roof_us;
  std::map<std::string, std::string> source;
  for (int l = 0; l < layers; ++l) {
    const std::vector<models::Op> ops = workload::single_gpu_layer(
        m, l, workload::AttentionShard{1, B, 1, C, false}, B, L[static_cast<std::size_t>(l)].counts);
    std::map<std::string, int> seen;
    for (const models::Op& op : ops) {
      std::string key(op.label);
      const int n = ++seen[key];
      if (n > 1) key += "#" + std::to_string(n);
      const models::OpCost c = cost.cost(op);
      pred_us[key] += c.time.us();
      roof_us[key] += roof.cost(op).time.us();
      source[key] = models::to_string(c.source);
    }
  }

  json report = json::object();
  report["scenario"] = opt.scenario;
  report["model"] = m.name;
  report["batch"] = B;
  report["context"] = C;
  report["layers_run"] = layers;
  report["layers_model"] = m.num_layers;
  report["gpu"] = dev.props().name;
  report["profile"] = profile_path;
  int loops = 0, batched = 0;
  for (const Layer& y : L) {
    for (const auto* g : {y.gate_up.get(), y.down.get()}) {
      if (g) (g->mode() == kc::GroupedGemm::Mode::kLoop ? loops : batched)++;
    }
  }
  report["grouped_gemm"] = {{"requested", opt.grouped_mode}, {"plans_loop", loops}, {"plans_grouped_batched", batched}};
  report["attention_variant"] =
      kc::decode_attention_variant(NH, KV, D, opt.attention_variant) >= 2 ? "tensor cores" : "CUDA cores";
  std::printf("expert GEMM plans: %d grouped-batched, %d loop; attention on %s\n", batched, loops,
              report["attention_variant"].get<std::string>().c_str());
  json rows_j = json::array();
  std::printf("\n%-18s %12s %12s %9s %9s  %s\n", "op (per layer)", "measured us", "masim us", "error", "roofline", "source");
  double sum_meas = 0, sum_pred = 0, sum_roof = 0;
  std::vector<double> errs;
  for (const std::string& key : keys) {
    const double meas = measured_us[key] / layers;
    const double pred = pred_us.count(key) ? pred_us[key] / layers : 0;
    const double rf = roof_us.count(key) ? roof_us[key] / layers : 0;
    sum_meas += meas;
    std::printf("%-18s %12.2f %12.2f %8.1f%% %8.1f%%  %s\n", key.c_str(), meas, pred, pct(pred, meas), pct(rf, meas),
                source.count(key) ? source[key].c_str() : "(masim has no such op)");
    if (pred > 0) errs.push_back(std::fabs(pct(pred, meas)));
    rows_j.push_back(json{{"op", key}, {"measured_us", meas}, {"predicted_us", pred}, {"roofline_us", rf},
                          {"error_pct", pct(pred, meas)}, {"source", source.count(key) ? source[key] : "none"}});
  }
  for (const auto& [key, v] : pred_us) {
    sum_pred += v;
    sum_roof += roof_us[key];
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      std::printf("%-18s %12s %12.2f  (masim op not run by the step)\n", key.c_str(), "-", v / layers);
    }
  }
  const double step_ms = e2e.median_us * 1e-3;
  const double pred_ms = sum_pred * 1e-3;
  std::printf("\nsum of per-op measurements: %.3f ms; end to end %.3f ms\n", sum_meas * layers * 1e-3, step_ms);
  std::printf("END TO END: measured %.3f ms, masim %.3f ms, error %+.1f%% (roofline %.3f ms, %+.1f%%)\n", step_ms,
              pred_ms, pct(pred_ms, step_ms), sum_roof * 1e-3, pct(sum_roof * 1e-3, step_ms));
  report["ops"] = rows_j;
  report["step_measured_ms"] = step_ms;
  report["step_spread_pct"] = e2e.spread_pct;
  report["step_predicted_ms"] = pred_ms;
  report["step_roofline_ms"] = sum_roof * 1e-3;
  report["step_error_pct"] = pct(pred_ms, step_ms);
  report["sum_of_ops_measured_ms"] = sum_meas * layers * 1e-3;
  report["deterministic_and_finite"] = deterministic;
  report["graph"] = e2e.graph;
  if (!opt.out.empty()) profile::write_text_atomic(opt.out, report.dump(1) + "\n");
  return deterministic ? 0 : 1;
}

}  // namespace masim::calibrate
