/** natten.amp: mixed-precision training helpers (docs/design.md §6 "Training"). */
export { GradScaler } from './grad_scaler';
export type { GradScalerOptions, GradScalerState } from './grad_scaler';
