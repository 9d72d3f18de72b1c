// Contacts: friends with remarks, search, add friend, applications both ways, blacklist.
import { el, clear, icon, avatar, formatTime } from "./dom.js";
import { getLang } from "./i18n.js";

export class Contacts {
  constructor(ctx, side) {
    this.ctx = ctx;
    this.side = side;
    this.reset();
  }

  reset() {
    this.friends = [];
    this.recv = [];
    this.sent = [];
    this.blacks = [];
    this.filter = null;
    this.keyword = "";
    clear(this.side);
  }

  async load() {
    const im = this.ctx.im;
    [this.friends, this.recv, this.sent, this.blacks] = await Promise.all([
      im.getFriendList(), im.getRecvFriendApplicationList(), im.getSendFriendApplicationList(), im.getBlackList()]);
    if (!this.ctx.live()) return;
    this.ctx.friends.clear();
    for (const f of this.friends) this.ctx.friends.set(f.user_id, f);
    await this.ctx.loadUsers([...this.recv.map((a) => a.from_user_id), ...this.sent.map((a) => a.to_user_id), ...this.blacks.map((b) => b.user_id)]);
    this.render();
  }

  listener() {
    const reload = () => this.ctx.act(() => this.load().then(() => this.ctx.chats.render()))();
    const { t } = this.ctx;
    return {
      onFriendApplicationAdded: (a) => {
        if (a.to_user_id === this.ctx.me?.user_id) this.ctx.toast(t("newRequest", { name: a.from_nickname || a.from_user_id }));
        reload();
      },
      onFriendApplicationDeleted: reload,
      onFriendApplicationAccepted: reload,
      onFriendApplicationRejected: reload,
      onFriendAdded: (f) => { this.ctx.toast(t("friendAdded", { name: f.nickname || f.user_id })); reload(); },
      onFriendDeleted: reload,
      onFriendInfoChanged: reload,
      onBlackAdded: reload,
      onBlackDeleted: reload,
    };
  }

  pendingRecv() { return this.recv.filter((a) => a.handle_result === 0); }

  render() {
    const { t, act, im } = this.ctx;
    const count = document.getElementById("app-count");
    const pending = this.pendingRecv();
    count.hidden = !pending.length;
    count.textContent = String(pending.length);

    const search = el("input", { type: "search", class: "search", placeholder: t("search"), "aria-label": t("search"), value: this.keyword });
    let timer = null;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(act(async () => {
        this.keyword = search.value.trim();
        this.filter = this.keyword ? await im.searchFriends(this.keyword) : null;
        this._renderFriends(friendList);
      }), 200);
    });

    const addForm = el("form", { class: "inline-form", id: "add-friend-form", onsubmit: act(async (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      await im.addFriend(String(f.get("to_user_id")).trim(), String(f.get("req_msg") || ""));
      e.target.reset();
      this.ctx.toast(t("requestSent"));
      await this.load();
    }) },
    el("input", { name: "to_user_id", required: true, maxlength: "64", placeholder: t("userId"), "aria-label": t("userId"), autocapitalize: "none", spellcheck: "false" }),
    el("input", { name: "req_msg", maxlength: "255", placeholder: t("reqMsg"), "aria-label": t("reqMsg") }),
    el("button", { type: "submit", class: "primary" }, t("request")));

    const friendList = el("ul", { class: "people", role: "list", id: "friend-list" });
    this._renderFriends(friendList);

    clear(this.side,
      search,
      section(t("addFriend"), addForm),
      section(`${t("received")}${pending.length ? ` (${pending.length})` : ""}`, this._applications(this.recv, true), "recv-applications"),
      section(t("friends"), friendList),
      this.sent.length ? section(t("sentRequests"), this._applications(this.sent, false), "sent-applications") : null,
      this.blacks.length ? section(t("blacklist"), this._blacklist(), "blacklist") : null);
  }

  _renderFriends(ul) {
    const { t } = this.ctx;
    const list = this.filter ?? this.friends;
    if (!list.length) { clear(ul, el("li", { class: "empty" }, this.keyword ? t("none") : t("noFriends"))); return; }
    clear(ul, list.map((f) => el("li", {},
      el("button", { class: "person", dataset: { userId: f.user_id }, onclick: () => this.showFriend(f.user_id) },
        avatar(f.user_id, f.nickname),
        el("span", { class: "person-body" },
          el("span", { class: "person-name" }, f.remark || f.nickname || f.user_id),
          el("span", { class: "muted" }, f.remark ? `${f.nickname} · @${f.user_id}` : `@${f.user_id}`))))));
  }

  _applications(list, incoming) {
    const { t, act, im } = this.ctx;
    if (!list.length) return el("p", { class: "empty" }, t("none"));
    return el("ul", { class: "people", role: "list" }, list.map((a) => {
      const other = incoming ? a.from_user_id : a.to_user_id;
      const state = a.handle_result === 1 ? t("accepted") : a.handle_result === -1 ? t("refused") : t("pending");
      const buttons = a.handle_result !== 0 ? el("span", { class: "muted" }, state)
        : incoming
          ? el("span", { class: "row-actions" },
            el("button", { class: "primary small", dataset: { action: "accept" }, onclick: act(async () => { await im.acceptFriendApplication(other); await this.load(); }) }, t("accept")),
            el("button", { class: "small", dataset: { action: "refuse" }, onclick: act(async () => { await im.refuseFriendApplication(other); await this.load(); }) }, t("refuse")))
          : el("span", { class: "row-actions" }, el("span", { class: "muted" }, state),
            el("button", { class: "small", onclick: act(async () => { await im.deleteFriendApplication(other); await this.load(); }) }, t("withdraw")));
      return el("li", { class: "application", dataset: { userId: other } },
        avatar(other, this.ctx.userName(other), true),
        el("span", { class: "person-body" },
          el("span", { class: "person-name" }, this.ctx.userName(other)),
          el("span", { class: "muted" }, [a.req_msg, formatTime(a.created_at, getLang())].filter(Boolean).join(" · "))),
        buttons);
    }));
  }

  _blacklist() {
    const { t, act, im } = this.ctx;
    return el("ul", { class: "people", role: "list" }, this.blacks.map((b) => el("li", { class: "application" },
      avatar(b.user_id, b.nickname, true),
      el("span", { class: "person-body" }, el("span", { class: "person-name" }, b.nickname || this.ctx.userName(b.user_id)), el("span", { class: "muted" }, `@${b.user_id}`)),
      el("button", { class: "small", onclick: act(async () => { await im.removeBlack(b.user_id); await this.load(); }) }, t("unblock")))));
  }

  showFriend(userId) {
    const { t, act, im } = this.ctx;
    const f = this.ctx.friends.get(userId);
    if (!f) return;
    const blocked = this.blacks.some((b) => b.user_id === userId);
    const remarkForm = el("form", { class: "inline-form", onsubmit: act(async (e) => {
      e.preventDefault();
      await im.setFriendRemark(userId, String(new FormData(e.target).get("remark")).trim());
      await this.load();
      this.ctx.chats.render();
      this.showFriend(userId);
    }) },
    el("input", { name: "remark", maxlength: "64", value: f.remark || "", placeholder: t("remark"), "aria-label": t("remark") }),
    el("button", { type: "submit", class: "small" }, t("setRemark")));
    this.ctx.showMain(el("div", { class: "detail" },
      el("button", { class: "icon back", "aria-label": t("back"), onclick: () => this.ctx.backToList() }, icon("back")),
      el("div", { class: "detail-head" }, avatar(userId, f.nickname),
        el("div", {}, el("h2", {}, f.remark || f.nickname), el("p", { class: "muted" }, `${f.nickname} · @${userId}`))),
      el("div", { class: "detail-actions" },
        el("button", { class: "primary", onclick: act(() => this.ctx.chats.openWith({ userId })) }, t("message")),
        blocked
          ? el("button", { onclick: act(async () => { await im.removeBlack(userId); await this.load(); this.showFriend(userId); }) }, t("unblock"))
          : el("button", { onclick: act(async () => { await im.addBlack(userId); await this.load(); this.showFriend(userId); }) }, t("block")),
        el("button", { class: "danger", onclick: act(async () => {
          if (!window.confirm(t("confirmDelete", { name: f.remark || f.nickname }))) return;
          await im.deleteFriend(userId);
          await this.load();
          this.ctx.backToList();
        }) }, t("deleteFriend"))),
      section(t("remark"), remarkForm)), f.nickname);
  }
}

export function section(title, body, id) {
  return el("section", { class: "side-section", id }, el("h3", {}, title), body);
}
