/**
 * A disk image in a File or Blob (the page's file picker, a Blob the caller made): an
 * `AsyncBlockBackend` (./disk.ts) that reads the requested range with
 * `blob.slice(start, end).arrayBuffer()`, so the image is never copied into memory as a whole.
 * virtio-blk puts a copy-on-write overlay in front of it: the Blob is never written.
 *
 * Not supported: writing (Blobs are immutable; the overlay takes the writes), noticing that
 * the underlying file changed on disk after it was picked (the browser then fails the read,
 * which the guest sees as an I/O error), images larger than 2^53 bytes.
 */
import type { AsyncBlockBackend } from './disk.ts';

export class BlobBackend implements AsyncBlockBackend {
  readonly async = true;
  readonly size: number;

  constructor(readonly blob: Blob) {
    this.size = blob.size;
  }

  async readAsync(offset: number, dest: Uint8Array): Promise<void> {
    const bytes = new Uint8Array(await this.blob.slice(offset, offset + dest.length).arrayBuffer());
    if (bytes.length !== dest.length) throw new Error(`short read from the disk image: ${bytes.length} of ${dest.length} bytes at ${offset}`);
    dest.set(bytes);
  }
}
