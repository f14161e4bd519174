/**
 * Compares the loss curves of examples/train_nat.ts and its PyTorch twin (examples/train_nat_torch.py) and
 * draws them:
 *
 *   node dist/dev/compare_losses.js --reference torch_float32.json --fp32 node_float32.json
 *     [--bf16 node_bfloat16.json] [--series more.json ...] [--first 50] [--rtol 0.02]
 *     [--threshold 0.12] [--svg curves.svg] [--json summary.json] [--title TEXT]
 *
 * Checks (exit 1 when one fails): each of the first `--first` losses of --fp32 within `--rtol` (relative)
 * of --reference's, same init and same batches; --bf16's final loss (mean of its last 10 steps) below
 * `--threshold` (default: the README's, BF16_FINAL_LOSS_THRESHOLD). The SVG (Vega-Lite, rendered
 * headless as `natten-node bench --plot` does) shows every curve on a log scale with the threshold and the
 * per-pixel bound of the task as rules.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command, InvalidArgumentError } from 'commander';
import { renderSvg } from '../cli/bench/plot';
import { perPixelBound, TASK_DEFAULTS } from '../examples/denoise_task';
import { BF16_FINAL_LOSS_THRESHOLD, finalLoss, type LossRecord } from '../examples/loss_record';

/** The first-steps comparison of a candidate curve against a reference curve. */
export interface CurveComparison {
  reference: string;
  candidate: string;
  first: number;
  rtol: number;
  /** Largest |candidate - reference| / |reference| over the first steps, and its step (0-based). */
  maxRelDiff: number;
  worstStep: number;
  pass: boolean;
}

/** The bf16 run's final loss against the threshold. */
export interface ThresholdCheck {
  label: string;
  finalLoss: number;
  threshold: number;
  pass: boolean;
}

/** Compares the first `first` losses of `candidate` with `reference`'s, within `rtol` each. */
export function compareFirst(
  reference: LossRecord,
  candidate: LossRecord,
  first: number,
  rtol: number,
): CurveComparison {
  if (reference.losses.length < first || candidate.losses.length < first)
    throw new Error(
      `need ${first} losses, ${reference.label} has ${reference.losses.length} and ${candidate.label} ${candidate.losses.length}`,
    );
  let maxRelDiff = 0,
    worstStep = 0;
  for (let s = 0; s < first; s++) {
    const rel = Math.abs(candidate.losses[s] - reference.losses[s]) / Math.abs(reference.losses[s]);
    // NaN (a diverged run) counts as the worst possible difference.
    if (!(rel <= maxRelDiff)) [maxRelDiff, worstStep] = [Number.isNaN(rel) ? Infinity : rel, s];
  }
  const pass = maxRelDiff <= rtol;
  return { reference: reference.label, candidate: candidate.label, first, rtol, maxRelDiff, worstStep, pass };
}

/** The final loss (mean of the last 10 steps) of `run` against `threshold`. */
export function checkThreshold(run: LossRecord, threshold: number): ThresholdCheck {
  const f = finalLoss(run.losses);
  return { label: run.label, finalLoss: f, threshold, pass: f < threshold };
}

/** Width of the chart's plot area in pixels. */
const WIDTH = 620;

/** The Vega-Lite spec of the loss curves (log scale) with labelled horizontal rules. */
export function curvesSpec(
  runs: readonly LossRecord[],
  rules: readonly { label: string; loss: number }[],
  title: string,
): Record<string, unknown> {
  const points = runs.flatMap((r) => r.losses.map((loss, step) => ({ series: r.label, step: step + 1, loss })));
  const y = { field: 'loss', type: 'quantitative', scale: { type: 'log' }, title: 'MSE loss (log scale)' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: WIDTH,
    height: 320,
    layer: [
      {
        data: { values: points },
        mark: { type: 'line', strokeWidth: 1.5, opacity: 0.85 },
        encoding: {
          x: { field: 'step', type: 'quantitative', title: 'optimizer step' },
          y,
          color: {
            field: 'series',
            type: 'nominal',
            title: null,
            legend: { orient: 'top', labelLimit: 320, columns: 2 },
          },
          strokeDash: { field: 'series', type: 'nominal' },
        },
      },
      { data: { values: rules }, mark: { type: 'rule', color: 'gray', strokeDash: [2, 3] }, encoding: { y } },
      {
        data: { values: rules },
        // Labels at the right end, above their rules, where the curves have fallen below them.
        mark: { type: 'text', color: 'gray', align: 'right', dx: -4, dy: -6, fontSize: 10 },
        encoding: { x: { value: WIDTH }, y, text: { field: 'label' } },
      },
    ],
  };
}

/** Reads a losses file written by examples/train_nat.ts or examples/train_nat_torch.py. */
export function readLosses(file: string): LossRecord {
  const r = JSON.parse(fs.readFileSync(file, 'utf8')) as LossRecord;
  if (!Array.isArray(r.losses) || typeof r.label !== 'string')
    throw new Error(`${file}: not a losses file (expected "label" and "losses")`);
  return r;
}

/** Command-line options. */
interface CompareOptions {
  reference: string;
  fp32: string;
  bf16?: string;
  series: string[];
  first: number;
  rtol: number;
  threshold: number;
  svg?: string;
  json?: string;
  title?: string;
}

function number(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

function parse(argv: string[]): CompareOptions {
  return new Command('compare_losses')
    .description("compares examples/train_nat's loss curves with the PyTorch twin's and draws them")
    .requiredOption('--reference <file>', 'the reference losses (the PyTorch twin, float32)')
    .requiredOption('--fp32 <file>', 'natten-node float32 losses (same init and batches)')
    .option('--bf16 <file>', 'natten-node bfloat16 losses (final loss against --threshold)')
    .option('--series <file...>', 'more curves to draw (not checked)', [])
    .option('--first <n>', 'steps compared', (v) => Math.round(number(v)), 50)
    .option('--rtol <r>', 'largest relative difference per step', number, 0.02)
    .option('--threshold <loss>', "bf16 final loss must be below (the README's)", number, BF16_FINAL_LOSS_THRESHOLD)
    .option('--svg <file>', 'writes the chart')
    .option('--json <file>', 'writes the checks as JSON')
    .option('--title <text>', 'chart title')
    .parse(argv)
    .opts<CompareOptions>();
}

async function main(): Promise<void> {
  const o = parse(process.argv);
  const [reference, fp32] = [readLosses(o.reference), readLosses(o.fp32)];
  const bf16 = o.bf16 === undefined ? undefined : readLosses(o.bf16);
  const curve = compareFirst(reference, fp32, o.first, o.rtol);
  const threshold = bf16 && checkThreshold(bf16, o.threshold);
  console.log(
    `${curve.pass ? 'PASS' : 'FAIL'} first ${curve.first} losses of ${curve.candidate} against ${curve.reference}: ` +
      `max relative difference ${curve.maxRelDiff.toExponential(3)} at step ${curve.worstStep} (limit ${curve.rtol})`,
  );
  if (threshold)
    console.log(
      `${threshold.pass ? 'PASS' : 'FAIL'} final loss of ${threshold.label} (mean of the last 10 steps) ` +
        `${threshold.finalLoss.toFixed(5)} (must be below ${threshold.threshold})`,
    );
  for (const r of [reference, fp32, ...(bf16 ? [bf16] : [])])
    console.log(`  ${r.label} (${r.device}): final loss ${finalLoss(r.losses).toFixed(5)}, ${r.seconds.toFixed(1)} s`);
  const runs = [reference, fp32, ...(bf16 ? [bf16] : []), ...o.series.map(readLosses)];
  if (o.svg !== undefined) {
    const rules = [
      { label: `per-pixel bound ${perPixelBound(TASK_DEFAULTS.noise)}`, loss: perPixelBound(TASK_DEFAULTS.noise) },
    ];
    if (bf16) rules.push({ label: `bf16 threshold ${o.threshold}`, loss: o.threshold });
    const m = reference.model;
    const title =
      o.title ??
      `NAT denoiser (${m.depth} blocks, C${m.channels}, ${m.heads} heads, k${m.kernel}), ` +
        `fields ${reference.task.batch}x${reference.task.height}x${reference.task.width}, AdamW lr ${reference.optimizer.lr}`;
    fs.mkdirSync(path.dirname(path.resolve(o.svg)), { recursive: true });
    fs.writeFileSync(o.svg, await renderSvg(curvesSpec(runs, rules, title)));
    console.log(`wrote ${o.svg}`);
  }
  if (o.json !== undefined) fs.writeFileSync(o.json, JSON.stringify({ curve, threshold }, null, 1) + '\n');
  if (!curve.pass || (threshold && !threshold.pass)) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
