/*
 * Intel ACPI Component Architecture
 * AML/ASL+ Disassembler version 20200925 (64-bit version)
 * Copyright (c) 2000 - 2020 Intel Corporation
 * 
 * Disassembly of APIC.dat
 *
 * ACPI Data Table [APIC]
 *
 * Format: [HexOffset DecimalOffset ByteLength]  FieldName : FieldValue
 */

[000h 0000   4]                    Signature : "APIC"    [Multiple APIC Description Table (MADT)]
[004h 0004   4]                 Table Length : 00000050
[008h 0008   1]                     Revision : 06
[009h 0009   1]                     Checksum : 3F
[00Ah 0010   6]                       Oem ID : "VIRTLT"
[010h 0016   8]                 Oem Table ID : "VLTEAPIC"
[018h 0024   4]                 Oem Revision : 00000001
[01Ch 0028   4]              Asl Compiler ID : "VLTE"
[020h 0032   4]        Asl Compiler Revision : 00000001

[024h 0036   4]           Local Apic Address : FEE00000
[028h 0040   4]        Flags (decoded below) : 00000000
                         PC-AT Compatibility : 0

[02Ch 0044   1]                Subtable Type : 00 [Processor Local APIC]
[02Dh 0045   1]                       Length : 08
[02Eh 0046   1]                 Processor ID : 00
[02Fh 0047   1]                Local Apic ID : 00
[030h 0048   4]        Flags (decoded below) : 00000001
                           Processor Enabled : 1
                      Runtime Online Capable : 0

[034h 0052   1]                Subtable Type : 01 [I/O APIC]
[035h 0053   1]                       Length : 0C
[036h 0054   1]                  I/O Apic ID : 00
[037h 0055   1]                     Reserved : 00
[038h 0056   4]                      Address : FEC00000
[03Ch 0060   4]                    Interrupt : 00000000

[040h 0064   1]                Subtable Type : 02 [Interrupt Source Override]
[041h 0065   1]                       Length : 0A
[042h 0066   1]                          Bus : 00
[043h 0067   1]                       Source : 00
[044h 0068   4]                    Interrupt : 00000002
[048h 0072   2]        Flags (decoded below) : 0005
                                    Polarity : 1
                                Trigger Mode : 1

[04Ah 0074   1]                Subtable Type : 04 [Local APIC NMI]
[04Bh 0075   1]                       Length : 06
[04Ch 0076   1]                 Processor ID : FF
[04Dh 0077   2]        Flags (decoded below) : 0005
                                    Polarity : 1
                                Trigger Mode : 1
[04Fh 0079   1]         Interrupt Input LINT : 01

Raw Table Data: Length 80 (0x50)

    0000: 41 50 49 43 50 00 00 00 06 3F 56 49 52 54 4C 54  // APICP....?VIRTLT
    0010: 56 4C 54 45 41 50 49 43 01 00 00 00 56 4C 54 45  // VLTEAPIC....VLTE
    0020: 01 00 00 00 00 00 E0 FE 00 00 00 00 00 08 00 00  // ................
    0030: 01 00 00 00 01 0C 00 00 00 00 C0 FE 00 00 00 00  // ................
    0040: 02 0A 00 00 02 00 00 00 05 00 04 06 FF 05 00 01  // ................
