import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BzImageError } from './bzimage.ts';
import { E820_TYPE_RAM, decodeE820, e820Map } from './e820.ts';
import { ACPI_TABLES_START, CMDLINE_ADDR, KERNEL_LOAD_ADDR, ZERO_PAGE_ADDR } from './layout.ts';
import {
  BOOT_GDT_ADDR, BOOT_GDT_LIMIT, BOOT_PD_ADDR, BOOT_PDPT_ADDR, BOOT_PML4_ADDR, KernelLoadError, type LoadKernelOptions,
  describeBootPlacement, loadKernel,
} from './loader.ts';
import {
  BP_ACPI_RSDP_ADDR_OFFSET, BP_E820_ENTRIES_OFFSET, BP_E820_TABLE_OFFSET, HDR_CMD_LINE_PTR_OFFSET, HDR_CODE32_START_OFFSET,
  HDR_RAMDISK_IMAGE_OFFSET, HDR_RAMDISK_SIZE_OFFSET, HDR_TYPE_OF_LOADER_OFFSET,
} from './zero-page.ts';
import { Cpu, STOP_BUDGET, STOP_HALT } from '../emu/x86/cpu.ts';
import { ACCESS_READ, ACCESS_WRITE, CPU_FAULT, CR0_PE, CR0_PG, CR4_PAE, EFER_LMA, EFER_LME } from '../emu/x86/mmu.ts';
import { SEG_CS, SEG_DS, SEG_ES, SEG_SS, segSelector } from '../emu/x86/system.ts';
import { assemble } from '../emu/x86/testing/asm.ts';
import { CR0, CR3, CR4, EFER, GDTR_BASE, GDTR_LIMIT, RAM_OFFSET } from '../emu/state-layout.ts';

const MiB = 0x10_0000;
const GiB = 0x4000_0000;
const KERNEL = new Uint8Array(readFileSync(new URL('../../public/kernels/bzImage', import.meta.url)));
const INITRD = new Uint8Array(readFileSync(new URL('../../public/kernels/initramfs.cpio', import.meta.url)));
const RSDP = ACPI_TABLES_START; // where the RSDP lives (MACHINE.md)

function cpuWithRam(ramSize: number): Cpu {
  const pages = Math.ceil((RAM_OFFSET + ramSize) / 65536);
  return new Cpu(new WebAssembly.Memory({ initial: pages, maximum: pages }), ramSize);
}

function ram(cpu: Cpu, addr: number, size: number): Uint8Array {
  return cpu.u8.subarray(RAM_OFFSET + addr, RAM_OFFSET + addr + size);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

interface SyntheticOptions {
  /** Code at the start of the protected-mode kernel (the 32-bit entry). */
  code32?: Uint8Array;
  /** Code at +0x200 (the 64-bit entry). */
  code64?: Uint8Array;
  protocol?: number;
  xloadflags?: number;
  initSize?: number;
  initrdAddrMax?: number;
}

/** A minimal bzImage: 4 setup sectors, an 8 KiB protected-mode kernel holding the test code. */
function syntheticImage(o: SyntheticOptions = {}): Uint8Array {
  const pm = new Uint8Array(8192);
  if (o.code32) pm.set(o.code32, 0);
  if (o.code64) pm.set(o.code64, 0x200);
  const image = new Uint8Array(5 * 512 + pm.length);
  const v = new DataView(image.buffer);
  v.setUint8(0x1f1, 4); // setup_sects
  v.setUint32(0x1f4, pm.length / 16, true); // syssize
  v.setUint16(0x1fe, 0xaa55, true); // boot_flag
  v.setUint8(0x200, 0xeb); // jump: the header ends at 0x202 + 0x6a
  v.setUint8(0x201, 0x6a);
  v.setUint32(0x202, 0x53726448, true); // "HdrS"
  v.setUint16(0x206, o.protocol ?? 0x020f, true);
  v.setUint8(0x211, 0x01); // LOADED_HIGH
  v.setUint32(0x214, 0x100000, true); // code32_start
  v.setUint32(0x22c, o.initrdAddrMax ?? 0x7fffffff, true);
  v.setUint32(0x230, 0x200000, true); // kernel_alignment
  v.setUint16(0x236, o.xloadflags ?? 0x1, true); // XLF_KERNEL_64
  v.setUint32(0x238, 255, true); // cmdline_size
  v.setUint32(0x258, 0x1000000, true); // pref_address: 16 MiB
  v.setUint32(0x260, o.initSize ?? 0x100000, true);
  image.set(pm, 5 * 512);
  return image;
}

function options(kernel: Uint8Array, extra: Partial<LoadKernelOptions> = {}): LoadKernelOptions {
  return { kernel, cmdline: 'console=ttyS0', rsdpAddr: RSDP, ...extra };
}

/** Whether translating `addr` through the CPU's current paging faults (and with which vector). */
function translateOrFault(cpu: Cpu, addr: number, access = ACCESS_READ): number | string {
  try {
    return cpu.translate(addr % 2 ** 32 | 0, Math.floor(addr / 2 ** 32), access);
  } catch (e) {
    if (e !== CPU_FAULT) throw e;
    return `fault ${cpu.faultVector}`;
  }
}

describe('loadKernel with the default guest kernel (64-bit entry)', () => {
  const cpu = cpuWithRam(256 * MiB);
  const placed = loadKernel(cpu, options(KERNEL, { initrd: INITRD, cmdline: 'console=ttyS0 quiet' }));

  it('places the kernel at 1 MiB, the initrd page-aligned at the top of RAM, the command line', () => {
    const setupSize = (KERNEL[0x1f1]! + 1) * 512;
    expect(placed.kernel).toEqual({ addr: KERNEL_LOAD_ADDR, size: KERNEL.length - setupSize });
    expect(sameBytes(ram(cpu, KERNEL_LOAD_ADDR, placed.kernel.size), KERNEL.subarray(setupSize))).toBe(true);
    // Not relocatable: it runs from pref_address (16 MiB) for init_size bytes.
    expect(placed.kernelRuntime).toEqual({ addr: 16 * MiB, size: placed.image.initSize });
    const initrdAddr = Math.floor((256 * MiB - INITRD.length) / 4096) * 4096;
    expect(placed.initrd).toEqual({ addr: initrdAddr, size: INITRD.length });
    expect(initrdAddr).toBeGreaterThanOrEqual(16 * MiB + placed.image.initSize);
    expect(sameBytes(ram(cpu, initrdAddr, INITRD.length), INITRD)).toBe(true);
    expect(new TextDecoder().decode(ram(cpu, CMDLINE_ADDR, 20))).toBe('console=ttyS0 quiet\0');
    expect(placed.entryPoint).toBe(0x100200);
  });

  it('fills the zero page: loader type, pointers, ramdisk, e820, RSDP', () => {
    const zp = ram(cpu, ZERO_PAGE_ADDR, 4096);
    const v = new DataView(zp.buffer, zp.byteOffset, 4096);
    expect(zp[HDR_TYPE_OF_LOADER_OFFSET]).toBe(0xff);
    expect(v.getUint32(HDR_CMD_LINE_PTR_OFFSET, true)).toBe(CMDLINE_ADDR);
    expect(v.getUint32(HDR_CODE32_START_OFFSET, true)).toBe(KERNEL_LOAD_ADDR);
    expect(v.getUint32(HDR_RAMDISK_IMAGE_OFFSET, true)).toBe(placed.initrd!.addr);
    expect(v.getUint32(HDR_RAMDISK_SIZE_OFFSET, true)).toBe(INITRD.length);
    expect(v.getUint32(BP_ACPI_RSDP_ADDR_OFFSET, true)).toBe(RSDP);
    expect(decodeE820(zp, BP_E820_TABLE_OFFSET, zp[BP_E820_ENTRIES_OFFSET]!)).toEqual(e820Map(256 * MiB));
    expect(sameBytes(zp.subarray(0x202, 0x206), new TextEncoder().encode('HdrS'))).toBe(true);
  });

  it('enters long mode at load address + 0x200 with RSI = zero page and interrupts off', () => {
    expect(cpu.codeBits).toBe(64);
    expect(cpu.rip).toBe(0x100200n);
    expect([cpu.lo(6), cpu.hi64(6)]).toEqual([ZERO_PAGE_ADDR, 0]);
    expect(cpu.getFlags() & 0x200).toBe(0);
    expect(cpu.i32[CR0 >> 2]! & (CR0_PE | CR0_PG)).toBe(CR0_PE | CR0_PG);
    expect(cpu.i32[CR4 >> 2]! & CR4_PAE).toBe(CR4_PAE);
    expect(cpu.i32[EFER >> 2]! & (EFER_LME | EFER_LMA)).toBe(EFER_LME | EFER_LMA);
    expect(cpu.i32[CR3 >> 2]).toBe(BOOT_PML4_ADDR);
    expect([segSelector(cpu, SEG_CS), segSelector(cpu, SEG_DS), segSelector(cpu, SEG_ES), segSelector(cpu, SEG_SS)]).toEqual([0x10, 0x18, 0x18, 0x18]);
  });

  it('loads a GDT with flat 64-bit __BOOT_CS and __BOOT_DS in the reserved boot data', () => {
    expect([cpu.i32[GDTR_BASE >> 2], cpu.i32[GDTR_LIMIT >> 2]]).toEqual([BOOT_GDT_ADDR, BOOT_GDT_LIMIT]);
    const gdt = new DataView(cpu.u8.buffer, RAM_OFFSET + BOOT_GDT_ADDR, 32);
    const desc = (sel: number) => [gdt.getUint32(sel, true), gdt.getUint32(sel + 4, true)];
    expect(desc(0)).toEqual([0, 0]);
    expect(desc(0x10)).toEqual([0xffff, 0x00af9b00]); // L=1, D=0, present, execute/read
    expect(desc(0x18)).toEqual([0xffff, 0x00cf9300]); // 4 GiB flat, read/write
    const reserved = e820Map(256 * MiB).find((e) => e.addr <= BOOT_GDT_ADDR && BOOT_GDT_ADDR < e.addr + e.size);
    expect(reserved?.type).not.toBe(E820_TYPE_RAM);
    expect(placed.pageTables).toEqual({ addr: BOOT_PML4_ADDR, size: 3 * 4096, identityMapped: GiB });
  });

  it('identity-maps all RAM with its page tables (walked by the MMU) and nothing past 1 GiB', () => {
    for (const addr of [0, ZERO_PAGE_ADDR, CMDLINE_ADDR, 0x100200, 16 * MiB + placed.image.initSize - 1, placed.initrd!.addr, 256 * MiB - 1, GiB - 1]) {
      expect(translateOrFault(cpu, addr), `0x${addr.toString(16)}`).toBe(addr);
    }
    expect(translateOrFault(cpu, 0x1234_5678, ACCESS_WRITE)).toBe(0x1234_5678);
    expect(translateOrFault(cpu, GiB)).toBe('fault 14');
    expect(translateOrFault(cpu, 2 ** 39)).toBe('fault 14');
  });

  it('describes the placement for logs', () => {
    const lines = describeBootPlacement(placed).join('\n');
    expect(lines).toContain('entry: 64-bit boot protocol at 0x100200, zero page 0x7000 in RSI');
    expect(lines).toContain(`initrd: [mem 0x${placed.initrd!.addr.toString(16)}-0x${(placed.initrd!.addr + INITRD.length - 1).toString(16)}] ${INITRD.length} bytes`);
    expect(lines).toContain('page tables: [mem 0xa0000-0xa2fff] identity-map 0x0-0x3fffffff');
  });

  it('gets the real decompressor going: 200k instructions without a fault', () => {
    const fresh = cpuWithRam(256 * MiB);
    loadKernel(fresh, options(KERNEL, { initrd: INITRD }));
    fresh.stopOnFault = true;
    expect(fresh.run(200_000)).toBe(STOP_BUDGET);
    expect(fresh.shutdown).toBe(false);
  });
});

describe('loadKernel with the 32-bit entry', () => {
  it('enters flat protected mode at code32_start, paging off, ESI = zero page, EBP/EDI/EBX = 0', () => {
    const cpu = cpuWithRam(64 * MiB);
    for (const r of [3, 5, 7]) cpu.set64(r, 0x1111, 0x2222); // stale values the loader must clear
    const placed = loadKernel(cpu, options(KERNEL, { protocol: 32 }));
    expect(placed.entryPoint).toBe(KERNEL_LOAD_ADDR);
    expect(placed.pageTables).toBeUndefined();
    expect(placed.initrd).toBeUndefined();
    expect(cpu.codeBits).toBe(32);
    expect(cpu.rip).toBe(BigInt(KERNEL_LOAD_ADDR));
    expect(cpu.lo(6)).toBe(ZERO_PAGE_ADDR);
    expect([cpu.lo(3), cpu.lo(5), cpu.lo(7), cpu.hi64(3)]).toEqual([0, 0, 0, 0]);
    expect(cpu.i32[CR0 >> 2]! & (CR0_PE | CR0_PG)).toBe(CR0_PE);
    expect(cpu.i32[EFER >> 2]! & EFER_LMA).toBe(0);
    expect(cpu.getFlags() & 0x200).toBe(0);
    const gdt = new DataView(cpu.u8.buffer, RAM_OFFSET + BOOT_GDT_ADDR, 32);
    expect([gdt.getUint32(0x10, true), gdt.getUint32(0x14, true)]).toEqual([0xffff, 0x00cf9b00]); // 32-bit code
    expect([gdt.getUint32(0x18, true), gdt.getUint32(0x1c, true)]).toEqual([0xffff, 0x00cf9300]);
    const zp = new DataView(cpu.u8.buffer, RAM_OFFSET + ZERO_PAGE_ADDR, 4096);
    expect([zp.getUint32(HDR_RAMDISK_IMAGE_OFFSET, true), zp.getUint32(HDR_RAMDISK_SIZE_OFFSET, true)]).toEqual([0, 0]);
    // startup_32 runs in this state up to its CPU check (verify_cpu). It halts there while the
    // CPU does not advertise FPU/SSE yet, and goes on to long mode once it does: either way no
    // fault and no triple fault.
    cpu.stopOnFault = true;
    expect([STOP_BUDGET, STOP_HALT]).toContain(cpu.run(100_000));
    expect(cpu.shutdown).toBe(false);
    expect(cpu.instructions).toBeGreaterThan(40);
  });
});

describe('loadKernel: entry smoke tests with a synthetic kernel', () => {
  it('64-bit: the entry reads boot_params through RSI, reads the top of RAM through paging, reloads CS/DS from the GDT', () => {
    const top = 64 * MiB;
    const code64 = assemble(`bits 64
      mov eax, [rsi + ${HDR_CMD_LINE_PTR_OFFSET}]   ; cmd_line_ptr
      movzx ebx, byte [rsi + ${BP_E820_ENTRIES_OFFSET}]
      mov rcx, [abs ${top - 8}]                     ; the last RAM qword, through the identity map
      mov dx, 0x18
      mov ds, dx
      push 0x10                                     ; far return: CS from the boot GDT
      lea rdx, [rel next]
      push rdx
      retfq
    next:
      mov rdx, rsi
      hlt`, 0x100200);
    const cpu = cpuWithRam(top);
    cpu.dv.setUint32(RAM_OFFSET + top - 8, 0xc0ffee, true);
    cpu.dv.setUint32(RAM_OFFSET + top - 4, 0x1234, true);
    loadKernel(cpu, options(syntheticImage({ code64 }), { cmdline: 'x' }));
    cpu.set64(4, 0x8000, 0); // a stack for the far return, in low RAM (the protocol gives none)
    cpu.stopOnFault = true;
    expect(cpu.run(100)).toBe(STOP_HALT);
    expect(cpu.codeBits).toBe(64);
    expect(cpu.lo(0)).toBe(CMDLINE_ADDR);
    expect(cpu.lo(3)).toBe(4);
    expect([cpu.lo(1), cpu.hi64(1)]).toEqual([0xc0ffee, 0x1234]);
    expect(cpu.lo(2)).toBe(ZERO_PAGE_ADDR);
    expect(segSelector(cpu, SEG_CS)).toBe(0x10);
  });

  it('32-bit: the entry reads boot_params through ESI with paging off, reloads CS/DS from the GDT', () => {
    const top = 32 * MiB;
    const code32 = assemble(`bits 32
      mov eax, [esi + ${HDR_CODE32_START_OFFSET}]
      mov ebx, [esi + ${HDR_CMD_LINE_PTR_OFFSET}]
      mov ecx, [${top - 4}]
      mov dx, 0x18
      mov ds, dx
      jmp 0x10:next
    next:
      mov edx, cr0
      hlt`, 0x100000);
    const cpu = cpuWithRam(top);
    cpu.dv.setUint32(RAM_OFFSET + top - 4, 0xfeedbeef, true);
    loadKernel(cpu, options(syntheticImage({ code32, xloadflags: 0 }), { protocol: 32 }));
    cpu.stopOnFault = true;
    expect(cpu.run(100)).toBe(STOP_HALT);
    expect(cpu.codeBits).toBe(32);
    expect([cpu.lo(0), cpu.lo(3), cpu.lo(1) >>> 0]).toEqual([KERNEL_LOAD_ADDR, CMDLINE_ADDR, 0xfeedbeef]);
    expect(cpu.lo(2) & (CR0_PE | CR0_PG)).toBe(CR0_PE);
    expect(segSelector(cpu, SEG_CS)).toBe(0x10);
  });

  it('maps RAM beyond 1 GiB with a second page directory', () => {
    const cpu = cpuWithRam(GiB + 64 * MiB);
    const placed = loadKernel(cpu, options(syntheticImage()));
    expect(placed.pageTables).toEqual({ addr: BOOT_PML4_ADDR, size: 4 * 4096, identityMapped: 2 * GiB });
    const pdpt = new DataView(cpu.u8.buffer, RAM_OFFSET + BOOT_PDPT_ADDR, 16);
    expect(pdpt.getUint32(8, true)).toBe((BOOT_PD_ADDR + 4096) | 3);
    expect(translateOrFault(cpu, GiB + 32 * MiB + 0x123)).toBe(GiB + 32 * MiB + 0x123);
    expect(translateOrFault(cpu, 2 * GiB)).toBe('fault 14');
  });
});

describe('loadKernel errors', () => {
  /** The error thrown by loading, checked to be a named error with no guest memory written. */
  function refusal(opts: LoadKernelOptions, ramSize = 64 * MiB): Error {
    const cpu = cpuWithRam(ramSize);
    let error: unknown;
    try {
      loadKernel(cpu, opts);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect(ram(cpu, 0, 2 * MiB).every((b) => b === 0), 'guest memory untouched').toBe(true);
    return error as Error;
  }

  it('refuses a file that is not a bzImage', () => {
    const e = refusal(options(new Uint8Array(8192)));
    expect(e).toBeInstanceOf(BzImageError);
    expect(e.name).toBe('BzImageError');
    expect(e.message).toBe('not a Linux kernel image: the "HdrS" boot-protocol magic is missing');
  });

  it('refuses boot protocol 2.11', () => {
    const e = refusal(options(syntheticImage({ protocol: 0x020b })));
    expect(e).toBeInstanceOf(BzImageError);
    expect(e.message).toMatch(/boot protocol 2\.11 is too old: virtlite needs 2\.12 or newer/);
  });

  it('refuses truncated images: setup past the end, payload shorter than syssize', () => {
    expect(refusal(options(KERNEL.subarray(0, 0x1000))).message).toMatch(/truncated bzImage: setup_sects = 31 .* only 4096 bytes/);
    const short = refusal(options(KERNEL.subarray(0, KERNEL.length - 16)));
    expect(short).toBeInstanceOf(BzImageError);
    expect(short.message).toMatch(/truncated bzImage: .* syssize declares/);
  });

  it('refuses a kernel larger than RAM (with init_size)', () => {
    const e = refusal(options(KERNEL), 24 * MiB);
    expect(e).toBeInstanceOf(KernelLoadError);
    expect(e.name).toBe('KernelLoadError');
    expect(e.message).toMatch(/^kernel too large for 24 MiB of RAM: it needs RAM up to 0x1eea000 .*give the VM at least 31 MiB$/);
  });

  it('refuses an initrd that does not fit below initrd_addr_max, the RAM top or the PCI hole', () => {
    const e = refusal(options(KERNEL, { initrd: INITRD }), 32 * MiB);
    expect(e).toBeInstanceOf(KernelLoadError);
    expect(e.message).toMatch(/^initrd of 1\.9 MiB does not fit: it must lie between the kernel's end at 0x1eea000 and 0x2000000/);
    const low = refusal(options(syntheticImage({ initrdAddrMax: 0x011fffff }), { initrd: new Uint8Array(MiB + 1) }), 512 * MiB);
    expect(low.message).toMatch(/between the kernel's end at 0x1100000 and 0x1200000 \(min of initrd_addr_max 0x11fffff.*, 1 MiB free/);
  });

  it('refuses a command line longer than cmdline_size, or with a NUL', () => {
    const e = refusal(options(syntheticImage(), { cmdline: 'x'.repeat(256) }));
    expect(e).toBeInstanceOf(KernelLoadError);
    expect(e.message).toBe('kernel command line too long: 256 bytes, this kernel accepts at most 255 (cmdline_size)');
    expect(refusal(options(syntheticImage(), { cmdline: 'a\0b' })).message).toMatch(/NUL/);
    // 255 bytes is fine.
    expect(loadKernel(cpuWithRam(64 * MiB), options(syntheticImage(), { cmdline: 'x'.repeat(255) })).cmdline.size).toBe(256);
  });

  it('refuses the 64-bit entry for a kernel without XLF_KERNEL_64', () => {
    const e = refusal(options(syntheticImage({ xloadflags: 0 })));
    expect(e).toBeInstanceOf(KernelLoadError);
    expect(e.message).toMatch(/no 64-bit entry point \(XLF_KERNEL_64 is clear/);
  });
});
