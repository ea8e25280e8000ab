// Heap figures that mean something: garbage is collected before measuring, so growth is what stays
// reachable. `--expose-gc` is switched on at run time, so plain `npx jest` works without node flags.

import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

export const MiB = 1024 * 1024;

/** Heap in use after full collections, in bytes. */
export function retainedHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Rounds bytes to MiB with one decimal, for figures. */
export function mib(bytes: number): number {
  return Math.round((bytes / MiB) * 10) / 10;
}
