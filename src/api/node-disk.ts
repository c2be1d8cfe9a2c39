/**
 * A disk image in a file, for Node (`npm start -- --disk PATH`, createVM in Node): the
 * `BlockBackend` of src/devices/virtio/disk.ts over synchronous node:fs calls, so virtio-blk can
 * complete requests when the guest notifies. Kept in src/api so that the browser bundle, which
 * imports src/devices and src/machine, never pulls in node:fs.
 *
 * Opened read-only unless `writable` is set; the machine puts a copy-on-write overlay in front
 * of it anyway, so the file is written only when the caller asks for write-through.
 *
 * Not supported: files larger than 2^53 bytes, sparse-file hole detection, locking against
 * other processes using the same image.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import type { BlockBackend } from '../devices/virtio/disk.ts';

export class NodeFileBackend implements BlockBackend {
  readonly size: number;
  private fd: number | undefined;
  readonly write: ((offset: number, src: Uint8Array) => void) | undefined;

  constructor(
    readonly path: string,
    options: { writable?: boolean } = {},
  ) {
    this.fd = openSync(path, options.writable ? 'r+' : 'r');
    this.size = fstatSync(this.fd).size;
    this.write = options.writable ? (offset, src) => this.writeAt(offset, src) : undefined;
  }

  read(offset: number, dest: Uint8Array): void {
    let done = 0;
    while (done < dest.length) {
      const n = readSync(this.openFd(), dest, done, dest.length - done, offset + done);
      if (n === 0) {
        dest.fill(0, done); // the file shrank under us: read zeros
        return;
      }
      done += n;
    }
  }

  flush(): void {
    if (this.write) fsyncSync(this.openFd());
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private writeAt(offset: number, src: Uint8Array): void {
    let done = 0;
    while (done < src.length) done += writeSync(this.openFd(), src, done, src.length - done, offset + done);
  }

  private openFd(): number {
    if (this.fd === undefined) throw new Error(`${this.path}: disk closed`);
    return this.fd;
  }
}
