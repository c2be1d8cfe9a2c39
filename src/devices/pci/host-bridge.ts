/**
 * The PCI Express host bridge at 00:00.0: a type 0 header function with class 0x060000 ("host
 * bridge"), no BARs, no interrupt and no capabilities, like the root device of QEMU's generic
 * PCIe host (hw/pci-host/gpex.c). PCI Local Bus Specification 3.0 appendix D (class codes).
 *
 * Ids: Red Hat's 0x1B36:0x0008, "QEMU PCIe Host bridge" in the PCI ID database. Linux has no
 * driver or quirk bound to it and treats it as a plain host bridge, which is what we want: the
 * host bridge's real description (bus range, MMIO window, _PRT) comes from the DSDT's PNP0A08
 * device, not from this function. Using a well-known id also makes `lspci` print a name.
 *
 * Not supported: a PCI Express capability (QEMU's gpex root function has none either; Linux
 * still probes its extended config space because of the host bridge class), any bridge window
 * or bus number registers (those belong to type 1 headers).
 */
import { PciFunction, type PciFunctionState } from './function.ts';

export const HOST_BRIDGE_VENDOR_ID = 0x1b36; // Red Hat, Inc.
export const HOST_BRIDGE_DEVICE_ID = 0x0008; // QEMU PCIe Host bridge
/** Base class 0x06 (bridge), sub-class 0x00 (host bridge), programming interface 0. */
export const PCI_CLASS_BRIDGE_HOST = 0x06_00_00;

const OPTIONS = {
  name: 'pcie-host-bridge',
  vendorId: HOST_BRIDGE_VENDOR_ID,
  deviceId: HOST_BRIDGE_DEVICE_ID,
  classCode: PCI_CLASS_BRIDGE_HOST,
  subsystemVendorId: HOST_BRIDGE_VENDOR_ID,
  subsystemId: 0x1100, // QEMU's default subsystem id for its devices
  pcie: 'none',
} as const;

/** A new host bridge function, to attach at 00:00.0. */
export function createHostBridge(): PciFunction {
  return new PciFunction(OPTIONS);
}

/** A host bridge restored from a snapshot. */
export function hostBridgeFromState(state: PciFunctionState): PciFunction {
  return PciFunction.fromState(OPTIONS, state);
}
