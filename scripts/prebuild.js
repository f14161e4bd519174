#!/usr/bin/env node
// Makes the prebuilt per-platform packages this machine can build, and the main package that lists them
// as optionalDependencies, as npm tarballs in prebuild/dist/:
//   @natten-node/<platform>-<arch>          the CPU-only addon (always)
//   @natten-node/<platform>-<arch>-cudaNN   the CUDA addon for the default architecture list, where nvcc
//                                           NN.x is found (minutes: every architecture is compiled)
//   natten-node-<version>.tgz               the main package; its optionalDependencies name every package
//                                           under prebuild/packages/ (a release gathers them from each
//                                           platform's machine there before packing the main package)
// Usage: node scripts/prebuild.js [--only cpu|cuda] [--skip-build]
//   --skip-build packs the addons already built in prebuild/build-*/ (repacking after a change of metadata).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const { findNvcc, nvccRelease } = require('./find_nvcc');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');
const { SCOPE } = require('./addon_choice');
const { say } = require('./build_progress');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'prebuild');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const { values: opts } = parseArgs({ options: { only: { type: 'string' }, 'skip-build': { type: 'boolean' } } });

function run(cmd, args, o = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...o });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
  return r;
}

/** CUDA major version of the nvcc the source build would use ('' without one). */
function cudaMajor() {
  const nvcc = findNvcc();
  const release = nvcc ? nvccRelease(nvcc) : undefined;
  return release ? release.split('.')[0] : '';
}

/** The flavours to make here: [{flavour: '' | 'cudaNN', env}]. */
function flavours() {
  const list = [];
  if (opts.only !== 'cuda') list.push({ flavour: '', env: { NATTEN_CUDA: '0' } });
  const major = opts.only === 'cpu' ? '' : cudaMajor();
  if (major) list.push({ flavour: `cuda${major}`, env: { NATTEN_CUDA: '1', NATTEN_CUDA_ARCHS: '' } });
  return list;
}

/** The platform package's package.json: installable only where it runs (npm skips it elsewhere). */
function platformManifest(name, flavour) {
  const m = {
    name,
    version: pkg.version,
    description: `Prebuilt ${pkg.name} addon for ${process.platform}-${process.arch}${flavour ? ` with ${flavour.replace('cuda', 'CUDA ')}` : ' (CPU only)'}`,
    license: pkg.license,
    os: [process.platform],
    cpu: [process.arch],
    files: ['natten.node', 'README.md'],
  };
  if (process.platform === 'linux') m.libc = ['glibc'];
  return m;
}

function makePlatformPackage({ flavour, env }) {
  const name = `${SCOPE}/${process.platform}-${process.arch}${flavour ? `-${flavour}` : ''}`;
  const buildDir = path.join(out, `build-${flavour || 'cpu'}`);
  if (!opts['skip-build']) {
    say(`prebuild: ${name}`);
    run(process.execPath, [path.join(__dirname, 'build-native.js')], {
      cwd: root,
      env: { ...process.env, ...env, NATTEN_BUILD_DIR: buildDir, NATTEN_CPU_LEVELS: '' },
    });
  }
  const dir = path.join(out, 'packages', name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(buildDir, 'Release', 'natten.node'), path.join(dir, 'natten.node'));
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(platformManifest(name, flavour), null, 2)}\n`);
  fs.writeFileSync(
    path.join(dir, 'README.md'),
    `# ${name}\n\nThe prebuilt native addon of [${pkg.name}](https://www.npmjs.com/package/${pkg.name}) for this platform. ` +
      `Install \`${pkg.name}\`: it depends on this package optionally and loads it when it matches the host.\n`,
  );
  return name;
}

function pack(dir) {
  run('npm', ['pack', '--ignore-scripts', '--pack-destination', path.join(out, 'dist')], { cwd: dir });
}

/** Every platform package under prebuild/packages (made here or gathered from other machines). */
function allPlatformPackages() {
  const scopeDir = path.join(out, 'packages', SCOPE);
  return fs.existsSync(scopeDir) ? fs.readdirSync(scopeDir).map((n) => `${SCOPE}/${n}`) : [];
}

/** The main package: the repository's files (npm pack) with the platform packages as optionalDependencies. */
function makeMainPackage() {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'natten-prebuild-'));
  run('npm', ['pack', '--pack-destination', stage], { cwd: root });
  const tgz = fs.readdirSync(stage).find((f) => f.endsWith('.tgz'));
  run('tar', ['-xzf', path.join(stage, tgz), '-C', stage]);
  const manifestFile = path.join(stage, 'package', 'package.json');
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  manifest.optionalDependencies = Object.fromEntries(allPlatformPackages().map((n) => [n, pkg.version]));
  fs.writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  pack(path.join(stage, 'package'));
  fs.rmSync(stage, { recursive: true, force: true });
}

fs.mkdirSync(path.join(out, 'dist'), { recursive: true });
for (const f of flavours()) pack(path.join(out, 'packages', makePlatformPackage(f)));
makeMainPackage();
say(`prebuild: tarballs in ${path.join(out, 'dist')}: ${fs.readdirSync(path.join(out, 'dist')).join(', ')}`);
