// A pending toArray() must not hold one of libuv's pool threads while it waits for the CPU queue
// (reliability item 6): with a pool of one thread, an fs.stat started after the read must complete
// first. Checked by order, not by time.
import { describeExit, expectExit, report, runFixture } from './child';

describe('libuv thread pool', () => {
  it('with UV_THREADPOOL_SIZE=1, fs.stat completes while a read of long queued work is pending', async () => {
    const r = await runFixture('threadpool.js', { env: { UV_THREADPOOL_SIZE: '1', NA_CALLS: '10' }, timeoutMs: 60000 });
    expectExit(r, 0);
    const order = report<string[]>(r, 'ORDER');
    if (!order) throw new Error(`no ORDER line; ${describeExit(r)}`);
    expect(order).toEqual(['stat', 'read']);
  });
});
