#include "calibrate/benches.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <numeric>

#include "kernels/cuda/blas.hpp"
#include "kernels/cuda/check.hpp"
#include "kernels/cuda/kernels.hpp"
#include "kernels/reference/numeric.hpp"
#include "kernels/reference/reference.hpp"

namespace masim::calibrate {

namespace kc = kernels::cuda;
namespace kr = kernels::ref;
using kc::Bf16;
using kc::Fp8;

namespace {

constexpr double kTolBf16 = 2e-2;  // bf16 outputs (relative L2 over the sample); METHOD.md: 1e-3..1e-2
constexpr int kSamples = 48;

std::int64_t I(double v) { return std::llround(v); }

// Powers of two from lo to hi, each followed by its multiples by `factors` (in
// (1, 2)) that are integers and within hi.
std::vector<double> pow2_times(double lo, double hi, std::initializer_list<double> factors) {
  std::vector<double> v;
  for (double x = lo; x <= hi * 1.0000001; x *= 2) {
    v.push_back(x);
    for (double f : factors) {
      const double y = f * x;
      if (y <= hi * 1.0000001 && std::fmod(y, 1.0) == 0.0) v.push_back(y);
    }
  }
  return v;
}

std::vector<double> pow2(double lo, double hi) { return pow2_times(lo, hi, {}); }

// Powers of two and 1.5 times them ("R-series": 1, 2, 3, 4, 6, 8, 12, ...):
// the widths real models use (768, 1536, 3072, 6144, 12288) are grid points.
std::vector<double> pow2_half(double lo, double hi) { return pow2_times(lo, hi, {1.5}); }

// Powers of two and 1.25, 1.5 and 1.75 times them (integers only): 1, 2, 3, 4, 5,
// 6, 7, 8, 10, 12, 14, 16, 20, ... For cheap one- and two-axis tables whose time
// has steps between 1.5× points (a second pass over a row, a buffer falling out of
// L2). Every pow2_half value is one of them.
std::vector<double> pow2_quarter(double lo, double hi) { return pow2_times(lo, hi, {1.25, 1.5, 1.75}); }

// Model widths (hidden sizes, FFN widths): multiples of 128 in every MoE model this
// repository ships (Mixtral 14336, Qwen3 768, Qwen1.5 1408, DeepSeek-V3 7168).
double snap_model_width(double v) { return std::max(128.0, std::round(v / 128) * 128); }

std::uint64_t sub_seed(std::uint64_t seed, int set, int tensor) {
  return kernels::mix64(seed ^ (static_cast<std::uint64_t>(set) << 32) ^ static_cast<std::uint64_t>(tensor));
}

void fill_bf16(Bf16* p, std::int64_t n, std::uint64_t seed, float scale, cudaStream_t s) {
  MASIM_CUDA_CHECK(kc::fill_random_bf16(p, n, seed, scale, s));
}

template <typename T>
T* need(T* p) {
  if (p == nullptr) kc::throw_device_error("calibration arena exhausted", __FILE__, __LINE__);
  return p;
}

template <typename T>
std::vector<T> download(const T* d, std::int64_t n) {
  std::vector<T> h(static_cast<std::size_t>(n));
  if (n > 0) MASIM_CUDA_CHECK(cudaMemcpy(h.data(), d, sizeof(T) * static_cast<std::size_t>(n), cudaMemcpyDeviceToHost));
  return h;
}

template <typename T>
void upload(T* d, const std::vector<T>& h) {
  if (!h.empty()) MASIM_CUDA_CHECK(cudaMemcpy(d, h.data(), sizeof(T) * h.size(), cudaMemcpyHostToDevice));
}

// Every element written (outputs were poisoned to NaN first)?
CheckResult written_bf16(Device& dev, const Bf16* p, std::int64_t n, unsigned long long* scratch) {
  MASIM_CUDA_CHECK(kc::count_nonfinite_bf16(p, n, scratch, dev.stream()));
  dev.sync();
  unsigned long long c = 0;
  MASIM_CUDA_CHECK(cudaMemcpy(&c, scratch, sizeof c, cudaMemcpyDeviceToHost));
  if (c == 0) return CheckResult{true, 0, ""};
  return CheckResult{false, std::numeric_limits<double>::infinity(),
                     std::to_string(c) + " of " + std::to_string(n) + " outputs not written or not finite"};
}

CheckResult compare(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  const double e = rel_error(got, want);
  CheckResult r{e <= tol, e, ""};
  if (!r.ok) r.detail = "relative error " + std::to_string(e) + " > " + std::to_string(tol);
  return r;
}

double bf16_at(const Bf16 v) { return kernels::bf16_to_float(v); }

}  // namespace

template <typename T>
std::vector<T> fetch(const T* device, const std::vector<std::int64_t>& idx) {
  // One copy per run of consecutive indices (sampled rows come back in one piece).
  std::vector<T> out(idx.size());
  std::size_t i = 0;
  while (i < idx.size()) {
    std::size_t j = i + 1;
    while (j < idx.size() && idx[j] == idx[j - 1] + 1) ++j;
    MASIM_CUDA_CHECK(cudaMemcpy(&out[i], device + idx[i], sizeof(T) * (j - i), cudaMemcpyDeviceToHost));
    i = j;
  }
  return out;
}
template std::vector<Bf16> fetch(const Bf16*, const std::vector<std::int64_t>&);
template std::vector<float> fetch(const float*, const std::vector<std::int64_t>&);

double rel_error(const std::vector<double>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  if (den == 0) return num == 0 ? 0 : std::numeric_limits<double>::infinity();
  return std::sqrt(num / den);
}

double Bench::snap(std::size_t /*axis*/, double v) const { return std::max(1.0, std::round(v)); }

std::vector<double> Bench::random_point(Rng& rng, bool quick) const {
  const auto g = grid(quick);
  std::vector<double> x(g.size());
  for (std::size_t a = 0; a < g.size(); ++a) {
    const double lo = g[a].front();
    const double hi = g[a].back();
    double v = lo;
    for (int attempt = 0; attempt < 16; ++attempt) {
      v = snap(a, std::exp(std::log(lo) + rng.uniform() * (std::log(hi) - std::log(lo))));
      v = std::clamp(v, lo, hi);
      if (std::find(g[a].begin(), g[a].end(), v) == g[a].end()) break;  // off-grid
    }
    x[a] = v;
  }
  return x;
}

namespace {

// ---------------------------------------------------------------- GEMM
class GemmBench final : public Bench {
 public:
  explicit GemmBench(spec::DType dt, std::vector<double> extra_n = {}) : dt_(dt), extra_n_(std::move(extra_n)) {}
  std::string table() const override { return fp8() ? "gemm_fp8" : "gemm_bf16"; }
  models::OpKind kind() const override { return models::OpKind::kGemm; }
  spec::DType dtype() const override { return dt_; }
  std::string implementation() const override {
    return fp8() ? "cublasLtMatmul fp8 e4m3 TN, bf16 out, fp32 accumulate (kernels/cuda/blas)"
                 : "cuBLASLt bf16 TN, fp32 accumulate, algorithm timed per shape (kernels/cuda/blas)";
  }
  std::vector<std::vector<double>> grid(bool quick) const override {
    if (quick) return {pow2(fp8() ? 16 : 1, 1024), pow2(1024, 4096), pow2(1024, 4096)};
    // fp8 at 1.5× steps: off-power-of-two shapes ran up to 33% slower than their
    // power-of-two neighbours suggest (the heuristic picks other kernels there).
    if (fp8()) return {pow2_half(16, 8192), pow2_half(512, 16384), pow2_half(512, 16384)};
    // n from 8: router GEMMs have one output per expert (8 to 256). Their times
    // are set by the kernel cuBLAS picks more than by n, so these columns are dense
    // (a 2× or 4× step between them gave errors of 10-20% at n = 48 to 192).
    std::vector<double> n = {8, 16, 32, 64, 128, 192};
    for (double v : pow2_half(256, 16384)) n.push_back(v);
    // Extra columns asked for (such as 60: rows of a 60-expert router's logits are
    // not 16-byte aligned, and cuBLAS runs slower kernels for them).
    for (double v : extra_n_) n.push_back(std::round(v));
    std::sort(n.begin(), n.end());
    n.erase(std::unique(n.begin(), n.end()), n.end());
    // Decode-sized m (batch 8..512) also at the odd multiples of 16 and 32 in
    // between: cuBLAS changes kernels within a 1.5× step there.
    std::vector<double> m = pow2_half(1, 8192);
    for (double v : {40.0, 56.0, 80.0, 112.0, 160.0, 224.0, 320.0, 448.0}) m.push_back(v);
    std::sort(m.begin(), m.end());
    return {m, n, pow2_half(256, 16384)};
  }
  // In the TN call the weight's rows n are the kernel's M: units of 64, the M of
  // Hopper's warpgroup MMA (wgmma.m64nNk16, PTX ISA 8.0) and the smallest CTA tile
  // edge of cuBLAS's sm90 kernels; a shape between multiples pays for the next one.
  // The tokens m (the kernel's N) get no quantum: with algorithms timed per shape
  // the time does not step at multiples of 16 (m = 17..31 ran like m = 24, not
  // like m = 32, whose own algorithm was slower: seed-8 run).
  std::vector<double> quanta() const override { return {1, 64, 1}; }
  // Output rows of n elements are 16-byte aligned when n is a multiple of 8 (bf16
  // out): other widths (a 60-expert router) run cuBLAS's unaligned kernels.
  std::vector<double> alignment() const override { return {1, 8, 1}; }
  // Weights are read cold in a real step (every layer has its own); the
  // activations were just written by the previous kernel: rotate only W.
  std::size_t set_bytes(const std::vector<double>& x) const override {
    return (fp8() ? 1 : 2) * static_cast<std::size_t>(I(x[1]) * I(x[2]));
  }
  std::size_t shared_bytes(const std::vector<double>& x) const override {
    return (fp8() ? 1 : 2) * static_cast<std::size_t>(I(x[0]) * I(x[2])) + 2 * static_cast<std::size_t>(I(x[0]) * I(x[1])) + 4096;
  }
  bool prepare(Device& dev, const std::vector<double>& x, int sets, std::uint64_t seed) override {
    m_ = I(x[0]);
    n_ = I(x[1]);
    k_ = I(x[2]);
    seed_ = seed;
    if (fp8() && !dev.blas().plan_fp8(m_, n_, k_)) return false;
    w_.clear();
    const std::size_t eb = fp8() ? 1 : 2;
    a_ = need(dev.alloc_bytes(eb * static_cast<std::size_t>(m_ * k_)));
    c_ = need(dev.alloc<Bf16>(static_cast<std::size_t>(m_ * n_)));
    if (fp8()) {
      MASIM_CUDA_CHECK(kc::fill_random_fp8(static_cast<Fp8*>(a_), m_ * k_, sub_seed(seed, 0, 0), 1.0f, dev.stream()));
    } else {
      fill_bf16(static_cast<Bf16*>(a_), m_ * k_, sub_seed(seed, 0, 0), 1.0f, dev.stream());
    }
    for (int s = 0; s < sets; ++s) {
      void* w = need(dev.alloc_bytes(eb * static_cast<std::size_t>(n_ * k_)));
      if (fp8()) {
        MASIM_CUDA_CHECK(kc::fill_random_fp8(static_cast<Fp8*>(w), n_ * k_, sub_seed(seed, s, 1), 1.0f, dev.stream()));
      } else {
        fill_bf16(static_cast<Bf16*>(w), n_ * k_, sub_seed(seed, s, 1), 1.0f, dev.stream());
      }
      w_.push_back(w);
    }
    scratch_ = need(dev.alloc<unsigned long long>(1));
    return true;
  }
  void launch(Device& dev, int s) override {
    if (fp8()) {
      dev.blas().gemm_fp8(static_cast<const Fp8*>(a_), static_cast<const Fp8*>(w_[static_cast<std::size_t>(s)]), c_,
                          m_, n_, k_);
    } else {
      dev.blas().gemm_bf16(static_cast<const Bf16*>(a_), static_cast<const Bf16*>(w_[static_cast<std::size_t>(s)]), c_,
                           m_, n_, k_);
    }
  }
  CheckResult check(Device& dev) override {
    MASIM_CUDA_CHECK(cudaMemsetAsync(c_, 0xFF, sizeof(Bf16) * static_cast<std::size_t>(m_ * n_), dev.stream()));
    launch(dev, 0);
    CheckResult w = written_bf16(dev, c_, m_ * n_, scratch_);
    if (!w.ok) return w;
    Rng rng(seed_ ^ 0x5EEDull);
    std::vector<std::int64_t> idx;
    std::vector<double> want;
    std::vector<float> arow(static_cast<std::size_t>(k_)), wrow(static_cast<std::size_t>(k_));
    const std::uint64_t sa = sub_seed(seed_, 0, 0), sw = sub_seed(seed_, 0, 1);
    for (int t = 0; t < kSamples; ++t) {
      const std::int64_t i = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(m_)));
      const std::int64_t j = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n_)));
      for (std::int64_t l = 0; l < k_; ++l) {
        const auto ia = static_cast<std::uint64_t>(i * k_ + l), iw = static_cast<std::uint64_t>(j * k_ + l);
        arow[static_cast<std::size_t>(l)] =
            fp8() ? kernels::random_fp8_value(sa, ia, 1.0f) : kernels::random_bf16_value(sa, ia, 1.0f);
        wrow[static_cast<std::size_t>(l)] =
            fp8() ? kernels::random_fp8_value(sw, iw, 1.0f) : kernels::random_bf16_value(sw, iw, 1.0f);
      }
      idx.push_back(i * n_ + j);
      want.push_back(kr::dot(arow.data(), wrow.data(), k_));
    }
    const auto got_b = fetch<Bf16>(c_, idx);
    std::vector<double> got(got_b.size());
    std::transform(got_b.begin(), got_b.end(), got.begin(), bf16_at);
    return compare(got, want, kTolBf16);
  }

 protected:
  double snap(std::size_t axis, double v) const override {
    if (axis == 0) return std::max(fp8() ? 16.0 : 1.0, std::round(v));
    if (axis == 1 && v < 256) return std::max(8.0, std::round(v / 8) * 8);  // router widths
    return snap_model_width(v);
  }

 private:
  bool fp8() const { return dt_ == spec::DType::kFP8; }
  spec::DType dt_;
  std::vector<double> extra_n_;
  std::int64_t m_ = 0, n_ = 0, k_ = 0;
  std::uint64_t seed_ = 0;
  void* a_ = nullptr;
  std::vector<void*> w_;
  Bf16* c_ = nullptr;
  unsigned long long* scratch_ = nullptr;
};

// ---------------------------------------------------------------- grouped GEMM
class GroupedGemmBench final : public Bench {
 public:
  explicit GroupedGemmBench(kc::GroupedGemm::Mode mode = kc::GroupedGemm::Mode::kAuto, bool dense_nk = false,
                            bool dense_groups = false)
      : mode_(mode), dense_nk_(dense_nk), dense_groups_(dense_groups) {}
  std::string table() const override { return "grouped_gemm_bf16"; }
  models::OpKind kind() const override { return models::OpKind::kGroupedGemm; }
  std::string implementation() const override {
    switch (mode_) {
      case kc::GroupedGemm::Mode::kLoop: return "loop of tuned cuBLASLt bf16 TN GEMMs, one call per group";
      case kc::GroupedGemm::Mode::kGroupedBatched:
        return "cublasGemmGroupedBatchedEx bf16 TN, one problem per group";
      default:
        return "kernels/cuda/blas GroupedGemm auto: cublasGemmGroupedBatchedEx (one problem per group) or a loop "
               "of tuned cuBLASLt GEMMs, whichever is faster for the shape (timed when the plan is made)";
    }
  }
  std::vector<std::vector<double>> grid(bool quick) const override {
    if (quick) return {pow2(1, 64), pow2(1, 256), {1024, 4096}, {1024, 4096}};
    // Rows per group at 1.5× steps: the tuned loop form changes kernels between them.
    // n and k at powers of two to 16384, or (dense_nk: an experiment's grid, 2.5x
    // the points in a smaller box) at 1.5x steps to 8192.
    const auto nk = dense_nk_ ? pow2_half(256, 8192) : pow2(256, 16384);
    // Groups at powers of two, or (dense_groups: an experiment's grid) at 1.5× steps too.
    return {dense_groups_ ? pow2_half(1, 256) : pow2(1, 256), pow2_half(1, 512), nk, nk};
  }
  // Rows per group (the kernel's N) in units of 32 (with eager form timing, 64
  // had cut the misses over 10% from 21 to 14 of 96 against 16; with the form
  // timed in graphs, 32 cut them from 46 to 41 of 213 on the seed-15 run's three
  // holdout draws and from 39 to 33 of 210 on the seed-16 run's), columns in units
  // of 64 as GemmBench.
  std::vector<double> quanta() const override { return {1, 32, 64, 1}; }
  // Above 4 TFLOP a point takes seconds to time; such prefill-sized expert GEMMs
  // are priced by roofline-bounded extrapolation or the roofline instead.
  bool over_compute_cap(const std::vector<double>& x) const override {
    return 2.0 * x[0] * x[1] * x[2] * x[3] > 4e12;
  }
  std::size_t set_bytes(const std::vector<double>& x) const override {
    return 2 * static_cast<std::size_t>(I(x[0]) * I(x[2]) * I(x[3]));
  }
  std::size_t shared_bytes(const std::vector<double>& x) const override {
    const std::int64_t g = I(x[0]), m = I(x[1]), n = I(x[2]), k = I(x[3]);
    return 2 * static_cast<std::size_t>(g * m * k + g * m * n) + 4096;
  }
  bool prepare(Device& dev, const std::vector<double>& x, int sets, std::uint64_t seed) override {
    g_ = I(x[0]);
    m_ = I(x[1]);
    n_ = I(x[2]);
    k_ = I(x[3]);
    seed_ = seed;
    plans_.clear();
    a0_ = need(dev.alloc<Bf16>(static_cast<std::size_t>(g_ * m_ * k_)));
    c0_ = need(dev.alloc<Bf16>(static_cast<std::size_t>(g_ * m_ * n_)));
    fill_bf16(a0_, g_ * m_ * k_, sub_seed(seed, 0, 0), 1.0f, dev.stream());
    kc::GroupedGemm::Mode mode = mode_;
    for (int s = 0; s < sets; ++s) {
      auto* w = need(dev.alloc<Bf16>(static_cast<std::size_t>(g_ * n_ * k_)));
      fill_bf16(w, g_ * n_ * k_, sub_seed(seed, s, 1), 1.0f, dev.stream());
      std::vector<kc::GroupedGemm::Group> groups;
      for (std::int64_t i = 0; i < g_; ++i) {
        groups.push_back({a0_ + i * m_ * k_, w + i * n_ * k_, c0_ + i * m_ * n_, m_});
      }
      plans_.push_back(std::make_unique<kc::GroupedGemm>(dev.blas(), groups, n_, k_, mode));
      mode = plans_.back()->mode();  // the first plan's choice holds for every set
    }
    scratch_ = need(dev.alloc<unsigned long long>(1));
    return true;
  }
  void launch(Device&, int s) override { plans_[static_cast<std::size_t>(s)]->run(); }
  std::string variant() const override {
    if (plans_.empty()) return {};
    return plans_.front()->mode() == kc::GroupedGemm::Mode::kLoop ? "loop" : "grouped";
  }
  CheckResult check(Device& dev) override {
    const std::int64_t total = g_ * m_ * n_;
    MASIM_CUDA_CHECK(cudaMemsetAsync(c0_, 0xFF, sizeof(Bf16) * static_cast<std::size_t>(total), dev.stream()));
    launch(dev, 0);
    CheckResult w = written_bf16(dev, c0_, total, scratch_);
    if (!w.ok) return w;
    Rng rng(seed_ ^ 0x6A0Bull);
    std::vector<std::int64_t> idx;
    std::vector<double> want;
    std::vector<float> arow(static_cast<std::size_t>(k_)), wrow(static_cast<std::size_t>(k_));
    const std::uint64_t sa = sub_seed(seed_, 0, 0), sw = sub_seed(seed_, 0, 1);
    for (int t = 0; t < kSamples; ++t) {
      const auto g = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(g_)));
      const auto i = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(m_)));
      const auto j = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n_)));
      for (std::int64_t l = 0; l < k_; ++l) {
        arow[static_cast<std::size_t>(l)] =
            kernels::random_bf16_value(sa, static_cast<std::uint64_t>((g * m_ + i) * k_ + l), 1.0f);
        wrow[static_cast<std::size_t>(l)] =
            kernels::random_bf16_value(sw, static_cast<std::uint64_t>((g * n_ + j) * k_ + l), 1.0f);
      }
      idx.push_back((g * m_ + i) * n_ + j);
      want.push_back(kr::dot(arow.data(), wrow.data(), k_));
    }
    const auto got_b = fetch<Bf16>(c0_, idx);
    std::vector<double> got(got_b.size());
    std::transform(got_b.begin(), got_b.end(), got.begin(), bf16_at);
    return compare(got, want, kTolBf16);
  }
  void release() override { plans_.clear(); }

 protected:
  double snap(std::size_t axis, double v) const override {
    if (axis >= 2) return snap_model_width(v);
    return std::max(1.0, std::round(v));
  }

 private:
  kc::GroupedGemm::Mode mode_;
  bool dense_nk_ = false;
  bool dense_groups_ = false;
  std::int64_t g_ = 0, m_ = 0, n_ = 0, k_ = 0;
  std::uint64_t seed_ = 0;
  std::vector<std::unique_ptr<kc::GroupedGemm>> plans_;
  Bf16 *a0_ = nullptr, *c0_ = nullptr;
  unsigned long long* scratch_ = nullptr;
};

// ---------------------------------------------------------------- decode attention
class DecodeAttentionBench final : public Bench {
 public:
  explicit DecodeAttentionBench(int d, int variant = 0) : d_(d), variant_(variant) {}
  std::string table() const override { return "attention_decode_d" + std::to_string(d_); }
  models::OpKind kind() const override { return models::OpKind::kAttentionDecode; }
  int head_dim() const override { return d_; }
  std::string implementation() const override {
    if (variant_ == 1) return "kernels/cuda decode_attention, CUDA-core variant (split-K flash-decoding)";
    if (variant_ == 2) return "kernels/cuda decode_attention, tensor-core variant (WMMA, 64-key tiles, 2 stages)";
    if (variant_ == 3) return "kernels/cuda decode_attention, tensor-core variant (WMMA, 32-key tiles, 3 stages)";
    if (variant_ == 4) return "kernels/cuda decode_attention, tensor-core balanced split-KV (one block per resident slot)";
    return "kernels/cuda decode_attention: split-K flash-decoding over a bf16 KV cache with online softmax and a "
           "merge kernel; GQA groups of 3+ heads on tensor cores (WMMA, 64-key tiles, 2 cp.async stages, O in "
           "fragments, lazy rescaling) with a balanced split-KV partition (one block per resident slot, equal "
           "runs of (sequence, tile) work); 1-2 heads on CUDA cores, splits chosen by waves x tiles";
  }
  std::vector<std::vector<double>> grid(bool quick) const override {
    if (quick) return {pow2(1, 256), pow2(128, 4096), {1, 4, 8}};
    // Groups: 1 and 2 run CUDA-core kernels, 3-16 one tensor-core tile of 16 rows;
    // the time is not flat across 3-16 though (H200: 10 heads per KV head ran 30%
    // above 8 and 16 at 10 × 4248), so 6, 10 and 12 are measured too.
    // Batch × KV heads at 1.5× steps up to 1536 (where whole waves of resident blocks
    // start and end), contexts at every 128 keys up to 1024 (where the split count moves).
    std::vector<double> streams = pow2_half(1, 1536);
    streams.push_back(2048);
    streams.push_back(4096);
    std::vector<double> ctx;
    for (double c = 128; c <= 1024; c += 64) {
      if (c <= 512 || std::fmod(c, 128) == 0) ctx.push_back(c);
    }
    for (double c : pow2_half(1024, 32768)) {
      if (c > 1024) ctx.push_back(c);
    }
    // 14: groups 13 to 15 at a few streams ran 20-28% slower than 12 and 16 suggest.
    return {streams, ctx, {1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16}};
  }
  // 64-key tiles: a context is processed as a whole number of tiles.
  std::vector<double> quanta() const override { return {1, 64, 1}; }
  // The KV cache is read cold (every layer has its own); q and the output are hot.
  std::size_t set_bytes(const std::vector<double>& x) const override {
    return 2 * static_cast<std::size_t>(2 * I(x[0]) * I(x[1]) * d_);
  }
  std::size_t shared_bytes(const std::vector<double>& x) const override {
    const int s = static_cast<int>(I(x[0])), c = static_cast<int>(I(x[1])), g = static_cast<int>(I(x[2]));
    const int splits = kc::decode_attention_splits(s, g, 1, c, 132, variant_, d_);
    return kc::decode_attention_workspace_bytes(s, g, d_, splits) + 4 * static_cast<std::size_t>(s * g * d_) + 8192;
  }
  bool prepare(Device& dev, const std::vector<double>& x, int sets, std::uint64_t seed) override {
    s_ = I(x[0]);
    c_ = I(x[1]);
    g_ = I(x[2]);
    seed_ = seed;
    if (!kc::decode_attention_supported(static_cast<int>(g_), 1, d_)) return false;
    splits_ = kc::decode_attention_splits(static_cast<int>(s_), static_cast<int>(g_), 1, static_cast<int>(c_),
                                          dev.sm_count(), variant_, d_);
    ws_ = need(dev.alloc_bytes(kc::decode_attention_workspace_bytes(static_cast<int>(s_), static_cast<int>(g_), d_,
                                                                    splits_) + 256));
    k_.clear();
    v_.clear();
    q_ = need(dev.alloc<Bf16>(static_cast<std::size_t>(s_ * g_ * d_)));
    o_ = need(dev.alloc<Bf16>(static_cast<std::size_t>(s_ * g_ * d_)));
    fill_bf16(q_, s_ * g_ * d_, sub_seed(seed, 0, 0), 1.0f, dev.stream());
    for (int s = 0; s < sets; ++s) {
      auto* k = need(dev.alloc<Bf16>(static_cast<std::size_t>(s_ * c_ * d_)));
      auto* v = need(dev.alloc<Bf16>(static_cast<std::size_t>(s_ * c_ * d_)));
      fill_bf16(k, s_ * c_ * d_, sub_seed(seed, s, 1), 1.0f, dev.stream());
      fill_bf16(v, s_ * c_ * d_, sub_seed(seed, s, 2), 1.0f, dev.stream());
      k_.push_back(k);
      v_.push_back(v);
    }
    scratch_ = need(dev.alloc<unsigned long long>(1));
    return true;
  }
  void launch(Device& dev, int s) override {
    const auto i = static_cast<std::size_t>(s);
    kc::DecodeAttentionArgs a;
    a.q = q_;
    a.k = k_[i];
    a.v = v_[i];
    a.out = o_;
    a.q_stride = g_ * d_;
    a.out_stride = g_ * d_;
    a.batch = static_cast<int>(s_);
    a.heads = static_cast<int>(g_);
    a.kv_heads = 1;
    a.head_dim = d_;
    a.context = static_cast<int>(c_);
    a.cache_capacity = static_cast<int>(c_);
    a.splits = splits_;
    a.workspace = ws_;
    a.variant = variant_;
    MASIM_CUDA_CHECK(kc::decode_attention(a, dev.stream()));
  }
  CheckResult check(Device& dev) override {
    const std::int64_t n_out = s_ * g_ * d_;
    MASIM_CUDA_CHECK(cudaMemsetAsync(o_, 0xFF, sizeof(Bf16) * static_cast<std::size_t>(n_out), dev.stream()));
    launch(dev, 0);
    CheckResult w = written_bf16(dev, o_, n_out, scratch_);
    if (!w.ok) return w;
    // Reference work ~ context·d per sampled (sequence, head): keep it to a few million.
    const int samples = static_cast<int>(std::clamp<std::int64_t>(1'500'000 / (c_ * d_), 1, 4));
    Rng rng(seed_ ^ 0xDEC0DEull);
    kr::AttentionShape sh;
    sh.batch = 1;
    sh.context = c_;
    sh.heads = 1;
    sh.kv_heads = 1;
    sh.head_dim = d_;
    std::vector<float> q(static_cast<std::size_t>(d_)), kk(static_cast<std::size_t>(c_ * d_)),
        vv(static_cast<std::size_t>(c_ * d_)), out(static_cast<std::size_t>(d_));
    std::vector<std::int64_t> idx;
    std::vector<double> want;
    const std::uint64_t sq = sub_seed(seed_, 0, 0), sk = sub_seed(seed_, 0, 1), sv = sub_seed(seed_, 0, 2);
    for (int t = 0; t < samples; ++t) {
      const auto b = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(s_)));
      const auto h = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(g_)));
      for (int e = 0; e < d_; ++e) {
        q[static_cast<std::size_t>(e)] =
            kernels::random_bf16_value(sq, static_cast<std::uint64_t>((b * g_ + h) * d_ + e), 1.0f);
      }
      for (std::int64_t e = 0; e < c_ * d_; ++e) {
        kk[static_cast<std::size_t>(e)] = kernels::random_bf16_value(sk, static_cast<std::uint64_t>(b * c_ * d_ + e), 1.0f);
        vv[static_cast<std::size_t>(e)] = kernels::random_bf16_value(sv, static_cast<std::uint64_t>(b * c_ * d_ + e), 1.0f);
      }
      kr::decode_attention_head(sh, q.data(), kk.data(), vv.data(), out.data());
      for (int e = 0; e < d_; ++e) {
        idx.push_back((b * g_ + h) * d_ + e);
        want.push_back(out[static_cast<std::size_t>(e)]);
      }
    }
    const auto got_b = fetch<Bf16>(o_, idx);
    std::vector<double> got(got_b.size());
    std::transform(got_b.begin(), got_b.end(), got.begin(), bf16_at);
    return compare(got, want, kTolBf16);
  }

 protected:
  double snap(std::size_t axis, double v) const override {
    if (axis == 2) return std::clamp(std::round(v), 1.0, 16.0);
    return std::max(1.0, std::round(v));
  }

 private:
  int d_;
  int variant_;
  std::int64_t s_ = 0, c_ = 0, g_ = 0;
  int splits_ = 1;
  std::uint64_t seed_ = 0;
  void* ws_ = nullptr;
  Bf16* q_ = nullptr;
  Bf16* o_ = nullptr;
  std::vector<Bf16*> k_, v_;
  unsigned long long* scratch_ = nullptr;
};

// ---------------------------------------------------------------- prefill attention
class PrefillAttentionBench final : public Bench {
 public:
  explicit PrefillAttentionBench(int d) : d_(d) {}
  std::string table() const override { return "attention_prefill_d" + std::to_string(d_); }
  models::OpKind kind() const override { return models::OpKind::kAttentionPrefill; }
  int head_dim() const override { return d_; }
  std::string implementation() const override {
    return "kernels/cuda prefill_attention: FlashAttention-2 style causal forward, WMMA bf16 tensor cores";
  }
  std::vector<std::vector<double>> grid(bool quick) const override {
    if (quick) return {pow2(1, 64), pow2(64, 2048)};
    // Query streams at 1.5× steps: blocks fill waves of the SMs in steps of the streams.
    return {pow2_half(1, 1024), pow2_half(64, 8192)};
  }
  // 64-query × 64-key tiles: a sequence runs as a whole number of tiles.
  std::vector<double> quanta() const override { return {1, 64}; }
  // Every tensor is an activation the previous kernel just wrote (L2-resident in a
  // real step when it fits): no rotation.
  std::size_t set_bytes(const std::vector<double>&) const override { return 0; }
  std::size_t shared_bytes(const std::vector<double>& x) const override {
    return 2 * 4 * static_cast<std::size_t>(I(x[0]) * I(x[1]) * d_);
  }
  bool prepare(Device& dev, const std::vector<double>& x, int sets, std::uint64_t seed) override {
    b_ = I(x[0]);
    s_ = I(x[1]);
    seed_ = seed;
    q_.clear();
    k_.clear();
    v_.clear();
    o_.clear();
    const auto n = static_cast<std::size_t>(b_ * s_ * d_);
    for (int s = 0; s < sets; ++s) {
      auto* q = need(dev.alloc<Bf16>(n));
      auto* k = need(dev.alloc<Bf16>(n));
      auto* v = need(dev.alloc<Bf16>(n));
      q_.push_back(q);
      k_.push_back(k);
      v_.push_back(v);
      o_.push_back(need(dev.alloc<Bf16>(n)));
      fill_bf16(q, b_ * s_ * d_, sub_seed(seed, s, 0), 1.0f, dev.stream());
      fill_bf16(k, b_ * s_ * d_, sub_seed(seed, s, 1), 1.0f, dev.stream());
      fill_bf16(v, b_ * s_ * d_, sub_seed(seed, s, 2), 1.0f, dev.stream());
    }
    scratch_ = need(dev.alloc<unsigned long long>(1));
    return true;
  }
  void launch(Device& dev, int s) override {
    const auto i = static_cast<std::size_t>(s);
    MASIM_CUDA_CHECK(kc::prefill_attention(q_[i], k_[i], v_[i], o_[i], static_cast<int>(b_), static_cast<int>(s_), 1,
                                           1, d_, 0.0f, dev.stream()));
  }
  CheckResult check(Device& dev) override {
    const std::int64_t n = b_ * s_ * d_;
    MASIM_CUDA_CHECK(cudaMemsetAsync(o_[0], 0xFF, sizeof(Bf16) * static_cast<std::size_t>(n), dev.stream()));
    launch(dev, 0);
    CheckResult w = written_bf16(dev, o_[0], n, scratch_);
    if (!w.ok) return w;
    Rng rng(seed_ ^ 0x9EF111ull);
    const int samples = static_cast<int>(std::clamp<std::int64_t>(1'000'000 / (s_ * d_), 2, 8));
    std::vector<std::int64_t> idx;
    std::vector<double> want;
    const std::uint64_t sq = sub_seed(seed_, 0, 0), sk = sub_seed(seed_, 0, 1), sv = sub_seed(seed_, 0, 2);
    for (int t = 0; t < samples; ++t) {
      const auto b = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(b_)));
      // Half the samples at the last position (the longest row), half anywhere.
      const std::int64_t pos =
          t % 2 ? s_ - 1 : static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(s_)));
      const std::int64_t len = pos + 1;
      kr::AttentionShape sh;
      sh.batch = 1;
      sh.seq = len;
      sh.heads = 1;
      sh.kv_heads = 1;
      sh.head_dim = d_;
      std::vector<float> q(static_cast<std::size_t>(len * d_)), kk(q.size()), vv(q.size()),
          out(static_cast<std::size_t>(d_));
      for (std::int64_t e = 0; e < len * d_; ++e) {
        const auto gi = static_cast<std::uint64_t>(b * s_ * d_ + e);
        q[static_cast<std::size_t>(e)] = kernels::random_bf16_value(sq, gi, 1.0f);
        kk[static_cast<std::size_t>(e)] = kernels::random_bf16_value(sk, gi, 1.0f);
        vv[static_cast<std::size_t>(e)] = kernels::random_bf16_value(sv, gi, 1.0f);
      }
      kr::prefill_attention_row(sh, q.data(), kk.data(), vv.data(), 0, pos, 0, out.data());
      for (int e = 0; e < d_; ++e) {
        idx.push_back((b * s_ + pos) * d_ + e);
        want.push_back(out[static_cast<std::size_t>(e)]);
      }
    }
    const auto got_b = fetch<Bf16>(o_[0], idx);
    std::vector<double> got(got_b.size());
    std::transform(got_b.begin(), got_b.end(), got.begin(), bf16_at);
    // P is rounded to bf16 before the PV product (as in FlashAttention): looser tolerance.
    return compare(got, want, 3e-2);
  }

 private:
  int d_;
  std::int64_t b_ = 0, s_ = 0;
  std::uint64_t seed_ = 0;
  std::vector<Bf16*> q_, k_, v_, o_;
  unsigned long long* scratch_ = nullptr;
};

// ---------------------------------------------------------------- row-wise ops
// Shared helpers: regenerate a bf16 row of a filled tensor.
std::vector<float> bf16_row(std::uint64_t seed, std::int64_t row, std::int64_t width, float scale = 1.0f) {
  std::vector<float> r(static_cast<std::size_t>(width));
  for (std::int64_t i = 0; i < width; ++i) {
    r[static_cast<std::size_t>(i)] = kernels::random_bf16_value(seed, static_cast<std::uint64_t>(row * width + i), scale);
  }
  return r;
}

double snap_width(double v) { return snap_model_width(v); }

class RmsNormBench final : public Bench {
 public:
  std::string table() const override { return "rmsnorm"; }
  models::OpKind kind() const override { return models::OpKind::kRmsNorm; }
  std::string implementation() const override { return "kernels/cuda rmsnorm (block per row, 16-byte vectors)"; }
  std::vector<std::vector<double>> grid(bool quick) const override {
    if (quick) return {pow2(1, 1024), {1024, 4096}};
    // Tokens and widths at quarter-octave steps (about 1,100 points, 5 s): the rows
    // fall out of L2 between powers of two at large widths (1,024 × 12,288 is 17.6
    // against 6.5 µs at 512), and with 1.5× steps the random holdouts missed by
    // 10-24% there (seed 9). Width 8,320 is the first grid value past one pass: a
    // row of more than 1,024 16-byte vectors takes a second pass of the block
    // (8,192 → 12,288 interpolated 9,088 11% low at 3 tokens).
    std::vector<double> width = pow2_quarter(512, 16384);
    width.insert(std::upper_bound(width.begin(), width.end(), 8192.0), 8320.0);
    return {pow2_quarter(1, 16384), width};
  }
  // Every tensor is an activation the previous kernel just wrote (L2-resident in a
  // real step when it fits): no rotation.
  std::size_t set_bytes(const std::vector<double>&) const override { return 0; }
  std::size_t shared_bytes(const std::vector<double>& x) const override {
    return 2 * static_cast<std::size_t>(2 * I(x[0]) * I(x[1]) + I(x[1]));
  }
  bool prepare(Device& dev, const std::vector<double>& x, int sets, std::uint64_t seed) override {
    t_ = I(x[0]);
    w_ = I(x[1]);
    seed_ = seed;
    x_.clear();
    g_.clear();
    y_.clear();
    for (int s = 0; s < sets; ++s) {
      auto* xx = need(dev.alloc<Bf16>(static_cast<std::size_t>(t_ * w_)));
      auto* g = need(dev.alloc<Bf16>(static_cast<std::size_t>(w_)));
      fill_bf16(xx, t_ * w_, sub_seed(seed, s, 0), 1.0f, dev.stream());
      fill_bf16(g, w_, sub_seed(seed, s, 1), 1.0f, dev.stream());
      x_.push_back(xx);
      g_.push_back(g);
      y_.push_back(need(dev.alloc<Bf16>(static_cast<std::size_t>(t_ * w_))));
    }
    scratch_ = need(dev.alloc<unsigned long long>(1));
    return true;
  }
  void launch(Device& dev, int s) override {
    const auto i = static_cast<std::size_t>(s);
    MASIM_CUDA_CHECK(kc::rmsnorm(x_[i], g_[i], y_[i], t_, static_cast<int>(w_), 1e-6f, dev.stream()));
  }
  CheckResult check(Device& dev) override {
    MASIM_CUDA_CHECK(cudaMemsetAsync(y_[0], 0xFF, sizeof(Bf16) * static_cast<std::size_t>(t_ * w_), dev.stream()));
    launch(dev, 0);
    CheckResult wr = written_bf16(dev, y_[0], t_ * w_, scratch_);
    if (!wr.ok) return wr;
    Rng rng(seed_ ^ 0x4A5ull);
    const auto g = bf16_row(sub_seed(seed_, 0, 1), 0, w_);
    std::vector<std::int64_t> idx;
    std::vector<double> want;
    for (int t = 0; t < 8; ++t) {
      const auto row = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(t_)));
      const auto xr = bf16_row(sub_seed(seed_, 0, 0), row, w_);
      std::vector<float> y(static_cast<std::size_t>(w_));
      kr::rmsnorm(1, w_, xr.data(), g.data(), 1e-6f, y.data());
      for (std::int64_t i = 0; i < w_; ++i) {
        idx.push_back(row * w_ + i);
        want.push_back(y[static_cast<std::size_t>(i)]);
      }
    }
    const auto got_b = fetch<Bf16>(y_[0], idx);
    std::vector<double> got(got_b.size());
    std::transform(got_b.begin(), got_b.end(), got.begin(), bf16_at);
    return compare(got, want, kTolBf16);
  }

 protected:
  double snap(std::size_t axis, double v) const override {
    return axis == 1 ? snap_width(v) : std::max(1.0, std::round(v));
  }

 private:
  std::int64_t t_ = 0, w_ = 0;
  std::uint64_t seed_ = 0;
  std::vector<Bf16*> x_, g_, y_;
  unsigned long long* scratch_ = nullptr;
};

class RouterTopKBench final : public Bench {
 public:
  std::string table() const override { return "router_topk"; }
  models::OpKind kind() const override { return models::OpKind::kRouterTopK; }
  spec::DType dtype() const override { return spec::DType::kFP32; }
  std::string implementation() const override {
    return "kernels/cuda router_topk (warp per token: fp32 softmax, top-k, renormalized, expert counts)";
  }
  std::vector<std::vector<double>> grid(bool quick) const override {
    if (quick) return {pow2(1, 1024), {8, 64, 256}, {1, 2, 8}};
    // Tokens at 1.5× steps (a few hundred more points, about 2 s).
    return {pow2_half(1, 16384), pow2(8, 256), {1, 2, 4, 8}};
  }
  // Every tensor is an activation the previous kernel just wrote (L2-resident in a
  // real step when it fits): no rotation.
  std::size_t set_bytes(const std::vector<double>&) const override { return 0; }
  std::size_t shared_bytes(const std::vector<double>& x) const override {
    const std::int64_t t = I(x[0]), e = I(x[1]), k = I(x[2]);
    return static_cast<std::size_t>(4 * t * e + 8 * t * k + 4 * e);
  }
  bool prepare(Device& dev, const std::vector<double>& x, int sets, std::uint64_t seed) override {
    t_ = I(x[0]);
    e_ = I(x[1]);
    k_ = std::min<std::int64_t>(I(x[2]), e_);
    seed_ = seed;
    l_.clear();
    idx_.clear();
    w_.clear();
    c_.clear();
    for (int s = 0; s < sets; ++s) {
      auto* l = need(dev.alloc<float>(static_cast<std::size_t>(t_ * e_)));
      MASIM_CUDA_CHECK(kc::fill_random_f32(l, t_ * e_, sub_seed(seed, s, 0), 4.0f, dev.stream()));
      l_.push_back(l);
      idx_.push_back(need(dev.alloc<std::int32_t>(static_cast<std::size_t>(t_ * k_))));
      w_.push_back(need(dev.alloc<float>(static_cast<std::size_t>(t_ * k_))));
      c_.push_back(need(dev.alloc<std::int32_t>(static_cast<std::size_t>(e_))));
    }
    return true;
  }
  void launch(Device& dev, int s) override {
    const auto i = static_cast<std::size_t>(s);
    MASIM_CUDA_CHECK(kc::router_topk(l_[i], t_, static_cast<int>(e_), static_cast<int>(k_), true, idx_[i], w_[i], c_[i],
                                     dev.stream()));
  }
  CheckResult check(Device& dev) override {
    MASIM_CUDA_CHECK(cudaMemsetAsync(idx_[0], 0xFF, sizeof(std::int32_t) * static_cast<std::size_t>(t_ * k_), dev.stream()));
    launch(dev, 0);
    dev.sync();
    const auto idx = download(idx_[0], t_ * k_);
    const auto counts = download(c_[0], e_);
    const auto wts = download(w_[0], t_ * k_);
    std::vector<std::int32_t> hist(static_cast<std::size_t>(e_), 0);
    for (std::int32_t v : idx) {
      if (v < 0 || v >= e_) return CheckResult{false, 1, "expert index out of range (unwritten output?)"};
      ++hist[static_cast<std::size_t>(v)];
    }
    if (hist != counts) return CheckResult{false, 1, "expert counts differ from the histogram of the indices"};
    Rng rng(seed_ ^ 0x70Bull);
    std::vector<double> got, want;
    for (int t = 0; t < 32; ++t) {
      const auto row = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(t_)));
      std::vector<float> l(static_cast<std::size_t>(e_));
      for (std::int64_t e = 0; e < e_; ++e) {
        l[static_cast<std::size_t>(e)] =
            kernels::random_uniform(sub_seed(seed_, 0, 0), static_cast<std::uint64_t>(row * e_ + e)) * 4.0f;
      }
      std::vector<std::int32_t> ri(static_cast<std::size_t>(k_));
      std::vector<float> rw(static_cast<std::size_t>(k_));
      kr::router_topk(1, static_cast<int>(e_), static_cast<int>(k_), true, l.data(), ri.data(), rw.data());
      for (std::int64_t j = 0; j < k_; ++j) {
        if (ri[static_cast<std::size_t>(j)] != idx[static_cast<std::size_t>(row * k_ + j)]) {
          return CheckResult{false, 1, "token " + std::to_string(row) + " selects different experts"};
        }
        got.push_back(wts[static_cast<std::size_t>(row * k_ + j)]);
        want.push_back(rw[static_cast<std::size_t>(j)]);
      }
    }
    return compare(got, want, 1e-4);
  }

 protected:
  double snap(std::size_t axis, double v) const override {
    if (axis == 2) return std::clamp(std::round(v), 1.0, 8.0);
    return std::max(1.0, std::round(v));
  }

 private:
  std::int64_t t_ = 0, e_ = 0, k_ = 0;
  std::uint64_t seed_ = 0;
  std::vector<float*> l_, w_;
  std::vector<std::int32_t*> idx_, c_;
};

// Distinct experts per token from a seeded hash: the routing of permute/unpermute benches.
constexpr int kBenchExperts = 64;
std::vector<std::int32_t> bench_routing(std::uint64_t seed, std::int64_t tokens, int top_k) {
  std::vector<std::int32_t> idx(static_cast<std::size_t>(tokens * top_k));
  Rng rng(seed);
  for (std::int64_t t = 0; t < tokens; ++t) {
    for (int j = 0; j < top_k; ++j) {
      std::int32_t e = 0;
      bool dup = true;
      while (dup) {
        e = static_cast<std::int32_t>(rng.below(kBenchExperts));
        dup = false;
        for (int i = 0; i < j; ++i) dup = dup || idx[static_cast<std::size_t>(t * top_k + i)] == e;
      }
      idx[static_cast<std::size_t>(t * top_k + j)] = e;
    }
  }
  return idx;
}

class PermuteBench final : public Bench {
 public:
  std::string table() const override { return "permute"; }
  models::OpKind kind() const override { return models::OpKind::kPermute; }
  std::string implementation() const override {
    return "kernels/cuda moe_permute (one block ranks slots per expert in slot order, deterministic; then a grid-stride loop over (slot, 16-byte vector) copies the rows), 64 experts";
  }
  std::vector<std::vector<double>> grid(bool quick) const override {
    if (quick) return {pow2(1, 1024), {1024, 4096}, {1, 2, 8}};
    // Tokens at 1.5× steps: the rows fall out of L2 (60 MiB on H200) between
    // powers of two at large widths and top-k, a step the interpolation must see.
    return {pow2_half(1, 16384), pow2_half(512, 16384), {1, 2, 3, 4, 5, 6, 7, 8}};
  }
  // Activations only: no rotation (see RmsNormBench).
  std::size_t set_bytes(const std::vector<double>&) const override { return 0; }
  std::size_t shared_bytes(const std::vector<double>& x) const override {
    const std::int64_t t = I(x[0]), w = I(x[1]), k = I(x[2]);
    (void)w;
    return static_cast<std::size_t>(2 * (t * w + t * k * w) + 4 * t * k + 8 * (kBenchExperts + 1)) + static_cast<std::size_t>(4 * I(x[0]) * I(x[2]) + 4 * kBenchExperts + 1024);
  }

  bool prepare(Device& dev, const std::vector<double>& x, int sets, std::uint64_t seed) override {
    t_ = I(x[0]);
    w_ = I(x[1]);
    k_ = I(x[2]);
    seed_ = seed;
    route_ = bench_routing(seed ^ 0xA11Cull, t_, static_cast<int>(k_));
    plan_ = kr::plan_permute(t_, kBenchExperts, static_cast<int>(k_), route_.data());
    std::vector<std::int32_t> counts(kBenchExperts);
    for (int e = 0; e < kBenchExperts; ++e) {
      counts[static_cast<std::size_t>(e)] = static_cast<std::int32_t>(plan_.offset[static_cast<std::size_t>(e) + 1] -
                                                                      plan_.offset[static_cast<std::size_t>(e)]);
    }
    idx_ = need(dev.alloc<std::int32_t>(route_.size()));
    counts_ = need(dev.alloc<std::int32_t>(kBenchExperts));
    upload(idx_, route_);
    upload(counts_, counts);
    x_.clear();
    rows_.clear();
    slot_.clear();
    off_.clear();
    cur_.clear();
    for (int s = 0; s < sets; ++s) {
      auto* xx = need(dev.alloc<Bf16>(static_cast<std::size_t>(t_ * w_)));
      fill_bf16(xx, t_ * w_, sub_seed(seed, s, 0), 1.0f, dev.stream());
      x_.push_back(xx);
      rows_.push_back(need(dev.alloc<Bf16>(static_cast<std::size_t>(t_ * k_ * w_))));
      slot_.push_back(need(dev.alloc<std::int32_t>(static_cast<std::size_t>(t_ * k_))));
      off_.push_back(need(dev.alloc<std::int32_t>(kBenchExperts + 1)));
      cur_.push_back(need(dev.alloc<std::int32_t>(kBenchExperts)));
    }
    return true;
  }
  void launch(Device& dev, int s) override {
    const auto i = static_cast<std::size_t>(s);
    MASIM_CUDA_CHECK(kc::moe_permute(x_[i], idx_, counts_, t_, static_cast<int>(w_), static_cast<int>(k_), kBenchExperts,
                                     off_[i], cur_[i], slot_[i], rows_[i], dev.stream()));
  }
  CheckResult check(Device& dev) override {
    MASIM_CUDA_CHECK(cudaMemsetAsync(rows_[0], 0xFF, sizeof(Bf16) * static_cast<std::size_t>(t_ * k_ * w_), dev.stream()));
    launch(dev, 0);
    dev.sync();
    const auto off = download(off_[0], kBenchExperts + 1);
    for (int e = 0; e <= kBenchExperts; ++e) {
      if (off[static_cast<std::size_t>(e)] != plan_.offset[static_cast<std::size_t>(e)]) {
        return CheckResult{false, 1, "expert offsets differ from the reference"};
      }
    }
    const auto slot = download(slot_[0], t_ * k_);
    // Deterministic placement: exactly the reference's stable plan (slot order within an expert).
    for (std::size_t s = 0; s < slot.size(); ++s) {
      if (slot[s] != plan_.slot_row[s]) {
        return CheckResult{false, 1, "slot " + std::to_string(s) + " got row " + std::to_string(slot[s]) +
                                         ", the stable plan row " + std::to_string(plan_.slot_row[s])};
      }
    }
    Rng rng(seed_ ^ 0x9E77ull);
    std::vector<double> got, want;
    for (int t = 0; t < 16; ++t) {
      const auto s = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(t_ * k_)));
      const auto xr = bf16_row(sub_seed(seed_, 0, 0), s / k_, w_);
      std::vector<std::int64_t> idx;
      for (std::int64_t i = 0; i < w_; ++i) idx.push_back(static_cast<std::int64_t>(slot[static_cast<std::size_t>(s)]) * w_ + i);
      const auto row = fetch<Bf16>(rows_[0], idx);
      for (std::int64_t i = 0; i < w_; ++i) {
        got.push_back(bf16_at(row[static_cast<std::size_t>(i)]));
        want.push_back(xr[static_cast<std::size_t>(i)]);
      }
    }
    return compare(got, want, 0.0);  // a copy: exact
  }

 protected:
  double snap(std::size_t axis, double v) const override {
    if (axis == 1) return snap_width(v);
    if (axis == 2) return std::clamp(std::round(v), 1.0, 8.0);
    return std::max(1.0, std::round(v));
  }

 private:
  std::int64_t t_ = 0, w_ = 0, k_ = 0;
  std::uint64_t seed_ = 0;
  std::vector<std::int32_t> route_;
  kr::PermutePlan plan_;
  std::int32_t* idx_ = nullptr;
  std::int32_t* counts_ = nullptr;
  std::vector<Bf16*> x_, rows_;
  std::vector<std::int32_t*> slot_, off_, cur_;
};

class UnpermuteBench final : public Bench {
 public:
  std::string table() const override { return "unpermute"; }
  models::OpKind kind() const override { return models::OpKind::kUnpermute; }
  std::string implementation() const override {
    return "kernels/cuda moe_unpermute (grid-stride loop over (token, 16-byte vector): fp32 weighted sum of its top-k rows)";
  }
  // A grid-stride stream over its rows: priced at iso bytes, tokens · width ·
  // (top_k + 1) (sim/profile/fit.hpp; the rows fall out of L2 at a footprint, not at
  // a token count: across seeds 5-9 the random holdouts over 10% went from 10 to 7).
  IsoBytes iso_bytes() const override { return {0, {std::nan(""), 0, 1}}; }
  std::vector<std::vector<double>> grid(bool quick) const override {
    if (quick) return {pow2(1, 1024), {1024, 4096}, {1, 2, 8}};
    // Tokens at 1.5× steps: the rows fall out of L2 (60 MiB on H200) between
    // powers of two at large widths and top-k, a step the interpolation must see.
    return {pow2_half(1, 16384), pow2_half(512, 16384), {1, 2, 3, 4, 5, 6, 7, 8}};
  }
  // Activations only: no rotation (see RmsNormBench).
  std::size_t set_bytes(const std::vector<double>&) const override { return 0; }
  std::size_t shared_bytes(const std::vector<double>& x) const override {
    const std::int64_t t = I(x[0]), w = I(x[1]), k = I(x[2]);
    return static_cast<std::size_t>(2 * (t * k * w + t * w)) + static_cast<std::size_t>(8 * I(x[0]) * I(x[2]) + 1024);
  }

  bool prepare(Device& dev, const std::vector<double>& x, int sets, std::uint64_t seed) override {
    t_ = I(x[0]);
    w_ = I(x[1]);
    k_ = I(x[2]);
    seed_ = seed;
    const auto route = bench_routing(seed ^ 0xB22Dull, t_, static_cast<int>(k_));
    plan_ = kr::plan_permute(t_, kBenchExperts, static_cast<int>(k_), route.data());
    wts_.assign(static_cast<std::size_t>(t_ * k_), 0.0f);
    Rng rng(seed ^ 0x3E16ull);
    for (std::int64_t t = 0; t < t_; ++t) {
      double sum = 0;
      for (std::int64_t j = 0; j < k_; ++j) sum += (wts_[static_cast<std::size_t>(t * k_ + j)] = static_cast<float>(0.1 + rng.uniform()));
      for (std::int64_t j = 0; j < k_; ++j) wts_[static_cast<std::size_t>(t * k_ + j)] = static_cast<float>(wts_[static_cast<std::size_t>(t * k_ + j)] / sum);
    }
    slot_ = need(dev.alloc<std::int32_t>(plan_.slot_row.size()));
    w_dev_ = need(dev.alloc<float>(wts_.size()));
    upload(slot_, plan_.slot_row);
    upload(w_dev_, wts_);
    rows_.clear();
    out_.clear();
    for (int s = 0; s < sets; ++s) {
      auto* r = need(dev.alloc<Bf16>(static_cast<std::size_t>(t_ * k_ * w_)));
      fill_bf16(r, t_ * k_ * w_, sub_seed(seed, s, 0), 1.0f, dev.stream());
      rows_.push_back(r);
      out_.push_back(need(dev.alloc<Bf16>(static_cast<std::size_t>(t_ * w_))));
    }
    scratch_ = need(dev.alloc<unsigned long long>(1));
    return true;
  }
  void launch(Device& dev, int s) override {
    const auto i = static_cast<std::size_t>(s);
    MASIM_CUDA_CHECK(kc::moe_unpermute(rows_[i], slot_, w_dev_, t_, static_cast<int>(w_), static_cast<int>(k_), out_[i],
                                       dev.stream()));
  }
  CheckResult check(Device& dev) override {
    MASIM_CUDA_CHECK(cudaMemsetAsync(out_[0], 0xFF, sizeof(Bf16) * static_cast<std::size_t>(t_ * w_), dev.stream()));
    launch(dev, 0);
    CheckResult wr = written_bf16(dev, out_[0], t_ * w_, scratch_);
    if (!wr.ok) return wr;
    Rng rng(seed_ ^ 0x1DEAull);
    std::vector<std::int64_t> idx;
    std::vector<double> want;
    for (int t = 0; t < 8; ++t) {
      const auto tok = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(t_)));
      std::vector<double> acc(static_cast<std::size_t>(w_), 0.0);
      for (std::int64_t j = 0; j < k_; ++j) {
        const std::int64_t r = plan_.slot_row[static_cast<std::size_t>(tok * k_ + j)];
        const auto row = bf16_row(sub_seed(seed_, 0, 0), r, w_);
        for (std::int64_t i = 0; i < w_; ++i) {
          acc[static_cast<std::size_t>(i)] += static_cast<double>(wts_[static_cast<std::size_t>(tok * k_ + j)]) * row[static_cast<std::size_t>(i)];
        }
      }
      for (std::int64_t i = 0; i < w_; ++i) {
        idx.push_back(tok * w_ + i);
        want.push_back(acc[static_cast<std::size_t>(i)]);
      }
    }
    const auto got_b = fetch<Bf16>(out_[0], idx);
    std::vector<double> got(got_b.size());
    std::transform(got_b.begin(), got_b.end(), got.begin(), bf16_at);
    return compare(got, want, kTolBf16);
  }

 protected:
  double snap(std::size_t axis, double v) const override {
    if (axis == 1) return snap_width(v);
    if (axis == 2) return std::clamp(std::round(v), 1.0, 8.0);
    return std::max(1.0, std::round(v));
  }

 private:
  std::int64_t t_ = 0, w_ = 0, k_ = 0;
  std::uint64_t seed_ = 0;
  kr::PermutePlan plan_;
  std::vector<float> wts_;
  std::int32_t* slot_ = nullptr;
  float* w_dev_ = nullptr;
  std::vector<Bf16*> rows_, out_;
  unsigned long long* scratch_ = nullptr;
};

class SwigluBench final : public Bench {
 public:
  std::string table() const override { return "swiglu"; }
  models::OpKind kind() const override { return models::OpKind::kSwiGLU; }
  std::string implementation() const override { return "kernels/cuda swiglu (grid-stride, 16-byte vectors)"; }
  // A grid-stride stream: priced at iso bytes, tokens · width (leave-one-out p95
  // 15% → 4.0-4.6% on seeds 5-9, 12 and 13).
  IsoBytes iso_bytes() const override { return {0, {std::nan(""), 0}}; }
  std::vector<std::vector<double>> grid(bool quick) const override {
    if (quick) return {pow2(1, 4096), {1024, 4096}};
    // Token counts at 1.5× steps too: expert SwiGLU rows are batch × top-k, any integer.
    return {pow2_half(1, 65536), pow2_half(256, 16384)};
  }
  // Every tensor is an activation the previous kernel just wrote (L2-resident in a
  // real step when it fits): no rotation.
  std::size_t set_bytes(const std::vector<double>&) const override { return 0; }
  std::size_t shared_bytes(const std::vector<double>& x) const override {
    return 2 * 3 * static_cast<std::size_t>(I(x[0]) * I(x[1]));
  }
  bool prepare(Device& dev, const std::vector<double>& x, int sets, std::uint64_t seed) override {
    r_ = I(x[0]);
    w_ = I(x[1]);
    seed_ = seed;
    gu_.clear();
    out_.clear();
    for (int s = 0; s < sets; ++s) {
      auto* g = need(dev.alloc<Bf16>(static_cast<std::size_t>(2 * r_ * w_)));
      fill_bf16(g, 2 * r_ * w_, sub_seed(seed, s, 0), 4.0f, dev.stream());
      gu_.push_back(g);
      out_.push_back(need(dev.alloc<Bf16>(static_cast<std::size_t>(r_ * w_))));
    }
    scratch_ = need(dev.alloc<unsigned long long>(1));
    return true;
  }
  void launch(Device& dev, int s) override {
    const auto i = static_cast<std::size_t>(s);
    MASIM_CUDA_CHECK(kc::swiglu(gu_[i], out_[i], r_, static_cast<int>(w_), dev.stream()));
  }
  CheckResult check(Device& dev) override {
    MASIM_CUDA_CHECK(cudaMemsetAsync(out_[0], 0xFF, sizeof(Bf16) * static_cast<std::size_t>(r_ * w_), dev.stream()));
    launch(dev, 0);
    CheckResult wr = written_bf16(dev, out_[0], r_ * w_, scratch_);
    if (!wr.ok) return wr;
    Rng rng(seed_ ^ 0x5A1Dull);
    std::vector<std::int64_t> idx;
    std::vector<double> want;
    for (int t = 0; t < 8; ++t) {
      const auto row = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(r_)));
      const auto gu = bf16_row(sub_seed(seed_, 0, 0), row, 2 * w_, 4.0f);
      std::vector<float> y(static_cast<std::size_t>(w_));
      kr::swiglu(1, w_, gu.data(), y.data());
      for (std::int64_t i = 0; i < w_; ++i) {
        idx.push_back(row * w_ + i);
        want.push_back(y[static_cast<std::size_t>(i)]);
      }
    }
    const auto got_b = fetch<Bf16>(out_[0], idx);
    std::vector<double> got(got_b.size());
    std::transform(got_b.begin(), got_b.end(), got.begin(), bf16_at);
    return compare(got, want, kTolBf16);
  }

 protected:
  double snap(std::size_t axis, double v) const override {
    return axis == 1 ? snap_width(v) : std::max(1.0, std::round(v));
  }

 private:
  std::int64_t r_ = 0, w_ = 0;
  std::uint64_t seed_ = 0;
  std::vector<Bf16*> gu_, out_;
  unsigned long long* scratch_ = nullptr;
};

class ElementwiseBench final : public Bench {
 public:
  std::string table() const override { return "elementwise"; }
  models::OpKind kind() const override { return models::OpKind::kElementwise; }
  std::string implementation() const override { return "kernels/cuda add (2 or 3 operands, fp32 sum, bf16 out)"; }
  std::vector<std::vector<double>> grid(bool quick) const override {
    if (quick) return {pow2(64, 1 << 22), {2, 3}};
    // Quarter-octave steps: the operands fall out of L2 between 4 and 8 M elements
    // (a 1.5× grid priced 5.5 M elements 29% high, seed 9).
    return {pow2_quarter(64, 1 << 27), {2, 3}};
  }
  // Every tensor is an activation the previous kernel just wrote (L2-resident in a
  // real step when it fits): no rotation.
  std::size_t set_bytes(const std::vector<double>&) const override { return 0; }
  std::size_t shared_bytes(const std::vector<double>& x) const override {
    return 2 * static_cast<std::size_t>(I(x[0]) * (I(x[1]) + 1));
  }
  bool prepare(Device& dev, const std::vector<double>& x, int sets, std::uint64_t seed) override {
    n_ = I(x[0]);
    ops_ = static_cast<int>(I(x[1]));
    if (ops_ < 2 || ops_ > 3 || n_ % 8 != 0) return false;
    seed_ = seed;
    in_.clear();
    out_.clear();
    for (int s = 0; s < sets; ++s) {
      std::vector<Bf16*> v;
      for (int o = 0; o < ops_; ++o) {
        auto* p = need(dev.alloc<Bf16>(static_cast<std::size_t>(n_)));
        fill_bf16(p, n_, sub_seed(seed, s, o), 1.0f, dev.stream());
        v.push_back(p);
      }
      in_.push_back(v);
      out_.push_back(need(dev.alloc<Bf16>(static_cast<std::size_t>(n_))));
    }
    scratch_ = need(dev.alloc<unsigned long long>(1));
    return true;
  }
  void launch(Device& dev, int s) override {
    const auto& v = in_[static_cast<std::size_t>(s)];
    MASIM_CUDA_CHECK(kc::add(v[0], v[1], ops_ == 3 ? v[2] : nullptr, out_[static_cast<std::size_t>(s)], n_, dev.stream()));
  }
  CheckResult check(Device& dev) override {
    MASIM_CUDA_CHECK(cudaMemsetAsync(out_[0], 0xFF, sizeof(Bf16) * static_cast<std::size_t>(n_), dev.stream()));
    launch(dev, 0);
    CheckResult wr = written_bf16(dev, out_[0], n_, scratch_);
    if (!wr.ok) return wr;
    Rng rng(seed_ ^ 0xE1Eull);
    std::vector<std::int64_t> idx;
    std::vector<double> want;
    for (int t = 0; t < 256; ++t) {
      const auto i = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n_)));
      double sum = 0;
      for (int o = 0; o < ops_; ++o) sum += kernels::random_bf16_value(sub_seed(seed_, 0, o), static_cast<std::uint64_t>(i), 1.0f);
      idx.push_back(i);
      want.push_back(sum);
    }
    const auto got_b = fetch<Bf16>(out_[0], idx);
    std::vector<double> got(got_b.size());
    std::transform(got_b.begin(), got_b.end(), got.begin(), bf16_at);
    return compare(got, want, kTolBf16);
  }

 protected:
  double snap(std::size_t axis, double v) const override {
    return axis == 0 ? std::max(8.0, std::round(v / 8) * 8) : std::clamp(std::round(v), 2.0, 3.0);
  }

 private:
  std::int64_t n_ = 0;
  int ops_ = 2;
  std::uint64_t seed_ = 0;
  std::vector<std::vector<Bf16*>> in_;
  std::vector<Bf16*> out_;
  unsigned long long* scratch_ = nullptr;
};

// ---------------------------------------------------------------- copies
class MemcpyBench final : public Bench {
 public:
  explicit MemcpyBench(cudaMemcpyKind k) : k_(k) {}
  ~MemcpyBench() override {
    if (host_) cudaFreeHost(host_);
  }
  std::string table() const override {
    return k_ == cudaMemcpyDeviceToDevice ? "memcpy_d2d" : (k_ == cudaMemcpyHostToDevice ? "memcpy_h2d" : "memcpy_d2h");
  }
  models::OpKind kind() const override { return models::OpKind::kMemcpy; }
  std::string implementation() const override {
    return k_ == cudaMemcpyDeviceToDevice
               ? "kernels/cuda copy (16-byte vectors; cudaMemcpyAsync in a graph ran at 2.7 TB/s for sizes that "
                 "are not powers of two, this kernel at the copy bandwidth for every size)"
               : "cudaMemcpyAsync with pinned host memory (cudaMallocHost); time: interdecile mean of the replays "
                 "(small copies alternate between two modes, 1.5 and 1.8 us on H200)";
  }
  bool interdecile_mean() const override { return k_ != cudaMemcpyDeviceToDevice; }
  std::vector<std::vector<double>> grid(bool quick) const override {
    const double hi = k_ == cudaMemcpyDeviceToDevice ? (quick ? 1 << 28 : 4294967296.0) : (quick ? 1 << 26 : 1 << 30);
    // 1.5× steps: small host copies change DMA paths between powers of two. Device
    // copies (a kernel, 0.4 s for the whole table) at quarter-octave steps.
    if (quick) return {pow2(8, hi)};
    return {k_ == cudaMemcpyDeviceToDevice ? pow2_quarter(8, hi) : pow2_half(8, hi)};
  }
  std::size_t set_bytes(const std::vector<double>& x) const override {
    return static_cast<std::size_t>(I(x[0])) * (k_ == cudaMemcpyDeviceToDevice ? 2 : 1);
  }
  bool prepare(Device& dev, const std::vector<double>& x, int sets, std::uint64_t seed) override {
    n_ = I(x[0]);
    seed_ = seed;
    if (k_ != cudaMemcpyDeviceToDevice && static_cast<std::size_t>(n_) > host_bytes_) {
      if (host_) MASIM_CUDA_CHECK(cudaFreeHost(host_));
      host_ = nullptr;
      host_bytes_ = static_cast<std::size_t>(std::max<std::int64_t>(n_, 1 << 26));
      MASIM_CUDA_CHECK(cudaMallocHost(&host_, host_bytes_));
    }
    src_.clear();
    dst_.clear();
    for (int s = 0; s < sets; ++s) {
      auto* d = need(static_cast<char*>(dev.alloc_bytes(static_cast<std::size_t>(n_))));
      if (k_ == cudaMemcpyDeviceToDevice) {
        auto* e = need(static_cast<char*>(dev.alloc_bytes(static_cast<std::size_t>(n_))));
        fill_bf16(reinterpret_cast<Bf16*>(d), n_ / 2, sub_seed(seed, s, 0), 1.0f, dev.stream());
        src_.push_back(d);
        dst_.push_back(e);
      } else if (k_ == cudaMemcpyHostToDevice) {
        src_.push_back(static_cast<char*>(host_));
        dst_.push_back(d);
      } else {
        fill_bf16(reinterpret_cast<Bf16*>(d), n_ / 2, sub_seed(seed, s, 0), 1.0f, dev.stream());
        src_.push_back(d);
        dst_.push_back(static_cast<char*>(host_));
      }
    }
    if (k_ == cudaMemcpyHostToDevice) {
      auto* h = static_cast<Bf16*>(host_);
      for (std::int64_t i = 0; i < n_ / 2; ++i) {
        h[i] = kernels::float_to_bf16(kernels::random_uniform(sub_seed(seed, 0, 0), static_cast<std::uint64_t>(i)));
      }
    }
    return true;
  }
  void launch(Device& dev, int s) override {
    const auto i = static_cast<std::size_t>(s);
    if (k_ == cudaMemcpyDeviceToDevice) {
      MASIM_CUDA_CHECK(kc::copy(dst_[i], src_[i], n_, dev.stream()));
    } else {
      MASIM_CUDA_CHECK(cudaMemcpyAsync(dst_[i], src_[i], static_cast<std::size_t>(n_), k_, dev.stream()));
    }
  }
  CheckResult check(Device& dev) override {
    if (k_ != cudaMemcpyDeviceToHost) {
      MASIM_CUDA_CHECK(cudaMemsetAsync(dst_[0], 0xFF, static_cast<std::size_t>(n_), dev.stream()));
    } else {
      std::memset(host_, 0xFF, static_cast<std::size_t>(n_));
    }
    launch(dev, 0);
    dev.sync();
    Rng rng(seed_ ^ 0xC0DEull);
    std::vector<double> got, want;
    for (int t = 0; t < 64; ++t) {
      const auto i = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n_ / 2)));
      Bf16 v = 0;
      if (k_ == cudaMemcpyDeviceToHost) {
        v = static_cast<Bf16*>(host_)[i];
      } else {
        v = fetch<Bf16>(reinterpret_cast<Bf16*>(dst_[0]), {i})[0];
      }
      got.push_back(bf16_at(v));
      want.push_back(kernels::random_bf16_value(sub_seed(seed_, 0, 0), static_cast<std::uint64_t>(i), 1.0f));
    }
    return compare(got, want, 0.0);
  }

 protected:
  double snap(std::size_t, double v) const override { return std::max(16.0, std::round(v / 16) * 16); }

 private:
  cudaMemcpyKind k_;
  std::int64_t n_ = 0;
  std::uint64_t seed_ = 0;
  void* host_ = nullptr;
  std::size_t host_bytes_ = 0;
  std::vector<char*> src_, dst_;
};

}  // namespace

std::vector<std::unique_ptr<Bench>> all_benches(int decode_variant, const GridOptions& grids) {
  std::vector<std::unique_ptr<Bench>> b;
  // Ceiling ops first: the copy bandwidth and GEMM rates every later figure refers to.
  b.push_back(std::make_unique<MemcpyBench>(cudaMemcpyDeviceToDevice));
  b.push_back(std::make_unique<GemmBench>(spec::DType::kBF16, grids.gemm_extra_n));
  b.push_back(std::make_unique<DecodeAttentionBench>(128, decode_variant));
  b.push_back(std::make_unique<GroupedGemmBench>(kc::GroupedGemm::Mode::kAuto, grids.grouped_dense_nk,
                                                 grids.grouped_dense_groups));
  b.push_back(std::make_unique<RmsNormBench>());
  b.push_back(std::make_unique<RouterTopKBench>());
  b.push_back(std::make_unique<PermuteBench>());
  b.push_back(std::make_unique<UnpermuteBench>());
  b.push_back(std::make_unique<SwigluBench>());
  b.push_back(std::make_unique<ElementwiseBench>());
  b.push_back(std::make_unique<DecodeAttentionBench>(64, decode_variant));
  b.push_back(std::make_unique<GemmBench>(spec::DType::kFP8));
  b.push_back(std::make_unique<PrefillAttentionBench>(128));
  b.push_back(std::make_unique<PrefillAttentionBench>(64));
  b.push_back(std::make_unique<MemcpyBench>(cudaMemcpyHostToDevice));
  b.push_back(std::make_unique<MemcpyBench>(cudaMemcpyDeviceToHost));
  return b;
}

std::unique_ptr<Bench> make_bench(const std::string& table) {
  for (auto& b : all_benches()) {
    if (b->table() == table) return std::move(b);
  }
  return nullptr;
}

std::unique_ptr<Bench> make_grouped_bench(kc::GroupedGemm::Mode mode) {
  return std::make_unique<GroupedGemmBench>(mode);
}

std::unique_ptr<Bench> make_decode_bench(int head_dim, int variant) {
  return std::make_unique<DecodeAttentionBench>(head_dim, variant);
}

}  // namespace masim::calibrate
