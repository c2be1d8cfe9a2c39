import { describe, expect, it } from 'vitest';
import { COW_CHUNK_SIZE, CowFormatError, CowOverlay, MemoryBackend } from './disk.ts';

function image(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 31 + 7) & 0xff);
}

describe('CowOverlay', () => {
  it('reads the base where nothing was written and the written bytes elsewhere; the base never changes', () => {
    const base = image(3 * COW_CHUNK_SIZE + 512); // a partial last chunk
    const original = base.slice();
    const cow = new CowOverlay(new MemoryBackend(base));
    const data = new Uint8Array(1000).fill(0x5a);
    cow.write(COW_CHUNK_SIZE - 300, data); // straddles chunks 0 and 1
    cow.write(3 * COW_CHUNK_SIZE + 100, Uint8Array.of(1, 2, 3)); // inside the partial chunk
    expect(base).toEqual(original);
    expect(cow.chunkCount).toBe(3);
    const all = new Uint8Array(base.length);
    cow.read(0, all);
    const expected = original.slice();
    expected.set(data, COW_CHUNK_SIZE - 300);
    expected.set([1, 2, 3], 3 * COW_CHUNK_SIZE + 100);
    expect(all).toEqual(expected);
  });

  it('exports and re-imports its chunks', () => {
    const backend = new MemoryBackend(image(8 * COW_CHUNK_SIZE));
    const cow = new CowOverlay(backend);
    cow.write(5 * COW_CHUNK_SIZE + 10, new TextEncoder().encode('persisted'));
    cow.write(0, new Uint8Array(COW_CHUNK_SIZE).fill(0xff));
    const again = CowOverlay.import(backend, cow.export());
    const a = new Uint8Array(backend.size);
    const b = new Uint8Array(backend.size);
    cow.read(0, a);
    again.read(0, b);
    expect(b).toEqual(a);
    expect(again.chunkCount).toBe(2);
    expect(again.export()).toEqual(cow.export());
  });

  it('rejects an overlay that is not one, is truncated, or belongs to another image size', () => {
    const backend = new MemoryBackend(image(4 * COW_CHUNK_SIZE));
    const cow = new CowOverlay(backend);
    cow.write(0, Uint8Array.of(1));
    const bytes = cow.export();
    expect(() => CowOverlay.import(backend, new Uint8Array(64))).toThrow(CowFormatError);
    expect(() => CowOverlay.import(backend, bytes.subarray(0, bytes.length - 1))).toThrow(/length/);
    expect(() => CowOverlay.import(new MemoryBackend(image(8 * COW_CHUNK_SIZE)), bytes)).toThrow(/another size/);
    const beyond = bytes.slice();
    new DataView(beyond.buffer).setBigUint64(24, 99n, true); // chunk index beyond the image
    expect(() => CowOverlay.import(backend, beyond)).toThrow(/beyond the image/);
  });
});
