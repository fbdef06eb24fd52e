/** The parts of dns-packet that @types/dns-packet leaves out. */
declare module "dns-packet/types.js" {
  const types: { toType(name: string): number; toString(type: number): string };
  export default types;
}
