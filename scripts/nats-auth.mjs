#!/usr/bin/env node
// `npm start`: the local NATS with one user per role, each allowed only its subjects and buckets
// (packages/runtime/src/nats/nats-permissions.ts). Makes <state>/nats/auth/<role>.cred (user:password,
// random, mode 0600) once, rewrites <state>/nats/auth/auth.conf (the nats-server authorization
// block, mode 0600) and prints its path for `nats-server -c`. config/local.yaml points
// nats.credentialsFile at <state>/nats/auth/{role}.cred.
// `node scripts/nats-auth.mjs --compose > deploy/nats/auth.conf` regenerates compose's copy, whose
// passwords are $SWITCHYARD_NATS_PASSWORD_<ROLE> (deploy/nats/nats-entrypoint.sh sets them).
import { join } from "node:path";
import { ensureNatsAuth, natsAuthorizationConfig, natsPasswordVariable } from "@switchyard/runtime";

if (process.argv[2] === "--compose") {
  process.stdout.write(natsAuthorizationConfig((role) => ({ variable: natsPasswordVariable(role) })));
  process.exit(0);
}
const state = process.argv[2] ?? ".switchyard";
const { config } = await ensureNatsAuth(join(state, "nats", "auth"));
process.stdout.write(`${config}\n`);
