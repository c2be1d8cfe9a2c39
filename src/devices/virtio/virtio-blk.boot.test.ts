import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initrdWithTests } from '../../../guest/test-initrd.ts';
import { makeTestDisk, sha256Hex, testDiskFiles } from '../../../guest/test-disk.ts';
import { startLocalVm, type LocalVm } from '../../api/local.ts';
import { NodeFileBackend } from '../../api/node-disk.ts';
import { DEFAULT_CMDLINE } from '../../machine/machine.ts';
import { CowOverlay } from './disk.ts';

// The default guest with the ext2 test disk (guest/test-disk.ts) on virtio-blk: two boots.
// 1. MSI-X, writable overlay: mount, check every file's checksum, write a file, sync, and find
//    the data in the host-side overlay (the image file stays unchanged).
// 2. pci=nomsi (INTx through the IOAPIC), the exported overlay re-imported, disk read-only:
//    the file written in boot 1 is there, and writes are refused.

const kernel = new Uint8Array(readFileSync(new URL('../../../public/kernels/bzImage', import.meta.url)));
const BOOT_TIMEOUT = 180_000;
const MARKER = 'virtlite: boot complete, shell ready';
const NOTE = 'written by the guest through virtio-blk';

const dir = mkdtempSync(join(tmpdir(), 'virtlite-blk-'));
const image = join(dir, 'test-disk.img');
makeTestDisk(image);
const imageSum = sha256Hex(readFileSync(image));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function boot(config: Partial<Parameters<typeof startLocalVm>[0]>): Promise<LocalVm> {
  const local = startLocalVm({ kernel, initrd: initrdWithTests(), ...config });
  await local.vm.waitFor(MARKER, { timeoutMs: BOOT_TIMEOUT });
  return local;
}

function shell(local: LocalVm) {
  return async (command: string, expectedExit = 0) => {
    const r = await local.vm.exec(command, { timeoutMs: 60_000 });
    expect(r.exitCode, `${command}\n${r.stdout}`).toBe(expectedExit);
    return r.stdout;
  };
}

let exported: Uint8Array | undefined;

describe('virtio-blk in the default guest, MSI-X, writable overlay', () => {
  let local: LocalVm;
  let backend: NodeFileBackend;
  beforeAll(async () => {
    backend = new NodeFileBackend(image);
    local = await boot({ disks: [{ backend }] });
  }, BOOT_TIMEOUT + 5000);
  afterAll(() => {
    local?.vm.stop();
    backend?.close();
  });

  it('finds the virtio-blk PCI device at 00:01.0 and its 4 MiB disk', async () => {
    const sh = shell(local);
    expect(await sh('cat /sys/bus/pci/devices/0000:00:01.0/vendor /sys/bus/pci/devices/0000:00:01.0/device')).toMatch(/0x1af4\s+0x1042/);
    expect(await sh('cat /sys/block/vda/size')).toMatch(/^8192\s*$/m);
    expect(await sh('cat /sys/block/vda/ro')).toMatch(/^0\s*$/m);
  });

  it('mounts the ext2 disk and every file matches its checksum', async () => {
    const sh = shell(local);
    await sh('mount /dev/vda /mnt');
    expect(await sh('(cd /mnt && sha256sum -c SHA256SUMS)')).toMatch(/data\.bin: OK/);
    const sum = sha256Hex(testDiskFiles().get('data.bin')!);
    expect(await sh('sha256sum /mnt/data.bin')).toContain(sum);
  });

  it('interrupts through MSI-X (PCI-MSI in /proc/interrupts, with a non-zero count)', async () => {
    const line = (await shell(local)('grep virtio /proc/interrupts')).split('\n').find((l) => /virtio0-req/.test(l));
    expect(line).toMatch(/^\s*\d+:\s+[1-9]\d*\s+PCI-MSI/);
  });

  it('writes a file; after sync the data is in the host overlay and the image file is unchanged', async () => {
    const sh = shell(local);
    await sh(`echo '${NOTE}' > /mnt/note.txt && sync && umount /mnt`);
    const overlay = local.machine.disks[0]!.overlay!;
    expect(overlay.chunkCount).toBeGreaterThan(0);
    exported = overlay.export();
    expect(Buffer.from(exported).includes(NOTE)).toBe(true);
    expect(sha256Hex(readFileSync(image))).toBe(imageSum);
  });
});

describe('virtio-blk with pci=nomsi (INTx), the overlay re-imported, read-only', () => {
  let local: LocalVm;
  let backend: NodeFileBackend;
  beforeAll(async () => {
    if (!exported) throw new Error('the first boot did not export an overlay');
    backend = new NodeFileBackend(image);
    const overlay = CowOverlay.import(backend, exported);
    local = await boot({ disks: [{ backend, overlay, readOnly: true }], cmdline: `${DEFAULT_CMDLINE} pci=nomsi` });
  }, BOOT_TIMEOUT + 5000);
  afterAll(() => {
    local?.vm.stop();
    backend?.close();
  });

  it('reads the file written in the first boot', async () => {
    const sh = shell(local);
    expect(await sh('cat /sys/block/vda/ro')).toMatch(/^1\s*$/m);
    await sh('mount -o ro /dev/vda /mnt');
    expect(await sh('cat /mnt/note.txt')).toContain(NOTE);
    expect(await sh('(cd /mnt && sha256sum -c SHA256SUMS)')).toMatch(/hello\.txt: OK/);
  });

  it('refuses writes', async () => {
    const sh = shell(local);
    await sh('echo x > /mnt/other.txt', 1);
    await sh('mount -o remount,rw /mnt', 255);
    await sh('dd if=/dev/zero of=/dev/vda bs=512 count=1', 1);
  });

  it('interrupts through INTx: a level-triggered IO-APIC pin of 16-19', async () => {
    const sh = shell(local);
    const line = (await sh('grep virtio /proc/interrupts')).split('\n').find((l) => /virtio0/.test(l));
    expect(line).toMatch(/^\s*\d+:\s+[1-9]\d*\s+IO-APIC\s+1[6-9]-fasteoi\s+virtio0/);
    expect(await sh('grep -c PCI-MSI /proc/interrupts || true')).toMatch(/^0\s*$/m);
  });
});
