// dev/compare_losses.ts: the first-50-steps comparison against the twin, the bf16 threshold, the chart.
import { renderSvg } from '../cli/bench/plot';
import { checkThreshold, compareFirst, curvesSpec } from '../dev/compare_losses';
import type { LossRecord } from '../examples/loss_record';

/** A losses record whose step s holds f(s). */
function record(label: string, f: (s: number) => number, steps = 200): LossRecord {
  return {
    label,
    device: 'cpu',
    dtype: 'float32',
    model: { depth: 2, channels: 64, heads: 4, kernel: 7, inChannels: 1 },
    task: { batch: 8, height: 32, width: 32, noise: 0.5, data: null },
    optimizer: { name: 'AdamW', lr: 1e-3, weightDecay: 0.01, betas: [0.9, 0.999], eps: 1e-8 },
    seconds: 1,
    losses: Array.from({ length: steps }, (_, s) => f(s)),
  };
}

const curve = (s: number): number => 0.08 + Math.exp(-s / 20);
const torch = record('PyTorch', curve);

describe('dev/compare_losses', () => {
  it('passes a curve within 2% at every one of the first 50 steps and names the largest difference', () => {
    const near = record('natten-node', (s) => curve(s) * (1 + (s === 31 ? 0.015 : 0.001)));
    const c = compareFirst(torch, near, 50, 0.02);
    expect(c).toMatchObject({ pass: true, worstStep: 31, first: 50 });
    expect(c.maxRelDiff).toBeCloseTo(0.015, 10);
  });

  it('fails a curve 3% off at one step, and a diverged (NaN) one', () => {
    expect(
      compareFirst(
        torch,
        record('off', (s) => curve(s) * (s === 12 ? 0.97 : 1)),
        50,
        0.02,
      ),
    ).toMatchObject({
      pass: false,
      worstStep: 12,
    });
    const nan = compareFirst(
      torch,
      record('nan', (s) => (s === 40 ? NaN : curve(s))),
      50,
      0.02,
    );
    expect(nan).toMatchObject({ pass: false, worstStep: 40, maxRelDiff: Infinity });
    // Steps after the first 50 are not compared.
    expect(
      compareFirst(
        torch,
        record('late', (s) => curve(s) * (s >= 50 ? 2 : 1)),
        50,
        0.02,
      ).pass,
    ).toBe(true);
  });

  it('refuses curves shorter than the steps compared', () => {
    expect(() => compareFirst(torch, record('short', curve, 30), 50, 0.02)).toThrow(/need 50 losses, .*short 30/);
  });

  it('the bf16 final loss is the mean of the last 10 steps, checked against the threshold', () => {
    const bf16 = record('bf16', (s) => (s >= 190 ? 0.1 + (s % 2) * 0.02 : 1));
    expect(checkThreshold(bf16, 0.12)).toMatchObject({ pass: true, threshold: 0.12 });
    expect(checkThreshold(bf16, 0.12).finalLoss).toBeCloseTo(0.11, 12);
    expect(checkThreshold(bf16, 0.1).pass).toBe(false);
  });

  it('draws every curve and the labelled rules as SVG', async () => {
    const spec = curvesSpec(
      [torch, record('natten-node cpu bfloat16', (s) => curve(s) * 1.1)],
      [{ label: 'bf16 threshold 0.12', loss: 0.12 }],
      'loss curves',
    );
    const svg = await renderSvg(spec);
    expect(svg).toMatch(/^<svg/);
    for (const text of ['PyTorch', 'natten-node cpu bfloat16', 'bf16 threshold 0.12', 'loss curves', 'MSE loss'])
      expect(svg).toContain(text);
  });
});
