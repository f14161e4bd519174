/**
 * `profile --optimize` through the autotuner's `natten.tune` (docs/design.md §6): the one place of the
 * command that knows the tuner's shapes. The tuner times the candidates on the GPU and stores the best in
 * its cache; the CPU engine has nothing to tune, so --optimize on the CPU backend is a coded error.
 */
import * as natten from '../../lib';
import { CliError } from '../errors';
import { renderTable } from '../output';
import type { ProfileProblem } from './problem';

/** The tuner's answer for the profiled problem, per pass. */
export interface TuneReport {
  forward?: natten.TuneResult;
  backward?: natten.TuneResult;
}

/** The profiled problem as `natten.tune` takes it. */
function tuneProblem(p: ProfileProblem): natten.TuneProblem {
  return {
    spatial: p.inputSize,
    batch: p.batch,
    heads: p.heads,
    headsKv: p.headsKv,
    headDim: p.headDim,
    headDimV: p.headDimV,
    additionalKeys: p.nExtra,
    kernelSize: p.kernelSize,
    stride: p.stride,
    dilation: p.dilation,
    isCausal: p.isCausal,
    dtype: p.dtype,
    device: p.device,
    passes: p.backprop ? ['forward', 'backward'] : ['forward'],
  };
}

/** Tunes the problem (forward, and backward with --backprop) and stores the best configs in the cache. */
export async function optimize(
  p: ProfileProblem,
  onProgress: (done: number, total: number, what: string) => void,
): Promise<TuneReport> {
  if (p.backend !== 'fused')
    throw new CliError(
      'ERR_NATTEN_CLI_NO_TUNER',
      `profile --optimize tunes the fused GPU kernels; the ${p.backend} backend has no tunable configs`,
    );
  const results = await natten.tune([tuneProblem(p)], {
    force: true,
    onProgress: ({ done, total, result }) => onProgress(done, total, result.pass),
  });
  const report: TuneReport = {};
  for (const r of results) report[r.pass] = r;
  return report;
}

const configText = (c: object): string =>
  Object.entries(c)
    .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join('x') : String(v)}`)
    .join(', ');

/** The tuner's answer as a table: the default next to the best. */
export function renderTune(r: TuneReport): string {
  const rows = (['forward', 'backward'] as const).flatMap((pass) => {
    const t = r[pass];
    if (!t) return [];
    if (t.skipped) return [[pass, t.skipped, '', '', '', '']];
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
