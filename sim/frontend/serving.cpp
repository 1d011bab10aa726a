// The scenario's "serving" object (request traffic, scheduler, SLOs) and the
// request-trace CSV reader. Keys, defaults and sources: docs/INPUTS.md, "Serving".
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/frontend/parse.hpp"
#include "sim/io/json_reader.hpp"

namespace masim::frontend {

using io::Dimension;
using io::Required;
using nlohmann::json;

namespace {

constexpr std::int64_t kMaxRequests = 1'000'000;     // about 100 s of simulation at the measured 10 µs/request-step
constexpr std::int64_t kMaxTokens = std::int64_t{1} << 24;   // 16M tokens per prompt or output
constexpr std::size_t kMaxSweep = 32;
constexpr int kMaxTraceDiagnostics = 20;           // then one line saying how many more

std::optional<spec::LengthDist> parse_length(io::JsonReader& r, const std::string& key, Required req) {
  const json* v = r.raw(key, req);
  if (v == nullptr) return std::nullopt;
  spec::LengthDist d;
  if (v->is_number_integer()) {
    const std::int64_t x = v->get<std::int64_t>();
    if (x < 1 || x > kMaxTokens) {
      r.error(key, "expected a token count in [1, " + std::to_string(kMaxTokens) + "], found " + io::describe(*v));
      return std::nullopt;
    }
    d.value = d.min = d.max = x;
    return d;
  }
  if (!v->is_object()) {
    r.error(key, "expected a token count (an integer) or a distribution object, found " + io::describe(*v));
    return std::nullopt;
  }
  const std::size_t before = r.diagnostics().size();
  io::JsonReader o(*v, r.file(), r.pointer_of(key), r.diagnostics());
  const auto kind = o.choice("kind", Required::kYes, {"fixed", "uniform", "lognormal"});
  if (!kind) {
    o.allow("value");
    o.allow("min");
    o.allow("max");
    o.allow("mean");
    o.allow("cv");
  } else if (*kind == "fixed") {
    d.kind = spec::LengthKind::kFixed;
    d.value = d.min = d.max = o.integer("value", Required::kYes, 1, kMaxTokens).value_or(1);
  } else if (*kind == "uniform") {
    d.kind = spec::LengthKind::kUniform;
    d.min = o.integer("min", Required::kYes, 1, kMaxTokens).value_or(1);
    d.max = o.integer("max", Required::kYes, 1, kMaxTokens).value_or(1);
    if (d.max < d.min && r.diagnostics().size() == before) {
      o.error("max", "expected max >= min (" + std::to_string(d.min) + "), found " + std::to_string(d.max));
    }
  } else {
    d.kind = spec::LengthKind::kLognormal;
    d.mean = o.number("mean", Required::kYes, 1.0, static_cast<double>(kMaxTokens)).value_or(1.0);
    d.cv = o.number("cv", Required::kYes, 0.0, 10.0).value_or(0.0);
    d.min = o.integer_or("min", 1, 1, kMaxTokens);
    d.max = o.integer_or("max", kMaxTokens, 1, kMaxTokens);
    if (d.max < d.min && r.diagnostics().size() == before) {
      o.error("max", "expected max >= min (" + std::to_string(d.min) + "), found " + std::to_string(d.max));
    }
  }
  o.finish();
  if (r.diagnostics().size() != before) return std::nullopt;
  return d;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_csv(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == ',') {
      out.push_back(trim(line.substr(start, i - start)));
      start = i + 1;
    }
  }
  return out;
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
// (H. Hinnant's days_from_civil algorithm, public domain description).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool parse_int(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_double(std::string_view s, double& out) {
  if (s.empty()) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(out);
}

// "2023-11-16 18:15:46.6805900" (the Azure traces' TIMESTAMP), also with 'T'
// between date and time, or a plain number of seconds. Seconds since the epoch.
bool parse_timestamp(std::string_view s, double& out) {
  if (parse_double(s, out)) return out >= 0.0;
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' ||
      s[16] != ':') {
    return false;
  }
  std::int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0;
  double sec = 0.0;
  if (!parse_int(s.substr(0, 4), y) || !parse_int(s.substr(5, 2), mo) || !parse_int(s.substr(8, 2), d) ||
      !parse_int(s.substr(11, 2), h) || !parse_int(s.substr(14, 2), mi)) {
    return false;
  }
  std::string_view rest = s.substr(17);
  if (!rest.empty() && (rest.back() == 'Z')) rest.remove_suffix(1);
  if (!parse_double(rest, sec)) return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec < 0 || sec >= 61) return false;
  out = static_cast<double>(days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d))) * 86400.0 +
        static_cast<double>(h * 3600 + mi * 60) + sec;
  return true;
}

}  // namespace

std::vector<spec::TraceRequest> parse_request_trace(std::string_view text, const std::string& file,
                                                    io::Diagnostics& diags) {
  std::vector<spec::TraceRequest> out;
  const std::size_t before = diags.size();
  int reported = 0;
  std::int64_t suppressed = 0;
  auto problem = [&](int line, const std::string& msg) {
    if (reported < kMaxTraceDiagnostics) {
      diags.error_at_line(file, line, msg);
      ++reported;
    } else {
      ++suppressed;
    }
  };
  // Header: masim's own (arrival_s,prompt_tokens,output_tokens) or the Azure LLM
  // inference traces' (TIMESTAMP,ContextTokens,GeneratedTokens); other columns are ignored.
  int line_no = 0;
  std::size_t pos = 0;
  int col_t = -1, col_p = -1, col_o = -1;
  bool header_seen = false;
  std::vector<std::string> names;
  while (pos <= text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const std::string_view raw = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    const std::vector<std::string_view> cells = split_csv(line);
    if (!header_seen) {
      header_seen = true;
      for (std::size_t i = 0; i < cells.size(); ++i) {
        names.emplace_back(cells[i]);
        const std::string_view c = cells[i];
        if (c == "arrival_s" || c == "TIMESTAMP") col_t = static_cast<int>(i);
        if (c == "prompt_tokens" || c == "ContextTokens") col_p = static_cast<int>(i);
        if (c == "output_tokens" || c == "GeneratedTokens") col_o = static_cast<int>(i);
      }
      if (col_t < 0 || col_p < 0 || col_o < 0) {
        problem(line_no, "expected a header naming the columns arrival_s,prompt_tokens,output_tokens (or the Azure "
                         "traces' TIMESTAMP,ContextTokens,GeneratedTokens), found \"" + std::string(line) + "\"");
        return {};
      }
      continue;
    }
    const int need = std::max({col_t, col_p, col_o}) + 1;
    if (static_cast<int>(cells.size()) < need) {
      problem(line_no, "expected " + std::to_string(names.size()) + " columns, found " + std::to_string(cells.size()));
      continue;
    }
    spec::TraceRequest q;
    q.line = line_no;
    bool ok = true;
    auto col_name = [&](int c) {
      return "column " + std::to_string(c + 1) + " (" + names[static_cast<std::size_t>(c)] + ")";
    };
    if (!parse_timestamp(cells[static_cast<std::size_t>(col_t)], q.arrival_s)) {
      problem(line_no, col_name(col_t) + ": expected seconds >= 0 or a time like \"2023-11-16 18:15:46.68\", found \"" +
                           std::string(cells[static_cast<std::size_t>(col_t)]) + "\"");
      ok = false;
    }
    auto tokens = [&](int c, std::int64_t min, std::int64_t& dst) {
      const std::string_view v = cells[static_cast<std::size_t>(c)];
      if (!parse_int(v, dst) || dst < min || dst > kMaxTokens) {
        problem(line_no, col_name(c) + ": expected an integer in [" + std::to_string(min) + ", " +
                             std::to_string(kMaxTokens) + "], found \"" + std::string(v) + "\"");
        ok = false;
      }
    };
    tokens(col_p, 1, q.prompt_tokens);
    tokens(col_o, 1, q.output_tokens);
    if (!ok) continue;
    if (static_cast<std::int64_t>(out.size()) >= kMaxRequests) {
      problem(line_no, "expected at most " + std::to_string(kMaxRequests) + " requests in a trace");
      break;
    }
    out.push_back(q);
  }
  if (!header_seen) problem(std::max(1, line_no), "expected a header line and at least one request, found none");
  if (header_seen && out.empty() && diags.size() == before) {
    problem(line_no, "expected at least one request after the header, found none");
  }
  if (suppressed > 0) {
    diags.error_at_line(file, line_no, "... and " + std::to_string(suppressed) + " more problems in this file");
  }
  if (diags.size() != before) return {};
  // Arrival times relative to the first request, in arrival order (a stable sort:
  // requests with equal times keep the file's order).
  std::stable_sort(out.begin(), out.end(),
                   [](const spec::TraceRequest& a, const spec::TraceRequest& b) { return a.arrival_s < b.arrival_s; });
  const double t0 = out.front().arrival_s;
  for (spec::TraceRequest& q : out) q.arrival_s -= t0;
  return out;
}

std::optional<spec::ServingSpec> parse_serving(const json& node, const ParseContext& ctx, const FileSource& files) {
  const std::size_t before = ctx.diags.size();
  io::JsonReader r(node, ctx.file, ctx.pointer, ctx.diags);
  if (!r.valid()) return std::nullopt;
  ctx.where.record_tree("serving", node, ctx.file, ctx.pointer);
  spec::ServingSpec s;
  bool trace = false;
  if (auto a = r.object("arrivals", Required::kYes); a && a->valid()) {
    const auto kind = a->choice("kind", Required::kYes, {"poisson", "gamma", "trace"});
    trace = kind && *kind == "trace";
    s.seed = static_cast<std::uint64_t>(a->integer_or("seed", 1, 0, std::numeric_limits<std::int64_t>::max()));
    if (trace) {
      s.arrivals = spec::ArrivalKind::kTrace;
      if (auto f = a->string("file", Required::kYes)) {
        s.trace_file = *f;
        s.trace_path = resolve_reference(ctx.file, *f);
        const FileSource::ReadResult rr = files.read(s.trace_path);
        if (rr.status != FileSource::Status::kOk) {
          std::string msg = rr.status == FileSource::Status::kNotFound ? "file not found: \"" + *f + "\""
                                                                        : "cannot read file \"" + *f + "\": " + rr.error;
          if (*f != s.trace_path) msg += " (resolved to " + s.trace_path + ")";
          a->error("file", msg);
        } else {
          s.trace = parse_request_trace(rr.text, s.trace_path, ctx.diags);
        }
      }
      s.trace_time_scale = a->number_or("time_scale", 1.0, 1e-6, 1e6);
      for (const char* k : {"rate", "cv", "requests"}) {
        if (a->has(k)) {
          a->allow(k);
          a->error(k, "does not apply to arrivals of kind \"trace\" (the trace gives the arrival times)");
        }
      }
    } else {
      s.arrivals = kind && *kind == "gamma" ? spec::ArrivalKind::kGamma : spec::ArrivalKind::kPoisson;
      s.rate_per_s = a->number("rate", Required::kYes, 1e-6, 1e7).value_or(1.0);
      s.requests = a->integer("requests", Required::kYes, 1, kMaxRequests).value_or(1);
      if (kind && *kind == "gamma") {
        s.cv = a->number("cv", Required::kYes, 0.01, 100.0).value_or(1.0);
      } else if (a->has("cv")) {
        a->allow("cv");
        a->error("cv", "applies only to arrivals of kind \"gamma\" (Poisson arrivals have cv 1)");
      }
      for (const char* k : {"file", "time_scale"}) {
        if (a->has(k)) {
          a->allow(k);
          a->error(k, "applies only to arrivals of kind \"trace\"");
        }
      }
    }
    a->finish();
  }
  if (trace) {
    for (const char* k : {"prompt_tokens", "output_tokens"}) {
      if (r.has(k)) {
        r.allow(k);
        r.error(k, "does not apply to arrivals of kind \"trace\" (the trace gives each request's tokens)");
      }
    }
  } else {
    if (auto d = parse_length(r, "prompt_tokens", Required::kYes)) s.prompt = *d;
    if (auto d = parse_length(r, "output_tokens", Required::kYes)) s.output = *d;
  }
  if (auto sc = r.object("scheduler", Required::kNo); sc && sc->valid()) {
    s.max_num_seqs = static_cast<int>(sc->integer_or("max_num_seqs", s.max_num_seqs, 1, 1 << 20));
    s.max_batched_tokens = sc->integer_or("max_batched_tokens", s.max_batched_tokens, 1, kMaxTokens);
    s.block_size = static_cast<int>(sc->integer_or("block_size", s.block_size, 1, 1 << 16));
    s.kv_memory_fraction = sc->number_or("kv_memory_fraction", s.kv_memory_fraction, 0.01, 1.0);
    s.chunked_prefill = sc->boolean_or("chunked_prefill", s.chunked_prefill);
    const std::string p = sc->choice_or("preemption", "recompute", {"recompute", "swap"});
    s.preemption = p == "swap" ? spec::PreemptionMode::kSwap : spec::PreemptionMode::kRecompute;
    if (auto b = sc->quantity("swap_bandwidth", Dimension::kBandwidth, Required::kNo, 1e6, 1e15)) {
      s.swap_bandwidth = Bandwidth::bytes_per_s(*b);
    }
    sc->finish();
  }
  const std::string router = r.choice_or("router", "least_loaded", {"round_robin", "least_loaded"});
  s.router = router == "round_robin" ? spec::RouterPolicy::kRoundRobin : spec::RouterPolicy::kLeastLoaded;
  s.reject_on_failure = r.choice_or("on_failure", "requeue", {"requeue", "reject"}) == "reject";
  if (auto slo = r.object("slo", Required::kNo); slo && slo->valid()) {
    s.slo_ttft_s = slo->quantity("ttft", Dimension::kTime, Required::kNo, 1e-6, 86400.0).value_or(s.slo_ttft_s);
    s.slo_tpot_s = slo->quantity("tpot", Dimension::kTime, Required::kNo, 1e-6, 3600.0).value_or(s.slo_tpot_s);
    slo->finish();
  }
  if (const json* sw = r.array("rate_sweep", Required::kNo)) {
    if (trace) {
      r.error("rate_sweep", "does not apply to arrivals of kind \"trace\" (its arrival times are fixed)");
    } else if (sw->empty() || sw->size() > kMaxSweep) {
      r.error("rate_sweep", "expected 1 to " + std::to_string(kMaxSweep) + " arrival rates, found " +
                                std::to_string(sw->size()));
    } else {
      for (std::size_t i = 0; i < sw->size(); ++i) {
        const json& e = (*sw)[i];
        if (!e.is_number() || !(e.get<double>() > 0.0) || e.get<double>() > 1e7) {
          ctx.diags.error(ctx.file, io::pointer_join(r.pointer_of("rate_sweep"), i),
                          "expected an arrival rate in requests per second in (0, 1e7], found " + io::describe(e));
          continue;
        }
        s.rate_sweep.push_back(e.get<double>());
      }
    }
  }
  r.finish();
  if (ctx.diags.size() != before) return std::nullopt;
  return s;
}

}  // namespace masim::frontend
