// Conversation list and the chat pane: history paging, read receipts, typing, revoke, quote reply,
// @-mentions, pictures and files, message search, per-chat settings.
import { ContentType, GroupRole, groupConversationId, singleConversationId } from "../im-sdk.js";
import { el, clear, icon, avatar, highlight, formatTime, formatSize, safeUrl } from "./dom.js";
import { getLang, hasKey } from "./i18n.js";

const PAGE = 20;
// Conversations per getConversationListSplit call (the server takes up to 100): the first page at
// login, the next ones as the list is scrolled to its end.
const CONV_PAGE = 50;
// Search results per request: the largest count search_messages takes, so a page is one round trip.
const SEARCH_PAGE = 100;
const TYPING_SHOW_MS = 4000;
const TYPING_SEND_EVERY_MS = 2500;
const AT_ALL = "AtAllTag";

export class Chats {
  constructor(ctx, side) {
    this.ctx = ctx;
    this.side = side;
    this.reset();
    // Coming back to a tab with a conversation open reads what arrived meanwhile.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible" || !this.open) return;
      this.render();
      this._markRead();
    });
  }

  reset() {
    this.convs = new Map();
    this.total = 0;
    this.listEnd = true;
    this.listLoading = null;
    this.open = null;
    this.peerRead = new Map();
    this.mediaUrls = new Map();
    this.searching = null;
    this.results = null;
    this.revokeSeconds = null;
    // The search box stays in place while the list under it is redrawn, so typing is never cut.
    this.listHost = el("div", { class: "conv-host" });
    clear(this.side, this._searchForm(), this.listHost);
    this._renderTotal();
  }

  _searchForm() {
    this.searchInput = el("input", { type: "search", class: "search", id: "message-search", maxlength: "100", autocomplete: "off", enterkeyhint: "search" });
    this.searchInput.addEventListener("input", () => { if (!this.searchInput.value.trim() && this.results) this._clearSearch(); });
    this.searchInput.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.searchInput.value) { e.preventDefault(); this.searchInput.value = ""; this._clearSearch(); }
    });
    return el("form", { class: "search-form", role: "search", onsubmit: this.ctx.act(async (e) => {
      e.preventDefault();
      await this._search(this.searchInput.value.trim());
    }) }, this.searchInput);
  }

  async _search(keyword) {
    if (!keyword) { this._clearSearch(); return; }
    // The newest search wins: an answer that comes back after another search started (or the
    // search was cleared) is dropped, whatever order the answers arrive in.
    const search = { keyword, messages: [], seen: new Set(), cursor: undefined, hasMore: false, loading: false };
    this.searching = search;
    try {
      await this._fetchResults(search);
    } catch (err) {
      // A search that failed leaves the results on show in charge, so their Load more still works.
      if (this.searching === search) this.searching = this.results;
      throw err;
    }
  }

  /** The next page of a search, appended to what it shows; false when a newer search replaced it. */
  async _fetchResults(search) {
    const found = await this.ctx.im.searchMessages(search.keyword, undefined, { cursor: search.cursor, count: SEARCH_PAGE });
    const page = found.messages || [];
    const shown = page.filter((m) => m.content_type < 1500 && m.status !== 2);
    await this.ctx.loadUsers(shown.flatMap((m) => [m.send_id, m.recv_id]));
    await this.ctx.groups.ensure(shown.filter((m) => m.group_id).map((m) => m.group_id));
    if (!this.ctx.live() || this.searching !== search) return false;
    // The cursor goes on after the last page, so nothing repeats; the set guards what is shown anyway.
    for (const m of shown) {
      const key = `${m.conversation_id}:${m.seq}`;
      if (search.seen.has(key)) continue;
      search.seen.add(key);
      search.messages.push(m);
    }
    search.cursor = found.cursor || undefined;
    search.hasMore = Boolean(found.has_more);
    this.results = search;
    this.render();
    return true;
  }

  async _loadMoreResults() {
    const search = this.results;
    if (!search || search.loading || !search.hasMore) return;
    const from = search.messages.length;
    const hadFocus = document.activeElement?.classList.contains("load-more");
    search.loading = true;
    try {
      if (!await this._fetchResults(search)) return;
    } finally {
      search.loading = false;
    }
    this.ctx.announce(this._resultsSummary(search));
    // The button that had the focus is gone: the focus moves on to the first new result.
    if (hadFocus) (this.listHost.querySelectorAll(".search-results .result")[from] || this.listHost.querySelector(".load-more"))?.focus();
  }

  _resultsSummary({ keyword, messages, hasMore }) {
    const { t } = this.ctx;
    const vars = { n: messages.length, keyword };
    if (hasMore) return t("resultsForMore", vars);
    return messages.length ? t("resultsFor", vars) : t("noResults");
  }

  _clearSearch() {
    this.searching = null;
    this.results = null;
    this.render();
  }

  _peerOf(msg) {
    if (msg.group_id) return "";
    return msg.send_id === this.ctx.me?.user_id ? msg.recv_id : msg.send_id;
  }

  _renderResults() {
    const { t } = this.ctx;
    const { keyword, messages, hasMore } = this.results;
    const items = messages.map((m) => {
      const peer = this._peerOf(m);
      const name = m.group_id ? this.ctx.groups.name(m.group_id) : this.ctx.userName(peer);
      return el("li", {}, el("button", {
        class: "conv result", dataset: { conversationId: m.conversation_id, seq: m.seq },
        onclick: this.ctx.act(() => this.openAt(m)),
      },
      avatar(m.group_id || peer, name, false, m.group_id ? "" : this.ctx.users.get(peer)?.face_url),
      el("span", { class: "conv-body" },
        el("span", { class: "conv-top" },
          el("span", { class: "conv-name" }, name),
          el("span", { class: "conv-time" }, formatTime(m.send_time, getLang()))),
        el("span", { class: "conv-bottom" }, el("span", { class: "conv-preview" }, highlight(this.preview(m), keyword))))));
    });
    clear(this.listHost,
      el("div", { class: "results-head" },
        el("span", { class: "muted", role: "status" }, this._resultsSummary(this.results)),
        el("button", { type: "button", class: "link", onclick: () => { this.searchInput.value = ""; this._clearSearch(); this.searchInput.focus(); } }, t("clearSearch"))),
      items.length ? el("ul", { class: "conv-list search-results", role: "list" }, items) : null,
      hasMore ? el("div", { class: "results-more" },
        el("button", { type: "button", class: "small load-more", onclick: this.ctx.act(() => this._loadMoreResults()) }, t("loadMoreResults"))) : null);
  }

  /** Open the conversation of a found message, page back to it, and show it. */
  async openAt(msg) {
    await this.openWith(msg.group_id ? { groupId: msg.group_id } : { userId: this._peerOf(msg) });
    const open = this.open;
    for (let i = 0; i < 50 && this.open === open && !open.messages.has(msg.seq) && !open.isEnd; i += 1) await this._loadPage();
    if (this.open !== open) return;
    const node = this.list.querySelector(`.msg[data-seq="${Number(msg.seq)}"]`);
    if (!node) return;
    node.classList.add("found");
    node.tabIndex = -1;
    node.scrollIntoView({ block: "center" });
    node.focus({ preventScroll: true });
  }

  /** The first page of the list (at login and after each sync); the rest comes with loadMore. */
  async load() {
    await this._loadListPage(0, true);
  }

  /** The next page. Its offset is how many server conversations are shown: one that came in by an
   *  event (it moved up) or was deleted keeps the pages in step, and one listed twice is kept once. */
  async loadMore() {
    if (this.listEnd || this.listLoading) return;
    await this._loadListPage([...this.convs.values()].filter((c) => !c.local).length, false);
  }

  /** One page from the server: the first replaces the list, a later one adds what is not shown yet.
   *  A newer load started meanwhile wins; its answer is the one kept. */
  async _loadListPage(offset, first) {
    const load = (async () => {
      const list = await this.ctx.im.getConversationListSplit(offset, CONV_PAGE);
      await this._loadNames(list);
      if (!this.ctx.live() || this.listLoading !== load) return;
      if (first) this.convs = new Map(list.map((c) => [c.conversation_id, c]));
      else for (const conv of list) if (!this.convs.has(conv.conversation_id)) this.convs.set(conv.conversation_id, conv);
      this.listEnd = list.length < CONV_PAGE;
    })();
    this.listLoading = load;
    try {
      await load;
    } finally {
      if (this.listLoading === load) this.listLoading = null;
    }
    this.render();
  }

  /** Unread count as shown: the open conversation (being read right now) counts as read. */
  unread(conv) {
    return this.open?.id === conv.conversation_id && document.visibilityState !== "hidden" ? 0 : conv.unread_count || 0;
  }

  async _loadNames(list) {
    await this.ctx.loadUsers(list.filter((c) => c.user_id).map((c) => c.user_id));
    await this.ctx.groups.ensure(list.filter((c) => c.group_id).map((c) => c.group_id));
  }

  title(conv) {
    return conv.group_id ? this.ctx.groups.name(conv.group_id) : this.ctx.userName(conv.user_id);
  }

  preview(msg) {
    const { t } = this.ctx;
    if (!msg) return "";
    if (msg.status === 2) return msg.send_id === this.ctx.me?.user_id ? t("youRevoked") : t("revoked");
    const c = msg.content || {};
    let text;
    switch (msg.content_type) {
      case ContentType.PICTURE: text = t("picture"); break;
      case ContentType.FILE: text = `${t("file")} ${c.name || ""}`; break;
      case ContentType.CUSTOM: text = t("custom"); break;
      case ContentType.AT_TEXT:
        text = (c.at_user_ids || []).some((id) => id === this.ctx.me?.user_id || id === AT_ALL) ? `${t("mentionedYou")} ${c.text}` : c.text;
        break;
      default: text = typeof c.text === "string" ? c.text : (msg.content_type >= 1500 ? describeNotice(msg, this.ctx) : "");
    }
    if (msg.conversation_type === 3 && msg.content_type < 1500) return `${this.ctx.userName(msg.send_id)}: ${text}`;
    return text;
  }

  // ---- conversation list ----------------------------------------------------------------

  /** The server's order (docs/protocol.md): pinned first, then the preview's send time, newest
   *  first, then the conversation id; so a page loaded later lands where it belongs. */
  sorted() {
    return [...this.convs.values()].sort((a, b) =>
      (b.is_pinned - a.is_pinned) || ((b.latest_msg_send_time || 0) - (a.latest_msg_send_time || 0))
      || (a.conversation_id < b.conversation_id ? -1 : a.conversation_id > b.conversation_id ? 1 : 0));
  }

  render() {
    const { t } = this.ctx;
    this.searchInput.placeholder = t("searchMessages");
    this.searchInput.setAttribute("aria-label", t("searchMessages"));
    if (this.results) {
      this._renderResults();
      this._renderTotal();
      return;
    }
    const list = this.sorted();
    if (!list.length) {
      clear(this.listHost, el("p", { class: "empty" }, t("noChats")));
      this._renderTotal();
      return;
    }
    const ul = el("ul", { class: "conv-list", role: "list" });
    for (const conv of list) {
      const name = this.title(conv);
      const draft = conv.draft_text && this.open?.id !== conv.conversation_id;
      const latest = conv.latest_msg;
      ul.append(el("li", {},
        el("button", {
          class: "conv" + (this.open?.id === conv.conversation_id ? " active" : "") + (conv.is_pinned ? " pinned" : ""),
          dataset: { conversationId: conv.conversation_id },
          "aria-current": this.open?.id === conv.conversation_id ? "true" : null,
          onclick: this.ctx.act(() => this.openConversation(conv.conversation_id)),
        },
        avatar(conv.group_id || conv.user_id, name, false, this._face(conv)),
        el("span", { class: "conv-body" },
          el("span", { class: "conv-top" },
            el("span", { class: "conv-name" }, name),
            conv.recv_msg_opt ? el("span", { class: "quiet", title: t(conv.recv_msg_opt === 1 ? "recvNone" : "recvDnd"), "aria-label": t(conv.recv_msg_opt === 1 ? "recvNone" : "recvDnd") }, icon("quiet")) : null,
            conv.is_pinned ? el("span", { class: "pin", title: t("pinned"), "aria-label": t("pinned") }, icon("pin")) : null,
            el("span", { class: "conv-time" }, formatTime(latest?.send_time || conv.latest_msg_send_time, getLang()))),
          el("span", { class: "conv-bottom" },
            draft ? el("span", { class: "conv-preview" }, el("span", { class: "draft-tag" }, `[${t("draft")}] `), conv.draft_text)
              : el("span", { class: "conv-preview" }, this.preview(latest)),
            this.unread(conv) > 0 ? el("span", { class: conv.recv_msg_opt ? "badge unread quiet" : "badge unread", "aria-label": `${this.unread(conv)}` },
              this.unread(conv) > 99 ? "99+" : String(this.unread(conv))) : null)))));
    }
    const more = this.listEnd ? null : el("div", { class: "results-more conv-more" },
      el("button", { type: "button", class: "small load-more", onclick: this.ctx.act(() => this.loadMore()) }, t("loadMoreResults")));
    clear(this.listHost, ul, more);
    // Scrolling to the end of the list loads the next page (the button is there for keyboards).
    this.moreObserver?.disconnect();
    if (more && typeof IntersectionObserver === "function") {
      this.moreObserver = new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting)) this.ctx.act(() => this.loadMore())();
      });
      this.moreObserver.observe(more);
    }
    this._renderTotal();
  }

  _face(conv) {
    return conv.group_id ? this.ctx.groups.groups.get(conv.group_id)?.face_url : this.ctx.users.get(conv.user_id)?.face_url;
  }

  // The total is the server's (pushed by the SDK: the list holds only the pages loaded so far), less
  // the conversation being read right now, as its badge shows.
  _renderTotal() {
    const open = this.open && this.convs.get(this.open.id);
    const reading = open && !open.recv_msg_opt ? (open.unread_count || 0) - this.unread(open) : 0;
    const total = Math.max(0, this.total - reading);
    const node = document.getElementById("total-unread");
    node.hidden = !total;
    node.textContent = total > 99 ? "99+" : String(total);
  }

  _merge(list) {
    for (const conv of list) {
      if (conv.hidden) this.convs.delete(conv.conversation_id);
      else this.convs.set(conv.conversation_id, conv);
    }
  }

  conversationListener() {
    return {
      onNewConversation: async (list) => { this._merge(list); await this._loadNames(list); this.render(); },
      onConversationChanged: async (list) => {
        this._merge(list);
        await this._loadNames(list);
        this.render();
        if (this.open) {
          this._renderHeader();
          if (!this.tools.contains(document.activeElement)) this._renderTools();
          this._renderReceipts();
          if (this.convs.get(this.open.id)?.unread_count > 0) this._markRead();
        }
      },
      onTotalUnreadMessageCountChanged: (total) => { this.total = total; this._renderTotal(); },
      onSyncServerStart: () => {},
      // A sync cut short by the end of the session is no news; ctx.fail says so only while signed in.
      onSyncServerFinish: () => this.load().catch((err) => this.ctx.fail(err)),
    };
  }

  messageListener() {
    return {
      onRecvNewMessage: (msg) => this._onMessage(msg),
      onRecvC2CReadReceipt: (receipts) => {
        for (const r of receipts || []) {
          this.peerRead.set(r.conversation_id, Math.max(this.peerRead.get(r.conversation_id) || 0, r.has_read_seq));
          if (this.open?.id === r.conversation_id) this._renderReceipts();
        }
      },
      onNewRecvMessageRevoked: (info) => {
        const conv = this.convs.get(info.conversation_id);
        if (conv?.latest_msg?.seq === info.seq) { conv.latest_msg = { ...conv.latest_msg, status: 2, content: {} }; this.render(); }
        if (this.open?.id === info.conversation_id) {
          const msg = this.open.messages.get(info.seq);
          if (msg) { msg.status = 2; msg.content = {}; this._renderMessages(false); }
        }
      },
      onMsgDeleted: (msg) => this._forgetMessage(msg),
    };
  }

  async _onMessage(msg) {
    if (msg.content_type === ContentType.TYPING) {
      if (this.open?.id === msg.conversation_id && msg.send_id !== this.ctx.me?.user_id) this._showTyping();
      return;
    }
    await this.ctx.loadUsers([msg.send_id, ...noticeUserIds(msg)]);
    const conv = this.convs.get(msg.conversation_id);
    if (conv) {
      if (!conv.latest_msg || msg.seq >= conv.latest_msg.seq) {
        conv.latest_msg = msg;
        conv.latest_msg_send_time = msg.send_time;
      }
    } else {
      // Not on a loaded page (or new): fetch just this one, it now belongs at the top.
      this.ctx.act(async () => {
        const list = await this.ctx.im.getMultipleConversation([msg.conversation_id]);
        await this._loadNames(list);
        if (!this.ctx.live()) return;
        this._merge(list);
        this.render();
      })();
    }
    // Sending reads: the peer has read everything up to their own new message.
    if (msg.conversation_type === 1 && msg.send_id !== this.ctx.me?.user_id) {
      this.peerRead.set(msg.conversation_id, Math.max(this.peerRead.get(msg.conversation_id) || 0, msg.seq));
    }
    if (this.open?.id === msg.conversation_id) {
      this._hideTyping();
      this._addMessages([msg]);
      // The list is redrawn, so new messages are announced to screen readers separately.
      if (msg.send_id !== this.ctx.me?.user_id) this.ctx.announce(this.preview({ ...msg, conversation_type: 3 }));
      this._markRead();
    }
    this.render();
  }

  rerenderOpen() {
    if (this.open) this._renderPane();
  }

  // ---- the chat pane --------------------------------------------------------------------

  /** Open the conversation with a user (a friend) or a group, making it locally if it is new. */
  async openWith({ userId, groupId }) {
    // A one-to-one conversation is found by its peer, and its id taken from the server's answer.
    const known = groupId ? this.convs.get(groupConversationId(groupId))
      : [...this.convs.values()].find((c) => c.conversation_type === 1 && c.user_id === userId);
    let id = known?.conversation_id;
    if (!known) {
      try {
        const conv = await this.ctx.im.getOneConversation(groupId ? groupConversationId(groupId) : { userId });
        id = conv.conversation_id;
        this.convs.set(id, conv);
      } catch (err) {
        id = groupId ? groupConversationId(groupId) : singleConversationId(this.ctx.me.user_id, userId);
        this.convs.set(id, {
          conversation_id: id, conversation_type: groupId ? 3 : 1, user_id: userId || "", group_id: groupId || "",
          latest_msg: null, unread_count: 0, is_pinned: false, draft_text: "", max_seq: 0, has_read_seq: 0, local: true,
        });
      }
    }
    this.ctx.selectView("chats");
    await this.openConversation(id);
  }

  async openConversation(id) {
    await this._saveDraft();
    const conv = this.convs.get(id);
    this.open = {
      id, conv, messages: new Map(), isEnd: false, quote: null, mentions: [], typingTimer: null, lastTyping: 0,
      quoted: new Map(), quoting: new Set(), member: null,
    };
    this._renderPane();
    this.render();
    if (!conv.local) {
      if (conv.group_id) this.ctx.act(() => this._loadMember())();
      await this._loadPage();
      this._scrollToEnd();
      this._markRead();
    } else {
      this.open.isEnd = true;
      this._renderMessages(false);
    }
    this.composer.focus();
  }

  /** The chat pane is closed or replaced: keep the draft, and stop counting the chat as read. */
  leave() {
    if (!this.open) return;
    this._saveDraft();
    this.open = null;
    this.composer = null;
    this.render();
  }

  async _saveDraft() {
    if (!this.open || this.open.conv.local || !this.composer) return;
    const text = this.composer?.value ?? "";
    if (text === (this.open.conv.draft_text || "")) return;
    const conv = this.open.conv;
    conv.draft_text = text;
    try { await this.ctx.im.setConversationDraft(conv.conversation_id, text); } catch (err) { this.ctx.fail(err); }
  }

  async _loadPage() {
    const open = this.open;
    const seqs = [...open.messages.keys()];
    const startSeq = seqs.length ? Math.min(...seqs) : undefined;
    const page = await this.ctx.im.getHistoryMessageList(open.id, { startSeq, count: PAGE });
    if (this.open !== open) return;
    open.isEnd = page.is_end;
    if (typeof page.revoke_seconds === "number") this.revokeSeconds = page.revoke_seconds;
    await this.ctx.loadUsers(page.messages.flatMap((m) => [m.send_id, ...noticeUserIds(m)]));
    this._addMessages(page.messages, startSeq !== undefined);
  }

  _markRead() {
    const open = this.open;
    if (!open || open.conv.local || document.visibilityState === "hidden") return;
    if (open.readPending) return;
    open.readPending = true;
    setTimeout(this.ctx.act(async () => {
      open.readPending = false;
      if (this.open !== open) return;
      const conv = await this.ctx.im.markConversationMessageAsRead(open.id);
      if (conv && this.convs.has(open.id)) { this.convs.set(open.id, conv); open.conv = conv; this.render(); }
    }), 150);
  }

  _renderPane() {
    const { t } = this.ctx;
    const open = this.open;
    const conv = open.conv;
    const isGroup = Boolean(conv.group_id);
    this.header = el("header", { class: "pane-header" });
    this.tools = el("div", { class: "chat-tools", id: "chat-tools", hidden: true });
    this.list = el("ol", { class: "messages", "aria-label": this.title(conv) });
    this.scroller = el("div", { class: "scroller" }, this.list);
    this.quoteBar = el("div", { class: "quote-bar", hidden: true });
    this.progress = el("div", { class: "upload-progress", hidden: true });
    this.composer = el("textarea", { class: "composer-input", rows: "1", placeholder: t("typeMessage"), "aria-label": t("typeMessage"), maxlength: "5000" });
    this.composer.value = conv.draft_text || "";
    this.composer.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); this._send(); }
      if (e.key === "Escape") this._setQuote(null);
    });
    this.composer.addEventListener("input", () => this._typing());
    // Leaving the box (but not for its own buttons) keeps the text as the conversation's draft.
    this.composer.addEventListener("blur", (e) => {
      if (!(e.relatedTarget && e.relatedTarget.closest(".composer"))) this._saveDraft();
    });
    const fileInput = el("input", { type: "file", class: "visually-hidden", tabindex: "-1", "aria-hidden": "true" });
    fileInput.addEventListener("change", () => { const f = fileInput.files[0]; fileInput.value = ""; if (f) this._sendFile(f); });
    const form = el("form", { class: "composer", onsubmit: (e) => { e.preventDefault(); this._send(); } },
      el("button", { type: "button", class: "icon", title: t("attach"), "aria-label": t("attach"), onclick: () => fileInput.click() }, icon("attach")),
      fileInput,
      isGroup ? el("button", { type: "button", class: "icon", title: t("mention"), "aria-label": t("mention"), onclick: this.ctx.act(() => this._mentionPicker()) }, "@") : null,
      this.composer,
      el("button", { type: "submit", class: "primary send" }, t("send")));
    this.composerForm = form;
    this.muteNotice = el("p", { class: "mute-notice muted", id: "mute-notice", role: "status", hidden: true });
    this.mentionBox = el("div", { class: "mention-box", hidden: true, role: "listbox", "aria-label": t("mention") });
    const pane = el("div", { class: "chat", dataset: { conversationId: open.id } },
      this.header, this.tools, this.scroller, this.progress, this.quoteBar, this.mentionBox, this.muteNotice, form);
    this._renderHeader();
    this._renderTools();
    this.ctx.showMain(pane, this.title(conv));
    this._renderMessages(false);
    this._renderMute();
  }

  /** Why I may not speak in the open group right now, or null: muted myself (until my
   *  mute_end_time), or the whole group muted and I am no manager. */
  _muteReason() {
    const { t } = this.ctx;
    const groupId = this.open?.conv.group_id;
    if (!groupId) return null;
    const member = this.open.member;
    const until = member?.mute_end_time || 0;
    if (until > Date.now()) {
      return t("youAreMuted", { until: new Date(until).toLocaleString(getLang(), { dateStyle: "medium", timeStyle: "short" }) });
    }
    const group = this.ctx.groups.groups.get(groupId);
    if (group?.status === 3 && member && member.role_level < GroupRole.ADMIN) return t("groupMutedComposer");
    return null;
  }

  /** The composer follows the mute state: disabled with the reason, enabled again when it ends. */
  _renderMute() {
    if (!this.open || !this.composerForm) return;
    clearTimeout(this.muteTimer);
    const reason = this._muteReason();
    this.muteNotice.hidden = !reason;
    this.muteNotice.textContent = reason || "";
    for (const node of this.composerForm.querySelectorAll("textarea, button")) node.disabled = Boolean(reason);
    if (reason) this.composerForm.setAttribute("aria-describedby", "mute-notice");
    else this.composerForm.removeAttribute("aria-describedby");
    const left = (this.open.member?.mute_end_time || 0) - Date.now();
    // A timer past 2^31 - 1 ms fires at once; a mute that long ends after a reload anyway.
    if (left > 0 && left < 2 ** 31 - 1) this.muteTimer = setTimeout(() => this._renderMute(), left + 50);
  }

  /** My member info in the open group, which carries my mute and my role. */
  async _loadMember() {
    const open = this.open;
    const groupId = open?.conv.group_id;
    if (!groupId || open.conv.local) return;
    const answer = await this.ctx.im.getGroupMembersInfo(groupId, [this.ctx.me.user_id]);
    const list = Array.isArray(answer) ? answer : answer?.members || [];
    if (this.open !== open) return;
    open.member = list.find((m) => m.user_id === this.ctx.me.user_id) || null;
    this._renderMute();
  }

  /** A member's info changed (group_member_info_changed): mine changes what the composer allows. */
  memberInfoChanged(info) {
    if (!info || info.user_id !== this.ctx.me?.user_id || this.open?.conv.group_id !== info.group_id) return;
    this.open.member = { ...this.open.member, ...info };
    this._renderMute();
  }

  /** The group's info changed (group_info_changed): muting everyone changes what the composer allows. */
  groupInfoChanged(info) {
    if (info?.group_id && this.open?.conv.group_id === info.group_id) this._renderMute();
  }

  _renderHeader() {
    const { t } = this.ctx;
    const conv = this.convs.get(this.open.id) || this.open.conv;
    this.open.conv = conv;
    this.typingNode = el("span", { class: "typing", hidden: true }, t("typing"));
    clear(this.header,
      el("button", { class: "icon back", "aria-label": t("back"), onclick: () => this.ctx.backToList() }, icon("back")),
      avatar(conv.group_id || conv.user_id, this.title(conv), false, this._face(conv)),
      el("span", { class: "pane-title" }, el("strong", {}, this.title(conv)), this.typingNode,
        conv.recv_msg_opt ? el("span", { class: "muted quiet-label" }, icon("quiet"), " ", t(conv.recv_msg_opt === 1 ? "recvNone" : "recvDnd")) : null),
      el("span", { class: "spacer" }),
      conv.local ? null : el("button", {
        class: "small", "aria-pressed": String(Boolean(conv.is_pinned)),
        onclick: this.ctx.act(async () => { this._merge([await this.ctx.im.pinConversation(conv.conversation_id, !conv.is_pinned)]); this.render(); this._renderHeader(); }),
      }, conv.is_pinned ? t("unpin") : t("pin")),
      conv.group_id ? el("button", { class: "small", onclick: this.ctx.act(() => this.ctx.groups.showGroup(conv.group_id)) }, t("groupInfo")) : null,
      conv.local ? null : el("button", {
        class: "icon", id: "chat-settings", title: t("chatSettings"), "aria-label": t("chatSettings"),
        "aria-expanded": String(Boolean(this.open.toolsOpen)), "aria-controls": "chat-tools",
        onclick: () => {
          this.open.toolsOpen = !this.open.toolsOpen;
          this._renderHeader();
          this._renderTools();
          (this.open.toolsOpen ? this.tools.querySelector("select") : this.header.querySelector("#chat-settings"))?.focus();
        },
      }, icon("more")));
  }

  /** The chat's settings under its header: notifications (do not disturb) and deleting the chat. */
  _renderTools() {
    const { t } = this.ctx;
    const conv = this.open.conv;
    this.tools.hidden = !this.open.toolsOpen || Boolean(conv.local);
    const select = el("select", { id: "recv-opt" },
      [[0, "recvNormal"], [2, "recvDnd"], [1, "recvNone"]].map(([value, key]) => el("option", { value: String(value) }, t(key))));
    select.value = String(conv.recv_msg_opt || 0);
    select.addEventListener("change", this.ctx.act(async () => {
      this._merge([await this.ctx.im.setConversationRecvMessageOpt(conv.conversation_id, Number(select.value))]);
      this.render();
      this._renderHeader();
    }));
    clear(this.tools,
      el("label", { class: "tool" }, el("span", {}, t("notifications")), select),
      el("span", { class: "spacer" }),
      el("button", { type: "button", class: "small danger", id: "delete-chat", onclick: this.ctx.act(() => this._deleteConversation(conv.conversation_id)) }, t("deleteChat")));
  }

  async _deleteConversation(id) {
    if (!window.confirm(this.ctx.t("confirmDeleteChat"))) return;
    await this.ctx.im.deleteConversation(id);
    this.convs.delete(id);
    // Closed without keeping a draft: the chat is gone from the list.
    this.open = null;
    this.composer = null;
    this.ctx.backToList();
    this.ctx.placeholder();
    document.getElementById("tab-chats").focus();
  }

  async _deleteMessage(msg) {
    if (!window.confirm(this.ctx.t("confirmDeleteMsg"))) return;
    await this.ctx.im.deleteMessage(msg.conversation_id, msg.seq);
    this._forgetMessage(msg);
    if (this.open?.id === msg.conversation_id) this.composer.focus();
  }

  /** A message deleted for me, here or on another terminal: gone from the open chat and the results.
   *  The preview in the list follows from the server's conversation_changed. */
  _forgetMessage(msg) {
    if (this.open?.id === msg.conversation_id && this.open.messages.delete(msg.seq)) this._renderMessages();
    if (this.results) {
      const results = this.results;
      const before = results.messages.length;
      results.messages = results.messages.filter((m) => m.conversation_id !== msg.conversation_id || m.seq !== msg.seq);
      // One match fewer on the server moves the later ones up by one: the next page starts one earlier.
      if (results.messages.length < before) results.offset = Math.max(0, results.offset - 1);
      this.render();
    }
  }

  _addMessages(msgs, prepend = false) {
    const open = this.open;
    for (const msg of msgs) if (msg.seq) open.messages.set(msg.seq, msg);
    const atBottom = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 60;
    const before = this.scroller.scrollHeight;
    this._renderMessages();
    if (prepend) this.scroller.scrollTop = this.scroller.scrollHeight - before;
    else if (atBottom || msgs.some((m) => m.send_id === this.ctx.me.user_id)) this._scrollToEnd();
  }

  _scrollToEnd() { this.scroller.scrollTop = this.scroller.scrollHeight; }

  _renderMessages() {
    const { t } = this.ctx;
    const open = this.open;
    const items = [];
    items.push(el("li", { class: "history-edge" }, open.isEnd
      ? el("span", { class: "muted" }, t("noMore"))
      : el("button", { class: "small load-earlier", onclick: this.ctx.act(() => this._loadPage()) }, t("loadEarlier"))));
    const seqs = [...open.messages.keys()].sort((a, b) => a - b);
    for (const seq of seqs) items.push(this._messageNode(open.messages.get(seq)));
    clear(this.list, items);
    this._renderReceipts();
    this._expireRevokes();
  }

  /** Until when the server takes a revoke of my message (its window comes with each history page;
   *  before the first page it is unknown, and the server is left to refuse a late one). */
  _revocableUntil(msg) {
    return this.revokeSeconds === null ? Infinity : msg.send_time + this.revokeSeconds * 1000;
  }

  /** Revoke buttons leave as their windows close: one timer, for the next one to close. */
  _expireRevokes() {
    clearTimeout(this.revokeTimer);
    const now = Date.now();
    let next = Infinity;
    for (const node of this.list.querySelectorAll('[data-action="revoke"]')) {
      const until = Number(node.dataset.until);
      if (until <= now) node.remove();
      else next = Math.min(next, until);
    }
    if (Number.isFinite(next)) this.revokeTimer = setTimeout(() => { if (this.list?.isConnected) this._expireRevokes(); }, next - now + 50);
  }

  _renderReceipts() {
    const { t } = this.ctx;
    const conv = this.convs.get(this.open.id) || this.open.conv;
    const readSeq = Math.max(this.peerRead.get(this.open.id) || 0, conv.peer_has_read_seq || 0);
    for (const node of this.list.querySelectorAll(".msg.mine .receipt")) {
      const read = Number(node.dataset.seq) <= readSeq;
      node.textContent = read ? t("read") : t("sent");
      node.classList.toggle("is-read", read);
    }
  }

  _messageNode(msg) {
    const { t } = this.ctx;
    const me = this.ctx.me.user_id;
    const mine = msg.send_id === me;
    if (msg.content_type >= 1500) {
      return el("li", { class: "notice-msg", dataset: { seq: msg.seq } }, describeNotice(msg, this.ctx));
    }
    if (msg.status === 2) {
      return el("li", { class: "notice-msg revoked", dataset: { seq: msg.seq } },
        mine ? t("youRevoked") : `${this.ctx.userName(msg.send_id)}: ${t("revoked")}`);
    }
    const c = msg.content || {};
    const bubble = el("div", { class: "bubble" });
    if (msg.content_type === ContentType.QUOTE && c.quote_seq) bubble.append(this._quoteNode(c.quote_seq));
    if (msg.content_type === ContentType.PICTURE) bubble.append(this._picture(c));
    else if (msg.content_type === ContentType.FILE) bubble.append(this._file(c));
    else if (msg.content_type === ContentType.CUSTOM) bubble.append(el("code", {}, JSON.stringify(c.data)));
    else bubble.append(el("span", { class: "text" }, typeof c.text === "string" ? c.text : ""));
    if (msg.content_type === ContentType.AT_TEXT && (c.at_user_ids || []).some((id) => id === me || id === AT_ALL)) bubble.classList.add("mentions-me");
    const actions = el("span", { class: "actions" },
      el("button", { class: "link", onclick: () => this._setQuote(msg) }, t("reply")),
      mine && this._revocableUntil(msg) > Date.now() ? el("button", { class: "link", dataset: { action: "revoke", until: this._revocableUntil(msg) }, onclick: this.ctx.act(() => this.ctx.im.revokeMessage(msg.conversation_id, { seq: msg.seq }).then((m) => { if (this.open?.id === m.conversation_id) { this.open.messages.set(m.seq, m); this._renderMessages(); } })) }, t("revoke")) : null,
      el("button", { class: "link", dataset: { action: "delete" }, onclick: this.ctx.act(() => this._deleteMessage(msg)) }, t("deleteMsg")));
    return el("li", { class: `msg ${mine ? "mine" : "theirs"}`, dataset: { seq: msg.seq } },
      !mine && msg.conversation_type === 3 ? el("span", { class: "sender" }, this.ctx.userName(msg.send_id)) : null,
      bubble,
      el("span", { class: "meta" },
        el("time", { datetime: new Date(msg.send_time).toISOString() }, formatTime(msg.send_time, getLang())),
        mine && msg.conversation_type === 1 ? el("span", { class: "receipt", dataset: { seq: msg.seq } }, t("sent")) : null,
        actions));
  }

  /** The quoted message in words: from the loaded ones, else fetched once (never a bare seq). */
  _quoteNode(seq) {
    const { t } = this.ctx;
    const open = this.open;
    const quoted = open.messages.get(seq) ?? open.quoted.get(seq);
    let text;
    if (quoted) text = `${this.ctx.userName(quoted.send_id)}: ${this.preview({ ...quoted, conversation_type: 1 })}`;
    else if (quoted === null) text = t("quoteUnavailable");
    else {
      text = t("quoteLoading");
      this._fetchQuoted(open, seq);
    }
    return el("blockquote", { class: "quote", dataset: { quoteSeq: seq } }, text);
  }

  /** One message by seq: the page of one before seq + 1 is it, unless it was deleted for me or is
   *  outside what I may read (then the page holds an older one, or nothing). */
  _fetchQuoted(open, seq) {
    if (open.quoting.has(seq)) return;
    open.quoting.add(seq);
    this.ctx.act(async () => {
      try {
        const page = await this.ctx.im.getHistoryMessageList(open.id, { startSeq: seq + 1, count: 1 });
        const found = (page.messages || []).find((m) => m.seq === seq) || null;
        if (found) await this.ctx.loadUsers([found.send_id]);
        open.quoted.set(seq, found);
      } finally {
        open.quoting.delete(seq);
      }
      if (this.open === open) this._renderMessages();
    })();
  }

  _picture(c) {
    const img = el("img", { class: "picture", alt: c.name || "", loading: "lazy" });
    if (c.width && c.height) { img.width = Math.min(240, c.width); img.height = Math.round(img.width * c.height / c.width); }
    this._media(c.url).then((src) => { if (src) img.src = src; });
    const link = el("a", { class: "picture-link", target: "_blank", rel: "noopener" }, img);
    this._media(c.url).then((src) => { if (src) link.href = src; });
    return link;
  }

  _file(c) {
    const link = el("a", { class: "file", download: c.name || "file", rel: "noopener" },
      el("span", { class: "file-icon", "aria-hidden": "true" }, icon("file")),
      el("span", {}, el("span", { class: "file-name" }, c.name || "file"), el("span", { class: "muted" }, ` ${formatSize(c.size)}`)));
    link.addEventListener("click", this.ctx.act(async (e) => {
      if (link.href) return;
      e.preventDefault();
      const src = await this._media(c.url);
      if (src) { link.href = src; link.click(); }
    }));
    return link;
  }

  /** Uploads are served only with the token, so fetch them and show a local blob URL. */
  _media(url) {
    const safe = safeUrl(url);
    if (!safe) return Promise.resolve(null);
    if (!this.mediaUrls.has(safe)) {
      const sameOrigin = new URL(safe).origin === location.origin;
      this.mediaUrls.set(safe, !sameOrigin ? Promise.resolve(safe)
        : this.ctx.im.downloadFile(safe).then((blob) => URL.createObjectURL(blob), () => null));
    }
    return this.mediaUrls.get(safe);
  }

  _setQuote(msg) {
    const { t } = this.ctx;
    this.open.quote = msg;
    this.quoteBar.hidden = !msg;
    if (!msg) { clear(this.quoteBar); return; }
    clear(this.quoteBar,
      el("span", { class: "quote-text" }, `${t("replyingTo", { name: this.ctx.userName(msg.send_id) })}: ${this.preview({ ...msg, conversation_type: 1 })}`),
      el("button", { class: "link", onclick: () => { this._setQuote(null); this.composer.focus(); } }, t("cancel")));
    this.composer.focus();
  }

  async _mentionPicker() {
    const { t } = this.ctx;
    const groupId = this.open.conv.group_id;
    if (!this.mentionBox.hidden) { this.mentionBox.hidden = true; return; }
    const members = await this.ctx.groups.members(groupId);
    const mine = members.find((m) => m.user_id === this.ctx.me.user_id);
    const options = members.filter((m) => m.user_id !== this.ctx.me.user_id)
      .map((m) => [m.user_id, m.nickname || this.ctx.userName(m.user_id)]);
    if (mine && mine.role_level >= GroupRole.ADMIN) options.unshift([AT_ALL, t("everyone")]);
    clear(this.mentionBox, options.map(([id, name]) => el("button", {
      class: "mention-option", role: "option",
      onclick: () => {
        this.open.mentions.push({ id, name });
        this.composer.setRangeText(`@${name} `, this.composer.selectionStart, this.composer.selectionEnd, "end");
        this.mentionBox.hidden = true;
        this.composer.focus();
      },
    }, `@${name}`)));
    this.mentionBox.hidden = false;
    this.mentionBox.querySelector("button")?.focus();
  }

  _typing() {
    const conv = this.open?.conv;
    if (!conv || conv.group_id || !conv.user_id) return;
    const now = Date.now();
    if (now - this.open.lastTyping < TYPING_SEND_EVERY_MS || !this.composer.value) return;
    this.open.lastTyping = now;
    this.ctx.im.typingStatusUpdate(conv.user_id, "typing").catch(() => {});
  }

  _showTyping() {
    if (!this.typingNode) return;
    this.typingNode.hidden = false;
    clearTimeout(this.open.typingTimer);
    this.open.typingTimer = setTimeout(() => this._hideTyping(), TYPING_SHOW_MS);
  }

  _hideTyping() { if (this.typingNode) this.typingNode.hidden = true; }

  _target() {
    const conv = this.open.conv;
    return conv.group_id ? { groupId: conv.group_id } : { recvId: conv.user_id };
  }

  async _send() {
    const text = this.composer.value.trim();
    if (!text) return;
    const open = this.open;
    let contentType = ContentType.TEXT;
    let content = { text };
    const mentioned = open.mentions.filter((m) => text.includes(`@${m.name}`)).map((m) => m.id);
    if (open.quote) { contentType = ContentType.QUOTE; content = { text, quote_seq: open.quote.seq }; }
    else if (mentioned.length) { contentType = ContentType.AT_TEXT; content = { text, at_user_ids: [...new Set(mentioned)] }; }
    this.composer.value = "";
    try {
      const msg = await this.ctx.im.sendMessage({ ...this._target(), contentType, content });
      this._afterSend(open, msg);
      if (open.conv.draft_text) { open.conv.draft_text = ""; this.ctx.im.setConversationDraft(open.id, "").catch(() => {}); }
    } catch (err) {
      if (this.open === open && !this.composer.value) this.composer.value = text;
      this.ctx.fail(err);
    }
  }

  _afterSend(open, msg) {
    open.quote = null;
    open.lastTyping = 0;
    open.mentions = [];
    if (this.open === open) {
      this._setQuote(null);
      if (open.conv.local) {
        delete open.conv.local;
        open.conv.conversation_id = msg.conversation_id;
      }
      this._addMessages([msg]);
    }
    const conv = this.convs.get(msg.conversation_id);
    if (conv) { conv.latest_msg = msg; conv.latest_msg_send_time = msg.send_time; }
    this.render();
  }

  async _sendFile(file) {
    const { t } = this.ctx;
    const open = this.open;
    const bar = el("progress", { max: "100", value: "0" });
    const label = el("span", {}, t("uploading", { name: file.name, pct: 0 }));
    clear(this.progress, label, bar);
    this.progress.hidden = false;
    try {
      const up = await this.ctx.im.uploadFile(file, {
        onProgress: (loaded, total) => {
          const pct = total ? Math.round((loaded / total) * 100) : 0;
          bar.value = pct;
          label.textContent = t("uploading", { name: file.name, pct });
        },
      });
      const isPicture = up.width !== undefined && up.width !== null;
      const content = { url: up.url, name: up.name ?? file.name, size: up.size ?? file.size };
      if (isPicture) Object.assign(content, { width: up.width, height: up.height });
      const msg = await this.ctx.im.sendMessage({ ...this._target(), contentType: isPicture ? ContentType.PICTURE : ContentType.FILE, content });
      this._afterSend(open, msg);
    } catch (err) {
      this.ctx.fail(err);
    } finally {
      if (this.open === open) this.progress.hidden = true;
    }
  }
}

/** Group notifications (OpenIM's 15xx content types) in words. */
export function describeNotice(msg, ctx) {
  const c = msg.content || {};
  const d = c.detail || {};
  const name = (id) => ctx.userName(id);
  const user = d.user_id || d.new_owner_user_id;
  const users = d.user_ids || d.member_user_ids || [];
  const key = hasKey(`n${msg.content_type}`) ? `n${msg.content_type}` : "nOther";
  return ctx.t(key, { op: name(c.op_user_id || msg.send_id), user: user ? name(user) : "", users: users.map(name).join(", ") });
}

/** The user ids a group notice mentions, to load their names before showing it. */
export function noticeUserIds(msg) {
  const c = msg.content || {};
  const d = c.detail || {};
  return [c.op_user_id, d.user_id, d.new_owner_user_id, ...(d.user_ids || []), ...(d.member_user_ids || [])].filter(Boolean);
}
