import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BootStageTracker, MACHINE_RESET_LINE } from './boot-stages.ts';

describe('BootStageTracker', () => {
  it('follows the reference boot log through every milestone, in order', () => {
    const log = readFileSync(new URL('../../docs/reference-boot.log', import.meta.url), 'utf8');
    const seen: string[] = [];
    const t = new BootStageTracker(undefined, (s) => seen.push(s.id));
    t.downloading();
    t.loaded();
    // Feed the log in small uneven chunks: patterns get split across chunks.
    for (let at = 0, n = 1; at < log.length; at += n, n = (n * 7) % 23 + 1) t.console(log.slice(at, at + n));
    expect(seen).toEqual(['load', 'kernel', 'devices', 'userspace', 'shell']);
    expect(t.stage.label).toBe('shell ready');
    expect(t.index).toBe(t.stages.length - 1);
  });

  it('jumps to the furthest milestone in one chunk and never goes back on text', () => {
    const t = new BootStageTracker();
    t.loaded();
    t.console('Linux version 6.1\n...\nRun /init as init process\n');
    expect(t.stage.id).toBe('userspace');
    t.console('Linux version 6.1 (a second kernel banner)\n');
    expect(t.stage.id).toBe('userspace');
  });

  it('starts over when the machine resets', () => {
    const t = new BootStageTracker('READY');
    t.loaded();
    t.console('Linux version\nREADY\n');
    expect(t.stage.id).toBe('shell');
    t.log('ACPI: RSDP@0xe0000');
    expect(t.stage.id).toBe('shell');
    t.log(MACHINE_RESET_LINE);
    expect(t.stage.id).toBe('load');
    t.console('ADY\n'); // the old tail is gone: no false match across the reset
    expect(t.stage.id).toBe('load');
    t.console('Linux version');
    expect(t.stage.id).toBe('kernel');
  });

  it('stays at "loaded" for a guest that prints nothing until its marker', () => {
    const t = new BootStageTracker('$ ready');
    t.loaded();
    t.console('random text\n');
    expect(t.stage.id).toBe('load');
    t.console('$ re');
    t.console('ady');
    expect(t.stage.id).toBe('shell');
  });
});
