/**
 * PCI and PCI Express configuration-space register layout shared by the files of this folder:
 * the type 0 header, the command and status bits, BAR encoding, capability ids, the PCI Express
 * capability and the MSI-X capability. Names follow the PCI Local Bus Specification 3.0
 * (section 6.2, "Configuration Space Organization"), PCI Express Base Specification 4.0
 * (section 7.5.3, "PCI Express Capability Structure"; section 7.7.2, "MSI-X Capability and
 * Table Structure") and Linux's include/uapi/linux/pci_regs.h, with role suffixes
 * (_OFFSET for a register's byte offset, _MASK for a field, plain names for single bits).
 *
 * Not supported: the type 1 (PCI-to-PCI bridge) and type 2 (CardBus) headers.
 */

/** Size of a function's extended (PCI Express) configuration space. */
export const PCI_CONFIG_SPACE_SIZE = 0x1000;
/** Size of the conventional configuration space; standard capabilities live below this. */
export const PCI_LEGACY_CONFIG_SIZE = 0x100;

// ---------------------------------------------------------------------------------------------
// Type 0 header (PCI 3.0 section 6.2, figure 6-1)
// ---------------------------------------------------------------------------------------------

export const PCI_VENDOR_ID_OFFSET = 0x00;
export const PCI_DEVICE_ID_OFFSET = 0x02;
export const PCI_COMMAND_OFFSET = 0x04;
export const PCI_STATUS_OFFSET = 0x06;
export const PCI_REVISION_ID_OFFSET = 0x08;
/** Class code: programming interface (0x09), sub-class (0x0a), base class (0x0b). */
export const PCI_CLASS_PROG_OFFSET = 0x09;
export const PCI_CACHE_LINE_SIZE_OFFSET = 0x0c;
export const PCI_LATENCY_TIMER_OFFSET = 0x0d;
export const PCI_HEADER_TYPE_OFFSET = 0x0e;
export const PCI_BIST_OFFSET = 0x0f;
/** Six 32-bit BARs at 0x10..0x27; a 64-bit BAR takes two consecutive slots. */
export const PCI_BASE_ADDRESS_0_OFFSET = 0x10;
export const PCI_BAR_COUNT = 6;
export const PCI_CARDBUS_CIS_OFFSET = 0x28;
export const PCI_SUBSYSTEM_VENDOR_ID_OFFSET = 0x2c;
export const PCI_SUBSYSTEM_ID_OFFSET = 0x2e;
export const PCI_ROM_ADDRESS_OFFSET = 0x30;
/** Pointer to the first standard capability (status bit PCI_STATUS_CAP_LIST says it is valid). */
export const PCI_CAPABILITY_LIST_OFFSET = 0x34;
export const PCI_INTERRUPT_LINE_OFFSET = 0x3c;
export const PCI_INTERRUPT_PIN_OFFSET = 0x3d;
/** First byte after the type 0 header: capabilities are placed from here. */
export const PCI_HEADER_END = 0x40;

/** Header type byte: bit 7 marks a multi-function device, bits 6:0 the layout (0 = endpoint). */
export const PCI_HEADER_TYPE_NORMAL = 0x00;
export const PCI_HEADER_TYPE_MULTI_FUNCTION = 0x80;

/*
 * Command register (0x04)
 *   15      11  10          9    8     7    6       5   4    3    2       1       0
 *  +-------+---+-----------+----+-----+----+-------+---+----+----+-------+-------+----+
 *  | rsvd      | INTX_DIS  |FBB |SERR |rsvd|PARITY |VGA|MWI |SPEC|MASTER |MEMORY | IO |
 *  +-------+---+-----------+----+-----+----+-------+---+----+----+-------+-------+----+
 * Only IO, MEMORY, MASTER and INTX_DISABLE are writable here; the rest read as zero.
 */
export const PCI_COMMAND_IO = 0x0001;
export const PCI_COMMAND_MEMORY = 0x0002;
export const PCI_COMMAND_MASTER = 0x0004;
export const PCI_COMMAND_INTX_DISABLE = 0x0400;

/*
 * Status register (0x06)
 *   15       14       13        12        11        10:9     8       5    4        3
 *  +--------+--------+---------+---------+---------+--------+-------+----+--------+-------+
 *  |DET_PAR |SIG_SERR|REC_MABRT|REC_TABRT|SIG_TABRT|DEVSEL  |MDPERR |66M |CAP_LIST|INTR   |
 *  +--------+--------+---------+---------+---------+--------+-------+----+--------+-------+
 * Bits 15:11 and 8 are write-1-to-clear; INTERRUPT and CAP_LIST are read-only.
 */
export const PCI_STATUS_INTERRUPT = 0x0008;
export const PCI_STATUS_CAP_LIST = 0x0010;
export const PCI_STATUS_PARITY = 0x0100;
export const PCI_STATUS_SIG_TARGET_ABORT = 0x0800;
export const PCI_STATUS_REC_TARGET_ABORT = 0x1000;
export const PCI_STATUS_REC_MASTER_ABORT = 0x2000;
export const PCI_STATUS_SIG_SYSTEM_ERROR = 0x4000;
export const PCI_STATUS_DETECTED_PARITY = 0x8000;
/** All write-1-to-clear error bits of the status register. */
export const PCI_STATUS_W1C_MASK =
  PCI_STATUS_PARITY |
  PCI_STATUS_SIG_TARGET_ABORT |
  PCI_STATUS_REC_TARGET_ABORT |
  PCI_STATUS_REC_MASTER_ABORT |
  PCI_STATUS_SIG_SYSTEM_ERROR |
  PCI_STATUS_DETECTED_PARITY;

/*
 * Memory BAR, low dword (PCI 3.0 section 6.2.5.1)
 *   31                                  4   3        2:1     0
 *  +-------------------------------------+--------+-------+-----+
 *  | base address (size-aligned)         | PREFETCH| TYPE | 0=mem|
 *  +-------------------------------------+--------+-------+-----+
 */
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
export const PCI_BASE_ADDRESS_MEM_TYPE_32 = 0x00;
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
export const PCI_BASE_ADDRESS_MEM_MASK = 0xffff_fff0;

/** Interrupt pin register values: 0 = none, 1..4 = INTA#..INTD#. */
export const PCI_INTERRUPT_PIN_NONE = 0;
export const PCI_INTERRUPT_PIN_INTA = 1;
export const PCI_INTERRUPT_PIN_INTD = 4;

// ---------------------------------------------------------------------------------------------
// Capabilities (PCI 3.0 section 6.7; each starts with an id byte and a next-pointer byte)
// ---------------------------------------------------------------------------------------------

export const PCI_CAP_LIST_ID_OFFSET = 0;
export const PCI_CAP_LIST_NEXT_OFFSET = 1;
export const PCI_CAP_ID_VNDR = 0x09;
export const PCI_CAP_ID_EXP = 0x10;
export const PCI_CAP_ID_MSIX = 0x11;

// ---------------------------------------------------------------------------------------------
// PCI Express capability (PCIe 4.0 section 7.5.3), offsets from the capability start
// ---------------------------------------------------------------------------------------------

/** PCI Express Capabilities register: version in bits 3:0, device/port type in bits 7:4. */
export const PCI_EXP_FLAGS_OFFSET = 0x02;
export const PCI_EXP_FLAGS_VERS_MASK = 0x000f;
export const PCI_EXP_FLAGS_TYPE_MASK = 0x00f0;
export const PCI_EXP_FLAGS_TYPE_SHIFT = 4;
export const PCI_EXP_TYPE_ENDPOINT = 0x0;
export const PCI_EXP_TYPE_RC_END = 0x9;
export const PCI_EXP_DEVCAP_OFFSET = 0x04;
/** Role-based error reporting: must be set by every function built to PCIe 1.1 or later. */
export const PCI_EXP_DEVCAP_RBER = 0x0000_8000;
export const PCI_EXP_DEVCTL_OFFSET = 0x08;
export const PCI_EXP_DEVCTL_CERE = 0x0001;
export const PCI_EXP_DEVCTL_NFERE = 0x0002;
export const PCI_EXP_DEVCTL_FERE = 0x0004;
export const PCI_EXP_DEVCTL_URRE = 0x0008;
export const PCI_EXP_DEVCTL_RELAX_EN = 0x0010;
export const PCI_EXP_DEVCTL_PAYLOAD_MASK = 0x00e0;
export const PCI_EXP_DEVCTL_NOSNOOP_EN = 0x0800;
export const PCI_EXP_DEVCTL_READRQ_MASK = 0x7000;
/** Max_Read_Request_Size reset value: 010b = 512 bytes. */
export const PCI_EXP_DEVCTL_READRQ_512B = 0x2000;
export const PCI_EXP_DEVSTA_OFFSET = 0x0a;
export const PCI_EXP_DEVSTA_CED = 0x0001;
export const PCI_EXP_DEVSTA_NFED = 0x0002;
export const PCI_EXP_DEVSTA_FED = 0x0004;
export const PCI_EXP_DEVSTA_URD = 0x0008;
export const PCI_EXP_LNKCAP_OFFSET = 0x0c;
/** Link speed code 1 = 2.5 GT/s; link width field in bits 9:4 (LNKCAP) / 9:4 (LNKSTA). */
export const PCI_EXP_LNK_SPEED_2_5GT = 0x1;
export const PCI_EXP_LNK_WIDTH_X1 = 0x0010;
export const PCI_EXP_LNKCTL_OFFSET = 0x10;
export const PCI_EXP_LNKCTL_ASPMC_MASK = 0x0003;
export const PCI_EXP_LNKCTL_CCC = 0x0040;
export const PCI_EXP_LNKCTL_ES = 0x0080;
export const PCI_EXP_LNKSTA_OFFSET = 0x12;
export const PCI_EXP_DEVCAP2_OFFSET = 0x24;
export const PCI_EXP_DEVCTL2_OFFSET = 0x28;
export const PCI_EXP_LNKCAP2_OFFSET = 0x2c;
/** Supported Link Speeds Vector bit 1: 2.5 GT/s. */
export const PCI_EXP_LNKCAP2_SLS_2_5GB = 0x0000_0002;
export const PCI_EXP_LNKCTL2_OFFSET = 0x30;
/** Length of a version 2 PCI Express capability (through Slot Status 2). */
export const PCI_EXP_CAP_V2_SIZE = 0x3c;

// ---------------------------------------------------------------------------------------------
// MSI-X (PCIe 4.0 section 7.7.2), offsets from the capability start and within a table entry
// ---------------------------------------------------------------------------------------------

/*
 * Message Control (cap + 2)
 *     15        14          13:11   10:0
 *  +--------+-----------+--------+-----------------+
 *  | ENABLE | MASKALL   | rsvd   | table size - 1  |
 *  +--------+-----------+--------+-----------------+
 */
export const PCI_MSIX_FLAGS_OFFSET = 0x02;
export const PCI_MSIX_FLAGS_QSIZE_MASK = 0x07ff;
export const PCI_MSIX_FLAGS_MASKALL = 0x4000;
export const PCI_MSIX_FLAGS_ENABLE = 0x8000;
/** Table Offset/Table BIR (cap + 4): BAR index in bits 2:0, qword-aligned offset above. */
export const PCI_MSIX_TABLE_OFFSET = 0x04;
/** PBA Offset/PBA BIR (cap + 8), same layout. */
export const PCI_MSIX_PBA_OFFSET = 0x08;
export const PCI_MSIX_BIR_MASK = 0x7;
export const PCI_MSIX_CAP_SIZE = 12;
/** Largest table: 2048 entries (an 11-bit size field). */
export const PCI_MSIX_MAX_VECTORS = 2048;

/** Table entry: 16 bytes each. */
export const PCI_MSIX_ENTRY_SIZE = 16;
export const PCI_MSIX_ENTRY_LOWER_ADDR_OFFSET = 0x0;
export const PCI_MSIX_ENTRY_UPPER_ADDR_OFFSET = 0x4;
export const PCI_MSIX_ENTRY_DATA_OFFSET = 0x8;
export const PCI_MSIX_ENTRY_VECTOR_CTRL_OFFSET = 0xc;
export const PCI_MSIX_ENTRY_CTRL_MASKBIT = 0x1;
