// A stock automerge-repo peer (the pinned @automerge/automerge-repo and its WebSocket client adapter, as a
// new user would use them), driven by the end-to-end suite against the real relay. One command per run;
// it prints one JSON line with what it saw (and `ready` first, for `watch`).
//
//   node peer.mjs find      WS_URL TOKEN DOC_URL
//   node peer.mjs write     WS_URL TOKEN DOC_URL ENTRY JSON   (puts marks[ENTRY] = ImmutableString(JSON))
//   node peer.mjs write-text WS_URL TOKEN DOC_URL ENTRY JSON  (puts a plain string: a text object)
//   node peer.mjs watch     WS_URL TOKEN DOC_URL ENTRY       (waits for marks[ENTRY] to arrive live)
//   node peer.mjs ephemeral WS_URL TOKEN DOC_URL
import { Repo, ImmutableString, cbor } from "@automerge/automerge-repo";
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";

const [command, wsUrl, token, docUrl, entry, json] = process.argv.slice(2);
// Automerge hands whole numbers kept as unsigned to JavaScript as BigInt, which JSON cannot carry.
const say = (value) =>
  console.log(JSON.stringify(value, (_, v) => (typeof v === "bigint" ? Number(v) : v)));

const adapter = new WebSocketClientAdapter(`${wsUrl}?token=${encodeURIComponent(token)}`, 60_000);
const repo = new Repo({ network: [adapter] });

// Every message the relay sends, counted and kept, read off the socket beside the adapter.
const received = [];
let closed = false;
const listen = () => {
  if (!adapter.socket) return setTimeout(listen, 5);
  adapter.socket.addEventListener("message", (event) => {
    try {
      received.push(cbor.decode(new Uint8Array(event.data)));
    } catch {
      received.push({ type: "undecodable" });
    }
  });
  adapter.socket.addEventListener("close", () => (closed = true));
};
listen();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const summary = () => ({
  messages: received.length,
  types: [...new Set(received.map((m) => m.type))],
  errors: received.filter((m) => m.type === "error").map((m) => m.message),
  closed,
});
const finish = (value) => {
  say({ ...value, ...summary() });
  process.exit(0);
};

async function find() {
  await adapter.whenReady();
  return repo.find(docUrl);
}

try {
  if (command === "find") {
    const handle = await find();
    finish({ ok: true, doc: handle.doc() });
  } else if (command === "write" || command === "write-text") {
    const handle = await find();
    handle.change((doc) => {
      doc.marks[entry] = command === "write" ? new ImmutableString(json) : json;
    });
    // Long enough for the exchange to finish, or for a refusal to arrive and close the session.
    await sleep(2_000);
    finish({ ok: !closed });
  } else if (command === "watch") {
    const handle = await find();
    say({ ready: true });
    const started = Date.now();
    while (!handle.doc().marks?.[entry]) {
      if (Date.now() - started > 20_000) finish({ ok: false, waited: Date.now() - started });
      await new Promise((resolve) => handle.once("change", resolve));
    }
    finish({ ok: true, waited: Date.now() - started, value: String(handle.doc().marks[entry]) });
  } else if (command === "ephemeral") {
    const handle = await find();
    handle.broadcast({ cursor: 3 });
    await sleep(1_000);
    // Still connected: the document can be asked for again over the same session.
    const again = await repo.find(docUrl);
    finish({ ok: !closed && again.doc() !== undefined });
  } else {
    throw new Error(`unknown command ${command}`);
  }
} catch (error) {
  finish({ ok: false, error: String(error?.message ?? error) });
}
