/**
 * `npm run fuzz:cpu -- [--cases N] [--family F] [--seed S] [--bits 64|32]`
 *
 * Differential fuzzing of the interpreter against the host CPU: random encodings of every
 * implemented instruction of a family, random and edge operands. Prints each mismatch as a
 * reproducible case (bytes, inputs, differences) and the command that replays the run.
 */
import { parseArgs } from 'node:util';
import { nativeAvailable, nativeUnavailableReason } from '../emu/testing/native.ts';
import { Rng, differential, type DiffCase } from '../emu/x86/testing/differential.ts';
import { FAMILIES, fuzzableEntries, randomCase } from '../emu/x86/testing/fuzz.ts';

function main(): number {
  const { values } = parseArgs({
    options: { cases: { type: 'string' }, family: { type: 'string' }, seed: { type: 'string' }, bits: { type: 'string' } },
  });
  const cases = Number(values.cases ?? 10_000);
  const seed = Number(values.seed ?? Date.now() % 1_000_000_007);
  if (!Number.isSafeInteger(cases) || cases <= 0) throw new Error('--cases must be a positive integer');
  if (!Number.isSafeInteger(seed)) throw new Error('--seed must be an integer');
  const bits = Number(values.bits ?? 64);
  if (bits !== 32 && bits !== 64) throw new Error('--bits must be 64 or 32 (compatibility mode)');
  const families = values.family ? [values.family] : Object.keys(FAMILIES);
  if (!nativeAvailable()) throw new Error(`the native harness cannot be built: ${nativeUnavailableReason()}`);
  let failures = 0;
  for (const family of families) {
    const entries = fuzzableEntries(family, bits);
    if (entries.length === 0) {
      console.log(`${family.padEnd(8)} nothing to run in ${bits}-bit mode`);
      continue;
    }
    const rng = new Rng(seed);
    const batch: DiffCase[] = [];
    for (let i = 0; i < cases; i++) batch.push(randomCase(rng, entries[i % entries.length]!, bits));
    const started = performance.now();
    const mismatches = differential(batch, 25);
    const seconds = (performance.now() - started) / 1000;
    console.log(`${family.padEnd(8)} ${cases} cases over ${entries.length} encodings: ${mismatches.length ? `${mismatches.length}+ MISMATCHES` : 'no mismatch'} (${seconds.toFixed(1)} s)`);
    for (const m of mismatches) console.log(`  ${m.replace(/\n/g, '\n  ')}`);
    if (mismatches.length) {
      failures++;
      console.log(`  reproduce: npm run fuzz:cpu -- --family ${family} --seed ${seed} --cases ${cases} --bits ${bits}`);
    }
  }
  console.log(`seed ${seed}`);
  return failures ? 1 : 0;
}

try {
  process.exitCode = main();
} catch (e) {
  console.error(`fuzz:cpu: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 2;
}
