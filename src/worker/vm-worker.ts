/**
 * The Web Worker entry: exposes one VmHost (./host.ts) over comlink as the `VmWorkerApi` of
 * src/api/protocol.ts. The page creates this worker as a module worker
 * (`new Worker(new URL('../worker/vm-worker.ts', import.meta.url), { type: 'module' })`, which
 * vite bundles in both the app and the library build).
 *
 * Not supported: more than one page per worker (a SharedWorker), and SharedArrayBuffer (none is
 * used, so the page needs no cross-origin isolation headers).
 */
import { expose } from 'comlink';
import { VmHost } from './host.ts';

expose(new VmHost());
