/**
 * `bench --plot FILE`: a grouped bar chart of useful throughput per problem (TFLOP/s on a GPU, GFLOP/s on
 * the CPU), ours next to the peers from --flex, as SVG or as an HTML page holding the SVG (by the file's
 * extension). Drawn by Vega-Lite compiled to Vega and rendered headless (`renderer: 'none'`): pure
 * JavaScript, no canvas or browser.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { CpuBenchResult } from '../../bench/cpu';
import type { CudaBenchResult } from '../../bench/cuda';
import { CliError, usage } from '../errors';

/** One bar: a problem, a series (which implementation and pass) and its throughput. */
export interface PlotPoint {
  problem: string;
  series: string;
  value: number;
}

/** The CPU bars: the engine's fused and unfused passes and the naive loop, GFLOP/s. */
export function cpuPoints(r: CpuBenchResult): PlotPoint[] {
  return r.problems.flatMap((p) =>
    (
      [
        ['fused forward', p.fusedForward],
        ['fused backward', p.fusedBackward],
        ['unfused forward', p.unfusedForward],
        ['unfused backward', p.unfusedBackward],
        ['naive forward', p.naiveForward],
      ] as const
    )
      .filter(([, t]) => t !== undefined && t.runs > 0)
      .map(([series, t]) => ({ problem: p.problem.name, series, value: t!.gflops })),
  );
}

/** The GPU bars: natten-node's fused forward/backward, FlexAttention's when --flex was given, useful TFLOP/s. */
export function cudaPoints(r: CudaBenchResult): PlotPoint[] {
  return r.problems.flatMap((p) =>
    (
      [
        ['natten-node forward', p.fused.forward],
        ['FlexAttention forward', p.fused.flex],
        ['natten-node backward', p.fusedBackward?.backward],
        ['FlexAttention backward', p.fusedBackward?.flex],
      ] as const
    )
      .filter(([, t]) => t !== undefined && Number.isFinite(t.tflops))
      .map(([series, t]) => ({ problem: p.problem, series, value: t!.tflops })),
  );
}

/** The Vega-Lite spec of the chart. */
export function chartSpec(points: readonly PlotPoint[], title: string, unit: string): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: { step: 22 },
    height: 260,
    data: { values: points },
    mark: 'bar',
    encoding: {
      x: { field: 'problem', type: 'nominal', title: null, axis: { labelAngle: -30 } },
      xOffset: { field: 'series', type: 'nominal' },
      y: { field: 'value', type: 'quantitative', title: `useful ${unit}` },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'top' } },
      tooltip: [{ field: 'problem' }, { field: 'series' }, { field: 'value', format: '.1f' }],
    },
  };
}

/** Renders the spec to an SVG string. */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  // Loaded on use: the chart libraries are only needed by --plot.
  const vegaLite = await import('vega-lite');
  const vega = await import('vega');
  const compiled = vegaLite.compile(spec as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Checks --plot's file name before the benchmark runs. */
export function checkPlotFile(file: string): void {
  if (!/\.(svg|html?)$/i.test(file)) throw usage(`--plot writes .svg or .html, got '${file}'`);
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Writes the chart of `points` to `file` (.svg, or .html wrapping the SVG). */
export async function writePlot(
  file: string,
  points: readonly PlotPoint[],
  title: string,
  unit: string,
): Promise<void> {
  if (points.length === 0) throw new CliError('ERR_NATTEN_CLI_FILE', `--plot: no timed results to draw in ${file}`);
  const svg = await renderSvg(chartSpec(points, title, unit));
  const text = /\.svg$/i.test(file)
    ? svg
    : `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>\n<body>\n${svg}\n</body></html>\n`;
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, text);
}
