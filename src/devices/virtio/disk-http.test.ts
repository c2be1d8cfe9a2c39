import { createServer, type Server } from 'node:http';
import { Blob } from 'node:buffer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobBackend } from './disk-blob.ts';
import { HttpRangeBackend, HttpRangeError } from './disk-http.ts';
import { COW_CHUNK_SIZE, CowOverlay, isAsyncBackend } from './disk.ts';

const SIZE = 300 * 1024 + 512; // not a multiple of the 64 KiB chunk
const image = Uint8Array.from({ length: SIZE }, (_, i) => (i * 13 + (i >> 11)) & 0xff);

/** A local server: GET with and without Range, HEAD; `mode` makes it misbehave. */
let server: Server;
let base = '';
const seen: { method: string; range: string | undefined }[] = [];
let mode: 'ranges' | 'no-ranges' | 'no-head' = 'ranges';

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', range: req.headers.range });
    if (req.url !== '/disk.img') return void res.writeHead(404).end();
    if (req.method === 'HEAD') {
      if (mode === 'no-head') return void res.writeHead(405).end();
      return void res.writeHead(200, { 'content-length': SIZE, etag: '"v1"', 'accept-ranges': 'bytes' }).end();
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!m || mode === 'no-ranges') return void res.writeHead(200, { 'content-length': SIZE }).end(Buffer.from(image));
    const first = Number(m[1]);
    const last = Math.min(Number(m[2]), SIZE - 1);
    res.writeHead(206, { 'content-range': `bytes ${first}-${last}/${SIZE}`, 'content-length': last - first + 1, etag: '"v1"' });
    res.end(Buffer.from(image.subarray(first, last + 1)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  base = `http://127.0.0.1:${address.port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('HttpRangeBackend against a local HTTP server', () => {
  it('reads lazily with range requests, fetches neighbouring missing chunks together and caches them', async () => {
    mode = 'ranges';
    seen.length = 0;
    const disk = await HttpRangeBackend.open(`${base}/disk.img`);
    expect(disk.size).toBe(SIZE);
    expect(disk.validator).toBe('"v1"');
    expect(isAsyncBackend(disk)).toBe(true);
    const a = new Uint8Array(1000);
    await disk.readAsync(65536 - 500, a); // straddles chunks 0 and 1: one request
    expect(a).toEqual(image.subarray(65536 - 500, 65536 + 500));
    expect(seen.filter((s) => s.method === 'GET').map((s) => s.range)).toEqual(['bytes=0-131071']);
    await disk.readAsync(100, new Uint8Array(512)); // cached
    expect(disk.requests).toBe(1);
    const tail = new Uint8Array(SIZE - 250_000);
    await disk.readAsync(250_000, tail); // the short last chunk
    expect(tail).toEqual(image.subarray(250_000));
    expect(seen.at(-1)!.range).toBe(`bytes=196608-${SIZE - 1}`);
    await expect(disk.readAsync(SIZE - 10, new Uint8Array(20))).rejects.toThrow(HttpRangeError);
  });

  it('evicts the least recently used chunks beyond its cache size', async () => {
    mode = 'ranges';
    const disk = await HttpRangeBackend.open(`${base}/disk.img`, { chunkSize: 4096, cacheBytes: 2 * 4096 });
    for (const chunk of [0, 1, 0, 2, 0, 1]) await disk.readAsync(chunk * 4096, new Uint8Array(16));
    // 0, 1 fetched; 0 hit; 2 fetched (evicts 1); 0 hit; 1 fetched again.
    expect(disk.requests).toBe(4);
  });

  it('finds the size with a one-byte range when HEAD is refused', async () => {
    mode = 'no-head';
    const disk = await HttpRangeBackend.open(`${base}/disk.img`);
    expect(disk.size).toBe(SIZE);
    const out = new Uint8Array(4096);
    await disk.readAsync(8192, out);
    expect(out).toEqual(image.subarray(8192, 8192 + 4096));
  });

  it('keeps a small image whole when the server ignores Range, and refuses a large one', async () => {
    mode = 'no-ranges';
    const disk = await HttpRangeBackend.open(`${base}/disk.img`);
    const out = new Uint8Array(700);
    await disk.readAsync(1000, out);
    expect(out).toEqual(image.subarray(1000, 1700));
    expect(disk.wholeImage).toBe(true);
    const small = await HttpRangeBackend.open(`${base}/disk.img`, { wholeLimit: 1024 });
    await expect(small.readAsync(0, new Uint8Array(512))).rejects.toThrow(/ignores range requests/);
  });

  it('names the URL and the status of a missing image', async () => {
    mode = 'ranges';
    await expect(HttpRangeBackend.open(`${base}/missing.img`)).rejects.toThrow(/missing\.img: HTTP 404/);
  });

  it('rejects a server that answers another range than asked', async () => {
    const fake: typeof fetch = async (_url, init) => {
      if (init?.method === 'HEAD') return new Response(null, { status: 200, headers: { 'content-length': String(SIZE) } });
      return new Response(image.slice(0, 10), { status: 206, headers: { 'content-range': `bytes 0-9/${SIZE}` } });
    };
    const disk = await HttpRangeBackend.open('http://fake/disk.img', { fetch: fake });
    await expect(disk.readAsync(0, new Uint8Array(512))).rejects.toThrow(/another range/);
  });
});

describe('BlobBackend', () => {
  it('reads ranges of a Blob', async () => {
    const disk = new BlobBackend(new Blob([image]) as unknown as globalThis.Blob);
    expect(disk.size).toBe(SIZE);
    const out = new Uint8Array(3000);
    await disk.readAsync(SIZE - 3000, out);
    expect(out).toEqual(image.subarray(SIZE - 3000));
  });
});

describe('CowOverlay over an asynchronous base', () => {
  it('reads through, writes partial chunks after fetching them, never writes the base, and exports', async () => {
    const blob = new BlobBackend(new Blob([image]) as unknown as globalThis.Blob);
    const flushed: number[] = [];
    const cow = new CowOverlay(blob, { onFlush: async (o) => void flushed.push(o.version) });
    expect(cow.async).toBe(true);
    await cow.writeAsync(COW_CHUNK_SIZE + 100, Uint8Array.of(1, 2, 3)); // partial: fetched first
    await cow.writeAsync(3 * COW_CHUNK_SIZE, new Uint8Array(COW_CHUNK_SIZE).fill(9)); // whole chunk
    const all = new Uint8Array(SIZE);
    await cow.readAsync(0, all);
    const expected = image.slice();
    expected.set([1, 2, 3], COW_CHUNK_SIZE + 100);
    expected.fill(9, 3 * COW_CHUNK_SIZE, 4 * COW_CHUNK_SIZE);
    expect(Buffer.compare(all, expected)).toBe(0);
    // Synchronous access works where the overlay has the chunk, and says why elsewhere.
    const one = new Uint8Array(3);
    cow.read(COW_CHUNK_SIZE + 100, one);
    expect([...one]).toEqual([1, 2, 3]);
    expect(() => cow.read(0, new Uint8Array(1))).toThrow(/asynchronously/);
    await cow.flushAsync();
    expect(flushed).toEqual([2]);
    const again = CowOverlay.import(blob, cow.export());
    const check = new Uint8Array(SIZE);
    await again.readAsync(0, check);
    expect(Buffer.compare(check, expected)).toBe(0);
  });
});
