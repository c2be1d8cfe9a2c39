import { describe, expect, it } from 'vitest';
import { COW_CHUNK_SIZE, CowOverlay } from '../devices/virtio/disk.ts';
import { WorkerDisk, diskKey } from './disk.ts';
import { MemoryOverlayStore } from './overlay-store.ts';

const SIZE = 16 * COW_CHUNK_SIZE;
const image = Uint8Array.from({ length: SIZE }, (_, i) => (i * 3) & 0xff);
const file = () => new File([image], 'disk.img', { lastModified: 1_700_000_000_000 });

/** A fake server for the image at http://h/disk.img, with an ETag that tests can change. */
function server(etag: { value: string }): typeof fetch {
  return async (_url, init) => {
    if (init?.method === 'HEAD') return new Response(null, { status: 200, headers: { 'content-length': String(SIZE), etag: etag.value } });
    const m = /bytes=(\d+)-(\d+)/.exec(new Headers(init?.headers).get('range') ?? '')!;
    const [first, last] = [Number(m[1]), Number(m[2])];
    return new Response(image.slice(first, last + 1), { status: 206, headers: { 'content-range': `bytes ${first}-${last}/${SIZE}` } });
  };
}

async function readText(disk: WorkerDisk, offset: number, length: number): Promise<string> {
  const out = new Uint8Array(length);
  await disk.overlay.readAsync(offset, out);
  return new TextDecoder().decode(out);
}

describe('WorkerDisk: the overlay is saved when the guest flushes and restored next time', () => {
  it('saves on flush (only when changed), restores on the next open of the same file, and discards', async () => {
    const store = new MemoryOverlayStore();
    const saves: [number, number][] = [];
    const first = await WorkerDisk.open({ file: file() }, { store, onSaved: (c, b) => void saves.push([c, b]) });
    expect(first.key).toBe('file disk.img 65536 1700000000000');
    expect(first.persistent).toBe(true);
    await first.overlay.writeAsync(5 * COW_CHUNK_SIZE + 7, new TextEncoder().encode('synced'));
    expect(store.entries.size).toBe(0); // written, not flushed: not saved
    await first.overlay.flushAsync();
    await first.overlay.flushAsync(); // unchanged: no second save
    expect(saves).toEqual([[1, 24 + 8 + COW_CHUNK_SIZE]]);

    const second = await WorkerDisk.open({ file: file() }, { store });
    expect(second.restoredChunks).toBe(1);
    expect(await readText(second, 5 * COW_CHUNK_SIZE + 7, 6)).toBe('synced');

    // Another file (other modification time) does not get these changes.
    const other = await WorkerDisk.open({ file: new File([image], 'disk.img', { lastModified: 5 }) }, { store });
    expect(other.restoredChunks).toBe(0);

    await second.discard();
    expect(store.entries.size).toBe(0);
    await second.overlay.writeAsync(0, new Uint8Array(COW_CHUNK_SIZE));
    await second.overlay.flushAsync();
    expect(store.entries.size).toBe(0); // discarded: no more saves
    expect((await WorkerDisk.open({ file: file() }, { store })).restoredChunks).toBe(0);
  });

  it('keys a URL by its size and ETag: a changed image on the server starts clean', async () => {
    const store = new MemoryOverlayStore();
    const etag = { value: '"a"' };
    const disk = await WorkerDisk.open({ url: 'http://h/disk.img' }, { store, fetch: server(etag) });
    expect(disk.key).toBe(`url http://h/disk.img ${SIZE} "a"`);
    await disk.overlay.writeAsync(0, new Uint8Array(512).fill(1));
    await disk.overlay.flushAsync();
    expect((await WorkerDisk.open({ url: 'http://h/disk.img' }, { store, fetch: server(etag) })).restoredChunks).toBe(1);
    etag.value = '"b"';
    expect((await WorkerDisk.open({ url: 'http://h/disk.img' }, { store, fetch: server(etag) })).restoredChunks).toBe(0);
  });

  it('ignores a saved overlay that does not fit, takes a given overlay first, and saves nothing for bytes', async () => {
    const store = new MemoryOverlayStore();
    const logs: string[] = [];
    const key = diskKey({ file: file() }, { async: true, size: SIZE, readAsync: async () => {} })!;
    await store.save(key, new TextEncoder().encode('garbage'));
    const disk = await WorkerDisk.open({ file: file() }, { store, log: (l) => void logs.push(l) });
    expect(disk.restoredChunks).toBe(0);
    expect(logs[0]).toMatch(/saved changes of disk\.img cannot be used \(not a virtlite overlay/);

    const given = new CowOverlay(disk.base);
    await given.writeAsync(COW_CHUNK_SIZE, new TextEncoder().encode('given'));
    const fromGiven = await WorkerDisk.open({ file: file() }, { store, overlay: given.export() });
    expect(fromGiven.restoredChunks).toBe(1);
    expect(await readText(fromGiven, COW_CHUNK_SIZE, 5)).toBe('given');
    await expect(WorkerDisk.open({ file: file() }, { overlay: new Uint8Array(10) })).rejects.toThrow(/not a virtlite overlay/);

    const bytes = await WorkerDisk.open({ bytes: image }, { store });
    expect(bytes.key).toBeUndefined();
    expect(bytes.persistent).toBe(false);
    expect(await readText(bytes, 0, 3)).toBe(new TextDecoder().decode(image.subarray(0, 3)));
  });

  it('a failed save fails the flush', async () => {
    const store = new MemoryOverlayStore();
    store.save = () => Promise.reject(new Error('QuotaExceededError'));
    const disk = await WorkerDisk.open({ file: file() }, { store });
    await disk.overlay.writeAsync(0, new Uint8Array(512));
    await expect(disk.overlay.flushAsync()).rejects.toThrow(/Quota/);
  });
});
