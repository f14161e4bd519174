'use strict';
// The nvcc a source build uses: $CUDACXX, then the first on PATH, then $CUDA_HOME/bin, then /usr/local/cuda/bin.
// Shared by the native build (build-native.js), the prebuilt packages (prebuild.js) and the dev tools that
// compile kernels (dev/sass).
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

/** The path of that nvcc, or undefined without one. */
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

/** Its release, e.g. "13.0", from `nvcc --version`; undefined when that cannot be read. */
function nvccRelease(nvcc) {
  const r = spawnSync(nvcc, ['--version'], { encoding: 'utf8' });
  const m = /release (\d+\.\d+)/.exec(r.stdout || '');
  return m ? m[1] : undefined;
}

module.exports = { findNvcc, nvccRelease };
