/**
 * A VM whose machine runs in this thread (Node, or inside the Web Worker itself): a Machine
 * driven by a MachineRunner, seen through the Vm API (./vm.ts).
 */
import { Machine, type MachineConfig } from '../machine/machine.ts';
import { MachineRunner } from '../machine/runner.ts';
import { Vm, type TransportEvent, type VmOptions, type VmTransport } from './vm.ts';

export type LocalVmConfig = Omit<MachineConfig, 'serialOutput'> & VmOptions;

/** A running VM and the machine behind it. */
export interface LocalVm {
  readonly vm: Vm;
  readonly machine: Machine;
  readonly runner: MachineRunner;
  /** Resolves when the runner stops (poweroff, error or stop()). */
  readonly finished: Promise<TransportEvent | { type: 'stopped' }>;
}

/** Creates the machine (throws BzImageError/KernelLoadError/MachineConfigError) and starts it. */
export function startLocalVm(config: LocalVmConfig): LocalVm {
  const listeners: ((e: TransportEvent) => void)[] = [];
  const send = (e: TransportEvent) => {
    for (const l of listeners) l(e);
  };
  const machine = new Machine({ ...config, serialOutput: (data) => send({ type: 'serial', data }) });
  const runner = new MachineRunner(machine);
  const transport: VmTransport = {
    write: (bytes) => runner.sendInput(bytes),
    subscribe: (l) => void listeners.push(l),
    stop: () => runner.stop(),
  };
  const vm = new Vm(transport, config);
  const finished = runner.start().then((e) => {
    if (e.type === 'poweroff' || e.type === 'error') send(e);
    return e;
  });
  return { vm, machine, runner, finished };
}
