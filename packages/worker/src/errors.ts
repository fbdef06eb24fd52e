export class EdgeWorkerError extends Error {
  override name = "EdgeWorkerError";
}
