#!/usr/bin/env node
// The package's install step: use the prebuilt per-platform package that matches this host (an optional
// dependency: @natten-node/<platform>-<arch>[-cudaNN]) when one is installed and loads, otherwise build
// from source (scripts/build-native.js). NATTEN_FROM_SOURCE=1 always builds from source.
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');
const choice = require('./addon_choice');
const { say } = require('./build_progress');

const root = path.resolve(__dirname, '..');

/** The first line of the error a plain `require` of the addon gives in a fresh process, or '' when it loads. */
function loadError(file) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], { encoding: 'utf8' });
  if (r.status === 0) return '';
  const lines = (r.stderr || '').split('\n').filter((l) => /Error/.test(l));
  return (lines[0] || `exit ${r.status}`).trim();
}

function buildFromSource() {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'build-native.js')], { cwd: root, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const host = choice.currentHost();
const c = choice.chooseInstall({
  host,
  installed: choice.installedPrebuilts(root, host),
  fromSource: process.env.NATTEN_FROM_SOURCE === '1',
});
say(c.message);
if (c.use.kind === 'source') buildFromSource();
else {
  const file = choice.prebuiltAddonPath(root, c.use.name);
  const err = loadError(file);
  if (err) {
    say(`the prebuilt ${c.use.name} does not load here (${err}): building from source`);
    buildFromSource();
  }
}
