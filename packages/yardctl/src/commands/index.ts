import type { CommandGroup } from "../command.js";
import { edgeCommands } from "./edge.js";
import { mailCommands } from "./mail.js";

/** Every command group, in the order the help lists them. A new group is one file plus one line here. */
export const commandGroups: readonly CommandGroup[] = [edgeCommands, mailCommands];
