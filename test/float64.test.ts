// float64 computes in float64 on the CPU (docs/design.md §3): the ops the fused/unfused sweeps do not cover
// against the fp64 oracle at 1e-12: mergeAttentions, and the unfused chain of neighborhoodAttention (scale,
// layout permutes, GQA head repetition) against the oracle's fused forward. The LSE stays float32.
import * as natten from '../lib';
import * as oracle from './oracle';
import { maxErr, pair, toOracle } from './helpers/na_compare';

const F64 = 'float64' as const;

describe('float64 is computed in float64', () => {
  test('mergeAttentions: outputs combined in float64 by their float32 LSEs', async () => {
    const [B, X, H, Dv, parts] = [2, 7, 3, 5, 3];
    const outs = Array.from({ length: parts }, (_, i) => pair(oracle.randnTensor([B, X, H, Dv], 10 + i), F64));
    const lses = Array.from({ length: parts }, (_, i) => pair(oracle.randnTensor([B, X, H], 20 + i, 3), 'float32'));
    const merged = natten.mergeAttentions(
      outs.map((o) => o.t),
      lses.map((l) => l.t),
    );
    expect(merged.output.dtype).toBe(F64);
    expect(merged.lse.dtype).toBe('float32');
    const rows = B * X * H;
    const want = new Float64Array(rows * Dv),
      wantLse = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const l = lses.map((x) => x.o.data[r]);
      const m = Math.max(...l);
      const sum = l.reduce((a, x) => a + Math.exp(x - m), 0);
      wantLse[r] = m + Math.log(sum);
      for (let i = 0; i < parts; i++)
        for (let c = 0; c < Dv; c++) want[r * Dv + c] += (Math.exp(l[i] - m) / sum) * outs[i].o.data[r * Dv + c];
    }
    expect(maxErr(await merged.output.toArray(), want)).toBeLessThanOrEqual(1e-12);
    expect(maxErr(await merged.lse.toArray(), wantLse)).toBeLessThanOrEqual(1e-5);
  });

  test.each([
    [1, [13], { kernelSize: 4, dilation: 2, isCausal: true }],
    [2, [6, 7], { kernelSize: [3, 2], stride: [1, 2] }],
    [3, [4, 3, 5], { kernelSize: [2, 3, 3], isCausal: [false, true, false] }],
  ] as const)(
    'the unfused chain of neighborhoodAttention%sd (GQA, extra KV, scale) equals the oracle',
    async (dims, S, win) => {
      const [B, H, Hkv, D, Dv, E] = [2, 4, 2, 3, 5, 2];
      const q = pair(oracle.randnTensor([B, ...S, H, D], 1), F64);
      const k = pair(oracle.randnTensor([B, ...S, Hkv, D], 2), F64);
      const v = pair(oracle.randnTensor([B, ...S, Hkv, Dv], 3), F64);
      const ek = pair(oracle.randnTensor([B, E, Hkv, D], 4), F64);
      const ev = pair(oracle.randnTensor([B, E, Hkv, Dv], 5), F64);
      const fn = [null, natten.neighborhoodAttention1d, natten.neighborhoodAttention2d, natten.neighborhoodAttention3d][
        dims
      ]!;
      const opts = { ...win, scale: 0.37, additionalKeys: ek.t, additionalValues: ev.t };
      const want = oracle.naForward(q.o, k.o, v.o, {
        ...win,
        scale: 0.37,
        additionalKeys: ek.o,
        additionalValues: ev.o,
      });
      natten.useFusedNA(false);
      try {
        const out = fn(q.t, k.t, v.t, opts);
        expect(out.dtype).toBe(F64);
        expect(maxErr(await out.toArray(), want.output.data)).toBeLessThanOrEqual(1e-12);
      } finally {
        natten.useFusedNA(true);
      }
      const fused = fn(q.t, k.t, v.t, opts);
      expect(maxErr(await fused.toArray(), want.output.data)).toBeLessThanOrEqual(1e-12);
    },
  );

  test('float64 results are not float32 results widened', async () => {
    const q = natten.randn([1, 16, 1, 8], { dtype: F64, seed: 1 });
    const out = await natten.na1d(q, q, q, { kernelSize: 5 }).toArray();
    const out32 = await natten
      .na1d(q.to({ dtype: 'float32' }), q.to({ dtype: 'float32' }), q.to({ dtype: 'float32' }), {
        kernelSize: 5,
      })
      .toArray();
    const o = await toOracle(q);
    const want = oracle.naForward(o, o, o, { kernelSize: 5 }).output.data;
    expect(maxErr(out, want)).toBeLessThanOrEqual(1e-13);
    expect(maxErr(out32, want)).toBeGreaterThan(1e-9); // the float32 inputs alone move it that far
  });
});
