/**
 * Disk images for virtio-blk: the `BlockBackend` interface, an in-memory image, and the
 * copy-on-write overlay that takes the guest's writes so that the base image is never modified
 * (shared/MACHINE.md, virtio-blk: "writes into a copy-on-write overlay that can be persisted").
 *
 * Backends are synchronous: virtio-blk handles a request completely when the guest notifies.
 * A file in Node is `NodeFileBackend` (src/api/node-disk.ts), kept out of this file so that the
 * browser bundle never imports node:fs.
 *
 * The overlay keeps written data in 4 KiB chunks (a sparse map: chunk index -> bytes). A write
 * to part of a chunk first copies the chunk from the base, so a chunk in the map is always the
 * complete current content. Export format (little-endian), for saving and re-importing:
 *   "VLCOW1\0\0"  magic (8 bytes)
 *   u32 chunk size, u32 chunk count, u64 base image size
 *   count x { u64 chunk index, chunk bytes }   (sorted by index)
 *
 * Not supported: images whose size is not a multiple of 512 (the tail is not addressable by
 * the guest), asynchronous backends (File, Blob, URL ranges: a later increment), compaction or
 * discard of overlay chunks, growing an image.
 */

/** A disk image the device reads (and, if `write` exists and is allowed, writes). */
export interface BlockBackend {
  /** Size in bytes. */
  readonly size: number;
  /** Fills `dest` from byte `offset`; the range lies inside [0, size). */
  read(offset: number, dest: Uint8Array): void;
  /** Writes `src` at byte `offset` (only backends that can be written have it). */
  write?(offset: number, src: Uint8Array): void;
  /** Makes earlier writes durable. */
  flush?(): void;
}

/** An image held in memory (an ArrayBuffer in the page, a fixture in tests). */
export class MemoryBackend implements BlockBackend {
  readonly size: number;
  constructor(readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }

  read(offset: number, dest: Uint8Array): void {
    dest.set(this.bytes.subarray(offset, offset + dest.length));
  }

  write(offset: number, src: Uint8Array): void {
    this.bytes.set(src, offset);
  }
}

/** Overlay chunk size: the page size, and a multiple of every sector size the guest uses. */
export const COW_CHUNK_SIZE = 4096;
const COW_MAGIC = 'VLCOW1\0\0';
const COW_HEADER_SIZE = 24;

export class CowFormatError extends Error {
  override name = 'CowFormatError';
}

/** Reads go to the overlay where the guest wrote, to the base elsewhere; writes never reach the base. */
export class CowOverlay implements BlockBackend {
  readonly size: number;
  /** Written chunks by index; each holds the chunk's complete current content. */
  private readonly chunks = new Map<number, Uint8Array>();

  constructor(readonly base: BlockBackend) {
    this.size = base.size;
  }

  /** Number of chunks the guest has written. */
  get chunkCount(): number {
    return this.chunks.size;
  }

  read(offset: number, dest: Uint8Array): void {
    this.forEachChunk(offset, dest.length, (index, inChunk, at, n) => {
      const chunk = this.chunks.get(index);
      if (chunk) dest.set(chunk.subarray(inChunk, inChunk + n), at);
      else this.base.read(offset + at, dest.subarray(at, at + n));
    });
  }

  write(offset: number, src: Uint8Array): void {
    this.forEachChunk(offset, src.length, (index, inChunk, at, n) => {
      let chunk = this.chunks.get(index);
      if (!chunk) {
        chunk = new Uint8Array(COW_CHUNK_SIZE);
        const start = index * COW_CHUNK_SIZE;
        const length = Math.min(COW_CHUNK_SIZE, this.size - start);
        // Only a partial write needs the old content.
        if (inChunk !== 0 || n !== length) this.base.read(start, chunk.subarray(0, length));
        this.chunks.set(index, chunk);
      }
      chunk.set(src.subarray(at, at + n), inChunk);
    });
  }

  /** The overlay as bytes (format in the file comment). */
  export(): Uint8Array {
    const indices = [...this.chunks.keys()].sort((a, b) => a - b);
    const out = new Uint8Array(COW_HEADER_SIZE + indices.length * (8 + COW_CHUNK_SIZE));
    const view = new DataView(out.buffer);
    for (let i = 0; i < COW_MAGIC.length; i++) out[i] = COW_MAGIC.charCodeAt(i);
    view.setUint32(8, COW_CHUNK_SIZE, true);
    view.setUint32(12, indices.length, true);
    view.setBigUint64(16, BigInt(this.size), true);
    let at = COW_HEADER_SIZE;
    for (const index of indices) {
      view.setBigUint64(at, BigInt(index), true);
      out.set(this.chunks.get(index)!, at + 8);
      at += 8 + COW_CHUNK_SIZE;
    }
    return out;
  }

  /** An overlay over `base` with the chunks of an earlier `export()`. Throws CowFormatError. */
  static import(base: BlockBackend, bytes: Uint8Array): CowOverlay {
    const overlay = new CowOverlay(base);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const magic = String.fromCharCode(...bytes.subarray(0, COW_MAGIC.length));
    if (bytes.length < COW_HEADER_SIZE || magic !== COW_MAGIC) throw new CowFormatError('not a virtlite overlay (bad magic)');
    if (view.getUint32(8, true) !== COW_CHUNK_SIZE) throw new CowFormatError('unsupported overlay chunk size');
    const count = view.getUint32(12, true);
    if (Number(view.getBigUint64(16, true)) !== base.size) throw new CowFormatError('overlay was made for an image of another size');
    if (bytes.length !== COW_HEADER_SIZE + count * (8 + COW_CHUNK_SIZE)) throw new CowFormatError('overlay length does not match its chunk count');
    const chunks = Math.ceil(base.size / COW_CHUNK_SIZE);
    let at = COW_HEADER_SIZE;
    for (let i = 0; i < count; i++) {
      const index = Number(view.getBigUint64(at, true));
      if (index >= chunks) throw new CowFormatError(`overlay chunk ${index} beyond the image`);
      overlay.chunks.set(index, bytes.slice(at + 8, at + 8 + COW_CHUNK_SIZE));
      at += 8 + COW_CHUNK_SIZE;
    }
    return overlay;
  }

  /** Calls `fn(chunkIndex, offsetInChunk, offsetInBuffer, length)` for each chunk of a range. */
  private forEachChunk(offset: number, length: number, fn: (index: number, inChunk: number, at: number, n: number) => void): void {
    let at = 0;
    while (at < length) {
      const pos = offset + at;
      const index = Math.floor(pos / COW_CHUNK_SIZE);
      const inChunk = pos - index * COW_CHUNK_SIZE;
      const n = Math.min(COW_CHUNK_SIZE - inChunk, length - at);
      fn(index, inChunk, at, n);
      at += n;
    }
  }
}
