#!/usr/bin/env node
// `npm start`: the demo (dist/lib/demo.js); `npm start -- --example nat [flags]` runs the NAT block example
// (dist/examples/nat_block_demo.js), `--example train` the training example (dist/examples/train_nat.js), in a
// repository checkout (examples are not in the npm package), with the remaining flags.
'use strict';
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const at = args.indexOf('--example');
if (at < 0) {
  require(path.join(__dirname, '..', 'dist', 'lib', 'demo.js'));
} else {
  const name = args[at + 1];
  const examples = { nat: 'nat_block_demo.js', train: 'train_nat.js' };
  if (!examples[name]) {
    console.error(`npm start: unknown example '${name ?? ''}' (known: ${Object.keys(examples).join(', ')})`);
    process.exit(2);
  }
  const file = path.join(__dirname, '..', 'dist', 'examples', examples[name]);
  if (!fs.existsSync(file)) {
    console.error(
      `npm start: ${file} is missing: the examples run from a repository checkout after \`npm run build:ts\``,
    );
    process.exit(1);
  }
  process.argv = [process.argv[0], file, ...args.slice(0, at), ...args.slice(at + 2)];
  require(file);
}
