#!/usr/bin/env node
// Builds the native addon with cmake-js.
//   NATTEN_CUDA=1      require the CUDA build (fail if nvcc is missing or the CUDA build fails)
//   NATTEN_CUDA=0      build the CPU-only addon
//   (unset)            CUDA when nvcc is found (PATH, $CUDA_HOME/bin, /usr/local/cuda/bin), else CPU-only
//   NATTEN_CUDA_ARCHS  CMake CUDA architectures (default 80-real;86-real;89-real;90a-real;80-virtual)
//   NATTEN_BUILD_DIR   build folder (default build/); lib/native.ts finds build/Release/natten.node
//   NATTEN_CPU_ARCH    -march for the CPU engine (default native)
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const DEFAULT_ARCHS = '80-real;86-real;89-real;90a-real;80-virtual';

function findNvcc() {
  const candidates = [];
  if (process.env.CUDACXX) candidates.push(process.env.CUDACXX);
  for (const dir of (process.env.PATH || '').split(path.delimiter)) if (dir) candidates.push(path.join(dir, 'nvcc'));
  if (process.env.CUDA_HOME) candidates.push(path.join(process.env.CUDA_HOME, 'bin', 'nvcc'));
  candidates.push('/usr/local/cuda/bin/nvcc');
  return candidates.find((c) => {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const want = process.env.NATTEN_CUDA;
const nvcc = want === '0' ? undefined : findNvcc();
if (want === '1' && !nvcc) {
  console.error('natten-node: NATTEN_CUDA=1 but nvcc was not found (PATH, CUDA_HOME, /usr/local/cuda/bin).');
  process.exit(1);
}
const withCuda = Boolean(nvcc);
const archs = process.env.NATTEN_CUDA_ARCHS || DEFAULT_ARCHS;
const buildDir = path.resolve(root, process.env.NATTEN_BUILD_DIR || 'build');
const jobs = Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length);

const args = [
  require.resolve('cmake-js/bin/cmake-js'),
  'compile',
  '--out',
  buildDir,
  '--config',
  'Release',
  '--parallel',
  String(jobs),
  `--CDNATTEN_WITH_CUDA=${withCuda ? 'ON' : 'OFF'}`,
];
if (withCuda) {
  args.push(`--CDCMAKE_CUDA_COMPILER=${nvcc}`, `--CDCMAKE_CUDA_ARCHITECTURES=${archs}`);
}
if (process.env.NATTEN_CPU_ARCH !== undefined) args.push(`--CDNATTEN_CPU_ARCH=${process.env.NATTEN_CPU_ARCH}`);

const started = Date.now();
console.log(
  `natten-node: building the ${withCuda ? `CUDA addon (nvcc ${nvcc}, archs ${archs})` : 'CPU-only addon (no nvcc found)'} with ${jobs} jobs in ${buildDir}`,
);
const res = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: String(jobs) },
});
if (res.status !== 0) {
  console.error(
    `natten-node: native build failed (exit ${res.status}).` +
      (withCuda
        ? ' To build without CUDA set NATTEN_CUDA=0; to use node-gyp (CPU only) run `npx node-gyp rebuild`.'
        : ''),
  );
  process.exit(res.status || 1);
}
console.log(`natten-node: native build done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
