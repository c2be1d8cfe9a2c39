/*
 * RSDP: fields as built by src/acpi/rsdp.ts; iasl computes both checksums
 */
[0008]                          Signature : "RSD PTR "
[0001]                           Checksum : 00
[0006]                             Oem ID : "VIRTLT"
[0001]                           Revision : 02
[0004]                       RSDT Address : 000E0A20
[0004]                             Length : 00000024
[0008]                       XSDT Address : 00000000000E09D0
[0001]                  Extended Checksum : 00
[0003]                           Reserved : 000000
