/**
 * Disk images for virtio-blk: the `BlockBackend` interface, an in-memory image, and the
 * copy-on-write overlay that takes the guest's writes so that the base image is never modified
 * (shared/MACHINE.md, virtio-blk: "writes into a copy-on-write overlay that can be persisted").
 *
 * Two kinds of backends:
 * - synchronous (`BlockBackend`): memory, a file in Node (`NodeFileBackend`, src/api/node-disk.ts,
 *   kept out of this file so that the browser bundle never imports node:fs). virtio-blk handles
 *   a request completely when the guest notifies;
 * - asynchronous (`AsyncBlockBackend`, marked `async: true`): a File/Blob (./disk-blob.ts) or a
 *   URL read with HTTP range requests (./disk-http.ts). virtio-blk starts the request when the
 *   guest notifies and completes it when the data has arrived (./virtio-blk.ts).
 * The overlay takes either kind as its base and is asynchronous exactly when its base is.
 *
 * The overlay keeps written data in 4 KiB chunks (a sparse map: chunk index -> bytes). A write
 * to part of a chunk first copies the chunk from the base, so a chunk in the map is always the
 * complete current content. Export format (little-endian), for saving and re-importing:
 *   "VLCOW1\0\0"  magic (8 bytes)
 *   u32 chunk size, u32 chunk count, u64 base image size
 *   count x { u64 chunk index, chunk bytes }   (sorted by index)
 *
 * Flush: the overlay's `onFlush` hook runs when the guest flushes (VIRTIO_BLK_T_FLUSH); the page
 * saves the exported overlay there (src/worker/overlay-store.ts), the CLI writes it to a file.
 * Over an asynchronous base the device waits for the hook's promise before it reports the flush
 * done, so what the guest synced is saved before the guest hears so.
 *
 * Not supported: images whose size is not a multiple of 512 (the tail is not addressable by
 * the guest), compaction or discard of overlay chunks, growing an image, concurrent
 * asynchronous requests on one overlay (virtio-blk runs them one at a time, in order).
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

/**
 * A disk image whose reads complete later (a Blob, a URL). `async: true` tells the device and
 * the overlay apart from a synchronous `BlockBackend`. Promises reject for a host I/O error.
 */
export interface AsyncBlockBackend {
  readonly async: true;
  /** Size in bytes. */
  readonly size: number;
  /** Fills `dest` from byte `offset`; the range lies inside [0, size). */
  readAsync(offset: number, dest: Uint8Array): Promise<void>;
  /** Writes `src` at byte `offset` (only backends that can be written have it). */
  writeAsync?(offset: number, src: Uint8Array): Promise<void>;
  /** Makes earlier writes durable. */
  flushAsync?(): Promise<void>;
}

/** Either kind of backend. */
export type DiskBackend = BlockBackend | AsyncBlockBackend;

/** Whether `backend` completes its requests asynchronously. */
export function isAsyncBackend(backend: DiskBackend): backend is AsyncBlockBackend {
  return (backend as { async?: unknown }).async === true && typeof (backend as { readAsync?: unknown }).readAsync === 'function';
}

/** Reads from either kind of backend. */
async function readFrom(backend: DiskBackend, offset: number, dest: Uint8Array): Promise<void> {
  if (isAsyncBackend(backend)) await backend.readAsync(offset, dest);
  else backend.read(offset, dest);
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

export interface CowOverlayOptions {
  /**
   * Runs when the guest flushes: save the overlay here. Over an asynchronous base the device
   * waits for a returned promise (a rejection fails the guest's flush); over a synchronous base
   * the hook should work synchronously (a returned promise is not waited for).
   */
  onFlush?: (overlay: CowOverlay) => void | Promise<void>;
}

/** Reads go to the overlay where the guest wrote, to the base elsewhere; writes never reach the base. */
export class CowOverlay implements BlockBackend {
  readonly size: number;
  /** True when the base is asynchronous: use readAsync/writeAsync/flushAsync. */
  readonly async: boolean;
  /** Bumped by every write: a saver compares it with the version it saved last. */
  version = 0;
  /** Written chunks by index; each holds the chunk's complete current content. */
  private readonly chunks = new Map<number, Uint8Array>();
  private readonly onFlush: CowOverlayOptions['onFlush'];

  constructor(
    readonly base: DiskBackend,
    options: CowOverlayOptions = {},
  ) {
    this.size = base.size;
    this.async = isAsyncBackend(base);
    this.onFlush = options.onFlush;
  }

  /** Number of chunks the guest has written. */
  get chunkCount(): number {
    return this.chunks.size;
  }

  /** A synchronous read; over an asynchronous base only where the overlay has every chunk. */
  read(offset: number, dest: Uint8Array): void {
    this.forEachChunk(offset, dest.length, (index, inChunk, at, n) => {
      const chunk = this.chunks.get(index);
      if (chunk) dest.set(chunk.subarray(inChunk, inChunk + n), at);
      else this.syncBase().read(offset + at, dest.subarray(at, at + n));
    });
  }

  /** A synchronous write; over an asynchronous base only whole or already written chunks. */
  write(offset: number, src: Uint8Array): void {
    this.forEachChunk(offset, src.length, (index, inChunk, at, n) => {
      let chunk = this.chunks.get(index);
      if (!chunk) {
        chunk = new Uint8Array(COW_CHUNK_SIZE);
        // Only a partial write needs the old content.
        if (inChunk !== 0 || n !== this.chunkLength(index)) this.syncBase().read(index * COW_CHUNK_SIZE, chunk.subarray(0, this.chunkLength(index)));
        this.chunks.set(index, chunk);
      }
      chunk.set(src.subarray(at, at + n), inChunk);
    });
    this.version++;
  }

  /** The guest flushed: runs the hook (synchronous use; see CowOverlayOptions.onFlush). */
  flush(): void {
    const r = this.onFlush?.(this);
    if (r instanceof Promise) r.catch(() => {}); // not awaited: the synchronous path cannot wait
  }

  /** Reads, fetching what the overlay lacks from the base (one base read per contiguous run). */
  async readAsync(offset: number, dest: Uint8Array): Promise<void> {
    const runs: [number, number][] = []; // [offset in dest, length] read from the base
    this.forEachChunk(offset, dest.length, (index, inChunk, at, n) => {
      const chunk = this.chunks.get(index);
      if (chunk) dest.set(chunk.subarray(inChunk, inChunk + n), at);
      else {
        const last = runs[runs.length - 1];
        if (last && last[0] + last[1] === at) last[1] += n;
        else runs.push([at, n]);
      }
    });
    await Promise.all(runs.map(([at, n]) => readFrom(this.base, offset + at, dest.subarray(at, at + n))));
  }

  /** Writes; chunks written in part are first fetched from the base. */
  async writeAsync(offset: number, src: Uint8Array): Promise<void> {
    const needed: number[] = [];
    this.forEachChunk(offset, src.length, (index, inChunk, _at, n) => {
      if (!this.chunks.has(index) && (inChunk !== 0 || n !== this.chunkLength(index))) needed.push(index);
    });
    const fetched = await Promise.all(
      needed.map(async (index) => {
        const chunk = new Uint8Array(COW_CHUNK_SIZE);
        await readFrom(this.base, index * COW_CHUNK_SIZE, chunk.subarray(0, this.chunkLength(index)));
        return [index, chunk] as const;
      }),
    );
    // Applied in one synchronous step after every base read has arrived.
    for (const [index, chunk] of fetched) if (!this.chunks.has(index)) this.chunks.set(index, chunk);
    this.forEachChunk(offset, src.length, (index, inChunk, at, n) => {
      let chunk = this.chunks.get(index);
      if (!chunk) this.chunks.set(index, (chunk = new Uint8Array(COW_CHUNK_SIZE)));
      chunk.set(src.subarray(at, at + n), inChunk);
    });
    this.version++;
  }

  /** The guest flushed: runs the hook and waits for it (a rejection fails the flush). */
  async flushAsync(): Promise<void> {
    await this.onFlush?.(this);
  }

  /** Bytes of chunk `index` that lie inside the image (the last chunk may be partial). */
  private chunkLength(index: number): number {
    return Math.min(COW_CHUNK_SIZE, this.size - index * COW_CHUNK_SIZE);
  }

  /** The base for a synchronous access; an asynchronous one cannot serve it. */
  private syncBase(): BlockBackend {
    if (isAsyncBackend(this.base)) throw new Error('the base image is read asynchronously: use readAsync/writeAsync');
    return this.base;
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
  static import(base: DiskBackend, bytes: Uint8Array, options: CowOverlayOptions = {}): CowOverlay {
    const overlay = new CowOverlay(base, options);
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
