import { describe, expect, it } from 'vitest';
import { nativeAvailable } from '../testing/native.ts';
import { Rng, differential, type DiffCase } from './testing/differential.ts';
import { fuzzableEntries, randomCase } from './testing/fuzz.ts';

// A fixed-seed slice of `npm run fuzz:cpu`: random encodings of every implemented instruction
// of each family against the host CPU. The CLI runs as many cases as asked, with any seed.

const FAMILIES_IN_TEST = ['alu', 'shift', 'muldiv', 'bits', 'move', 'control', 'string', 'sse-int', 'sse-float', 'x87'];

describe.runIf(nativeAvailable())('random encodings agree with the host CPU', () => {
  for (const family of FAMILIES_IN_TEST) {
    it(family, () => {
      const entries = fuzzableEntries(family);
      expect(entries.length).toBeGreaterThanOrEqual(10);
      const rng = new Rng(20261125);
      const cases: DiffCase[] = [];
      for (let i = 0; i < 1500; i++) cases.push(randomCase(rng, entries[i % entries.length]!));
      expect(differential(cases)).toEqual([]);
    });
  }
});
