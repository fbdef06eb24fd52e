const CR = 0x0d;
const LF = 0x0a;

/**
 * Finds a bare LF or a bare CR in a byte stream fed in chunks, as Postfix's
 * `smtpd_forbid_bare_newline` does: every LF must follow a CR and every CR must precede an LF,
 * in commands and in DATA alike. This is what keeps `<LF>.<CR><LF>`, `<CR>.<CR>` and the other
 * SMTP smuggling end-of-data variants from meaning anything to any server behind us.
 */
export class BareNewlineGuard {
  private pendingCr = false;

  /** Feeds the next chunk; returns false at the first bare CR or LF (the stream is then poisoned). */
  accept(chunk: Uint8Array): boolean {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.pendingCr) {
        if (byte !== LF) return false;
        this.pendingCr = false;
      } else if (byte === LF) {
        return false;
      } else if (byte === CR) {
        this.pendingCr = true;
      }
    }
    return true;
  }
}
