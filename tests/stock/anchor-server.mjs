// The anchor of the school-scale burst benchmark (BENCHMARKS.md): a stock automerge-repo sync server, as
// automerge-repo-sync-server sets one up (the WebSocket server adapter, Node filesystem storage, a share
// policy that pushes nothing unasked), serving the same students' year documents as the relay.
//
//   node anchor-server.mjs import STORAGE_DIR DOCS_DIR   stores every DOCS_DIR/<documentId>.am under its id
//   node anchor-server.mjs serve  STORAGE_DIR            serves on 127.0.0.1, printing "listening on PORT"
import { readdir, readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { Repo } from "@automerge/automerge-repo";
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket";
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs";
import { WebSocketServer } from "ws";

const [command, storageDir, docsDir] = process.argv.slice(2);

if (command === "import") {
  const repo = new Repo({ storage: new NodeFSStorageAdapter(storageDir), network: [] });
  const files = (await readdir(docsDir)).filter((name) => name.endsWith(".am"));
  // In groups, each written out and let go: a repo holding every year document at once slows down more
  // than in proportion.
  for (let start = 0; start < files.length; start += 25) {
    const ids = [];
    for (const name of files.slice(start, start + 25)) {
      const docId = name.slice(0, -3);
      repo.import(new Uint8Array(await readFile(join(docsDir, name))), { docId });
      ids.push(docId);
    }
    await repo.flush(ids);
    for (const docId of ids) await repo.removeFromCache(docId);
  }
  await repo.shutdown();
  console.log(`imported ${files.length} documents`);
  process.exit(0);
} else if (command === "serve") {
  // Node gives a request 60 s to send its headers; with 1,000 devices arriving at once on two cores the
  // event loop can be busy longer, so the limits are those the relay is started with for the burst.
  const http = createServer({ headersTimeout: 300_000, requestTimeout: 300_000 });
  const server = new WebSocketServer({ server: http });
  // A backlog for 1,000 devices connecting at once (Node's default is 511; the relay's, tokio's, 1,024).
  await new Promise((resolve) => http.listen({ port: 0, host: "127.0.0.1", backlog: 2048 }, resolve));
  // The adapter drops a socket that misses a 5 s ping; 1,000 simulated devices on the same two cores
  // can be slower than a real phone to answer, as the relay's header timeout is relaxed for them.
  const adapter = new WebSocketServerAdapter(server, 120_000);
  new Repo({
    network: [adapter],
    storage: new NodeFSStorageAdapter(storageDir),
    peerId: "anchor-sync-server",
    sharePolicy: async () => false,
  });
  // The repo connects its network only once its storage is open; a device arriving before that would
  // be accepted and never answered.
  while (!adapter.peerId) await new Promise((resolve) => setTimeout(resolve, 10));
  console.log(`listening on ${http.address().port}`);
} else {
  console.error("usage: node anchor-server.mjs import STORAGE_DIR DOCS_DIR | serve STORAGE_DIR");
  process.exit(2);
}
