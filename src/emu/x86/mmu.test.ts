import { describe, expect, it } from 'vitest';
import {
  ACCESS_EXEC, ACCESS_READ, ACCESS_WRITE, CPU_FAULT, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, EFER_LMA,
  EFER_LME, EFER_NXE, Mmu, PF_FETCH, PF_PRESENT, PF_USER, PF_WRITE,
} from './mmu.ts';
import { CR0, CR2, CR3, CR4, EFER, RAM_OFFSET } from '../state-layout.ts';

// Page walks in every paging mode, the #PF error-code bits, A/D bits and TLB flush rules.

const RAM = 8 << 20;
const P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
const NX = 0x8000_0000;

function mmu(mode: '32' | 'pae' | 'long', opts: { wp?: boolean; nx?: boolean; pge?: boolean } = {}): Mmu {
  const pages = Math.ceil((RAM_OFFSET + RAM) / 65536);
  const m = new Mmu(new WebAssembly.Memory({ initial: pages, maximum: pages }), RAM);
  const i32 = m.i32;
  i32[CR0 >> 2] = CR0_PE | CR0_PG | (opts.wp ? CR0_WP : 0);
  i32[CR4 >> 2] = (mode === '32' ? CR4_PSE : CR4_PAE) | (opts.pge ? CR4_PGE : 0);
  i32[EFER >> 2] = (mode === 'long' ? EFER_LME | EFER_LMA : 0) | (opts.nx ? EFER_NXE : 0);
  i32[CR3 >> 2] = 0x1000;
  return m;
}

function entry(m: Mmu, at: number, lo: number, hi = 0, size = 8): void {
  m.dv.setUint32(RAM_OFFSET + at, lo >>> 0, true);
  if (size === 8) m.dv.setUint32(RAM_OFFSET + at + 4, hi >>> 0, true);
}
const read = (m: Mmu, at: number) => m.dv.getUint32(RAM_OFFSET + at, true);

/** The #PF error code of an access, or 'ok:<phys>'. */
function access(m: Mmu, lo: number, hi: number, kind: number, user = false): string {
  m.setUserMode(user);
  try {
    return `ok:${m.translate(lo, hi, kind).toString(16)}`;
  } catch (e) {
    if (e !== CPU_FAULT) throw e;
    if (m.faultVector === 14) expect(m.i32[CR2 >> 2]).toBe(lo);
    return `#${m.faultVector}:${m.faultError}`;
  }
}

/** 4-level tables: 0x1000 PML4, 0x2000 PDPT, 0x3000 PD, 0x4000 PT; the leaf entry is given. */
function long4k(m: Mmu, leaf: number, leafHi = 0, upper = P | RW | US): void {
  entry(m, 0x1000, 0x2000 | upper);
  entry(m, 0x2000, 0x3000 | upper);
  entry(m, 0x3000, 0x4000 | upper);
  entry(m, 0x4000 + 8 * 5, leaf, leafHi); // linear 0x5000
}

describe('page walks', () => {
  it('translates through 4 levels and sets accessed and dirty bits', () => {
    const m = mmu('long');
    long4k(m, 0x7000 | P | RW | US);
    expect(access(m, 0x5123, 0, ACCESS_READ)).toBe('ok:7123');
    expect(read(m, 0x4028) & (A | D)).toBe(A);
    expect(read(m, 0x1000) & A).toBe(A);
    expect(access(m, 0x5123, 0, ACCESS_WRITE)).toBe('ok:7123');
    expect(read(m, 0x4028) & (A | D)).toBe(A | D);
  });

  it('reports every #PF error-code bit', () => {
    const m = mmu('long', { wp: true, nx: true });
    long4k(m, 0); // not present
    expect(access(m, 0x5000, 0, ACCESS_READ)).toBe(`#14:0`);
    expect(access(m, 0x5000, 0, ACCESS_WRITE)).toBe(`#14:${PF_WRITE}`);
    expect(access(m, 0x5000, 0, ACCESS_READ, true)).toBe(`#14:${PF_USER}`);
    expect(access(m, 0x5000, 0, ACCESS_EXEC, true)).toBe(`#14:${PF_USER | PF_FETCH}`);
    m.flushTlb(true);
    long4k(m, 0x7000 | P | US, NX); // read-only, no-execute
    expect(access(m, 0x5000, 0, ACCESS_WRITE, true)).toBe(`#14:${PF_PRESENT | PF_WRITE | PF_USER}`);
    expect(access(m, 0x5000, 0, ACCESS_WRITE)).toBe(`#14:${PF_PRESENT | PF_WRITE}`); // CR0.WP = 1
    expect(access(m, 0x5000, 0, ACCESS_EXEC)).toBe(`#14:${PF_PRESENT | PF_FETCH}`);
    m.flushTlb(true);
    long4k(m, 0x7000 | P | RW, 0, P | RW); // supervisor page
    expect(access(m, 0x5000, 0, ACCESS_READ, true)).toBe(`#14:${PF_PRESENT | PF_USER}`);
  });

  it('lets the supervisor write read-only pages when CR0.WP = 0', () => {
    const m = mmu('long');
    long4k(m, 0x7000 | P | US);
    expect(access(m, 0x5000, 0, ACCESS_WRITE)).toBe('ok:7000');
    expect(access(m, 0x5000, 0, ACCESS_WRITE, true)).toBe(`#14:${PF_PRESENT | PF_WRITE | PF_USER}`);
  });

  it('maps 2 MiB and 1 GiB pages in long mode, including the upper half', () => {
    const m = mmu('long');
    // linear 0xffff_ff80_4020_0000 -> PML4[511] PDPT[1] PD[1]; 0xffff_ff80_8000_0000 -> PDPT[2] 1 GiB
    entry(m, 0x1000 + 511 * 8, 0x2000 | P | RW);
    entry(m, 0x2000 + 8, 0x3000 | P | RW);
    entry(m, 0x3000 + 8, 0x600000 | P | RW | PS);
    entry(m, 0x2000 + 16, 0x40000000 | P | RW | PS);
    expect(access(m, 0x4023_4567, -128, ACCESS_READ)).toBe('ok:634567');
    expect(access(m, 0x8012_3456 | 0, -128, ACCESS_READ)).toBe('ok:40123456');
    expect(access(m, 0x1000, 0x8000, ACCESS_READ)).toBe('#13:0'); // non-canonical
  });

  it('walks PAE (3 levels) and 32-bit paging with 4 MiB pages', () => {
    const pae = mmu('pae');
    entry(pae, 0x1000, 0x2000 | P); // PDPTE 0
    entry(pae, 0x2000 + 8 * 3, 0x400000 | P | RW | PS); // 2 MiB at linear 0x600000
    expect(access(pae, 0x612345, 0, ACCESS_READ)).toBe('ok:412345');
    const legacy = mmu('32');
    entry(legacy, 0x1000 + 4 * 2, 0x400000 | P | RW | PS, 0, 4); // 4 MiB at linear 0x800000
    entry(legacy, 0x1000 + 4 * 1, 0x5000 | P | RW, 0, 4);
    entry(legacy, 0x5000 + 4 * 3, 0x7000 | P | RW, 0, 4); // linear 0x403000
    expect(access(legacy, 0x812345, 0, ACCESS_READ)).toBe('ok:412345');
    expect(access(legacy, 0x403abc, 0, ACCESS_READ)).toBe('ok:7abc');
  });

  it('keeps global pages across a CR3 flush, drops them on a full flush, and honours INVLPG', () => {
    const m = mmu('long', { pge: true });
    long4k(m, 0x7000 | P | RW | G);
    expect(access(m, 0x5000, 0, ACCESS_READ)).toBe('ok:7000');
    entry(m, 0x4028, 0x8000 | P | RW | G); // remap without telling the TLB
    m.flushTlb(false);
    expect(access(m, 0x5000, 0, ACCESS_READ)).toBe('ok:7000'); // global: still cached
    m.flushPage(0x5000, 0);
    expect(access(m, 0x5000, 0, ACCESS_READ)).toBe('ok:8000');
    entry(m, 0x4028, 0x9000 | P | RW); // not global any more
    m.flushTlb(true);
    expect(access(m, 0x5000, 0, ACCESS_READ)).toBe('ok:9000');
    entry(m, 0x4028, 0xa000 | P | RW);
    m.flushTlb(false);
    expect(access(m, 0x5000, 0, ACCESS_READ)).toBe('ok:a000');
  });
});

describe('review fixes', () => {
  it('INVLPG drops every cached piece of a large page', () => {
    const m = mmu('long');
    entry(m, 0x1000, 0x2000 | P | RW);
    entry(m, 0x2000, 0x3000 | P | RW);
    entry(m, 0x3000 + 8, 0x400000 | P | RW | PS); // linear 0x200000: 2 MiB page
    expect(access(m, 0x201000, 0, ACCESS_READ)).toBe('ok:401000');
    expect(access(m, 0x300000, 0, ACCESS_READ)).toBe('ok:500000');
    entry(m, 0x3000 + 8, 0); // unmapped now
    m.flushPage(0x200000, 0);
    expect(access(m, 0x300000, 0, ACCESS_READ)).toBe('#14:0');
  });

  it('uses CR3 bits 31:5 as the PDPT address under PAE paging', () => {
    const m = mmu('pae');
    m.i32[CR3 >> 2] = 0x1020; // 32-byte aligned, not page aligned
    entry(m, 0x1020, 0x2000 | P);
    entry(m, 0x2000, 0x400000 | P | RW | PS);
    expect(access(m, 0x1234, 0, ACCESS_READ)).toBe('ok:401234');
  });

  it('sets the accessed bit of a 4 KiB PTE on a read under 32-bit paging', () => {
    const m = mmu('32');
    entry(m, 0x1000, 0x5000 | P | RW, 0, 4);
    entry(m, 0x5000 + 4 * 3, 0x7000 | P | RW, 0, 4);
    expect(access(m, 0x3000, 0, ACCESS_READ)).toBe('ok:7000');
    expect(read(m, 0x500c) & A).toBe(A);
  });
});
