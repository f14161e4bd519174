/** natten.nn: modules with PyTorch-compatible parameters and gradients (docs/design.md §6 "Modules", "Training"). */
export {
  NeighborhoodAttention1D,
  NeighborhoodAttention2D,
  NeighborhoodAttention3D,
  NeighborhoodAttentionModule,
} from './neighborhood_attention';
export type { NeighborhoodAttentionModuleOptions } from './neighborhood_attention';
export { Module } from './module';
export { Linear, LayerNorm } from './linear';
export type { LinearOptions, LayerNormOptions, ModulePlacement } from './linear';
export { gradDtype } from './parameter';
export type { Parameter } from './parameter';
export type { StateDict, LoadStateDictOptions } from './state_dict';
