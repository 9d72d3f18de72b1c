// English and Simplified Chinese. The language comes from the browser unless the user picks one.
const STRINGS = {
  en: {
    appName: "IM", signIn: "Sign in", signUp: "Create account", signOut: "Sign out", userId: "User ID",
    password: "Password", nickname: "Nickname", haveAccount: "Have an account? Sign in",
    noAccount: "New here? Create an account", language: "Language",
    statusOnline: "Online", statusConnecting: "Connecting…", statusOffline: "Signed out", statusFailed: "Connection failed",
    kicked: "You were signed out because your account signed in elsewhere.",
    loggedOutElsewhere: "You signed out in another tab.",
    expired: "Your session expired. Please sign in again.",
    chats: "Chats", contacts: "Contacts", groups: "Groups", back: "Back",
    noChats: "No conversations yet. Start one from Contacts.", pickChat: "Pick a conversation to start chatting.",
    typeMessage: "Type a message", send: "Send", attach: "Attach a picture or file", loadEarlier: "Load earlier messages",
    noMore: "Beginning of the conversation", read: "Read", sent: "Sent", typing: "typing…",
    revoke: "Revoke", revoked: "This message was revoked", youRevoked: "You revoked a message", reply: "Reply",
    cancel: "Cancel", replyingTo: "Replying to {name}", pinned: "Pinned", pin: "Pin", unpin: "Unpin",
    draft: "Draft", picture: "[Picture]", file: "[File]", custom: "[Custom message]", mention: "Mention",
    mentionedYou: "[You were mentioned]", uploading: "Uploading {name}… {pct}%", download: "Download",
    friends: "Friends", search: "Search friends", addFriend: "Add friend", reqMsg: "Message (optional)",
    request: "Send request", received: "Received requests", sentRequests: "Sent requests",
    accept: "Accept", refuse: "Refuse", withdraw: "Withdraw", accepted: "Accepted", refused: "Refused", pending: "Pending",
    blacklist: "Blacklist", block: "Block", unblock: "Unblock", remark: "Remark", setRemark: "Set remark",
    deleteFriend: "Delete", message: "Message", noFriends: "No friends yet.", none: "Nothing here.",
    requestSent: "Friend request sent.", newRequest: "{name} wants to be your friend.",
    friendAdded: "{name} is now your friend.", confirmDelete: "Delete {name} from your friends?",
    createGroup: "Create group", groupName: "Group name", members: "Members", joinGroup: "Join a group",
    groupId: "Group ID", join: "Join", leave: "Leave group", dismiss: "Dismiss group", mute: "Mute",
    unmute: "Unmute", muteAll: "Mute everyone", unmuteAll: "Unmute everyone", makeAdmin: "Make admin",
    makeMember: "Make member", kick: "Remove", owner: "Owner", admin: "Admin", member: "Member",
    invite: "Invite", applications: "Group applications", groupInfo: "Group info", noGroups: "You are in no groups yet.",
    needVerification: "Joining", verifyApply: "Applications need approval, members invite directly",
    verifyAll: "Everything needs approval", verifyNone: "Anyone may join", everyone: "Everyone",
    muted: "Muted", groupMuted: "Only owner and admins can speak", confirmLeave: "Leave this group?",
    confirmDismiss: "Dismiss this group for everyone?", joinRequested: "Request sent.", chatInGroup: "Open chat",
    me: "Me",
    n1501: "{op} created the group", n1502: "{op} changed the group info", n1504: "{user} left the group",
    n1507: "{op} made {user} the owner", n1508: "{op} removed {users}", n1509: "{op} invited {users}",
    n1510: "{users} joined the group", n1511: "{op} dismissed the group", n1512: "{op} muted {user}",
    n1513: "{op} unmuted {user}", n1514: "{op} muted everyone", n1515: "{op} unmuted everyone",
    n1516: "{op} changed the group nickname of {user}", n1517: "{op} made {user} an admin",
    n1518: "{op} made {user} a member", nOther: "Group notice",
    searchMessages: "Search messages", resultsFor: "{n} found for “{keyword}”", noResults: "No messages found.",
    resultsForMore: "{n}+ found for “{keyword}”", loadMoreResults: "Load more",
    clearSearch: "Clear", deleteMsg: "Delete", confirmDeleteMsg: "Delete this message for you? The others still see it.",
    chatSettings: "Chat settings", notifications: "Notifications", recvNormal: "Notify me", recvDnd: "Do not disturb",
    recvNone: "Don't receive", deleteChat: "Delete chat",
    confirmDeleteChat: "Delete this chat from your list? It comes back with the next message.",
    profile: "My profile", faceUrl: "Picture URL", save: "Save", saved: "Saved.", makeOwner: "Make owner",
    confirmTransfer: "Make {name} the owner? You become a member.", editGroup: "Edit group info",
    notification: "Announcement", introduction: "Introduction", myGroupNickname: "My nickname in this group",
    changePassword: "Change password", currentPassword: "Current password", newPassword: "New password (at least 8 characters)",
    repeatPassword: "Repeat the new password", passwordsDiffer: "The new passwords do not match.",
    samePassword: "The new password must differ from the current one.", wrongOldPassword: "The current password is wrong.",
    tooManyTries: "Too many attempts. Please wait a minute and try again.",
    passwordChanged: "Password changed. Your other devices were signed out.",
    passwordChangedElsewhere: "Your password was changed on another device. Sign in with the new password.",
    passwordReset: "An administrator reset your password. Sign in with the new password.",
    // Every error code the client can meet (im/errors.py, and the SDK's own 100xx), shown instead of
    // the server's errMsg, which is English and may name internal ids.
    err500: "Something went wrong on the server. Please try again.",
    err1001: "That input is not valid. Check it and try again.", err1002: "You don't have permission to do that.",
    err1003: "This server does not support that action.", err1004: "That no longer exists.",
    err1007: "That is too large.", err1008: "Too many attempts. Please wait a moment and try again.",
    err1101: "There is no user with that ID.", err1102: "That user ID is already taken.",
    err1103: "Wrong user ID or password.", err1104: "Only an administrator can do that.",
    err1500: "You are not signed in. Please sign in again.", err1501: "Your session expired. Please sign in again.",
    err1502: "You were signed out. Please sign in again.", err1503: "Your sign-in is no longer valid. Please sign in again.",
    err1506: "Your account signed in elsewhere. Please sign in again.",
    err1507: "Your sign-in is no longer valid. Please sign in again.",
    err1508: "Your sign-in is no longer valid. Please sign in again.",
    err1201: "You can't do that to yourself.", err1202: "You are already friends.",
    err1203: "You are not friends with this user.", err1204: "This user does not accept your requests or messages.",
    err1205: "That friend request no longer exists.", err1206: "That request was already handled.",
    err1207: "The friend limit has been reached.", err1208: "This user is already on your blacklist.",
    err1209: "This user is not on your blacklist.", err1210: "This user is not in your friend list.",
    err1301: "That group does not exist.", err1302: "Already a member of this group.",
    err1303: "Not a member of this group.", err1304: "This group has been dismissed.", err1305: "This group is full.",
    err1306: "Everyone is muted: only the owner and admins can speak.", err1307: "You are muted in this group.",
    err1308: "That group application no longer exists.",
    err1309: "The owner must make someone else the owner, or dismiss the group, before leaving.",
    err1401: "That message no longer exists.", err1402: "It is too late to revoke this message.",
    err1403: "That conversation no longer exists.", err1404: "This message cannot be sent as it is.",
    err1405: "That file cannot be uploaded.", err1406: "That file no longer exists.",
    err1407: "Your upload space is full. Delete or revoke some files first.",
    err10001: "Cannot reach the server.", err10002: "The server did not answer in time. Please try again.",
    err10003: "You are not signed in.", err10004: "You are already signed in.",
    errUnknown: "Something went wrong. Please try again.",
    quoteLoading: "Loading the quoted message…", quoteUnavailable: "A message no longer available",
    youAreMuted: "You are muted in this group until {until}.",
    groupMutedComposer: "Everyone is muted: only the owner and admins can send messages until a manager lifts it.",
    groupDismissed: "This group was dismissed.",
  },
  "zh-CN": {
    appName: "IM", signIn: "登录", signUp: "注册账号", signOut: "退出登录", userId: "用户 ID",
    password: "密码", nickname: "昵称", haveAccount: "已有账号？登录", noAccount: "新用户？注册账号", language: "语言",
    statusOnline: "在线", statusConnecting: "连接中…", statusOffline: "未登录", statusFailed: "连接失败",
    kicked: "您的账号已在其他设备登录，您已被迫下线。", loggedOutElsewhere: "您已在另一个标签页退出登录。",
    expired: "登录已过期，请重新登录。",
    chats: "会话", contacts: "通讯录", groups: "群组", back: "返回",
    noChats: "还没有会话，从通讯录开始聊天吧。", pickChat: "选择一个会话开始聊天。",
    typeMessage: "输入消息", send: "发送", attach: "发送图片或文件", loadEarlier: "加载更早的消息",
    noMore: "已经到顶了", read: "已读", sent: "已发送", typing: "对方正在输入…",
    revoke: "撤回", revoked: "此消息已撤回", youRevoked: "你撤回了一条消息", reply: "引用",
    cancel: "取消", replyingTo: "回复 {name}", pinned: "置顶", pin: "置顶", unpin: "取消置顶",
    draft: "草稿", picture: "[图片]", file: "[文件]", custom: "[自定义消息]", mention: "@成员",
    mentionedYou: "[有人@我]", uploading: "正在上传 {name}… {pct}%", download: "下载",
    friends: "好友", search: "搜索好友", addFriend: "添加好友", reqMsg: "验证消息（可选）",
    request: "发送申请", received: "收到的申请", sentRequests: "发出的申请",
    accept: "同意", refuse: "拒绝", withdraw: "撤回申请", accepted: "已同意", refused: "已拒绝", pending: "等待验证",
    blacklist: "黑名单", block: "加入黑名单", unblock: "移出黑名单", remark: "备注", setRemark: "设置备注",
    deleteFriend: "删除", message: "发消息", noFriends: "还没有好友。", none: "暂无内容。",
    requestSent: "好友申请已发送。", newRequest: "{name} 请求添加你为好友。",
    friendAdded: "{name} 已成为你的好友。", confirmDelete: "确定删除好友 {name}？",
    createGroup: "创建群组", groupName: "群名称", members: "群成员", joinGroup: "加入群组",
    groupId: "群 ID", join: "申请加入", leave: "退出群组", dismiss: "解散群组", mute: "禁言",
    unmute: "解除禁言", muteAll: "全员禁言", unmuteAll: "解除全员禁言", makeAdmin: "设为管理员",
    makeMember: "取消管理员", kick: "移出群组", owner: "群主", admin: "管理员", member: "成员",
    invite: "邀请", applications: "入群申请", groupInfo: "群资料", noGroups: "还没有加入任何群组。",
    needVerification: "入群方式", verifyApply: "申请需审批，成员可直接邀请", verifyAll: "申请和邀请都需审批",
    verifyNone: "任何人可直接加入", everyone: "所有人", muted: "已禁言", groupMuted: "仅群主和管理员可发言",
    confirmLeave: "确定退出该群组？", confirmDismiss: "确定为所有人解散该群组？", joinRequested: "申请已发送。",
    chatInGroup: "进入群聊", me: "我",
    n1501: "{op} 创建了群组", n1502: "{op} 修改了群资料", n1504: "{user} 退出了群组",
    n1507: "{op} 将群主转让给 {user}", n1508: "{op} 将 {users} 移出了群组", n1509: "{op} 邀请 {users} 加入了群组",
    n1510: "{users} 加入了群组", n1511: "{op} 解散了群组", n1512: "{op} 禁言了 {user}",
    n1513: "{op} 解除了 {user} 的禁言", n1514: "{op} 开启了全员禁言", n1515: "{op} 关闭了全员禁言",
    n1516: "{op} 修改了 {user} 的群昵称", n1517: "{op} 将 {user} 设为管理员",
    n1518: "{op} 取消了 {user} 的管理员", nOther: "群通知",
    searchMessages: "搜索聊天记录", resultsFor: "找到 {n} 条与“{keyword}”相关的消息", noResults: "没有找到相关消息。",
    resultsForMore: "找到 {n}+ 条与“{keyword}”相关的消息", loadMoreResults: "加载更多",
    clearSearch: "清除", deleteMsg: "删除", confirmDeleteMsg: "删除这条消息？只对你删除，其他人仍能看到。",
    chatSettings: "聊天设置", notifications: "消息通知", recvNormal: "接收并提醒", recvDnd: "消息免打扰",
    recvNone: "不接收消息", deleteChat: "删除会话",
    confirmDeleteChat: "从列表中删除该会话？收到新消息时它会重新出现。",
    profile: "个人资料", faceUrl: "头像地址", save: "保存", saved: "已保存。", makeOwner: "转让群主",
    confirmTransfer: "确定将群主转让给 {name}？你将成为普通成员。", editGroup: "编辑群资料",
    notification: "群公告", introduction: "群简介", myGroupNickname: "我在本群的昵称",
    changePassword: "修改密码", currentPassword: "当前密码", newPassword: "新密码（至少 8 个字符）",
    repeatPassword: "再次输入新密码", passwordsDiffer: "两次输入的新密码不一致。",
    samePassword: "新密码不能与当前密码相同。", wrongOldPassword: "当前密码错误。",
    tooManyTries: "尝试次数过多，请稍等一分钟再试。",
    passwordChanged: "密码已修改，您的其他设备已退出登录。",
    passwordChangedElsewhere: "您的密码已在其他设备上修改，请使用新密码登录。",
    passwordReset: "管理员已重置您的密码，请使用新密码登录。",
    err500: "服务器出错了，请稍后重试。",
    err1001: "输入的内容无效，请检查后重试。", err1002: "你没有权限执行此操作。",
    err1003: "服务器不支持此操作。", err1004: "该内容已不存在。",
    err1007: "内容过大。", err1008: "操作过于频繁，请稍等片刻再试。",
    err1101: "没有该 ID 的用户。", err1102: "该用户 ID 已被注册。",
    err1103: "用户 ID 或密码错误。", err1104: "只有管理员可以执行此操作。",
    err1500: "未登录，请重新登录。", err1501: "登录已过期，请重新登录。",
    err1502: "您已退出登录，请重新登录。", err1503: "登录信息已失效，请重新登录。",
    err1506: "您的账号已在其他设备登录，请重新登录。",
    err1507: "登录信息已失效，请重新登录。",
    err1508: "登录信息已失效，请重新登录。",
    err1201: "不能对自己执行此操作。", err1202: "你们已经是好友了。",
    err1203: "你们还不是好友。", err1204: "对方不接收你的申请或消息。",
    err1205: "该好友申请已不存在。", err1206: "该申请已被处理。",
    err1207: "好友数量已达上限。", err1208: "该用户已在黑名单中。",
    err1209: "该用户不在黑名单中。", err1210: "该用户不在你的好友列表中。",
    err1301: "该群组不存在。", err1302: "已经是本群成员。",
    err1303: "不是本群成员。", err1304: "该群组已解散。", err1305: "该群人数已满。",
    err1306: "全员禁言中，仅群主和管理员可以发言。", err1307: "你在本群已被禁言。",
    err1308: "该入群申请已不存在。",
    err1309: "群主需先转让群主或解散群组，才能退出。",
    err1401: "该消息已不存在。", err1402: "已超过可撤回的时间。",
    err1403: "该会话已不存在。", err1404: "消息内容有误，无法发送。",
    err1405: "该文件无法上传。", err1406: "该文件已不存在。",
    err1407: "上传空间已满，请先删除或撤回一些文件。",
    err10001: "无法连接服务器。", err10002: "服务器响应超时，请重试。",
    err10003: "你尚未登录。", err10004: "你已经登录。",
    errUnknown: "出了点问题，请重试。",
    quoteLoading: "正在加载引用的消息…", quoteUnavailable: "该消息已不可查看",
    youAreMuted: "你在本群已被禁言，直到 {until}。",
    groupMutedComposer: "本群已开启全员禁言：在管理员解除之前，只有群主和管理员可以发言。",
    groupDismissed: "该群组已解散。",
  },
};

const KEY = "im.lang";
let lang = pick();

function pick() {
  const saved = localStorage.getItem(KEY);
  if (saved && STRINGS[saved]) return saved;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export const languages = [["en", "English"], ["zh-CN", "简体中文"]];
export const getLang = () => lang;

export function setLang(next) {
  if (!STRINGS[next]) return;
  lang = next;
  localStorage.setItem(KEY, next);
  applyI18n(document);
}

export const hasKey = (key) => key in STRINGS.en;

/** The sentence for an error code in the current language; a code without one gets a generic one. */
export function errorText(code) {
  const key = `err${code}`;
  return t(hasKey(key) ? key : "errUnknown");
}

/** The string for `key` in the current language, with {name} placeholders filled in. */
export function t(key, vars = {}) {
  const template = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** Fill elements marked data-i18n (text), data-i18n-placeholder and data-i18n-label. */
export function applyI18n(root) {
  document.documentElement.lang = lang;
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of root.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
}
