/**
 * Direct kernel boot: loads a Linux bzImage, its initrd and command line into guest RAM, fills
 * the zero page and puts the CPU at the kernel's entry point, the way a boot loader would after
 * the kernel's real-mode setup code (Linux Documentation/arch/x86/boot.rst, "Loading the Rest
 * of the Kernel", "32-bit Boot Protocol", "64-bit Boot Protocol"; MACHINE.md "Direct kernel
 * boot").
 *
 * Guest memory after loadKernel():
 *   ZERO_PAGE_ADDR (0x7000)      boot_params (zero-page.ts)
 *   CMDLINE_ADDR (0x20000)       the command line, NUL-terminated
 *   BOOT_GDT_ADDR (0x9F000)      boot GDT: null, null, __BOOT_CS (0x10), __BOOT_DS (0x18)
 *   BOOT_PML4_ADDR (0xA0000)     64-bit entry only: PML4, then one PDPT (0xA1000), then one page
 *                                directory per GiB (0xA2000...) mapping 2 MiB pages, identity,
 *                                from 0 to the top of RAM rounded up to 1 GiB (PCI hole included)
 *   KERNEL_LOAD_ADDR (1 MiB)     the protected-mode kernel (the image after its setup sectors)
 *   runtime start + init_size    left free: the kernel decompresses and runs there
 *   top of RAM below min(initrd_addr_max, PCI hole), page-aligned: the initrd
 * The boot data (GDT, page tables) lives in the e820-reserved range 0x9F000-0xDFFFF, below the
 * ACPI tables, so the kernel neither overwrites it while it still uses it nor reuses it later.
 *
 * CPU state: 64-bit entry (default): long mode, CR0.PE|PG, CR4.PAE, EFER.LME|LMA, CS = 0x10
 * (64-bit code), DS/ES/SS/FS/GS = 0x18, IF = 0, RSI = zero page, RIP = load address + 0x200.
 * 32-bit entry: flat protected mode, paging off, CS = 0x10 (32-bit code), data = 0x18, IF = 0,
 * ESI = zero page, EBP = EDI = EBX = 0, EIP = code32_start (the load address).
 *
 * Not supported: the 16-bit entry (real-mode setup code), loading above 4 GiB or at another
 * address than 1 MiB (the kernel is always loaded at 1 MiB and relocates itself), an initrd
 * above the PCI hole, KASLR choices, setup_data, EFI handover, PVH ELF (vmlinux) entry.
 */
import { type BzImage, parseBzImage } from './bzimage.ts';
import { e820Map, e820RamTop, type E820Entry } from './e820.ts';
import { ACPI_TABLES_START, BOOT_DATA_START, CMDLINE_ADDR, CMDLINE_MAX, KERNEL_LOAD_ADDR, PCI_MMIO_START, ZERO_PAGE_ADDR } from './layout.ts';
import { BOOT_PARAMS_SIZE, buildZeroPage } from './zero-page.ts';
import type { Cpu } from '../emu/x86/cpu.ts';
import { BOOT_CS, BOOT_DS, startLongMode, startProtectedMode } from '../emu/x86/start-state.ts';
import { RAM_OFFSET } from '../emu/state-layout.ts';

const PAGE_SIZE = 0x1000;
const LARGE_PAGE_SIZE = 0x20_0000; // 2 MiB: one page-directory entry
const GIB = 0x4000_0000; // one page directory / one PDPT entry
/** The 64-bit entry point is this far into the protected-mode kernel (boot.rst). */
const ENTRY_64_OFFSET = 0x200;

/** Boot data addresses, inside the reserved BOOT_DATA_START..ACPI_TABLES_START range. */
export const BOOT_GDT_ADDR = BOOT_DATA_START;
export const BOOT_PML4_ADDR = BOOT_DATA_START + PAGE_SIZE;
export const BOOT_PDPT_ADDR = BOOT_DATA_START + 2 * PAGE_SIZE;
export const BOOT_PD_ADDR = BOOT_DATA_START + 3 * PAGE_SIZE;
/** Page directories that fit before the ACPI tables: the identity map covers this many GiB. */
export const BOOT_PD_MAX = (ACPI_TABLES_START - BOOT_PD_ADDR) / PAGE_SIZE;

/** Four descriptors: null, unused (null), __BOOT_CS, __BOOT_DS. */
export const BOOT_GDT_LIMIT = 4 * 8 - 1;

/*
 * Segment descriptors as (high dword, low dword), Intel SDM Vol. 3A 3.4.5:
 *   high: base[31:24] G D/B L AVL limit[19:16] P DPL S type base[23:16]
 *   low:  base[15:0] limit[15:0]
 * All three are flat: base 0, limit 0xFFFFF pages (4 GiB), present, DPL 0, accessed (so the CPU
 * never writes the accessed bit back).
 */
const GDT_LOW_FLAT = 0x0000_ffff;
/** G=1 L=1 D=0, P, S, type 0xB (execute/read, accessed): __BOOT_CS for the 64-bit entry. */
const GDT_HIGH_CODE64 = 0x00af_9b00;
/** G=1 D=1, P, S, type 0xB: __BOOT_CS for the 32-bit entry. */
const GDT_HIGH_CODE32 = 0x00cf_9b00;
/** G=1 B=1, P, S, type 0x3 (read/write, accessed): __BOOT_DS. */
const GDT_HIGH_DATA = 0x00cf_9300;

// Page-table entry bits (SDM Vol. 3A 4.5, tables 4-15 to 4-18).
const PTE_PRESENT = 1 << 0;
const PTE_RW = 1 << 1;
const PTE_PS = 1 << 7;

/** Image problems are BzImageError (bzimage.ts); this is for an image that does not fit this VM. */
export class KernelLoadError extends Error {
  override readonly name = 'KernelLoadError';
}

export interface LoadKernelOptions {
  /** The bzImage file (arch/x86/boot/bzImage). */
  readonly kernel: Uint8Array;
  /** The initial ramdisk (cpio, possibly compressed); omitted or empty: none. */
  readonly initrd?: Uint8Array;
  /** The kernel command line (UTF-8; no NUL characters). */
  readonly cmdline: string;
  /** Guest-physical address of the ACPI RSDP for boot_params.acpi_rsdp_addr; 0: the kernel scans. */
  readonly rsdpAddr: number;
  /** Which boot protocol enters the kernel: 64-bit (default, needs XLF_KERNEL_64) or 32-bit. */
  readonly protocol?: 64 | 32;
}

/** A guest-physical range. */
export interface GuestRange {
  readonly addr: number;
  readonly size: number;
}

/** Where loadKernel() put everything, for logs and for the machine's own checks. */
export interface BootPlacement {
  readonly protocol: 64 | 32;
  readonly image: BzImage;
  readonly entryPoint: number;
  /** The protected-mode kernel as copied. */
  readonly kernel: GuestRange;
  /** The memory the kernel decompresses into and runs from before it reads the e820 map. */
  readonly kernelRuntime: GuestRange;
  readonly initrd: GuestRange | undefined;
  /** The command line, its NUL included. */
  readonly cmdline: GuestRange;
  readonly zeroPage: GuestRange;
  readonly gdt: GuestRange;
  /** 64-bit entry: the PML4, PDPT and page directories, and how much they identity-map from 0. */
  readonly pageTables: (GuestRange & { readonly identityMapped: number }) | undefined;
  readonly e820: readonly E820Entry[];
}

/**
 * Loads the kernel into `cpu`'s RAM and sets the CPU at its entry point. Throws BzImageError for
 * a malformed image and KernelLoadError for one that cannot boot here (too big for the RAM, an
 * initrd or command line that does not fit, no 64-bit entry); guest memory is not touched then.
 */
export function loadKernel(cpu: Cpu, options: LoadKernelOptions): BootPlacement {
  const protocol = options.protocol ?? 64;
  const image = parseBzImage(options.kernel);
  if (!Number.isSafeInteger(options.rsdpAddr) || options.rsdpAddr < 0) {
    throw new KernelLoadError(`invalid ACPI RSDP address ${options.rsdpAddr}`);
  }
  if (protocol === 64 && !image.has64BitEntry) {
    throw new KernelLoadError(
      'this kernel has no 64-bit entry point (XLF_KERNEL_64 is clear in xloadflags): it is a 32-bit kernel or too old; use the 32-bit boot protocol',
    );
  }
  const ramSize = cpu.ramSize;
  // Everything we place sits in the RAM below the PCI hole (the CPU's RAM is one flat range).
  const lowTop = Math.min(ramSize, PCI_MMIO_START);

  const kernel = { addr: KERNEL_LOAD_ADDR, size: image.kernel.length };
  const kernelRuntime = { addr: runtimeStart(image), size: image.initSize };
  const kernelEnd = Math.max(kernel.addr + kernel.size, kernelRuntime.addr + kernelRuntime.size);
  if (kernelRuntime.addr < KERNEL_LOAD_ADDR) {
    throw new KernelLoadError(`the kernel wants to run at ${hex(kernelRuntime.addr)} (pref_address), below 1 MiB, over the boot data`);
  }
  if (kernelEnd > lowTop) {
    throw new KernelLoadError(
      `kernel too large for ${mib(ramSize)} of RAM: it needs RAM up to ${hex(kernelEnd)} ` +
        `(init_size ${mib(image.initSize)} from ${hex(kernelRuntime.addr)}); give the VM at least ${mib(alignUp(kernelEnd, 0x10_0000))}`,
    );
  }

  const cmdline = encodeCmdline(options.cmdline, image);
  const initrd = placeInitrd(options.initrd, image, alignUp(kernelEnd, PAGE_SIZE), lowTop);
  const e820 = e820Map(ramSize);
  const bootData = buildBootData(protocol, e820RamTop(e820));

  const zeroPage = buildZeroPage(image, {
    kernelAddr: KERNEL_LOAD_ADDR,
    cmdlineAddr: CMDLINE_ADDR,
    ramdisk: initrd,
    e820,
    rsdpAddr: options.rsdpAddr,
  });

  // Everything is checked: write guest memory (bulk copies only; the kernel may be tens of MiB).
  const ram = cpu.u8;
  ram.set(image.kernel, RAM_OFFSET + KERNEL_LOAD_ADDR);
  if (initrd !== undefined && options.initrd !== undefined) ram.set(options.initrd, RAM_OFFSET + initrd.addr);
  ram.set(cmdline, RAM_OFFSET + CMDLINE_ADDR);
  ram.set(zeroPage, RAM_OFFSET + ZERO_PAGE_ADDR);
  ram.set(bootData.bytes, RAM_OFFSET + BOOT_GDT_ADDR);

  // The start states clear the CPU's decoded-code caches, so stale code in RAM is forgotten too.
  const rsi = BigInt(ZERO_PAGE_ADDR);
  const entryPoint = protocol === 64 ? KERNEL_LOAD_ADDR + ENTRY_64_OFFSET : KERNEL_LOAD_ADDR;
  if (protocol === 64) {
    startLongMode(cpu, BigInt(entryPoint), BOOT_PML4_ADDR, BOOT_GDT_ADDR, BOOT_GDT_LIMIT, { rsi });
  } else {
    startProtectedMode(cpu, entryPoint, BOOT_GDT_ADDR, BOOT_GDT_LIMIT, { rsi });
  }

  return {
    protocol,
    image,
    entryPoint,
    kernel,
    kernelRuntime,
    initrd,
    cmdline: { addr: CMDLINE_ADDR, size: cmdline.length },
    zeroPage: { addr: ZERO_PAGE_ADDR, size: BOOT_PARAMS_SIZE },
    gdt: { addr: BOOT_GDT_ADDR, size: BOOT_GDT_LIMIT + 1 },
    pageTables:
      bootData.identityMapped === 0
        ? undefined
        : { addr: BOOT_PML4_ADDR, size: bootData.bytes.length - PAGE_SIZE, identityMapped: bootData.identityMapped },
    e820,
  };
}

/**
 * Where the kernel runs (boot.rst, init_size): a relocatable kernel at the load address aligned
 * up to kernel_alignment, but never below its LOAD_PHYSICAL_ADDR (pref_address; see
 * arch/x86/boot/compressed/head_64.S); a fixed one at pref_address.
 */
function runtimeStart(image: BzImage): number {
  if (!image.relocatable) return image.prefAddress;
  const aligned = alignUp(KERNEL_LOAD_ADDR, Math.max(image.kernelAlignment, 1));
  return Math.max(aligned, image.prefAddress);
}

/** The command line as NUL-terminated bytes, checked against the kernel's cmdline_size. */
function encodeCmdline(text: string, image: BzImage): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.includes(0)) throw new KernelLoadError('the kernel command line contains a NUL character');
  const max = Math.min(image.cmdlineSize, CMDLINE_MAX - 1);
  if (bytes.length > max) {
    throw new KernelLoadError(`kernel command line too long: ${bytes.length} bytes, this kernel accepts at most ${max} (cmdline_size)`);
  }
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/**
 * The initrd goes page-aligned as high as possible: below min(initrd_addr_max + 1, RAM top, PCI
 * hole) and above the kernel's run area (`floor`), as boot.rst and other loaders (QEMU) do.
 */
function placeInitrd(initrd: Uint8Array | undefined, image: BzImage, floor: number, lowTop: number): GuestRange | undefined {
  if (initrd === undefined || initrd.length === 0) return undefined;
  const limit = Math.min(image.initrdAddrMax + 1, lowTop);
  const addr = Math.floor((limit - initrd.length) / PAGE_SIZE) * PAGE_SIZE;
  if (addr < floor) {
    throw new KernelLoadError(
      `initrd of ${mib(initrd.length)} does not fit: it must lie between the kernel's end at ${hex(floor)} ` +
        `and ${hex(limit)} (min of initrd_addr_max ${hex(image.initrdAddrMax)}, RAM top and PCI hole), ` +
        `${mib(Math.max(limit - floor, 0))} free; give the VM more RAM`,
    );
  }
  return { addr, size: initrd.length };
}

/**
 * The boot GDT page and, for the 64-bit entry, the identity page tables that follow it: one
 * contiguous block written at BOOT_GDT_ADDR. `ramTop` is the end of the highest RAM range.
 */
function buildBootData(protocol: 64 | 32, ramTop: number): { bytes: Uint8Array; identityMapped: number } {
  const pdCount = protocol === 64 ? Math.ceil(ramTop / GIB) : 0;
  if (pdCount > BOOT_PD_MAX) {
    throw new KernelLoadError(
      `RAM up to ${hex(ramTop)} needs ${pdCount} boot page directories; only ${BOOT_PD_MAX} (${BOOT_PD_MAX} GiB) fit below the ACPI tables`,
    );
  }
  const pages = protocol === 64 ? 3 + pdCount : 1;
  const bytes = new Uint8Array(pages * PAGE_SIZE);
  const view = new DataView(bytes.buffer);
  const entry = (at: number, lo: number, hi: number) => {
    view.setUint32(at, lo >>> 0, true);
    view.setUint32(at + 4, hi >>> 0, true);
  };
  entry(BOOT_CS, GDT_LOW_FLAT, protocol === 64 ? GDT_HIGH_CODE64 : GDT_HIGH_CODE32);
  entry(BOOT_DS, GDT_LOW_FLAT, GDT_HIGH_DATA);
  if (protocol === 32) return { bytes, identityMapped: 0 };

  // Offsets in `bytes` of each table (the block starts at BOOT_GDT_ADDR).
  const pml4 = BOOT_PML4_ADDR - BOOT_GDT_ADDR;
  const pdpt = BOOT_PDPT_ADDR - BOOT_GDT_ADDR;
  const pd = BOOT_PD_ADDR - BOOT_GDT_ADDR;
  entry(pml4, BOOT_PDPT_ADDR | PTE_PRESENT | PTE_RW, 0); // PML4[0]: the first 512 GiB
  for (let g = 0; g < pdCount; g++) {
    entry(pdpt + g * 8, (BOOT_PD_ADDR + g * PAGE_SIZE) | PTE_PRESENT | PTE_RW, 0);
    for (let i = 0; i < 512; i++) {
      const phys = g * GIB + i * LARGE_PAGE_SIZE;
      entry(pd + g * PAGE_SIZE + i * 8, (phys % 0x1_0000_0000) | PTE_PRESENT | PTE_RW | PTE_PS, Math.floor(phys / 0x1_0000_0000));
    }
  }
  return { bytes, identityMapped: pdCount * GIB };
}

/** Log lines describing a placement ("kernel: [mem 0x100000-0x3cdfff] ..."). */
export function describeBootPlacement(p: BootPlacement): string[] {
  const range = (r: GuestRange) => `[mem ${hex(r.addr)}-${hex(r.addr + r.size - 1)}]`;
  const lines = [
    `entry: ${p.protocol}-bit boot protocol at ${hex(p.entryPoint)}, zero page ${hex(p.zeroPage.addr)} in ${p.protocol === 64 ? 'RSI' : 'ESI'}`,
    `kernel: ${range(p.kernel)} boot protocol ${p.image.protocolText}, runs in ${range(p.kernelRuntime)}`,
    `initrd: ${p.initrd === undefined ? 'none' : `${range(p.initrd)} ${p.initrd.size} bytes`}`,
    `cmdline: ${range(p.cmdline)}`,
    `gdt: ${range(p.gdt)}`,
  ];
  if (p.pageTables !== undefined) {
    lines.push(`page tables: ${range(p.pageTables)} identity-map ${hex(0)}-${hex(p.pageTables.identityMapped - 1)} with 2 MiB pages`);
  }
  return lines;
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function mib(bytes: number): string {
  const m = bytes / 0x10_0000;
  return `${Number.isInteger(m) ? m : m.toFixed(1)} MiB`;
}
