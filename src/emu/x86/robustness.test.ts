import { describe, expect, it } from 'vitest';
import { NATIVE_DATA_ADDR } from '../testing/native.ts';
import { Rng } from './testing/differential.ts';
import { UserMachine } from './testing/user64.ts';

// Bad input: any byte sequence either executes or raises a guest exception. No host exception
// may leave the CPU loop, whatever the bytes, prefixes or modes.

describe('random bytes as code', () => {
  it('never throw out of run(), in user mode', () => {
    const rng = new Rng(99);
    const machine = new UserMachine();
    const hot = [0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x0f, 0x48, 0x41, 0xc4, 0x62, 0xcd, 0xcf, 0xff, 0x8e, 0x0f, 0x01];
    let faults = 0;
    for (let n = 0; n < 3000; n++) {
      const code = Uint8Array.from({ length: 48 }, () => (rng.below(3) === 0 ? hot[rng.below(hot.length)]! : rng.below(256)));
      const gpr = Array.from({ length: 16 }, () => rng.value());
      gpr[4] = NATIVE_DATA_ADDR + 0x8000n;
      if (rng.below(2)) gpr[rng.below(16)] = NATIVE_DATA_ADDR + BigInt(rng.below(0x10000));
      const result = machine.run({ code, state: { gpr, rflags: BigInt(rng.u32() & 0xcd5), xmm: new Uint8Array(256), mxcsr: 0x1f80 }, data: new Uint8Array(0) }, 2000);
      if (result.fault) {
        faults++;
        // An exception vector (INT n reports its own vector in this stop-on-fault machine), or
        // -1 when the budget ran out (an endless loop is a fine outcome for random code).
        expect(result.fault.vector).toBeGreaterThanOrEqual(-1);
        expect(result.fault.vector).toBeLessThan(256);
      }
    }
    expect(faults).toBeGreaterThan(100); // random code faults a lot; the point is it never throws
  });
});
