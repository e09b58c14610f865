// The connector's own imports (wit/connector.wit) for jco, as textract-host gives
// them: `textract:connector/document-store` reads one file per document id from a
// folder and nothing outside it; `textract:connector/runtime` tells the mode, asks
// the operator's egress entries (the same rules as egress.rs `operator_allows`) and
// gives the 512 MiB memory limit.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** textract-host's default `--max-memory`. */
export const MEMORY_LIMIT = 512n * 1024n * 1024n;
/** The largest document the store hands out (the harness's MAX_DOCUMENT_BYTES). */
const MAX_DOCUMENT_BYTES = 512 * 1024 * 1024;

/** Rust's io::ErrorKind text for the errors a read can meet. */
function kindText(e) {
  return (
    { EACCES: "permission denied", EPERM: "permission denied", EISDIR: "is a directory", ENOENT: "entity not found" }[
      e.code
    ] ?? "other error"
  );
}

/**
 * @param {{mode: "saas" | "self-managed", policy: import("./egress.js").EgressPolicy, documents: string | null}} config
 */
export function createHost({ mode, policy, documents }) {
  const documentStore = {
    read(_storeId, documentId, _contentHash) {
      if (!documents) {
        throw { tag: "unavailable", val: "this runtime has no document store (see --documents)" };
      }
      // One file per id, and nothing else: no separators, no parent or hidden entries.
      if (documentId === "" || documentId.startsWith(".") || /[/\\\0]/.test(documentId)) {
        throw { tag: "denied", val: `'${documentId}' is not a document id` };
      }
      const path = join(documents, documentId);
      let meta;
      try {
        meta = statSync(path);
      } catch {
        throw { tag: "not-found" };
      }
      if (!meta.isFile()) throw { tag: "not-found" };
      if (meta.size > MAX_DOCUMENT_BYTES) {
        throw { tag: "denied", val: `the document is larger than ${MAX_DOCUMENT_BYTES} bytes` };
      }
      try {
        return new Uint8Array(readFileSync(path));
      } catch (e) {
        throw { tag: "unavailable", val: kindText(e) };
      }
    },
  };
  const runtime = {
    mode: () => mode,
    operatorAllows: (host, port) => policy.operatorAllows(host, port),
    memoryLimit: () => MEMORY_LIMIT,
  };
  return { documentStore, runtime };
}
