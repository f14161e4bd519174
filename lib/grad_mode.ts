/**
 * Gradient recording of the natten.nn modules (docs/design.md §6 "Training"): a module's forward keeps what
 * its backward needs only while it is in training mode and outside {@link noGrad}.
 */

let disabledDepth = 0;

/**
 * Runs `fn` with gradient recording off: module forwards inside it keep nothing for a backward (inference
 * without the memory of training), and a later `backward` throws ERR_NATTEN_NO_SAVED_FORWARD. Nests; the
 * scope is the synchronous run of fn (forwards after an `await` inside an async fn record again).
 * Returns fn's result.
 */
export function noGrad<T>(fn: () => T): T {
  disabledDepth++;
  try {
    return fn();
  } finally {
    disabledDepth--;
  }
}

/** False inside {@link noGrad}. */
export function isGradEnabled(): boolean {
  return disabledDepth === 0;
}
