/**
 * Binds table entries to their semantics: each instruction family (./ops/*) offers a binder
 * that recognises the entries it implements and returns the handler plus a parameter (`aux`).
 * Entries no family claims execute as #UD; `unimplemented()` lists them (coverage reports).
 */
import type { CachedInsn, Cpu } from './cpu.ts';
import type { Opcode } from './opcode-table.ts';
import { A } from './opcode-table.ts';
import { OPCODES } from './opcodes.ts';
import { bindAlu } from './ops/alu.ts';
import { bindBits } from './ops/bits.ts';
import { bindControl } from './ops/control.ts';
import { bindLegacy } from './ops/legacy.ts';
import { bindMove } from './ops/move.ts';
import { bindMulDiv } from './ops/muldiv.ts';
import { bindShift } from './ops/shift.ts';
import { bindString } from './ops/string.ts';
import { bindSseFloat } from './ops/sse-float.ts';
import { bindSseInt } from './ops/sse-int.ts';
import { bindSseMove } from './ops/sse-move.ts';
import { bindSystem } from './ops/system.ts';
import { bindX87 } from './ops/x87.ts';
import { fastForm } from './ops/fast.ts';
import type { Insn } from './decoder.ts';

export type Handler = (cpu: Cpu, e: CachedInsn) => void;
export type Binding = readonly [Handler, number];
export type Binder = (op: Opcode) => Binding | undefined;

// bindX87 precedes bindLegacy: FWAIT (9B) belongs to the x87 family (#MF for pending exceptions).
const BINDERS: readonly Binder[] = [
  bindSystem, bindAlu, bindMove, bindControl, bindShift, bindMulDiv, bindBits, bindString, bindX87, bindLegacy,
  bindSseMove, bindSseInt, bindSseFloat,
];

function ud(cpu: Cpu): void {
  cpu.fault(6);
}

const bindings = new Map<Opcode, Binding>();
for (const op of OPCODES.all) {
  if (op.attrs & A.NO_IMPL) continue;
  for (const binder of BINDERS) {
    const b = binder(op);
    if (b) {
      bindings.set(op, b);
      break;
    }
  }
}

/** The handler of a decoded instruction (its table entry must be set). */
export function bindHandler(e: Insn): Binding {
  const b = e.op && bindings.get(e.op);
  if (!b) return [ud, 0];
  return fastForm(e, b[0], b[1]) ?? b;
}

/** The generic binding of a decoded instruction, without its fast form (tests compare the two). */
export function bindGeneric(e: Insn): Binding {
  return (e.op && bindings.get(e.op)) || [ud, 0];
}

/** Table entries without semantics yet. */
export function unimplemented(): Opcode[] {
  return OPCODES.all.filter((op) => !(op.attrs & A.NO_IMPL) && !bindings.has(op));
}
