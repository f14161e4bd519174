// Type tests of the emitted typings (dist/lib/*.d.ts, built with stripInternal): `npm run test:types`
// compiles this file with tsc --noEmit. Each @ts-expect-error line must be an error (tsc fails when it
// is not), every other line must type-check. Nothing here runs.
import * as natten from '../../dist/lib/index';
import type { NAResult, Tensor } from '../../dist/lib/index';

declare const q16: Tensor<'float16'>;
declare const q32: Tensor<'float32'>;
declare const flag: boolean;
const window = { kernelSize: 3 };

// A non-literal returnLse may return either shape.
const either = natten.na1d(q16, q16, q16, { ...window, returnLse: flag });
// @ts-expect-error either may be {output, lse}
const notJustTensor: Tensor = either;
const eitherOk: Tensor<'float16'> | NAResult<'float16'> = either;

// Literal returnLse picks one shape.
const withLse: NAResult<'float16'> = natten.na2d(q16, q16, q16, { ...window, returnLse: true });
const lse32: Tensor<'float32'> = withLse.lse;
const plain: Tensor<'float16'> = natten.na3d(q16, q16, q16, { ...window, returnLse: false });
const plainDefault: Tensor<'float16'> = natten.na1d(q16, q16, q16, window);
// @ts-expect-error a float16 op gives a float16 output, not float32
const wrongDtype: Tensor<'float32'> = natten.na1d(q16, q16, q16, window);

// Op outputs keep their dtype.
const grads = natten.na1dBackward(q16, q16, q16, q16, q16, lse32, window);
const dq: Tensor<'float16'> = grads.dq;
const attn: Tensor<'float32'> = natten.na1dQK(q32, q32, window);
const probs: Tensor<'float32'> = natten.softmax(attn);
const out: Tensor<'float32'> = natten.na1dAV(probs, q32, window);
const merged: Tensor<'float16'> = natten.mergeAttentions([q16, q16], [lse32, lse32]).output;
const high: Tensor<'float16'> = natten.neighborhoodAttention2d(q16, q16, q16, window);
// @ts-expect-error softmax of a float32 tensor is float32
const probs16: Tensor<'float16'> = natten.softmax(attn);
// @ts-expect-error lse must be a float32 tensor
natten.na1dBackward(q16, q16, q16, q16, q16, q16, window);

// @internal members are not in the typings.
// @ts-expect-error the storage handle is internal
q16.handle();
// @ts-expect-error packageRoot is internal to lib/native
import('../../dist/lib/native').then((m) => m.packageRoot());

export const used = [notJustTensor, eitherOk, plain, plainDefault, wrongDtype, dq, out, merged, high, probs16];
