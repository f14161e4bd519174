/**
 * `profile --dry-run`: every compiled fused config that runs the problem, forward and backward, with the
 * one the heuristic picks marked. `--arch sm80|sm90` answers for an A100 or an H100 without a GPU (the
 * config registry is asked with those capabilities); otherwise for the profiled device.
 */
import * as natten from '../../lib';
import type { NativeDeviceCaps, NativeFusedChoices } from '../../lib/native';
import { CliError, usage } from '../errors';
import { renderTable } from '../output';
import { nativeProblem, type ProfileProblem } from './problem';

/** The capabilities `--arch` stands for: an A100 (SXM) and an H100 (SXM), as the config tests use. */
export const ARCH_CAPS: Readonly<Record<string, NativeDeviceCaps & { name: string }>> = {
  sm80: { name: 'A100 (sm80)', major: 8, minor: 0, multiProcessorCount: 108, sharedMemoryPerBlockOptin: 166912 },
  sm90: { name: 'H100 (sm90)', major: 9, minor: 0, multiProcessorCount: 132, sharedMemoryPerBlockOptin: 232448 },
};

/** One listed config. */
export interface DryRunConfig extends natten.FusedConfigInfo {
  /** The heuristic's choice for this problem. */
  isDefault: boolean;
}

/** What --dry-run reports. */
export interface DryRunReport {
  target: string;
  configs: DryRunConfig[];
  /** The heuristic's choices (forward, backward, deterministic backward), or why a pass runs no fused config. */
  choices: NativeFusedChoices;
}

const same = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

function isDefault(c: natten.FusedConfigInfo, choices: NativeFusedChoices): boolean {
  const choice = c.pass === 'forward' ? choices.forward : choices.backward;
  if (choice.path !== 'fused') return false;
  return choice.kernel === c.kernel && same(choice.qTileShape, c.qTileShape) && same(choice.kvTileShape, c.kvTileShape);
}

function targetOf(
  p: ProfileProblem,
  arch: string | undefined,
): { target: string; caps: NativeDeviceCaps; device?: string } {
  if (arch !== undefined) {
    const caps = ARCH_CAPS[arch];
    if (!caps) throw usage(`--arch must be one of ${Object.keys(ARCH_CAPS).join(', ')}, got '${arch}'`);
    return { target: caps.name, caps };
  }
  if (p.device === 'cpu' || !natten.cuda.isAvailable())
    throw new CliError(
      'ERR_NATTEN_CLI_NO_GPU',
      'profile --dry-run lists the fused CUDA configs of a GPU: none is visible here; pass --arch sm80 or --arch sm90 to list those of an A100 or an H100',
    );
  const index = p.device === 'cuda' ? natten.cuda.currentDevice() : Number(p.device.split(':')[1]);
  const info = natten.cuda.deviceInfo(index);
  return { target: `cuda:${index} ${info.name} (sm${info.major}${info.minor})`, caps: info, device: `cuda:${index}` };
}

/** Lists the configs. */
export function dryRun(p: ProfileProblem, arch: string | undefined): DryRunReport {
  const { target, caps, device } = targetOf(p, arch);
  const query = { dims: p.dims, headDim: p.headDim, headDimV: p.headDimV, dtype: p.dtype };
  const configs = device ? natten.fusedConfigs({ ...query, device }) : natten.internal.fusedConfigsFor(query, caps);
  const choices = natten.internal.chooseFusedConfigs(nativeProblem(p), p.dtype, caps);
  return { target, configs: configs.map((c) => ({ ...c, isDefault: isDefault(c, choices) })), choices };
}

const shape = (s: readonly number[]): string => s.join('x');

function choiceLine(pass: string, c: NativeFusedChoices['forward'] | NativeFusedChoices['backward']): string {
  if (c.path !== 'fused') return `  ${pass}: ${c.path} kernels (${c.reason})`;
  const dq = 'dq' in c ? `, dQ ${c.dq}` : '';
  return `  ${pass}: ${c.kernel} q ${shape(c.qTileShape)} / kv ${shape(c.kvTileShape)}${dq}`;
}

/** The report as text. */
export function renderDryRun(r: DryRunReport, problem: string): string {
  const rows = r.configs.map((c) => [
    c.pass,
    c.kernel,
    shape(c.qTileShape),
    shape(c.kvTileShape),
    c.headDimTier,
    c.threads,
    (c.smemBytes / 1024).toFixed(1),
    c.isDefault ? '*' : '',
  ]);
  return [
    `${problem}`,
    `${r.configs.length} fused configs on ${r.target} (* = the heuristic's default):`,
    renderTable(['pass', 'kernel', 'q tile', 'kv tile', 'D tier', 'threads', 'smem KiB', 'default'], rows),
    'Default choices:',
    choiceLine('forward', r.choices.forward),
    choiceLine('backward', r.choices.backward),
    choiceLine('backward (deterministic)', r.choices.backwardDeterministic),
  ].join('\n');
}
