/**
 * Boot stages as the page shows them, inferred honestly from what the machine reports: the
 * downloads, the machine's own log (kernel placed in RAM) and milestones the kernel and the
 * default guest print on the console. A stage is the last milestone *seen*, never an estimate;
 * a guest that prints nothing (e.g. `quiet` on the command line) stays at "kernel loaded" until
 * its shell marker appears.
 *
 * Milestones (Linux 6.1 console messages, see docs/reference-boot.log):
 *   "Linux version"               the decompressed kernel runs and printk works
 *   "ACPI: Interpreter enabled"   the kernel parsed the DSDT and probes devices
 *   "Run /init as init process"   userspace starts
 *   the boot marker               the default guest's shell is ready (src/api/vm.ts)
 *
 * Not supported: stages of guests other than Linux; progress inside a stage.
 */
import { DEFAULT_BOOT_MARKER } from '../api/vm.ts';

export type BootStageId = 'download' | 'load' | 'kernel' | 'devices' | 'userspace' | 'shell';

export interface BootStage {
  readonly id: BootStageId;
  /** What the page shows while this is the latest stage. */
  readonly label: string;
  /** Console text that marks it (absent: set by the page from events). */
  readonly pattern?: string;
}

/** Console stages in order; `index` of a stage is its progress value. */
export function bootStages(marker: string = DEFAULT_BOOT_MARKER): readonly BootStage[] {
  return [
    { id: 'download', label: 'downloading the images' },
    { id: 'load', label: 'kernel loaded into guest RAM, starting' },
    { id: 'kernel', label: 'Linux kernel running', pattern: 'Linux version' },
    { id: 'devices', label: 'kernel probing devices', pattern: 'ACPI: Interpreter enabled' },
    { id: 'userspace', label: 'starting userspace (/init)', pattern: 'Run /init as init process' },
    { id: 'shell', label: 'shell ready', pattern: marker },
  ];
}

/** The log line the machine prints when it boots again (src/machine/machine.ts reset()). */
export const MACHINE_RESET_LINE = 'machine reset: booting again';

export class BootStageTracker {
  readonly stages: readonly BootStage[];
  private current = 0;
  /** The end of the text seen so far, long enough for a pattern split across chunks. */
  private tail = '';
  private readonly keep: number;

  constructor(marker?: string, private readonly onChange?: (stage: BootStage, index: number) => void) {
    this.stages = bootStages(marker);
    this.keep = Math.max(...this.stages.map((s) => s.pattern?.length ?? 0));
  }

  get index(): number {
    return this.current;
  }

  get stage(): BootStage {
    return this.stages[this.current]!;
  }

  private set(index: number): void {
    if (index === this.current) return;
    this.current = index;
    this.onChange?.(this.stage, index);
  }

  /** Images are downloading (a new boot). */
  downloading(): void {
    this.tail = '';
    this.set(0);
  }

  /** The machine exists: the kernel sits in guest RAM. Also after a machine reset. */
  loaded(): void {
    this.tail = '';
    this.set(1);
  }

  /** A machine log line; a reset starts the console stages over. */
  log(line: string): void {
    if (line === MACHINE_RESET_LINE) this.loaded();
  }

  /** Console text, in order; advances to the furthest milestone it contains. */
  console(text: string): void {
    const window = this.tail + text;
    let next = this.current;
    for (let i = this.current + 1; i < this.stages.length; i++) {
      const pattern = this.stages[i]!.pattern;
      if (pattern !== undefined && window.includes(pattern)) next = i;
    }
    this.tail = window.slice(-(this.keep - 1));
    this.set(next);
  }
}
