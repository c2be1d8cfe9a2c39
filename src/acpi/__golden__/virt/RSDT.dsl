/*
 * Intel ACPI Component Architecture
 * AML/ASL+ Disassembler version 20200925 (64-bit version)
 * Copyright (c) 2000 - 2020 Intel Corporation
 * 
 * Disassembly of RSDT.dat
 *
 * ACPI Data Table [RSDT]
 *
 * Format: [HexOffset DecimalOffset ByteLength]  FieldName : FieldValue
 */

[000h 0000   4]                    Signature : "RSDT"    [Root System Description Table]
[004h 0004   4]                 Table Length : 00000034
[008h 0008   1]                     Revision : 01
[009h 0009   1]                     Checksum : DA
[00Ah 0010   6]                       Oem ID : "VIRTLT"
[010h 0016   8]                 Oem Table ID : "VLTERSDT"
[018h 0024   4]                 Oem Revision : 00000001
[01Ch 0028   4]              Asl Compiler ID : "VLTE"
[020h 0032   4]        Asl Compiler Revision : 00000001

[024h 0036   4]       ACPI Table Address   0 : 000E07E0
[028h 0040   4]       ACPI Table Address   1 : 000E0900
[02Ch 0044   4]       ACPI Table Address   2 : 000E0950
[030h 0048   4]       ACPI Table Address   3 : 000E0990

Raw Table Data: Length 52 (0x34)

    0000: 52 53 44 54 34 00 00 00 01 DA 56 49 52 54 4C 54  // RSDT4.....VIRTLT
    0010: 56 4C 54 45 52 53 44 54 01 00 00 00 56 4C 54 45  // VLTERSDT....VLTE
    0020: 01 00 00 00 E0 07 0E 00 00 09 0E 00 50 09 0E 00  // ............P...
    0030: 90 09 0E 00                                      // ....
