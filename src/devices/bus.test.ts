import { describe, expect, it } from 'vitest';
import { Bus, asIoBus } from './bus.ts';
import type { Device } from './device.ts';

function recorder(name: string, log: string[]): Device {
  return {
    name,
    read: (offset, size) => {
      log.push(`${name} r${size} ${offset}`);
      return 0x12345678 & (size === 4 ? -1 : (1 << (size * 8)) - 1);
    },
    write: (offset, size, value) => void log.push(`${name} w${size} ${offset}=${value.toString(16)}`),
  };
}

describe('bus', () => {
  it('routes by offset and treats holes as unmapped', () => {
    const log: string[] = [];
    const bus = new Bus('port');
    bus.register(0x3f8, 8, recorder('uart', log));
    bus.register(0x600, 3, recorder('pm', log));
    expect(bus.read(0x3fd, 1)).toBe(0x78);
    bus.write(0x601, 2, 0x1ffff);
    expect(bus.read(0x21, 1)).toBe(0xff);
    expect(bus.read(0x21, 2)).toBe(0xffff);
    expect(bus.read(0x21, 4)).toBe(0xffffffff);
    bus.write(0x80, 1, 0);
    expect(log).toEqual(['uart r1 5', 'pm w2 1=ffff']);
    const io = asIoBus(bus);
    expect(io.read(0x10000 + 0x3f8, 1)).toBe(0x78); // ports wrap at 64 Ki
  });

  it('refuses overlapping devices', () => {
    const bus = new Bus('mmio');
    bus.register(0xfec00000, 0x1000, recorder('ioapic', []));
    expect(() => bus.register(0xfec00800, 0x1000, recorder('x', []))).toThrow(/overlaps ioapic/);
  });

  it('contains a device that throws', () => {
    const bus = new Bus('mmio');
    const errors: string[] = [];
    bus.onError = (d) => errors.push(d.name);
    bus.register(0x1000, 16, { name: 'broken', read: () => { throw new Error('x'); }, write: () => { throw new Error('y'); } });
    expect(bus.read(0x1004, 4)).toBe(0xffffffff);
    bus.write(0x1004, 4, 1);
    expect(errors).toEqual(['broken', 'broken']);
  });
});
