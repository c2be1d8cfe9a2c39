/**
 * Script of embed.html, the documentation example: two `<virtlite-vm>` elements boot side by
 * side (each in its own worker, both with eth0 on the BroadcastChannel "lan0", so they can
 * reach each other once the guests give themselves addresses), and a button runs a command in both through the element's
 * `exec()`, showing stdout and the exit status. It uses only what the library build exports
 * (./embed.ts).
 *
 * Not supported: anything beyond the demonstration (no settings, no statistics).
 */
import type { VirtliteVmElement } from './element.ts';
import './embed.ts';

const vms = [...document.querySelectorAll<VirtliteVmElement>('virtlite-vm')];
const run = document.getElementById('run') as HTMLButtonElement;
const result = document.getElementById('result') as HTMLOutputElement;

let booted = 0;
for (const vm of vms) {
  vm.addEventListener('vm-booted', () => {
    if (++booted === vms.length) run.disabled = false;
  });
  vm.addEventListener('vm-error', (e) => {
    result.textContent += `${vm.id}: ${e.detail.message}\n`;
  });
}

run.addEventListener('click', async () => {
  run.disabled = true;
  result.textContent = '';
  try {
    const outputs = await Promise.all(vms.map((vm) => vm.exec('free -m')));
    outputs.forEach((r, i) => {
      result.textContent += `${vms[i]!.id} (exit status ${r.exitCode}):\n${r.stdout}\n`;
    });
  } catch (e) {
    result.textContent += `failed: ${e instanceof Error ? e.message : String(e)}\n`;
  } finally {
    run.disabled = false;
  }
});
