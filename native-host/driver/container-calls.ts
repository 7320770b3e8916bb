/**
 * The driver's side of the key-writing calls (certificate renewal from an issuer site): the wire's arguments
 * checked, then the device's container methods. `CONTAINER_WRITES` are the calls after which key ids may
 * name other pairs.
 */
import type { KeyDevice } from "../token/device.js";
import { deviceArgs, type DriverRequest } from "./wire.js";

export const CONTAINER_WRITES = new Set<DriverRequest["call"]>(["generateKeyPair", "importCertificate", "importEncryptionKeyPair", "deleteContainer"]);

/** The device's answer to a container call; undefined for any other call. */
export function containerCall(device: KeyDevice, request: DriverRequest): Promise<unknown> | undefined {
  switch (request.call) {
    case "containers":
      return device.containers();
    case "generateKeyPair": {
      const args = deviceArgs.generateKeyPair.parse(request.args, "args");
      return device.generateKeyPair(args.container, args.keyAlgorithm);
    }
    case "importCertificate": {
      const args = deviceArgs.importCertificate.parse(request.args, "args");
      return device.importCertificate(args.container, args.purpose, args.der).then(() => null);
    }
    case "importEncryptionKeyPair": {
      const args = deviceArgs.importEncryptionKeyPair.parse(request.args, "args");
      return device.importEncryptionKeyPair(args.container, args.pair).then(() => null);
    }
    case "deleteContainer":
      return device.deleteContainer(deviceArgs.deleteContainer.parse(request.args, "args").container).then(() => null);
    default:
      return undefined;
  }
}
