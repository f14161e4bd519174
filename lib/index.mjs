// ESM entry of natten-node (`import natten from 'natten-node'` or `import { na2d } from 'natten-node'`):
// the CommonJS build in dist/lib, whose named exports Node detects statically, plus a default export.
import natten from '../dist/lib/index.js';

export * from '../dist/lib/index.js';
export default natten;
