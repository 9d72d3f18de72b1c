"""User calls of the SDK."""


class UsersMixin:
    def get_self_user_info(self) -> dict:
        return self._call("get_self_user_info")

    def get_users_info(self, user_ids: list[str]) -> list[dict]:
        return self._call("get_users_info", user_ids=list(user_ids))

    def set_self_info(self, nickname: str | None = None, face_url: str | None = None) -> dict:
        params = {k: v for k, v in (("nickname", nickname), ("face_url", face_url)) if v is not None}
        return self._call("set_self_info", **params)

    def get_users_online_status(self, user_ids: list[str]) -> list[dict]:
        return self._call("get_users_online_status", user_ids=list(user_ids))
