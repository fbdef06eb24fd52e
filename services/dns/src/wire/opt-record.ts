import { RRType } from "./records.js";

/** Length of our OPT record: without options, and with one Extended DNS Error option. */
export const OPT_LENGTH = 11;
export const EDE_LENGTH = 6;
/** The UDP payload size we advertise and the most we send over UDP (DNS flag day 2020). */
export const OUR_UDP_SIZE = 1232;

/**
 * Writes an OPT record at `at`: our size, the extended rcode's upper bits, version 0, DO echoed,
 * and an Extended DNS Error option when `ede` is not 0. Returns the length written.
 */
export function writeOpt(out: Buffer, at: number, extendedRcode: number, dnssecOk: boolean, ede = 0): number {
  out[at] = 0;
  out.writeUInt16BE(RRType.OPT, at + 1);
  out.writeUInt16BE(OUR_UDP_SIZE, at + 3);
  out[at + 5] = (extendedRcode >> 4) & 0xff;
  out[at + 6] = 0;
  out.writeUInt16BE(dnssecOk ? 0x8000 : 0, at + 7);
  if (ede === 0) {
    out.writeUInt16BE(0, at + 9);
    return OPT_LENGTH;
  }
  out.writeUInt16BE(EDE_LENGTH, at + 9);
  out.writeUInt16BE(15, at + 11); // EDE option code
  out.writeUInt16BE(2, at + 13);
  out.writeUInt16BE(ede, at + 15);
  return OPT_LENGTH + EDE_LENGTH;
}
