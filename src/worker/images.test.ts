import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageLoadError, loadImage } from './images.ts';

const body = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
/** Byte-for-byte equality (vitest's deep equality walks every element slowly). */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/image') {
      res.writeHead(200, { 'content-length': String(body.length) });
      // Several writes: the reader sees several chunks.
      for (let at = 0; at < body.length; at += 65536) res.write(body.subarray(at, at + 65536));
      res.end();
    } else if (req.url === '/slow') {
      res.writeHead(200, { 'content-length': '1000000' });
      res.write(body.subarray(0, 1000)); // and never more
    } else if (req.url === '/encoded') {
      res.writeHead(200, { 'content-length': '10', 'content-encoding': 'identity-ish' });
      res.end(Buffer.from(body.subarray(0, 10)));
    } else {
      res.writeHead(404, 'Not Found');
      res.end('gone');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('loadImage', () => {
  it('downloads a URL with progress up to the Content-Length', async () => {
    const progress: [number, number | undefined][] = [];
    const bytes = await loadImage({ url: `${base}/image` }, 'kernel', (l, t) => progress.push([l, t]));
    expect(same(bytes, body)).toBe(true);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toEqual([body.length, body.length]);
    for (let i = 1; i < progress.length; i++) expect(progress[i]![0]).toBeGreaterThan(progress[i - 1]![0]);
  });

  it('does not trust the length of a content-encoded response', async () => {
    const progress: (number | undefined)[] = [];
    await loadImage({ url: `${base}/encoded` }, 'kernel', (_, t) => progress.push(t));
    expect(progress).toEqual([undefined]);
  });

  it('names the URL and the HTTP status of a failed download', async () => {
    const failure = loadImage({ url: `${base}/missing` }, 'kernel', () => {});
    await expect(failure).rejects.toThrow(ImageLoadError);
    await expect(failure).rejects.toThrow(`download of ${base}/missing failed: HTTP 404 Not Found`);
  });

  it('reports an unreachable server as a failed download', async () => {
    await expect(loadImage({ url: 'http://127.0.0.1:1/x' }, 'initrd', () => {})).rejects.toThrow(/download of http:\/\/127\.0\.0\.1:1\/x failed: /);
  });

  it('stops a download when its signal aborts', async () => {
    const abort = new AbortController();
    const failure = loadImage({ url: `${base}/slow` }, 'initrd', () => abort.abort(), abort.signal);
    await expect(failure).rejects.toThrow(new RegExp(`download of ${base}/slow failed: .*abort`, 'i'));
  });

  it('reads a File with progress against its size', async () => {
    const progress: [number, number | undefined][] = [];
    const file = new File([body], 'disk.img');
    const bytes = await loadImage({ file }, 'disk', (l, t) => progress.push([l, t]));
    expect(same(bytes, body)).toBe(true);
    expect(progress.at(-1)).toEqual([body.length, body.length]);
  });

  it('takes bytes as they are (ArrayBuffer or Uint8Array)', async () => {
    const progress: [number, number | undefined][] = [];
    expect(same(await loadImage({ bytes: body.buffer }, 'kernel', (l, t) => progress.push([l, t])), body)).toBe(true);
    expect(same(await loadImage({ bytes: body.subarray(5, 9) }, 'kernel', () => {}), body.subarray(5, 9))).toBe(true);
    expect(progress).toEqual([[body.length, body.length]]);
  });
});
