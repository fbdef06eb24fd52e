import type { CommandGroup } from "../command.js";
import { certsCommands } from "./certs.js";
import { dnsCommands } from "./dns.js";
import { edgeCommands } from "./edge.js";
import { firewallCommands } from "./firewall.js";
import { httpCommands } from "./http.js";
import { mailCommands } from "./mail.js";
import { mailDkimCommands } from "./mail-dkim.js";
import { streamCommands } from "./stream.js";

/** Every command group, in the order the help lists them. A new group is one file plus one line here. */
export const commandGroups: readonly CommandGroup[] = [
  edgeCommands,
  dnsCommands,
  mailCommands,
  mailDkimCommands,
  certsCommands,
  firewallCommands,
  httpCommands,
  streamCommands,
];
