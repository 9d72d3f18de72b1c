// JavaScript SDK of the IM server: the Python SDK's calls in camelCase, OpenIM's listeners and
// status codes, promises instead of blocking calls. An ES module with no build step; it needs only
// the vendored Socket.IO client and can be used by any web app on its own.
import { io } from "../vendor/socket.io/socket.io.esm.min.js";

export const LoginStatus = Object.freeze({ LOGGED_IN: 101, LOGGING_IN: 102, LOGIN_FAILED: 103, LOGGED_OUT: 201 });

// Client-side codes, the same as the Python SDK's (im/sdk/errors.py).
export const ErrorCode = Object.freeze({ NETWORK_ERROR: 10001, TIMEOUT: 10002, NOT_LOGGED_IN: 10003, ALREADY_LOGGED_IN: 10004 });

// Calls that may be sent again over REST when the socket drops before their answer (the Python SDK's
// im/sdk/calls.py keeps the same list): reads, logout, and a send carrying its client_msg_id (the
// server answers a repeated one with the message it stored first).
const READ_PREFIXES = ["get_", "search_", "check_"];
const REPEATABLE = new Set(["sync_events", "pull_messages", "error_codes", "logout"]);
export function retrySafe(name, payload = {}) {
  if (name === "send_message") return Boolean(payload && payload.client_msg_id);
  return REPEATABLE.has(name) || READ_PREFIXES.some((prefix) => name.startsWith(prefix));
}

// Platform ids (OpenIM's); a browser is Web.
export const Platform = Object.freeze({ IOS: 1, ANDROID: 2, WINDOWS: 3, MACOS: 4, WEB: 5, MINI_WEB: 6, LINUX: 7, ANDROID_PAD: 8, IPAD: 9, ADMIN: 10 });

// Message content types (OpenIM's numbers).
export const ContentType = Object.freeze({ TEXT: 101, PICTURE: 102, FILE: 105, AT_TEXT: 106, CUSTOM: 110, TYPING: 113, QUOTE: 114 });

export const GroupRole = Object.freeze({ OWNER: 100, ADMIN: 60, MEMBER: 20 });

// Conversation ids (docs/protocol.md). "~" is outside the user-id alphabet, so no two pairs share an id;
// user ids are ASCII, so "<" orders them by code point as the server does. Prefer the ids the server
// answers with (getOneConversation({ userId }), messages, the list); these are for looking one up locally.
export function singleConversationId(a, b) {
  return a < b ? `si_${a}~${b}` : `si_${b}~${a}`;
}

export function groupConversationId(groupId) {
  return `sg_${groupId}`;
}

// Connect refusals after which retrying with the same token is pointless (as in im/sdk/core.py).
const TOKEN_EXPIRED = 1501;
const TOKEN_DEAD = new Set([1500, 1501, 1502, 1503, 1506, 1507]);
const TOKEN_KICKED = new Set([1502, 1506]);
const PULL_RANGES_PER_CALL = 200;
const SEND_ATTEMPTS = 3;

export class IMError extends Error {
  constructor(code, message, data = null) {
    super(`[${code}] ${message}`);
    this.name = "IMError";
    this.code = code;
    this.errMsg = message;
    this.data = data;
  }
}

// Event-log type -> [listener slot, callback]: the type is the callback name without "on"
// (friend_added -> onFriendAdded), as in the Python SDK's EVENT_ROUTES.
// "c2c" is written C2C, as in OpenIM's JS SDK (onRecvC2CReadReceipt).
const callbackName = (type) => "on" + type.replace(/(^|_)([a-z0-9]+)/g, (_, __, w) => (w === "c2c" ? "C2C" : w[0].toUpperCase() + w.slice(1)));
const ROUTED_TYPES = {
  friend: ["friend_application_added", "friend_application_deleted", "friend_application_accepted",
    "friend_application_rejected", "friend_added", "friend_deleted", "friend_info_changed", "black_added", "black_deleted"],
  group: ["joined_group_added", "joined_group_deleted",
    "group_application_added", "group_application_deleted", "group_application_accepted",
    "group_application_rejected", "group_info_changed", "group_dismissed"],
  // The total unread count is not logged: it comes as the socket event total_unread_message_count_changed.
  conversation: ["new_conversation", "conversation_changed"],
  advancedMsg: ["recv_c2c_read_receipt", "new_recv_message_revoked", "msg_deleted"],
  user: ["self_info_updated"],
};
export const EVENT_ROUTES = {};
for (const [slot, types] of Object.entries(ROUTED_TYPES)) {
  for (const type of types) EVENT_ROUTES[type] = [slot, callbackName(type)];
}

// Changes to members reach every member as one notice in the group conversation (by seq, live and
// on catch-up alike), not as events in each member's log: content type -> the group callback of each
// record in the notice's detail.members (as in the Python SDK's MEMBER_NOTICES).
export const MEMBER_NOTICES = Object.freeze({
  1509: "onGroupMemberAdded", 1510: "onGroupMemberAdded",
  1504: "onGroupMemberDeleted", 1508: "onGroupMemberDeleted",
  1507: "onGroupMemberInfoChanged", 1512: "onGroupMemberInfoChanged", 1513: "onGroupMemberInfoChanged",
  1516: "onGroupMemberInfoChanged", 1517: "onGroupMemberInfoChanged", 1518: "onGroupMemberInfoChanged",
});
const KICKED_NOTICE = 1508;

// A call about many applications tells the managers in one event that lists them: event type -> the
// group callback of each application in it (as the Python SDK's APPLICATION_BATCHES).
export const APPLICATION_BATCHES = Object.freeze({
  group_applications_added: ["onGroupApplicationAdded",
    (data) => data.from_user_ids.map((uid) => ({ ...data.application, from_user_id: uid }))],
  group_applications_deleted: ["onGroupApplicationDeleted", (data) => data.applications],
});

// The server's events this SDK handles, checked against the server's declarations (im/event_types.py):
// the socket events it listens to (see _openSocket and _socketHandlers) and the event-log types it routes.
export const HANDLED_EVENTS = Object.freeze({
  socket: Object.freeze(["event", "kicked_offline", "token_expired", "new_message", "total_unread_message_count_changed"]),
  log: Object.freeze([...Object.keys(EVENT_ROUTES), ...Object.keys(APPLICATION_BATCHES)]),
});

const snake = (key) => key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());

// Drop undefined values so the server applies its defaults; the server refuses unknown fields.
function params(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}

function newClientMsgId() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
  return Date.now().toString(16) + Math.random().toString(16).slice(2);
}

export class IMClient {
  /**
   * initSDK. `serverUrl` is the server's origin ("" = the page's own); `storage` (e.g. localStorage)
   * keeps the last processed event seq per user across page loads.
   */
  constructor(serverUrl = "", { platformId = Platform.WEB, timeout = 10000, maxBackoff = 8000, storage = null, transports } = {}) {
    this.serverUrl = String(serverUrl).replace(/\/+$/, "");
    this.platformId = platformId;
    this.timeout = timeout;
    this.maxBackoff = maxBackoff;
    this.storage = storage;
    this.transports = transports;
    this._status = LoginStatus.LOGGED_OUT;
    this._listeners = {};
    this._socket = null;
    this._token = null;
    this._userId = null;
    this._generation = 0;
    this._eventSeq = null;
    this._eventBuffer = new Map();
    this._pulling = null;
    this._callbackChain = Promise.resolve();
    this._conversationSeqs = new Map();
    // Per user, what this instance has handed over: logging in again as the same user catches up
    // on what happened meanwhile instead of starting afresh (the Python SDK does the same).
    this._eventSeqMemory = new Map();
    this._msgSeen = new Map();
    this._ownSends = new Set();
    this._loggingOut = false;
    this._changedIds = new Set();
    this._reporting = null;
    this._msgSyncing = null;
    this._msgResync = false;
    this._seqBaseline = false;
  }

  // ---- listeners ------------------------------------------------------------------------

  setConnListener(listener) { this._listeners.conn = listener; }
  setFriendListener(listener) { this._listeners.friend = listener; }
  setGroupListener(listener) { this._listeners.group = listener; }
  setConversationListener(listener) { this._listeners.conversation = listener; }
  setAdvancedMsgListener(listener) { this._listeners.advancedMsg = listener; }
  setUserListener(listener) { this._listeners.user = listener; }

  // Callbacks run one at a time, in order, after the current call stack; a throwing callback is
  // reported and does not stop the SDK.
  _emitCallback(slot, method, ...args) {
    const listener = this._listeners[slot];
    if (!listener || typeof listener[method] !== "function") return;
    this._callbackChain = this._callbackChain.then(() => listener[method](...args)).catch((err) => {
      queueMicrotask(() => { throw err; });
    });
  }

  // ---- login state ----------------------------------------------------------------------

  getLoginStatus() { return this._status; }
  getLoginUser() { return this._userId; }
  getToken() { return this._token; }

  register(userId, password, nickname, faceUrl = "") {
    return this._rest("register", { user_id: userId, password, nickname, face_url: faceUrl });
  }

  /** Sign in and connect; resolves once connected and caught up. */
  async login(userId, password) {
    this._beginLogin();
    const generation = this._generation;
    let data;
    try {
      data = await this._rest("login", { user_id: userId, password, platform_id: this.platformId });
    } catch (err) {
      this._status = LoginStatus.LOGIN_FAILED;
      throw err;
    }
    await this._startSession(generation, userId, data.token, data.event_seq);
    return data;
  }

  /**
   * Continue a session whose token this terminal already holds (a reloaded page, another tab of the
   * same browser). It connects with the same token, so it never kicks anybody.
   */
  async loginWithToken(userId, token) {
    this._beginLogin();
    const generation = this._generation;
    let serverSeq;
    try {
      serverSeq = (await this._rest("sync_events", { after_seq: null, limit: 1 }, token)).max_seq;
    } catch (err) {
      this._status = LoginStatus.LOGIN_FAILED;
      throw err;
    }
    await this._startSession(generation, userId, token, serverSeq);
    return { user_id: userId, token, event_seq: serverSeq };
  }

  _beginLogin() {
    if (this._status === LoginStatus.LOGGED_IN || this._status === LoginStatus.LOGGING_IN) {
      throw new IMError(ErrorCode.ALREADY_LOGGED_IN, "already logged in; log out first");
    }
    this._status = LoginStatus.LOGGING_IN;
    this._generation += 1;
  }

  async _startSession(generation, userId, token, serverSeq) {
    this._token = token;
    this._userId = userId;
    this._eventSeq = this._rememberedSeq(userId, serverSeq);
    this._eventBuffer.clear();
    // Remember the starting point now: a terminal that leaves before hearing any event must still
    // catch up from here next time.
    this._rememberSeq();
    const seen = this._msgSeen.get(userId);
    this._seqBaseline = Boolean(seen);
    this._conversationSeqs = seen || new Map();
    this._emitCallback("conn", "onConnecting");
    let current;
    try {
      current = await this._openSocket(token, generation);
    } catch (err) {
      this._emitCallback("conn", "onConnectFailed", err.code, err.errMsg);
      if (generation === this._generation) {
        this._status = LoginStatus.LOGIN_FAILED;
        this._token = null;
      }
      throw err;
    }
    if (!current || generation !== this._generation) return; // ended (kicked, closed) while connecting
    this._status = LoginStatus.LOGGED_IN;
    this._emitCallback("conn", "onConnectSuccess");
    await this._catchUp();
  }

  /** Revoke the token on the server and close the connection. */
  async logout() {
    if (this._status !== LoginStatus.LOGGED_IN) throw new IMError(ErrorCode.NOT_LOGGED_IN, "not logged in");
    const generation = this._generation;
    // Nothing else goes out with a token that is about to be revoked.
    this._changedIds.clear();
    this._loggingOut = true;
    try {
      await this._call("logout");
    } catch (err) {
      console.warn("logout on the server failed; closing locally", err);
    } finally {
      this._loggingOut = false;
    }
    this._endSession(null, {}, generation);
  }

  /** Replace the password; this session stays signed in, the user's other sessions are revoked. */
  changePassword(oldPassword, newPassword) {
    return this._call("change_password", { old_password: oldPassword, new_password: newPassword });
  }

  /** Drop the connection without logging out on the server. */
  close() {
    this._status = LoginStatus.LOGGED_OUT;
    this._generation += 1;
    this._closeSocket();
  }

  // ---- calls ----------------------------------------------------------------------------

  async _rest(name, payload = {}, token = null) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers.token = token;
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), this.timeout);
    let resp;
    try {
      resp = await fetch(`${this.serverUrl}/api/${name}`, { method: "POST", headers, body: JSON.stringify(payload), signal: ctrl.signal });
    } catch (err) {
      if (err && err.name === "AbortError") throw new IMError(ErrorCode.TIMEOUT, `${name}: timed out`);
      throw new IMError(ErrorCode.NETWORK_ERROR, `${name}: ${err}`);
    } finally {
      clearTimeout(timer);
    }
    let body;
    try {
      body = await resp.json();
    } catch (err) {
      throw new IMError(ErrorCode.NETWORK_ERROR, `${name}: HTTP ${resp.status} without JSON`);
    }
    return IMClient._unwrap(body);
  }

  static _unwrap(body) {
    if (!body || typeof body !== "object" || !("errCode" in body)) throw new IMError(ErrorCode.NETWORK_ERROR, "malformed answer");
    if (body.errCode !== 0) throw new IMError(body.errCode, body.errMsg || "", body.data ?? null);
    return body.data ?? null;
  }

  /** Call an operation: over the socket when connected, else over REST with the token. */
  async _call(name, payload = {}) {
    const token = this._token;
    if (token === null) throw new IMError(ErrorCode.NOT_LOGGED_IN, "not logged in");
    const socket = this._socket;
    if (socket && socket.connected) {
      let answer;
      try {
        answer = await socket.timeout(this.timeout).emitWithAck(name, payload);
      } catch (err) {
        if (socket.connected) throw new IMError(ErrorCode.TIMEOUT, `${name}: no answer within ${this.timeout} ms`);
        // Dropped while waiting: retry over REST, unless the session itself ended (kicked, logged out)
        // or the call may already have taken effect and is not safe to make twice.
        if (this._token !== token) throw new IMError(ErrorCode.NOT_LOGGED_IN, `${name}: the session ended`);
        if (!retrySafe(name, payload)) {
          throw new IMError(ErrorCode.NETWORK_ERROR,
            `${name}: the connection dropped before the answer; the call may or may not have taken effect`);
        }
        return this._rest(name, payload, token);
      }
      return IMClient._unwrap(answer);
    }
    return this._rest(name, payload, token);
  }

  // ---- connection -----------------------------------------------------------------------

  // Every login (and every close or end of a session) bumps the generation. A socket, a reconnect
  // loop and a logout belong to the generation they started in: a late close, refusal or event of
  // an old login (its token revoked by the logout that ended it) must never touch the next one.

  /** Connect with `token`; resolves whether the socket became this client's (a session ended
   * meanwhile gets it closed instead), rejects with the server's code when refused. */
  _openSocket(token, generation) {
    return new Promise((resolve, reject) => {
      const options = { auth: { token }, reconnection: false, forceNew: true, timeout: this.timeout };
      if (this.transports) options.transports = this.transports;
      const socket = io(this.serverUrl || undefined, options);
      const fail = (err) => {
        socket.off();
        socket.disconnect();
        const data = err && err.data;
        const envelope = data && typeof data.errCode === "number" ? data : data && data.data;
        if (envelope && envelope.errCode) reject(new IMError(envelope.errCode, envelope.errMsg || "refused", envelope.data ?? null));
        else reject(new IMError(ErrorCode.NETWORK_ERROR, `connect failed: ${err && err.message}`));
      };
      socket.once("connect_error", fail);
      socket.once("connect", () => {
        socket.off("connect_error", fail);
        if (generation !== this._generation || this._status === LoginStatus.LOGGED_OUT) {
          socket.off();
          socket.disconnect();
          resolve(false);
          return;
        }
        this._socket = socket;
        const current = (handler) => (...args) => { if (generation === this._generation) handler(...args); };
        socket.on("disconnect", () => this._onDisconnect(socket, generation));
        socket.on("kicked_offline", (data) => this._endSession("kicked", data || {}, generation));
        socket.on("token_expired", () => this._endSession("expired", {}, generation));
        socket.on("event", current((event) => this._onUserEvent(event)));
        for (const [name, handler] of Object.entries(this._socketHandlers())) socket.on(name, current(handler));
        resolve(true);
      });
    });
  }

  _onDisconnect(socket, generation) {
    if (generation !== this._generation || socket !== this._socket || this._status !== LoginStatus.LOGGED_IN) return;
    this._socket = null;
    this._reconnect(generation);
  }

  async _reconnect(generation) {
    let delay = 250;
    for (;;) {
      if (generation !== this._generation || this._status !== LoginStatus.LOGGED_IN) return;
      this._emitCallback("conn", "onConnecting");
      let current;
      try {
        current = await this._openSocket(this._token, generation);
      } catch (err) {
        // The refusal of a token that a logout since revoked says nothing of the login after it.
        if (generation !== this._generation) return;
        this._emitCallback("conn", "onConnectFailed", err.code, err.errMsg);
        if (TOKEN_DEAD.has(err.code)) {
          // A revoked token's refusal names why (logout in another tab, a password change ...), as
          // kicked_offline would have, had this socket been connected when it happened.
          this._endSession(err.code === TOKEN_EXPIRED ? "expired" : TOKEN_KICKED.has(err.code) ? "kicked" : null,
                           { reason: (err.data && err.data.reason) || "kicked" }, generation);
          return;
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, this.maxBackoff);
        continue;
      }
      if (!current) return;
      this._emitCallback("conn", "onConnectSuccess");
      await this._catchUp();
      return;
    }
  }

  /** Logged out, kicked or expired: only for the login of `generation`, an older one's news is stale. */
  _endSession(why, info, generation) {
    if (generation !== this._generation || this._status === LoginStatus.LOGGED_OUT) return;
    this._status = LoginStatus.LOGGED_OUT;
    this._generation += 1;
    this._token = null;
    if (why === "kicked") this._emitCallback("conn", "onKickedOffline", info);
    else if (why === "expired") this._emitCallback("conn", "onUserTokenExpired");
    this._closeSocket();
  }

  _closeSocket() {
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.off();
      socket.disconnect();
    }
  }

  // ---- the user event log ---------------------------------------------------------------

  /** Deliver log events exactly once, in seq order; a gap triggers a pull of what is missing. */
  _onUserEvent(event) {
    if (this._eventSeq === null || !event || typeof event !== "object") return;
    const seq = event.seq || 0;
    if (seq <= this._eventSeq) return;
    if (seq > this._eventSeq + 1) {
      this._eventBuffer.set(seq, event);
      this._pullEvents();
      return;
    }
    this._deliverEvent(event);
    while (this._eventBuffer.has(this._eventSeq + 1)) {
      const next = this._eventBuffer.get(this._eventSeq + 1);
      this._eventBuffer.delete(this._eventSeq + 1);
      this._deliverEvent(next);
    }
    this._rememberSeq();
  }

  _deliverEvent(event) {
    this._eventSeq = event.seq;
    const batch = APPLICATION_BATCHES[event.type];
    if (batch) {
      let applications;
      try {
        applications = batch[1](event.data);
      } catch (err) {
        console.warn(`malformed ${event.type} event`, event.seq, err);
        return;
      }
      for (const application of applications) {
        if (application && typeof application === "object") this._emitCallback("group", batch[0], application);
      }
      return;
    }
    const route = EVENT_ROUTES[event.type];
    if (route) this._emitCallback(route[0], route[1], event.data);
  }

  /** Fetch the log from the last delivered seq until the newest; one pull at a time. */
  _pullEvents() {
    if (this._pulling) return this._pulling;
    this._pulling = (async () => {
      try {
        for (;;) {
          const after = this._eventSeq;
          if (after === null) return;
          const page = await this._call("sync_events", { after_seq: after });
          if (page.resync_required) {
            this._eventSeq = page.max_seq;
            this._eventBuffer.clear();
            this._rememberSeq();
            this._emitCallback("conn", "onResyncRequired");
            return;
          }
          for (const event of page.events) this._onUserEvent(event);
          if (!page.has_more) return;
        }
      } catch (err) {
        console.warn("event catch-up failed", err);
      } finally {
        this._pulling = null;
      }
    })();
    return this._pulling;
  }

  async _catchUp() {
    await this._pullEvents();
    try {
      await this._syncMessages();
    } catch (err) {
      if (!(err instanceof IMError)) throw err;
      console.warn("message catch-up failed", err);
    }
    await this._syncTotalUnread();
  }

  _seqKey(userId) { return `im.event_seq.${userId}`; }

  _rememberedSeq(userId, serverSeq) {
    if (this._eventSeqMemory.has(userId)) return Math.min(this._eventSeqMemory.get(userId), serverSeq);
    if (!this.storage) return serverSeq;
    const stored = Number.parseInt(this.storage.getItem(this._seqKey(userId)) ?? "", 10);
    return Number.isFinite(stored) && stored <= serverSeq ? stored : serverSeq;
  }

  _rememberSeq() {
    if (this._userId !== null && this._eventSeq !== null) this._eventSeqMemory.set(this._userId, this._eventSeq);
    if (this.storage && this._userId !== null && this._eventSeq !== null) {
      this.storage.setItem(this._seqKey(this._userId), String(this._eventSeq));
    }
  }

  // ---- users ----------------------------------------------------------------------------

  getSelfUserInfo() { return this._call("get_self_user_info"); }
  getUsersInfo(userIds) { return this._call("get_users_info", { user_ids: [...userIds] }); }
  setSelfInfo({ nickname, faceUrl } = {}) { return this._call("set_self_info", params({ nickname, face_url: faceUrl })); }
  getUsersOnlineStatus(userIds) { return this._call("get_users_online_status", { user_ids: [...userIds] }); }
  syncEvents(afterSeq = null, limit) { return this._call("sync_events", params({ after_seq: afterSeq, limit })); }

  // ---- friends and blacklist ------------------------------------------------------------

  getDesignatedFriendsInfo(userIds) { return this._call("get_designated_friends_info", { user_ids: [...userIds] }); }
  getFriendList() { return this._call("get_friend_list"); }
  searchFriends(keyword, { searchUserId = true, searchNickname = true, searchRemark = true } = {}) {
    return this._call("search_friends", { keyword, search_user_id: searchUserId, search_nickname: searchNickname, search_remark: searchRemark });
  }
  checkFriend(userIds) { return this._call("check_friend", { user_ids: [...userIds] }); }
  addFriend(toUserId, reqMsg = "") { return this._call("add_friend", { to_user_id: toUserId, req_msg: reqMsg }); }
  setFriendRemark(userId, remark) { return this._call("set_friend_remark", { user_id: userId, remark }); }
  deleteFriend(userId) { return this._call("delete_friend", { user_id: userId }); }
  getRecvFriendApplicationList() { return this._call("get_recv_friend_application_list"); }
  getSendFriendApplicationList() { return this._call("get_send_friend_application_list"); }
  acceptFriendApplication(fromUserId, handleMsg = "") { return this._call("accept_friend_application", { from_user_id: fromUserId, handle_msg: handleMsg }); }
  refuseFriendApplication(fromUserId, handleMsg = "") { return this._call("refuse_friend_application", { from_user_id: fromUserId, handle_msg: handleMsg }); }
  deleteFriendApplication(toUserId) { return this._call("delete_friend_application", { to_user_id: toUserId }); }
  addBlack(userId) { return this._call("add_black", { user_id: userId }); }
  removeBlack(userId) { return this._call("remove_black", { user_id: userId }); }
  getBlackList() { return this._call("get_black_list"); }

  // ---- messages -------------------------------------------------------------------------

  /**
   * Send to a user (`recvId`) or a group (`groupId`). A client_msg_id is made when none is given,
   * and a send that times out or fails on the network is retried (3 tries in all) with the same id,
   * so it is stored once.
   */
  async sendMessage({ recvId, groupId, contentType, content, clientMsgId } = {}) {
    const payload = params({ recv_id: recvId, group_id: groupId, content_type: contentType, content, client_msg_id: clientMsgId || newClientMsgId() });
    this._ownSends.add(payload.client_msg_id);
    if (this._ownSends.size > 1000) this._ownSends.delete(this._ownSends.values().next().value);
    let msg;
    let delay = 500;
    for (let attempt = 1; ; attempt += 1) {
      try {
        msg = await this._call("send_message", payload);
        break;
      } catch (err) {
        const transient = err instanceof IMError && (err.code === ErrorCode.NETWORK_ERROR || err.code === ErrorCode.TIMEOUT);
        if (!transient || attempt >= SEND_ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
      }
    }
    this._noteSeq(msg.conversation_id, msg.seq);
    this._conversationsChanged([msg.conversation_id]);
    return msg;
  }
  sendTextMessage(recvId, text) { return this.sendMessage({ recvId, contentType: ContentType.TEXT, content: { text } }); }
  getHistoryMessageList(conversationId, { startSeq, count = 20 } = {}) {
    return this._call("get_history_message_list", params({ conversation_id: conversationId, start_seq: startSeq, count }));
  }
  /** A page of matches, newest first; while has_more, pass its cursor for the next page (a page may be
   * short, even empty, and still have more: the server bounds each call's work). */
  searchMessages(keyword, conversationId, { cursor, count, sendId, contentTypes, startTime, endTime } = {}) {
    return this._call("search_messages", params({
      keyword, conversation_id: conversationId, cursor, count, send_id: sendId, content_types: contentTypes,
      start_time: startTime, end_time: endTime,
    }));
  }
  revokeMessage(conversationId, { clientMsgId, seq } = {}) {
    return this._call("revoke_message", params({ conversation_id: conversationId, client_msg_id: clientMsgId, seq }));
  }
  deleteMessage(conversationId, seq) { return this._call("delete_message", { conversation_id: conversationId, seq }); }
  typingStatusUpdate(recvId, msgTip) { return this._call("typing_status_update", { recv_id: recvId, msg_tip: msgTip }); }
  markConversationMessageAsRead(conversationId) { return this._call("mark_conversation_message_as_read", { conversation_id: conversationId }); }

  /**
   * Upload a picture or file over HTTP (multipart field `file`) with progress reports
   * `onProgress(loaded, total)`; resolves with what the server answers (url, name, size, ...).
   */
  uploadFile(file, { onProgress, name } = {}) {
    const token = this._token;
    if (token === null) return Promise.reject(new IMError(ErrorCode.NOT_LOGGED_IN, "not logged in"));
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${this.serverUrl}/api/upload`);
      xhr.setRequestHeader("token", token);
      xhr.responseType = "json";
      xhr.timeout = Math.max(this.timeout, 120000);
      if (onProgress) xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size));
      xhr.addEventListener("load", () => {
        try { resolve(IMClient._unwrap(xhr.response)); } catch (err) { reject(err); }
      });
      xhr.addEventListener("error", () => reject(new IMError(ErrorCode.NETWORK_ERROR, "upload failed")));
      xhr.addEventListener("timeout", () => reject(new IMError(ErrorCode.TIMEOUT, "upload timed out")));
      const form = new FormData();
      form.append("file", file, name || file.name || "file");
      xhr.send(form);
    });
  }

  /** The bytes of an uploaded file (`url` as found in a message), as a Blob. */
  async downloadFile(url) {
    const token = this._token;
    if (token === null) throw new IMError(ErrorCode.NOT_LOGGED_IN, "not logged in");
    let resp;
    try {
      resp = await fetch(new URL(url, this.serverUrl || location.href), { headers: { token } });
    } catch (err) {
      throw new IMError(ErrorCode.NETWORK_ERROR, `download: ${err}`);
    }
    if (!resp.ok) {
      let body = null;
      try { body = await resp.json(); } catch { body = null; }
      if (body && typeof body.errCode === "number") IMClient._unwrap(body);
      throw new IMError(ErrorCode.NETWORK_ERROR, `download: HTTP ${resp.status}`);
    }
    return resp.blob();
  }

  // ---- conversations --------------------------------------------------------------------
  //
  // A conversation is the server's object (docs/protocol.md). Its read state: `has_read_seq` (how far
  // I have read) and, one-to-one, `peer_has_read_seq` (how far the peer has read my messages, what the
  // last onRecvC2CReadReceipt said), so read marks can be drawn right after a reload.

  getAllConversationList() { return this._call("get_all_conversation_list"); }
  getConversationListSplit(offset, count) { return this._call("get_conversation_list_split", { offset, count }); }
  getMultipleConversation(conversationIds) { return this._call("get_multiple_conversation", { conversation_ids: [...conversationIds] }); }
  /** By id, or `{ userId }`: the one-to-one conversation with that user, created empty if needed. */
  getOneConversation(idOrPeer) {
    if (idOrPeer && typeof idOrPeer === "object") return this._call("get_one_conversation", { user_id: idOrPeer.userId });
    return this._call("get_one_conversation", { conversation_id: idOrPeer });
  }
  pinConversation(conversationId, isPinned) { return this._call("pin_conversation", { conversation_id: conversationId, is_pinned: isPinned }); }
  setConversationRecvMessageOpt(conversationId, opt) { return this._call("set_conversation_recv_message_opt", { conversation_id: conversationId, opt }); }
  setConversationDraft(conversationId, text) { return this._call("set_conversation_draft", { conversation_id: conversationId, text }); }
  deleteConversation(conversationId) { return this._call("delete_conversation", { conversation_id: conversationId }); }
  getTotalUnreadMsgCount() { return this._call("get_total_unread_msg_count"); }

  /** The server pushes the total whenever it changes; what changed while away is asked once, here. */
  _onTotalUnread(data) {
    if (!data || !Number.isInteger(data.total)) return;
    this._unreadPushes = (this._unreadPushes || 0) + 1;
    this._emitCallback("conversation", "onTotalUnreadMessageCountChanged", data.total);
  }

  async _syncTotalUnread() {
    const heard = this._unreadPushes || 0;
    try {
      const total = await this.getTotalUnreadMsgCount();
      // A push heard meanwhile is newer than this answer.
      if (heard === (this._unreadPushes || 0)) this._emitCallback("conversation", "onTotalUnreadMessageCountChanged", total);
    } catch (err) {
      if (!(err instanceof IMError)) throw err;
      console.warn("total unread count after connect failed", err);
    }
  }

  // ---- groups ---------------------------------------------------------------------------

  createGroup({ groupName, memberUserIds = [], adminUserIds = [], faceUrl = "", introduction = "", notification = "", needVerification = 0 }) {
    return this._call("create_group", {
      group_name: groupName, member_user_ids: [...memberUserIds], admin_user_ids: [...adminUserIds],
      face_url: faceUrl, introduction, notification, need_verification: needVerification,
    });
  }
  getJoinedGroupList() { return this._call("get_joined_group_list"); }
  getGroupsInfo(groupIds) { return this._call("get_groups_info", { group_ids: [...groupIds] }); }
  setGroupInfo(groupId, fields = {}) {
    const out = { group_id: groupId };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[snake(k)] = v;
    return this._call("set_group_info", out);
  }
  joinGroup(groupId, reqMsg = "") { return this._call("join_group", { group_id: groupId, req_msg: reqMsg }); }
  quitGroup(groupId) { return this._call("quit_group", { group_id: groupId }); }
  dismissGroup(groupId) { return this._call("dismiss_group", { group_id: groupId }); }
  inviteUserToGroup(groupId, userIds) { return this._call("invite_user_to_group", { group_id: groupId, user_ids: [...userIds] }); }
  kickGroupMember(groupId, userIds, reason = "") { return this._call("kick_group_member", { group_id: groupId, user_ids: [...userIds], reason }); }
  transferGroupOwner(groupId, newOwnerId) { return this._call("transfer_group_owner", { group_id: groupId, new_owner_id: newOwnerId }); }
  setGroupMemberRoleLevel(groupId, userId, roleLevel) { return this._call("set_group_member_role_level", { group_id: groupId, user_id: userId, role_level: roleLevel }); }
  setGroupMemberNickname(groupId, userId, nickname) { return this._call("set_group_member_nickname", { group_id: groupId, user_id: userId, nickname }); }
  changeGroupMute(groupId, isMute) { return this._call("change_group_mute", { group_id: groupId, is_mute: isMute }); }
  changeGroupMemberMute(groupId, userId, muteSeconds) { return this._call("change_group_member_mute", { group_id: groupId, user_id: userId, mute_seconds: muteSeconds }); }
  getGroupMemberList(groupId, offset = 0, count = 100) { return this._call("get_group_member_list", { group_id: groupId, offset, count }); }
  getGroupMembersInfo(groupId, userIds) { return this._call("get_group_members_info", { group_id: groupId, user_ids: [...userIds] }); }
  getRecvGroupApplicationList() { return this._call("get_recv_group_application_list"); }
  getSendGroupApplicationList() { return this._call("get_send_group_application_list"); }
  acceptGroupApplication(groupId, fromUserId, handleMsg = "") { return this._call("accept_group_application", { group_id: groupId, from_user_id: fromUserId, handle_msg: handleMsg }); }
  refuseGroupApplication(groupId, fromUserId, handleMsg = "") { return this._call("refuse_group_application", { group_id: groupId, from_user_id: fromUserId, handle_msg: handleMsg }); }

  // ---- message delivery and offline sync ------------------------------------------------
  //
  // Messages are not in the user's event log: they arrive as `new_message` socket events and are
  // caught up per conversation by seq. The SDK keeps the highest seq it has handed out per
  // conversation; a larger jump (a gap) or a reconnect pulls the missing ranges, so each message
  // reaches onRecvNewMessage exactly once, in seq order within its conversation.

  _socketHandlers() {
    return {
      new_message: (msg) => this._onNewMessage(msg),
      total_unread_message_count_changed: (data) => this._onTotalUnread(data),
    };
  }

  _noteSeq(conversationId, seq) {
    if (!conversationId || typeof seq !== "number") return;
    if (seq > (this._conversationSeqs.get(conversationId) || 0)) this._conversationSeqs.set(conversationId, seq);
  }

  _onNewMessage(msg) {
    if (!msg || typeof msg !== "object" || this._status !== LoginStatus.LOGGED_IN) return;
    if (!msg.seq) {  // typing and other never-stored notices
      this._emitCallback("advancedMsg", "onRecvNewMessage", msg);
      return;
    }
    const known = this._conversationSeqs.get(msg.conversation_id);
    if (known !== undefined && msg.seq <= known) return;
    if (known !== undefined && msg.seq > known + 1) {
      this._syncMessages();
      return;
    }
    this._conversationSeqs.set(msg.conversation_id, msg.seq);
    this._deliverMessage(msg);
  }

  /** The terminal that sent a message gets it from sendMessage, not from onRecvNewMessage. */
  _deliverMessage(msg) {
    this._conversationsChanged([msg.conversation_id]);
    if (msg.send_id === this._userId && this._ownSends.has(msg.client_msg_id)) return;
    this._emitCallback("advancedMsg", "onRecvNewMessage", msg);
    this._memberNotice(msg);
  }

  /** A group notice about members: each member record goes to the group listener. */
  _memberNotice(msg) {
    const callback = MEMBER_NOTICES[msg.content_type];
    const detail = msg.content && msg.content.detail;
    if (!callback || !detail || !Array.isArray(detail.members)) return;
    const extra = msg.content_type === KICKED_NOTICE ? { reason: detail.reason || "" } : {};
    for (const member of detail.members) {
      if (member && typeof member === "object") this._emitCallback("group", callback, { ...member, ...extra });
    }
  }

  /**
   * The server reports new messages, not the conversations they change: fetch those once per
   * batch and report them with onConversationChanged (the server pushes the new total itself).
   */
  _conversationsChanged(conversationIds) {
    if (this._loggingOut) return;
    for (const id of conversationIds) this._changedIds.add(id);
    if (this._reporting) return;
    this._reporting = (async () => {
      let failures = 0;
      // Let a burst of messages gather into one report.
      await new Promise((r) => setTimeout(r, 50));
      while (this._changedIds.size && this._token !== null && !this._loggingOut) {
        const ids = [...this._changedIds];
        this._changedIds.clear();
        try {
          const live = () => this._token !== null && !this._loggingOut;
          let convs = [];
          for (let i = 0; i < ids.length && live(); i += 1000) convs = convs.concat(await this.getMultipleConversation(ids.slice(i, i + 1000)));
          if (!live()) break;
          failures = 0;
          if (convs.length) this._emitCallback("conversation", "onConversationChanged", convs);
        } catch (err) {
          for (const id of ids) this._changedIds.add(id);
          failures += 1;
          console.warn("conversation refresh failed", err);
          if (failures >= 3) break;
          await new Promise((r) => setTimeout(r, 500 * failures));
        }
      }
      this._reporting = null;
    })();
  }

  /** Compare the newest seq of each conversation with what was handed out, and pull the rest. */
  _syncMessages() {
    if (this._msgSyncing) {
      this._msgResync = true;
      return this._msgSyncing;
    }
    this._msgSyncing = (async () => {
      try {
        do {
          this._msgResync = false;
          await this._syncMessagesOnce();
        } while (this._msgResync);
      } finally {
        this._msgSyncing = null;
      }
    })();
    return this._msgSyncing;
  }

  async _syncMessagesOnce() {
    this._emitCallback("conversation", "onSyncServerStart");
    try {
      await this._pullMissed();
    } catch (err) {
      this._emitCallback("conversation", "onSyncServerFailed");
      throw err;
    } finally {
      this._emitCallback("conversation", "onSyncServerFinish");
    }
  }

  async _pullMissed() {
    const { conversations } = await this._call("get_max_seqs");
    const baseline = !this._seqBaseline;
    const ranges = [];
    for (const [conversationId, info] of Object.entries(conversations)) {
      const known = this._conversationSeqs.get(conversationId);
      if ((baseline && known === undefined) || info.recv_msg_opt === 1) {
        // A fresh terminal starts at the newest seq (history is paged on demand); a conversation
        // set to "do not receive" is skipped, as the server skips it online.
        this._conversationSeqs.set(conversationId, Math.max(known || 0, info.max_seq));
        continue;
      }
      const from = Math.max(known === undefined ? 0 : known, (info.min_seq || 1) - 1);
      if (info.max_seq > from) ranges.push({ conversation_id: conversationId, begin_seq: from + 1, end_seq: info.max_seq });
    }
    this._seqBaseline = true;
    this._msgSeen.set(this._userId, this._conversationSeqs);
    let pending = ranges;
    while (pending.length) {
      const page = await this._call("pull_messages", { ranges: pending.slice(0, PULL_RANGES_PER_CALL) });
      for (const msg of page.messages) {
        const known = this._conversationSeqs.get(msg.conversation_id) || 0;
        if (msg.seq <= known) continue;
        this._conversationSeqs.set(msg.conversation_id, msg.seq);
        this._deliverMessage(msg);
      }
      // `pulled_to` says how far each range is done; a page cut by the server's limit continues.
      const next = [];
      let progressed = false;
      for (const r of pending) {
        const done = page.pulled_to[r.conversation_id];
        if (done === undefined) { next.push(r); continue; }
        if (done >= r.begin_seq) progressed = true;
        if (done < r.end_seq) next.push({ ...r, begin_seq: done + 1 });
      }
      if (!progressed) throw new IMError(ErrorCode.NETWORK_ERROR, "pull_messages made no progress");
      pending = next;
    }
  }
}

export default IMClient;
