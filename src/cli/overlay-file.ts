/**
 * `npm start -- --disk PATH --overlay FILE`: the disk's copy-on-write overlay
 * (src/devices/virtio/disk.ts, format "VLCOW1") kept in a file, so that what the guest wrote
 * survives the run without changing the image. At start an existing FILE is imported (it must
 * have been made for an image of the same size); a missing FILE starts an empty overlay. The
 * overlay is written back when the guest flushes (VIRTIO_BLK_T_FLUSH: `sync`, an unmount) and
 * at exit, whenever it changed since the last save: what the guest synced is on the host's disk
 * before the guest hears that its flush is done.
 *
 * Writes are atomic: the overlay goes to FILE.tmp, is fsynced, then renamed over FILE, so a
 * crash leaves the previous or the new overlay, never half of one.
 *
 * Not supported: checking that FILE belongs to this very image (only the size is checked),
 * incremental writes (every save writes the whole overlay), sharing FILE between two runs.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { CowOverlay, type BlockBackend } from '../devices/virtio/disk.ts';

export interface OverlayFile {
  readonly path: string;
  readonly overlay: CowOverlay;
  /** Chunks imported from the file at start. */
  readonly restoredChunks: number;
  /** Writes the overlay if it changed since the last save. */
  save(): void;
}

/** Opens (or starts) the overlay in `path` over `base`. Throws CowFormatError or a file error. */
export function openOverlayFile(path: string, base: BlockBackend): OverlayFile {
  let savedVersion = 0;
  const save = (overlay: CowOverlay) => {
    if (overlay.version === savedVersion) return;
    const version = overlay.version;
    const bytes = overlay.export();
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    savedVersion = version;
  };
  const options = { onFlush: (o: CowOverlay) => save(o) };
  const overlay = existsSync(path) ? CowOverlay.import(base, new Uint8Array(readFileSync(path)), options) : new CowOverlay(base, options);
  savedVersion = overlay.version;
  return { path, overlay, restoredChunks: overlay.chunkCount, save: () => save(overlay) };
}
