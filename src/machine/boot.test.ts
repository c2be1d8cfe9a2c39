import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { initrdWithTests } from '../../guest/test-initrd.ts';
import { startLocalVm, type LocalVm } from '../api/local.ts';
import { FEATURES } from '../emu/x86/cpuid.ts';

// The default guest on the virt machine, in this process: boot to the shell, then check what
// the issue asks of the machine from inside Linux.

const kernel = new Uint8Array(readFileSync(new URL('../../public/kernels/bzImage', import.meta.url)));
const BOOT_TIMEOUT = 180_000;

describe('the default guest boots on the virt machine (64-bit entry)', () => {
  let local: LocalVm;
  beforeAll(async () => {
    local = startLocalVm({ kernel, initrd: initrdWithTests() });
    await local.vm.waitFor('virtlite: boot complete, shell ready', { timeoutMs: BOOT_TIMEOUT });
  }, BOOT_TIMEOUT + 5000);
  afterAll(() => local?.vm.stop());

  const sh = async (command: string) => {
    const r = await local.vm.exec(command, { timeoutMs: 60_000 });
    expect(r.exitCode, `${command}\n${r.stdout}`).toBe(0);
    return r.stdout;
  };

  it('is an x86_64 Linux', async () => {
    expect((await sh('uname -m')).trim()).toBe('x86_64');
  });

  it('shows exactly the advertised CPU features in /proc/cpuinfo', async () => {
    const flags = new Set(/^flags\s*:(.*)$/m.exec(await sh('cat /proc/cpuinfo'))![1]!.trim().split(/\s+/));
    // The default guest kernel has no CONFIG_X86_PAT (it needs MTRRs, which are not emulated),
    // so Linux clears the PAT bit itself.
    const clearedByGuest = new Set(['pat']);
    const linuxName = (name: string) => (name === 'sse3' ? 'pni' : name); // Linux's name for SSE3
    for (const f of FEATURES) {
      if (f.implemented && !clearedByGuest.has(f.name)) expect(flags, f.name).toContain(linuxName(f.name));
      if (!f.implemented) expect(flags, f.name).not.toContain(linuxName(f.name));
    }
    for (const absent of ['avx', 'avx2', 'bmi1', 'xsave', 'x2apic', 'mtrr', 'mce', 'rdrand']) expect(flags).not.toContain(absent);
    expect(flags).toContain('arat'); // leaf 6: the APIC timer always runs (so NO_HZ can stop the tick)
  });

  it('found the ACPI tables, the HPET, kvm-clock and the serial port on IRQ 4 through the IOAPIC', async () => {
    const dmesg = await sh('dmesg');
    for (const table of ['RSDP', 'XSDT', 'FACP', 'DSDT', 'APIC', 'HPET', 'MCFG']) expect(dmesg).toMatch(new RegExp(`ACPI: ${table} 0x`));
    // Linux finds the HPET through ACPI; on a HW-reduced ACPI platform it does not start its
    // legacy timers (acpi_generic_reduced_hw_init), so the LAPIC TSC deadline and kvm-clock
    // are its timers.
    expect(dmesg).toMatch(/ACPI: HPET id: 0x8086a201 base: 0xfed00000/);
    expect(dmesg).toContain('TSC deadline timer available');
    expect(dmesg).toMatch(/PCI: Using host bridge windows from ACPI|PCI host bridge to bus 0000:00/);
    expect(dmesg).toMatch(/clocksource: Switched to clocksource kvm-clock/);
    // Linux numbers IRQs dynamically on a HW-reduced machine (QEMU microvm: the same): the
    // serial port's line is IOAPIC pin 4, edge-triggered.
    expect(dmesg).toMatch(/ttyS0 at I\/O 0x3f8 \(irq = \d+, base_baud = \d+\) is a 16550A/);
    expect(await sh('cat /sys/devices/system/clocksource/clocksource0/current_clocksource')).toContain('kvm-clock');
    expect(await sh('cat /proc/interrupts')).toMatch(/^\s*\d+:\s+[1-9]\d*\s+IO-APIC\s+4-edge\s+ttyS0/m);
  });

  it("knows the host's date (kvmclock wall clock)", async () => {
    const guest = Number((await sh('date +%s')).trim());
    expect(Math.abs(guest - Date.now() / 1000)).toBeLessThan(120);
  });

  it('runs a static glibc program that uses the SSE2 string functions', async () => {
    expect(await sh('/bin/libc-test')).toMatch(/libc-test: ok \d+ checks/);
  });

  it('idles without spinning: a halted guest runs almost no instructions', async () => {
    const before = local.machine.instructions;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    // An idle Linux wakes for its timer only (NO_HZ idle, TSC-deadline timer): a busy loop
    // would run tens of millions of instructions in this time.
    expect(local.machine.instructions - before).toBeLessThan(3_000_000);
    expect(local.runner.stats().idle).toBe(true);
    // The idle tick is stopped (NO_HZ): the kernel switched to nohz mode.
    expect(await sh('grep nohz_mode /proc/timer_list')).toMatch(/nohz_mode\s*:\s*[12]/);
  });

  it('powers off', async () => {
    await local.vm.poweroff();
    expect((await local.finished).type).toBe('poweroff');
  });
});

describe('the 32-bit boot protocol entry, reboot and deterministic time', () => {
  it('boots to the shell, reboots through the ACPI reset register, boots again and powers off', async () => {
    const local = startLocalVm({ kernel, initrd: initrdWithTests(), bootProtocol: 32 });
    try {
      const first = await local.vm.waitFor('virtlite: boot complete, shell ready', { timeoutMs: BOOT_TIMEOUT });
      expect((await local.vm.exec('uname -m')).stdout.trim()).toBe('x86_64');
      local.vm.write('reboot\n');
      await local.vm.waitFor('virtlite: boot complete, shell ready', { from: first, timeoutMs: BOOT_TIMEOUT });
      expect(local.machine.resets).toBe(1);
      expect(local.vm.output.slice(first)).toContain('reboot: Restarting system');
      await local.vm.poweroff();
    } finally {
      local.vm.stop();
    }
  }, 2 * BOOT_TIMEOUT);

  it('replays a deterministic boot exactly: the same console output, timestamps included', async () => {
    const boot = async () => {
      const local = startLocalVm({ kernel, initrd: initrdWithTests(), deterministic: true });
      try {
        const end = await local.vm.waitFor('virtlite: boot complete, shell ready', { timeoutMs: BOOT_TIMEOUT });
        return { log: local.vm.output.slice(0, end), instructions: local.machine.instructions };
      } finally {
        local.vm.stop();
      }
    };
    const a = await boot();
    const b = await boot();
    expect(a.log).toMatch(/\[\s+\d+\.\d{6}\] Run \/init as init process/);
    expect(b.log).toBe(a.log);
  }, 2 * BOOT_TIMEOUT);
});
