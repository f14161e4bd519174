/**
 * `profile --optimize` through the autotuner's `natten.tune(problems, {onProgress})` (docs/design.md §6,
 * planned): the one place that knows the tuner's shapes. While the library has no `tune`, --optimize is
 * the coded error ERR_NATTEN_CLI_NO_TUNER, never a made-up result.
 *
 * Expected interface: `tune(problems, {onProgress(done, total, what)})` resolves to one result per
 * problem, each with a `forward` (and, for a backward problem, a `backward`) entry holding the
 * `default` and the `best` config with their times in ms; the tuner stores the best configs in its cache.
 */
import * as natten from '../../lib';
import { CliError } from '../errors';
import { renderTable } from '../output';
import type { ProfileProblem } from './problem';

/** A config and its time, as the tuner reports it. */
export interface TunedConfig {
  config: Record<string, unknown>;
  ms: number;
}

/** The tuner's answer for one pass. */
export interface TunedPass {
  default: TunedConfig;
  best: TunedConfig;
}

/** The tuner's answer for the profiled problem. */
export interface TuneReport {
  forward?: TunedPass;
  backward?: TunedPass;
}

/** What the adapter passes to `tune`: the problem as the fused ops take it. */
export interface TuneProblem {
  device: natten.DeviceLike;
  dtype: natten.DType;
  /** Q's shape [batch, ...spatial, heads, headDim]. */
  shape: number[];
  headsKv: number;
  headDimV: number;
  kernelSize: number[];
  stride: number[];
  dilation: number[];
  isCausal: boolean[];
  nExtra: number;
  /** Tune the backward too. */
  backward: boolean;
}

type TuneFn = (
  problems: TuneProblem[],
  options: { onProgress?: (done: number, total: number, what: string) => void },
) => Promise<unknown[]>;

/** The library's `tune`, when it has one. */
function libraryTune(): TuneFn | undefined {
  const tune = (natten as unknown as Record<string, unknown>).tune;
  return typeof tune === 'function' ? (tune as TuneFn) : undefined;
}

function isTunedPass(x: unknown): x is TunedPass {
  const ok = (c: unknown): boolean =>
    typeof c === 'object' &&
    c !== null &&
    typeof (c as TunedConfig).ms === 'number' &&
    typeof (c as TunedConfig).config === 'object';
  return typeof x === 'object' && x !== null && ok((x as TunedPass).default) && ok((x as TunedPass).best);
}

/** Tunes the problem. Throws ERR_NATTEN_CLI_NO_TUNER without an autotuner. */
export async function optimize(
  p: ProfileProblem,
  onProgress: (done: number, total: number, what: string) => void,
): Promise<TuneReport> {
  const tune = libraryTune();
  if (!tune)
    throw new CliError(
      'ERR_NATTEN_CLI_NO_TUNER',
      'profile --optimize needs the autotuner (natten.tune), which this natten-node build does not have yet',
    );
  const problem: TuneProblem = {
    device: p.device,
    dtype: p.dtype,
    shape: [p.batch, ...p.inputSize, p.heads, p.headDim],
    headsKv: p.headsKv,
    headDimV: p.headDimV,
    kernelSize: p.kernelSize,
    stride: p.stride,
    dilation: p.dilation,
    isCausal: p.isCausal,
    nExtra: p.nExtra,
    backward: p.backprop,
  };
  const [result] = await tune([problem], { onProgress });
  const r = (result ?? {}) as Record<string, unknown>;
  const report: TuneReport = {};
  if (isTunedPass(r.forward)) report.forward = r.forward;
  if (isTunedPass(r.backward)) report.backward = r.backward;
  if (!report.forward && !report.backward)
    throw new CliError(
      'ERR_NATTEN_CLI_NO_TUNER',
      `natten.tune returned no forward or backward result: ${JSON.stringify(result)}`,
    );
  return report;
}

const configText = (c: Record<string, unknown>): string =>
  Object.entries(c)
    .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join('x') : String(v)}`)
    .join(', ');

/** The tuner's answer as a table: the default next to the best. */
export function renderTune(r: TuneReport): string {
  const rows = (['forward', 'backward'] as const).flatMap((pass) => {
    const t = r[pass];
    if (!t) return [];
    return [
      [
        pass,
        configText(t.default.config),
        t.default.ms.toFixed(4),
        configText(t.best.config),
        t.best.ms.toFixed(4),
        `${(t.default.ms / t.best.ms).toFixed(2)}x`,
      ],
    ];
  });
  return renderTable(['pass', 'default config', 'ms', 'best config', 'ms', 'speed-up'], rows);
}
