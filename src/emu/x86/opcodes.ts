/**
 * The instruction table of the virtlite CPU, built once from the per-map definition files.
 */
import { OpcodeTable } from './opcode-table.ts';
import { defineOneByteMap } from './opcodes-1.ts';
import { defineTwoByteMap } from './opcodes-0f.ts';
import { defineThreeByteMaps } from './opcodes-0f38.ts';

function build(): OpcodeTable {
  const t = new OpcodeTable();
  defineOneByteMap(t);
  defineTwoByteMap(t);
  defineThreeByteMaps(t);
  return t;
}

export const OPCODES: OpcodeTable = build();
