#include <doctest/doctest.h>

#include <cmath>

#include "sim/models/compute_cost.hpp"
#include "tests/models/test_gpus.hpp"

namespace masim::models {
namespace {
using spec::DType;

// Effective A100 rates: bf16 312e12·0.75 = 234e12 FLOP/s; fp32 vector
// 19.5e12·0.75 = 14.625e12; HBM 2039e9·0.85 = 1733.15e9 B/s.
constexpr double kTensor = 234e12;
constexpr double kVector = 14.625e12;
constexpr double kHbm = 1733.15e9;

double us_of(const OpCost& c) { return c.time.us(); }

TEST_CASE("a skinny decode GEMM is memory-bound on A100") {
  RooflineCostModel roof(test::a100());
  // m = 8, n = k = 4096: flops 2.68e8 -> 1.147 us; bytes 2·(32768 + 16777216 + 32768)
  // = 33,685,504 -> 19.436 us. Memory wins; plus 4 us launch.
  Op o = make_gemm("o_proj", 8, 4096, 4096, DType::kBF16);
  const double t_mem = 33685504.0 / kHbm * 1e6;
  CHECK(o.flops.count() / kTensor * 1e6 < t_mem);
  CHECK(us_of(roof.cost(o)) == doctest::Approx(t_mem + 4.0).epsilon(1e-6));
  CHECK(roof.cost(o).source == CostSource::kRoofline);
}

TEST_CASE("a big prefill GEMM is compute-bound on A100") {
  RooflineCostModel roof(test::a100());
  // m = 8192, n = k = 4096: flops 2.749e11 -> 1174.8 us; bytes 1.68e8 -> 96.8 us.
  Op o = make_gemm("qkv", 8192, 4096, 4096, DType::kBF16);
  const double t_flop = o.flops.count() / kTensor * 1e6;
  CHECK(o.bytes.as_double() / kHbm * 1e6 < t_flop);
  CHECK(us_of(roof.cost(o)) == doctest::Approx(t_flop + 4.0).epsilon(1e-6));
}

TEST_CASE("attention's softmax FLOPs are priced at the fp32 vector rate") {
  spec::GpuSpec g = test::a100();
  g.kernel_launch_overhead = SimTime::zero();
  RooflineCostModel roof(g);
  // Prefill, 8 sequences of 4096, 32 heads of 128: compute-bound.
  Op o = make_prefill_attention("attn", 8, 4096, 32, 8, 128, 128, DType::kBF16);
  const double t = (o.flops.count() - o.vector_flops.count()) / kTensor + o.vector_flops.count() / kVector;
  CHECK(o.bytes.as_double() / kHbm < t);
  CHECK(roof.cost(o).time.seconds() == doctest::Approx(t).epsilon(1e-9));
  // The softmax share is substantial: 5/14.625 vs 512/234 per score -> ~13.5%.
  CHECK(o.vector_flops.count() / kVector / t == doctest::Approx(0.1351).epsilon(0.01));
  // Decode over a 2048 cache is memory-bound.
  Op d = make_decode_attention("attn", 64, 2048, 32, 8, 128, 128, DType::kBF16);
  CHECK(roof.cost(d).time.seconds() == doctest::Approx(d.bytes.as_double() / kHbm).epsilon(1e-9));
}

TEST_CASE("a dtype without its own peak uses the nearest one that holds it") {
  spec::GpuSpec g = test::a100();
  g.kernel_launch_overhead = SimTime::zero();
  RooflineCostModel roof(g);
  // fp8 on A100 (no fp8 tensor cores) runs at the bf16 rate; a compute-bound shape.
  Op o = make_gemm("g", 16384, 8192, 8192, DType::kFP8);
  CHECK(roof.cost(o).time.seconds() == doctest::Approx(o.flops.count() / kTensor).epsilon(1e-9));
  // fp32 GEMM without a fp32 tensor entry runs on CUDA cores.
  Op f = make_gemm("g", 8192, 8192, 8192, DType::kFP32);
  CHECK(roof.cost(f).time.seconds() == doctest::Approx(f.flops.count() / kVector).epsilon(1e-9));
}

TEST_CASE("empty ops cost the launch overhead only") {
  RooflineCostModel roof(test::a100());
  CHECK(roof.cost(make_grouped_gemm("e", {0, 0}, 64, 64, DType::kBF16)).time == SimTime::us(4));
  CHECK(roof.describe().find("A100") != std::string::npos);
}

// A stand-in for a calibration profile that has measured only GEMMs: 1 us each.
class GemmOnlyProfile final : public ComputeCostModel {
 public:
  OpCost cost(const Op& op) const override { return *find_cost(op); }
  std::optional<OpCost> find_cost(const Op& op) const override {
    if (op.kind != OpKind::kGemm) return std::nullopt;
    return OpCost{SimTime::us(1), CostSource::kProfile};
  }
  std::string describe() const override { return "gemm-only profile"; }
};

TEST_CASE("layered model prices covered ops from the profile, the rest from the roofline") {
  GemmOnlyProfile profile;
  RooflineCostModel roof(test::a100());
  LayeredCostModel cost(profile, roof);
  std::vector<Op> ops{make_gemm("a", 8, 4096, 4096, DType::kBF16), make_rmsnorm("n", 8, 4096, DType::kBF16),
                      make_gemm("b", 8, 4096, 4096, DType::kBF16)};
  CHECK(cost.cost(ops[0]).source == CostSource::kProfile);
  CHECK(cost.cost(ops[1]).source == CostSource::kRoofline);
  CostTotals t = total_cost(ops, cost);
  CHECK(t.ops == 3);
  CHECK(t.from_profile == 2);
  CHECK(t.from_roofline == 1);
  // 2 × 1 us + the norm's roofline time.
  CHECK(t.time == SimTime::us(2) + roof.cost(ops[1]).time);
  // FLOPs: 2 × 2.68e8 tensor + 4·8·4096 vector.
  CHECK(t.tensor_flops.count() == 2.0 * 2 * 8 * 4096.0 * 4096.0);
  CHECK(t.flops.count() == t.tensor_flops.count() + 4.0 * 8 * 4096);
  CHECK(cost.describe() == "gemm-only profile; else " + roof.describe());
}

}  // namespace
}  // namespace masim::models
