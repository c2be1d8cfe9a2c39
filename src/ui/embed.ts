/**
 * The embeddable build of virtlite (vite library mode, `npm run build` → dist/lib/virtlite.js):
 * importing it registers `<virtlite-vm>` and gives the browser `createVM()` (the same Vm API as
 * in Node: console stream, waitFor, exec, events). The emulator's worker is emitted next to it
 * in dist/lib/assets/ and must be served from the page's origin (module workers are
 * same-origin). No cross-origin isolation headers are needed: nothing uses SharedArrayBuffer.
 *
 *   <script type="module" src="/lib/virtlite.js"></script>
 *   <virtlite-vm kernel="/kernels/bzImage" initrd="/kernels/initramfs.cpio" autostart></virtlite-vm>
 *
 * Not supported: a UMD/CommonJS build (ES module only), loading the worker from a CDN origin.
 */
import { defineVirtliteElement } from './element.ts';

export {
  createVM, toImageSource, parseNetSpec, DEFAULT_KERNEL_URL, DEFAULT_INITRD_URL, Vm, VmError, DEFAULT_BOOT_MARKER,
  type BrowserVm, type BrowserVmOptions, type ImageInput, type ImageKind, type NetConfig, type NetInfo, type NetOption, type MachineInfo, type WorkerEvent, type WorkerStats,
  type ExecResult, type VmEvent,
} from '../api/browser.ts';
export { VirtliteVmElement, defineVirtliteElement, ELEMENT_NAME, type VirtliteVmEventMap } from './element.ts';
export { bootStages, type BootStage, type BootStageId } from './boot-stages.ts';

defineVirtliteElement();
