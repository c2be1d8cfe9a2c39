/**
 * The page's disk (virtio-blk, the guest's /dev/vda) on the worker side: opens the image from
 * where the protocol says it is (src/api/protocol.ts ImageSource) without reading it whole, puts
 * a copy-on-write overlay in front of it, and keeps that overlay across page reloads:
 *
 * - a URL becomes an HttpRangeBackend (lazy range requests), a File or Blob a BlobBackend, bytes
 *   a BlobBackend over them (src/devices/virtio/disk-*.ts);
 * - the disk's identity (`diskKey`): `url <href> <size> <ETag or Last-Modified>` or
 *   `file <name> <size> <lastModified>`. A Blob without a name and bytes have none: their
 *   overlay is not saved;
 * - at open, an overlay given by the caller wins; else the one saved under the key is imported
 *   (one that does not fit the image is reported and ignored);
 * - when the guest flushes (VIRTIO_BLK_T_FLUSH) the overlay, if it changed since the last save,
 *   is exported and saved (./overlay-store.ts) before the guest hears that its flush is done:
 *   what the guest synced survives a reload. A failed save fails the guest's flush (EIO).
 *
 * Not supported: more than one disk from the page, saving writes the guest never flushed
 * (a page closed between a write and its sync loses that write, as a power cut would), sharing
 * one saved overlay between two tabs running the same image at once (the last save wins).
 */
import { BlobBackend } from '../devices/virtio/disk-blob.ts';
import { HttpRangeBackend } from '../devices/virtio/disk-http.ts';
import { CowOverlay, type AsyncBlockBackend } from '../devices/virtio/disk.ts';
import type { ImageSource } from '../api/protocol.ts';
import type { OverlayStore } from './overlay-store.ts';

export interface WorkerDiskOptions {
  /** Where overlays are saved (none: nothing is saved or restored). */
  store?: OverlayStore;
  /** Start from this exported overlay instead of the saved one. */
  overlay?: Uint8Array;
  /** Save and restore the overlay (default true). */
  persist?: boolean;
  /** Diagnostics, one line each. */
  log?: (line: string) => void;
  /** A save finished: the overlay's chunk count and exported size. */
  onSaved?: (chunks: number, bytes: number) => void;
  signal?: AbortSignal;
  /** The fetch for URL images (tests). */
  fetch?: typeof fetch;
}

/** An image's identity for saved overlays; undefined when it has none. */
export function diskKey(source: ImageSource, backend: AsyncBlockBackend): string | undefined {
  if ('url' in source) return `url ${source.url} ${backend.size} ${(backend as HttpRangeBackend).validator ?? ''}`;
  if ('file' in source) {
    const f = source.file as Blob & { name?: unknown; lastModified?: unknown };
    if (typeof f.name === 'string' && typeof f.lastModified === 'number') return `file ${f.name} ${f.size} ${f.lastModified}`;
  }
  return undefined;
}

function describe(source: ImageSource): string {
  if ('url' in source) return source.url;
  if ('file' in source) {
    const name = (source.file as { name?: unknown }).name;
    return typeof name === 'string' ? name : 'blob';
  }
  return 'bytes';
}

export class WorkerDisk {
  /** Saves are off after discard(). */
  private persist: boolean;
  private savedVersion: number;

  private constructor(
    readonly name: string,
    readonly base: AsyncBlockBackend,
    readonly key: string | undefined,
    private readonly options: WorkerDiskOptions,
    /** Chunks restored at open. */
    readonly restoredChunks: number,
    overlayBytes: Uint8Array | undefined,
  ) {
    this.persist = key !== undefined && options.store !== undefined && options.persist !== false;
    const onFlush = () => this.save();
    this.overlay = overlayBytes ? CowOverlay.import(base, overlayBytes, { onFlush }) : new CowOverlay(base, { onFlush });
    this.savedVersion = this.overlay.version;
  }

  readonly overlay: CowOverlay;

  /** Opens the image and its overlay. Rejects for an unreadable image or a bad given overlay. */
  static async open(source: ImageSource, options: WorkerDiskOptions = {}): Promise<WorkerDisk> {
    let base: AsyncBlockBackend;
    if ('url' in source) base = await HttpRangeBackend.open(source.url, { signal: options.signal, fetch: options.fetch });
    else if ('file' in source) base = new BlobBackend(source.file);
    else base = new BlobBackend(new Blob([source.bytes instanceof Uint8Array ? source.bytes.slice() : source.bytes]));
    const key = diskKey(source, base);
    const name = describe(source);
    if (options.overlay) {
      const check = CowOverlay.import(base, options.overlay); // throws CowFormatError with the reason
      return new WorkerDisk(name, base, key, options, check.chunkCount, options.overlay);
    }
    let saved: Uint8Array | undefined;
    let restored = 0;
    if (key !== undefined && options.store && options.persist !== false) {
      try {
        saved = await options.store.load(key);
        if (saved) restored = CowOverlay.import(base, saved).chunkCount; // validates it
      } catch (e) {
        options.log?.(`disk: the saved changes of ${name} cannot be used (${e instanceof Error ? e.message : String(e)}); starting from the image`);
        saved = undefined;
      }
    }
    return new WorkerDisk(name, base, key, options, restored, saved);
  }

  /** Whether flushes save the overlay. */
  get persistent(): boolean {
    return this.persist;
  }

  /** Saves the overlay if it changed since the last save (the guest's flush waits for it). */
  async save(): Promise<void> {
    if (!this.persist || !this.options.store || this.key === undefined) return;
    const version = this.overlay.version;
    if (version === this.savedVersion) return;
    const bytes = this.overlay.export();
    await this.options.store.save(this.key, bytes);
    this.savedVersion = version;
    this.options.onSaved?.(this.overlay.chunkCount, bytes.length);
  }

  /** Forgets the saved overlay and saves no more (the running guest keeps its changes until it ends). */
  async discard(): Promise<void> {
    this.persist = false;
    if (this.options.store && this.key !== undefined) await this.options.store.remove(this.key);
  }
}
