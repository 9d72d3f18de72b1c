"""The JS SDK fires onGroupApplicationAdded/Deleted once per application of a batch event, live and on catch-up."""

import pytest

pytest.importorskip("playwright.sync_api")

SCRIPT = """async () => {
  const { IMClient } = await import("/static/js/im-sdk.js");
  const log = [];
  const until = async (check) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
    if (!check()) throw new Error("timed out; log: " + JSON.stringify(log));
  };
  const owner = new IMClient(""), admin = new IMClient(""), member = new IMClient("");
  admin.setGroupListener({
    onGroupApplicationAdded: (a) => log.push(["added", a.from_user_id, a.inviter_user_id, a.handle_result]),
    onGroupApplicationDeleted: (a) => log.push(["deleted", a.from_user_id, a.inviter_user_id]),
    onGroupInfoChanged: (g) => log.push(["info", g.group_name]),
  });
  for (const [im, id] of [[owner, "app_owner"], [admin, "app_admin"], [member, "app_member"]]) {
    await im.register(id, "password123", id);
    await im.login(id, "password123");
  }
  for (const id of ["app_x", "app_y", "app_z"]) await new IMClient("").register(id, "password123", id);
  const group = await owner.createGroup({ groupName: "Verified", memberUserIds: ["app_member"],
    adminUserIds: ["app_admin"], needVerification: 1 });
  const gid = group.group_id;
  await member.inviteUserToGroup(gid, ["app_x", "app_y", "app_z"]);
  await until(() => log.filter((e) => e[0] === "added").length === 3);
  // Offline, the admin misses the deletions: they come with the catch-up, one callback each.
  await admin.logout();
  log.push(["offline"]);
  await owner.inviteUserToGroup(gid, ["app_y", "app_x"]);
  await owner.setGroupInfo(gid, { groupName: "Verified 2" });
  await admin.login("app_admin", "password123");
  await until(() => log.some((e) => e[0] === "info"));
  await owner.logout(); await admin.logout(); await member.logout();
  return log;
}"""


def test_js_sdk_hears_each_application_of_a_batch_once(pages):
    page = pages.page()
    log = page.evaluate(SCRIPT)
    assert log == [
        ["added", "app_x", "app_member", 0],
        ["added", "app_y", "app_member", 0],
        ["added", "app_z", "app_member", 0],
        ["offline"],
        ["deleted", "app_x", "app_member"],
        ["deleted", "app_y", "app_member"],
        ["info", "Verified 2"],
    ]
    assert pages.errors == [], "\n".join(pages.errors)
