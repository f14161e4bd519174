// Throughput of the special-function unit's base-2 exponential on one card, per form of ex2.approx: f32
// (what the fused forwards' softmax issues, one MUFU.EX2 per score) and the packed bf16x2 / f16x2 forms
// (which ptxas on sm_90a splits into two MUFU.EX2.BF16 / .F16, one per half). Every thread runs 16
// independent chains, so the figure is the unit's rate, not its latency.
//   nvcc -O3 -arch=sm_90a -o /tmp/mufu_rate dev/gpu/mufu_rate.cu && /tmp/mufu_rate
//   cuobjdump -sass /tmp/mufu_rate | grep MUFU      (the instructions each form compiles to)
#include <cstdint>
#include <cstdio>

enum Form { kF32, kBf16x2, kF16x2 };

template <Form F>
__global__ void exp_chains(float* sink, int iters) {
  float f[16];
  uint32_t h[16];
  for (int i = 0; i < 16; ++i) {
    f[i] = -1e-3f * float(threadIdx.x + i);
    h[i] = 0x3c003c00u ^ (threadIdx.x * 7u + i);
  }
  for (int it = 0; it < iters; ++it) {
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      if (F == kF32) asm volatile("ex2.approx.ftz.f32 %0, %0;" : "+f"(f[i]));
      if (F == kBf16x2) asm volatile("ex2.approx.ftz.bf16x2 %0, %0;" : "+r"(h[i]));
      if (F == kF16x2) asm volatile("ex2.approx.f16x2 %0, %0;" : "+r"(h[i]));
    }
  }
  float s = 0.f;
  for (int i = 0; i < 16; ++i) s += f[i] + __uint_as_float(h[i]);
  if (s == 12345.f) sink[0] = s;  // keeps the chains live
}

static void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

template <Form F>
static void time_form(const char* name, int values_per_instr, float* sink, int sms, double clock_hz) {
  const int iters = 4096, blocks = sms * 8, threads = 256;
  cudaEvent_t a, b;
  check(cudaEventCreate(&a), "event");
  check(cudaEventCreate(&b), "event");
  for (int rep = 0; rep < 3; ++rep) {
    check(cudaEventRecord(a), "record");
    exp_chains<F><<<blocks, threads>>>(sink, iters);
    check(cudaGetLastError(), "launch");
    check(cudaEventRecord(b), "record");
    check(cudaEventSynchronize(b), "sync");
    float ms = 0.f;
    check(cudaEventElapsedTime(&ms, a, b), "elapsed");
    const double instr = double(blocks) * threads * iters * 16;
    const double per_clock = instr / (ms * 1e-3) / sms / clock_hz;
    std::printf("%-7s %.3f ms  %.2f instructions/clock/SM  %.2f exponentials/clock/SM\n", name, ms, per_clock,
                per_clock * values_per_instr);
  }
}

int main() {
  float* sink = nullptr;
  check(cudaMalloc(&sink, sizeof(float)), "malloc");
  int sms = 0, khz = 0;
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), "attribute");
  check(cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0), "attribute");
  std::printf("%d SMs, clock %.0f MHz (the rated maximum: per-clock figures are lower bounds)\n", sms, khz / 1e3);
  time_form<kF32>("f32", 1, sink, sms, khz * 1e3);
  time_form<kBf16x2>("bf16x2", 2, sink, sms, khz * 1e3);
  time_form<kF16x2>("f16x2", 2, sink, sms, khz * 1e3);
  return 0;
}
