// Load generator of `make bench`: the official Socket.IO client, many sockets in one Node process.
//
// Usage: node loadgen.mjs '<json options>'. Prints progress lines {"event": ...} and, last, one line
// {"result": {...}}. The same code drives the bare relay (target "relay": a socket names its user) and
// the server (target "server": a socket presents its login token), with the same event names.
import { io } from "socket.io-client";
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";

const opts = JSON.parse(process.argv[2]);
const PASSWORD = "bench-password-1";
const now = () => performance.now();
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

// The runner samples the CPU time of the target and of this process at these marks.
function mark(name) {
  emit({ event: "mark", name });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function rest(name, payload, token) {
  const headers = { "content-type": "application/json" };
  if (token) headers.token = token;
  const resp = await fetch(`${opts.url}/api/${name}`, { method: "POST", headers, body: JSON.stringify(payload) });
  const body = await resp.json();
  if (body.errCode !== 0) throw new Error(`${name} failed: ${JSON.stringify(body)}`);
  return body.data;
}

// Run `fn` over `items` with at most `limit` calls in flight.
async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// Users for a scenario: registered and logged in through the REST API before any timing (server),
// or just named (relay). With `platforms` > 1 each user logs in once per platform: one token each.
async function makeUsers(prefix, count, platforms = 1) {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  if (opts.target === "relay") {
    return ids.flatMap((user_id) => Array.from({ length: platforms }, () => ({ user_id })));
  }
  await pool(ids, 8, (user_id) => rest("register", { user_id, password: PASSWORD, nickname: user_id }));
  const logins = ids.flatMap((user_id) => Array.from({ length: platforms }, (_, p) => ({ user_id, platform_id: p + 1 })));
  return pool(logins, 8, async (l) => ({ user_id: l.user_id, token: (await rest("login", { ...l, password: PASSWORD })).token }));
}

function connectOne(user) {
  const auth = opts.target === "relay" ? { user_id: user.user_id } : { token: user.token };
  return new Promise((resolve, reject) => {
    const socket = io(opts.url, { transports: ["websocket"], auth, reconnection: false, forceNew: true, timeout: 60000 });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(new Error(`connect ${user.user_id}: ${err.message}`)));
  });
}

async function connectAll(users, limit = 50) {
  const sockets = await pool(users, limit, connectOne);
  sockets.forEach((s, i) => { s.benchUser = users[i].user_id; });
  return sockets;
}

function closeAll(sockets) {
  for (const s of sockets) s.disconnect();
}

// A delivered message, whatever envelope the server wraps it in.
function messageOf(payload) {
  if (payload && payload.content) return payload;
  for (const key of ["msg", "message", "data"]) {
    if (payload && payload[key] && payload[key].content) return payload[key];
  }
  return null;
}

// Sends are numbered; the text carries the number so the receiver finds the send time.
class Tracker {
  constructor(capacity) {
    this.sentAt = new Float64Array(capacity);
    this.count = 0;
    this.latencies = [];
    this.delivered = 0;
    this.deliveredAll = 0;
    this.acked = 0;
    this.errors = 0;
    this.firstError = null;
    this.lastDeliveryAt = 0;
    this.window = [0, Infinity];
  }
  next(at = now()) {
    const id = this.count++;
    this.sentAt[id] = at;
    return id;
  }
  listen(socket, senderOf) {
    socket.on("new_message", (payload) => {
      const msg = messageOf(payload);
      const text = msg && msg.content && msg.content.text;
      if (typeof text !== "string" || !text.startsWith("bench:")) return;
      if (msg.send_id === socket.benchUser) return; // the sender's own copy is not a delivery
      const id = Number(text.slice(6));
      const t = now();
      this.lastDeliveryAt = t;
      this.deliveredAll++;
      if (t >= this.window[0] && t <= this.window[1]) {
        this.delivered++;
        this.latencies.push(t - this.sentAt[id]);
      }
    });
  }
  send(socket, target, id) {
    return new Promise((resolve) => {
      const payload = { ...target, content_type: 101, content: { text: `bench:${id}` }, client_msg_id: `${opts.run_id}-${id}` };
      socket.emit("send_message", payload, (ack) => {
        if (ack && ack.errCode === 0) this.acked++;
        else {
          this.errors++;
          this.firstError = this.firstError || ack;
        }
        resolve();
      });
    });
  }
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function latencySummary(latencies) {
  const sorted = Float64Array.from(latencies).sort();
  const r = (v) => (v === null ? null : Math.round(v * 100) / 100);
  const step = Math.max(1, Math.floor(sorted.length / 400));
  const sample = [];
  for (let i = 0; i < sorted.length; i += step) sample.push(r(sorted[i]));
  return { count: sorted.length, p50_ms: r(percentile(sorted, 50)), p99_ms: r(percentile(sorted, 99)),
           p999_ms: r(percentile(sorted, 99.9)), max_ms: r(sorted[sorted.length - 1] ?? null), sorted_sample_ms: sample };
}

async function drain(tracker, expected, timeoutMs) {
  const deadline = now() + timeoutMs;
  while (tracker.delivered < expected && now() < deadline) await sleep(20);
}

// 1. Pairs of users, each keeping `inflight` sends unacknowledged; delivered messages per second.
// Sending stops after warm-up + duration; the sends still open are then waited for (bounded by
// drain_s), and the rate is the deliveries after warm-up over the time until the last of them, so a
// server slower than the window is measured, not reported as zero.
async function throughput() {
  const users = await makeUsers(`${opts.run_id}t`, opts.users);
  const sockets = await connectAll(users);
  const tracker = new Tracker(10_000_000);
  sockets.forEach((s) => tracker.listen(s));
  mark("start");
  const start = now();
  const measureFrom = start + opts.warmup_s * 1000;
  tracker.window = [measureFrom, Infinity];
  const stopAt = start + (opts.warmup_s + opts.duration_s) * 1000;
  const loops = [];
  sockets.forEach((s, i) => {
    const peer = users[i ^ 1].user_id;
    for (let k = 0; k < opts.inflight; k++) {
      loops.push((async () => {
        while (now() < stopAt) await tracker.send(s, { recv_id: peer }, tracker.next());
      })());
    }
  });
  await Promise.race([Promise.all(loops), sleep((opts.warmup_s + opts.duration_s + opts.drain_s) * 1000)]);
  const drainUntil = now() + opts.drain_s * 1000;
  while (tracker.deliveredAll < tracker.acked && now() < drainUntil) await sleep(20);
  mark("end");
  closeAll(sockets);
  const span = (tracker.lastDeliveryAt - measureFrom) / 1000;
  return { sent: tracker.count, acked: tracker.acked, errors: tracker.errors, first_error: tracker.firstError,
           delivered_all: tracker.deliveredAll, undelivered: tracker.acked - tracker.deliveredAll,
           delivered_after_warmup: tracker.delivered, measured_s: span,
           msgs_per_s: span > 0 ? tracker.delivered / span : 0, latency: latencySummary(tracker.latencies) };
}

// One acknowledged message from each user to its partner before timing: a pair's first message also
// creates their conversation (on the server, about 2 ms each), which is not what a steady rate measures.
async function openConversations(sockets, users) {
  await Promise.all(sockets.map((s, i) => new Promise((resolve, reject) => {
    const payload = { recv_id: users[i ^ 1].user_id, content_type: 101, content: { text: "hello" } };
    s.emit("send_message", payload, (ack) => (ack && ack.errCode === 0 ? resolve() : reject(
      new Error(`opening message failed: ${JSON.stringify(ack)}`))));
  })));
}

// 2. Open loop: message k is due at start + k/rate whatever the answers; latency counts from when it
// was due, so a server that falls behind is charged for the wait (no coordinated omission). The
// conversations are opened first (openConversations).
async function fixedRate() {
  const users = await makeUsers(`${opts.run_id}f`, opts.users);
  const sockets = await connectAll(users);
  await openConversations(sockets, users);
  const tracker = new Tracker(opts.rate * opts.duration_s + 10);
  sockets.forEach((s) => tracker.listen(s));
  const total = Math.round(opts.rate * opts.duration_s);
  mark("start");
  const start = now() + 50;
  let k = 0;
  while (k < total) {
    const due = Math.min(total, Math.floor(((now() - start) / 1000) * opts.rate) + 1);
    while (k < due) {
      const i = k % sockets.length;
      const id = tracker.next(start + (k / opts.rate) * 1000);
      tracker.send(sockets[i], { recv_id: users[i ^ 1].user_id }, id);
      k++;
    }
    await sleep(1);
  }
  const sendSpan = now() - start;
  await drain(tracker, total, opts.drain_s * 1000);
  mark("end");
  closeAll(sockets);
  return { offered_per_s: opts.rate, sent: total, send_span_s: sendSpan / 1000, acked: tracker.acked,
           errors: tracker.errors, first_error: tracker.firstError, delivered: tracker.delivered,
           lost_or_late: total - tracker.delivered, latency: latencySummary(tracker.latencies) };
}

// 3. One sender, a group of `members` (the sender included), `messages` sends with `inflight` open.
async function fanout() {
  const users = await makeUsers(`${opts.run_id}g`, opts.members);
  const [owner, ...others] = users;
  const ownerSocket = (await connectAll([owner]))[0];
  const created = await new Promise((resolve) => ownerSocket.emit("create_group",
    { group_name: "bench", member_user_ids: others.map((u) => u.user_id) }, resolve));
  if (!created || created.errCode !== 0) throw new Error(`create_group failed: ${JSON.stringify(created)}`);
  const groupId = created.data.group_id ?? created.data.group?.group_id ?? created.data.group_info?.group_id;
  const memberSockets = await connectAll(others);
  const tracker = new Tracker(opts.messages + 10);
  memberSockets.forEach((s) => tracker.listen(s));
  await sleep(300); // let the join notifications of the creation settle before timing
  const expected = opts.messages * others.length;
  mark("start");
  const start = now();
  let k = 0;
  await Promise.all(Array.from({ length: opts.inflight }, async () => {
    while (k < opts.messages) {
      k++;
      await tracker.send(ownerSocket, { group_id: groupId }, tracker.next());
    }
  }));
  await drain(tracker, expected, opts.drain_s * 1000);
  mark("end");
  const span = (tracker.lastDeliveryAt - start) / 1000;
  closeAll([ownerSocket, ...memberSockets]);
  return { members: users.length, messages: opts.messages, expected_deliveries: expected,
           delivered: tracker.delivered, acked: tracker.acked, errors: tracker.errors, first_error: tracker.firstError,
           last_delivery_s: span, deliveries_per_s: tracker.delivered / span, latency: latencySummary(tracker.latencies) };
}

// 4. Idle sockets: connect them all, say so, hold them until the runner has read the server's memory.
async function connections() {
  const perUser = opts.platforms;
  const users = await makeUsers(`${opts.run_id}c`, Math.ceil(opts.sockets / perUser), perUser);
  emit({ event: "users_ready" });
  await waitLine();
  mark("start");
  const start = now();
  const sockets = await connectAll(users.slice(0, opts.sockets), opts.connect_concurrency);
  const connectS = (now() - start) / 1000;
  mark("end");
  emit({ event: "connected", connect_s: connectS });
  await waitLine();
  const stillConnected = sockets.filter((s) => s.connected).length;
  closeAll(sockets);
  return { sockets: sockets.length, still_connected: stillConnected, connect_s: connectS,
           connects_per_s: sockets.length / connectS };
}

// 5 (setup). Each of `senders` users sends `per_sender` messages to `target_user`, who has no socket.
async function preloadOffline() {
  const senders = await makeUsers(`${opts.run_id}s`, opts.senders);
  const sockets = await connectAll(senders);
  const tracker = new Tracker(opts.senders * opts.per_sender + 10);
  const start = now();
  await Promise.all(sockets.map(async (s) => {
    for (let k = 0; k < opts.per_sender; k++) await tracker.send(s, { recv_id: opts.target_user }, tracker.next());
  }));
  const spanS = (now() - start) / 1000;
  closeAll(sockets);
  return { sent: tracker.count, acked: tracker.acked, errors: tracker.errors, first_error: tracker.firstError,
           preload_s: spanS, sends_per_s: tracker.acked / spanS };
}

let lines = null;
function waitLine() {
  if (!lines) {
    lines = [];
    const rl = createInterface({ input: process.stdin });
    rl.on("line", (l) => { const w = lines.waiter; lines.waiter = null; if (w) w(l); else lines.push(l); });
  }
  if (lines.length) return Promise.resolve(lines.shift());
  return new Promise((resolve) => { lines.waiter = resolve; });
}

const SCENARIOS = { throughput, fixed_rate: fixedRate, fanout, connections, preload_offline: preloadOffline };

try {
  const result = await SCENARIOS[opts.scenario]();
  emit({ result });
  process.exit(0);
} catch (err) {
  emit({ error: String(err && err.stack || err) });
  process.exit(1);
}
