export { Edge, type EdgeDeps } from "./edge.js";
export { createEdgeAdmin, createEdgeControl } from "./server.js";
