#include "sim/spec/spec.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace masim::spec {

const char* to_string(DType t) {
  switch (t) {
    case DType::kFP32: return "fp32";
    case DType::kTF32: return "tf32";
    case DType::kBF16: return "bf16";
    case DType::kFP16: return "fp16";
    case DType::kFP8: return "fp8";
  }
  return "?";
}

const char* to_string(VertexKind k) {
  switch (k) {
    case VertexKind::kGpu: return "gpu";
    case VertexKind::kNvSwitch: return "nvswitch";
    case VertexKind::kPcieSwitch: return "pcie_switch";
    case VertexKind::kCpu: return "cpu";
    case VertexKind::kNic: return "nic";
    case VertexKind::kLeafSwitch: return "leaf";
    case VertexKind::kSpineSwitch: return "spine";
  }
  return "?";
}

const char* to_string(LinkKind k) {
  switch (k) {
    case LinkKind::kNvLink: return "nvlink";
    case LinkKind::kPcie: return "pcie";
    case LinkKind::kInfiniBand: return "infiniband";
    case LinkKind::kEthernet: return "ethernet";
    case LinkKind::kOther: return "other";
  }
  return "?";
}

const char* to_string(AttentionKind k) {
  switch (k) {
    case AttentionKind::kMHA: return "mha";
    case AttentionKind::kGQA: return "gqa";
    case AttentionKind::kMLA: return "mla";
  }
  return "?";
}

const char* to_string(WorkloadKind k) {
  switch (k) {
    case WorkloadKind::kDecode: return "decode";
    case WorkloadKind::kPrefill: return "prefill";
    case WorkloadKind::kTraining: return "training";
  }
  return "?";
}

const char* to_string(RoutingKind k) {
  switch (k) {
    case RoutingKind::kUniform: return "uniform";
    case RoutingKind::kZipf: return "zipf";
    case RoutingKind::kDirichlet: return "dirichlet";
    case RoutingKind::kTrace: return "trace";
  }
  return "?";
}

const char* to_string(LayoutKind k) {
  switch (k) {
    case LayoutKind::kTensor: return "tp";
    case LayoutKind::kPipeline: return "pp";
    case LayoutKind::kTensorPipeline: return "tp_pp";
    case LayoutKind::kExpert: return "ep";
    case LayoutKind::kMaSeparation: return "ma_separation";
  }
  return "?";
}

const char* to_string(StageParallelism k) {
  switch (k) {
    case StageParallelism::kNone: return "none";
    case StageParallelism::kTensor: return "tp";
    case StageParallelism::kExpert: return "ep";
  }
  return "?";
}

const char* to_string(FaultKind k) {
  switch (k) {
    case FaultKind::kGpu: return "gpu";
    case FaultKind::kHbm: return "hbm";
    case FaultKind::kLinkDown: return "link_down";
    case FaultKind::kLinkDegraded: return "link_degraded";
    case FaultKind::kNicDown: return "nic_down";
    case FaultKind::kSwitchDown: return "switch_down";
    case FaultKind::kStraggler: return "straggler";
  }
  return "?";
}

const char* to_string(DetectionKind k) {
  switch (k) {
    case DetectionKind::kHeartbeat: return "heartbeat";
    case DetectionKind::kWatchdog: return "watchdog";
  }
  return "?";
}

const char* to_string(WeightSource k) {
  switch (k) {
    case WeightSource::kHost: return "host";
    case WeightSource::kDisk: return "disk";
    case WeightSource::kPeer: return "peer";
  }
  return "?";
}

const char* to_string(RecoveryPolicy k) {
  switch (k) {
    case RecoveryPolicy::kAuto: return "auto";
    case RecoveryPolicy::kShrink: return "shrink";
    case RecoveryPolicy::kSpare: return "spare";
    case RecoveryPolicy::kWait: return "wait";
  }
  return "?";
}

const char* to_string(ArrivalKind k) {
  switch (k) {
    case ArrivalKind::kPoisson: return "poisson";
    case ArrivalKind::kGamma: return "gamma";
    case ArrivalKind::kTrace: return "trace";
  }
  return "?";
}

const char* to_string(PreemptionMode k) {
  switch (k) {
    case PreemptionMode::kRecompute: return "recompute";
    case PreemptionMode::kSwap: return "swap";
  }
  return "?";
}

const char* to_string(RouterPolicy k) {
  switch (k) {
    case RouterPolicy::kRoundRobin: return "round_robin";
    case RouterPolicy::kLeastLoaded: return "least_loaded";
  }
  return "?";
}

namespace {
// a * b for degrees (>= 1) read from input files, saturating at INT_MAX: an absurd
// layout (tp 2^20 x dp 2^20) then counts as "more GPUs than any topology" instead
// of overflowing.
int sat_mul(std::int64_t a, std::int64_t b) {
  constexpr std::int64_t kMax = std::numeric_limits<int>::max();
  const std::int64_t p = std::min(a, kMax) * std::min(b, kMax);  // < 2^62: no overflow
  return static_cast<int>(std::min(p, kMax));
}
}  // namespace

int LayoutSpec::gpu_count() const {
  switch (kind) {
    case LayoutKind::kTensor: return sat_mul(tp, dp);
    case LayoutKind::kPipeline:
      return sat_mul(sat_mul(pp, stage_parallelism == StageParallelism::kNone ? 1 : sat_mul(tp, ep)), dp);
    case LayoutKind::kTensorPipeline: return sat_mul(sat_mul(tp, pp), dp);
    case LayoutKind::kExpert: return sat_mul(ep, dp);
    case LayoutKind::kMaSeparation:
      return sat_mul(1, static_cast<std::int64_t>(ma.attention_gpus.size() + ma.expert_gpus.size()));
  }
  return 0;
}

}  // namespace masim::spec

