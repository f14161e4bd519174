// The fp64 NA oracle in one import: `import { naForward, naQK, randnTensor, ... } from './oracle'`.
export * from './util';
export * from './window';
export * from './fused';
export * from './unfused';
export * from './tensor_ops';
export * from './na_module';
