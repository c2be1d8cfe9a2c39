/**
 * The virtlite "virt" machine, assembled in one readable place (shared/MACHINE.md; STYLE.md
 * point 1, as QEMU's microvm.c and Firecracker's builder do it): one x86-64 CPU, guest RAM in
 * the CPU's WebAssembly.Memory, an I/O port bus and an MMIO bus, and the devices:
 *
 *   ports 0x3F8-0x3FF  16550A UART (COM1) ──▶ IOAPIC pin 4 (edge)
 *   ports 0x600-0x602  ACPI sleep control/status and reset registers
 *   0xC0000000         PCI BAR window          0xE0000000  PCIe ECAM (host bridge at 00:00.0)
 *   0xFEC00000         IOAPIC ──messages──▶ LAPIC ◀── MSI writes
 *   0xFED00000         HPET (IOAPIC pins 2/8 in legacy mode, 20-23 otherwise)
 *   0xFEE00000         LAPIC ──▶ CPU (maskable interrupts, NMI), timer and TSC deadline
 *   MSRs 0x4b564d00/01 kvmclock (wall clock and pvclock system time)
 *   0xC0000000 + ...   virtio-blk disks at 00:01.0, 00:02.0, ..., then virtio-net NICs
 *                      (./pci-devices.ts): MSI-X to the LAPIC, or INTx through the IOAPIC
 *                      (GSI 16-19, _PRT swizzle)
 *
 * Interrupt routing: devices drive IOAPIC pins (levels); the IOAPIC sends messages to the LAPIC;
 * the LAPIC raises the CPU's attention word; a level-triggered EOI goes back to the IOAPIC.
 *
 * Time: one clock (./clock.ts). The TSC, the LAPIC timer, the HPET and kvmclock all read it;
 * timers fire between CPU slices. By default guest time follows host time; `deterministic`
 * makes it follow the instruction count. The TSC runs at 1 GHz (1 tick = 1 ns of guest time).
 *
 * `run()` executes guest code for a bounded slice of host time and says what the caller should
 * do next (run again, sleep until a deadline, stop). The Node CLI and the Web Worker drive it
 * the same way; an idle guest (HLT with nothing pending) makes the driver sleep. Frames that
 * NICs received are moved into the guest's receive buffers between CPU slices; a frame for a
 * sleeping guest calls `onWake` (the runner's poke).
 *
 * Not supported: SMP (one CPU), RAM above 3 GiB (the PCI hole; a WebAssembly memory holds at
 * most 4 GiB), PCI devices other than the host bridge, virtio-blk and virtio-net, suspend (S3).
 */
import { Cpu, STOP_HALT, STOP_INTERNAL_ERROR, STOP_SHUTDOWN } from '../emu/x86/cpu.ts';
import { IF } from '../emu/x86/flags.ts';
import { ATTENTION, RAM_OFFSET } from '../emu/state-layout.ts';
import { guestTsc } from '../emu/x86/ops/system.ts';
import { AcpiPower } from '../devices/acpi-power.ts';
import { Bus, asIoBus, asPhysBus } from '../devices/bus.ts';
import type { GuestMemory } from '../devices/device.ts';
import { HPET_REGISTER_BLOCK_SIZE, Hpet } from '../devices/hpet.ts';
import { Ioapic } from '../devices/ioapic.ts';
import { KvmClock } from '../devices/kvmclock.ts';
import { Lapic, MSR_IA32_TSC_DEADLINE } from '../devices/lapic.ts';
import { decodeMsi } from '../devices/msi.ts';
import { PciEcam } from '../devices/pci/ecam.ts';
import { createHostBridge } from '../devices/pci/host-bridge.ts';
import { PciMmioWindow } from '../devices/pci/mmio-window.ts';
import { Uart16550 } from '../devices/uart16550.ts';
import { buildAcpi } from './acpi-setup.ts';
import { DeterministicClock, HostClock, type TimerQueue } from './clock.ts';
import {
  ACPI_SLEEP_CONTROL_PORT, COM1_GSI, COM1_PORT, COM1_PORT_COUNT, DEFAULT_RAM_SIZE, HPET_ADDR, IOAPIC_ADDR,
  IOAPIC_SIZE, LAPIC_ADDR, LAPIC_SIZE, PCI_MMIO_SIZE, PCI_MMIO_START, PCIE_ECAM_SIZE, PCIE_ECAM_START,
} from './layout.ts';
import { describeBootPlacement, loadKernel } from './loader.ts';
import { attachPciDevices, openDisks, openNics, type DiskConfig, type NicConfig, type OpenDisk, type OpenNic } from './pci-devices.ts';
import { NET_RX_QUEUE, VirtioNet } from '../devices/virtio/virtio-net.ts';
import type { VirtioPci } from '../devices/virtio/virtio-pci.ts';

/** KVM paravirtual clock MSRs (Linux Documentation/virt/kvm/x86/msr.rst). */
const MSR_KVM_WALL_CLOCK_NEW = 0x4b56_4d00;
const MSR_KVM_SYSTEM_TIME_NEW = 0x4b56_4d01;
const MSR_IA32_APIC_BASE = 0x1b;
const MSR_TSC = 0x10;

/** The most RAM a machine can have: everything below the PCI hole. */
export const MAX_RAM_SIZE = PCI_MMIO_START;
/** The least RAM that holds the low-memory layout and a kernel. */
export const MIN_RAM_SIZE = 16 * 1024 * 1024;

/** Instructions per CPU slice: timers and devices are serviced between slices. */
const SLICE_INSTRUCTIONS = 20_000;

export interface MachineConfig {
  /** bzImage bytes. */
  kernel: Uint8Array;
  /** initramfs bytes (optional). */
  initrd?: Uint8Array;
  /** Kernel command line. */
  cmdline?: string;
  /** Guest RAM in bytes (default 256 MiB; MIN_RAM_SIZE to MAX_RAM_SIZE, whole MiB). */
  ramSize?: number;
  /** Kernel entry: the 64-bit boot protocol (default) or the 32-bit one. */
  bootProtocol?: 64 | 32;
  /** Guest time follows the instruction count (reproducible runs). */
  deterministic?: boolean;
  /** Bytes the guest wrote to the serial console. */
  serialOutput: (chunk: Uint8Array) => void;
  /** Progress and diagnostics, one line each (boot stages, resets, errors). */
  log?: (line: string) => void;
  /** virtio-blk disks, at 00:01.0, 00:02.0, ... (the guest's vda, vdb, ...). */
  disks?: DiskConfig[];
  /** virtio-net cards, after the disks (the guest's eth0, eth1, ...). */
  nics?: NicConfig[];
}

/** What the driver should do after run(). */
export type RunResult =
  /** The guest is busy: call run() again soon (yield to the event loop first). */
  | { readonly kind: 'running' }
  /** The guest is idle until `wakeInMs` (Infinity: until input arrives). */
  | { readonly kind: 'idle'; readonly wakeInMs: number }
  /** The guest powered off (ACPI S5). */
  | { readonly kind: 'poweroff' }
  /** The emulator failed (an internal error); the message says what happened. */
  | { readonly kind: 'error'; readonly message: string };

export class MachineConfigError extends Error {
  override name = 'MachineConfigError';
}

/**
 * Default kernel command line: the serial console. No earlyprintk: the early console raises
 * RTS long before a process opens the port, and the driver's FIFO resets would then drop input
 * typed (or piped) ahead; the kernel replays its early messages when the console registers.
 */
export const DEFAULT_CMDLINE = 'console=ttyS0 panic=-1';

export class Machine {
  readonly ramSize: number;
  readonly memory: WebAssembly.Memory;
  /** The devices and the CPU of the current boot (rebuilt by reset()). */
  cpu!: Cpu;
  clock!: TimerQueue;
  uart!: Uart16550;
  lapic!: Lapic;
  ioapic!: Ioapic;
  hpet!: Hpet;
  kvmclock!: KvmClock;
  power!: AcpiPower;
  ecam!: PciEcam;
  /** The disks (with their copy-on-write overlays); they persist across resets. */
  readonly disks: OpenDisk[];
  /** The NICs (backend and MAC); they persist across resets. */
  readonly nics: OpenNic[];
  /** The virtio PCI devices of the current boot. */
  virtio: VirtioPci[] = [];
  /** The virtio-net transports of the current boot. */
  private nets: VirtioPci[] = [];
  /**
   * Called when a device has work for a sleeping guest (an asynchronous disk request completed,
   * a NIC received a frame): the driver should run() soon. MachineRunner sets it to its poke().
   */
  onWake: (() => void) | undefined;
  /** Set by the ACPI sleep register (S5). */
  poweredOff = false;
  /** Instructions run by earlier boots (before resets). */
  private instructionBase = 0;
  private resetRequested = false;
  /** Why the last internal error happened. */
  private failure: string | undefined;
  /** How many times the machine was reset. */
  resets = 0;

  constructor(private readonly config: MachineConfig) {
    const ramSize = config.ramSize ?? DEFAULT_RAM_SIZE;
    if (!Number.isSafeInteger(ramSize) || ramSize < MIN_RAM_SIZE || ramSize > MAX_RAM_SIZE || ramSize % (1 << 20) !== 0) {
      throw new MachineConfigError(`RAM size must be a whole number of MiB from ${MIN_RAM_SIZE / 2 ** 20} to ${MAX_RAM_SIZE / 2 ** 20}`);
    }
    this.ramSize = ramSize;
    const pages = Math.ceil((RAM_OFFSET + ramSize) / 65536);
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    this.disks = openDisks(config.disks);
    this.nics = openNics(config.nics);
    this.boot();
  }

  private log(line: string): void {
    this.config.log?.(line);
  }

  /** Guest instructions executed since the machine was created (all boots). */
  get instructions(): number {
    return this.instructionBase + this.cpu.instructions;
  }

  /** Builds the devices, loads the kernel and enters it. Throws BzImageError/KernelLoadError. */
  private boot(): void {
    const cfg = this.config;
    // The previous boot's devices are dropped: their asynchronous requests must not complete.
    for (const t of this.virtio) t.model.reset?.();
    // A new WebAssembly.Memory is all zeros: only a reset has anything to clear.
    if (this.resets > 0) new Uint8Array(this.memory.buffer).fill(0);
    const cpu = new Cpu(this.memory, this.ramSize);
    this.cpu = cpu;
    const clock = cfg.deterministic ? new DeterministicClock(() => this.cpu.instructions) : new HostClock();
    this.clock = clock;
    const tsc = () => guestTsc(cpu);
    cpu.tscSource = () => clock.now();
    const memory = this.guestMemory(cpu);

    // Interrupt controllers.
    const lapic = new Lapic({
      clock,
      tsc,
      onPending: () => {
        cpu.i32[ATTENTION >> 2] = 1;
      },
      onEoi: (vector) => this.ioapic.eoi(vector),
      onNmi: () => cpu.nmi(),
    });
    const ioapic = new Ioapic({ deliver: (msg) => lapic.deliver(msg) });
    this.lapic = lapic;
    this.ioapic = ioapic;
    cpu.interrupts = lapic;

    // MSRs kept by devices.
    const kvmclock = new KvmClock({ clock, memory, tsc });
    this.kvmclock = kvmclock;
    cpu.onMsrWrite = (msr, lo, hi) => {
      if (msr === MSR_KVM_SYSTEM_TIME_NEW) kvmclock.writeSystemTime(lo, hi);
      else if (msr === MSR_KVM_WALL_CLOCK_NEW) kvmclock.writeWallClock(lo, hi);
      else if (msr === MSR_TSC) kvmclock.update(); // the TSC moved against guest time
    };
    const split = (v: number): [number, number] => [v % 2 ** 32 | 0, Math.floor(v / 2 ** 32) | 0];
    cpu.msrs = {
      read: (msr) => {
        if (msr === MSR_IA32_TSC_DEADLINE) return split(lapic.readTscDeadline());
        if (msr === MSR_IA32_APIC_BASE) return split(lapic.apicBase);
        return undefined;
      },
      write: (msr, lo, hi) => {
        if (msr === MSR_IA32_TSC_DEADLINE) {
          lapic.writeTscDeadline((hi >>> 0) * 2 ** 32 + (lo >>> 0));
          return true;
        }
        if (msr === MSR_IA32_APIC_BASE) return hi === 0 && lapic.writeApicBase(lo >>> 0);
        return undefined;
      },
    };

    // Buses and devices.
    const ports = new Bus('port');
    const mmio = new Bus('mmio');
    const onError = (device: { name: string }, error: unknown) =>
      this.log(`device ${device.name} failed: ${error instanceof Error ? error.message : String(error)}`);
    ports.onError = onError;
    mmio.onError = onError;
    cpu.io = asIoBus(ports);
    cpu.bus = asPhysBus(mmio);

    const uart = new Uart16550({ irq: ioapic.irqLine(COM1_GSI), clock, output: (chunk) => cfg.serialOutput(chunk) });
    this.uart = uart;
    ports.register(COM1_PORT, COM1_PORT_COUNT, uart);

    const power = new AcpiPower({
      onPowerOff: () => {
        this.poweredOff = true;
      },
      onReset: () => {
        this.resetRequested = true;
      },
    });
    this.power = power;
    ports.register(ACPI_SLEEP_CONTROL_PORT, 3, power);

    const hpet = new Hpet({ clock, setIrq: (gsi, level) => ioapic.setIrq(gsi, level) });
    this.hpet = hpet;

    const ecam = new PciEcam({ gsi: (gsi) => ioapic.irqLine(gsi, true) });
    ecam.attach(0, 0, 0, createHostBridge());
    this.ecam = ecam;
    const window = new PciMmioWindow();
    const msi = (address: number, data: number) => {
      const msg = decodeMsi(address, data);
      if (msg) lapic.deliver(msg);
    };
    // An asynchronous disk request that completes, or a frame a NIC received, wakes a sleeping
    // driver through onWake.
    this.virtio = attachPciDevices({ ecam, window, memory, msi, wake: () => this.onWake?.() }, this.disks, this.nics);
    this.nets = this.virtio.filter((t) => t.model instanceof VirtioNet);

    mmio.register(PCI_MMIO_START, PCI_MMIO_SIZE, window);
    mmio.register(PCIE_ECAM_START, PCIE_ECAM_SIZE, ecam);
    mmio.register(IOAPIC_ADDR, IOAPIC_SIZE, ioapic);
    mmio.register(HPET_ADDR, HPET_REGISTER_BLOCK_SIZE, hpet);
    mmio.register(LAPIC_ADDR, LAPIC_SIZE, lapic);

    // Firmware tables and the kernel.
    const acpi = buildAcpi({ ramSize: this.ramSize });
    memory.slice(acpi.base, acpi.bytes.length)!.set(acpi.bytes);
    this.log(`ACPI: ${acpi.tables.map((t) => `${t.signature}@0x${t.addr.toString(16)}`).join(' ')}`);
    const placement = loadKernel(cpu, {
      kernel: cfg.kernel,
      initrd: cfg.initrd,
      cmdline: cfg.cmdline ?? DEFAULT_CMDLINE,
      rsdpAddr: acpi.rsdpAddr,
      protocol: cfg.bootProtocol ?? 64,
    });
    for (const line of describeBootPlacement(placement)) this.log(line);
  }

  /** Guest RAM as devices see it. */
  private guestMemory(cpu: Cpu): GuestMemory {
    const size = this.ramSize;
    return {
      size,
      slice: (addr, length) =>
        Number.isSafeInteger(addr) && Number.isSafeInteger(length) && addr >= 0 && length >= 0 && addr + length <= size
          ? cpu.u8.subarray(RAM_OFFSET + addr, RAM_OFFSET + addr + length)
          : undefined,
      written: (addr, length) => {
        for (let page = Math.floor(addr / 4096); page <= Math.floor((addr + length - 1) / 4096); page++) cpu.codeWritten(page);
      },
    };
  }

  /**
   * Moves frames the NICs received into the guest's receive buffers; true if any buffer was
   * used. Frames that find no buffer (no driver, a full ring) wait without keeping an idle
   * guest's machine spinning: only a used buffer counts as work.
   */
  private pollNics(): boolean {
    let any = false;
    for (const t of this.nets) {
      const net = t.model as VirtioNet;
      if (!net.hasPendingRx) continue;
      const before = net.stats.rxFrames + net.stats.rxErrors;
      t.notify(NET_RX_QUEUE);
      if (net.stats.rxFrames + net.stats.rxErrors !== before) any = true;
    }
    return any;
  }

  /** Queues bytes for the guest's serial console (nothing is dropped). */
  sendInput(bytes: Uint8Array): void {
    this.uart.enqueueInput(bytes);
  }

  /** Resets the machine (the ACPI reset register, a triple fault): everything boots again. */
  reset(): void {
    this.instructionBase += this.cpu.instructions;
    this.resetRequested = false;
    this.poweredOff = false;
    this.resets++;
    this.log('machine reset: booting again');
    this.boot();
  }

  /**
   * Runs the guest for about `sliceMs` milliseconds of host time (less if it goes idle or
   * stops). Never throws for anything the guest does.
   */
  run(sliceMs = 10): RunResult {
    if (this.failure !== undefined) return { kind: 'error', message: this.failure };
    const until = performance.now() + sliceMs;
    for (;;) {
      if (this.poweredOff) return { kind: 'poweroff' };
      const clock = this.clock;
      clock.runDue();
      this.pollNics();
      const stop = this.cpu.run(SLICE_INSTRUCTIONS);
      this.uart.flushOutput();
      if (this.poweredOff) return { kind: 'poweroff' };
      if (this.resetRequested) {
        this.reset();
        continue;
      }
      if (stop === STOP_SHUTDOWN) {
        this.log('triple fault: the guest reset the machine');
        this.reset();
        continue;
      }
      if (stop === STOP_INTERNAL_ERROR) {
        const err = this.cpu.internalError;
        this.failure = `emulator error at RIP 0x${this.cpu.rip.toString(16)}: ${err?.message ?? 'unknown'}`;
        this.log(this.failure);
        if (err?.stack) this.log(err.stack);
        return { kind: 'error', message: this.failure };
      }
      if (stop === STOP_HALT) {
        // Idle: fire what is due; if that woke the CPU, go on, else sleep until the next timer.
        const cpu = this.cpu;
        const delivered = this.pollNics();
        if (clock.runDue() > 0 || delivered || cpu.nmiPending || ((cpu.getFlags() & IF) !== 0 && this.lapic.hasInterrupt())) continue;
        const next = clock.nextDeadline();
        const wakeInMs = next === Infinity ? Infinity : Math.max(0, (next - clock.now()) / 1e6);
        // Deterministic time jumps to the deadline (the guest sees no difference between
        // sleeping and skipping), and the host still sleeps the idle period, as QEMU's
        // icount does with sleep=on: an idle deterministic guest does not spin the host.
        if (clock instanceof DeterministicClock && next !== Infinity) clock.skipTo(next);
        return { kind: 'idle', wakeInMs };
      }
      if (performance.now() >= until) return { kind: 'running' };
    }
  }
}
