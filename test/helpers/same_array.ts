/**
 * Element-wise equality of two numeric arrays (NaN equals NaN), reported as the first mismatch.
 * jest's toEqual walks typed arrays generically and takes about 10 s per million elements, which made
 * the CUDA round-trip tests spend minutes comparing rather than transferring.
 */
export function expectSameArray(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i],
      e = expected[i];
    if (a !== e && !(Number.isNaN(a) && Number.isNaN(e))) {
      throw new Error(`arrays differ at index ${i} of ${expected.length}: got ${a}, expected ${e}`);
    }
  }
}
