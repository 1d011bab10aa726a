// Per-GPU memory: what a GPU must hold, component by component.
//
// Parameters (bytes = params · dtype bytes), KV cache (2 · layers · kv_heads ·
// head_dim · context · sequences · dtype bytes; MLA caches kv_lora_rank +
// qk_rope_head_dim per token and layer), activations, gradients (training: one
// copy of the parameters in the compute dtype), optimizer states (Adam with fp32
// master weights: 12 bytes per parameter by default), communication buffers, and
// a runtime reserve (CUDA context, allocator fragmentation).
//
//   MemoryBreakdown m;  m.parameters = Bytes::gb(18.2);  ...;  m.total();
#pragma once

#include <string>
#include <vector>

#include "sim/common/units.hpp"
#include "sim/spec/spec.hpp"

namespace masim::models {

struct MemoryBreakdown {
  Bytes parameters;
  Bytes kv_cache;
  Bytes activations;
  Bytes gradients;
  Bytes optimizer_states;
  Bytes comm_buffers;
  Bytes reserve;
  Bytes total() const {
    return parameters + kv_cache + activations + gradients + optimizer_states + comm_buffers + reserve;
  }
};

// KV-cache bytes for `layers` layers of `m`, `kv_heads_here` KV heads (per shard),
// `sequences` sequences of `context` tokens each.
Bytes kv_cache_bytes(const spec::ModelSpec& m, int layers, int kv_heads_here, std::int64_t sequences,
                     std::int64_t context);

// Runtime reserve per GPU: CUDA context and allocator slack (documented default).
Bytes runtime_reserve(const spec::GpuSpec& gpu);

// A GPU whose total exceeds capacity: "GPU 3 needs 91.2 GiB, has 80.0 GiB (short 11.2 GiB)".
std::string shortfall_message(int gpu, const MemoryBreakdown& m, Bytes capacity);

}  // namespace masim::models
