// kernels/common/window.h (the one definition every kernel and the CPU engine use) agrees with the
// oracle's independent transcription of docs/design.md §5 on every small configuration, and its inverse window
// (queries that see a key) agrees with brute force.
import { native } from '../lib/native';
import { axisWindowRange } from './oracle/window';

describe('window.h', () => {
  it('matches the oracle and brute force for every L <= 14, k, s, d, causal', () => {
    let checked = 0;
    for (let L = 2; L <= 14; L++) {
      for (let k = 2; k <= L; k++) {
        for (let d = 1; k * d <= L; d++) {
          for (let s = 1; s <= k; s++) {
            for (const causal of [false, true]) {
              const windows = [];
              for (let i = 0; i < L; i++) {
                const [start, end] = native.axisWindow({
                  length: L,
                  kernel: k,
                  stride: s,
                  dilation: d,
                  causal,
                  index: i,
                });
                const ref = axisWindowRange(L, k, s, d, causal, i);
                if (start !== ref.start || end !== ref.end) {
                  throw new Error(
                    `L=${L} k=${k} s=${s} d=${d} causal=${causal} i=${i}: window.h [${start},${end}) vs oracle [${ref.start},${ref.end})`,
                  );
                }
                windows.push({ start, end, g: i % d, local: Math.floor(i / d) });
              }
              // Inverse: key j is seen by exactly the queries of its group whose window contains it.
              for (let j = 0; j < L; j++) {
                const [, , qs, qe] = native.axisWindow({
                  length: L,
                  kernel: k,
                  stride: s,
                  dilation: d,
                  causal,
                  index: j,
                });
                const seers = windows
                  .filter((w) => w.g === j % d && w.start <= Math.floor(j / d) && Math.floor(j / d) < w.end)
                  .map((w) => w.local);
                const expected = seers.length ? [seers[0], seers[seers.length - 1] + 1] : [qs, qs];
                expect(seers.length === 0 || seers.length === seers[seers.length - 1] - seers[0] + 1).toBe(true);
                if (qs !== expected[0] || qe !== expected[1]) {
                  throw new Error(
                    `inverse L=${L} k=${k} s=${s} d=${d} causal=${causal} j=${j}: [${qs},${qe}) vs [${expected}]`,
                  );
                }
              }
              checked++;
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });
});
