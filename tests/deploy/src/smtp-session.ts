/** A hand-driven SMTP session, so a test can hold it open across a scale-down and finish it later. */
import type { Socket } from "node:net";
import { readLine, tcpConnect } from "@switchyard/testkit";

export class SmtpSession {
  private constructor(private readonly socket: Socket) {}

  /** Connects, reads the greeting and says EHLO. */
  static async open(port: number): Promise<SmtpSession> {
    const session = new SmtpSession(await tcpConnect(port));
    await session.expect("220");
    await session.command("EHLO deploy-test.example", "250");
    return session;
  }

  /** Sends one message to `to` and quits; resolves with the server's reply to the message. */
  async deliver(to: string, subject: string): Promise<string> {
    await this.begin(to, subject);
    const accepted = await this.finish();
    await this.quit();
    return accepted;
  }

  /** Starts a message and sends its headers, leaving it in flight (no final dot yet). */
  async begin(to: string, subject: string): Promise<void> {
    await this.command("MAIL FROM:<deploy-test@example.net>", "250");
    await this.command(`RCPT TO:<${to}>`, "250");
    await this.command("DATA", "354");
    this.socket.write(`Subject: ${subject}\r\nFrom: deploy-test@example.net\r\nTo: ${to}\r\n\r\n`);
  }

  /** Ends the message in flight; resolves with the server's reply (250 when it took it). */
  finish(): Promise<string> {
    return this.command("the end of a message in flight\r\n.", "250");
  }

  /** QUIT: 221, or 421 from a replica that is shutting down (both close the session). */
  async quit(): Promise<string> {
    this.socket.write("QUIT\r\n");
    const reply = await this.expect("");
    this.socket.destroy();
    if (!/^(221|421) /.test(reply)) throw new Error(`QUIT answered ${JSON.stringify(reply)}`);
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }

  private async command(line: string, code: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.expect(code);
  }

  /** Reads a (multi-line) reply; rejects unless it has the expected code. */
  private async expect(code: string): Promise<string> {
    for (;;) {
      const line = (await readLine(this.socket, 20_000)).replace(/\r$/, "");
      if (!line.startsWith(code)) throw new Error(`expected ${code}, got ${JSON.stringify(line)}`);
      if (line[3] !== "-") return line;
    }
  }
}
