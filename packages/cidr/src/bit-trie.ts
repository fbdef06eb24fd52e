/**
 * A binary trie of prefixes over bytes, stored in flat typed arrays (two
 * child slots per node, 0 meaning "none"; the root is node 0 and never a
 * child). A lookup walks at most 32 or 128 nodes and allocates nothing.
 */
export class BitTrie {
  private children = new Int32Array(64);
  private terminal = new Uint8Array(32);
  private nodes = 1;

  /** Adds a prefix. A prefix already covered by a shorter one adds nothing. */
  insert(bytes: Uint8Array, prefix: number): void {
    let node = 0;
    for (let bit = 0; bit < prefix; bit++) {
      if (this.terminal[node] === 1) return;
      const side = (bytes[bit >>> 3]! >>> (7 - (bit & 7))) & 1;
      const slot = node * 2 + side;
      let child = this.children[slot]!;
      if (child === 0) {
        child = this.allocate();
        this.children[slot] = child;
      }
      node = child;
    }
    this.terminal[node] = 1;
  }

  /** True if some inserted prefix covers the first `bits` bits of `bytes`. */
  covers(bytes: Uint8Array, offset: number, bits: number): boolean {
    let node = 0;
    for (let bit = 0; bit < bits; bit++) {
      if (this.terminal[node] === 1) return true;
      const side = (bytes[offset + (bit >>> 3)]! >>> (7 - (bit & 7))) & 1;
      node = this.children[node * 2 + side]!;
      if (node === 0) return false;
    }
    return this.terminal[node] === 1;
  }

  /** As `covers`, for an IPv4 address held as an unsigned 32-bit number. */
  coversUint32(value: number): boolean {
    let node = 0;
    for (let bit = 0; bit < 32; bit++) {
      if (this.terminal[node] === 1) return true;
      node = this.children[node * 2 + ((value >>> (31 - bit)) & 1)]!;
      if (node === 0) return false;
    }
    return this.terminal[node] === 1;
  }

  get empty(): boolean {
    return this.nodes === 1 && this.terminal[0] === 0;
  }

  private allocate(): number {
    if (this.nodes === this.terminal.length) {
      const children = new Int32Array(this.children.length * 2);
      children.set(this.children);
      this.children = children;
      const terminal = new Uint8Array(this.terminal.length * 2);
      terminal.set(this.terminal);
      this.terminal = terminal;
    }
    return this.nodes++;
  }
}
