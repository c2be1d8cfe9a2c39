/**
 * The PCI Express capability structure (capability id 0x10, version 2) of an endpoint function,
 * following PCI Express Base Specification 4.0 section 7.5.3. Its presence is what makes Linux
 * treat a function as PCIe (pci_is_pcie(), 4 KiB extended config space, pcie_capability_*).
 *
 * Two device/port types are offered:
 * - 'rc-integrated-endpoint' (type 9, the default): a function that sits directly on the root
 *   bus with no root port above it, which is every function of this machine. Link registers are
 *   not implemented for this type (section 7.5.3: "Root Complex Integrated Endpoints ... Link
 *   registers ... are reserved"), so they read as zero; Linux's pcie_cap_has_lnkctl() agrees.
 *   QEMU gives the same type to PCIe devices plugged into the root bus of its q35 machine.
 * - 'endpoint' (type 0): a PCI Express endpoint with an x1 2.5 GT/s link, for a future machine
 *   with root ports.
 *
 * Reset values: 128-byte Max_Payload_Size supported and selected, Max_Read_Request 512 bytes,
 * Relaxed Ordering and No Snoop enabled (the reset values the specification gives).
 *
 * Not supported: Function Level Reset, extended tags, phantom functions, ASPM and clock power
 * management (capability bits clear), error reporting messages (the error detected status bits
 * exist and are W1C but nothing sets them), every Device Capabilities 2 feature (LTR, OBFF,
 * AtomicOps, 10-bit tags, completion timeout control), slot and root registers.
 */
import type { ConfigSpace } from './config-space.ts';
import {
  PCI_EXP_DEVCAP_OFFSET,
  PCI_EXP_DEVCAP_RBER,
  PCI_EXP_DEVCTL_CERE,
  PCI_EXP_DEVCTL_FERE,
  PCI_EXP_DEVCTL_NFERE,
  PCI_EXP_DEVCTL_NOSNOOP_EN,
  PCI_EXP_DEVCTL_OFFSET,
  PCI_EXP_DEVCTL_PAYLOAD_MASK,
  PCI_EXP_DEVCTL_READRQ_512B,
  PCI_EXP_DEVCTL_READRQ_MASK,
  PCI_EXP_DEVCTL_RELAX_EN,
  PCI_EXP_DEVCTL_URRE,
  PCI_EXP_DEVSTA_CED,
  PCI_EXP_DEVSTA_FED,
  PCI_EXP_DEVSTA_NFED,
  PCI_EXP_DEVSTA_OFFSET,
  PCI_EXP_DEVSTA_URD,
  PCI_EXP_FLAGS_OFFSET,
  PCI_EXP_FLAGS_TYPE_SHIFT,
  PCI_EXP_LNK_SPEED_2_5GT,
  PCI_EXP_LNK_WIDTH_X1,
  PCI_EXP_LNKCAP_OFFSET,
  PCI_EXP_LNKCAP2_OFFSET,
  PCI_EXP_LNKCAP2_SLS_2_5GB,
  PCI_EXP_LNKCTL_ASPMC_MASK,
  PCI_EXP_LNKCTL_CCC,
  PCI_EXP_LNKCTL_ES,
  PCI_EXP_LNKCTL_OFFSET,
  PCI_EXP_LNKCTL2_OFFSET,
  PCI_EXP_LNKSTA_OFFSET,
  PCI_EXP_TYPE_ENDPOINT,
  PCI_EXP_TYPE_RC_END,
} from './regs.ts';

/** Which kind of PCIe function the capability describes. */
export type PcieDeviceType = 'rc-integrated-endpoint' | 'endpoint';

/** Capability version 2: the Device/Link Capabilities 2 registers exist. */
const PCI_EXP_CAP_VERSION = 2;

/**
 * Fills the PCI Express capability whose header (id, next pointer) is at `cap` in `config`:
 * register values and write masks. The caller has reserved PCI_EXP_CAP_V2_SIZE bytes.
 */
export function initPcieCapability(config: ConfigSpace, cap: number, type: PcieDeviceType): void {
  const portType = type === 'endpoint' ? PCI_EXP_TYPE_ENDPOINT : PCI_EXP_TYPE_RC_END;
  config.set16(cap + PCI_EXP_FLAGS_OFFSET, PCI_EXP_CAP_VERSION | (portType << PCI_EXP_FLAGS_TYPE_SHIFT));

  // Device Capabilities: Max_Payload_Size_Supported = 000b (128 bytes), RBER set.
  config.set32(cap + PCI_EXP_DEVCAP_OFFSET, PCI_EXP_DEVCAP_RBER);

  // Device Control: error reporting enables, relaxed ordering, payload size, no snoop and read
  // request size are read-write; extended tags, phantom functions, aux power and FLR are not
  // supported and stay zero.
  config.set16(cap + PCI_EXP_DEVCTL_OFFSET, PCI_EXP_DEVCTL_RELAX_EN | PCI_EXP_DEVCTL_NOSNOOP_EN | PCI_EXP_DEVCTL_READRQ_512B);
  config.setMasks(
    cap + PCI_EXP_DEVCTL_OFFSET,
    2,
    PCI_EXP_DEVCTL_CERE |
      PCI_EXP_DEVCTL_NFERE |
      PCI_EXP_DEVCTL_FERE |
      PCI_EXP_DEVCTL_URRE |
      PCI_EXP_DEVCTL_RELAX_EN |
      PCI_EXP_DEVCTL_PAYLOAD_MASK |
      PCI_EXP_DEVCTL_NOSNOOP_EN |
      PCI_EXP_DEVCTL_READRQ_MASK,
  );

  // Device Status: the four "error detected" bits are W1C; Transactions Pending stays zero.
  config.setMasks(
    cap + PCI_EXP_DEVSTA_OFFSET,
    2,
    0,
    PCI_EXP_DEVSTA_CED | PCI_EXP_DEVSTA_NFED | PCI_EXP_DEVSTA_FED | PCI_EXP_DEVSTA_URD,
  );

  if (type === 'endpoint') {
    // Link Capabilities: 2.5 GT/s, x1, no ASPM, port number 0. Link Status: trained at that.
    config.set32(cap + PCI_EXP_LNKCAP_OFFSET, PCI_EXP_LNK_SPEED_2_5GT | PCI_EXP_LNK_WIDTH_X1);
    config.set16(cap + PCI_EXP_LNKSTA_OFFSET, PCI_EXP_LNK_SPEED_2_5GT | PCI_EXP_LNK_WIDTH_X1);
    // Link Control: ASPM control, common clock and extended synch are read-write for endpoints.
    config.setMasks(cap + PCI_EXP_LNKCTL_OFFSET, 2, PCI_EXP_LNKCTL_ASPMC_MASK | PCI_EXP_LNKCTL_CCC | PCI_EXP_LNKCTL_ES);
    config.set32(cap + PCI_EXP_LNKCAP2_OFFSET, PCI_EXP_LNKCAP2_SLS_2_5GB);
    // Link Control 2: Target Link Speed reads as the only supported speed.
    config.set16(cap + PCI_EXP_LNKCTL2_OFFSET, PCI_EXP_LNK_SPEED_2_5GT);
  }
}
