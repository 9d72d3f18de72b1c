// Sign-up and sign-in page: talks to the REST API and keeps the token in sessionStorage.
const $ = (id) => document.getElementById(id);

async function call(name, payload, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.token = token;
  const resp = await fetch(`/api/${name}`, { method: "POST", headers, body: JSON.stringify(payload || {}) });
  const body = await resp.json();
  if (body.errCode !== 0) throw new Error(body.errMsg);
  return body.data;
}

function show(message) { $("message").textContent = message; }

async function refresh() {
  const token = sessionStorage.getItem("im.token");
  if (!token) { $("signed-out").hidden = false; $("signed-in").hidden = true; return; }
  try {
    const me = await call("get_self_user_info", {}, token);
    $("me").textContent = `${me.nickname} (${me.user_id})`;
    $("signed-out").hidden = true; $("signed-in").hidden = false;
  } catch (err) {
    sessionStorage.removeItem("im.token");
    show(err.message);
    $("signed-out").hidden = false; $("signed-in").hidden = true;
  }
}

$("signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  try {
    const data = await call("login", { user_id: f.get("user_id"), password: f.get("password"), platform_id: 5 });
    sessionStorage.setItem("im.token", data.token);
    show("");
    await refresh();
  } catch (err) { show(err.message); }
});

$("signup-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  try {
    await call("register", { user_id: f.get("user_id"), nickname: f.get("nickname"), password: f.get("password") });
    const data = await call("login", { user_id: f.get("user_id"), password: f.get("password"), platform_id: 5 });
    sessionStorage.setItem("im.token", data.token);
    show("");
    await refresh();
  } catch (err) { show(err.message); }
});

$("signout").addEventListener("click", async () => {
  const token = sessionStorage.getItem("im.token");
  sessionStorage.removeItem("im.token");
  try { await call("logout", {}, token); } catch (err) { /* already invalid */ }
  await refresh();
});

refresh();
