#!/usr/bin/env node
// Records the fused configs the selection picks for a fixed sweep of problems on an H100 and an A100
// (capabilities given, not queried: no GPU needed) into test/fixtures/fused_config_choices.json, which
// test/config_choices.test.ts recomputes and compares. Re-record only when a change of the choice is
// intended, and say so in the commit: the fixture exists to prove that refactors keep the choices.
// Given capabilities make the forward cost model estimate CTAs per SM from shared memory alone (forward_cost.cu
// resident_ctas); on a real GPU the occupancy calculator also counts registers, so the record pins the
// selection logic, not the exact pick of a physical H100 or A100.
//
// Run after building the CUDA addon and the TypeScript (npm ci, or npm run build:native && npx tsc):
//   node dev/record_config_choices.js
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const natten = require(path.join(root, 'dist', 'lib', 'index.js'));
const FIXTURE = path.join(root, 'test', 'fixtures', 'fused_config_choices.json');

// The deviceInfo() fields the selection reads (kernels/runtime/device_caps.h), with the SXM parts' values.
// Shared memory per SM (228 KiB on the H100, 164 KiB on the A100) is not among them: the selection's
// occupancy estimate for a given device reads the per-block opt-in limit only (forward_cost.cu resident_ctas).
const DEVICES = {
  // H100 SXM5: sm_90, 132 SMs, 227 KiB opt-in shared memory per block.
  H100: { major: 9, minor: 0, multiProcessorCount: 132, sharedMemoryPerBlockOptin: 232448 },
  // A100 SXM4: sm_80, 108 SMs, 163 KiB opt-in shared memory per block.
  A100: { major: 8, minor: 0, multiProcessorCount: 108, sharedMemoryPerBlockOptin: 166912 },
};

/** A full native problem (lib/native.ts NativeProblem) from the fields that vary; one name per problem. */
function problem(name, dtype, o) {
  const dims = o.length.length;
  const axes = (v, dflt) => (v === undefined ? Array(dims).fill(dflt) : Array.isArray(v) ? v : Array(dims).fill(v));
  const headDim = o.headDim ?? 64;
  return {
    name,
    dtype,
    problem: {
      dims,
      batch: o.batch ?? 2,
      heads: o.heads ?? 4,
      headsKv: o.headsKv ?? o.heads ?? 4,
      headDim,
      headDimV: o.headDimV ?? headDim,
      length: o.length,
      kernel: axes(o.kernel),
      stride: axes(o.stride, 1),
      dilation: axes(o.dilation, 1),
      causal: axes(o.causal, false),
      nExtra: o.nExtra ?? 0,
      scale: 1 / Math.sqrt(headDim),
      hasRpb: false,
    },
  };
}

const BF = 'bfloat16',
  F16 = 'float16';

// The sweep: 1-D/2-D/3-D; windows from tiny to the whole axis (k = L), odd and even; dilation, stride,
// causal axes; head dims 16 to 256 (the backward runs up to 128: above, it records the reference path),
// D != Dv; GQA and MQA; additional KV; batch x heads from 1 to 1024 CTAs' worth (wave quantisation
// differs between 132 and 108 SMs). fp32 is not swept: the fused kernels have no fp32 configs.
const PROBLEMS = [
  // 1-D
  problem('1d L64 k7 d32', BF, { length: [64], kernel: 7, headDim: 32 }),
  problem('1d L256 k15 d64', BF, { length: [256], kernel: 15 }),
  problem('1d L1024 k31 d128', BF, { length: [1024], kernel: 31, headDim: 128 }),
  problem('1d L4096 k127 b1 h8', BF, { length: [4096], kernel: 127, batch: 1, heads: 8 }),
  problem('1d L512 k8 even', BF, { length: [512], kernel: 8 }),
  problem('1d L96 k96 (k = L)', BF, { length: [96], kernel: 96 }),
  problem('1d L17 k17 (k = L, tiny)', BF, { length: [17], kernel: 17, headDim: 32 }),
  problem('1d L2048 k33 dil4', BF, { length: [2048], kernel: 33, dilation: 4 }),
  problem('1d L1024 k16 stride8', BF, { length: [1024], kernel: 16, stride: 8 }),
  problem('1d L1024 k64 causal', BF, { length: [1024], kernel: 64, causal: true }),
  problem('1d L512 k32 causal dil2', BF, { length: [512], kernel: 32, causal: true, dilation: 2 }),
  problem('1d L384 k13 d256', BF, { length: [384], kernel: 13, headDim: 256 }),
  problem('1d L8192 k255 d128 b2 h16', BF, { length: [8192], kernel: 255, headDim: 128, heads: 16 }),
  problem('1d L1000 k21 GQA 16/4', BF, { length: [1000], kernel: 21, heads: 16, headsKv: 4 }),
  problem('1d L300 k9 extra77', BF, { length: [300], kernel: 9, nExtra: 77 }),
  problem('1d L2048 k63 d128 MQA 8/1 extra1000', BF, {
    length: [2048],
    kernel: 63,
    headDim: 128,
    heads: 8,
    headsKv: 1,
    nExtra: 1000,
  }),
  problem('1d L2048 k65 fp16', F16, { length: [2048], kernel: 65 }),
  problem('1d L128 k3 d32 b32 h12 fp16', F16, { length: [128], kernel: 3, headDim: 32, batch: 32, heads: 12 }),
  problem('1d L4096 k4096 (k = L) fp16', F16, { length: [4096], kernel: 4096, batch: 1, heads: 2 }),
  problem('1d L640 k25 D96 Dv64', BF, { length: [640], kernel: 25, headDim: 96, headDimV: 64 }),
  problem('1d L200 k11 d40', F16, { length: [200], kernel: 11, headDim: 40 }),
  problem('1d L65536 k257 stride16 b1 h1 fp16', F16, { length: [65536], kernel: 257, stride: 16, batch: 1, heads: 1 }),
  problem('1d L512 k31 d16 b16 h32', BF, { length: [512], kernel: 31, headDim: 16, batch: 16, heads: 32 }),
  // 2-D
  problem('2d 14x14 k7 d32 b64', BF, { length: [14, 14], kernel: 7, headDim: 32, batch: 64 }),
  problem('2d 56x56 k7 d32 b8 h3', BF, { length: [56, 56], kernel: 7, headDim: 32, batch: 8, heads: 3 }),
  problem('2d 28x28 k7 h6', BF, { length: [28, 28], kernel: 7, heads: 6 }),
  problem('2d 64x64 k13', BF, { length: [64, 64], kernel: 13 }),
  problem('2d 128x128 k8 even', BF, { length: [128, 128], kernel: 8 }),
  problem('2d 32x32 k32 (k = L)', BF, { length: [32, 32], kernel: 32 }),
  problem('2d 7x7 k7 (k = L, tiny)', BF, { length: [7, 7], kernel: 7, batch: 256 }),
  problem('2d 100x37 k5x37 (k = L on one axis)', BF, { length: [100, 37], kernel: [5, 37] }),
  problem('2d 48x64 k9x15', BF, { length: [48, 64], kernel: [9, 15] }),
  problem('2d 96x96 k7 dil4', BF, { length: [96, 96], kernel: 7, dilation: 4 }),
  problem('2d 64x64 k11 dil2x3', BF, { length: [64, 64], kernel: 11, dilation: [2, 3] }),
  problem('2d 128x128 k16 stride8', BF, { length: [128, 128], kernel: 16, stride: 8 }),
  problem('2d 64x128 k9 stride3x4', BF, { length: [64, 128], kernel: 9, stride: [3, 4] }),
  problem('2d 64x64 k13 causal x', BF, { length: [64, 64], kernel: 13, causal: [true, false] }),
  problem('2d 32x32 k8 causal both', BF, { length: [32, 32], kernel: 8, causal: true }),
  problem('2d 48x48 k11 d128', BF, { length: [48, 48], kernel: 11, headDim: 128 }),
  problem('2d 32x32 k9 d256', BF, { length: [32, 32], kernel: 9, headDim: 256 }),
  problem('2d 64x64 k9 GQA 8/2', BF, { length: [64, 64], kernel: 9, heads: 8, headsKv: 2 }),
  problem('2d 32x32 k7 extra64', BF, { length: [32, 32], kernel: 7, nExtra: 64 }),
  problem('2d 40x40 k11 b3 h5', BF, { length: [40, 40], kernel: 11, batch: 3, heads: 5 }),
  problem('2d 512x512 k5 d32 b1 h1', BF, { length: [512, 512], kernel: 5, headDim: 32, batch: 1, heads: 1 }),
  problem('2d 200x200 k21 b1 h2 fp16', F16, { length: [200, 200], kernel: 21, batch: 1, heads: 2 }),
  problem('2d 16x16 k3 d32 b128 h8 fp16', F16, { length: [16, 16], kernel: 3, headDim: 32, batch: 128, heads: 8 }),
  problem('2d 256x256 k31 d128 fp16', F16, { length: [256, 256], kernel: 31, headDim: 128 }),
  problem('2d 64x64 k9 dil2 causal y d128 fp16', F16, {
    length: [64, 64],
    kernel: 9,
    dilation: 2,
    causal: [false, true],
    headDim: 128,
  }),
  problem('2d 32x32 k9 D64 Dv128 fp16', F16, { length: [32, 32], kernel: 9, headDimV: 128 }),
  problem('2d 64x64 k64 (k = L) d128 fp16', F16, { length: [64, 64], kernel: 64, headDim: 128 }),
  problem('2d 24x24 k5 d256 extra16 fp16', F16, { length: [24, 24], kernel: 5, headDim: 256, nExtra: 16 }),
  // 3-D
  problem('3d 8x16x16 k3 d32', BF, { length: [8, 16, 16], kernel: 3, headDim: 32 }),
  problem('3d 16x16x16 k5', BF, { length: [16, 16, 16], kernel: 5 }),
  problem('3d 32x32x32 k7', BF, { length: [32, 32, 32], kernel: 7 }),
  problem('3d 8x32x32 k3x7x7 d128', BF, { length: [8, 32, 32], kernel: [3, 7, 7], headDim: 128 }),
  problem('3d 16x16x16 k4 even', BF, { length: [16, 16, 16], kernel: 4 }),
  problem('3d 12x12x12 k12 (k = L) d32', BF, { length: [12, 12, 12], kernel: 12, headDim: 32 }),
  problem('3d 32x32x32 k5 dil2', BF, { length: [32, 32, 32], kernel: 5, dilation: 2 }),
  problem('3d 16x32x32 k8 stride4', BF, { length: [16, 32, 32], kernel: 8, stride: 4 }),
  problem('3d 16x24x24 k9x7x7 causal t', BF, { length: [16, 24, 24], kernel: [9, 7, 7], causal: [true, false, false] }),
  problem('3d 8x16x16 k5 d256', BF, { length: [8, 16, 16], kernel: 5, headDim: 256 }),
  problem('3d 16x16x16 k7 GQA 12/4', BF, { length: [16, 16, 16], kernel: 7, heads: 12, headsKv: 4 }),
  problem('3d 8x8x8 k3 d128 extra16', BF, { length: [8, 8, 8], kernel: 3, headDim: 128, nExtra: 16 }),
  problem('3d 64x16x16 k32x5x5 dil2x1x1 d32', BF, {
    length: [64, 16, 16],
    kernel: [32, 5, 5],
    dilation: [2, 1, 1],
    headDim: 32,
  }),
  problem('3d 24x24x24 k9 d128 fp16', F16, { length: [24, 24, 24], kernel: 9, headDim: 128 }),
  problem('3d 4x64x64 k3x13x13 fp16', F16, { length: [4, 64, 64], kernel: [3, 13, 13] }),
  problem('3d 8x8x8 k4 causal all fp16', F16, { length: [8, 8, 8], kernel: 4, causal: true }),
  problem('3d 48x48x48 k15 d32 b4 h1 fp16', F16, { length: [48, 48, 48], kernel: 15, headDim: 32, batch: 4, heads: 1 }),
  problem('3d 20x30x30 k5x9x9 stride2x3x3 d128 fp16', F16, {
    length: [20, 30, 30],
    kernel: [5, 9, 9],
    stride: [2, 3, 3],
    headDim: 128,
  }),
  problem('3d 6x6x6 k6 (k = L) b32 h8 fp16', F16, { length: [6, 6, 6], kernel: 6, batch: 32, heads: 8 }),
];

/** True for an object or array holding only primitives and arrays of primitives (a problem, a choice). */
function isRecord(value) {
  return Object.values(value).every(
    (v) =>
      v === null || typeof v !== 'object' || (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')),
  );
}

/** JSON with each record (a problem, a device, one choice) on one line: a changed choice is a one-line diff. */
function format(value, indent = '') {
  if (value === null || typeof value !== 'object' || isRecord(value)) return JSON.stringify(value);
  const inner = indent + '  ';
  if (Array.isArray(value)) return `[\n${value.map((v) => inner + format(v, inner)).join(',\n')}\n${indent}]`;
  const fields = Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${format(v, inner)}`);
  return `{\n${fields.join(',\n')}\n${indent}}`;
}

function main() {
  if (!natten.buildInfo().cuda) {
    console.error(
      'record_config_choices: the addon was built without CUDA; build it with nvcc present (NATTEN_CUDA=1)',
    );
    process.exit(1);
  }
  const names = new Set(PROBLEMS.map((p) => p.name));
  if (names.size !== PROBLEMS.length) throw new Error('problem names must be unique');
  const problems = PROBLEMS.map(({ name, dtype, problem: p }) => {
    const choices = {};
    for (const [device, caps] of Object.entries(DEVICES))
      choices[device] = natten.internal.chooseFusedConfigs(p, dtype, caps);
    return { name, dtype, problem: p, choices };
  });
  const fixture = {
    about:
      'Fused configs chosen with the default options for each problem on each device (capabilities given, ' +
      'not queried: the forward cost model estimates CTAs per SM from shared memory alone, where a real GPU asks ' +
      'the occupancy calculator, which also counts registers, so a real H100/A100 can pick another forward config). ' +
      'Written by dev/record_config_choices.js, checked by test/config_choices.test.ts.',
    devices: DEVICES,
    problems,
  };
  fs.writeFileSync(FIXTURE, format(fixture) + '\n');
  console.log(
    `record_config_choices: ${problems.length} problems x ${Object.keys(DEVICES).length} devices x 3 choices -> ` +
      path.relative(root, FIXTURE),
  );
}

main();
