import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COW_CHUNK_SIZE, CowFormatError, MemoryBackend } from '../devices/virtio/disk.ts';
import { openOverlayFile } from './overlay-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'virtlite-overlay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('openOverlayFile', () => {
  it('starts empty without a file, saves on flush only when changed, and restores next time', () => {
    const path = join(dir, 'a.vlcow');
    const base = new MemoryBackend(new Uint8Array(8 * COW_CHUNK_SIZE));
    const first = openOverlayFile(path, base);
    expect(first.restoredChunks).toBe(0);
    first.overlay.write(3 * COW_CHUNK_SIZE + 5, new TextEncoder().encode('kept'));
    expect(existsSync(path)).toBe(false); // written, not flushed
    first.overlay.flush();
    const saved = readFileSync(path);
    expect(existsSync(`${path}.tmp`)).toBe(false);
    // Without new writes neither a flush nor the exit save writes the file again.
    rmSync(path);
    first.overlay.flush();
    first.save();
    expect(existsSync(path)).toBe(false);
    writeFileSync(path, saved);

    const second = openOverlayFile(path, base);
    expect(second.restoredChunks).toBe(1);
    const out = new Uint8Array(4);
    second.overlay.read(3 * COW_CHUNK_SIZE + 5, out);
    expect(new TextDecoder().decode(out)).toBe('kept');
    expect(base.bytes.every((b) => b === 0)).toBe(true); // the image never changed
    second.overlay.write(0, Uint8Array.of(1));
    second.save(); // at exit
    expect(openOverlayFile(path, base).restoredChunks).toBe(2);
  });

  it('refuses a file that is not an overlay or was made for another image size', () => {
    const bad = join(dir, 'bad.vlcow');
    writeFileSync(bad, 'not an overlay');
    expect(() => openOverlayFile(bad, new MemoryBackend(new Uint8Array(4096)))).toThrow(CowFormatError);
    const path = join(dir, 'b.vlcow');
    const o = openOverlayFile(path, new MemoryBackend(new Uint8Array(4096)));
    o.overlay.write(0, Uint8Array.of(1));
    o.save();
    expect(() => openOverlayFile(path, new MemoryBackend(new Uint8Array(8192)))).toThrow(/another size/);
  });
});
