// The one-time NATTEN_FUSED_FALLBACK warning: once per process and device, only on CUDA devices without the
// fused kernels (the device query is stubbed, so this runs without a GPU), never on the CPU; on a GPU, the
// fused ops warn exactly when natten.hasFusedNA says the device has no fused kernels (fp32 does not warn).
import * as natten from '../lib';
import { FUSED_FALLBACK_CODE, warnIfFusedFallback, type FallbackProbe } from '../lib/ops/fallback_warning';
import { describeGpu } from './helpers/gpu';

let emitted: [string, { code?: string; type?: string }][];
beforeEach(() => {
  emitted = [];
  jest.spyOn(process, 'emitWarning').mockImplementation(((msg: string, opts: { code?: string; type?: string }) => {
    emitted.push([msg, opts]);
  }) as typeof process.emitWarning);
});
afterEach(() => jest.restoreAllMocks());

// Fake device indices well above any real machine's, so the GPU test below finds cuda:0 unchecked.
const turing = (): FallbackProbe => ({ hasFused: false, name: 'Fake T4', computeCapability: '7.5' });

test('warns once per device, with the code, naming the device and its compute capability', () => {
  const probe = jest.fn(turing);
  expect(warnIfFusedFallback('cuda:90', probe)).toBe(true);
  expect(warnIfFusedFallback('cuda:90', probe)).toBe(false);
  expect(warnIfFusedFallback('cuda:90', probe)).toBe(false);
  expect(probe).toHaveBeenCalledTimes(1);
  expect(probe).toHaveBeenCalledWith(90);
  expect(emitted).toHaveLength(1);
  const [msg, opts] = emitted[0];
  expect(opts).toEqual({ code: FUSED_FALLBACK_CODE, type: 'NattenWarning' });
  expect(FUSED_FALLBACK_CODE).toBe('NATTEN_FUSED_FALLBACK');
  expect(msg).toContain('cuda:90');
  expect(msg).toContain('Fake T4');
  expect(msg).toContain('compute capability 7.5');
  expect(msg).toMatch(/reference \(SIMT\) kernels/);

  // Another device without fused kernels gets its own warning.
  expect(warnIfFusedFallback('cuda:91', probe)).toBe(true);
  expect(emitted).toHaveLength(2);
  expect(emitted[1][0]).toContain('cuda:91');
});

test('no warning on a GPU with the fused kernels, nor on the CPU', () => {
  const probe = jest.fn((): FallbackProbe => ({ hasFused: true, name: 'Fake H100', computeCapability: '9.0' }));
  expect(warnIfFusedFallback('cuda:92', probe)).toBe(false);
  expect(warnIfFusedFallback('cuda:92', probe)).toBe(false);
  expect(probe).toHaveBeenCalledTimes(1); // checked once, then remembered
  const never = jest.fn(turing);
  expect(warnIfFusedFallback('cpu', never)).toBe(false);
  expect(never).not.toHaveBeenCalled();
  expect(emitted).toHaveLength(0);
});

test('the fused ops on the CPU do not warn', () => {
  const x = natten.randn([1, 8, 2, 8], { seed: 1 });
  const out = natten.na1d(x, x, x, { kernelSize: 3, returnLse: true });
  const g = natten.na1dBackward(x, x, x, x, out.output, out.lse, { kernelSize: 3 });
  for (const t of [x, out.output, out.lse, g.dq, g.dk, g.dv]) t.dispose();
  expect(emitted).toHaveLength(0);
});

describeGpu('fused ops on cuda:0', () => {
  test('warn exactly once when the device has no fused kernels, never otherwise (float32 included)', async () => {
    for (const dtype of ['float32', 'bfloat16', 'float32'] as const) {
      const x = natten.randn([1, 16, 2, 32], { dtype, device: 'cuda:0', seed: 1 });
      const out = natten.na1d(x, x, x, { kernelSize: 5, returnLse: true });
      const g = natten.na1dBackward(x, x, x, x, out.output, out.lse, { kernelSize: 5 });
      await natten.synchronize('cuda:0');
      for (const t of [x, out.output, out.lse, g.dq, g.dk, g.dv]) t.dispose();
    }
    const codes = emitted.filter(([, o]) => o?.code === FUSED_FALLBACK_CODE);
    expect(codes).toHaveLength(natten.hasFusedNA('cuda:0') ? 0 : 1);
  });
});
