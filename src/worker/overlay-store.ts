/**
 * Where the page keeps disk overlays between visits: the exported copy-on-write overlay
 * (src/devices/virtio/disk.ts, format "VLCOW1") of each disk, under the disk's identity
 * (./disk.ts `diskKey`: the URL with its size and ETag, or the file's name, size and
 * modification time). `IndexedDbOverlayStore` works in the page and in the worker (same origin,
 * same database); `MemoryOverlayStore` keeps them for the life of the worker (Node, tests, and
 * browsers without IndexedDB).
 *
 * IndexedDB: database "virtlite", object store "overlays", out-of-line keys, values are the
 * overlay bytes as an ArrayBuffer. One put per save: a save replaces the whole overlay.
 *
 * Not supported: OPFS (IndexedDB is everywhere the worker runs), incremental saves (every save
 * writes the whole overlay), quotas (a failed put rejects; the guest's flush then fails),
 * listing or expiring old overlays.
 */

export interface OverlayStore {
  load(key: string): Promise<Uint8Array | undefined>;
  save(key: string, bytes: Uint8Array): Promise<void>;
  remove(key: string): Promise<void>;
}

export class MemoryOverlayStore implements OverlayStore {
  readonly entries = new Map<string, Uint8Array>();
  async load(key: string): Promise<Uint8Array | undefined> {
    return this.entries.get(key)?.slice();
  }
  async save(key: string, bytes: Uint8Array): Promise<void> {
    this.entries.set(key, bytes.slice());
  }
  async remove(key: string): Promise<void> {
    this.entries.delete(key);
  }
}

const DB_NAME = 'virtlite';
const DB_VERSION = 1;
const STORE_NAME = 'overlays';

function promised<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

export class IndexedDbOverlayStore implements OverlayStore {
  private db: Promise<IDBDatabase> | undefined;

  constructor(private readonly factory: IDBFactory = indexedDB) {}

  private open(): Promise<IDBDatabase> {
    this.db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = this.factory.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(STORE_NAME)) request.result.createObjectStore(STORE_NAME);
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error ?? new Error('cannot open IndexedDB'));
      request.onblocked = () => reject(new Error('IndexedDB is blocked by another tab'));
    });
    this.db.catch(() => (this.db = undefined)); // try again next time
    return this.db;
  }

  /** Runs `fn` in one transaction and resolves when the transaction has committed. */
  private async run<T>(mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const db = await this.open();
    const tx = db.transaction(STORE_NAME, mode);
    const result = promised(fn(tx.objectStore(STORE_NAME)));
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
    return result;
  }

  async load(key: string): Promise<Uint8Array | undefined> {
    const value: unknown = await this.run('readonly', (s) => s.get(key));
    return value instanceof ArrayBuffer ? new Uint8Array(value) : undefined;
  }

  async save(key: string, bytes: Uint8Array): Promise<void> {
    const copy = bytes.slice().buffer; // an exact ArrayBuffer (structured clone of the bytes)
    await this.run('readwrite', (s) => s.put(copy, key));
  }

  async remove(key: string): Promise<void> {
    await this.run('readwrite', (s) => s.delete(key));
  }
}
