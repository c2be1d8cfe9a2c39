import { describe, expect, it } from 'vitest';
import { NATIVE_CODE_ADDR, NATIVE_DATA_ADDR, nativeAvailable, zeroState } from '../testing/native.ts';
import { assemble } from './testing/asm.ts';
import { differential, type DiffCase } from './testing/differential.ts';

// EFLAGS.TF single-stepping against the host: the #DB trap comes after the first instruction
// that starts with TF set (RIP after it), not after the POPF that set TF; an instruction that
// faults reports its fault instead; the instruction that clears TF still traps.

function asmCase(src: string): DiffCase {
  const state = zeroState();
  state.gpr[4] = NATIVE_DATA_ADDR + 0x8000n; // rsp
  state.gpr[7] = NATIVE_DATA_ADDR + 0x100n; // rdi
  return { code: assemble(`bits 64\n${src}`, Number(NATIVE_CODE_ADDR)), what: src.replace(/\n/g, '; '), state, data: new Uint8Array(0x100) };
}

const SET_TF = 'pushfq\nor qword [rsp], 0x100\npopfq';

describe.runIf(nativeAvailable())('single-step (TF) agrees with the host CPU', () => {
  it('traps after the instruction that runs with TF set', () => {
    const cases = [
      `${SET_TF}\nnop\ninc eax`,
      `${SET_TF}\ninc eax\ninc eax`,
      `${SET_TF}\nmov ecx, 3\nrep stosb`,
      // The POPF that clears TF started with TF set: it traps too.
      `${SET_TF}\npushfq\nand qword [rsp], ~0x100\npopfq\ninc eax`,
      // A faulting instruction reports its fault, not the single-step trap.
      `${SET_TF}\nmov eax, [0x1234]`,
      `${SET_TF}\nud2`,
      // MOV SS holds the trap back by one instruction.
      `${SET_TF}\nmov eax, ss\nmov ss, eax\ninc ecx\ninc edx`,
      // A taken branch traps at its target.
      `${SET_TF}\njmp .t\nnop\n.t: inc eax`,
    ].map(asmCase);
    expect(differential(cases)).toEqual([]);
  });
});
