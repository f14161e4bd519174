// The fused configs the selection picks (forward cost model, backward plan) for a fixed sweep of problems
// on an H100 and an A100, recomputed from capabilities given (no GPU needed) and compared with the record
// in test/fixtures/fused_config_choices.json (written by dev/record_config_choices.js). A refactor of the
// kernels' dispatch must keep every choice; a change of the heuristics re-records the fixture on purpose.
// (With given capabilities the forward's CTAs per SM are estimated from shared memory: the record pins the
// selection logic, not what a physical H100 or A100, whose occupancy also depends on registers, picks.)
import * as fs from 'fs';
import * as path from 'path';
import * as natten from '../lib';
import type { NativeDeviceCaps, NativeFusedChoices, NativeProblem } from '../lib/native';
import type { DType } from '../lib/dtype';

/** One recorded problem and its choices per device. */
interface RecordedProblem {
  name: string;
  dtype: DType;
  /** Recorded with every field. */
  problem: Required<NativeProblem>;
  choices: Record<string, NativeFusedChoices>;
}

/** The fixture file. */
interface ChoicesFixture {
  devices: Record<string, NativeDeviceCaps>;
  problems: RecordedProblem[];
}

const fixture = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'fixtures', 'fused_config_choices.json'), 'utf8'),
) as ChoicesFixture;
const PASSES = ['forward', 'backward', 'backwardDeterministic'] as const;
const cudaBuild = natten.buildInfo().cuda;

/** JSON with object keys sorted: equal for equal values whatever the key order or the realm (objects made by
 * the addon have Node's prototypes, not jest's, so deep-equality helpers that check prototypes differ). */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** The error code chooseFusedConfigs throws for the first recorded problem with `caps` (undefined: none). */
function errorCodeWith(caps: unknown): string | undefined {
  const r = fixture.problems[0];
  try {
    natten.internal.chooseFusedConfigs(r.problem, r.dtype, caps as NativeDeviceCaps);
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('the recorded sweep', () => {
  const problems = fixture.problems;
  const some = (pred: (p: Required<NativeProblem>, r: RecordedProblem) => boolean): boolean =>
    problems.some((r) => pred(r.problem, r));

  it('has at least 60 uniquely named problems, each recorded on an H100 and an A100', () => {
    expect(problems.length).toBeGreaterThanOrEqual(60);
    expect(new Set(problems.map((r) => r.name)).size).toBe(problems.length);
    expect(Object.keys(fixture.devices).sort()).toEqual(['A100', 'H100']);
    for (const r of problems) expect(Object.keys(r.choices).sort()).toEqual(['A100', 'H100']);
  });

  it('covers 1-D/2-D/3-D, even and whole-axis windows, dilation, stride, causal, GQA, additional KV, head dims and dtypes', () => {
    for (const dims of [1, 2, 3]) expect(some((p) => p.dims === dims)).toBe(true);
    expect(some((p) => p.kernel.some((k) => k % 2 === 0))).toBe(true);
    expect(some((p) => p.kernel.some((k, a) => k === p.length[a]))).toBe(true);
    expect(some((p) => p.dilation.some((d) => d > 1))).toBe(true);
    expect(some((p) => p.stride.some((s) => s > 1))).toBe(true);
    expect(some((p) => p.causal.some((c) => c))).toBe(true);
    expect(some((p) => p.headsKv < p.heads)).toBe(true);
    expect(some((p) => p.nExtra > 0)).toBe(true);
    for (const d of [32, 64, 128, 256]) expect(some((p) => p.headDim === d)).toBe(true);
    for (const t of ['float16', 'bfloat16']) expect(some((_, r) => r.dtype === t)).toBe(true);
    expect(some((p) => p.batch * p.heads >= 256) && some((p) => p.batch * p.heads === 1)).toBe(true);
  });
});

// chooseFusedConfigs exists in CUDA builds only (CI builds with nvcc: there the comparison always runs).
(cudaBuild ? describe : describe.skip)(
  cudaBuild
    ? 'fused config choices'
    : 'fused config choices (skipped: CPU-only addon, chooseFusedConfigs needs the CUDA build)',
  () => {
    it('every recorded forward, backward and deterministic-backward choice is chosen again', () => {
      const mismatches: string[] = [];
      let compared = 0;
      for (const r of fixture.problems) {
        for (const [device, caps] of Object.entries(fixture.devices)) {
          const now = natten.internal.chooseFusedConfigs(r.problem, r.dtype, caps);
          for (const pass of PASSES) {
            compared++;
            if (canonical(now[pass]) !== canonical(r.choices[device][pass])) {
              mismatches.push(
                `${r.name} (${r.dtype}) on ${device}, ${pass}:\n  recorded ${JSON.stringify(r.choices[device][pass])}` +
                  `\n  now      ${JSON.stringify(now[pass])}`,
              );
            }
          }
        }
      }
      expect(compared).toBe(fixture.problems.length * 2 * PASSES.length);
      // Every mismatch at once (a refactor that moves one choice usually moves a family of them), as plain
      // text: an Error's message is printed unescaped.
      if (mismatches.length > 0) {
        throw new Error(
          `${mismatches.length} of ${compared} choices differ from test/fixtures/fused_config_choices.json ` +
            `(re-record with dev/record_config_choices.js only for an intended change):\n${mismatches.join('\n')}`,
        );
      }
    });

    it('picks, on an H100, the families measured fastest on an H200 for the five benchmark problems', () => {
      // bench/NOTES.md (the suite of bench/results/h200_bf16_suite.json): the warp-specialised forward wins on
      // large 1-D/2-D windows and, with its plane configs, on 3-D k(5,9,9), and loses on small 2-D ones, where the
      // window-union kernel (an mma.sync family: k7, k13) beats every tile walk; the wgmma backward wins at
      // head-dim tier 128 in 1-D/2-D and on 3-D at tier 64.
      const bench = (length: number[], kernel: number[], batch: number, heads: number, headDim: number) =>
        ({
          dims: length.length,
          batch,
          heads,
          headsKv: heads,
          headDim,
          headDimV: headDim,
          length,
          kernel,
          stride: length.map(() => 1),
          dilation: length.map(() => 1),
          causal: length.map(() => false),
          nExtra: 0,
          scale: 1 / Math.sqrt(headDim),
          hasRpb: false,
        }) as Required<NativeProblem>;
      const expected: [string, Required<NativeProblem>, string, string][] = [
        ['1-D k2049 D128', bench([32768], [2049], 1, 16, 128), 'wgmma-ws', 'wgmma'],
        ['2-D k13 D64', bench([128, 128], [13, 13], 4, 16, 64), 'mma', 'mma'],
        ['2-D k31 D128', bench([128, 128], [31, 31], 2, 16, 128), 'wgmma-ws', 'wgmma'],
        ['2-D k7 D32', bench([56, 56], [7, 7], 64, 4, 32), 'mma', 'mma'],
        ['3-D k(5,9,9) D64', bench([16, 32, 32], [5, 9, 9], 1, 16, 64), 'wgmma-ws', 'wgmma'],
      ];
      const kernelOf = (c: NativeFusedChoices['forward'] | NativeFusedChoices['backward']): string =>
        c.path === 'fused' ? c.kernel : c.path;
      for (const [name, problem, forward, backward] of expected) {
        const c = natten.internal.chooseFusedConfigs(problem, 'bfloat16', fixture.devices.H100);
        expect(`${name}: ${kernelOf(c.forward)} / ${kernelOf(c.backward)}`).toBe(`${name}: ${forward} / ${backward}`);
        // The sm_80 device never gets a Hopper family.
        const a100 = natten.internal.chooseFusedConfigs(problem, 'bfloat16', fixture.devices.A100);
        expect(`${name}: ${kernelOf(a100.forward)} / ${kernelOf(a100.backward)}`).toBe(`${name}: mma / mma`);
      }
    });

    it('rejects capabilities that are not integers in range', () => {
      const caps = fixture.devices.H100;
      expect(errorCodeWith(caps)).toBeUndefined();
      expect(errorCodeWith({ ...caps, multiProcessorCount: 0 })).toBe('ERR_NATTEN_INVALID_ARG_VALUE');
      expect(errorCodeWith({ ...caps, sharedMemoryPerBlockOptin: 1.5 })).toBe('ERR_NATTEN_INVALID_ARG_VALUE');
      expect(errorCodeWith({ ...caps, major: undefined })).toBe('ERR_NATTEN_INVALID_ARG_TYPE');
      expect(errorCodeWith(null)).toBe('ERR_NATTEN_INVALID_ARG_TYPE');
    });
  },
);

(cudaBuild ? it.skip : it)('chooseFusedConfigs throws ERR_NATTEN_NO_CUDA in a CPU-only build', () => {
  expect(errorCodeWith(fixture.devices.H100)).toBe('ERR_NATTEN_NO_CUDA');
});
