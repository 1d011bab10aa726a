// GEMMs of the MoE decode path through cuBLAS and cuBLASLt.
//
// bf16 GEMMs go through cuBLASLt with the algorithm picked per shape by timing:
// at a shape's first call outside graph capture, up to kTuneCandidates of the
// heuristic's candidates (and, by default, those it lists for m + 1 rows and for
// m rounded up to 128 rows) and cublasGemmEx's own choice each run back to back
// on weights not in L2 (streamed from HBM, as in a decode step), and the fastest
// is kept for every later call, the way inference engines profile GEMM tactics.
// Without the timing, cuBLAS's heuristic switches kernels between neighbouring
// row counts (H200, n = k = 4096: 11.3 us at 64 rows, 14.7 at 96, 13.4 at 128),
// which no interpolation between measured shapes can follow. Shapes above
// kTuneMaxMnk (compute-bound, where the heuristic's first choice is near the
// best) and calls made while capturing take the heuristic's first candidate.
// fp8 GEMMs are tuned the same way among cuBLASLt's candidates.
//
// Layout (row-major, nn.Linear weights): C[m,n] = A[m,k] · W[n,k]^T. In cuBLAS's
// column-major terms that is C^T (n×m) = W^T-op(W) · A, i.e. the "TN" call with
// the weight first, which is also the layout fp8 requires on Hopper.
//
// GroupedGemm is the expert FFN: group g multiplies its m_g rows by its own
// weight, through cublasGemmGroupedBatchedEx (one problem per group) or, for
// comparison, a loop of cublasGemmEx calls. Groups with no rows are skipped
// (their weights are never read). Pointer arrays live on the device and are
// uploaded once, so run() can be captured in a CUDA graph.
//
//   Blas blas(stream);
//   blas.gemm_bf16(x, w_qkv, qkv, tokens, 6144, 4096);
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cuda/kernels.hpp"

namespace masim::kernels::cuda {

class Blas {
 public:
  explicit Blas(cudaStream_t stream, std::size_t workspace_bytes = 64ull << 20);
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;

  cudaStream_t stream() const { return stream_; }
  cublasHandle_t handle() const { return handle_; }
  // "13.1.0" style version of the loaded cuBLAS.
  std::string version() const;

  void gemm_bf16(const Bf16* a, const Bf16* w, Bf16* c, std::int64_t m, std::int64_t n, std::int64_t k);
  // fp32 output (router logits).
  void gemm_bf16_f32(const Bf16* a, const Bf16* w, float* c, std::int64_t m, std::int64_t n, std::int64_t k);
  // 0 (default): the fastest candidate wins. m > 0: cublasGemmEx's own choice is
  // kept unless another candidate is more than the fraction m faster (for shapes
  // tuned after the call).
  void set_tune_margin(double m) { tune_margin_ = m; }
  // Also tune the heuristic's algorithms for m + 1 and m rounded up to 128 rows
  // (default; for shapes planned after the call).
  void set_tune_neighbors(bool on) { tune_neighbors_ = on; }
  // Which cuBLASLt algorithm a GEMM runs (for shapes planned after the call):
  // kTuned (default) times candidates as above; kHeuristic takes the first
  // algorithm cublasLtMatmulAlgoGetHeuristic returns and never times, as
  // frameworks do (PyTorch's cuBLASLt path asks the heuristic for one result),
  // so tables measured this way price what a deployment runs (issue 17).
  enum class AlgoPolicy { kTuned, kHeuristic };
  void set_algo_policy(AlgoPolicy p) { policy_ = p; }
  AlgoPolicy algo_policy() const { return policy_; }
  static constexpr int kTuneCandidates = 16;
  static constexpr std::int64_t kTuneMaxMnk = std::int64_t{1} << 36;

  // fp8 e4m3 inputs, bf16 output, unit scales. Plans are cached per shape and
  // tuned like bf16's at the shape's first call outside capture (cuBLASLt
  // candidates only); false when cuBLASLt offers no algorithm (nothing enqueued).
  bool gemm_fp8(const Fp8* a, const Fp8* w, Bf16* c, std::int64_t m, std::int64_t n, std::int64_t k);
  // Finds (and caches) the fp8 plan without running it; false if unsupported.
  bool plan_fp8(std::int64_t m, std::int64_t n, std::int64_t k);

 private:
  // A cuBLASLt matmul of one shape (bf16 or fp8, TN) and the algorithm it runs.
  struct LtPlan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    bool ok = false;     // false: no cuBLASLt algorithm (bf16: cublasGemmEx runs, also when it timed fastest)
    bool tuned = false;  // picked by timing (else the heuristic's first)
    bool tune_tried = false;  // fp8: tuned at the first call outside capture
  };
  // What tune() times: the weight's element size, the output type and whether
  // cublasGemmEx (bf16 only) is a candidate.
  struct TuneKind {
    std::size_t weight_bytes = 2;
    bool f32_out = false;
    bool with_gemm_ex = true;
  };
  // m, n, k, fp32 output, pointer alignment in bytes (power of two, at most 256).
  using Bf16Key = std::tuple<std::int64_t, std::int64_t, std::int64_t, bool, std::uint32_t>;
  static void destroy(LtPlan& p);
  // Fills p's descriptors for C[m,n] = A[m,k]·W[n,k]^T.
  void lt_describe(LtPlan& p, cudaDataType_t in, cudaDataType_t out, std::int64_t m, std::int64_t n, std::int64_t k);
  // Up to `count` of the heuristic's algorithms for p with pointers aligned to `align` bytes.
  std::vector<cublasLtMatmulAlgo_t> lt_heuristic(const LtPlan& p, std::uint32_t align, int count);
  // Appends the heuristic's algorithms for m + 1 and m rounded up to 128 rows that p accepts.
  void add_neighbor_algos(const LtPlan& p, std::vector<cublasLtMatmulAlgo_t>& algos, cudaDataType_t in,
                          cudaDataType_t out, std::int64_t m, std::int64_t n, std::int64_t k, std::uint32_t align);
  bool capturing() const;
  cublasStatus_t lt_run(const LtPlan& p, const cublasLtMatmulAlgo_t& algo, const void* a, const void* w, void* c);
  cublasStatus_t gemm_ex(const Bf16* a, const Bf16* w, void* c, std::int64_t m, std::int64_t n, std::int64_t k,
                         bool f32_out);
  // Times the candidates (and cublasGemmEx) as described above and sets p's choice.
  void tune(LtPlan& p, const std::vector<cublasLtMatmulAlgo_t>& algos, const void* a, const void* w, void* c,
            std::int64_t m, std::int64_t n, std::int64_t k, const TuneKind& kind);
  LtPlan& fp8_plan(std::int64_t m, std::int64_t n, std::int64_t k);
  const LtPlan& bf16_plan(const Bf16* a, const Bf16* w, void* c, std::int64_t m, std::int64_t n, std::int64_t k,
                          bool f32_out);
  void bf16_gemm(const Bf16* a, const Bf16* w, void* c, std::int64_t m, std::int64_t n, std::int64_t k, bool f32_out);
  std::size_t l2_bytes();

  cudaStream_t stream_;
  cublasHandle_t handle_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  void* workspace_ = nullptr;
  std::size_t workspace_bytes_ = 0;
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, LtPlan> fp8_plans_;
  std::map<Bf16Key, LtPlan> bf16_plans_;
  std::size_t l2_bytes_ = 0;
  double tune_margin_ = 0;
  bool tune_neighbors_ = true;
  AlgoPolicy policy_ = AlgoPolicy::kTuned;
};

class GroupedGemm {
 public:
  // kAuto times both forms once when the plan is made (outside any graph
  // capture; each form timed in a graph of its own) and keeps the faster: the grouped call wins for many small groups
  // (decode), the loop for few large ones (measured on H200: the grouped call
  // ran 2.5x slower than a dense GEMM of the same FLOPs at 8 groups of 2048 rows,
  // the loop within 3%).
  enum class Mode { kGroupedBatched, kLoop, kAuto };
  struct Group {
    const Bf16* a = nullptr;  // [m, k]
    const Bf16* w = nullptr;  // [n, k]
    Bf16* c = nullptr;        // [m, n]
    std::int64_t m = 0;
  };
  GroupedGemm(Blas& blas, const std::vector<Group>& groups, std::int64_t n, std::int64_t k,
              Mode mode = Mode::kAuto);
  ~GroupedGemm();
  GroupedGemm(const GroupedGemm&) = delete;
  GroupedGemm& operator=(const GroupedGemm&) = delete;

  void run();
  int active_groups() const { return static_cast<int>(groups_.size()); }
  Mode mode() const { return mode_; }

 private:
  void choose_form();
  Blas& blas_;
  std::vector<Group> groups_;   // non-empty groups only
  std::int64_t n_, k_;
  Mode mode_;
  std::vector<cublasOperation_t> ta_, tb_;
  std::vector<int> m_arr_, n_arr_, k_arr_, lda_, ldb_, ldc_, size_;
  std::vector<float> alpha_, beta_;
  void** d_ptrs_ = nullptr;     // [3 · groups]: weights, inputs, outputs
};

}  // namespace masim::kernels::cuda
