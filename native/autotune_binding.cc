// naTune (typed in lib/native.ts): the autotuner's timing on a CUDA device (docs/design.md §4, README
// "Autotuner"). At call time, on the JS thread, it puts a Gate into the device's stream and returns a
// promise. The device's tuner thread then, at the gate's place in the stream (its side stream), runs each
// candidate config `warmupSteps` times and `steps` times between two CUDA events, on scratch outputs, waits
// for the events on its own thread, runs the op itself with the fastest candidate on the caller's
// buffers, and releases the gate. The JS thread never waits, and the stream's later work (reads, other
// ops) runs after the tuned op, as if it had been enqueued at call time.
//
// A candidate that fails for want of memory or as an invalid config (an unsupported tile shape, a launch
// error that leaves the context usable) is skipped and reported in `errors`; any other failure (a sticky
// CUDA error) ends the job and becomes the op's failure, raised by the device's next read.
#include <napi.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../kernels/dispatch/na_ops.h"
#include "../kernels/runtime/gpu_runtime.h"
#include "addon_env.h"
#include "fused_args.h"
#include "js_interop.h"
#include "op_call.h"
#include "serial_queue.h"

namespace natten::node {
namespace {

/// The tuner thread of a CUDA device: tuning jobs of a device run one after another, in call order, each
/// at its own gate.
SerialQueue& tuner_thread(int device) {
  static auto* tuners = new DeviceQueues("natten-tune");
  return tuners->get(device);
}

/// The op a job tunes: the fused forward or backward on fixed buffers, run with a config.
struct TunedOp {
  bool backward = false;
  NaProblem p;
  DType t = DType::BFloat16;
  FusedForwardArgs fwd;
  FusedBackwardArgs bwd;

  void run(int device, const FusedConfig& c) const {
    if (backward) launch::na_backward(device, p, t, bwd, c);
    else launch::na_forward(device, p, t, fwd, c);
  }
};

/// Scratch blocks of the candidate runs (freed stream-ordered, after them).
using ScratchList = std::vector<std::unique_ptr<gpu::DeviceScratch>>;

/// A device block of `elems` elements of `bytes_per` bytes, kept in `keep`; null when elems is 0.
void* scratch(int device, ScratchList& keep, int64_t elems, size_t bytes_per) {
  if (elems <= 0) return nullptr;
  keep.push_back(std::make_unique<gpu::DeviceScratch>(device, (size_t)elems * bytes_per));
  return keep.back()->data();
}

/// `op` writing scratch outputs instead of the caller's: what candidates run on.
TunedOp on_scratch(int device, const TunedOp& op, const ProblemSizes& s, ScratchList& keep) {
  TunedOp trial = op;
  const size_t e = dtype_size(op.t);
  if (op.backward) {
    trial.bwd.dq = scratch(device, keep, s.fused_q, e);
    trial.bwd.dk = scratch(device, keep, s.fused_k, e);
    trial.bwd.dv = scratch(device, keep, s.fused_v, e);
    trial.bwd.d_extra_k = op.bwd.d_extra_k ? scratch(device, keep, s.fused_ek, e) : nullptr;
    trial.bwd.d_extra_v = op.bwd.d_extra_v ? scratch(device, keep, s.fused_ev, e) : nullptr;
  } else {
    trial.fwd.out = scratch(device, keep, s.fused_out, e);
    trial.fwd.lse = op.fwd.lse ? static_cast<float*>(scratch(device, keep, s.lse, 4)) : nullptr;
  }
  return trial;
}

/// True for failures that disqualify one candidate only: out of memory, a config the problem or device
/// cannot run, a launch error that leaves the device usable.
bool skippable(const Error& e, int device) {
  if (e.code() == "ERR_NATTEN_OOM" || e.code() == "ERR_NATTEN_UNSUPPORTED") return true;
  return e.code() == "ERR_NATTEN_CUDA" && !gpu::device_lost(device);
}

/// What a job measured: milliseconds per run of each candidate (NaN: skipped, `errors` says why), and
/// the candidate the op ran with (-1: the default config).
struct Outcome {
  std::vector<double> ms;
  std::vector<std::string> errors;
  int chosen = -1;
};

struct TuneJob {
  int device = 0;
  TunedOp op;
  ProblemSizes sizes;
  std::vector<FusedConfig> candidates;
  FusedConfig fallback;  // the default config: what runs when every candidate fails
  int warmup = 0, steps = 1;
  std::shared_ptr<gpu::Gate> gate;
  std::vector<StoragePtr> keep;  // the caller's storages, alive until the op is enqueued
};

/// Milliseconds per run of `trial` with config `c`: `warmup` untimed runs, then `steps` between two events.
double time_candidate(const TuneJob& job, const TunedOp& trial, const FusedConfig& c) {
  for (int i = 0; i < job.warmup; ++i) trial.run(job.device, c);
  gpu::Timer timer(job.device);
  timer.start();
  for (int i = 0; i < job.steps; ++i) trial.run(job.device, c);
  timer.stop();
  return timer.elapsed_ms() / job.steps;
}

/// Times every candidate on scratch outputs into `out` (no scratch memory: none is timed).
void time_candidates(const TuneJob& job, Outcome& out) {
  const size_t n = job.candidates.size();
  out.ms.assign(n, NAN);
  out.errors.assign(n, "");
  ScratchList blocks;
  TunedOp trial;
  try {
    trial = on_scratch(job.device, job.op, job.sizes, blocks);
  } catch (const Error& e) {
    if (!skippable(e, job.device)) throw;
    out.errors.assign(n, std::string("no memory for the tuning's scratch outputs: ") + e.what());
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    try {
      out.ms[i] = time_candidate(job, trial, job.candidates[i]);
    } catch (const Error& e) {
      if (!skippable(e, job.device)) throw;
      out.errors[i] = e.what();
    }
  }
}

/// The fastest timed candidate, -1 when none was timed.
int fastest(const Outcome& out) {
  int best = -1;
  for (int i = 0; i < (int)out.ms.size(); ++i)
    if (std::isfinite(out.ms[i]) && (best < 0 || out.ms[i] < out.ms[best])) best = i;
  return best;
}

/// The job on the tuner thread: candidates, then the op with the fastest (or the default config), then the
/// gate's release. Throws what must fail the op.
void run_job(const TuneJob& job, Outcome& out) {
  gpu::SideStreamScope side(job.device);
  job.gate->join();
  time_candidates(job, out);
  out.chosen = fastest(out);
  try {
    job.op.run(job.device, out.chosen >= 0 ? job.candidates[out.chosen] : job.fallback);
  } catch (const Error& e) {
    if (out.chosen < 0 || !skippable(e, job.device)) throw;
    out.errors[out.chosen] = e.what();
    out.chosen = -1;
    job.op.run(job.device, job.fallback);
  }
  job.gate->release();
}

Napi::Value outcome_value(Napi::Env env, const Outcome& out) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array ms = Napi::Array::New(env, out.ms.size());
  Napi::Array errors = Napi::Array::New(env, out.errors.size());
  for (uint32_t i = 0; i < out.ms.size(); ++i) {
    ms.Set(i, Napi::Number::New(env, out.ms[i]));
    errors.Set(i, Napi::String::New(env, out.errors[i]));
  }
  o.Set("ms", ms);
  o.Set("errors", errors);
  o.Set("chosen", Napi::Number::New(env, out.chosen));
  return o;
}

/// options.candidates: the configs to time (at least one).
std::vector<FusedConfig> candidates_arg(const Options& o, int dims) {
  const Napi::Array list = o.array("candidates");
  if (list.Length() < 1)
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE", "options.candidates must not be empty");
  std::vector<FusedConfig> out;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const std::string key = std::to_string(i);
    out.push_back(config_arg(Options(list.Get(i), &o, key.c_str()), dims));
  }
  return out;
}

// naTune({pass, dtype, problem, q, k, v, additionalKeys, additionalValues, output, lse, [dOut, dq, dk, dv,
//         dAdditionalKeys, dAdditionalValues,] config, candidates, warmupSteps, steps})
//   -> Promise<{ms, errors, chosen}>
Napi::Value NaTune(const Napi::CallbackInfo& info) {
  NaCall c(info);
  const std::string pass = c.options.get("pass").ToString().Utf8Value();
  if (pass != "forward" && pass != "backward")
    throw Error(ErrorKind::Range, "ERR_NATTEN_INVALID_ARG_VALUE", "options.pass must be 'forward' or 'backward'");
  auto job = std::make_shared<TuneJob>();
  job->op.backward = pass == "backward";
  job->op.p = c.p;
  job->op.t = c.t;
  if (job->op.backward) job->op.bwd = backward_args(c);
  else job->op.fwd = forward_args(c);
  if (c.device().is_cpu())
    throw Error(ErrorKind::Range, "ERR_NATTEN_UNSUPPORTED", "naTune: tuning runs on CUDA devices only");
  job->device = c.device().index;
  job->sizes = c.s;
  job->candidates = candidates_arg(c.options, c.p.dims);
  job->fallback = c.config();
  job->warmup = (int)c.options.integer("warmupSteps", 0, 1000);
  job->steps = (int)c.options.integer("steps", 1, 10000);
  job->keep = c.storages();
  job->gate = std::make_shared<gpu::Gate>(job->device);  // from here on the stream waits for the job
  auto [promise, reply] = addon_env(info.Env()).completion->expect(info.Env());
  tuner_thread(job->device).enqueue([job, reply = reply] {
    auto out = std::make_shared<Outcome>();
    try {
      run_job(*job, *out);
      reply.resolve([out](Napi::Env env) { return outcome_value(env, *out); });
    } catch (const Error& e) {
      gpu::defer_error(job->device, e);  // the op did not run: its outputs' next read must fail
      reply.reject(e);
    } catch (const std::exception& e) {
      const Error err(ErrorKind::Natten, "ERR_NATTEN_INTERNAL", e.what());
      gpu::defer_error(job->device, err);
      reply.reject(err);
    }
    job->gate->release();  // whatever happened, the stream goes on
  });
  return promise;
}
NATTEN_BINDING("naTune", NaTune);

}  // namespace
}  // namespace natten::node
