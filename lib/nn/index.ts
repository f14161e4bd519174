/** natten.nn: modules with PyTorch-compatible parameters (docs/design.md §6 "Modules"). */
export {
  NeighborhoodAttention1D,
  NeighborhoodAttention2D,
  NeighborhoodAttention3D,
  NeighborhoodAttentionModule,
} from './neighborhood_attention';
export type { NeighborhoodAttentionModuleOptions } from './neighborhood_attention';
export type { StateDict, LoadStateDictOptions } from './state_dict';
export type { Parameter } from './parameter';
