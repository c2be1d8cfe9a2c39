import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestDisk } from '../../guest/test-disk.ts';
import { startRelay } from '../devices/net/relay.ts';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'virtlite-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function start(args: string[], input = '') {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/start.ts', ...args], { cwd: root, encoding: 'utf8', input, timeout: 170_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('npm start', () => {
  it('boots the default guest, runs piped commands and exits 0 when the guest powers off', () => {
    const r = start(['--verbose'], 'uname -m\necho "sum=$((40 + 2))"\npoweroff\n');
    expect(r.stderr).toMatch(/virtlite: kernel Linux 6\.1\.\d+, boot protocol 2\.1\d, 64-bit and 32-bit entry/);
    expect(r.stdout).toMatch(/Linux version 6\.1\.\d+/);
    expect(r.stdout).toContain('virtlite: boot complete, shell ready');
    // Nothing typed ahead is lost: every piped line reaches the shell whole.
    expect(r.stdout).toMatch(/# uname -m\r?\nx86_64/);
    expect(r.stdout).toContain('sum=42');
    expect(r.stdout).toContain('reboot: Power down');
    expect(r.stderr).toMatch(/guest powered off after \d+ M instructions/);
    expect(r.code).toBe(0);
  }, 180_000);

  it('stops with status 124 at --timeout', () => {
    const r = start(['--timeout', '1']);
    expect(r.stderr).toContain('timeout after 1 s');
    expect(r.code).toBe(124);
  }, 30_000);

  it('refuses a malformed kernel with a clear message and no stack trace', () => {
    const bad = join(dir, 'not-a-kernel');
    writeFileSync(bad, 'hello, I am not a kernel'.repeat(100));
    const r = start(['--kernel', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing kernel .*"HdrS" boot-protocol magic is missing/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('reports a missing file and a bad option plainly', () => {
    const missing = start(['--kernel', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read kernel .*nope: ENOENT/);
    const bad = start(['--mem', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--mem must be/);
  });

  it('boots with --disk --disk-ro: the guest reads the image on /dev/vda and cannot write it', () => {
    const image = join(dir, 'disk.img');
    makeTestDisk(image);
    const r = start(['--disk', image, '--disk-ro'], 'mount /dev/vda /mnt; cat /mnt/hello.txt; touch /mnt/new || echo "write=$?"\npoweroff\n');
    expect(r.stdout).toContain('Hello from the virtlite test disk.');
    expect(r.stdout).toMatch(/Read-only file system[\s\S]*write=1/);
    expect(r.code).toBe(0);
  }, 180_000);

  it('refuses --disk-ro without --disk and a missing disk image', () => {
    const lonely = start(['--disk-ro']);
    expect(lonely.code).toBe(2);
    expect(lonely.stderr).toMatch(/--disk-ro needs a --disk/);
    const missing = start(['--disk', join(dir, 'no-such.img')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot open disk .*no-such\.img: ENOENT/);
  });
});

describe('npm start --overlay', () => {
  it('keeps what the guest synced in the overlay file (saved at flush and exit); the image never changes', () => {
    const image = join(dir, 'disk-ov.img');
    makeTestDisk(image);
    const before = readFileSync(image);
    const overlay = join(dir, 'disk-ov.vlcow');
    const note = 'kept-in-the-overlay-file';
    const r = start(['--disk', image, '--overlay', overlay, '--verbose'], `mount /dev/vda /mnt && echo ${note} > /mnt/note.txt && sync && echo synced=$?\npoweroff\n`);
    expect(r.stdout).toContain('synced=0');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/overlay .*disk-ov\.vlcow for .*: 0 changed blocks/);
    expect(readFileSync(image).equals(before)).toBe(true);
    const saved = readFileSync(overlay);
    expect(saved.subarray(0, 6).toString()).toBe('VLCOW1');
    expect(saved.includes(note)).toBe(true);
    // Started again, the overlay is loaded (the guest's view is the image plus these blocks).
    const again = start(['--disk', image, '--overlay', overlay, '--verbose', '--timeout', '1']);
    expect(again.stderr).toMatch(new RegExp(`overlay .* ${saved.readUInt32LE(12)} changed blocks`));
  }, 180_000);

  it('refuses an --overlay without a --disk and a file that is not an overlay', () => {
    const lonely = start(['--overlay', join(dir, 'x.vlcow')]);
    expect(lonely.code).toBe(2);
    expect(lonely.stderr).toMatch(/each --overlay needs a --disk/);
    const image = join(dir, 'disk-bad.img');
    writeFileSync(image, new Uint8Array(4096));
    const bad = join(dir, 'bad.vlcow');
    writeFileSync(bad, 'nope');
    const r = start(['--disk', image, '--overlay', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot use overlay .*bad\.vlcow: not a virtlite overlay/);
  });
});

describe('npm start --net', () => {
  it('puts eth0 on a WebSocket relay: the guest ARPs through it and gets the answer injected there', async () => {
    const relay = await startRelay();
    const ip = (f: Uint8Array, at: number) => Array.from(f.subarray(at, at + 4)).join('.');
    let arpRequests = 0;
    let echoRequests = 0;
    let guestMac: Uint8Array | undefined;
    const station = Uint8Array.of(0x52, 0x54, 0x00, 0xee, 0xee, 0x02);
    relay.onFrame = (f) => {
      if (f[12] === 0x08 && f[13] === 0x06 && f[21] === 1 && ip(f, 38) === '10.0.2.1') {
        // who-has 10.0.2.1: answer for the station, from behind the relay
        arpRequests++;
        guestMac = f.slice(6, 12);
        relay.inject(Uint8Array.from([...guestMac, ...station, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2, ...station, 10, 0, 2, 1, ...guestMac, ...f.subarray(28, 32)]));
      }
      if (f[12] === 0x08 && f[13] === 0x00 && f[23] === 1 && f[34] === 8 && Array.from(f.subarray(0, 6)).join() === Array.from(station).join()) echoRequests++;
    };
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/start.ts', '--net', relay.url, '--timeout', '160'], { cwd: root });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stdin.end('ifconfig eth0 10.0.2.2 netmask 255.255.255.0 up; ping -c 2 -W 2 10.0.2.1; cat /sys/class/net/eth0/address\npoweroff\n');
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code, stdout).toBe(0);
      expect(arpRequests).toBeGreaterThanOrEqual(1);
      // The guest learned the station's MAC from the injected reply: its echo requests go there.
      expect(echoRequests).toBe(2);
      expect(stdout).toContain(Array.from(guestMac!, (b) => b.toString(16).padStart(2, '0')).join(':'));
    } finally {
      await relay.close();
    }
  }, 180_000);

  it('refuses a bad --net and a relay that is not there', () => {
    const bad = start(['--net', 'tap0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--net must be none or ws:/);
    const gone = start(['--net', 'ws://127.0.0.1:1/']);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/cannot connect --net ws:\/\/127\.0\.0\.1:1\/: .*ECONNREFUSED/);
  });
});
