// CPU references of the decode-path kernels against hand-computed small cases.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/reference/decode_partition.hpp"
#include "kernels/reference/numeric.hpp"
#include "kernels/reference/reference.hpp"

namespace k = masim::kernels;
namespace ref = masim::kernels::ref;

TEST_CASE("bf16 rounds to nearest even") {
  CHECK(k::float_to_bf16(1.0f) == 0x3F80);
  // 1 + 2^-8 lies half-way between 1 and 1 + 2^-7 (7 mantissa bits): even is 1.0.
  CHECK(k::float_to_bf16(1.00390625f) == 0x3F80);
  // 1 + 3·2^-8 lies half-way between 1 + 2^-7 (odd mantissa 1) and 1 + 2^-6 (even, 2).
  CHECK(k::float_to_bf16(1.01171875f) == 0x3F82);
  CHECK(k::bf16_to_float(0xC000) == -2.0f);
  CHECK(std::isnan(k::bf16_to_float(k::float_to_bf16(std::nanf("")))));
}

TEST_CASE("fp8 e4m3 encodes, rounds to even and saturates") {
  CHECK(k::float_to_fp8e4m3(1.0f) == 0x38);    // e = 7 (bias 7), m = 0
  CHECK(k::float_to_fp8e4m3(-2.0f) == 0xC0);   // sign, e = 8
  CHECK(k::float_to_fp8e4m3(448.0f) == 0x7E);  // largest finite: e = 15, m = 6
  CHECK(k::float_to_fp8e4m3(1000.0f) == 0x7E); // saturates
  // 1 + 1/16 is half an ulp (1/8) above 1: ties to even mantissa 0.
  CHECK(k::float_to_fp8e4m3(1.0625f) == 0x38);
  // 1 + 3/16 is half-way between m = 1 and m = 2: even is 2 (1.25).
  CHECK(k::float_to_fp8e4m3(1.1875f) == 0x3A);
  // Subnormals step by 2^-9; 2^-10 is a tie between 0 and 2^-9: even is 0.
  CHECK(k::float_to_fp8e4m3(0.0009765625f) == 0x00);
  CHECK(k::fp8e4m3_to_float(0x01) == 0.001953125f);
  for (int b = 0; b < 256; ++b) {
    const auto v = static_cast<std::uint8_t>(b);
    if ((v & 0x7F) == 0x7F) continue;  // NaN
    CHECK(k::float_to_fp8e4m3(k::fp8e4m3_to_float(v)) == ((v == 0x80) ? 0x80 : v));
  }
}

TEST_CASE("random inputs are reproducible and in [-1, 1)") {
  double sum = 0.0;
  for (std::uint64_t i = 0; i < 10000; ++i) {
    const float x = k::random_uniform(7, i);
    CHECK(x >= -1.0f);
    CHECK(x < 1.0f);
    CHECK(x == k::random_uniform(7, i));
    sum += x;
  }
  // Mean of 10^4 uniforms on [-1, 1): standard error 0.577/100 = 0.0058.
  CHECK(std::fabs(sum / 10000.0) < 0.03);
  CHECK(k::random_uniform(7, 1) != k::random_uniform(8, 1));
}

TEST_CASE("gemm: C = A · W^T") {
  // A = [[1,2],[3,4]], W = [[1,0],[1,1]]: C[i][j] = A[i]·W[j] = [[1,3],[3,7]].
  const std::vector<float> a = {1, 2, 3, 4};
  const std::vector<float> w = {1, 0, 1, 1};
  std::vector<float> c(4);
  ref::gemm(2, 2, 2, a.data(), w.data(), c.data());
  CHECK(c == std::vector<float>{1, 3, 3, 7});
}

TEST_CASE("decode attention: softmax-weighted values, GQA head mapping") {
  // q = [1, 0], keys [1,0] and [0,0], values [1,2] and [3,4], scale 1/sqrt(2):
  // scores [0.70711, 0]; p0 = e^0.70711 / (e^0.70711 + 1) = 0.66976;
  // out = p0·[1,2] + (1 − p0)·[3,4] = [1.66048, 2.66048].
  ref::AttentionShape s;
  s.batch = 1;
  s.context = 2;
  s.heads = 2;
  s.kv_heads = 1;
  s.head_dim = 2;
  const std::vector<float> q = {1, 0, 0, 1};   // head 0: [1,0], head 1: [0,1]
  const std::vector<float> kc = {1, 0, 0, 0};
  const std::vector<float> vc = {1, 2, 3, 4};
  std::vector<float> out(4);
  ref::decode_attention(s, q.data(), kc.data(), vc.data(), out.data());
  const double p0 = std::exp(1 / std::sqrt(2.0)) / (std::exp(1 / std::sqrt(2.0)) + 1);
  CHECK(out[0] == doctest::Approx(p0 * 1 + (1 - p0) * 3));
  CHECK(out[1] == doctest::Approx(p0 * 2 + (1 - p0) * 4));
  // Head 1 (q = [0,1]) shares KV head 0: both scores 0, so the plain mean [2, 3].
  CHECK(out[2] == doctest::Approx(2.0));
  CHECK(out[3] == doctest::Approx(3.0));
}

TEST_CASE("prefill attention is causal") {
  // Position 0 sees only key 0, so its output is v0 exactly; position 1 sees both.
  ref::AttentionShape s;
  s.batch = 1;
  s.seq = 2;
  s.heads = 1;
  s.kv_heads = 1;
  s.head_dim = 2;
  const std::vector<float> q = {1, 0, 1, 0};
  const std::vector<float> kk = {1, 0, 0, 0};
  const std::vector<float> v = {1, 2, 3, 4};
  std::vector<float> out(4);
  ref::prefill_attention(s, q.data(), kk.data(), v.data(), out.data());
  CHECK(out[0] == 1.0f);
  CHECK(out[1] == 2.0f);
  const double p0 = std::exp(1 / std::sqrt(2.0)) / (std::exp(1 / std::sqrt(2.0)) + 1);
  CHECK(out[2] == doctest::Approx(p0 * 1 + (1 - p0) * 3));
}

TEST_CASE("rmsnorm") {
  // x = [3,4]: mean square 12.5, 1/sqrt(12.5) = 0.2828427; w = [1,2] -> [0.848528, 2.262742].
  const std::vector<float> x = {3, 4};
  const std::vector<float> w = {1, 2};
  std::vector<float> y(2);
  ref::rmsnorm(1, 2, x.data(), w.data(), 0.0f, y.data());
  CHECK(y[0] == doctest::Approx(0.848528));
  CHECK(y[1] == doctest::Approx(2.262742));
}

TEST_CASE("router: top-k by logit, softmax weights, renormalized, ties to the lower index") {
  // logits [1,3,2]: top-2 = experts 1, 2; softmax p = e^l / (e + e^3 + e^2) = 0.665241, 0.244728;
  // renormalized: 0.731059, 0.268941 (= sigmoid(±1)).
  const std::vector<float> logits = {1, 3, 2, 2, 2, 1};
  std::vector<std::int32_t> idx(4);
  std::vector<float> w(4);
  ref::router_topk(2, 3, 2, false, logits.data(), idx.data(), w.data());
  CHECK(idx[0] == 1);
  CHECK(idx[1] == 2);
  CHECK(w[0] == doctest::Approx(0.665241));
  CHECK(w[1] == doctest::Approx(0.244728));
  CHECK(idx[2] == 0);  // tie between experts 0 and 1: lower index first
  CHECK(idx[3] == 1);
  ref::router_topk(2, 3, 2, true, logits.data(), idx.data(), w.data());
  CHECK(w[0] == doctest::Approx(0.731059));
  CHECK(w[1] == doctest::Approx(0.268941));
}

TEST_CASE("permute plan, permute and unpermute") {
  // 3 tokens, top-2, experts per slot s = t·2 + j: [1,0 | 1,2 | 0,1].
  // counts e0 = 2 (s1, s4), e1 = 3 (s0, s2, s5), e2 = 1 (s3): offsets [0,2,5,6];
  // stable rows: s1->0, s4->1, s0->2, s2->3, s5->4, s3->5.
  const std::vector<std::int32_t> idx = {1, 0, 1, 2, 0, 1};
  const ref::PermutePlan p = ref::plan_permute(3, 3, 2, idx.data());
  CHECK(p.offset == std::vector<std::int64_t>{0, 2, 5, 6});
  CHECK(p.slot_row == std::vector<std::int32_t>{2, 0, 3, 5, 1, 4});
  const std::vector<float> x = {10, 20, 30};  // width 1
  std::vector<float> rows(6);
  ref::permute(p, 3, 1, 2, x.data(), rows.data());
  CHECK(rows == std::vector<float>{10, 30, 10, 20, 30, 20});
  // Expert outputs = rows · (expert + 1) per row's expert; token 1 = 0.25·(20·2) + 0.75·(20·3) = 55.
  std::vector<float> y = {10 * 1, 30 * 1, 10 * 2, 20 * 2, 30 * 2, 20 * 3};
  const std::vector<float> w = {0.5f, 0.5f, 0.25f, 0.75f, 1.0f, 0.0f};
  std::vector<float> out(3);
  ref::unpermute(p, 3, 1, 2, w.data(), y.data(), out.data());
  CHECK(out[0] == doctest::Approx(0.5 * 20 + 0.5 * 10));  // slot0 row2 (e1: 20), slot1 row0 (e0: 10)
  CHECK(out[1] == doctest::Approx(0.25 * 40 + 0.75 * 60));
  CHECK(out[2] == doctest::Approx(30.0));                 // slot4 row1 (e0: 30), weight 0 on slot5
}

TEST_CASE("swiglu and add") {
  // silu(1)·2 = 2 / (1 + e^-1) = 1.462117; silu(0)·5 = 0.
  const std::vector<float> gu = {1, 0, 2, 5};
  std::vector<float> out(2);
  ref::swiglu(1, 2, gu.data(), out.data());
  CHECK(out[0] == doctest::Approx(1.462117));
  CHECK(out[1] == 0.0f);
  const std::vector<float> a = {1, 2}, b = {3, 4}, c = {5, 6};
  ref::add(2, {a.data(), b.data(), c.data()}, out.data());
  CHECK(out == std::vector<float>{9, 12});
}

TEST_CASE("relative error") {
  const std::vector<float> want = {3, 4};
  const std::vector<float> got = {3, 4.5f};
  // ||[0, 0.5]|| / ||[3, 4]|| = 0.5 / 5 = 0.1.
  CHECK(ref::relative_error(got.data(), want.data(), 2) == doctest::Approx(0.1));
  const std::vector<float> bad = {3, std::nanf("")};
  CHECK(std::isinf(ref::relative_error(bad.data(), want.data(), 2)));
}

TEST_CASE("balanced decode partition: equal contiguous ranges, every tile once, parts per stream") {
  using masim::kernels::ref::DecodePartition;
  for (std::int64_t streams = 1; streams <= 13; ++streams) {
    for (std::int64_t tiles = 1; tiles <= 11; ++tiles) {
      const std::int64_t work = streams * tiles;
      for (std::int64_t ctas = 1; ctas <= work; ++ctas) {
        const DecodePartition p{streams, tiles, ctas};
        CAPTURE(streams);
        CAPTURE(tiles);
        CAPTURE(ctas);
        REQUIRE(p.begin(0) == 0);
        REQUIRE(p.begin(ctas) == work);
        for (std::int64_t c = 0; c < ctas; ++c) {
          // Range lengths are floor or ceil of work / ctas.
          const std::int64_t len = p.begin(c + 1) - p.begin(c);
          REQUIRE(len >= work / ctas);
          REQUIRE(len <= (work + ctas - 1) / ctas);
          for (std::int64_t g = p.begin(c); g < p.begin(c + 1); ++g) REQUIRE(p.cta_of(g) == c);
        }
        std::int64_t most = 0;
        for (std::int64_t s = 0; s < streams; ++s) {
          // parts(s) counts the distinct ranges over the stream's tiles.
          std::int64_t distinct = 0;
          std::int64_t last = -1;
          for (std::int64_t t = 0; t < tiles; ++t) {
            const std::int64_t c = p.cta_of(s * tiles + t);
            if (c != last) ++distinct;
            last = c;
          }
          REQUIRE(p.parts(s) == distinct);
          most = std::max(most, distinct);
        }
        REQUIRE(p.max_parts() >= most);  // the workspace bound holds
        REQUIRE(p.max_parts() <= tiles);
      }
    }
  }
}

TEST_CASE("decode partition with per-stream chunks: no range crosses a stream, every tile once") {
  using masim::kernels::ref::DecodePartition;
  for (std::int64_t streams = 1; streams <= 13; ++streams) {
    for (std::int64_t tiles = 1; tiles <= 11; ++tiles) {
      for (std::int64_t chunks = 1; chunks <= tiles; ++chunks) {
        DecodePartition p{streams, tiles, streams * chunks};
        p.chunks = chunks;
        CAPTURE(streams);
        CAPTURE(tiles);
        CAPTURE(chunks);
        REQUIRE(p.begin(0) == 0);
        REQUIRE(p.begin(p.ctas) == p.work());
        for (std::int64_t c = 0; c < p.ctas; ++c) {
          const std::int64_t len = p.begin(c + 1) - p.begin(c);
          REQUIRE(len >= tiles / chunks);
          REQUIRE(len <= (tiles + chunks - 1) / chunks);
          // Inside one stream.
          REQUIRE(p.begin(c) / tiles == (p.begin(c + 1) - 1) / tiles);
          for (std::int64_t g = p.begin(c); g < p.begin(c + 1); ++g) REQUIRE(p.cta_of(g) == c);
        }
        for (std::int64_t s = 0; s < streams; ++s) {
          REQUIRE(p.first_cta(s) == s * chunks);
          REQUIRE(p.parts(s) == chunks);
        }
        REQUIRE(p.max_parts() == chunks);
      }
    }
  }
}

TEST_CASE("balanced decode partition: one block per resident slot, at least two tiles each") {
  using masim::kernels::ref::balanced_partition;
  // 2048 streams × 64 tiles on 264 resident blocks: every block, 496 or 497 tiles.
  auto p = balanced_partition(2048, 64, 264);
  CHECK(p.ctas == 264);
  CHECK(p.chunks == 0);
  CHECK(p.max_parts() == 2);
  // 100 streams × 64 tiles: balanced ranges of 24-25 tiles beat per-stream halves of 32.
  p = balanced_partition(100, 64, 264);
  CHECK(p.chunks == 0);
  CHECK(p.ctas == 264);
  // Little work: 3 streams × 5 tiles = 15 items. Balanced: 7 blocks of 2-3 tiles,
  // ranges crossing streams; per-stream chunks: 2 per stream (2 and 3 tiles) instead.
  p = balanced_partition(3, 5, 264);
  CHECK(p.chunks == 2);
  CHECK(p.ctas == 6);
  CHECK(p.max_parts() == 2);
  // 12 streams × 7 tiles (448 keys): 42 balanced blocks of 2 tiles cross stream
  // boundaries; 3 chunks per stream (2, 2, 3 tiles) do not.
  p = balanced_partition(12, 7, 264);
  CHECK(p.chunks == 3);
  CHECK(p.ctas == 36);
  // 12 × 8 tiles: 48 balanced ranges fall on stream boundaries already; the same as 4 chunks.
  p = balanced_partition(12, 8, 264);
  CHECK(p.chunks == 4);
  CHECK(p.ctas == 48);
  // One tile per stream: blocks of one tile, each stream in one block.
  p = balanced_partition(10, 1, 264);
  CHECK(p.ctas == 10);
  CHECK(p.max_parts() == 1);
  // More streams than slots, one tile each: balanced.
  p = balanced_partition(1000, 1, 264);
  CHECK(p.chunks == 0);
  CHECK(p.ctas == 264);
  // Degenerate inputs are clamped to one block.
  p = balanced_partition(0, 0, 0);
  CHECK(p.ctas == 1);
}

TEST_CASE("balanced split-KV emulated on the CPU: ranges, slots and per-head merge give decode attention") {
  // The index algebra of kernels/cuda decode_attention_balanced_kernel and
  // decode_balanced_combine_kernel, in fp64: each block's ranges produce (O, m, l)
  // partials at slot p − first_cta(stream); each (sequence, head) merges parts(stream)
  // of them. Group 20 > 16 rows exercises head subgroups; context 700 a partial
  // tile (11 tiles: balanced ranges at 1-7 resident blocks, per-stream chunks of
  // 1, 3 and 5 per stream above).
  ref::AttentionShape s;
  s.batch = 3;
  s.kv_heads = 2;
  s.heads = 40;
  s.context = 700;
  s.head_dim = 8;
  const int group = s.heads / s.kv_heads;
  const int rows = 16;
  const int subgroups = (group + rows - 1) / rows;
  const std::int64_t d = s.head_dim;
  std::vector<float> q(static_cast<std::size_t>(s.batch * s.heads * d));
  std::vector<float> kc(static_cast<std::size_t>(s.batch * s.kv_heads * s.context * d));
  std::vector<float> vc(kc.size());
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = k::random_uniform(1, i);
  for (std::size_t i = 0; i < kc.size(); ++i) {
    kc[i] = k::random_uniform(2, i);
    vc[i] = k::random_uniform(3, i);
  }
  std::vector<float> want(q.size());
  ref::decode_attention(s, q.data(), kc.data(), vc.data(), want.data());
  const double scale = s.effective_scale();
  const std::int64_t streams = s.batch * s.kv_heads * subgroups;
  const std::int64_t tiles = (s.context + 63) / 64;
  for (std::int64_t resident : {1, 2, 3, 5, 7, 12, 20, 36, 264}) {
    CAPTURE(resident);
    const auto part = ref::balanced_partition(streams, tiles, resident);
    CAPTURE(part.chunks);
    const std::int64_t slots = part.max_parts();
    std::vector<double> po(static_cast<std::size_t>(s.batch * s.heads * slots * d), 0.0);
    std::vector<double> pm(static_cast<std::size_t>(s.batch * s.heads * slots), 0.0);
    std::vector<double> pl(pm.size(), 0.0);
    for (std::int64_t p = 0; p < part.ctas; ++p) {
      const std::int64_t g0 = part.begin(p), g1 = part.begin(p + 1);
      for (std::int64_t st = g0 / tiles; st * tiles < g1; ++st) {
        const std::int64_t lo = std::max(g0, st * tiles) - st * tiles;
        const std::int64_t hi = std::min(g1, (st + 1) * tiles) - st * tiles;
        const std::int64_t sg = st % subgroups;
        const std::int64_t kvh = (st / subgroups) % s.kv_heads;
        const std::int64_t b = st / (subgroups * s.kv_heads);
        const std::int64_t start = lo * 64, end = std::min<std::int64_t>(s.context, hi * 64);
        const std::int64_t slot = p - part.first_cta(st);
        REQUIRE(slot >= 0);
        REQUIRE(slot < slots);
        const std::int64_t h0 = kvh * group + sg * rows;
        const std::int64_t nh = std::min<std::int64_t>(rows, group - sg * rows);
        for (std::int64_t j = 0; j < nh; ++j) {
          const std::int64_t row = (b * s.heads + h0 + j) * slots + slot;
          const float* qh = &q[static_cast<std::size_t>((b * s.heads + h0 + j) * d)];
          const std::int64_t cache = (b * s.kv_heads + kvh) * s.context * d;
          double m = -1e300;
          for (std::int64_t t = start; t < end; ++t) m = std::max(m, scale * ref::dot(qh, &kc[static_cast<std::size_t>(cache + t * d)], d));
          double l = 0;
          for (std::int64_t t = start; t < end; ++t) {
            const double w = std::exp(scale * ref::dot(qh, &kc[static_cast<std::size_t>(cache + t * d)], d) - m);
            l += w;
            for (std::int64_t e = 0; e < d; ++e) po[static_cast<std::size_t>(row * d + e)] += w * vc[static_cast<std::size_t>(cache + t * d + e)];
          }
          pm[static_cast<std::size_t>(row)] = m;
          pl[static_cast<std::size_t>(row)] = l;
        }
      }
    }
    double worst = 0;
    for (std::int64_t bh = 0; bh < s.batch * s.heads; ++bh) {
      const std::int64_t b = bh / s.heads, h = bh % s.heads;
      const std::int64_t stream = (b * (s.heads / group) + h / group) * subgroups + (h % group) / rows;
      const std::int64_t count = part.parts(stream);
      double mx = -1e300;
      for (std::int64_t c = 0; c < count; ++c) mx = std::max(mx, pm[static_cast<std::size_t>(bh * slots + c)]);
      double l = 0;
      std::vector<double> o(static_cast<std::size_t>(d), 0.0);
      for (std::int64_t c = 0; c < count; ++c) {
        const double w = std::exp(pm[static_cast<std::size_t>(bh * slots + c)] - mx);
        l += pl[static_cast<std::size_t>(bh * slots + c)] * w;
        for (std::int64_t e = 0; e < d; ++e) o[static_cast<std::size_t>(e)] += po[static_cast<std::size_t>((bh * slots + c) * d + e)] * w;
      }
      for (std::int64_t e = 0; e < d; ++e) {
        worst = std::max(worst, std::fabs(o[static_cast<std::size_t>(e)] / l - want[static_cast<std::size_t>(bh * d + e)]));
      }
    }
    CHECK(worst < 1e-5);
  }
}
