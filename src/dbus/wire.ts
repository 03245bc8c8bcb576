// Facts of the wire format shared by the body codec (encoder.ts, decoder.ts) and the message
// framing (framing.ts): the specification's limits, byte order, and where a body sits.

/** Maximum length of a whole message (header, padding and body). */
export const MAX_MESSAGE_LENGTH = 134217728;
/** Maximum length of the data of one array. */
export const MAX_ARRAY_LENGTH = 67108864;

/** Byte order of a message: 'l' little-endian, 'B' big-endian. */
export type Endianness = 'l' | 'B';

/** The endianness byte that starts a message. */
export const ENDIAN_L = 0x6c;
export const ENDIAN_B = 0x42;

/** Where a body sits in its message, and the file descriptors it refers to. */
export interface BodyOptions {
  /** Absolute offset of the body in its message (alignment is computed from it); default 0. */
  offset?: number;
  /** Encode: collects the fds of `h` values (each value becomes its index here). Decode: the fds the indices refer to. */
  fds?: number[];
}

/** Node's Buffer with fast paths that need no argument juggling; they are public-but-undocumented. */
export interface FastBuffer extends Buffer {
  utf8Write(s: string, offset: number): number;
  latin1Write(s: string, offset: number): number;
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}
