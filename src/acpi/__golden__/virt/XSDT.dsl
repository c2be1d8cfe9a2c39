/*
 * Intel ACPI Component Architecture
 * AML/ASL+ Disassembler version 20200925 (64-bit version)
 * Copyright (c) 2000 - 2020 Intel Corporation
 * 
 * Disassembly of XSDT.dat
 *
 * ACPI Data Table [XSDT]
 *
 * Format: [HexOffset DecimalOffset ByteLength]  FieldName : FieldValue
 */

[000h 0000   4]                    Signature : "XSDT"    [Extended System Description Table]
[004h 0004   4]                 Table Length : 00000044
[008h 0008   1]                     Revision : 01
[009h 0009   1]                     Checksum : BE
[00Ah 0010   6]                       Oem ID : "VIRTLT"
[010h 0016   8]                 Oem Table ID : "VLTEXSDT"
[018h 0024   4]                 Oem Revision : 00000001
[01Ch 0028   4]              Asl Compiler ID : "VLTE"
[020h 0032   4]        Asl Compiler Revision : 00000001

[024h 0036   8]       ACPI Table Address   0 : 00000000000E07E0
[02Ch 0044   8]       ACPI Table Address   1 : 00000000000E0900
[034h 0052   8]       ACPI Table Address   2 : 00000000000E0950
[03Ch 0060   8]       ACPI Table Address   3 : 00000000000E0990

Raw Table Data: Length 68 (0x44)

    0000: 58 53 44 54 44 00 00 00 01 BE 56 49 52 54 4C 54  // XSDTD.....VIRTLT
    0010: 56 4C 54 45 58 53 44 54 01 00 00 00 56 4C 54 45  // VLTEXSDT....VLTE
    0020: 01 00 00 00 E0 07 0E 00 00 00 00 00 00 09 0E 00  // ................
    0030: 00 00 00 00 50 09 0E 00 00 00 00 00 90 09 0E 00  // ....P...........
    0040: 00 00 00 00                                      // ....
