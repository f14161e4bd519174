/**
 * fp64 reference of the optimizers and of GradScaler's scale update (test-only): PyTorch's torch.optim.SGD,
 * torch.optim.AdamW (the algorithm as its implementation runs it: amsgrad keeps the maximum of v before bias
 * correction) and torch.amp.GradScaler's update rule, written as plainly as possible. Parameters and states
 * are Float64Arrays updated in place.
 */

/** SGD hyperparameters (all given). */
export interface SgdConfig {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

/** AdamW hyperparameters (amsgrad and maximize default to false). */
export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  amsgrad?: boolean;
  maximize?: boolean;
}

/** One parameter's state: its own step count and the buffers of the algorithm (made at its first step). */
export interface ParamState {
  step: number;
  momentumBuffer?: Float64Array;
  expAvg?: Float64Array;
  expAvgSq?: Float64Array;
  maxExpAvgSq?: Float64Array;
}

/** A fresh state. */
export function newState(): ParamState {
  return { step: 0 };
}

/** One SGD step of parameter p with gradient grad. */
export function sgdStep(c: SgdConfig, p: Float64Array, grad: Float64Array, st: ParamState): void {
  st.step += 1;
  for (let i = 0; i < p.length; i++) {
    let g = c.maximize ? -grad[i] : grad[i];
    if (c.weightDecay !== 0) g = g + c.weightDecay * p[i];
    if (c.momentum !== 0) {
      if (!st.momentumBuffer) st.momentumBuffer = new Float64Array(p.length);
      const b = st.step === 1 ? g : c.momentum * st.momentumBuffer[i] + (1 - c.dampening) * g;
      st.momentumBuffer[i] = b;
      g = c.nesterov ? g + c.momentum * b : b;
    }
    p[i] = p[i] - c.lr * g;
  }
}

/** One AdamW step of parameter p with gradient grad. */
export function adamwStep(c: AdamWConfig, p: Float64Array, grad: Float64Array, st: ParamState): void {
  st.step += 1;
  const t = st.step;
  const b1 = c.beta1,
    b2 = c.beta2;
  if (!st.expAvg) {
    st.expAvg = new Float64Array(p.length);
    st.expAvgSq = new Float64Array(p.length);
    if (c.amsgrad) st.maxExpAvgSq = new Float64Array(p.length);
  }
  const m = st.expAvg,
    v = st.expAvgSq!;
  const bc1 = 1 - b1 ** t,
    bc2 = 1 - b2 ** t;
  for (let i = 0; i < p.length; i++) {
    const g = c.maximize ? -grad[i] : grad[i];
    let x = p[i] * (1 - c.lr * c.weightDecay);
    m[i] = b1 * m[i] + (1 - b1) * g;
    v[i] = b2 * v[i] + (1 - b2) * g * g;
    let vUsed = v[i];
    if (c.amsgrad) {
      st.maxExpAvgSq![i] = Math.max(st.maxExpAvgSq![i], v[i]);
      vUsed = st.maxExpAvgSq![i];
    }
    const denom = Math.sqrt(vUsed) / Math.sqrt(bc2) + c.eps;
    x = x - (c.lr / bc1) * (m[i] / denom);
    p[i] = x;
  }
}

/** GradScaler's scale and growth tracker under PyTorch's update rule (scale kept in fp32). */
export class ScalerOracle {
  scale: number;
  tracker = 0;
  constructor(
    initScale: number,
    private readonly growth: number,
    private readonly backoff: number,
    private readonly interval: number,
  ) {
    this.scale = Math.fround(initScale);
  }

  /** The update after an iteration that did (true) or did not find inf/NaN. */
  update(foundInf: boolean): void {
    if (foundInf) {
      this.scale = Math.fround(this.scale * this.backoff);
      this.tracker = 0;
    } else if (this.tracker + 1 === this.interval) {
      const grown = Math.fround(this.scale * this.growth);
      if (Number.isFinite(grown)) this.scale = grown;
      this.tracker = 0;
    } else {
      this.tracker += 1;
    }
  }
}
