/** natten.optim: optimizers with device kernels for the update (docs/design.md §6 "Training"). */
export { Optimizer } from './optimizer';
export type { BaseHyper } from './optimizer';
export { SGD } from './sgd';
export type { SGDOptions, SGDHyper } from './sgd';
export { AdamW } from './adamw';
export type { AdamWOptions, AdamWHyper } from './adamw';
