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

/** A file or directory to put in a newc archive. */
export interface CpioFile {
  readonly name: string;
  /** Full st_mode, e.g. 0o100755 for an executable, 0o040755 for a directory. */
  readonly mode: number;
  readonly data?: Uint8Array;
}

/**
 * Writes a newc archive (with its TRAILER!!!). Linux accepts archives concatenated after the
 * initramfs, so tests add files to the default guest by appending one of these.
 */
export function writeCpio(files: readonly CpioFile[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  const enc = new TextEncoder();
  let size = 0;
  const push = (b: Uint8Array) => {
    chunks.push(b);
    size += b.length;
    const pad = (4 - (size % 4)) % 4;
    if (pad) {
      chunks.push(new Uint8Array(pad));
      size += pad;
    }
  };
  const hex = (v: number) => (v >>> 0).toString(16).padStart(8, '0');
  [...files, { name: 'TRAILER!!!', mode: 0 }].forEach((f, i) => {
    const data = f.data ?? new Uint8Array(0);
    const name = enc.encode(`${f.name}\0`);
    // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
    const fields = [i + 1, f.mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, name.length, 0];
    const header = enc.encode(`070701${fields.map(hex).join('')}`);
    const head = new Uint8Array(header.length + name.length);
    head.set(header);
    head.set(name, header.length);
    push(head);
    if (data.length) push(data);
  });
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
