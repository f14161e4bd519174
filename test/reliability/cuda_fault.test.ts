// A sticky CUDA error (reliability item 13), in a child process: after a kernel fault on cuda:0, every
// use of cuda:0 fails with ERR_NATTEN_CUDA asking for a restart, the CPU keeps working, and the process
// exits 0. Needs natten.internal.triggerDeviceFault (a debug kernel writing to an illegal address).
import { describeGpu } from '../helpers/gpu';
import { describeExit, expectExit, report, runFixture } from './child';

describeGpu('sticky CUDA error', () => {
  it('after a device fault, cuda:0 fails with ERR_NATTEN_CUDA mentioning restart; the CPU still computes; exit 0', async () => {
    const r = await runFixture('cuda_fault.js', { timeoutMs: 120000 });
    const res = report<{ ok: boolean; problems: string[]; seen: Record<string, string> }>(r, 'RESULT');
    process.stderr.write(`  [cuda fault] ${JSON.stringify(res?.seen ?? {})}\n`);
    if (!res) throw new Error(`no RESULT line; ${describeExit(r)}`);
    expect(res.problems).toEqual([]);
    expectExit(r, 0);
  });
});
