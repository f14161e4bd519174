/**
 * The problem `natten-node profile` runs, from NATTEN-profiler-style flags: per-axis lists given as
 * `64 64` or `64,64` (one value stands for every axis), checked here so a bad flag is a usage error
 * before anything runs. The library validates the rest when the ops are called.
 */
import * as natten from '../../lib';
import { native, type NativeProblem } from '../../lib/native';
import { usage } from '../errors';

/** The profile backends: the fused CUDA kernels, the unfused chain, the CUDA reference kernels, the CPU engine. */
export const BACKENDS = ['fused', 'unfused', 'reference', 'cpu'] as const;

/** A profile backend. */
export type Backend = (typeof BACKENDS)[number];

/** The parsed flags, before validation (commander's values). */
export interface ProfileFlags {
  inputSize?: string[];
  batchSize: string;
  heads: string;
  headsKv?: string;
  dim: string;
  dimValue?: string;
  windowSize?: string[];
  stride?: string[];
  dilation?: string[];
  causal?: string[];
  dtype?: string;
  backprop?: boolean;
  addKv: string;
  backend?: string;
  device?: string;
  qTile?: string[];
  kvTile?: string[];
  backwardQTile?: string[];
  backwardKvTile?: string[];
  warmupSteps: string;
  dryRun?: boolean;
  arch?: string;
  optimize?: boolean;
  json?: boolean;
}

/** A validated problem and how to run it. */
export interface ProfileProblem {
  dims: number;
  batch: number;
  heads: number;
  headsKv: number;
  headDim: number;
  headDimV: number;
  inputSize: number[];
  kernelSize: number[];
  stride: number[];
  dilation: number[];
  isCausal: boolean[];
  nExtra: number;
  dtype: natten.DType;
  backprop: boolean;
  backend: Backend;
  device: natten.DeviceLike;
  qTileShape?: number[];
  kvTileShape?: number[];
  backwardQTileShape?: number[];
  backwardKvTileShape?: number[];
  warmupSteps: number;
}

/** Splits `['64,64']` or `['64', '64']` into items. */
function items(values: readonly string[]): string[] {
  return values
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** A non-negative (or, with min 1, positive) integer flag. */
export function intFlag(flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min)
    throw usage(`${flag} must be an integer >= ${min}, got '${value}'`);
  return n;
}

/** A per-axis integer list: `dims` values, or one for all axes. */
function perAxis(flag: string, values: readonly string[] | undefined, dims: number, fallback: number): number[] {
  if (values === undefined) return Array<number>(dims).fill(fallback);
  const list = items(values).map((v) => intFlag(flag, v));
  if (list.length === 1) return Array<number>(dims).fill(list[0]);
  if (list.length !== dims)
    throw usage(`${flag} needs 1 or ${dims} values (one per axis of --input-size), got ${list.length}`);
  return list;
}

function boolItem(flag: string, v: string): boolean {
  if (/^(1|true|yes)$/i.test(v)) return true;
  if (/^(0|false|no)$/i.test(v)) return false;
  throw usage(`${flag} takes true/false (or 1/0) per axis, got '${v}'`);
}

function tile(flag: string, values: readonly string[] | undefined, dims: number): number[] | undefined {
  if (values === undefined) return undefined;
  const list = items(values).map((v) => intFlag(flag, v));
  if (list.length !== dims) throw usage(`${flag} needs ${dims} values (one per axis), got ${list.length}`);
  return list;
}

function backendOf(flags: ProfileFlags): Backend {
  // --dry-run lists fused configs, which exist without a GPU (--arch).
  const b = flags.backend ?? (flags.dryRun || natten.cuda.isAvailable() ? 'fused' : 'cpu');
  if (!(BACKENDS as readonly string[]).includes(b))
    throw usage(`--backend must be one of ${BACKENDS.join(', ')}, got '${b}'`);
  return b as Backend;
}

function deviceOf(flags: ProfileFlags, backend: Backend): natten.DeviceLike {
  if (backend === 'cpu') {
    if (flags.device !== undefined && flags.device !== 'cpu')
      throw usage(`--backend cpu runs on the CPU, not '${flags.device}'`);
    return 'cpu';
  }
  const device = flags.device ?? 'cuda';
  if (device !== 'cpu' && device !== 'cuda' && !/^cuda:\d+$/.test(device))
    throw usage(`--device must be cpu, cuda or cuda:N, got '${device}'`);
  if (device === 'cpu' && backend !== 'unfused')
    throw usage(`--backend ${backend} runs on a CUDA device; use --backend cpu for the CPU engine`);
  return device as natten.DeviceLike;
}

/** Validates the flags into a problem. `needsInput`: --input-size and --window-size must be given. */
export function profileProblem(flags: ProfileFlags): ProfileProblem {
  if (!flags.inputSize) throw usage('--input-size is required (e.g. -i 64 64)');
  if (!flags.windowSize) throw usage('--window-size is required (e.g. -w 7)');
  const inputSize = items(flags.inputSize).map((v) => intFlag('--input-size', v));
  const dims = inputSize.length;
  if (dims < 1 || dims > 3) throw usage(`--input-size takes 1 to 3 values (one per spatial axis), got ${dims}`);
  const backend = backendOf(flags);
  const heads = intFlag('--heads', flags.heads);
  const headDim = intFlag('--dim', flags.dim);
  const causal = flags.causal ? items(flags.causal).map((v) => boolItem('--causal', v)) : [false];
  if (causal.length !== 1 && causal.length !== dims)
    throw usage(`--causal needs 1 or ${dims} values, got ${causal.length}`);
  const dtype = flags.dtype ?? (backend === 'cpu' || backend === 'reference' ? 'float32' : 'bfloat16');
  if (!(natten.DTYPES as readonly string[]).includes(dtype))
    throw usage(`--dtype must be one of ${natten.DTYPES.join(', ')}, got '${dtype}'`);
  const p: ProfileProblem = {
    dims,
    batch: intFlag('--batch-size', flags.batchSize),
    heads,
    headsKv: flags.headsKv === undefined ? heads : intFlag('--heads-kv', flags.headsKv),
    headDim,
    headDimV: flags.dimValue === undefined ? headDim : intFlag('--dim-value', flags.dimValue),
    inputSize,
    kernelSize: perAxis('--window-size', flags.windowSize, dims, 1),
    stride: perAxis('--stride', flags.stride, dims, 1),
    dilation: perAxis('--dilation', flags.dilation, dims, 1),
    isCausal: causal.length === 1 ? Array<boolean>(dims).fill(causal[0]) : causal,
    nExtra: intFlag('--add-kv', flags.addKv, 0),
    dtype: dtype as natten.DType,
    backprop: flags.backprop ?? false,
    backend,
    device: deviceOf(flags, backend),
    qTileShape: tile('--q-tile', flags.qTile, dims),
    kvTileShape: tile('--kv-tile', flags.kvTile, dims),
    backwardQTileShape: tile('--backward-q-tile', flags.backwardQTile, dims),
    backwardKvTileShape: tile('--backward-kv-tile', flags.backwardKvTile, dims),
    warmupSteps: intFlag('--warmup-steps', flags.warmupSteps, 0),
  };
  if (p.heads % p.headsKv !== 0) throw usage(`--heads-kv (${p.headsKv}) must divide --heads (${p.heads})`);
  if (backend === 'unfused' && p.headsKv !== p.heads)
    throw usage('--backend unfused takes equal --heads and --heads-kv');
  return p;
}

/** The problem as the native config selection reads it. */
export function nativeProblem(p: ProfileProblem): Required<NativeProblem> {
  return {
    dims: p.dims,
    batch: p.batch,
    heads: p.heads,
    headsKv: p.headsKv,
    headDim: p.headDim,
    headDimV: p.headDimV,
    length: p.inputSize,
    kernel: p.kernelSize,
    stride: p.stride,
    dilation: p.dilation,
    causal: p.isCausal,
    nExtra: p.nExtra,
    scale: 1 / Math.sqrt(p.headDim),
    hasRpb: false,
  };
}

/** Query-key pairs NA computes: per axis the sum of the window sizes over the axis (windows are a product
 * over axes, docs/design.md §5), times the batch and heads, plus every query's additional keys. */
function attendedPairs(p: ProfileProblem): number {
  let pairs = 1;
  for (let a = 0; a < p.dims; a++) {
    let sum = 0;
    for (let i = 0; i < p.inputSize[a]; i++) {
      const [start, end] = native.axisWindow({
        length: p.inputSize[a],
        kernel: p.kernelSize[a],
        stride: p.stride[a],
        dilation: p.dilation[a],
        causal: p.isCausal[a],
        index: i,
      });
      sum += end - start;
    }
    pairs *= sum;
  }
  const tokens = p.inputSize.reduce((x, y) => x * y, 1);
  return p.batch * p.heads * (pairs + tokens * p.nExtra);
}

/** Useful FLOPs (docs/design.md §8): 2·(D + Dv) per attended pair forward (4·B·H·N·∏k·D without causal
 * masking when Dv = D), 2.5 times that backward. */
export function usefulFlops(p: ProfileProblem): { forward: number; backward: number } {
  const forward = 2 * (p.headDim + p.headDimV) * attendedPairs(p);
  return { forward, backward: 2.5 * forward };
}

/** One line describing the problem. */
export function describeProblem(p: ProfileProblem): string {
  const axes = (xs: readonly (number | boolean)[]): string => xs.map(String).join('x');
  return (
    `${p.dims}-D ${axes(p.inputSize)}, B ${p.batch}, H ${p.heads}` +
    (p.headsKv !== p.heads ? ` (KV ${p.headsKv})` : '') +
    `, D ${p.headDim}${p.headDimV !== p.headDim ? `/${p.headDimV}` : ''}, window ${axes(p.kernelSize)}` +
    (p.stride.some((s) => s > 1) ? `, stride ${axes(p.stride)}` : '') +
    (p.dilation.some((d) => d > 1) ? `, dilation ${axes(p.dilation)}` : '') +
    (p.isCausal.some((c) => c) ? `, causal ${axes(p.isCausal)}` : '') +
    (p.nExtra ? `, +${p.nExtra} KV` : '') +
    `, ${p.dtype}`
  );
}
