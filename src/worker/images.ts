/**
 * Reads a guest image (kernel, initrd, disk) from where the protocol says it is
 * (src/api/protocol.ts ImageSource): a URL fetched with streaming progress, a File/Blob the user
 * picked, or bytes the caller already holds. Runs in the worker (and in Node for tests); never
 * touches the DOM.
 *
 * Progress: `total` is the Content-Length when the response is not content-encoded (a
 * compressed response's length says nothing about the decoded bytes); otherwise undefined.
 *
 * Not supported: resuming a broken download, range requests, images over 2 GiB (one
 * Uint8Array, and the guest's RAM ends at 3 GiB anyway).
 */
import type { ImageKind, ImageSource } from '../api/protocol.ts';

export class ImageLoadError extends Error {
  override name = 'ImageLoadError';
}

export type ProgressCallback = (loaded: number, total: number | undefined) => void;

/** Largest image accepted (one typed array). */
export const MAX_IMAGE_BYTES = 2 ** 31 - 1;

/** Reads a stream to its end, reporting progress after every chunk. */
async function readAll(stream: ReadableStream<Uint8Array>, total: number | undefined, what: string, onProgress: ProgressCallback): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    loaded += value.length;
    if (loaded > MAX_IMAGE_BYTES) {
      await reader.cancel();
      throw new ImageLoadError(`${what} is larger than ${MAX_IMAGE_BYTES} bytes`);
    }
    chunks.push(value);
    onProgress(loaded, total !== undefined && loaded <= total ? total : undefined);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Fetches a URL; throws an ImageLoadError that names the URL and the HTTP status. */
async function fetchImage(url: string, onProgress: ProgressCallback, signal: AbortSignal | undefined): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, signal ? { signal } : {});
  } catch (e) {
    throw new ImageLoadError(`download of ${url} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!response.ok || !response.body) {
    throw new ImageLoadError(`download of ${url} failed: HTTP ${response.status} ${response.statusText}`.trimEnd());
  }
  const length = response.headers.get('content-length');
  const encoding = response.headers.get('content-encoding');
  const total = length !== null && (encoding === null || encoding === 'identity') ? Number(length) : undefined;
  try {
    return await readAll(response.body, Number.isSafeInteger(total) ? total : undefined, url, onProgress);
  } catch (e) {
    if (e instanceof ImageLoadError) throw e;
    throw new ImageLoadError(`download of ${url} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Reads an image from its source; `signal` cancels a download. */
export async function loadImage(source: ImageSource, kind: ImageKind, onProgress: ProgressCallback, signal?: AbortSignal): Promise<Uint8Array> {
  if ('url' in source) return fetchImage(source.url, onProgress, signal);
  if ('file' in source) {
    const name = 'name' in source.file && typeof source.file.name === 'string' ? `file ${source.file.name}` : `the ${kind} file`;
    if (source.file.size > MAX_IMAGE_BYTES) throw new ImageLoadError(`${name} is larger than ${MAX_IMAGE_BYTES} bytes`);
    try {
      return await readAll(source.file.stream(), source.file.size, name, onProgress);
    } catch (e) {
      if (e instanceof ImageLoadError) throw e;
      throw new ImageLoadError(`cannot read ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const bytes = source.bytes instanceof Uint8Array ? source.bytes : new Uint8Array(source.bytes);
  onProgress(bytes.length, bytes.length);
  return bytes;
}
