// The chat app: session handling, login status, notices and the three views.
import { IMClient, IMError, ErrorCode, LoginStatus } from "../im-sdk.js";
import { $, el, clear, avatar, icon } from "./dom.js";
import { t, errorText, applyI18n, setLang, getLang, languages } from "./i18n.js";
import { Chats } from "./chats.js";
import { Contacts } from "./contacts.js";
import { Groups } from "./groups.js";

const SESSION_KEY = "im.session";
const im = new IMClient("");

/** What a user reads of a failure: the sentence for its code, never the server's errMsg (English,
 *  and it may name internal ids); anything but an IMError is a bug, logged, and told generically. */
function describeError(err) {
  if (err instanceof IMError) return errorText(err.code);
  console.warn("unexpected failure", err);
  return t("errUnknown");
}

// What the views share: the SDK, names of users, notices, and switching the main pane.
const ctx = {
  im, t, me: null, users: new Map(), friends: new Map(),
  /** Still signed in: answers that arrive after a kick or sign-out must not be shown. */
  live: () => im.getLoginStatus() === LoginStatus.LOGGED_IN,
  userName(userId) {
    if (userId === ctx.me?.user_id) return ctx.me.nickname || userId;
    const friend = ctx.friends.get(userId);
    if (friend?.remark) return friend.remark;
    return friend?.nickname || ctx.users.get(userId)?.nickname || userId;
  },
  async loadUsers(ids) {
    const missing = [...new Set(ids)].filter((id) => id && !ctx.users.has(id));
    if (!missing.length) return;
    try {
      for (const user of await im.getUsersInfo(missing)) ctx.users.set(user.user_id, user);
    } catch (err) {
      console.warn("could not load user names", err);
    }
  },
  announce(text) {
    const node = $("#announcer");
    node.textContent = "";
    setTimeout(() => { node.textContent = text; }, 50);
  },
  toast(text, kind = "info") {
    const node = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
    $("#toasts").append(node);
    setTimeout(() => node.remove(), kind === "error" ? 6000 : 3500);
  },
  fail(err) {
    if (err instanceof IMError && err.code === ErrorCode.NOT_LOGGED_IN && !ctx.live()) return;
    ctx.toast(describeError(err), "error");
  },
  /** Run an action from a button: errors become a notice instead of an unhandled rejection. */
  act(fn) {
    return async (...args) => {
      try { await fn(...args); } catch (err) { ctx.fail(err); }
    };
  },
  showMain(node, title) {
    if (!node.classList.contains("chat")) chats.leave();
    clear($("#main"), node);
    $("#layout").classList.add("show-main");
    if (title) document.title = `${title} · IM`;
  },
  backToList() {
    chats.leave();
    $("#layout").classList.remove("show-main");
    document.title = "IM";
  },
  placeholder() {
    clear($("#main"), el("div", { class: "placeholder" }, el("span", { class: "brand-mark big", "aria-hidden": "true" }, "●"), el("p", {}, t("pickChat"))));
  },
  selectView(view) {
    for (const tab of document.querySelectorAll(".tab")) {
      const on = tab.dataset.view === view;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      $(`#side-${tab.dataset.view}`).hidden = !on;
    }
  },
};

const chats = new Chats(ctx, $("#side-chats"));
const contacts = new Contacts(ctx, $("#side-contacts"));
const groups = new Groups(ctx, $("#side-groups"));
ctx.chats = chats; ctx.contacts = contacts; ctx.groups = groups;

// ---- login status -------------------------------------------------------------------------

// The login status is shown on both screens: in the top bar, and on the sign-in card.
function setStatus(kind) {
  for (const node of [$("#login-status"), $("#auth-status")]) {
    node.dataset.state = kind;
    node.textContent = t({ online: "statusOnline", connecting: "statusConnecting", failed: "statusFailed" }[kind] || "statusOffline");
  }
}

// Why the server ended this session, as the notice on the sign-in screen.
const KICK_NOTICES = { logout: "loggedOutElsewhere", password_changed: "passwordChangedElsewhere", password_reset: "passwordReset" };
const kickNotice = (reason) => KICK_NOTICES[reason] || "kicked";

im.setConnListener({
  onConnecting: () => setStatus("connecting"),
  onConnectSuccess: () => setStatus("online"),
  onConnectFailed: () => setStatus(im.getLoginStatus() === LoginStatus.LOGGED_IN ? "connecting" : "failed"),
  onKickedOffline: (info) => endSession(kickNotice(info?.reason)),
  onUserTokenExpired: () => endSession("expired"),
  onResyncRequired: () => loadAll(),
});
im.setFriendListener(contacts.listener());
im.setGroupListener(groups.listener());
im.setConversationListener(chats.conversationListener());
im.setAdvancedMsgListener(chats.messageListener());
// The profile changed on another terminal (or this one): show the new name and face everywhere.
im.setUserListener({
  onSelfInfoUpdated: (user) => {
    if (!ctx.live() || user?.user_id !== ctx.me?.user_id) return;
    ctx.me = user;
    ctx.users.set(user.user_id, user);
    renderMe();
    chats.render();
  },
});

// ---- screens ------------------------------------------------------------------------------

function showNotice(key) {
  const node = $("#notice");
  node.hidden = !key;
  node.textContent = key ? t(key) : "";
  node.dataset.reason = key || "";
}

function showAuth(signup = false) {
  $("#shell").hidden = true;
  $("#auth").hidden = false;
  $("#signin-form").hidden = signup;
  $("#signup-form").hidden = !signup;
  document.title = "IM";
  $(signup ? "#signup-form input" : "#signin-form input").focus();
}

function readSession() {
  try { return JSON.parse(localStorage.getItem(SESSION_KEY) || "null"); } catch { return null; }
}

async function loadAll() {
  const me = await im.getSelfUserInfo();
  if (!ctx.live()) return;
  ctx.me = me;
  ctx.users.set(ctx.me.user_id, ctx.me);
  renderMe();
  // One view failing to load (a server without that feature) must not keep the others empty.
  const results = [await contacts.load().then(() => null, (err) => err)];
  results.push(...await Promise.all([chats.load(), groups.load()].map((p) => p.then(() => null, (err) => err))));
  const failed = results.find(Boolean);
  // Lists that stopped loading because the session just ended (kicked, expired) are no news.
  if (failed && im.getLoginStatus() === LoginStatus.LOGGED_IN) ctx.fail(failed);
}

// The signed-in user in the top bar; it opens the profile editor.
function renderMe() {
  const me = ctx.me;
  clear($("#me"), el("button", { type: "button", class: "me-button", id: "profile-button", title: t("profile"), onclick: ctx.act(showProfile) },
    avatar(me.user_id, me.nickname, true, me.face_url),
    el("span", { class: "me-name" }, me.nickname), el("span", { class: "muted" }, `@${me.user_id}`),
    el("span", { class: "visually-hidden" }, ` · ${t("profile")}`)));
}

function showProfile() {
  const me = ctx.me;
  const face = el("span", { class: "profile-face" }, avatar(me.user_id, me.nickname, false, me.face_url));
  const faceInput = el("input", { name: "face_url", type: "url", maxlength: "1024", value: me.face_url || "", placeholder: "https://…", autocomplete: "off" });
  faceInput.addEventListener("change", () => clear(face, avatar(me.user_id, me.nickname, false, faceInput.validity.valid ? faceInput.value : "")));
  const form = el("form", { class: "stack profile-form", id: "profile-form", onsubmit: ctx.act(async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    await im.setSelfInfo({ nickname: String(f.get("nickname")).trim(), faceUrl: String(f.get("face_url")).trim() });
    const updated = await im.getSelfUserInfo();
    if (!ctx.live()) return;
    ctx.me = updated;
    ctx.users.set(updated.user_id, updated);
    renderMe();
    chats.render();
    ctx.toast(t("saved"));
  }) },
  el("label", {}, t("nickname"), el("input", { name: "nickname", required: true, maxlength: "64", value: me.nickname, autocomplete: "nickname" })),
  el("label", {}, t("faceUrl"), faceInput),
  el("button", { type: "submit", class: "primary" }, t("save")));
  ctx.showMain(el("div", { class: "detail profile" },
    el("button", { class: "icon back", "aria-label": t("back"), onclick: () => ctx.backToList() }, icon("back")),
    el("div", { class: "detail-head" }, face, el("div", {}, el("h2", {}, t("profile")), el("p", { class: "muted" }, `${t("userId")}: ${me.user_id}`))),
    form, passwordForm()), t("profile"));
  form.querySelector("input").focus();
}

// Changing the password signs out the user's other devices; this one stays signed in.
const PASSWORD_ERRORS = { 1103: "wrongOldPassword", 1008: "tooManyTries" };

function passwordForm() {
  const message = el("p", { class: "form-message", id: "password-message", role: "status", "aria-live": "polite" });
  const say = (text, ok = false) => {
    message.textContent = text;
    message.classList.toggle("error", !ok);
    message.classList.toggle("ok", ok);
  };
  const form = el("form", { class: "stack profile-form", id: "password-form", onsubmit: async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const oldPassword = String(f.get("old_password")), newPassword = String(f.get("new_password"));
    if (newPassword !== String(f.get("repeat_password"))) return say(t("passwordsDiffer"));
    if (newPassword === oldPassword) return say(t("samePassword"));
    say("");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await im.changePassword(oldPassword, newPassword);
      if (!ctx.live()) return;
      form.reset();
      say(t("passwordChanged"), true);
    } catch (err) {
      if (!ctx.live()) return;
      say(err instanceof IMError && PASSWORD_ERRORS[err.code] ? t(PASSWORD_ERRORS[err.code]) : describeError(err));
    } finally {
      button.disabled = false;
    }
  } },
  el("h3", {}, t("changePassword")),
  // Lets password managers tie the new password to this account.
  el("input", { name: "username", type: "text", value: ctx.me.user_id, autocomplete: "username", hidden: true, readonly: true }),
  el("label", {}, t("currentPassword"), el("input", { name: "old_password", type: "password", required: true, maxlength: "128", autocomplete: "current-password" })),
  el("label", {}, t("newPassword"), el("input", { name: "new_password", type: "password", required: true, minlength: "8", maxlength: "128", autocomplete: "new-password" })),
  el("label", {}, t("repeatPassword"), el("input", { name: "repeat_password", type: "password", required: true, minlength: "8", maxlength: "128", autocomplete: "new-password" })),
  el("button", { type: "submit", class: "primary" }, t("changePassword")),
  message);
  return form;
}

async function enterApp() {
  showNotice(null);
  $("#auth").hidden = true;
  $("#shell").hidden = false;
  setStatus("online");
  ctx.selectView("chats");
  ctx.placeholder();
  await loadAll();
}

function resetApp() {
  chats.reset(); contacts.reset(); groups.reset();
  ctx.me = null; ctx.users.clear(); ctx.friends.clear();
  clear($("#main"));
  $("#layout").classList.remove("show-main");
}

// Bumped whenever a session ends, so a sign-in still loading can tell it was cut short.
let sessionGen = 0;

function endSession(noticeKey) {
  sessionGen += 1;
  const stored = readSession();
  if (!stored || stored.token === ownToken) localStorage.removeItem(SESSION_KEY);
  ownToken = null;
  resetApp();
  setStatus("offline");
  showAuth(false);
  showNotice(noticeKey);
}

let ownToken = null;
// The sign-in or resume under way: signing out waits for it, as a token not yet connected cannot be
// revoked through the SDK, and closing locally would leave it alive in the other tabs.
let pendingLogin = null;

function loggingIn(promise) {
  const settled = promise.then(() => {}, () => {});
  pendingLogin = settled;
  settled.then(() => { if (pendingLogin === settled) pendingLogin = null; });
  return promise;
}

async function resume(session) {
  const gen = sessionGen;
  try {
    await loggingIn(im.loginWithToken(session.user_id, session.token));
    // Ended while catching up (signed out in another tab, kicked): its notice stays, no app opens.
    if (gen !== sessionGen) return;
    ownToken = session.token;
    await enterApp();
  } catch (err) {
    if (gen !== sessionGen) return;
    if (err instanceof IMError && err.code >= 1500 && err.code < 1600) {
      // A refused token: the refusal names why, as kicked_offline would have (docs/protocol.md).
      const kicked = err.code === 1506 || (err.code === 1502 && err.data?.reason);
      endSession(err.code === 1501 ? "expired" : kicked ? kickNotice(err.data?.reason) : null);
    } else {
      im.close();
      showAuth(false);
      $("#auth-error").textContent = describeError(err);
    }
  }
}

async function signIn(userId, password) {
  const gen = sessionGen;
  const data = await loggingIn(im.login(userId, password));
  if (gen !== sessionGen) return;
  ownToken = data.token;
  localStorage.setItem(SESSION_KEY, JSON.stringify({ user_id: userId, token: data.token }));
  $("#auth-error").textContent = "";
  for (const form of document.querySelectorAll("#auth form")) form.reset();
  await enterApp();
}

function authError(err) {
  $("#auth-error").textContent = describeError(err);
}

$("#signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const gen = sessionGen;
  try { await signIn(f.get("user_id").trim(), f.get("password")); } catch (err) { if (gen === sessionGen) authError(err); }
});

$("#signup-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const userId = f.get("user_id").trim();
  const gen = sessionGen;
  try {
    await im.register(userId, f.get("password"), f.get("nickname").trim());
    await signIn(userId, f.get("password"));
  } catch (err) { if (gen === sessionGen) authError(err); }
});

$("#to-signup").addEventListener("click", () => { showNotice(null); showAuth(true); });
$("#to-signin").addEventListener("click", () => showAuth(false));

$("#signout").addEventListener("click", async () => {
  const button = $("#signout");
  button.disabled = true;
  try {
    while (pendingLogin) await pendingLogin;
    if (im.getLoginStatus() === LoginStatus.LOGGED_IN) await im.logout();
    else im.close();
  } catch (err) {
    im.close();
  } finally {
    button.disabled = false;
  }
  const token = ownToken;
  if (readSession()?.token === token) localStorage.removeItem(SESSION_KEY);
  ownToken = null;
  resetApp();
  setStatus("offline");
  showAuth(false);
});

// Tabs: click, or arrow keys between them (the WAI-ARIA tabs pattern).
const tabs = [...document.querySelectorAll(".tab")];
for (const tab of tabs) {
  tab.addEventListener("click", () => ctx.selectView(tab.dataset.view));
  tab.addEventListener("keydown", (e) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    if (!step) return;
    const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
    next.focus();
    ctx.selectView(next.dataset.view);
  });
}

// Another tab of this browser signed in or out: follow it.
window.addEventListener("storage", (e) => {
  if (e.key !== SESSION_KEY) return;
  const session = readSession();
  if (session && im.getLoginStatus() !== LoginStatus.LOGGED_IN && im.getLoginStatus() !== LoginStatus.LOGGING_IN) resume(session);
});

for (const select of document.querySelectorAll(".lang-select")) {
  for (const [code, name] of languages) select.append(el("option", { value: code }, name));
  select.value = getLang();
  select.addEventListener("change", () => {
    setLang(select.value);
    for (const other of document.querySelectorAll(".lang-select")) other.value = select.value;
    setStatus($("#login-status").dataset.state || "offline");
    if (ctx.me) {
      renderMe(); chats.render(); contacts.render(); groups.render(); chats.rerenderOpen();
      // An open profile or group page is drawn again in the new language.
      if ($("#main .profile")) showProfile();
      else if (groups.shown && $("#main .detail")) ctx.act(() => groups.showGroup(groups.shown))();
    }
  });
}

applyI18n(document);
setStatus("offline");
const saved = readSession();
if (saved && saved.user_id && saved.token) {
  $("#shell").hidden = false;
  resume(saved);
} else {
  showAuth(false);
}
