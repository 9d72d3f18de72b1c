// Groups: create, join, members and roles, applications, mute, leave, dismiss.
import { GroupRole } from "../im-sdk.js";
import { el, clear, icon, avatar } from "./dom.js";
import { section } from "./contacts.js";

const textArea = (name, value, max) => el("textarea", { name, rows: "2", maxlength: String(max) }, value || "");

const asList = (value, key) => (Array.isArray(value) ? value : (value && value[key]) || []);

export class Groups {
  constructor(ctx, side) {
    this.ctx = ctx;
    this.side = side;
    this.reset();
  }

  reset() {
    this.groups = new Map();
    // Groups I am not in (dismissed, left) whose names a listed conversation still needs.
    this.others = new Map();
    this.applications = [];
    this.shown = null;
    clear(this.side);
  }

  name(groupId) { return (this.groups.get(groupId) || this.others.get(groupId))?.group_name || groupId; }

  /** Whether this group's info page is what the main pane shows now (not a chat opened from it). */
  _onScreen(groupId) {
    return document.querySelector("#main .detail[data-group-id]")?.dataset.groupId === groupId;
  }

  /** Make sure the names of these groups are known (a conversation may be listed before its group). */
  async ensure(groupIds) {
    const missing = [...new Set(groupIds)].filter((id) => id && !this.groups.has(id) && !this.others.has(id));
    if (!missing.length) return;
    try {
      for (const g of asList(await this.ctx.im.getGroupsInfo(missing), "groups")) (g.status === 2 ? this.others : this.groups).set(g.group_id, g);
    } catch (err) {
      this.ctx.fail(err);
    }
  }

  async load() {
    const im = this.ctx.im;
    const [joined, applications] = await Promise.all([im.getJoinedGroupList(), im.getRecvGroupApplicationList()]);
    if (!this.ctx.live()) return;
    const previous = this.groups;
    this.groups = new Map(asList(joined, "groups").map((g) => [g.group_id, g]));
    for (const [id, g] of previous) if (!this.groups.has(id)) this.others.set(id, g);
    this.applications = asList(applications, "applications");
    await this.ctx.loadUsers(this.applications.map((a) => a.from_user_id));
    this.render();
  }

  async members(groupId) {
    const list = asList(await this.ctx.im.getGroupMemberList(groupId, 0, 1000), "members");
    await this.ctx.loadUsers(list.map((m) => m.user_id));
    return list;
  }

  listener() {
    // One notice can name thousands of members, each a callback: they are gathered into one reload
    // (plus one for what arrives while it runs), never one reload per callback.
    let changed = null;
    let running = false;
    const reload = this.ctx.act(async () => {
      running = true;
      try {
        while (changed) {
          const groupIds = changed;
          changed = null;
          await this.load();
          this.ctx.chats.render();
          if (this.shown && !this._onScreen(this.shown)) this.shown = null;
          if (this.shown && (groupIds.has("") || groupIds.has(this.shown))) {
            if (this.groups.has(this.shown)) await this.showGroup(this.shown);
            else await this._gone(this.shown);
          }
        }
      } finally {
        running = false;
      }
    });
    const refresh = (info) => {
      (changed ||= new Set()).add((info && info.group_id) || "");
      if (!running) reload();
    };
    return {
      onJoinedGroupAdded: refresh, onJoinedGroupDeleted: refresh, onGroupMemberAdded: refresh,
      onGroupMemberDeleted: refresh, onGroupApplicationAdded: refresh, onGroupApplicationDeleted: refresh,
      onGroupApplicationAccepted: refresh, onGroupApplicationRejected: refresh,
      // The open chat's composer follows a mute at once, before the reload of the group's pages.
      onGroupInfoChanged: (info) => {
        if (info?.group_id && this.groups.has(info.group_id)) this.groups.set(info.group_id, info);
        this.ctx.chats.groupInfoChanged(info);
        refresh(info);
      },
      onGroupMemberInfoChanged: (info) => { this.ctx.chats.memberInfoChanged(info); refresh(info); },
      onGroupDismissed: refresh,
    };
  }

  render() {
    const { t, act, im } = this.ctx;
    const pending = this.applications.filter((a) => a.handle_result === 0);
    const friends = [...this.ctx.friends.values()];
    const createForm = el("form", { class: "stack", id: "create-group-form", onsubmit: act(async (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      const group = await im.createGroup({
        groupName: String(f.get("group_name")).trim(), memberUserIds: f.getAll("member"),
        needVerification: Number(f.get("need_verification")),
      });
      e.target.reset();
      this.groups.set(group.group_id, group);
      this.render();
      await this.ctx.chats.openWith({ groupId: group.group_id });
    }) },
    el("input", { name: "group_name", required: true, maxlength: "64", placeholder: t("groupName"), "aria-label": t("groupName") }),
    friends.length ? el("fieldset", { class: "checks" }, el("legend", {}, t("members")),
      friends.map((f) => el("label", {}, el("input", { type: "checkbox", name: "member", value: f.user_id }), ` ${f.remark || f.nickname}`))) : null,
    el("label", {}, `${t("needVerification")} `, el("select", { name: "need_verification" },
      el("option", { value: "0" }, t("verifyApply")), el("option", { value: "1" }, t("verifyAll")), el("option", { value: "2" }, t("verifyNone")))),
    el("button", { type: "submit", class: "primary" }, t("createGroup")));

    const joinForm = el("form", { class: "inline-form", onsubmit: act(async (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      await im.joinGroup(String(f.get("group_id")).trim(), String(f.get("req_msg") || ""));
      e.target.reset();
      this.ctx.toast(t("joinRequested"));
      await this.load();
    }) },
    el("input", { name: "group_id", required: true, maxlength: "64", placeholder: t("groupId"), "aria-label": t("groupId") }),
    el("input", { name: "req_msg", maxlength: "255", placeholder: t("reqMsg"), "aria-label": t("reqMsg") }),
    el("button", { type: "submit" }, t("join")));

    const list = [...this.groups.values()];
    clear(this.side,
      pending.length ? section(`${t("applications")} (${pending.length})`, el("ul", { class: "people", role: "list" }, pending.map((a) => el("li", { class: "application" },
        avatar(a.from_user_id, this.ctx.userName(a.from_user_id), true),
        el("span", { class: "person-body" }, el("span", { class: "person-name" }, this.ctx.userName(a.from_user_id)),
          el("span", { class: "muted" }, [this.name(a.group_id), a.req_msg].filter(Boolean).join(" · "))),
        el("span", { class: "row-actions" },
          el("button", { class: "primary small", onclick: act(async () => { await im.acceptGroupApplication(a.group_id, a.from_user_id); await this.load(); }) }, t("accept")),
          el("button", { class: "small", onclick: act(async () => { await im.refuseGroupApplication(a.group_id, a.from_user_id); await this.load(); }) }, t("refuse"))))))) : null,
      section(t("groups"), list.length ? el("ul", { class: "people", role: "list" }, list.map((g) => el("li", {},
        el("button", { class: "person", onclick: act(() => this.showGroup(g.group_id)) }, avatar(g.group_id, g.group_name),
          el("span", { class: "person-body" }, el("span", { class: "person-name" }, g.group_name),
            el("span", { class: "muted" }, `${g.member_count ?? ""} · ${g.group_id}`)))))) : el("p", { class: "empty" }, t("noGroups"))),
      section(t("createGroup"), createForm),
      section(t("joinGroup"), joinForm));
  }

  /** What the user is typing on this group's page (it is redrawn on every change to the group). */
  _unsaved(groupId) {
    const page = document.querySelector("#main .detail[data-group-id]");
    if (!page || page.dataset.groupId !== groupId) return { fields: [], focus: null };
    const fields = [...page.querySelectorAll("form[id] input[name], form[id] textarea[name]")]
      .filter((n) => n.value !== n.defaultValue).map((n) => [n.form.id, n.name, n.value]);
    const active = document.activeElement;
    const focus = active && page.contains(active) && active.form?.id && active.name ? [active.form.id, active.name] : null;
    return { fields, focus };
  }

  _restore({ fields, focus }) {
    const field = (formId, name) => document.querySelector(`#main #${CSS.escape(formId)} [name="${CSS.escape(name)}"]`);
    for (const [formId, name, value] of fields) {
      const node = field(formId, name);
      if (node) node.value = value;
    }
    if (focus) field(...focus)?.focus();
  }

  /** The shown group is no longer mine: a dismissed one says so without actions, else the page goes. */
  async _gone(groupId) {
    const [info] = asList(await this.ctx.im.getGroupsInfo([groupId]), "groups");
    if (info?.status === 2) this._showDismissed(info);
    else { this.shown = null; this.ctx.backToList(); }
  }

  _showDismissed(info) {
    const { t } = this.ctx;
    this.groups.delete(info.group_id);
    this.others.set(info.group_id, info);
    this.ctx.showMain(el("div", { class: "detail", dataset: { groupId: info.group_id } },
      el("button", { class: "icon back", "aria-label": t("back"), onclick: () => this.ctx.backToList() }, icon("back")),
      el("div", { class: "detail-head" }, avatar(info.group_id, info.group_name),
        el("div", {}, el("h2", {}, info.group_name), el("p", { class: "muted" }, t("groupDismissed"))))), info.group_name);
  }

  async showGroup(groupId) {
    const { t, act, im } = this.ctx;
    this.shown = groupId;
    const [info] = asList(await im.getGroupsInfo([groupId]), "groups");
    if (!info) return;
    if (info.status === 2) return this._showDismissed(info);
    this.groups.set(groupId, info);
    const members = await this.members(groupId);
    const me = members.find((m) => m.user_id === this.ctx.me.user_id);
    const myRole = me ? me.role_level : 0;
    const isOwner = myRole === GroupRole.OWNER;
    const canManage = myRole >= GroupRole.ADMIN;
    const roleName = (r) => (r === GroupRole.OWNER ? t("owner") : r === GroupRole.ADMIN ? t("admin") : t("member"));
    const redraw = act(() => this.showGroup(groupId));
    const memberRows = members.map((m) => {
      const muted = m.mute_end_time && m.mute_end_time > Date.now();
      const name = m.nickname || this.ctx.userName(m.user_id);
      const actions = [];
      if (m.user_id !== this.ctx.me.user_id && canManage && m.role_level < myRole) {
        actions.push(el("button", { class: "small", onclick: act(async () => { await im.changeGroupMemberMute(groupId, m.user_id, muted ? 0 : 600); await redraw(); }) }, muted ? t("unmute") : t("mute")));
        actions.push(el("button", { class: "small danger", onclick: act(async () => { await im.kickGroupMember(groupId, [m.user_id]); await redraw(); }) }, t("kick")));
      }
      if (isOwner && m.user_id !== this.ctx.me.user_id) {
        const admin = m.role_level === GroupRole.ADMIN;
        actions.unshift(el("button", { class: "small", onclick: act(async () => { await im.setGroupMemberRoleLevel(groupId, m.user_id, admin ? GroupRole.MEMBER : GroupRole.ADMIN); await redraw(); }) }, admin ? t("makeMember") : t("makeAdmin")));
        actions.push(el("button", { class: "small", dataset: { action: "transfer" }, onclick: act(async () => {
          if (!window.confirm(t("confirmTransfer", { name }))) return;
          await im.transferGroupOwner(groupId, m.user_id);
          await redraw();
        }) }, t("makeOwner")));
      }
      return el("li", { class: "application", dataset: { userId: m.user_id } }, avatar(m.user_id, name, true),
        el("span", { class: "person-body" }, el("span", { class: "person-name" }, name),
          el("span", { class: "muted" }, [roleName(m.role_level), muted ? t("muted") : ""].filter(Boolean).join(" · "))),
        el("span", { class: "row-actions" }, actions));
    });
    const inviteable = [...this.ctx.friends.values()].filter((f) => !members.some((m) => m.user_id === f.user_id));
    const inviteForm = inviteable.length ? el("form", { class: "inline-form", onsubmit: act(async (e) => {
      e.preventDefault();
      await im.inviteUserToGroup(groupId, [String(new FormData(e.target).get("user_id"))]);
      await redraw();
    }) }, el("select", { name: "user_id", "aria-label": t("invite") }, inviteable.map((f) => el("option", { value: f.user_id }, f.remark || f.nickname))),
    el("button", { type: "submit", class: "small" }, t("invite"))) : null;
    const groupMuted = info.status === 3;
    const infoForm = canManage ? el("form", { class: "stack", id: "group-info-form", onsubmit: act(async (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      await im.setGroupInfo(groupId, { groupName: String(f.get("group_name")).trim(), notification: String(f.get("notification")), introduction: String(f.get("introduction")) });
      this.ctx.toast(t("saved"));
      await redraw();
    }) },
    el("label", {}, t("groupName"), el("input", { name: "group_name", required: true, maxlength: "255", value: info.group_name })),
    el("label", {}, t("notification"), textArea("notification", info.notification, 4096)),
    el("label", {}, t("introduction"), textArea("introduction", info.introduction, 1024)),
    el("button", { type: "submit", class: "primary" }, t("save"))) : null;
    const nicknameForm = me ? el("form", { class: "inline-form", id: "group-nickname-form", onsubmit: act(async (e) => {
      e.preventDefault();
      await im.setGroupMemberNickname(groupId, me.user_id, String(new FormData(e.target).get("nickname")).trim());
      this.ctx.toast(t("saved"));
      await redraw();
    }) },
    el("input", { name: "nickname", maxlength: "64", value: me.nickname || "", placeholder: this.ctx.userName(me.user_id), "aria-label": t("myGroupNickname") }),
    el("button", { type: "submit", class: "small" }, t("save"))) : null;
    const kept = this._unsaved(groupId);
    this.ctx.showMain(el("div", { class: "detail", dataset: { groupId } },
      el("button", { class: "icon back", "aria-label": t("back"), onclick: () => this.ctx.backToList() }, icon("back")),
      el("div", { class: "detail-head" }, avatar(groupId, info.group_name),
        el("div", {}, el("h2", {}, info.group_name), el("p", { class: "muted" }, `${t("groupId")}: ${groupId}`),
          info.notification ? el("p", { class: "group-notification" }, info.notification) : null,
          info.introduction ? el("p", { class: "muted" }, info.introduction) : null, groupMuted ? el("p", { class: "muted" }, t("groupMuted")) : null)),
      el("div", { class: "detail-actions" },
        me ? el("button", { class: "primary", onclick: act(() => this.ctx.chats.openWith({ groupId })) }, t("chatInGroup")) : null,
        canManage ? el("button", { onclick: act(async () => { await im.changeGroupMute(groupId, !groupMuted); await redraw(); }) }, groupMuted ? t("unmuteAll") : t("muteAll")) : null,
        me && !isOwner ? el("button", { class: "danger", onclick: act(async () => { if (!window.confirm(t("confirmLeave"))) return; await im.quitGroup(groupId); this.ctx.backToList(); await this.load(); }) }, t("leave")) : null,
        isOwner ? el("button", { class: "danger", onclick: act(async () => { if (!window.confirm(t("confirmDismiss"))) return; await im.dismissGroup(groupId); await this.load(); if (this._onScreen(groupId)) await this._gone(groupId); }) }, t("dismiss")) : null),
      section(`${t("members")} (${members.length})`, el("ul", { class: "people", role: "list" }, memberRows)),
      inviteForm ? section(t("invite"), inviteForm) : null,
      nicknameForm ? section(t("myGroupNickname"), nicknameForm) : null,
      infoForm ? section(t("editGroup"), infoForm) : null), info.group_name);
    this._restore(kept);
  }
}
