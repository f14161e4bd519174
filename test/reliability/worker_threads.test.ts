// Worker threads and the native layer (reliability items 1, 2, 3 and the worker half of 5). Every
// scenario runs in a child process (fixtures/worker_errors.js, fixtures/workers_lifecycle.js): a crash is
// a failed test, with the child's signal and stderr in the message.
import { describeExit, expectExit, report, runFixture, runMany } from './child';

interface Result {
  ok: boolean;
  [k: string]: unknown;
}

/** Exit 0 without a signal, and the fixture's own checks passed. */
function expectOk(r: Awaited<ReturnType<typeof runFixture>>): void {
  expectExit(r, 0);
  const res = report<Result>(r, 'RESULT');
  if (!res?.ok) throw new Error(`fixture checks failed: ${JSON.stringify(res)}; ${describeExit(r)}`);
}

describe('native errors with worker threads', () => {
  it('after a worker that used natten exits, a native OOM on the main thread is a NattenError ERR_NATTEN_OOM', async () => {
    expectOk(await runFixture('worker_errors.js', { args: ['after-worker-exit'], timeoutMs: 30000 }));
  });

  it('three workers and the main thread raise native errors 200 times each at once, each of the right class and code', async () => {
    expectOk(await runFixture('worker_errors.js', { args: ['concurrent'], timeoutMs: 60000 }));
  });
});

describe('workers that end while their natten work is pending', () => {
  // 10 long na1d calls: about 1.2 s of work on 2 cores, queued on the process-wide CPU queue.
  const env = { NA_CALLS: '10' };

  it('terminating a worker that awaits toArray() of queued work does not abort; the main thread still computes', async () => {
    expectOk(await runFixture('workers_lifecycle.js', { args: ['terminate-pending'], env, timeoutMs: 60000 }));
  });

  it('terminating workers in the middle of a tight loop of ops (5 times) does not abort; the main thread still computes', async () => {
    expectOk(await runFixture('workers_lifecycle.js', { args: ['terminate-busy'], timeoutMs: 60000 }));
  });

  it("terminating a worker with pending promises leaves the main thread's pending toArray() correct", async () => {
    expectOk(await runFixture('workers_lifecycle.js', { args: ['terminate-main-pending'], env, timeoutMs: 60000 }));
  });

  it.each([
    ['its script ends', 'worker-only-end'],
    ['it calls process.exit()', 'worker-only-exit'],
  ])(
    'a worker that alone loaded natten queues long work and %s: the process exits 0 (10 runs)',
    async (_what, mode) => {
      const runs = await runMany(10, 2, () =>
        runFixture('workers_lifecycle.js', {
          args: [mode],
          env: { NA_CALLS: '8', NATTEN_NUM_THREADS: '1' },
          timeoutMs: 60000,
        }),
      );
      const bad = runs
        .map((r, i) => ({ i, r }))
        .filter(({ r }) => r.timedOut || r.signal !== null || r.code !== 0 || !report<Result>(r, 'RESULT')?.ok);
      if (bad.length) {
        throw new Error(
          `${bad.length}/10 runs failed:\n` + bad.map(({ i, r }) => `  run ${i}: ${describeExit(r)}`).join('\n'),
        );
      }
    },
  );
});
