/** safetensors checkpoints (docs/design.md §6 "safetensors"): load and save. */
export { loadSafetensors } from './load';
export type { LoadSafetensorsOptions } from './load';
export { saveSafetensors } from './save';
export type { TensorDict } from './save';
