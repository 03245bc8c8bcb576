// A tiny real guest for console tests: a boot sector that SeaBIOS loads at 0x7c00 and runs in real
// mode. It polls COM1 (a 16550 at I/O port 0x3f8) and sends every byte it receives back plus one,
// so "HAL" comes back as "IBM": what the test reads proves the guest's CPU processed its bytes.
// No assembler is needed: the 32 bytes below are hand-assembled, one instruction per line.

/** What the echo guest sends back for `text`: every byte plus one. */
export function echoed(text: string): string {
  return Buffer.from(Buffer.from(text, 'latin1').map((b) => (b + 1) & 0xff)).toString('latin1');
}

const COM1_DATA = [0xf8, 0x03]; // 0x3f8 little-endian: receive / transmit holding register
const COM1_LSR = [0xfd, 0x03]; // 0x3fd: line status; bit 0 data ready, bit 5 transmitter empty

// biome-ignore format: hand-assembled, one instruction per line with its mnemonic
const CODE = Buffer.from([
  // 0x00 again:
  0xba, ...COM1_LSR, //   mov dx, 0x3fd
  // 0x03 rx:
  0xec, //                in al, dx
  0xa8, 0x01, //          test al, 1          ; a byte has arrived?
  0x74, 0xfb, //          jz rx               ; (-5: back to `in`)
  0xba, ...COM1_DATA, //  mov dx, 0x3f8
  0xec, //                in al, dx           ; take it
  0xfe, 0xc0, //          inc al              ; the transformation: +1
  0x88, 0xc4, //          mov ah, al
  0xba, ...COM1_LSR, //   mov dx, 0x3fd
  // 0x13 tx:
  0xec, //                in al, dx
  0xa8, 0x20, //          test al, 0x20       ; room to send?
  0x74, 0xfb, //          jz tx               ; (-5: back to `in`)
  0x88, 0xe0, //          mov al, ah
  0xba, ...COM1_DATA, //  mov dx, 0x3f8
  0xee, //                out dx, al          ; send it back
  0xeb, 0xe0, //          jmp again           ; (-32: back to the start)
]);

/** A raw disk image of `size` bytes whose first sector is the echo guest (with the 0x55aa boot signature). */
export function echoGuestDisk(size = 1024 * 1024): Buffer {
  const disk = Buffer.alloc(size);
  CODE.copy(disk, 0);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  return disk;
}
