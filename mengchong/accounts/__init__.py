"""Identity: WeChat login, users, JWTs, profiles, settings and roles (a kernel default plugin)."""
