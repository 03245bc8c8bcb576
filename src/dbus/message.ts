// The D-Bus message as the rest of the library sees it. The codec (framing.ts, encoder.ts, decoder.ts) turns it into
// bytes and back; the connection assigns serials; the exporter builds replies.

/** Message types of the D-Bus specification. */
export enum MessageType {
  MethodCall = 1,
  MethodReturn = 2,
  Error = 3,
  Signal = 4,
}

/** Header flags of the D-Bus specification. */
export const MessageFlags = {
  NoReplyExpected: 0x1,
  NoAutoStart: 0x2,
  AllowInteractiveAuthorization: 0x4,
} as const;

/** One D-Bus message; `body` holds one JavaScript value per complete type of `signature`. */
export interface Message {
  type: MessageType;
  flags: number;
  serial: number;
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  destination?: string;
  sender?: string;
  /** Body signature, '' for an empty body. */
  signature: string;
  body: unknown[];
  /** Byte order it arrived in or is to be sent in: 'l' little, 'B' big. */
  endianness?: 'l' | 'B';
  /** File descriptors travelling with the message (UNIX_FDS header is their count). */
  fds?: number[];
  /**
   * Order of the header field codes as received, set by the decoder only when it is not ascending
   * (GDBus, sd-bus and dbus-daemon each have their own); the encoder follows it, so a decoded
   * message re-encodes byte for byte.
   */
  fieldOrder?: number[];
}
