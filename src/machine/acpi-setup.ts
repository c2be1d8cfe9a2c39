/**
 * Builds the HW-reduced ACPI tables of the virt machine and lays them out in the reserved low
 * area (MACHINE.md "ACPI"; Firecracker's `create_acpi_tables`, QEMU's `acpi-microvm.c`).
 *
 * Layout, from ACPI_TABLES_START (0xE0000), every table 16-byte aligned:
 *
 *   0xE0000  RSDP (36 bytes)  first, so that a scan of 0xE0000-0xFFFFF on 16-byte boundaries
 *                             finds it even without the zero page's acpi_rsdp_addr
 *   then     DSDT, FACP, APIC (MADT), HPET, MCFG, XSDT, RSDT
 *
 * Tables are built in dependency order (DSDT -> FADT -> MADT -> HPET -> MCFG -> XSDT -> RSDP):
 * each is placed as soon as it is built, so that the tables pointing to it know its address;
 * the RSDP's slot is reserved first. The XSDT and the RSDT list FACP, APIC, HPET and MCFG; the
 * FADT points to the DSDT. Every address and interrupt comes from layout.ts.
 *
 * The result is position-dependent but deterministic: the same options give the same bytes
 * (src/acpi/__golden__ keeps them).
 *
 * Not supported: tables that do not fit below LOW_RESERVED_END (about 128 KiB: many hundreds of
 * CPUs), a FACS, SSDTs, table placement above 1 MiB.
 */
import { buildDsdt } from '../acpi/dsdt.ts';
import { buildFadt } from '../acpi/fadt.ts';
import { buildHpet, type HpetCapabilities } from '../acpi/hpet.ts';
import {
  MPS_INTI_POLARITY_ACTIVE_HIGH,
  MPS_INTI_TRIGGER_EDGE,
  buildMadt,
} from '../acpi/madt.ts';
import { buildMcfg } from '../acpi/mcfg.ts';
import { RSDP_SIZE, buildRsdp } from '../acpi/rsdp.ts';
import { ioPort8 } from '../acpi/sdt.ts';
import { buildRsdt, buildXsdt } from '../acpi/xsdt.ts';
import {
  ACPI_RESET_PORT,
  ACPI_RESET_VALUE,
  ACPI_SLEEP_CONTROL_PORT,
  ACPI_SLEEP_STATUS_PORT,
  ACPI_SLP_TYP_S5,
  ACPI_TABLES_START,
  COM1_GSI,
  COM1_PORT,
  COM1_PORT_COUNT,
  HPET_ADDR,
  IOAPIC_ADDR,
  IOAPIC_ID,
  IRQ0_OVERRIDE_GSI,
  LAPIC_ADDR,
  LOW_RESERVED_END,
  PCIE_ECAM_SIZE,
  PCIE_ECAM_START,
  PCI_INTX_GSI_BASE,
  PCI_MMIO_SIZE,
  PCI_MMIO_START,
} from './layout.ts';

/** Every table starts on a 16-byte boundary (the RSDP scan step; 8 would satisfy the rest). */
export const ACPI_TABLE_ALIGN = 16;

/** ECAM decodes 1 MiB of configuration space per bus. */
const ECAM_BYTES_PER_BUS = 1 << 20;

/**
 * The HPET block the machine provides, as the HPET table announces it: 3 timers, a 64-bit main
 * counter, legacy replacement routing, Intel's vendor id (as QEMU's HPET). The HPET device's
 * General Capabilities and ID register (bits 31:0) must say the same.
 */
export const VIRT_HPET_CAPABILITIES: HpetCapabilities = {
  vendorId: 0x8086,
  timers: 3,
  counter64: true,
  legacyReplacement: true,
  revisionId: 1,
};
/** Minimum periodic tick in main counter ticks (the value common on PC chipsets). */
export const VIRT_HPET_MIN_TICK = 0x80;

/** Written to the FADT Hypervisor Vendor Identity. */
export const HYPERVISOR_VENDOR = 'virtlite';

/** One table of the layout. The RSDP is listed with the signature "RSDP". */
export interface AcpiTable {
  readonly signature: string;
  readonly addr: number;
  readonly bytes: Uint8Array;
}

export interface AcpiLayout {
  /** Guest-physical address of `bytes[0]` (= ACPI_TABLES_START). */
  readonly base: number;
  /** The whole area to copy to guest RAM at `base`; gaps between tables are zero. */
  readonly bytes: Uint8Array;
  /** Where the RSDP is: the zero page's acpi_rsdp_addr. */
  readonly rsdpAddr: number;
  /** Every table, in address order. */
  readonly tables: readonly AcpiTable[];
}

export interface AcpiOptions {
  /** Guest RAM in bytes: must cover the ACPI area (at least 1 MiB). */
  readonly ramSize: number;
  /** Number of CPUs (default 1): one MADT Local APIC entry and one processor device each. */
  readonly cpus?: number;
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

/** Builds every table and places it in the ACPI area. */
export function buildAcpi(options: AcpiOptions): AcpiLayout {
  const cpus = options.cpus ?? 1;
  if (!Number.isSafeInteger(options.ramSize) || options.ramSize < LOW_RESERVED_END) {
    throw new RangeError(`RAM size ${options.ramSize} does not cover the ACPI tables below 1 MiB`);
  }
  const tables: AcpiTable[] = [];
  const rsdpAddr = ACPI_TABLES_START;
  let cursor = alignUp(rsdpAddr + RSDP_SIZE, ACPI_TABLE_ALIGN);
  const place = (bytes: Uint8Array): number => {
    const addr = cursor;
    tables.push({ signature: String.fromCharCode(...bytes.subarray(0, 4)), addr, bytes });
    cursor = alignUp(addr + bytes.length, ACPI_TABLE_ALIGN);
    return addr;
  };

  const dsdtAddr = place(
    buildDsdt({
      cpus,
      pci: {
        segment: 0,
        busStart: 0,
        busEnd: PCIE_ECAM_SIZE / ECAM_BYTES_PER_BUS - 1,
        mmioStart: PCI_MMIO_START,
        mmioSize: PCI_MMIO_SIZE,
        ecamStart: PCIE_ECAM_START,
        ecamSize: PCIE_ECAM_SIZE,
        intxGsiBase: PCI_INTX_GSI_BASE,
      },
      serial: [{ name: 'COM1', uid: 0, port: COM1_PORT, portCount: COM1_PORT_COUNT, gsi: COM1_GSI }],
      s5SleepType: ACPI_SLP_TYP_S5,
    }),
  );
  const fadtAddr = place(
    buildFadt({
      dsdtAddr,
      resetReg: ioPort8(ACPI_RESET_PORT),
      resetValue: ACPI_RESET_VALUE,
      sleepControlReg: ioPort8(ACPI_SLEEP_CONTROL_PORT),
      sleepStatusReg: ioPort8(ACPI_SLEEP_STATUS_PORT),
      hypervisorVendor: HYPERVISOR_VENDOR,
    }),
  );
  const madtAddr = place(
    buildMadt({
      lapicAddr: LAPIC_ADDR,
      cpus,
      ioApic: { id: IOAPIC_ID, address: IOAPIC_ADDR, gsiBase: 0 },
      // ISA IRQ 0 (the timer) arrives on pin 2, as on every PC since the IOAPIC.
      overrides: [{ source: 0, gsi: IRQ0_OVERRIDE_GSI, flags: MPS_INTI_POLARITY_ACTIVE_HIGH | MPS_INTI_TRIGGER_EDGE }],
      // LINT1 of every CPU is the NMI input (Linux programs LVT1 as NMI on the BSP regardless).
      lapicNmi: { lint: 1, flags: MPS_INTI_POLARITY_ACTIVE_HIGH | MPS_INTI_TRIGGER_EDGE },
    }),
  );
  const hpetAddr = place(
    buildHpet({ address: HPET_ADDR, capabilities: VIRT_HPET_CAPABILITIES, minimumTick: VIRT_HPET_MIN_TICK }),
  );
  const mcfgAddr = place(
    buildMcfg([{ base: PCIE_ECAM_START, segment: 0, startBus: 0, endBus: PCIE_ECAM_SIZE / ECAM_BYTES_PER_BUS - 1 }]),
  );
  const described = [fadtAddr, madtAddr, hpetAddr, mcfgAddr];
  const xsdtAddr = place(buildXsdt(described));
  const rsdtAddr = place(buildRsdt(described));
  const rsdp = buildRsdp({ rsdtAddr, xsdtAddr });
  tables.unshift({ signature: 'RSDP', addr: rsdpAddr, bytes: rsdp });

  const last = tables[tables.length - 1]!;
  const end = last.addr + last.bytes.length;
  if (end > LOW_RESERVED_END) throw new RangeError(`ACPI tables end at ${end.toString(16)}, beyond the reserved low area`);
  const bytes = new Uint8Array(end - ACPI_TABLES_START);
  for (const t of tables) bytes.set(t.bytes, t.addr - ACPI_TABLES_START);
  return { base: ACPI_TABLES_START, bytes, rsdpAddr, tables };
}
