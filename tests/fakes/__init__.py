"""Fakes of the outside systems we don't run here (only WeChat's server API)."""
