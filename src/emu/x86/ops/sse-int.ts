/**
 * MMX and SSE2 integer instructions (placeholder binder: the family is being written; entries
 * it does not claim execute as #UD and are listed by exec.ts `unimplemented()`).
 */
import type { Binding } from '../exec.ts';
import type { Opcode } from '../opcode-table.ts';

export function bindSseInt(_op: Opcode): Binding | undefined {
  return undefined;
}
