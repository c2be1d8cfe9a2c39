/**
 * A disk image at a URL, read lazily with HTTP range requests (RFC 9110 section 14: `Range:
 * bytes=first-last` answered by `206 Partial Content` with `Content-Range`): an
 * `AsyncBlockBackend` (./disk.ts) for virtio-blk in the page. Only the parts the guest reads are
 * downloaded, in aligned chunks (64 KiB by default) kept in a bounded LRU cache; missing chunks
 * next to each other are fetched with one request.
 *
 * Opening: `HttpRangeBackend.open(url)` sends HEAD for the size (Content-Length) and a validator
 * (ETag, else Last-Modified: the page keys the saved overlay with it, so an overlay is never put
 * over another version of the image). A server that refuses HEAD or hides the length is asked
 * for `bytes=0-0` and the size is read from `Content-Range: bytes 0-0/SIZE`.
 *
 * A server that ignores Range (answers 200 with the whole file) still works for images up to
 * `wholeLimit` bytes (256 MiB by default): the whole body is then kept in memory, and the
 * `wholeImage` flag says so. Larger images fail with HttpRangeError.
 *
 * Not supported: writing (the overlay takes the writes), noticing that the image changed on the
 * server during a run (no If-Range/If-Match), content-encoded (compressed) responses (byte
 * ranges of the encoded body are not ranges of the image), multipart/byteranges responses,
 * retrying a failed request (the guest sees an I/O error and may retry itself).
 */
import type { AsyncBlockBackend } from './disk.ts';

export class HttpRangeError extends Error {
  override name = 'HttpRangeError';
}

export interface HttpRangeOptions {
  /** Download granularity in bytes (a power of two, at least 4096; default 64 KiB). */
  chunkSize?: number;
  /** Most bytes of chunks kept (default 32 MiB). */
  cacheBytes?: number;
  /** Largest image kept whole when the server ignores Range (default 256 MiB). */
  wholeLimit?: number;
  /** The fetch to use (default: globalThis.fetch); tests pass a fake. */
  fetch?: typeof fetch;
  /** Cancels open(). */
  signal?: AbortSignal;
}

const DEFAULT_CHUNK_SIZE = 64 * 1024;
const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;
const DEFAULT_WHOLE_LIMIT = 256 * 1024 * 1024;

/** Parses `bytes first-last/size` (size may be `*`). */
function parseContentRange(value: string | null): { first: number; last: number; size: number | undefined } | undefined {
  const m = value === null ? null : /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value);
  if (!m) return undefined;
  return { first: Number(m[1]), last: Number(m[2]), size: m[3] === '*' ? undefined : Number(m[3]) };
}

function isEncoded(response: Response): boolean {
  const encoding = response.headers.get('content-encoding');
  return encoding !== null && encoding !== 'identity';
}

export class HttpRangeBackend implements AsyncBlockBackend {
  readonly async = true;
  readonly chunkSize: number;
  /** Range requests sent so far (HEAD and the probe excluded). */
  requests = 0;
  /** Chunks by index, least recently used first. */
  private readonly cache = new Map<number, Uint8Array>();
  private readonly maxChunks: number;
  private readonly wholeLimit: number;
  private readonly fetch: typeof fetch;
  /** The whole image, when the server ignored Range. */
  private whole: Uint8Array | undefined;

  private constructor(
    readonly url: string,
    readonly size: number,
    /** ETag, else Last-Modified, else undefined. */
    readonly validator: string | undefined,
    options: HttpRangeOptions,
  ) {
    const chunk = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(chunk) || chunk < 4096 || (chunk & (chunk - 1)) !== 0) throw new RangeError(`chunk size ${chunk}: a power of two >= 4096`);
    this.chunkSize = chunk;
    this.maxChunks = Math.max(1, Math.floor((options.cacheBytes ?? DEFAULT_CACHE_BYTES) / chunk));
    this.wholeLimit = options.wholeLimit ?? DEFAULT_WHOLE_LIMIT;
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Whether the server ignored Range and the image is held in memory. */
  get wholeImage(): boolean {
    return this.whole !== undefined;
  }

  /** Finds the image's size and validator (HEAD, else a one-byte range). Throws HttpRangeError. */
  static async open(url: string, options: HttpRangeOptions = {}): Promise<HttpRangeBackend> {
    const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));
    const signal = options.signal ? { signal: options.signal } : {};
    const failed = (why: string) => new HttpRangeError(`disk image ${url}: ${why}`);
    const validatorOf = (r: Response) => r.headers.get('etag') ?? r.headers.get('last-modified') ?? undefined;
    let head: Response | undefined;
    try {
      head = await doFetch(url, { method: 'HEAD', ...signal });
    } catch (e) {
      if (options.signal?.aborted) throw e;
      head = undefined; // HEAD refused at the network level: try a range
    }
    const length = head?.ok ? head.headers.get('content-length') : null;
    if (head?.ok && length !== null && !isEncoded(head) && Number.isSafeInteger(Number(length))) {
      return new HttpRangeBackend(url, Number(length), validatorOf(head), options);
    }
    let probe: Response;
    try {
      probe = await doFetch(url, { headers: { Range: 'bytes=0-0' }, ...signal });
    } catch (e) {
      throw failed(e instanceof Error ? e.message : String(e));
    }
    if (probe.status === 206) {
      const range = parseContentRange(probe.headers.get('content-range'));
      await probe.body?.cancel();
      if (range?.size === undefined) throw failed('the server gives no image size (Content-Range)');
      return new HttpRangeBackend(url, range.size, validatorOf(probe), options);
    }
    if (!probe.ok) throw failed(`HTTP ${probe.status} ${probe.statusText}`.trimEnd());
    // The server ignores Range: the whole image, if small enough.
    const backend = new HttpRangeBackend(url, 0, validatorOf(probe), options);
    const bytes = await backend.takeWhole(probe);
    const whole = new HttpRangeBackend(url, bytes.length, validatorOf(probe), options);
    whole.whole = bytes;
    return whole;
  }

  async readAsync(offset: number, dest: Uint8Array): Promise<void> {
    if (dest.length === 0) return;
    if (offset < 0 || offset + dest.length > this.size) throw new HttpRangeError(`read beyond the image (${offset}+${dest.length} of ${this.size})`);
    if (this.whole) {
      dest.set(this.whole.subarray(offset, offset + dest.length));
      return;
    }
    const cs = this.chunkSize;
    const first = Math.floor(offset / cs);
    const last = Math.floor((offset + dest.length - 1) / cs);
    const got = new Map<number, Uint8Array>();
    const runs: [number, number][] = []; // [first chunk, chunk count] to fetch
    for (let i = first; i <= last; i++) {
      const hit = this.cache.get(i);
      if (hit) {
        this.cache.delete(i); // most recently used: to the end
        this.cache.set(i, hit);
        got.set(i, hit);
        continue;
      }
      const run = runs[runs.length - 1];
      if (run && run[0] + run[1] === i) run[1]++;
      else runs.push([i, 1]);
    }
    await Promise.all(runs.map(([start, count]) => this.fetchRun(start, count, got)));
    if (this.whole) return this.readAsync(offset, dest); // the server ignored Range meanwhile
    for (let i = first; i <= last; i++) {
      const chunk = got.get(i)!;
      const from = Math.max(offset, i * cs);
      const to = Math.min(offset + dest.length, (i + 1) * cs);
      dest.set(chunk.subarray(from - i * cs, to - i * cs), from - offset);
    }
  }

  /** Fetches chunks [start, start + count) with one request into `got` and the cache. */
  private async fetchRun(start: number, count: number, got: Map<number, Uint8Array>): Promise<void> {
    const cs = this.chunkSize;
    const firstByte = start * cs;
    const lastByte = Math.min(this.size, (start + count) * cs) - 1;
    this.requests++;
    let response: Response;
    try {
      response = await this.fetch(this.url, { headers: { Range: `bytes=${firstByte}-${lastByte}` } });
    } catch (e) {
      throw new HttpRangeError(`disk image ${this.url}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (response.status === 200) {
      // Range ignored: the body is the whole image.
      this.whole = await this.takeWhole(response);
      if (this.whole.length !== this.size) throw new HttpRangeError(`disk image ${this.url} changed size on the server`);
      return;
    }
    if (response.status !== 206) throw new HttpRangeError(`disk image ${this.url}: HTTP ${response.status} for bytes ${firstByte}-${lastByte}`);
    if (isEncoded(response)) throw new HttpRangeError(`disk image ${this.url}: the server compressed a range`);
    const range = parseContentRange(response.headers.get('content-range'));
    const body = new Uint8Array(await response.arrayBuffer());
    if (!range || range.first !== firstByte || range.last !== lastByte || body.length !== lastByte - firstByte + 1) {
      throw new HttpRangeError(`disk image ${this.url}: the server sent another range than bytes ${firstByte}-${lastByte}`);
    }
    for (let i = 0; i < count; i++) {
      const chunk = body.slice(i * cs, (i + 1) * cs); // the last chunk of the image may be short
      got.set(start + i, chunk);
      this.cache.set(start + i, chunk);
    }
    while (this.cache.size > this.maxChunks) this.cache.delete(this.cache.keys().next().value!);
  }

  /** Reads a whole-image response, refusing images above the limit. */
  private async takeWhole(response: Response): Promise<Uint8Array> {
    if (isEncoded(response)) throw new HttpRangeError(`disk image ${this.url}: the server ignores Range and compresses the image`);
    const length = Number(response.headers.get('content-length') ?? NaN);
    if (length > this.wholeLimit) {
      await response.body?.cancel();
      throw new HttpRangeError(`disk image ${this.url}: the server ignores range requests and the image is larger than ${this.wholeLimit} bytes`);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > this.wholeLimit) throw new HttpRangeError(`disk image ${this.url}: the server ignores range requests and the image is larger than ${this.wholeLimit} bytes`);
    return bytes;
  }
}
