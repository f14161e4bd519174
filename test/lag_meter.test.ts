// The lag meter's attribution (dev/lag_meter.ts): what it subtracts from a late main-thread firing, and
// what it does not.
import { attributableLag, ControlTick, Tick } from '../dev/lag_meter';

/** Control firings every 10 ms from t=0 to t=200, on time, with per-CPU steal counters from `steal(t)`. */
function control(steal: (t: number) => number[], lateAt?: { at: number; lag: number }): ControlTick[] {
  const ticks: ControlTick[] = [];
  for (let t = 0; t <= 200; t += 10) {
    const lag = lateAt && t === lateAt.at ? lateAt.lag : 0;
    ticks.push({ at: t, lag, steal: steal(t) });
  }
  return ticks;
}

// One main firing at t=125 that is 60 ms late: it was due at 65.
const main: Tick[] = [
  { at: 50, lag: 0 },
  { at: 125, lag: 60 },
  { at: 135, lag: 0 },
];

describe('lag meter attribution', () => {
  it('counts a late main firing in full when nothing else stalled', () => {
    const r = attributableLag(
      main,
      control(() => [0, 0]),
    );
    expect(r.counted).toBeCloseTo(60);
    expect(r.atMs).toBe(125);
  });

  it('subtracts a stall of the control thread overlapping the late interval', () => {
    const r = attributableLag(
      main,
      control(() => [0, 0], { at: 100, lag: 45 }),
    );
    expect(r.counted).toBeCloseTo(15);
    expect(r.controlStallMs).toBe(45);
  });

  it('does not subtract a control stall outside the late interval', () => {
    const r = attributableLag(
      main,
      control(() => [0, 0], { at: 180, lag: 45 }),
    );
    expect(r.counted).toBeCloseTo(60);
  });

  it('subtracts steal time one CPU had during the late interval', () => {
    // CPU 1 loses 40 ms between t=70 and t=110.
    const steal = (t: number): number[] => [0, t <= 70 ? 0 : t >= 110 ? 40 : t - 70];
    const r = attributableLag(main, control(steal));
    expect(r.stealMs).toBe(40);
    expect(r.counted).toBeCloseTo(20);
  });

  it('does not subtract steal from before the late interval', () => {
    const steal = (t: number): number[] => [t >= 40 ? 40 : 0, 0];
    const r = attributableLag(main, control(steal));
    expect(r.stealMs).toBe(0);
    expect(r.counted).toBeCloseTo(60);
  });

  it('reports the garbage-collection pauses overlapping the worst firing (not subtracted)', () => {
    const r = attributableLag(
      main,
      control(() => [0, 0]),
      [
        { at: 90, ms: 12 },
        { at: 10, ms: 5 },
      ],
    );
    expect(r.gcMs).toBe(12);
    expect(r.counted).toBeCloseTo(60);
  });
});
