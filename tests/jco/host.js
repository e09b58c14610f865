// The connector's own imports (wit/connector.wit) for jco, as textract-host gives
// them: `textract:connector/document-store` reads one file per document id from a
// folder and nothing outside it, and creates a document as a file named by the
// SHA-256 of its bytes with the reference textract-host's FolderStore answers (so
// results are the same bytes); `textract:connector/runtime` tells the mode, asks
// the operator's egress entries (the same rules as egress.rs `operator_allows`) and
// gives the 512 MiB memory limit.
import { createHash } from "node:crypto";
import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** textract-host's default `--max-memory`. */
export const MEMORY_LIMIT = 512n * 1024n * 1024n;
/** The largest document the store hands out (the harness's MAX_DOCUMENT_BYTES). */
const MAX_DOCUMENT_BYTES = 512 * 1024 * 1024;

/** The `storeId` of created documents (the harness's FOLDER_STORE_ID). */
const FOLDER_STORE_ID = "local";
let writes = 0;

/** Rust's io::ErrorKind text for the errors a read or write can meet. */
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
    create(content, contentType, fileName) {
      if (!documents) {
        throw { tag: "unsupported", val: "this runtime has no document store (see --documents)" };
      }
      if (content.length > MAX_DOCUMENT_BYTES) {
        throw { tag: "denied", val: `the document is larger than ${MAX_DOCUMENT_BYTES} bytes` };
      }
      const hash = createHash("sha256").update(content).digest("hex");
      const path = join(documents, hash);
      let stored = false;
      try {
        const meta = statSync(path);
        stored = meta.isFile() && meta.size === content.length;
      } catch {
        stored = false;
      }
      if (!stored) {
        // Written under a hidden name (never a document id), then renamed into place.
        const temporary = join(documents, `.${hash}.${process.pid}.${writes++}.tmp`);
        try {
          writeFileSync(temporary, content);
          renameSync(temporary, path);
        } catch (e) {
          try {
            unlinkSync(temporary);
          } catch {
            // nothing was written
          }
          throw { tag: "unavailable", val: `the document folder cannot be written: ${kindText(e)}` };
        }
      }
      // The key order and the compact form of serde_json's, as FolderStore writes it.
      return JSON.stringify({
        "camunda.document.type": "camunda",
        storeId: FOLDER_STORE_ID,
        documentId: hash,
        contentHash: hash,
        metadata: { contentType, size: content.length, fileName },
      });
    },
  };
  const runtime = {
    mode: () => mode,
    operatorAllows: (host, port) => policy.operatorAllows(host, port),
    memoryLimit: () => MEMORY_LIMIT,
  };
  return { documentStore, runtime };
}
