// The CPU engine's parallel loop: a fixed pool of worker threads (all cores, NATTEN_NUM_THREADS overrides).
// Called from the CPU executor's dispatcher thread, which takes a share of the work itself.
#pragma once
#include <stdint.h>
#include <functional>

namespace natten::cpu {

/// Number of threads parallel_for uses (workers + the calling thread).
int num_threads();

/// Lowers the calling thread's scheduling priority by NATTEN_CPU_NICE (default 10; 0 keeps it): the engine's
/// threads then yield the cores to the JS event loop when they compete for them, so a server stays
/// responsive while the CPU engine is busy (Linux; elsewhere a no-op). Called by every compute thread.
/// Why 10: on 2 cores filled by the engine, a 10 ms interval on the JS thread lagged up to 50 ms at +5 (CFS
/// weight 335 against the JS thread's 1024) and about 9 ms at +10 (weight 110), with no loss of throughput.
void lower_thread_priority();

/// Runs fn(begin, end) over [0, n) split into contiguous chunks of at least `grain` items, in parallel,
/// and returns when all chunks are done. Not reentrant: call it from one thread at a time.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace natten::cpu
