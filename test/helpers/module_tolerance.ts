/**
 * Tolerances of the natten.nn modules against a float64 reference, on relError (max abs difference /
 * max(1, max |expected|)). A module chains qkv linear, attention and proj, each rounding its output to
 * the dtype, so the half types get about twice the single-op tolerance of docs/design.md §8.
 */
import type { DType } from '../../lib';

/** Module output tolerance per dtype (nn_modules, cuda_nn_modules and test/torch/check_modules). */
export const MODULE_TOL: Readonly<Record<DType, number>> = {
  float64: 1e-10,
  float32: 1e-4,
  float16: 2e-2,
  bfloat16: 8e-2,
};

/** Module gradient tolerances per dtype (dX and every parameter's gradient against a float64 reference;
 * test/torch/check_modules): the backward chains proj, attention and qkv backwards, each rounding to the
 * dtype, so twice the single-op gradient tolerances of docs/design.md §8. */
export const MODULE_GRAD_TOL: Readonly<Record<DType, number>> = {
  float64: 1e-9,
  float32: 2e-3,
  float16: 4e-2,
  bfloat16: 2e-1,
};
