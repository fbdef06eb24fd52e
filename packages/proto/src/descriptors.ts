import { readFile } from "node:fs/promises";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/** Where the build puts the binary FileDescriptorSet of every .proto under proto/. */
export const descriptorSetUrl: URL = new URL("./gen/descriptors.binpb", import.meta.url);

/** The FileDescriptorSet (google.protobuf.FileDescriptorSet) of all Switchyard protos, as bytes. */
export async function readDescriptorSet(): Promise<Uint8Array> {
  return new Uint8Array(await readFile(descriptorSetUrl));
}

/**
 * The encoded FileDescriptorProto of every file in the set (field 1 of FileDescriptorSet),
 * in dependency order, as gRPC server reflection serves them.
 */
export async function readFileDescriptorProtos(): Promise<Uint8Array[]> {
  return splitDescriptorSet(await readDescriptorSet());
}

export function splitDescriptorSet(set: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(set);
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) {
      files.push(reader.bytes());
    } else {
      reader.skip(wireType, field);
    }
  }
  return files;
}
