/**
 * Reader of "newc" cpio archives (the initramfs format, Linux Documentation/driver-api/early-userspace/buffer-format.rst).
 */

export interface CpioEntry {
  readonly name: string;
  readonly mode: number;
  readonly data: Uint8Array;
}

const HEADER = 110;

/** Lists the entries of a newc archive up to its TRAILER!!!. Throws on a malformed archive. */
export function readCpio(archive: Uint8Array): CpioEntry[] {
  const text = new TextDecoder('latin1');
  const field = (at: number, i: number) => Number.parseInt(text.decode(archive.subarray(at + 6 + i * 8, at + 14 + i * 8)), 16);
  const entries: CpioEntry[] = [];
  let at = 0;
  for (;;) {
    if (at + HEADER > archive.length) throw new Error('cpio: truncated header');
    const magic = text.decode(archive.subarray(at, at + 6));
    if (magic !== '070701' && magic !== '070702') throw new Error(`cpio: bad magic at ${at}`);
    const mode = field(at, 1);
    const fileSize = field(at, 6);
    const nameSize = field(at, 11);
    const nameStart = at + HEADER;
    const name = text.decode(archive.subarray(nameStart, nameStart + nameSize - 1));
    const dataStart = (nameStart + nameSize + 3) & ~3;
    if (dataStart + fileSize > archive.length) throw new Error(`cpio: truncated data of ${name}`);
    if (name === 'TRAILER!!!') return entries;
    entries.push({ name, mode, data: archive.subarray(dataStart, dataStart + fileSize) });
    at = (dataStart + fileSize + 3) & ~3;
  }
}
