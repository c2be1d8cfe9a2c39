/**
 * String instructions: MOVS, CMPS, STOS, LODS, SCAS (A4-A7, AA-AF) in byte, word, dword and
 * qword forms, with REP (F3 or F2 for MOVS/STOS/LODS), REPE (F3) and REPNE (F2) for CMPS/SCAS
 * (Intel SDM Vol. 2, "REP/REPE/REPZ/REPNE/REPNZ" and the instruction pages).
 *
 * Source DS:rSI (segment override allowed), destination ES:rDI (never overridden); the address
 * size (67 prefix) selects rSI/rDI/rCX, ESI/EDI/ECX (zero-extended in 64-bit mode) or SI/DI/CX,
 * which wrap at their width. In 64-bit mode only FS and GS bases apply.
 *
 * REP MOVS / STOS / LODS run in bulk: one chunk per stretch in which the source and the
 * destination each stay inside one 4 KiB page (one translation per page, then a typed-array
 * copy or fill of RAM). Overlapping moves reproduce the element-by-element loop exactly (a
 * forward move with the destination just above the source replicates a pattern; copyWithin
 * alone would behave like memmove). MMIO pages and elements that straddle a page go element
 * by element through the linear accessors. RCX/RSI/RDI are updated after every chunk, and a
 * chunk faults before it changes anything, so a fault leaves them describing the progress with
 * RIP at the instruction. One execution does at most STRING_LIMIT (64 KiB) of elements, then
 * leaves RIP at the instruction so that the next loop iteration continues it (interruptible, and
 * a huge count never freezes the emulator). REPE/REPNE CMPS/SCAS scan RAM the same way, a chunk
 * at a time, stopping at the first element that ends the repetition; with both F2 and F3 the
 * last one decides (as on the host).
 * With alignment checking on (#AC: CR0.AM, EFLAGS.AC, CPL 3), misaligned elements skip the bulk
 * paths: each element is checked as it is accessed.
 *
 * Not supported: INS/OUTS (6C-6F: no I/O bus yet, they execute as #UD), segment limit checks,
 * an element that wraps around the end of a 16-bit offset (it is accessed at contiguous linear
 * addresses).
 */
import type { CachedInsn, Cpu } from '../cpu.ts';
import { PREFIX_REP, PREFIX_REPNE, SEG_DS, SEG_ES } from '../decoder.ts';
import type { Binding, Handler } from '../exec.ts';
import { DF } from '../flags.ts';
import { ACCESS_READ, ACCESS_WRITE } from '../mmu.ts';
import { SZ, type Opcode } from '../opcode-table.ts';
import { RAM_OFFSET, RFLAGS, RIP } from '../../state-layout.ts';
import { ALU_CMP, alu } from './alu.ts';

/** Most bytes of elements one execution of a repeated string instruction processes. */
export const STRING_LIMIT = 0x10000;

const RAX = 0;
const RCX = 1;
const RSI = 6;
const RDI = 7;
const BYTE = 8;
const ANY_REP = PREFIX_REP | PREFIX_REPNE;

/** High half of the last linear() result. */
let linHi = 0;

/**
 * Linear address of the string pointer in register `r` (rSI or rDI) through segment `seg`,
 * for an element of `k` bytes (with segment checks on, the whole element must be inside).
 */
function linear(cpu: Cpu, r: number, ad: number, seg: number, k: number): number {
  let lo = cpu.lo(r);
  let hi = 0;
  if (ad === 8) hi = cpu.hi64(r);
  else if (ad === 2) lo &= 0xffff;
  lo = cpu.linearAddress(seg, lo, hi);
  if (cpu.segChecks) cpu.checkEaRoom(k);
  hi = cpu.hi;
  linHi = hi;
  return lo;
}

/** Adds a signed byte count (|delta| < 2^31) to rSI, rDI or rCX at address size `ad`. */
function addReg(cpu: Cpu, r: number, ad: number, delta: number): void {
  const lo = cpu.lo(r);
  if (ad === 8) {
    const s = (lo >>> 0) + delta;
    cpu.set64(r, s | 0, (cpu.hi64(r) + (s < 0 ? -1 : s > 0xffffffff ? 1 : 0)) | 0);
  } else if (ad === 4) {
    cpu.set64(r, (lo + delta) | 0, 0);
  } else {
    cpu.set64(r, (lo & ~0xffff) | ((lo + delta) & 0xffff), cpu.hi64(r));
  }
}

/** The repeat count in rCX (anything above 2^32 counts as "more than one execution does"). */
function count(cpu: Cpu, ad: number): number {
  const lo = cpu.lo(RCX);
  if (ad === 8) return cpu.hi64(RCX) !== 0 ? 0x1_0000_0000 : lo >>> 0;
  return ad === 4 ? lo >>> 0 : lo & 0xffff;
}

/**
 * Elements of `k` bytes that can be processed from the element at linear `lin` (pointer register
 * low half `off`) without leaving its 4 KiB page or wrapping the pointer; 0 when that first
 * element itself straddles.
 */
function span(lin: number, off: number, ad: number, k: number, back: boolean): number {
  const inPage = lin & 0xfff;
  let n: number;
  if (!back) {
    n = ((4096 - inPage) / k) | 0;
    if (ad !== 8) {
      const left = ad === 4 ? 0x1_0000_0000 - (off >>> 0) : 0x10000 - (off & 0xffff);
      const m = Math.floor(left / k);
      if (m < n) n = m;
    }
  } else {
    if (inPage + k > 4096) return 0;
    n = ((inPage / k) | 0) + 1;
    if (ad !== 8) {
      const o = ad === 4 ? off >>> 0 : off & 0xffff;
      if (o + k > (ad === 4 ? 0x1_0000_0000 : 0x10000)) return 0;
      const m = Math.floor(o / k) + 1;
      if (m < n) n = m;
    }
  }
  return n;
}

/** Leaves RIP at the current instruction: the next loop iteration executes it again. */
function restart(cpu: Cpu): void {
  cpu.nextLo = cpu.i32[RIP >> 2]!;
  cpu.nextHi = cpu.i32[(RIP >> 2) + 1]!;
}

function read(cpu: Cpu, k: number, lo: number, hi: number): number {
  switch (k) {
    case 1: return cpu.read8(lo, hi);
    case 2: return cpu.read16(lo, hi);
    case 4: return cpu.read32(lo, hi);
    default: return cpu.read64(lo, hi);
  }
}

function write(cpu: Cpu, k: number, lo: number, hi: number, vLo: number, vHi: number): void {
  switch (k) {
    case 1: cpu.write8(lo, hi, vLo); return;
    case 2: cpu.write16(lo, hi, vLo); return;
    case 4: cpu.write32(lo, hi, vLo); return;
    default: cpu.write64(lo, hi, vLo, vHi);
  }
}

/** Reads an element from RAM at u8 index `at` (8: high half in cpu.hi). */
function ramRead(cpu: Cpu, k: number, at: number): number {
  const dv = cpu.dv;
  switch (k) {
    case 1: return cpu.u8[at]!;
    case 2: return dv.getUint16(at, true);
    case 4: return dv.getInt32(at, true);
    default:
      cpu.hi = dv.getInt32(at + 4, true);
      return dv.getInt32(at, true);
  }
}

const elementTmp = new Uint8Array(8);

/**
 * Moves `bytes` bytes of `k`-byte elements inside the u8 array exactly as the element loop
 * does: forward from the low end, or backward from the high end. `dst` and `src` are the low
 * ends of the two ranges.
 */
export function copyElements(u8: Uint8Array, dst: number, src: number, bytes: number, k: number, back: boolean): void {
  const d = dst - src;
  if (back ? d >= 0 || d <= -bytes : d <= 0 || d >= bytes) {
    // Disjoint, or overlapping the way memmove handles (the loop reads each byte before it is written).
    if (d !== 0) u8.copyWithin(dst, src, src + bytes);
    return;
  }
  const dist = back ? -d : d;
  if (dist >= k) {
    // Each element reads bytes the loop already wrote: the result repeats the first `dist`
    // source bytes (from the start of the move). Fill by doubling a correct prefix.
    const total = dist + bytes;
    let done = dist;
    if (!back) {
      while (done < total) {
        const c = Math.min(done, total - done);
        u8.copyWithin(src + done, src, src + c);
        done += c;
      }
    } else {
      const top = src + bytes;
      while (done < total) {
        const c = Math.min(done, total - done);
        u8.copyWithin(top - done - c, top - c, top);
        done += c;
      }
    }
    return;
  }
  // Closer than one element: each element reads part of the previous one's result.
  const n = bytes / k;
  const t = elementTmp;
  for (let i = 0; i < n; i++) {
    const o = back ? (n - 1 - i) * k : i * k;
    for (let b = 0; b < k; b++) t[b] = u8[src + o + b]!;
    for (let b = 0; b < k; b++) u8[dst + o + b] = t[b]!;
  }
}

/** Fills `bytes` bytes at u8 index `at` with the `k`-byte element (lo, hi). */
function fillElements(cpu: Cpu, at: number, bytes: number, k: number, lo: number, hi: number): void {
  const u8 = cpu.u8;
  const b = lo & 0xff;
  const rep = Math.imul(b, 0x01010101);
  // One repeated byte (zero, all ones, ...): the common case.
  if (k === 1 || (k === 2 ? (lo & 0xffff) === (rep & 0xffff) : lo === rep && (k === 4 || hi === rep))) {
    u8.fill(b, at, at + bytes);
    return;
  }
  const dv = cpu.dv;
  if (k !== 8 && (at & 1) === 0) {
    // Aligned words and dwords: an Int32Array fill of the pattern, with 2-byte edges for words.
    let a = at;
    let end = at + bytes;
    if (k === 2) {
      if (a & 2) {
        dv.setUint16(a, lo, true);
        a += 2;
      }
      if (end & 2 && end > a) {
        dv.setUint16(end - 2, lo, true);
        end -= 2;
      }
      if (a < end) cpu.i32.fill((lo & 0xffff) | (lo << 16), a >> 2, end >> 2);
      return;
    }
    if ((a & 3) === 0) {
      cpu.i32.fill(lo, a >> 2, end >> 2);
      return;
    }
  }
  // Any other pattern: write up to 64 bytes, then double.
  let done = 0;
  const first = Math.min(bytes, 64);
  for (; done < first; done += k) {
    const p = at + done;
    if (k === 2) dv.setUint16(p, lo, true);
    else {
      dv.setInt32(p, lo, true);
      if (k === 8) dv.setInt32(p + 4, hi, true);
    }
  }
  while (done < bytes) {
    const c = Math.min(done, bytes - done);
    u8.copyWithin(at + done, at, at + c);
    done += c;
  }
}

/**
 * Alignment checking (#AC) is on and the element at `lo` is misaligned: the chunk goes element
 * by element through the checking accessors, so the first element faults before anything
 * changes. All elements of a chunk share the first one's alignment (they are k bytes apart).
 */
/**
 * The bulk paths are off: a misaligned element while alignment checking is on (#AC), or
 * non-flat segments (each element's limit is checked by linear()).
 */
function noBulk(cpu: Cpu, lo: number, k: number): boolean {
  return (cpu.alignCheck && (lo & (k - 1)) !== 0) || cpu.segChecks;
}

function elementSize(e: CachedInsn): number {
  return e.aux & BYTE ? 1 : e.opsize;
}

function sourceSeg(e: CachedInsn): number {
  return e.seg < 0 ? SEG_DS : e.seg;
}

function backward(cpu: Cpu): boolean {
  return (cpu.i32[RFLAGS >> 2]! & DF) !== 0;
}

// ---- MOVS -------------------------------------------------------------------------------------

function movs(cpu: Cpu, e: CachedInsn): void {
  const k = elementSize(e);
  const ad = e.adsize;
  if (e.prefixes & ANY_REP) {
    repMovs(cpu, ad, k, sourceSeg(e), backward(cpu));
    return;
  }
  const sLo = linear(cpu, RSI, ad, sourceSeg(e), k);
  const sHi = linHi;
  const vLo = read(cpu, k, sLo, sHi);
  const vHi = cpu.hi;
  const dLo = linear(cpu, RDI, ad, SEG_ES, k);
  write(cpu, k, dLo, linHi, vLo, vHi);
  const delta = backward(cpu) ? -k : k;
  addReg(cpu, RSI, ad, delta);
  addReg(cpu, RDI, ad, delta);
}

function repMovs(cpu: Cpu, ad: number, k: number, seg: number, back: boolean): void {
  const ram = cpu.ramSize;
  // Fast path (the usual memcpy): 64-bit addressing, forward, both ranges inside one page of RAM.
  const cLo = cpu.lo(RCX);
  if (ad === 8 && !back && cLo > 0 && cLo <= 4096 && cpu.hi64(RCX) === 0) {
    const bytes = cLo * k;
    const sLo = linear(cpu, RSI, 8, seg, k);
    const sHi = linHi;
    const dLo = linear(cpu, RDI, 8, SEG_ES, k);
    const dHi = linHi;
    if ((sLo & 0xfff) + bytes <= 4096 && (dLo & 0xfff) + bytes <= 4096 && !noBulk(cpu, sLo | dLo, k)) {
      const ps = cpu.translate(sLo, sHi, ACCESS_READ);
      const pd = cpu.translate(dLo, dHi, ACCESS_WRITE);
      if (ps + bytes <= ram && pd + bytes <= ram) {
        const src = RAM_OFFSET + ps;
        const dst = RAM_OFFSET + pd;
        if (bytes <= 16 && (dst - src >= bytes || src - dst >= bytes)) {
          const u8 = cpu.u8;
          for (let i = 0; i < bytes; i++) u8[dst + i] = u8[src + i]!;
        } else {
          copyElements(cpu.u8, dst, src, bytes, k, false);
        }
        if (cpu.hasCode[pd >>> 12]) cpu.codeWritten(pd >>> 12);
        addReg(cpu, RSI, 8, bytes);
        addReg(cpu, RDI, 8, bytes);
        cpu.set64(RCX, 0, 0);
        return;
      }
    }
  }
  let budget = STRING_LIMIT / k;
  for (;;) {
    let n = count(cpu, ad);
    if (n === 0) return;
    if (budget === 0) {
      restart(cpu);
      return;
    }
    if (n > budget) n = budget;
    const sLo = linear(cpu, RSI, ad, seg, k);
    const sHi = linHi;
    const dLo = linear(cpu, RDI, ad, SEG_ES, k);
    const dHi = linHi;
    const ns = span(sLo, cpu.lo(RSI), ad, k, back);
    if (ns < n) n = ns;
    const nd = span(dLo, cpu.lo(RDI), ad, k, back);
    if (nd < n) n = nd;
    let bulk = false;
    if (n > 0 && !noBulk(cpu, sLo | dLo, k)) {
      const ps = cpu.translate(sLo, sHi, ACCESS_READ);
      const pd = cpu.translate(dLo, dHi, ACCESS_WRITE);
      const bytes = n * k;
      const low = back ? bytes - k : 0;
      const s = ps - low;
      const d = pd - low;
      if (s + bytes <= ram && d + bytes <= ram) {
        copyElements(cpu.u8, RAM_OFFSET + d, RAM_OFFSET + s, bytes, k, back);
        const page = d >>> 12;
        if (cpu.hasCode[page]) cpu.codeWritten(page);
        bulk = true;
      }
    }
    if (!bulk) {
      // Straddles a page, or MMIO: one element through the linear accessors.
      const vLo = read(cpu, k, sLo, sHi);
      write(cpu, k, dLo, dHi, vLo, cpu.hi);
      n = 1;
    }
    const delta = back ? -n * k : n * k;
    addReg(cpu, RSI, ad, delta);
    addReg(cpu, RDI, ad, delta);
    addReg(cpu, RCX, ad, -n);
    budget -= n;
  }
}

// ---- STOS -------------------------------------------------------------------------------------

function stos(cpu: Cpu, e: CachedInsn): void {
  const k = elementSize(e);
  const ad = e.adsize;
  const vLo = cpu.getReg(RAX, k, 0);
  const vHi = k === 8 ? cpu.hi : 0;
  const back = backward(cpu);
  if (!(e.prefixes & ANY_REP)) {
    const dLo = linear(cpu, RDI, ad, SEG_ES, k);
    write(cpu, k, dLo, linHi, vLo, vHi);
    addReg(cpu, RDI, ad, back ? -k : k);
    return;
  }
  const ram = cpu.ramSize;
  // Fast path (the usual memset): 64-bit addressing, forward, inside one page of RAM.
  const cLo = cpu.lo(RCX);
  if (ad === 8 && !back && cLo > 0 && cLo <= 4096 && cpu.hi64(RCX) === 0) {
    const bytes = cLo * k;
    const dLo = linear(cpu, RDI, 8, SEG_ES, k);
    if ((dLo & 0xfff) + bytes <= 4096 && !noBulk(cpu, dLo, k)) {
      const pd = cpu.translate(dLo, linHi, ACCESS_WRITE);
      if (pd + bytes <= ram) {
        fillElements(cpu, RAM_OFFSET + pd, bytes, k, vLo, vHi);
        if (cpu.hasCode[pd >>> 12]) cpu.codeWritten(pd >>> 12);
        addReg(cpu, RDI, 8, bytes);
        cpu.set64(RCX, 0, 0);
        return;
      }
    }
  }
  let budget = STRING_LIMIT / k;
  for (;;) {
    let n = count(cpu, ad);
    if (n === 0) return;
    if (budget === 0) {
      restart(cpu);
      return;
    }
    if (n > budget) n = budget;
    const dLo = linear(cpu, RDI, ad, SEG_ES, k);
    const dHi = linHi;
    const nd = span(dLo, cpu.lo(RDI), ad, k, back);
    if (nd < n) n = nd;
    let bulk = false;
    if (n > 0 && !noBulk(cpu, dLo, k)) {
      const pd = cpu.translate(dLo, dHi, ACCESS_WRITE);
      const bytes = n * k;
      const d = back ? pd - (bytes - k) : pd;
      if (d + bytes <= ram) {
        fillElements(cpu, RAM_OFFSET + d, bytes, k, vLo, vHi);
        const page = d >>> 12;
        if (cpu.hasCode[page]) cpu.codeWritten(page);
        bulk = true;
      }
    }
    if (!bulk) {
      write(cpu, k, dLo, dHi, vLo, vHi);
      n = 1;
    }
    addReg(cpu, RDI, ad, back ? -n * k : n * k);
    addReg(cpu, RCX, ad, -n);
    budget -= n;
  }
}

// ---- LODS -------------------------------------------------------------------------------------

function lods(cpu: Cpu, e: CachedInsn): void {
  const k = elementSize(e);
  const ad = e.adsize;
  const seg = sourceSeg(e);
  const back = backward(cpu);
  if (!(e.prefixes & ANY_REP)) {
    const sLo = linear(cpu, RSI, ad, seg, k);
    const v = read(cpu, k, sLo, linHi);
    cpu.setReg(RAX, k, v, cpu.hi, 0);
    addReg(cpu, RSI, ad, back ? -k : k);
    return;
  }
  const ram = cpu.ramSize;
  let budget = STRING_LIMIT / k;
  for (;;) {
    let n = count(cpu, ad);
    if (n === 0) return;
    if (budget === 0) {
      restart(cpu);
      return;
    }
    if (n > budget) n = budget;
    const sLo = linear(cpu, RSI, ad, seg, k);
    const sHi = linHi;
    const ns = span(sLo, cpu.lo(RSI), ad, k, back);
    if (ns < n) n = ns;
    let bulk = false;
    if (n > 0 && !noBulk(cpu, sLo, k)) {
      const ps = cpu.translate(sLo, sHi, ACCESS_READ);
      const bytes = n * k;
      const s = back ? ps - (bytes - k) : ps;
      if (s + bytes <= ram) {
        // Only the last element loaded stays in rAX.
        const v = ramRead(cpu, k, RAM_OFFSET + (back ? s : s + bytes - k));
        cpu.setReg(RAX, k, v, cpu.hi, 0);
        bulk = true;
      }
    }
    if (!bulk) {
      const v = read(cpu, k, sLo, sHi);
      cpu.setReg(RAX, k, v, cpu.hi, 0);
      n = 1;
    }
    addReg(cpu, RSI, ad, back ? -n * k : n * k);
    addReg(cpu, RCX, ad, -n);
    budget -= n;
  }
}

// ---- CMPS and SCAS ----------------------------------------------------------------------------

/**
 * CMPS (scan = false): compares [rSI] with [rDI]; SCAS (scan = true): rAX with [rDI]. Repeated
 * forms scan RAM a page-chunk at a time and record the flags of the last comparison.
 */
function compare(cpu: Cpu, e: CachedInsn, scan: boolean): void {
  const k = elementSize(e);
  const ad = e.adsize;
  const seg = sourceSeg(e);
  const back = backward(cpu);
  const step = back ? -k : k;
  let aLo = 0;
  let aHi = 0;
  if (scan) {
    aLo = cpu.getReg(RAX, k, 0);
    if (k === 8) aHi = cpu.hi;
  }
  if (!(e.prefixes & ANY_REP)) {
    if (!scan) {
      aLo = read(cpu, k, linear(cpu, RSI, ad, seg, k), linHi);
      if (k === 8) aHi = cpu.hi;
    }
    const bLo = read(cpu, k, linear(cpu, RDI, ad, SEG_ES, k), linHi);
    alu(cpu, ALU_CMP, k, aLo, aHi, bLo, k === 8 ? cpu.hi : 0);
    if (!scan) addReg(cpu, RSI, ad, step);
    addReg(cpu, RDI, ad, step);
    return;
  }
  // F3: repeat while equal; F2: while not equal (with both, the last one counts).
  const whileEqual = e.lastRep === PREFIX_REP; // the last of F3/F2 decides (REPE vs REPNE)
  const ram = cpu.ramSize;
  let budget = STRING_LIMIT / k;
  for (;;) {
    let n = count(cpu, ad);
    if (n === 0) return;
    if (budget === 0) {
      restart(cpu);
      return;
    }
    if (n > budget) n = budget;
    let sLo = 0;
    let sHi = 0;
    if (!scan) {
      sLo = linear(cpu, RSI, ad, seg, k);
      sHi = linHi;
      const ns = span(sLo, cpu.lo(RSI), ad, k, back);
      if (ns < n) n = ns;
    }
    const dLo = linear(cpu, RDI, ad, SEG_ES, k);
    const dHi = linHi;
    const nd = span(dLo, cpu.lo(RDI), ad, k, back);
    if (nd < n) n = nd;
    let done = 0;
    let stop = false;
    let xLo = aLo;
    let xHi = aHi;
    let yLo = 0;
    let yHi = 0;
    if (n > 0 && !noBulk(cpu, scan ? dLo : sLo | dLo, k)) {
      const ps = scan ? 0 : cpu.translate(sLo, sHi, ACCESS_READ);
      const pd = cpu.translate(dLo, dHi, ACCESS_READ);
      const bytes = n * k;
      const low = back ? bytes - k : 0;
      if ((scan || ps - low + bytes <= ram) && pd - low + bytes <= ram) {
        let s = RAM_OFFSET + ps;
        let d = RAM_OFFSET + pd;
        for (;;) {
          if (!scan) {
            xLo = ramRead(cpu, k, s);
            xHi = k === 8 ? cpu.hi : 0;
          }
          yLo = ramRead(cpu, k, d);
          yHi = k === 8 ? cpu.hi : 0;
          done++;
          if ((xLo === yLo && xHi === yHi) !== whileEqual) {
            stop = true;
            break;
          }
          if (done === n) break;
          s += step;
          d += step;
        }
      }
    }
    if (done === 0) {
      // Straddles a page, or MMIO: one element through the linear accessors.
      if (!scan) {
        xLo = read(cpu, k, sLo, sHi);
        xHi = k === 8 ? cpu.hi : 0;
      }
      yLo = read(cpu, k, dLo, dHi);
      yHi = k === 8 ? cpu.hi : 0;
      done = 1;
      stop = (xLo === yLo && xHi === yHi) !== whileEqual;
    }
    alu(cpu, ALU_CMP, k, xLo, xHi, yLo, yHi);
    if (!scan) addReg(cpu, RSI, ad, done * step);
    addReg(cpu, RDI, ad, done * step);
    addReg(cpu, RCX, ad, -done);
    budget -= done;
    if (stop) return;
  }
}

function cmps(cpu: Cpu, e: CachedInsn): void {
  compare(cpu, e, false);
}

function scas(cpu: Cpu, e: CachedInsn): void {
  compare(cpu, e, true);
}

// ---- binding ------------------------------------------------------------------------------------

const HANDLERS = new Map<string, Handler>([['movs', movs], ['cmps', cmps], ['stos', stos], ['lods', lods], ['scas', scas]]);

export function bindString(op: Opcode): Binding | undefined {
  if (op.map !== 0) return undefined;
  const handler = HANDLERS.get(op.mnemonic);
  if (!handler) return undefined;
  const byte = op.operands.some((o) => o.size === SZ.B) ? BYTE : 0;
  return [handler, byte];
}
