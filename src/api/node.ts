/**
 * `createVM()` for Node: boots a guest in this process (by default the project's own kernel and
 * initramfs from public/kernels) and returns the Vm API: console stream, waitFor, exec, events.
 *
 *   const { vm } = createVM();
 *   await vm.booted;
 *   const { stdout, exitCode } = await vm.exec('uname -m');
 *   await vm.poweroff();
 */
import { readFileSync } from 'node:fs';
import { startLocalVm, type LocalVm, type LocalVmConfig } from './local.ts';

export const DEFAULT_KERNEL_PATH = new URL('../../public/kernels/bzImage', import.meta.url);
export const DEFAULT_INITRD_PATH = new URL('../../public/kernels/initramfs.cpio', import.meta.url);

export interface NodeVmOptions extends Omit<LocalVmConfig, 'kernel' | 'initrd'> {
  /** bzImage bytes or a path (default: public/kernels/bzImage). */
  kernel?: Uint8Array | string | URL;
  /** initramfs bytes or a path (default: public/kernels/initramfs.cpio; null for none). */
  initrd?: Uint8Array | string | URL | null;
}

function bytes(input: Uint8Array | string | URL): Uint8Array {
  return input instanceof Uint8Array ? input : new Uint8Array(readFileSync(input));
}

export function createVM(options: NodeVmOptions = {}): LocalVm {
  const { kernel, initrd, ...rest } = options;
  return startLocalVm({
    ...rest,
    kernel: bytes(kernel ?? DEFAULT_KERNEL_PATH),
    initrd: initrd === null ? undefined : bytes(initrd ?? DEFAULT_INITRD_PATH),
  });
}
