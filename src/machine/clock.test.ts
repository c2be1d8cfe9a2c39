import { describe, expect, it } from 'vitest';
import { DeterministicClock, FakeClock, HostClock } from './clock.ts';

describe('clock', () => {
  it('host time is strictly increasing between reads', () => {
    const c = new HostClock();
    let last = c.now();
    for (let i = 0; i < 10_000; i++) {
      const t = c.now();
      expect(t).toBeGreaterThan(last);
      last = t;
    }
    expect(Math.abs(c.wallClockAtZero / 1e6 - Date.now())).toBeLessThan(60_000);
  });

  it('fires due timers earliest first and lets callbacks re-arm', () => {
    const c = new FakeClock();
    const log: string[] = [];
    const a = c.timer((now) => log.push(`a@${now}`));
    const b = c.timer((now) => {
      log.push(`b@${now}`);
      b.arm(now + 100); // periodic
    });
    a.arm(50);
    b.arm(30);
    expect(c.nextDeadline()).toBe(30);
    c.advance(40);
    expect(log).toEqual(['b@40']);
    c.advance(20);
    expect(log).toEqual(['b@40', 'a@60']);
    expect(a.deadline).toBeUndefined();
    expect(c.nextDeadline()).toBe(140);
    b.cancel();
    expect(c.nextDeadline()).toBe(Infinity);
  });

  it('bounds a timer that is always due', () => {
    const c = new FakeClock();
    let n = 0;
    const t = c.timer((now) => {
      n++;
      t.arm(now);
    });
    t.arm(0);
    expect(c.runDue(10)).toBe(10);
    expect(n).toBe(10);
  });

  it('deterministic time follows the instruction count and skips idle time', () => {
    let insns = 0;
    const c = new DeterministicClock(() => insns, 2);
    expect(c.now()).toBe(0);
    insns = 1000;
    expect(c.now()).toBe(2000);
    expect(c.now()).toBe(2001); // strictly increasing even without progress
    c.skipTo(10_000);
    expect(c.now()).toBeGreaterThanOrEqual(10_000);
    const again = new DeterministicClock(() => 1000, 2);
    expect(again.now()).toBe(2000);
    expect(again.wallClockAtZero).toBe(c.wallClockAtZero);
  });
});
