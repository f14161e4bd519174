// V8's full garbage collection as a function, for the dev harnesses and the tests (node needs no
// --expose-gc: the flag is set at run time and gc() taken from a fresh context, the documented way).
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');

/** Runs a full garbage collection (the addon's finalizers run inside it). */
export const gc = vm.runInNewContext('gc') as () => void;
